//! Namespaces: a VM can neither make the policy read objects of another namespace nor learn anything
//! about them, unless `allowCrossNamespaceInference` lets inference follow a reference there (as
//! KubeVirt does for a DataVolume `source.pvc` / `sourceRef` and a DataSource's source).
//!
//! - Over every golden case, and over generated VMs that aim at another namespace every way a VM
//!   can name one (the object's own `metadata.namespace`, a `namespace` in a matcher, `revisionName`,
//!   status revision references, DataVolume templates and DataVolumes with `source.pvc`,
//!   `source.snapshot`, `sourceRef`, DataSources whose source is elsewhere): every lookup is in the
//!   request's namespace or cluster-scoped.
//! - The answer is the same, byte for byte, whether the other namespace holds the objects the VM aims
//!   at or not: no existence oracle, nothing of their content in a message.
//! - With the setting on, inference does follow such a reference (the setting works).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::cell::RefCell;

use kubevirt_instancetype::engine::lookup::{InMemorySource, LookupError, ObjectRef, ObjectSource};
use kubevirt_instancetype::policy::validate;
use proptest::prelude::*;
use serde_json::{Value, json};

const VM_NAMESPACE: &str = "vms";
const OTHER: &str = "victim";
/// A marker in every object of the other namespace: must never appear in an answer.
const SECRET: &str = "s3cr3t-victim-value";

struct Recording<'a> {
    inner: &'a InMemorySource,
    asked: RefCell<Vec<ObjectRef>>,
}

impl ObjectSource for Recording<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.asked.borrow_mut().push(object.clone());
        self.inner.get(object)
    }
}

fn labels() -> Value {
    json!({
        "instancetype.kubevirt.io/default-instancetype": format!("{SECRET}-it"),
        "instancetype.kubevirt.io/default-preference": format!("{SECRET}-pref"),
        "secret": SECRET,
    })
}

/// Every kind the policy can read, named `name`, in `namespace`, full of the secret.
fn objects_in(namespace: &str, name: &str) -> Vec<Value> {
    let meta = json!({"name": name, "namespace": namespace, "labels": labels(), "annotations": {"secret": SECRET}});
    let spec = json!({"cpu": {"guest": 64}, "memory": {"guest": "512Gi"}});
    vec![
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype", "metadata": meta, "spec": spec}),
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachinePreference", "metadata": meta, "spec": {"cpu": {"preferredCPUTopology": "preferCores"}}}),
        json!({"apiVersion": "flavor.kubevirt.io/v1alpha1", "kind": "VirtualMachineFlavor", "metadata": meta, "spec": spec}),
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta,
               "data": {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype", "metadata": meta, "spec": spec}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta}),
        json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": meta, "spec": {"source": {"pvc": {"name": name, "namespace": namespace}}}}),
        json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource", "metadata": meta, "spec": {"source": {"pvc": {"name": name, "namespace": namespace}}}}),
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": meta}),
    ]
}

/// The base cluster: cluster-scoped objects and the VM's namespace (objects named `own`).
fn base_cluster() -> InMemorySource {
    let mut source = InMemorySource::new();
    for object in [
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype", "metadata": {"name": "u1.medium"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}}}),
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference", "metadata": {"name": "fedora"}, "spec": {"devices": {"preferredDiskBus": "virtio"}}}),
    ] {
        source.insert(object, None).unwrap();
    }
    for mut object in objects_in(VM_NAMESPACE, "own") {
        // The VM's own namespace: ordinary objects, without the secret.
        object["metadata"] = json!({"name": "own", "namespace": VM_NAMESPACE,
            "labels": {"instancetype.kubevirt.io/default-instancetype": "u1.medium"}});
        if object["kind"] == "DataVolume" || object["kind"] == "DataSource" {
            object["spec"] = json!({"source": {"pvc": {"name": "own"}}});
        }
        if object["kind"] == "ControllerRevision" {
            object["data"] = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
                "metadata": {"name": "u1.medium"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}}});
        }
        source.insert(object, None).unwrap();
    }
    source
}

/// The same cluster with the other namespace filled with secret objects of every kind and name.
fn cluster_with_victim(names: &[&str]) -> InMemorySource {
    let mut source = base_cluster();
    for name in names {
        for object in objects_in(OTHER, name) {
            source.insert(object, None).unwrap();
        }
    }
    source
}

fn request(vm: &Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request": {
            "uid": "security",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"},
            "operation": "CREATE",
            "namespace": VM_NAMESPACE,
            "name": "attacker",
            "object": vm,
        },
        "settings": settings,
    }))
    .unwrap()
}

