//! Property tests over the engine: arbitrary input never panics, unknown fields survive,
//! output is deterministic, and expansion is idempotent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::admission::vm_admission_checks;
use kubevirt_instancetype::engine::expand::expand;
use kubevirt_instancetype::engine::lookup::InMemorySource;
use kubevirt_instancetype::engine::object_validation::validate_object;
use kubevirt_instancetype::engine::options::ExpandOptions;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CASES: &str = include_str!("data/golden/cases.jsonl");

fn golden_cases() -> &'static [Value] {
    static PARSED: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| CASES.lines().map(|line| serde_json::from_str(line).unwrap()).collect())
}

fn source_for(case: &Value) -> InMemorySource {
    let namespace = case["vm"]["metadata"]["namespace"].as_str();
    let mut source = InMemorySource::new();
    for key in ["instancetype", "preference"] {
        if !case[key].is_null() {
            source.insert(case[key].clone(), namespace).unwrap();
        }
    }
    source
}

/// Arbitrary JSON, biased towards the shapes a VM has.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9.:/ -]{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["1Gi", "500m", "-1", "1e3", "2Ki", "virtio", "spread", ""]).prop_map(|s| json!(s)),
    ];
    let keys = prop::sample::select(vec![
        "spec",
        "template",
        "domain",
        "cpu",
        "memory",
        "guest",
        "sockets",
        "cores",
        "threads",
        "devices",
        "disks",
        "interfaces",
        "volumes",
        "networks",
        "name",
        "kind",
        "instancetype",
        "preference",
        "flavor",
        "resources",
        "requests",
        "limits",
        "metadata",
        "annotations",
        "status",
        "features",
        "firmware",
        "bootloader",
        "efi",
        "pod",
        "containerDisk",
        "image",
        "disk",
        "bus",
        "unknownField",
    ]);
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// Every path (as keys) of an object in `value`.
fn object_paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        out.push(prefix.clone());
        for (key, child) in map {
            prefix.push(key.clone());
            object_paths(child, prefix, out);
            prefix.pop();
        }
    }
}

fn get_mut<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Map<String, Value> {
    let mut current = value;
    for key in path {
        current = current.get_mut(key).unwrap();
    }
    current.as_object_mut().unwrap()
}

/// What an entry `value` of the map at `map_path` becomes in an expanded VM: a string map's `null`
/// is Go's `""`, and a resource list's entries are quantities as Kubernetes writes them
/// (`engine::vm_quantities`); an entry of any other map is kept as it is.
fn reencoded_entry(map_path: &[String], value: &Value) -> Value {
    use kubevirt_instancetype::engine::quantity::Quantity;
    let path: Vec<&str> = map_path.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["metadata", "labels" | "annotations"]
        | ["spec", "template", "metadata", "labels" | "annotations"]
        | ["spec", "template", "spec", "nodeSelector"]
            if value.is_null() =>
        {
            json!("")
        }
        ["spec", "template", "spec", "domain", "resources", "requests" | "limits"] => {
            let quantity = match value {
                Value::Null => return json!("0"),
                Value::String(text) => Quantity::parse(text.trim()).ok(),
                Value::Number(number) => Quantity::parse(&number.to_string()).ok(),
                _ => None,
            };
            quantity.map_or_else(|| value.clone(), |q| json!(q.to_canonical_string()))
        }
        _ => value.clone(),
    }
}

fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |current, key| current.get(key))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(vm in arbitrary_json(), it in arbitrary_json(), pref in arbitrary_json()) {
        let mut source = InMemorySource::new();
        for (object, api, kind, name) in [
            (it, "instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterInstancetype", "it"),
            (pref, "instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterPreference", "pref"),
        ] {
            let mut object = if object.is_object() { object } else { json!({"spec": object}) };
            object["apiVersion"] = json!(api);
            object["kind"] = json!(kind);
            object["metadata"] = json!({"name": name});
            let _ = validate_object(&object);
            source.insert(object, None).unwrap();
        }
        let mut vm = vm;
        if let Some(spec) = vm.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("instancetype".into(), json!({"name": "it"}));
            spec.insert("preference".into(), json!({"name": "pref"}));
        }
        let options = ExpandOptions::default();
        let _ = expand(&vm, &source, &options);
        let _ = vm_admission_checks(&vm, &source, &options);
    }

    #[test]
    fn unknown_fields_survive_expansion(case_index in 0usize..447, pick in any::<prop::sample::Index>(), value in arbitrary_json()) {
        let cases = golden_cases();
        let case = &cases[case_index % cases.len()];
        let source = source_for(case);
        let mut vm = case["vm"].clone();
        let mut paths = Vec::new();
        object_paths(&vm, &mut Vec::new(), &mut paths);
        let path = pick.get(&paths).clone();
        get_mut(&mut vm, &path).insert("x-unknown-field".into(), value.clone());
        if let Ok(expanded) = expand(&vm, &source, &ExpandOptions::default()) {
            let mut full = path.clone();
            full.push("x-unknown-field".into());
            // Matchers and status refs are removed by design; everything else keeps the field.
            let removed = matches!(full.get(1).map(String::as_str), Some("instancetype" | "preference" | "instancetypeRef" | "preferenceRef"));
            if !removed {
                let expected = reencoded_entry(&path, &value);
                prop_assert_eq!(get(&expanded, &full), Some(&expected), "lost at {:?}", full);
            }
        }
    }

    #[test]
    fn expansion_is_deterministic_and_idempotent(case_index in 0usize..447) {
        let cases = golden_cases();
        let case = &cases[case_index % cases.len()];
        let source = source_for(case);
        let options = ExpandOptions::default();
        let first = expand(&case["vm"], &source, &options);
        let second = expand(&case["vm"], &source, &options);
        prop_assert_eq!(
            first.as_ref().map(|v| serde_json::to_string(v).unwrap()).map_err(ToString::to_string),
            second.as_ref().map(|v| serde_json::to_string(v).unwrap()).map_err(ToString::to_string)
        );
        if let Ok(expanded) = first {
            let again = expand(&expanded, &source, &options).unwrap();
            prop_assert_eq!(again, expanded);
        }
    }
}
