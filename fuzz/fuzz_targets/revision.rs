//! ControllerRevision decoding: revisions built from the golden instancetypes and preferences (as
//! stored objects of each version and as the legacy base64 spec wrapper), edited structurally, or raw
//! JSON. No panic; the three decoders agree with each other.
#![no_main]

use base64::Engine;
use kubevirt_instancetype::engine::revision::{
    RevisionSpec, decode_controller_revision, decode_controller_revision_detailed, decode_instancetype_revision,
    decode_preference_revision, revision_object_name_label,
};
use kubevirt_instancetype_fuzz::read_case;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some(case) = read_case(data) else { return };
    let switches = case.switches;
    let revision = if data.first() == Some(&b'{') {
        // Raw mode: the document is the ControllerRevision itself.
        case.document
    } else {
        let key = if switches & 4 == 0 {
            "instancetype"
        } else {
            "preference"
        };
        let object = case.document.get(key).cloned().unwrap_or(Value::Null);
        let data = if switches & 8 == 0 {
            object
        } else {
            // The v0.55–v0.57 wrapper: {"apiVersion": ..., "spec": base64(json(spec))}.
            let spec = object.get("spec").cloned().unwrap_or(Value::Null);
            let text = serde_json::to_vec(&spec).expect("serializes");
            json!({
                "apiVersion": "instancetype.kubevirt.io/v1alpha1",
                "spec": base64::engine::general_purpose::STANDARD.encode(text),
            })
        };
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "rev", "namespace": "default", "labels": {"instancetype.kubevirt.io/object-name": "x"}},
            "data": data,
            "revision": 1,
        })
    };
    let detailed = decode_controller_revision_detailed(&revision);
    let plain = decode_controller_revision(&revision);
    assert_eq!(detailed.map(|d| d.spec), plain.clone());
    let instancetype = decode_instancetype_revision(&revision);
    let preference = decode_preference_revision(&revision);
    match plain {
        Ok(RevisionSpec::Instancetype(spec)) => {
            assert_eq!(instancetype.as_ref(), Ok(&spec));
            assert!(preference.is_err());
        }
        Ok(RevisionSpec::Preference(spec)) => {
            assert_eq!(preference.as_ref(), Ok(&spec));
            assert!(instancetype.is_err());
        }
        Err(error) => {
            assert!(instancetype.is_err() && preference.is_err());
            assert!(!error.to_string().is_empty());
            let _ = error.field();
        }
    }
    let _ = revision_object_name_label(&revision);
});
