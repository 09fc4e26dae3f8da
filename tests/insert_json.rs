//! `InMemorySource::insert_json` (instancetype and preference specs decoded straight from JSON text)
//! answers exactly as `InMemorySource::insert` of the parsed text: same errors, same objects, same
//! specs or the same decoding errors, for the whole common-instancetypes catalogue and for texts
//! built to trip a decoder that skips the JSON tree. `BorrowingSource::insert_json` (the texts kept
//! borrowed) and `Fetched::from_text` (the policy's host answers) likewise answer as the parsed text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kubevirt_instancetype::engine::lookup::{
    BorrowingSource, Fetched, InMemorySource, LookupError, ObjectRef, ObjectSource, ResourceKind, SpecLookupError,
};
use kubevirt_instancetype::engine::model::{InstancetypeSpec, PreferenceSpec};
use serde_json::{Value, json};

const NAMESPACE: &str = "vms";

fn bundle(file: &str) -> Vec<Value> {
    let path = format!("{}/data/common-instancetypes/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Array(items) => items,
        other => panic!("{path}: not an array: {other}"),
    }
}

/// Every lookup the engine could make for `name`, in each kind that may hold it.
fn refs(name: &str) -> Vec<ObjectRef> {
    ResourceKind::ALL
        .into_iter()
        .map(|kind| ObjectRef::new(kind, Some(NAMESPACE), name))
        .collect()
}

/// What one holder of an object (a source or a fetched answer) answers for it, asked in this order:
/// the specs first, as the engine asks, so that a holder that decoded the text must answer them
/// without the JSON value.
#[derive(Debug, PartialEq)]
struct Answers {
    instancetype: Result<Arc<InstancetypeSpec>, SpecLookupError>,
    preference: Result<Arc<PreferenceSpec>, SpecLookupError>,
    object: Result<Arc<Value>, LookupError>,
}

impl Answers {
    fn of_source(source: &impl ObjectSource, object: &ObjectRef) -> Self {
        Self {
            instancetype: source.instancetype_spec(object),
            preference: source.preference_spec(object),
            object: source.get_shared(object),
        }
    }

    fn of_fetched(fetched: &Fetched, object: &ObjectRef) -> Self {
        Self {
            instancetype: fetched.instancetype_spec(object),
            preference: fetched.preference_spec(object),
            object: fetched.shared(object),
        }
    }
}

/// Inserts `text` as text (copied and borrowed) and as its parsed value, and compares every answer
/// the sources give.
fn assert_same(text: &str, name: &str) {
    let mut from_text = InMemorySource::new();
    let mut borrowing = BorrowingSource::new();
    let mut from_value = InMemorySource::new();
    let inserted = from_text.insert_json(text, Some(NAMESPACE));
    assert_eq!(
        borrowing.insert_json(text, Some(NAMESPACE)),
        inserted,
        "{text}: borrowed insert result"
    );
    assert_eq!(borrowing.len(), from_text.len(), "{text}: objects borrowed");
    assert_eq!(
        borrowing.takes_default_namespace(),
        from_text.takes_default_namespace(),
        "{text}: default namespace taken, borrowed"
    );
    let expected = match serde_json::from_str::<Value>(text) {
        Ok(value) => from_value.insert(value, Some(NAMESPACE)),
        Err(_) => {
            assert!(inserted.is_err(), "{text}: not JSON, yet inserted");
            return;
        }
    };
    assert_eq!(inserted, expected, "{text}: insert result");
    assert_eq!(from_text.len(), from_value.len(), "{text}: objects held");
    assert_eq!(
        from_text.takes_default_namespace(),
        from_value.takes_default_namespace(),
        "{text}: default namespace taken"
    );
    for object in refs(name) {
        assert_eq!(
            Answers::of_source(&from_text, &object),
            Answers::of_source(&from_value, &object),
            "{text}: answers for {object}"
        );
        assert_eq!(
            Answers::of_source(&borrowing, &object),
            Answers::of_source(&from_value, &object),
            "{text}: borrowed answers for {object}"
        );
        assert_eq!(
            from_text.get(&object),
            from_value.get(&object),
            "{text}: copy of {object}"
        );
        assert_eq!(
            borrowing.get(&object),
            from_value.get(&object),
            "{text}: borrowed copy of {object}"
        );
    }
}

