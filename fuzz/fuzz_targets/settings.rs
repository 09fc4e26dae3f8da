//! The policy's settings: `validate_settings` over raw bytes, and `parse_settings` over settings
//! objects assembled from the keys and values the settings know. No panic; a valid setting round-trips
//! through its serialization; a refusal says `invalid settings: ...`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use kubevirt_instancetype::policy::settings::{parse_settings, validate_settings};
use kubevirt_instancetype_fuzz::Leaf;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &[
    "mode",
    "allowMissingObjects",
    "allowCrossNamespaceInference",
    "vmiDefaults",
    "cluster",
    "requireInstancetype",
    "allowedInstancetypes",
    "allowedPreferences",
    "forbidInlineResourcesWithoutInstancetype",
    "defaultNetworkInterface",
    "permitBridgeInterfaceOnPodNetwork",
    "defaultArchitecture",
    "evictionStrategy",
    "kind",
    "name",
    "mood",
];

const VALUES: &[&str] = &[
    "expand",
    "validate",
    "Expand",
    "bridge",
    "masquerade",
    "slirp",
    "amd64",
    "arm64",
    "s390x",
    "x86",
    "None",
    "LiveMigrate",
    "LiveMigrateIfPossible",
    "External",
    "VirtualMachineClusterInstancetype",
    "virtualmachineinstancetypes",
    "VirtualMachinePreference",
    "Pod",
    "u1.*",
    "*",
    "",
];

#[derive(Debug, Arbitrary)]
enum Setting {
    Key(u8, Box<SettingValue>),
}

#[derive(Debug, Arbitrary)]
enum SettingValue {
    Word(u8),
    Bool(bool),
    Object(Vec<Setting>),
    Rules(Vec<(u8, u8)>),
    Other(Leaf),
}

fn build(settings: &[Setting], depth: u8) -> Value {
    let mut map = Map::new();
    for Setting::Key(key, value) in settings.iter().take(12) {
        let key = KEYS[usize::from(*key) % KEYS.len()];
        map.insert(key.to_owned(), build_value(value, depth));
    }
    Value::Object(map)
}

fn build_value(value: &SettingValue, depth: u8) -> Value {
    match value {
        SettingValue::Word(index) => json!(VALUES[usize::from(*index) % VALUES.len()]),
        SettingValue::Bool(b) => json!(b),
        SettingValue::Object(entries) if depth < 4 => build(entries, depth + 1),
        SettingValue::Object(_) => Value::Null,
        SettingValue::Rules(rules) => Value::Array(
            rules
                .iter()
                .take(8)
                .map(|(kind, name)| {
                    json!({"kind": VALUES[usize::from(*kind) % VALUES.len()], "name": VALUES[usize::from(*name) % VALUES.len()]})
                })
                .collect(),
        ),
        SettingValue::Other(leaf) => leaf.to_value(0),
    }
}

fn check(value: &Value) {
    match parse_settings(value) {
        Ok(settings) => {
            let text = serde_json::to_value(&settings).expect("settings serialize");
            let again = parse_settings(&text).unwrap_or_else(|e| panic!("{text} no longer parses: {e}"));
            assert_eq!(again, settings, "settings do not round-trip");
            let bytes = serde_json::to_vec(value).expect("serializes");
            assert!(validate_settings(&bytes).valid);
        }
        Err(message) => {
            assert!(message.starts_with("invalid settings: "), "{message}");
            let bytes = serde_json::to_vec(value).expect("serializes");
            let response = validate_settings(&bytes);
            assert!(!response.valid);
            assert_eq!(response.message.as_deref(), Some(message.as_str()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Raw mode: bytes starting with `{` or an odd byte are the `validate_settings` payload.
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    if first % 2 == 1 {
        let payload = if *first == b'{' { data } else { rest };
        let response = validate_settings(payload);
        if let Ok(value) = serde_json::from_slice::<Value>(payload) {
            check(&value);
        } else {
            assert!(!response.valid);
        }
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok(settings) = Vec::<Setting>::arbitrary(&mut u) else {
        return;
    };
    check(&build(&settings, 0));
});