/// Runs the policy against `cluster`; returns the response text and every lookup.
fn run(vm: &Value, settings: Value, cluster: &InMemorySource) -> (String, Vec<ObjectRef>) {
    let source = Recording {
        inner: cluster,
        asked: RefCell::new(Vec::new()),
    };
    let response = validate(&request(vm, settings), &source);
    (serde_json::to_string(&response).unwrap(), source.asked.into_inner())
}

fn assert_confined(context: &str, asked: &[ObjectRef]) {
    for object in asked {
        assert!(
            object.namespace.as_deref().is_none_or(|ns| ns == VM_NAMESPACE),
            "{context}: read {object} outside the VM's namespace: {asked:?}"
        );
    }
}

/// Every golden VM, claiming the other namespace in its metadata: lookups stay in the request's.
#[test]
fn golden_vms_only_read_their_own_namespace() {
    let cluster = cluster_with_victim(&["u1.medium", "fedora"]);
    for line in include_str!("data/golden/cases.jsonl").lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let mut vm = case["vm"].clone();
        vm["metadata"]["namespace"] = json!(OTHER);
        for matcher in ["instancetype", "preference"] {
            if let Some(matcher) = vm["spec"].get_mut(matcher).and_then(Value::as_object_mut) {
                matcher.insert("namespace".into(), json!(OTHER));
            }
        }
        let (response, asked) = run(&vm, json!({}), &cluster);
        assert_confined(case["id"].as_str().unwrap(), &asked);
        assert!(!response.contains(SECRET), "{}: {response}", case["id"]);
    }
}

/// The ways a VM can name a namespace.
#[derive(Debug, Clone)]
enum Aim {
    MetadataNamespace,
    MatcherNamespace { preference: bool, namespaced_kind: bool },
    RevisionName { preference: bool },
    StatusRevision { preference: bool },
    TemplatePvc { snapshot: bool },
    DataVolume { via: u8 },
    TemplateSourceRef,
}

fn aim() -> impl Strategy<Value = Aim> {
    prop_oneof![
        Just(Aim::MetadataNamespace),
        (any::<bool>(), any::<bool>()).prop_map(|(preference, namespaced_kind)| Aim::MatcherNamespace {
            preference,
            namespaced_kind
        }),
        any::<bool>().prop_map(|preference| Aim::RevisionName { preference }),
        any::<bool>().prop_map(|preference| Aim::StatusRevision { preference }),
        any::<bool>().prop_map(|snapshot| Aim::TemplatePvc { snapshot }),
        (0u8..4).prop_map(|via| Aim::DataVolume { via }),
        Just(Aim::TemplateSourceRef),
    ]
}

