//! The shared admission decision (`engine::review`): modes, missing objects, lookup order,
//! governance, matcher checks and inference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::governance::NameRule;
use kubevirt_instancetype::engine::lookup::{InMemorySource, ObjectRef, RecordingSource, ResourceKind};
use kubevirt_instancetype::engine::review::{ReviewMode, ReviewOptions, Verdict, review_vm};
use serde_json::{Value, json};

fn bundle(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/data/common-instancetypes/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cluster() -> InMemorySource {
    let mut source = InMemorySource::new();
    for object in bundle("common-clusterinstancetypes-bundle.json")
        .into_iter()
        .chain(bundle("common-clusterpreferences-bundle.json"))
    {
        source.insert(object, None).unwrap();
    }
    source
}

fn vm(instancetype: &str, preference: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": "ns"},
        "spec": {
            "runStrategy": "Halted",
            "instancetype": {"name": instancetype},
            "preference": {"name": preference},
            "template": {"spec": {"domain": {"devices": {}}, "volumes": [
                {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}
            ]}}
        }
    })
}

fn rejection(verdict: &Verdict) -> (&str, u16) {
    match verdict {
        Verdict::Reject(r) => (r.message.as_str(), r.code),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn expand_mode_mutates_into_the_expanded_vm() {
    let review = review_vm(
        &vm("u1.medium", "fedora"),
        None,
        "ns",
        &cluster(),
        &ReviewOptions::default(),
    );
    let Verdict::Mutate(expanded) = review.verdict else {
        panic!("{:?}", review.verdict)
    };
    let domain = &expanded["spec"]["template"]["spec"]["domain"];
    assert_eq!(domain["cpu"]["sockets"], json!(1));
    assert_eq!(domain["memory"]["guest"], json!("4Gi"));
    assert_eq!(domain["devices"]["disks"][0]["disk"]["bus"], json!("virtio"));
    assert!(expanded["spec"].get("instancetype").is_none());
}

#[test]
fn validate_mode_never_mutates() {
    let options = ReviewOptions {
        mode: ReviewMode::Validate,
        ..Default::default()
    };
    let review = review_vm(&vm("u1.medium", "fedora"), None, "ns", &cluster(), &options);
    assert_eq!(review.verdict, Verdict::Accept);
}

#[test]
fn a_vm_without_matchers_is_accepted_unchanged() {
    let mut plain = vm("x", "y");
    plain["spec"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k != "instancetype" && k != "preference");
    let review = review_vm(&plain, None, "ns", &InMemorySource::new(), &ReviewOptions::default());
    assert_eq!(review.verdict, Verdict::Accept);
}

#[test]
fn missing_instancetype_rejects_before_the_preference_is_looked_up() {
    let source = RecordingSource::new(cluster());
    let review = review_vm(&vm("nope", "fedora"), None, "ns", &source, &ReviewOptions::default());
    let (message, code) = rejection(&review.verdict);
    assert_eq!(
        message,
        "Failure to find instancetype: virtualmachineclusterinstancetypes.instancetype.kubevirt.io \"nope\" not found"
    );
    assert_eq!(code, 422);
    assert_eq!(
        source.requested(),
        vec![ObjectRef::new(ResourceKind::ClusterInstancetype, None, "nope")]
    );
}

#[test]
fn missing_objects_can_be_let_through_with_a_warning() {
    let options = ReviewOptions {
        allow_missing_objects: true,
        ..Default::default()
    };
    let source = RecordingSource::new(cluster());
    // fedora requires 2Gi: with the instancetype missing, the VM's own memory must provide it.
    let mut sized = vm("nope", "fedora");
    sized["spec"]["template"]["spec"]["domain"]["memory"] = json!({"guest": "2Gi"});
    let review = review_vm(&sized, None, "ns", &source, &options);
    // Admitted as it is, references kept (as KubeVirt >= 1.6): no expansion with half the objects.
    assert_eq!(review.verdict, Verdict::Accept);
    assert!(
        review
            .warnings
            .iter()
            .any(|w| w.starts_with("ignoring missing instancetype:")),
        "{:?}",
        review.warnings
    );
    assert_eq!(source.requested().len(), 2, "the preference is still looked up");

    // What was found is still checked, as KubeVirt >= 1.6 checks it: fedora's requirements against a
    // VM that provides no memory of its own.
    let review = review_vm(&vm("nope", "fedora"), None, "ns", &cluster(), &options);
    let (message, _) = rejection(&review.verdict);
    assert_eq!(
        message,
        "failure checking preference requirements: insufficient Memory resources of 0 provided by \
         VirtualMachine, preference requires 2Gi"
    );

    // Conflicts with an instancetype that is there are still real when the preference is missing.
    let mut conflicting = vm("u1.medium", "nope");
    conflicting["spec"]["template"]["spec"]["domain"]["cpu"] = json!({"sockets": 2});
    let review = review_vm(&conflicting, None, "ns", &cluster(), &options);
    let (message, code) = rejection(&review.verdict);
    assert_eq!(
        message,
        "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type"
    );
    assert_eq!(code, 422);
}

#[test]
fn lookups_are_instancetype_then_preference_each_once() {
    let source = RecordingSource::new(cluster());
    review_vm(
        &vm("u1.medium", "fedora"),
        None,
        "ns",
        &source,
        &ReviewOptions::default(),
    );
    assert_eq!(
        source.requested(),
        vec![
            ObjectRef::new(ResourceKind::ClusterInstancetype, None, "u1.medium"),
            ObjectRef::new(ResourceKind::ClusterPreference, None, "fedora"),
        ]
    );
}

#[test]
fn conflicts_reject_with_kubevirt_causes() {
    let mut conflicting = vm("u1.medium", "fedora");
    conflicting["spec"]["template"]["spec"]["domain"]["cpu"] = json!({"sockets": 2});
    let review = review_vm(&conflicting, None, "ns", &cluster(), &ReviewOptions::default());
    let Verdict::Reject(rejection) = review.verdict else {
        panic!()
    };
    assert_eq!(
        rejection.message,
        "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type"
    );
    assert_eq!(rejection.causes[0].field, "spec.template.spec.domain.cpu.sockets");
    assert_eq!(rejection.code, 422);
}

#[test]
fn requirements_reject_in_both_modes() {
    for mode in [ReviewMode::Expand, ReviewMode::Validate] {
        let options = ReviewOptions {
            mode,
            ..Default::default()
        };
        // windows.2k19 requires 2Gi of memory; u1.nano has 512Mi.
        let review = review_vm(&vm("u1.nano", "windows.2k19"), None, "ns", &cluster(), &options);
        let (message, _) = rejection(&review.verdict);
        assert!(
            message.starts_with("failure checking preference requirements: insufficient"),
            "{message}"
        );
    }
}

#[test]
fn governance_rules_name_the_rule_and_the_field() {
    let options = ReviewOptions {
        governance: kubevirt_instancetype::engine::governance::GovernanceRules {
            allowed_instancetypes: vec![NameRule {
                kind: String::new(),
                name: "u1.*".into(),
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let review = review_vm(&vm("cx1.medium", "fedora"), None, "ns", &cluster(), &options);
    let Verdict::Reject(rejection) = review.verdict else {
        panic!()
    };
    assert!(
        rejection.message.contains("rule allowedInstancetypes"),
        "{}",
        rejection.message
    );
    assert_eq!(rejection.causes[0].field, "spec.instancetype.name");
    assert!(matches!(
        review_vm(&vm("u1.small", "fedora"), None, "ns", &cluster(), &options).verdict,
        Verdict::Mutate(_)
    ));
}

#[test]
fn matcher_structure_is_checked_first() {
    let mut broken = vm("u1.medium", "fedora");
    broken["spec"]["instancetype"] = json!({"kind": "VirtualMachineClusterInstancetype"});
    let source = RecordingSource::new(cluster());
    let review = review_vm(&broken, None, "ns", &source, &ReviewOptions::default());
    let (message, _) = rejection(&review.verdict);
    assert_eq!(
        message,
        "Either Name or InferFromVolume should be provided within the InstancetypeMatcher"
    );
    assert!(source.requested().is_empty());
}

#[test]
fn renaming_a_matcher_without_its_revision_is_refused_on_update() {
    let mut old = vm("u1.medium", "fedora");
    old["spec"]["instancetype"]["revisionName"] = json!("vm-u1.medium-v1beta1-uid-1");
    let mut new = old.clone();
    new["spec"]["instancetype"]["name"] = json!("u1.large");
    let review = review_vm(&new, Some(&old), "ns", &cluster(), &ReviewOptions::default());
    let (message, _) = rejection(&review.verdict);
    assert_eq!(
        message,
        "the Matcher Name has been updated without updating the RevisionName"
    );
}

#[test]
fn inference_failures_reject_with_code_400_or_drop_the_matcher_when_ignored() {
    let mut inferring = vm("x", "fedora");
    inferring["spec"]["instancetype"] = json!({"inferFromVolume": "root"});
    let review = review_vm(&inferring, None, "ns", &cluster(), &ReviewOptions::default());
    assert_eq!(
        rejection(&review.verdict),
        (
            "unable to infer defaults from volume root as type is not supported",
            400
        )
    );

    inferring["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
    inferring["spec"]["template"]["spec"]["domain"]["memory"] = json!({"guest": "2Gi"});
    let review = review_vm(&inferring, None, "ns", &cluster(), &ReviewOptions::default());
    let Verdict::Mutate(expanded) = review.verdict else {
        panic!("{:?}", review.verdict)
    };
    assert!(expanded["spec"].get("instancetype").is_none());
    assert_eq!(
        expanded["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"]["bus"],
        json!("virtio")
    );
}

#[test]
fn settings_reject_unknown_keys_and_bad_values() {
    let err = serde_json::from_value::<ReviewOptions>(json!({"mood": "expand"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `mood`"), "{err}");
    let bad: ReviewOptions = serde_json::from_value(json!({"cluster": {"defaultNetworkInterface": "slirp"}})).unwrap();
    assert_eq!(
        bad.validate(),
        Err("cluster.defaultNetworkInterface must be bridge or masquerade, not \"slirp\"".into())
    );
}
