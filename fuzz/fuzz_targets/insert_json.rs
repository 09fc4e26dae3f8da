//! `InMemorySource::insert_json` and `BorrowingSource::insert_json` (an instancetype or preference
//! read from its JSON text, copied or borrowed, the spec decoded from the spec member's text) against
//! `InMemorySource::insert` of the parsed text: the same insert result, and the same answer to every
//! lookup (object, instancetype spec, preference spec).
//! Golden mode serializes a golden case's instancetype or preference after structural edits
//! (compact or pretty); raw mode (`{` first, or an odd first byte) takes the bytes as the text itself,
//! so libFuzzer's byte mutations reach the text reader: duplicate keys, `null`s, escapes, bad JSON.
#![no_main]

use kubevirt_instancetype::engine::lookup::{BorrowingSource, InMemorySource, ObjectRef, ObjectSource, ResourceKind};
use kubevirt_instancetype_fuzz::read_case;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NAMESPACE: &str = "ns";

fuzz_target!(|data: &[u8]| {
    let text = match data.first() {
        Some(first) if *first == b'{' || first % 2 == 1 => {
            let raw = if *first == b'{' { data } else { &data[1..] };
            let Ok(text) = std::str::from_utf8(raw) else { return };
            text.to_owned()
        }
        _ => {
            let Some(case) = read_case(data) else { return };
            let key = if case.switches & 1 == 0 { "instancetype" } else { "preference" };
            let object = case.document.get(key).cloned().unwrap_or(Value::Null);
            if case.switches & 2 == 0 {
                serde_json::to_string(&object).expect("serializes")
            } else {
                serde_json::to_string_pretty(&object).expect("serializes")
            }
        }
    };

    let mut from_text = InMemorySource::new();
    let inserted = from_text.insert_json(&text, Some(NAMESPACE));
    let mut borrowing = BorrowingSource::new();
    assert_eq!(borrowing.insert_json(&text, Some(NAMESPACE)), inserted, "borrowed: {text}");
    let Ok(parsed) = serde_json::from_str::<Value>(&text) else {
        assert!(inserted.is_err(), "text that is not JSON was inserted");
        return;
    };
    let mut from_value = InMemorySource::new();
    assert_eq!(inserted, from_value.insert(parsed.clone(), Some(NAMESPACE)), "text: {text}");
    assert_eq!(from_text.len(), from_value.len());
    assert_eq!(borrowing.len(), from_value.len());

    let name = parsed
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("x");
    for kind in ResourceKind::ALL {
        let object = ObjectRef::new(kind, Some(NAMESPACE), name);
        // Specs first: the text source must answer them before (and without) building the value.
        assert_eq!(from_text.instancetype_spec(&object), from_value.instancetype_spec(&object));
        assert_eq!(from_text.preference_spec(&object), from_value.preference_spec(&object));
        assert_eq!(from_text.get_shared(&object), from_value.get_shared(&object));
        assert_eq!(borrowing.instancetype_spec(&object), from_value.instancetype_spec(&object));
        assert_eq!(borrowing.preference_spec(&object), from_value.preference_spec(&object));
        assert_eq!(borrowing.get_shared(&object), from_value.get_shared(&object));
    }
});