/// A VM of the VM's namespace built to reach `target` (a name in the other namespace) by `aims`.
fn attacking_vm(aims: &[Aim], target: &str, infer_preference: bool) -> (Value, Vec<Value>) {
    let mut vm = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": "attacker", "namespace": VM_NAMESPACE},
        "spec": {
            "instancetype": {"name": "u1.medium"},
            "preference": {"name": "fedora"},
            "template": {"spec": {"domain": {"devices": {}}, "volumes": [{"name": "root", "containerDisk": {"image": "x"}}]}}
        }
    });
    // Extra objects of the VM's own namespace the attack needs (a DataVolume pointing away).
    let mut own = Vec::new();
    for aim in aims {
        match aim {
            Aim::MetadataNamespace => vm["metadata"]["namespace"] = json!(OTHER),
            Aim::MatcherNamespace {
                preference,
                namespaced_kind,
            } => {
                let (key, kind) = if *preference {
                    ("preference", "VirtualMachinePreference")
                } else {
                    ("instancetype", "VirtualMachineInstancetype")
                };
                vm["spec"][key] = json!({"name": target, "namespace": OTHER});
                if *namespaced_kind {
                    vm["spec"][key]["kind"] = json!(kind);
                }
            }
            Aim::RevisionName { preference } => {
                let key = if *preference { "preference" } else { "instancetype" };
                vm["spec"][key]["revisionName"] = json!(target);
            }
            Aim::StatusRevision { preference } => {
                let key = if *preference {
                    "preferenceRef"
                } else {
                    "instancetypeRef"
                };
                vm["status"][key] = json!({"controllerRevisionRef": {"name": target}, "namespace": OTHER});
            }
            Aim::TemplatePvc { snapshot } => {
                let source = if *snapshot { "snapshot" } else { "pvc" };
                vm["spec"]["dataVolumeTemplates"] = json!([{"metadata": {"name": "root-dv"},
                    "spec": {"source": {source: {"name": target, "namespace": OTHER}}}}]);
                vm["spec"]["template"]["spec"]["volumes"] =
                    json!([{"name": "root", "dataVolume": {"name": "root-dv"}}]);
            }
            Aim::TemplateSourceRef => {
                vm["spec"]["dataVolumeTemplates"] = json!([{"metadata": {"name": "root-dv"},
                    "spec": {"sourceRef": {"kind": "DataSource", "name": target, "namespace": OTHER}}}]);
                vm["spec"]["template"]["spec"]["volumes"] =
                    json!([{"name": "root", "dataVolume": {"name": "root-dv"}}]);
            }
            Aim::DataVolume { via } => {
                let spec = match via {
                    0 => json!({"source": {"pvc": {"name": target, "namespace": OTHER}}}),
                    1 => json!({"source": {"snapshot": {"name": target, "namespace": OTHER}}}),
                    2 => json!({"sourceRef": {"kind": "DataSource", "name": target, "namespace": OTHER}}),
                    // A DataSource of the VM's namespace whose source is in the other namespace.
                    _ => {
                        own.push(json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource",
                            "metadata": {"name": "local-ds", "namespace": VM_NAMESPACE},
                            "spec": {"source": {"pvc": {"name": target, "namespace": OTHER}}}}));
                        json!({"sourceRef": {"kind": "DataSource", "name": "local-ds"}})
                    }
                };
                own.push(json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                    "metadata": {"name": "local-dv", "namespace": VM_NAMESPACE}, "spec": spec}));
                vm["spec"]["template"]["spec"]["volumes"] =
                    json!([{"name": "root", "dataVolume": {"name": "local-dv"}}]);
            }
        }
    }
    let uses_data_volume = vm["spec"]["template"]["spec"]["volumes"][0].get("dataVolume").is_some();
    if uses_data_volume {
        vm["spec"]["instancetype"] = json!({"inferFromVolume": "root"});
        if infer_preference {
            vm["spec"]["preference"] = json!({"inferFromVolume": "root", "inferFromVolumeFailurePolicy": "Ignore"});
        }
    }
    (vm, own)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Same answer with or without the other namespace's objects, and no read there.
    #[test]
    fn another_namespace_is_neither_read_nor_revealed(
        aims in prop::collection::vec(aim(), 1..4),
        target in prop::sample::select(vec!["u1.medium", "fedora", "golden", "own"]),
        infer_preference in any::<bool>(),
        mode in prop::sample::select(vec!["expand", "validate"]),
        allow_missing in any::<bool>(),
    ) {
        let (vm, own) = attacking_vm(&aims, target, infer_preference);
        let mut without = base_cluster();
        let mut with = cluster_with_victim(&[target, "u1.medium", "fedora", "golden", "own"]);
        for object in own {
            without.insert(object.clone(), None).unwrap();
            with.insert(object, None).unwrap();
        }
        let settings = json!({"mode": mode, "allowMissingObjects": allow_missing});
        let (empty_answer, empty_asked) = run(&vm, settings.clone(), &without);
        let (full_answer, full_asked) = run(&vm, settings, &with);
        assert_confined(&format!("{aims:?}"), &full_asked);
        prop_assert_eq!(&empty_asked, &full_asked);
        prop_assert_eq!(&empty_answer, &full_answer, "the other namespace changes the answer for {:?}", aims);
        prop_assert!(!full_answer.contains(SECRET), "{}", full_answer);
    }
}

/// With `allowCrossNamespaceInference`, inference follows a DataVolume `sourceRef` into the other
/// namespace (and only inference: the instancetype it names is cluster-scoped).
#[test]
fn the_setting_lets_inference_follow_references() {
    let (vm, own) = attacking_vm(&[Aim::DataVolume { via: 2 }], "golden", false);
    let mut cluster = cluster_with_victim(&["golden"]);
    for object in own {
        cluster.insert(object, None).unwrap();
    }
    let (denied, denied_asked) = run(&vm, json!({}), &cluster);
    assert_confined("denied", &denied_asked);
    assert!(denied.contains("cross-namespace inference is not allowed"), "{denied}");
    assert!(
        !denied.contains("golden"),
        "the refusal names the referenced object: {denied}"
    );

    let (allowed, allowed_asked) = run(&vm, json!({"allowCrossNamespaceInference": true}), &cluster);
    assert!(
        allowed_asked
            .iter()
            .any(|o| o.namespace.as_deref() == Some(OTHER) && o.kind.kind() == "DataSource"),
        "{allowed_asked:?}"
    );
    // The DataSource's label names an instancetype that does not exist: KubeVirt's NotFound wording.
    assert!(allowed.contains(&format!("\\\"{SECRET}-it\\\" not found")), "{allowed}");
}
