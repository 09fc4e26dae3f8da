//! The policy's request handling compiled natively: `policy::validate(payload, source)` with an
//! in-memory cluster built from a golden case, over AdmissionRequests assembled around edited golden
//! VMs (operations, kinds, namespaces, settings, old objects) or raw payload bytes. No panic; the
//! response serializes as the SDK's; DELETE is never mutated; the number of host lookups is bounded
//! and no object is fetched twice; a namespaced object is never read outside the request's
//! namespace unless cross-namespace inference is allowed.
#![no_main]

use std::cell::RefCell;

use kubevirt_instancetype::engine::lookup::{InMemorySource, LookupError, ObjectRef, ObjectSource};
use kubevirt_instancetype::policy::response::PolicyResponse;
use kubevirt_instancetype::policy::validate;
use kubevirt_instancetype_fuzz::{MutatedCase, golden_cluster, read_case};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// The most lookups one request can need: inference (at most three objects per walk, two walks)
/// plus, per matcher, a ControllerRevision and the object.
const MAX_LOOKUPS: usize = 10;

struct Counting<'a> {
    inner: &'a InMemorySource,
    asked: RefCell<Vec<ObjectRef>>,
}

impl ObjectSource for Counting<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.asked.borrow_mut().push(object.clone());
        self.inner.get(object)
    }
}

const OPERATIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "CONNECT", "create"];
const KINDS: [(&str, &str, &str); 7] = [
    ("kubevirt.io", "v1", "VirtualMachine"),
    ("kubevirt.io", "v1", "VirtualMachine"),
    (
        "instancetype.kubevirt.io",
        "v1beta1",
        "VirtualMachineClusterInstancetype",
    ),
    ("instancetype.kubevirt.io", "v1beta1", "VirtualMachinePreference"),
    ("instancetype.kubevirt.io", "v2", "VirtualMachineInstancetype"),
    ("flavor.kubevirt.io", "v1alpha1", "VirtualMachineFlavor"),
    ("", "v1", "Pod"),
];
const NAMESPACES: [&str; 4] = ["default", "default", "other", ""];

fuzz_target!(|data: &[u8]| {
    // `{...`: a raw `validate` payload, against every golden instancetype and preference.
    let raw = data.first() == Some(&b'{');
    let case = if raw {
        MutatedCase {
            document: Value::Null,
            switches: 0,
        }
    } else {
        let Some(case) = read_case(data) else { return };
        case
    };
    let s = case.switches as usize;
    let mut own_cluster = InMemorySource::new();
    for key in ["instancetype", "preference"] {
        if let Some(object) = case.document.get(key) {
            let _ = own_cluster.insert(object.clone(), Some("default"));
        }
    }
    let cluster = if raw { golden_cluster() } else { &own_cluster };
    let source = Counting {
        inner: cluster,
        asked: RefCell::new(Vec::new()),
    };
    let (group, version, kind) = KINDS[(s >> 2) % KINDS.len()];
    let operation = OPERATIONS[(s >> 5) % OPERATIONS.len()];
    let namespace = NAMESPACES[(s >> 8) % NAMESPACES.len()];
    let object = match kind {
        "VirtualMachine" | "Pod" => case.document.get("vm").cloned().unwrap_or(Value::Null),
        _ if s & 1 == 0 => case.document.get("instancetype").cloned().unwrap_or(Value::Null),
        _ => case.document.get("preference").cloned().unwrap_or(Value::Null),
    };
    let old_object = if s & (1 << 10) != 0 {
        object.clone()
    } else {
        Value::Null
    };
    let cross_namespace = s & (1 << 11) != 0;
    let settings = json!({
        "mode": if s & (1 << 12) == 0 { "expand" } else { "validate" },
        "allowMissingObjects": s & (1 << 13) != 0,
        "allowCrossNamespaceInference": cross_namespace,
        "vmiDefaults": s & (1 << 14) == 0,
        "requireInstancetype": s & (1 << 15) != 0,
        "allowedInstancetypes": if s & (1 << 16) != 0 { json!([{"name": "u1.*"}, {"kind": "VirtualMachineInstancetype", "name": "*"}]) } else { json!([]) },
        "forbidInlineResourcesWithoutInstancetype": s & (1 << 17) != 0,
    });
    let payload = if raw {
        data.to_vec()
    } else {
        serde_json::to_vec(&json!({
            "request": {
                "uid": "uid",
                "kind": {"group": group, "version": version, "kind": kind},
                "operation": operation,
                "namespace": namespace,
                "name": "vm",
                "object": object,
                "oldObject": old_object,
            },
            "settings": settings,
        }))
        .expect("serializes")
    };
    let response: PolicyResponse = validate(&payload, &source);

    // What the guest hands to the SDK serializes and reads back the same.
    let text = serde_json::to_vec(&response).expect("response serializes");
    let back: PolicyResponse = serde_json::from_slice(&text).expect("response reparses");
    assert_eq!(back, response);
    if response.accepted {
        assert!(response.message.is_none() && response.code.is_none());
    } else {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "rejection without a message"
        );
        assert!(response.mutated_object.is_none());
        assert!(matches!(response.code, Some(400..=599)));
    }
    if let Some(mutated) = &response.mutated_object {
        assert!(mutated.is_object());
        if !raw {
            assert!(matches!(operation, "CREATE" | "UPDATE"), "{operation} mutated");
            assert_eq!(kind, "VirtualMachine");
            assert_ne!(mutated, &object, "no-op mutation");
        }
    }
    let asked = source.asked.borrow();
    assert!(asked.len() <= MAX_LOOKUPS, "{} lookups: {asked:#?}", asked.len());
    for (i, object) in asked.iter().enumerate() {
        assert!(!asked[..i].contains(object), "{object} fetched twice: {asked:#?}");
    }
    if !raw && !cross_namespace && !namespace.is_empty() {
        for object in asked.iter() {
            if let Some(ns) = &object.namespace {
                assert_eq!(ns, namespace, "read {object} from another namespace");
            }
        }
    }
});