#[test]
fn the_whole_catalogue_answers_the_same_from_text() {
    let objects: Vec<Value> = bundle("common-clusterinstancetypes-bundle.json")
        .into_iter()
        .chain(bundle("common-clusterpreferences-bundle.json"))
        .collect();
    assert_eq!(objects.len(), 65 + 54);
    for object in &objects {
        let name = object["metadata"]["name"].as_str().unwrap();
        assert_same(&serde_json::to_string(object).unwrap(), name);
        assert_same(&serde_json::to_string_pretty(object).unwrap(), name);
    }
}

#[test]
fn a_decoded_spec_is_the_spec_of_the_parsed_object() {
    let mut source = InMemorySource::new();
    source
        .insert_json(
            r#"{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype",
                "metadata":{"name":"small"},"spec":{"cpu":{"guest":2},"memory":{"guest":"1Gi"}}}"#,
            Some(NAMESPACE),
        )
        .unwrap();
    let object = ObjectRef::new(ResourceKind::Instancetype, Some(NAMESPACE), "small");
    let spec = source.instancetype_spec(&object).unwrap();
    assert_eq!(spec.cpu.guest, 2);
    assert_eq!(spec.memory.guest.to_string(), "1Gi");
    // The object lives in the default namespace, and nowhere else.
    let elsewhere = ObjectRef::new(ResourceKind::Instancetype, Some("other"), "small");
    assert!(
        source
            .instancetype_spec(&elsewhere)
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
    // Asked as a preference, it is the decoding error of the parsed object.
    let as_preference = source.preference_spec(&object).unwrap_err().to_string();
    assert!(as_preference.contains("unsupported object"), "{as_preference}");
}

/// Texts a decoder skipping the JSON tree could get wrong: each must answer as its parsed value.
#[test]
fn tricky_texts_answer_as_their_parsed_values() {
    for text in &tricky_texts() {
        assert_same(text, "it");
    }
}

/// Object texts built to trip a reader that skips the JSON tree; every object is named `it`.
fn tricky_texts() -> Vec<String> {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let instancetype = |spec: &str| {
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"spec":{spec}}}"#
        )
    };
    let preference = |spec: &str| {
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterPreference","metadata":{{"name":"it"}},"spec":{spec}}}"#
        )
    };
    let cpu_memory = r#""cpu":{"guest":1},"memory":{"guest":"1Gi"}"#;
    let cases = vec![
        // nulls: stripped before decoding on the tree path
        instancetype(&format!(r#"{{{cpu_memory},"schedulerName":null}}"#)),
        instancetype(&format!(r#"{{{cpu_memory},"gpus":null}}"#)),
        instancetype(r#"{"cpu":{"guest":1,"numa":{"guestMappingPassthrough":null}},"memory":{"guest":"1Gi"}}"#),
        instancetype(&format!(r#"{{{cpu_memory},"gpus":[{{"name":"g","deviceName":null}}]}}"#)),
        instancetype("null"),
        preference(r#"{"devices":{"preferredDiskBus":null}}"#),
        preference(r#"{"annotations":{"a":"null"}}"#),
        // duplicate keys: the tree keeps the last
        instancetype(r#"{"cpu":{"guest":1},"cpu":{"guest":4},"memory":{"guest":"1Gi"}}"#),
        instancetype(&format!(r#"{{{cpu_memory},"annotations":{{"a":"1","a":"2"}}}}"#)),
        preference(r#"{"cpu":{"preferredCPUTopology":"preferCores","preferredCPUTopology":"preferThreads"}}"#),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","kind":"VirtualMachinePreference","metadata":{{"name":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"x"}},"metadata":{{"name":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        // numbers JSON allows but an f64 cannot hold: the parsed value refuses them wherever they are
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":1e400}}"#)),
        instancetype(r#"{"cpu":{"guest":1,"numa":{"x":-1e999}},"memory":{"guest":"1Gi"}}"#),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","annotations":{{"n":1e400}}}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"status":[1e400],"spec":{{{cpu_memory}}}}}"#
        ),
        // lone surrogate escapes and nesting past 128 levels: skipping accepts them, the parsed value
        // refuses them (the general path must give its error)
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","annotations":{{"a":"\ud800"}}}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"status":{{"\udc00":1}},"spec":{{{cpu_memory}}}}}"#
        ),
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":"x\udbff"}}"#)),
        preference(r#"{"annotations":{"a":"\ud83d\ude00"}}"#),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","labels":{deep}}},"spec":{{{cpu_memory}}}}}"#,
            deep = nested(200)
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"status":{deep},"spec":{{{cpu_memory}}}}}"#,
            deep = nested(126)
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"status":{deep},"spec":{{{cpu_memory}}}}}"#,
            deep = nested(127)
        ),
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":{}}}"#, nested(200))),
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":{}}}"#, nested(60))),
        // escapes in the names the envelope reads
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io\/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"\u0069t"}},"spec":{{{cpu_memory}}}}}"#
        ),
        // wrong types and missing or extra parts
        instancetype(r#"{"cpu":{"guest":"1"},"memory":{"guest":"1Gi"}}"#),
        instancetype(r#"{"cpu":{"guest":1.5},"memory":{"guest":"1Gi"}}"#),
        instancetype(r#"{"cpu":{"guest":1}}"#),
        instancetype(r#"{"cpu":{"guest":1},"memory":{"guest":"1Xi"}}"#),
        instancetype("[1]"),
        instancetype(r#""spec""#),
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":{{"deep":[1,2,{{"x":true}}]}}}}"#)),
        preference(r#"{"cpu":{"preferredCPUTopology":7}}"#),
        preference("{}"),
        r#"{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterPreference","metadata":{"name":"it"}}"#.to_owned(),
        r#"{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{"name":"it"}}"#.to_owned(),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":7}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","namespace":""}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","namespace":"other"}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":null,"spec":{{{cpu_memory}}}}}"#
        ),
        format!(r#"{{"kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"spec":{{{cpu_memory}}}}}"#),
        // a derived struct reader takes an array as the fields in order (found by fuzzing): the parsed
        // object has no name, or is no object at all
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":["it","it"],"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"["instancetype.kubevirt.io/v1beta1","VirtualMachineInstancetype",{{"name":"it"}},{{{cpu_memory}}}]"#
        ),
        format!(
            r#" ["instancetype.kubevirt.io/v1beta1","VirtualMachineInstancetype",["it"],{{{cpu_memory}}}]"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"x","name":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"na\u006de":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it","labels":{{"a":"b"}},"namespace":null}},"spec":{{{cpu_memory}}}}}"#
        ),
        // other versions and kinds take the general path
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1alpha2","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"spec":{{{cpu_memory},"cpu":{{"guest":2,"maxSockets":4}}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"flavor.kubevirt.io/v1alpha1","kind":"VirtualMachineFlavor","metadata":{{"name":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineFlavor","metadata":{{"name":"it"}},"spec":{{{cpu_memory}}}}}"#
        ),
        json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource", "metadata": {"name": "it"}, "spec": {}})
            .to_string(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "it"}}).to_string(),
        // specs read before they are checked (`BorrowingSource` decodes a spec as it reads the text):
        // what is not JSON must still fail the insert, what the readers do not read must still decode
        instancetype(r#"{"cpu":{"guest":01},"memory":{"guest":"1Gi"}}"#),
        instancetype(r#"{"cpu":{"guest":0},"memory":{"guest":"1Gi"}}"#),
        instancetype(r#"{"cpu":{"guest":1e2},"memory":{"guest":"1Gi"}}"#),
        instancetype(&format!(r#"{{{cpu_memory},}}"#)),
        instancetype(r#"{"cpu":{"guest":1} "memory":{"guest":"1Gi"}}"#),
        instancetype(&format!(r#"{{{cpu_memory},"unknownField":tru}}"#)),
        instancetype(r#"{"cpu":{"guest":1,"numa":{"guestMappingPassthrough":{},}},"memory":{"guest":"1Gi"}}"#),
        instancetype(r#"{"cpu":{"guest":1,"numa":{"guestMappingPassthrough":{}}},"memory":{"guest":"1Gi"}}"#),
        instancetype("{\"cpu\":{\"guest\":1},\"memory\":{\"guest\":\"1\u{7}Gi\"}}"),
        instancetype(&format!(r#"{{{cpu_memory}}}}}"#)),
        preference(r#"{"preferredTerminationGracePeriodSeconds":-01}"#),
        preference(r#"{"preferredTerminationGracePeriodSeconds":-0}"#),
        preference(r#"{"preferredTerminationGracePeriodSeconds":-30,"unknownField":[null]}"#),
        preference(r#"{"devices":{"preferredDiskBus":"virtio"},"requirements":{"cpu":{"guest":2}},"annotations":{"a":"b"}}"#),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","spec":{{{cpu_memory}}},"kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","spec":{{{cpu_memory},}},"kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}}}}"#
        ),
        format!(
            r#"{{"kind":"VirtualMachineInstancetype","spec":{{{cpu_memory}}},"apiVersion":"instancetype.kubevirt.io/v1beta1","metadata":{{"name":"it"}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineInstancetype","metadata":{{"name":"it"}},"spec":{{{cpu_memory}}},"spec":{{{cpu_memory}}}}}"#
        ),
        // not JSON objects at all
        "[]".to_owned(),
        "{".to_owned(),
        String::new(),
        format!("{} trailing", instancetype(&format!("{{{cpu_memory}}}"))),
    ];
    cases
}

/// `Fetched::from_text` (a host answer kept as text, as the policy keeps one) answers every lookup of
/// the object it was asked as exactly as the parsed answer does, or gives the text back unchanged
/// for the caller to parse: over the tricky texts and the whole catalogue, asked as every kind.
#[test]
fn fetched_text_answers_as_the_fetched_value() {
    let catalogue = bundle("common-clusterinstancetypes-bundle.json")
        .into_iter()
        .chain(bundle("common-clusterpreferences-bundle.json"))
        .map(|object| object.to_string());
    let mut kept = 0;
    for text in tricky_texts().into_iter().chain(catalogue) {
        let parsed = serde_json::from_str::<Value>(&text).ok();
        for object in ResourceKind::ALL.map(|kind| ObjectRef::new(kind, Some(NAMESPACE), "it")) {
            let fetched = match Fetched::from_text(text.clone(), object.kind) {
                Ok(fetched) => fetched,
                Err(back) => {
                    assert_eq!(back, text, "given back changed");
                    continue;
                }
            };
            kept += 1;
            let Some(parsed) = parsed.clone() else {
                panic!("{text}: kept as text as a {:?}, yet a value refuses it", object.kind);
            };
            assert_eq!(
                ResourceKind::of_object(parsed["apiVersion"].as_str().unwrap(), parsed["kind"].as_str().unwrap()),
                Some(object.kind),
                "{text}: kept as another kind"
            );
            let value = Fetched::value(Arc::new(parsed));
            assert_eq!(
                Answers::of_fetched(&fetched, &object),
                Answers::of_fetched(&value, &object),
                "{text}"
            );
        }
    }
    // Every bundled object and the plain tricky ones take the text path.
    assert!(kept > 119, "{kept} texts kept");
}

/// The ways a spec's text is decoded (straight into the typed spec: natively by the engine's text
/// readers, with serde's derive where they are unsure, and by serde's derive alone; through a JSON
/// value in both wasm modules) give the same spec wherever the straight way answers, and the straight
/// way answers for the whole catalogue.
#[test]
fn straight_and_via_value_spec_decoding_agree() {
    use kubevirt_instancetype::engine::model::legacy::{
        SchemaVersion, instancetype_spec_from_spec, preference_spec_from_spec, spec_from_clean_text,
        spec_from_text_via_value, v1beta1_instancetype_spec_from_text, v1beta1_preference_spec_from_text,
    };

    /// Whether the straight way answers for `text`; when it does, it gives what `decode` gives through
    /// a JSON value; and `read` (the engine's way) answers exactly as serde's derive does.
    fn agree<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        text: &str,
        read: impl FnOnce(&str) -> Option<T>,
        decode: impl FnOnce(&Value) -> Result<T, kubevirt_instancetype::engine::model::legacy::DecodeError>,
    ) -> bool {
        let straight = spec_from_clean_text::<T>(text);
        assert_eq!(read(text), straight, "the text readers: {text}");
        if straight.is_some() {
            assert_eq!(straight, spec_from_text_via_value(text, decode), "{text}");
        }
        straight.is_some()
    }
    let check_instancetype = |text: &str| {
        agree::<InstancetypeSpec>(text, v1beta1_instancetype_spec_from_text, |s| {
            instancetype_spec_from_spec(s, SchemaVersion::V1beta1)
        })
    };
    let check_preference = |text: &str| {
        agree::<PreferenceSpec>(text, v1beta1_preference_spec_from_text, |s| {
            preference_spec_from_spec(s, SchemaVersion::V1beta1)
        })
    };
    for object in bundle("common-clusterinstancetypes-bundle.json") {
        assert!(
            check_instancetype(&serde_json::to_string(&object["spec"]).unwrap()),
            "{object}"
        );
    }
    for object in bundle("common-clusterpreferences-bundle.json") {
        assert!(
            check_preference(&serde_json::to_string(&object["spec"]).unwrap()),
            "{object}"
        );
    }
    let hostile = [
        r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"},"schedulerName":null}"#,
        r#"{"cpu":{"guest":1,"numa":{"guestMappingPassthrough":null}},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1},"cpu":{"guest":4},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"},"annotations":{"a":"1","a":"2"}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"},"x":{"y":1},"x":[2]}"#,
        r#"{"cpu":{"guest":1,"realtime":{"mask":"0","mask":"1"}},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1.0},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi","overcommitPercent":7}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":"1.5Gi"},"gpus":[{"name":"g","deviceName":"d"}]}"#,
        r#"{"devices":{"preferredDiskBus":"virtio","preferredDiskBus":"sata"}}"#,
        r#"{"features":{"preferredHyperv":{"relaxed":{},"relaxed":{"enabled":false}}}}"#,
        r#"{"clock":{"preferredClockOffset":{"utc":{"offsetSeconds":5}}}}"#,
        r#"{"requirements":{"cpu":{"guest":2},"memory":{"guest":"2Gi"}}}"#,
        r#"{"annotations":{"e\u0301":"\ud83d\ude00"}}"#,
        r#"{"annotations":{"e":"\u00e9\n"},"preferredTerminationGracePeriodSeconds":-0}"#,
        r#"{"preferredTerminationGracePeriodSeconds":-9223372036854775808,"preferredSubdomain":"a\"b"}"#,
        r#"{"cpu":{"guest":1,"numa":{"a":[1,-2,-0,0.5,1e3,18446744073709551616]}},"memory":{"guest":" 1Gi "}}"#,
        r#"{"cpu":{"guest":4294967296},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":1073741824}}"#,
        r#"{"requirements":{"cpu":[2]}}"#,
        r#"{"cpu":{"guest":1,"numa":{"$serde_json::private::RawValue":"7"}},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1,"numa":{"$serde_json::private::RawValue":1}},"memory":{"guest":"1Gi"}}"#,
        r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"},"gpus":[{"$serde_json::private::RawValue":"\"x\""}]}"#,
        r#"{"features":{"preferredHyperv":{"a":{"$serde_json::private::RawValue":"true"}}}}"#,
        r#"[]"#,
        r#"7"#,
    ];
    for text in hostile {
        check_instancetype(text);
        check_preference(text);
    }
}

/// Only a namespaced object without a namespace makes the answers depend on the default namespace
/// (what lets the npm `PreparedObjects` keep one source for VMs of every namespace).
#[test]
fn only_namespaced_objects_without_namespace_take_the_default() {
    let object = |kind: &str, namespace: Option<&str>| {
        let mut metadata = json!({"name": "x"});
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": kind, "metadata": metadata,
            "spec": {"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}}})
    };
    for (objects, expected) in [
        (vec![], false),
        (vec![object("VirtualMachineClusterInstancetype", None)], false),
        (vec![object("VirtualMachineClusterInstancetype", Some(""))], false),
        (vec![object("VirtualMachineInstancetype", Some("team-a"))], false),
        (vec![object("VirtualMachineInstancetype", None)], true),
        (vec![object("VirtualMachineInstancetype", Some(""))], true),
        (
            vec![
                object("VirtualMachineClusterInstancetype", None),
                object("VirtualMachinePreference", None),
            ],
            true,
        ),
        // Rejected objects take nothing.
        (
            vec![json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})],
            false,
        ),
    ] {
        let mut from_text = InMemorySource::new();
        let mut from_value = InMemorySource::new();
        for object in &objects {
            let _ = from_text.insert_json(&object.to_string(), Some(NAMESPACE));
            let _ = from_value.insert(object.clone(), Some(NAMESPACE));
        }
        assert_eq!(from_text.takes_default_namespace(), expected, "{objects:?} from text");
        assert_eq!(from_value.takes_default_namespace(), expected, "{objects:?} as values");
        if !expected {
            assert_namespace_free(&objects);
        }
    }
}

/// A source that took no default namespace answers every lookup, in every namespace, as one built
/// with another default namespace does.
fn assert_namespace_free(objects: &[Value]) {
    let build = |namespace: &str| {
        let mut source = InMemorySource::new();
        for object in objects {
            let _ = source.insert_json(&object.to_string(), Some(namespace));
        }
        source
    };
    let (first, second) = (build("team-a"), build("team-b"));
    for namespace in ["team-a", "team-b", "other"] {
        for kind in ResourceKind::ALL {
            let object = ObjectRef::new(kind, Some(namespace), "x");
            assert_eq!(
                first.get_shared(&object),
                second.get_shared(&object),
                "{objects:?}: {object}"
            );
        }
    }
}
