//! The engine against `upstream-semantics.md`, one module per spec section. Each test is named after
//! the behaviour it checks and asserts exact values and KubeVirt's exact messages. The expected
//! behaviours were read from KubeVirt's own code and `_test.go` files (commit d923fdb8); the cases
//! themselves are written here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::admission::{
    AdmissionChecks, check_matchers, checks_with_specs, persist_preference_values, vm_admission_checks,
};
use kubevirt_instancetype::engine::apply::{ApplyError, apply_to_vmi, topology};
use kubevirt_instancetype::engine::cause::Cause;
use kubevirt_instancetype::engine::expand::{ExpandError, VMI_SPEC_PATH, expand, expand_in_namespace};
use kubevirt_instancetype::engine::lookup::{InMemorySource, ObjectRef, RecordingSource, ResourceKind};
use kubevirt_instancetype::engine::model::{InstancetypeSpec, PreferenceSpec};
use kubevirt_instancetype::engine::options::{ClusterOptions, ExpandOptions};
use kubevirt_instancetype::engine::{find, requirements};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers shared by every section.
// ---------------------------------------------------------------------------------------------

const NS: &str = "default";
const V1BETA1: &str = "instancetype.kubevirt.io/v1beta1";
const NAME_LABEL: &str = "instancetype.kubevirt.io/object-name";

fn object(api_version: &str, kind: &str, name: &str, namespace: Option<&str>, spec: Value) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec})
}

fn cluster_it(name: &str, spec: Value) -> Value {
    object(V1BETA1, "VirtualMachineClusterInstancetype", name, None, spec)
}

fn ns_it(name: &str, spec: Value) -> Value {
    object(V1BETA1, "VirtualMachineInstancetype", name, Some(NS), spec)
}

fn cluster_pref(name: &str, spec: Value) -> Value {
    object(V1BETA1, "VirtualMachineClusterPreference", name, None, spec)
}

fn ns_pref(name: &str, spec: Value) -> Value {
    object(V1BETA1, "VirtualMachinePreference", name, Some(NS), spec)
}

/// A ControllerRevision named `name` holding `data`, with an object-name label when given.
fn revision(name: &str, object_name: Option<&str>, data: Value) -> Value {
    let mut revision = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": name, "namespace": NS},
        "data": data, "revision": 1
    });
    if let Some(object_name) = object_name {
        revision["metadata"]["labels"] = json!({ NAME_LABEL: object_name });
    }
    revision
}

/// A minimal instancetype spec: `guest` vCPUs and `memory` of guest memory.
fn it_body(guest: u32, memory: &str) -> Value {
    json!({"cpu": {"guest": guest}, "memory": {"guest": memory}})
}

/// Deep-merges `extra` into `base` (objects merge, anything else replaces).
fn merge(mut base: Value, extra: Value) -> Value {
    match (&mut base, extra) {
        (Value::Object(target), Value::Object(extra)) => {
            for (key, value) in extra {
                let merged = match target.shift_remove(&key) {
                    Some(existing) => merge(existing, value),
                    None => value,
                };
                target.insert(key, merged);
            }
            base
        }
        (_, extra) => extra,
    }
}

/// The base instancetype spec (2 vCPU, 1Gi) with `extra` merged in.
fn it_with(extra: Value) -> Value {
    merge(it_body(2, "1Gi"), extra)
}

fn source(objects: &[Value]) -> InMemorySource {
    let mut source = InMemorySource::new();
    for object in objects {
        source.insert(object.clone(), Some(NS)).unwrap();
    }
    source
}

/// A VM in `default` named `vm` with the given `spec` keys (matchers) and template spec.
fn vm(matchers: Value, template_spec: Value) -> Value {
    let mut spec = matchers;
    spec["template"] = json!({ "spec": template_spec });
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": NS},
        "spec": spec
    })
}

fn raw() -> ExpandOptions {
    ExpandOptions {
        vmi_defaults: false,
        ..ExpandOptions::default()
    }
}

fn with_defaults() -> ExpandOptions {
    ExpandOptions::default()
}

fn expand_ok(vm: &Value, objects: &[Value], options: &ExpandOptions) -> Value {
    expand(vm, &source(objects), options).unwrap_or_else(|error| panic!("expand failed: {error}"))
}

fn expand_err(vm: &Value, objects: &[Value], options: &ExpandOptions) -> String {
    match expand(vm, &source(objects), options) {
        Ok(expanded) => panic!("expected an error, got {expanded:#}"),
        Err(error) => error.to_string(),
    }
}

fn tspec(vm: &Value) -> &Value {
    &vm["spec"]["template"]["spec"]
}

fn it_spec(value: Value) -> InstancetypeSpec {
    serde_json::from_value(value).unwrap()
}

fn pref_spec(value: Value) -> PreferenceSpec {
    serde_json::from_value(value).unwrap()
}

/// Applies (through [`apply_to_vmi`]) to a VMI spec and template metadata.
fn apply_full(
    instancetype: Option<Value>,
    preference: Option<Value>,
    vmi_spec: Value,
    metadata: Value,
) -> Result<(Value, Value), ApplyError> {
    let instancetype = instancetype.map(it_spec);
    let preference = preference.map(pref_spec);
    let mut spec = vmi_spec.as_object().unwrap().clone();
    let mut meta = metadata.as_object().unwrap().clone();
    apply_to_vmi(
        instancetype.as_ref(),
        preference.as_ref(),
        &mut spec,
        &mut meta,
        VMI_SPEC_PATH,
    )?;
    Ok((Value::Object(spec), Value::Object(meta)))
}

fn apply_it(instancetype: Value, vmi_spec: Value) -> Value {
    apply_full(Some(instancetype), None, vmi_spec, json!({}))
        .unwrap_or_else(|error| panic!("apply failed: {error}"))
        .0
}

fn apply_pref(preference: Value, vmi_spec: Value) -> Value {
    apply_full(None, Some(preference), vmi_spec, json!({}))
        .unwrap_or_else(|error| panic!("apply failed: {error}"))
        .0
}

/// The conflict paths of applying `instancetype` to a VMI spec and metadata.
fn conflicts(instancetype: Value, vmi_spec: Value, metadata: Value) -> Vec<String> {
    match apply_full(Some(instancetype), None, vmi_spec, metadata) {
        Err(ApplyError::Conflicts(conflicts)) => conflicts.paths,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn b(rest: &str) -> String {
    format!("{VMI_SPEC_PATH}.{rest}")
}

fn invalid(message: &str, field: &str) -> Cause {
    Cause::new("FieldValueInvalid", message, field)
}

// ---------------------------------------------------------------------------------------------
// §2 Lookup semantics
// ---------------------------------------------------------------------------------------------
mod resolution_2 {
    use super::*;

    /// A namespaced instancetype and a cluster one with the same name but different vCPUs, so the
    /// resulting sockets tell which was used.
    fn same_name_objects() -> Vec<Value> {
        vec![
            ns_it("it", it_body(2, "1Gi")),
            cluster_it("it", it_body(4, "1Gi")),
            ns_pref("pref", json!({"cpu": {"preferredCPUTopology": "cores"}})),
            cluster_pref("pref", json!({"cpu": {"preferredCPUTopology": "threads"}})),
        ]
    }

    fn cpu_of(expanded: &Value) -> (u64, u64, u64) {
        let cpu = &tspec(expanded)["domain"]["cpu"];
        let n = |key: &str| cpu[key].as_u64().unwrap_or(0);
        (n("sockets"), n("cores"), n("threads"))
    }

    #[test]
    fn instancetype_kind_matching_is_case_insensitive_singular_or_plural_and_empty_means_cluster() {
        let cases: &[(&str, u64)] = &[
            ("VirtualMachineInstancetype", 2),
            ("virtualmachineinstancetype", 2),
            ("virtualmachineinstancetypes", 2),
            ("VIRTUALMACHINEINSTANCETYPES", 2),
            ("VirtualMachineClusterInstancetype", 4),
            ("virtualmachineclusterinstancetype", 4),
            ("VirtualMachineClusterInstancetypes", 4),
            ("", 4),
        ];
        for (kind, sockets) in cases {
            let vm = vm(json!({"instancetype": {"name": "it", "kind": kind}}), json!({}));
            let expanded = expand_ok(&vm, &same_name_objects(), &raw());
            assert_eq!(cpu_of(&expanded), (*sockets, 1, 1), "kind {kind:?}");
        }
    }

    #[test]
    fn instancetype_matcher_without_kind_key_means_cluster_kind() {
        let vm = vm(json!({"instancetype": {"name": "it"}}), json!({}));
        assert_eq!(cpu_of(&expand_ok(&vm, &same_name_objects(), &raw())), (4, 1, 1));
    }

    #[test]
    fn preference_kind_matching_is_case_insensitive_singular_or_plural_and_empty_means_cluster() {
        // 2 vCPUs: `cores` (namespaced) gives 1/2/1, `threads` (cluster) gives 1/1/2.
        let cases: &[(&str, (u64, u64, u64))] = &[
            ("VirtualMachinePreference", (1, 2, 1)),
            ("virtualmachinepreference", (1, 2, 1)),
            ("VirtualMachinePreferences", (1, 2, 1)),
            ("VirtualMachineClusterPreference", (1, 1, 2)),
            ("virtualmachineclusterpreferences", (1, 1, 2)),
            ("", (1, 1, 2)),
        ];
        for (kind, topology) in cases {
            let vm = vm(
                json!({"instancetype": {"name": "it", "kind": "VirtualMachineInstancetype"},
                       "preference": {"name": "pref", "kind": kind}}),
                json!({}),
            );
            assert_eq!(
                cpu_of(&expand_ok(&vm, &same_name_objects(), &raw())),
                *topology,
                "kind {kind:?}"
            );
        }
    }

    #[test]
    fn resolve_kind_maps_every_spelling_to_the_right_resource() {
        use find::MatcherRole::{Instancetype, Preference};
        let cases = [
            (Instancetype, "VirtualMachineInstancetype", ResourceKind::Instancetype),
            (Instancetype, "virtualmachineinstancetypes", ResourceKind::Instancetype),
            (
                Instancetype,
                "virtualMachineClusterInstancetype",
                ResourceKind::ClusterInstancetype,
            ),
            (Instancetype, "", ResourceKind::ClusterInstancetype),
            (Preference, "VirtualMachinePreference", ResourceKind::Preference),
            (
                Preference,
                "virtualmachineclusterpreferences",
                ResourceKind::ClusterPreference,
            ),
            (Preference, "", ResourceKind::ClusterPreference),
            // Go's `strings.ToLower` maps U+0130 (İ) to `i`; so does the engine.
            (
                Instancetype,
                "V\u{130}RTUALMACH\u{130}NE\u{130}NSTANCETYPE",
                ResourceKind::Instancetype,
            ),
        ];
        for (role, kind, expected) in cases {
            assert_eq!(
                find::resolve_kind(role, kind, false).unwrap(),
                expected,
                "{role:?} {kind:?}"
            );
        }
    }

    #[test]
    fn unexpected_kinds_give_kubevirts_messages_with_the_kind_as_written() {
        let cases = [
            (
                json!({"instancetype": {"name": "it", "kind": "VirtualMachinePreference"}}),
                "got unexpected kind in InstancetypeMatcher: VirtualMachinePreference",
            ),
            (
                json!({"instancetype": {"name": "it", "kind": "Deployment"}}),
                "got unexpected kind in InstancetypeMatcher: Deployment",
            ),
            (
                json!({"preference": {"name": "pref", "kind": "VirtualMachineClusterInstancetype"}}),
                "got unexpected kind in PreferenceMatcher: VirtualMachineClusterInstancetype",
            ),
            (
                json!({"preference": {"name": "pref", "kind": "virtualmachinepreferencez"}}),
                "got unexpected kind in PreferenceMatcher: virtualmachinepreferencez",
            ),
            // The flavor kinds belong to the legacy `spec.flavor` matcher only.
            (
                json!({"instancetype": {"name": "it", "kind": "VirtualMachineClusterFlavor"}}),
                "got unexpected kind in InstancetypeMatcher: VirtualMachineClusterFlavor",
            ),
            (
                json!({"instancetype": {"name": "it", "kind": "virtualmachineflavors"}}),
                "got unexpected kind in InstancetypeMatcher: virtualmachineflavors",
            ),
            // Full Unicode lower-casing would turn U+0130 into two characters and match nothing.
            (
                json!({"instancetype": {"name": "it", "kind": "VirtualMachine\u{130}nstancetypeX"}}),
                "got unexpected kind in InstancetypeMatcher: VirtualMachine\u{130}nstancetypeX",
            ),
        ];
        for (matchers, message) in cases {
            let vm = vm(matchers, json!({}));
            assert_eq!(expand_err(&vm, &same_name_objects(), &raw()), message);
        }
    }

    #[test]
    fn not_found_texts_are_kubernetes_texts() {
        let cases = [
            // Kubernetes quotes the name with Go's `%q`.
            (
                json!({"instancetype": {"name": "x\"y\\z\t\u{1}\u{7f}\u{a0}\u{2028}\u{feff}\u{e000}\u{10ffff}é日本"}}),
                r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "x\"y\\z\t\x01\x7f\u00a0\u2028\ufeff\ue000\U0010ffffé日本" not found"#,
            ),
            (
                json!({"preference": {"name": "a\u{7}\u{8}\u{c}\n\r\u{b}\u{ad}\u{85}"}}),
                r#"virtualmachineclusterpreferences.instancetype.kubevirt.io "a\a\b\f\n\r\v\u00ad\u0085" not found"#,
            ),
            (
                json!({"instancetype": {"name": "x"}}),
                r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "x" not found"#,
            ),
            (
                json!({"instancetype": {"name": "x", "kind": "VirtualMachineInstancetype"}}),
                r#"virtualmachineinstancetypes.instancetype.kubevirt.io "x" not found"#,
            ),
            (
                json!({"preference": {"name": "y"}}),
                r#"virtualmachineclusterpreferences.instancetype.kubevirt.io "y" not found"#,
            ),
            (
                json!({"preference": {"name": "y", "kind": "virtualmachinepreference"}}),
                r#"virtualmachinepreferences.instancetype.kubevirt.io "y" not found"#,
            ),
            (
                json!({"instancetype": {"name": "x", "revisionName": "rev"}}),
                r#"controllerrevisions.apps "rev" not found"#,
            ),
            (
                json!({"preference": {"name": "y", "revisionName": "prev"}}),
                r#"controllerrevisions.apps "prev" not found"#,
            ),
            (
                json!({"flavor": {"name": "small", "kind": "VirtualMachineFlavor"}}),
                r#"virtualmachineflavors.flavor.kubevirt.io "small" not found"#,
            ),
            (
                json!({"flavor": {"name": "small"}}),
                r#"virtualmachineclusterflavors.flavor.kubevirt.io "small" not found"#,
            ),
        ];
        for (matchers, message) in cases {
            let vm = vm(matchers, json!({}));
            assert_eq!(expand_err(&vm, &[], &raw()), message);
        }
    }

    #[test]
    fn instancetype_is_resolved_before_the_preference() {
        let vm = vm(
            json!({"instancetype": {"name": "missing-it"}, "preference": {"name": "missing-pref"}}),
            json!({}),
        );
        assert_eq!(
            expand_err(&vm, &[], &raw()),
            r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "missing-it" not found"#
        );
    }

    #[test]
    fn namespaced_kinds_are_looked_up_in_the_vm_namespace_only() {
        let elsewhere = object(
            V1BETA1,
            "VirtualMachineInstancetype",
            "it",
            Some("other"),
            it_body(2, "1Gi"),
        );
        let vm = vm(
            json!({"instancetype": {"name": "it", "kind": "VirtualMachineInstancetype"}}),
            json!({}),
        );
        let recording = RecordingSource::new(source(&[elsewhere]));
        let error = expand(&vm, &recording, &raw()).unwrap_err().to_string();
        assert_eq!(
            error,
            r#"virtualmachineinstancetypes.instancetype.kubevirt.io "it" not found"#
        );
        assert_eq!(
            recording.requested(),
            vec![ObjectRef::new(ResourceKind::Instancetype, Some(NS), "it")]
        );
    }

    #[test]
    fn expand_in_namespace_uses_the_given_namespace() {
        let mut vm = vm(
            json!({"instancetype": {"name": "it", "kind": "VirtualMachineInstancetype"}}),
            json!({}),
        );
        vm["metadata"].as_object_mut().unwrap().shift_remove("namespace");
        let there = object(
            V1BETA1,
            "VirtualMachineInstancetype",
            "it",
            Some("team"),
            it_body(3, "1Gi"),
        );
        let expanded = expand_in_namespace(&vm, "team", &source(&[there]), &raw()).unwrap();
        assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(3));
    }

    #[test]
    fn revision_name_wins_over_status_reference_and_live_object() {
        let objects = [
            revision("rev-a", Some("it"), cluster_it("it", it_body(6, "1Gi"))),
            revision("rev-b", Some("it"), cluster_it("it", it_body(8, "1Gi"))),
            cluster_it("it", it_body(4, "1Gi")),
        ];
        let mut vm = vm(
            json!({"instancetype": {"name": "it", "revisionName": "rev-a"}}),
            json!({}),
        );
        vm["status"] = json!({"instancetypeRef": {"name": "it", "controllerRevisionRef": {"name": "rev-b"}}});
        let recording = RecordingSource::new(source(&objects));
        let expanded = expand(&vm, &recording, &raw()).unwrap();
        assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(6));
        assert_eq!(
            recording.requested(),
            vec![ObjectRef::new(ResourceKind::ControllerRevision, Some(NS), "rev-a")]
        );
    }

    #[test]
    fn revision_name_is_used_even_when_its_label_names_another_object() {
        let objects = [
            revision("rev-a", Some("someone-else"), cluster_it("x", it_body(6, "1Gi"))),
            cluster_it("it", it_body(4, "1Gi")),
        ];
        let vm = vm(
            json!({"instancetype": {"name": "it", "revisionName": "rev-a"}}),
            json!({}),
        );
        assert_eq!(
            tspec(&expand_ok(&vm, &objects, &raw()))["domain"]["cpu"]["sockets"],
            json!(6)
        );
    }

    #[test]
    fn status_controller_revision_ref_is_used_when_its_object_name_label_matches() {
        let objects = [
            revision("rev-b", Some("it"), cluster_it("it", it_body(8, "1Gi"))),
            cluster_it("it", it_body(4, "1Gi")),
        ];
        let mut vm = vm(json!({"instancetype": {"name": "it"}}), json!({}));
        vm["status"] = json!({"instancetypeRef": {"controllerRevisionRef": {"name": "rev-b"}}});
        let recording = RecordingSource::new(source(&objects));
        let expanded = expand(&vm, &recording, &raw()).unwrap();
        assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(8));
        assert_eq!(
            recording.requested(),
            vec![ObjectRef::new(ResourceKind::ControllerRevision, Some(NS), "rev-b")]
        );
        // The status reference is removed by expand (§3.8 step 6).
        assert_eq!(expanded["status"], json!({}));
    }

    #[test]
    fn status_controller_revision_ref_with_another_or_no_label_falls_back_to_the_live_object() {
        for label in [Some("previous-it"), None] {
            let objects = [
                revision("rev-b", label, cluster_it("previous-it", it_body(8, "1Gi"))),
                cluster_it("it", it_body(4, "1Gi")),
            ];
            let mut vm = vm(json!({"instancetype": {"name": "it"}}), json!({}));
            vm["status"] = json!({"instancetypeRef": {"controllerRevisionRef": {"name": "rev-b"}}});
            let recording = RecordingSource::new(source(&objects));
            let expanded = expand(&vm, &recording, &raw()).unwrap();
            assert_eq!(
                tspec(&expanded)["domain"]["cpu"]["sockets"],
                json!(4),
                "label {label:?}"
            );
            assert_eq!(
                recording.requested(),
                vec![
                    ObjectRef::new(ResourceKind::ControllerRevision, Some(NS), "rev-b"),
                    ObjectRef::new(ResourceKind::ClusterInstancetype, None, "it"),
                ],
                "label {label:?}"
            );
        }
    }

    #[test]
    fn status_controller_revision_ref_that_does_not_exist_is_an_error() {
        let mut vm = vm(json!({"instancetype": {"name": "it"}}), json!({}));
        vm["status"] = json!({"instancetypeRef": {"controllerRevisionRef": {"name": "gone"}}});
        assert_eq!(
            expand_err(&vm, &[cluster_it("it", it_body(4, "1Gi"))], &raw()),
            r#"controllerrevisions.apps "gone" not found"#
        );
    }

    #[test]
    fn preference_resolution_follows_the_same_order() {
        let pref_revision = |name: &str, label: &str, topology: &str| {
            revision(
                name,
                Some(label),
                cluster_pref("pref", json!({"cpu": {"preferredCPUTopology": topology}})),
            )
        };
        let objects = [
            cluster_it("it", it_body(2, "1Gi")),
            pref_revision("p-a", "pref", "cores"),
            pref_revision("p-b", "pref", "threads"),
            pref_revision("p-c", "other", "threads"),
            cluster_pref("pref", json!({"cpu": {"preferredCPUTopology": "sockets"}})),
        ];
        let cases = [
            (json!({"name": "pref", "revisionName": "p-a"}), "p-b", (1, 2, 1)),
            (json!({"name": "pref"}), "p-b", (1, 1, 2)),
            (json!({"name": "pref"}), "p-c", (2, 1, 1)),
        ];
        for (matcher, status_ref, expected) in cases {
            let mut vm = vm(
                json!({"instancetype": {"name": "it"}, "preference": matcher}),
                json!({}),
            );
            vm["status"] = json!({"preferenceRef": {"controllerRevisionRef": {"name": status_ref}}});
            assert_eq!(
                cpu_of(&expand_ok(&vm, &objects, &raw())),
                expected,
                "{matcher} / {status_ref}"
            );
        }
    }

    #[test]
    fn revision_holding_the_other_kind_reports_the_go_type() {
        let objects = [
            revision("rev", Some("it"), cluster_pref("it", json!({}))),
            revision("prev", Some("pref"), ns_it("pref", it_body(2, "1Gi"))),
        ];
        let it_vm = vm(
            json!({"instancetype": {"name": "it", "revisionName": "rev"}}),
            json!({}),
        );
        assert_eq!(
            expand_err(&it_vm, &objects, &raw()),
            "unexpected type in ControllerRevision: *v1beta1.VirtualMachineClusterPreference"
        );
        let pref_vm = vm(
            json!({"preference": {"name": "pref", "revisionName": "prev"}}),
            json!({}),
        );
        assert_eq!(
            expand_err(&pref_vm, &objects, &raw()),
            "unexpected type in ControllerRevision: *v1beta1.VirtualMachineInstancetype"
        );
    }

    #[test]
    fn revision_with_undecodable_object_uses_kubevirts_prefix() {
        let objects = [revision("rev", Some("it"), json!({"apiVersion": V1BETA1, "spec": {}}))];
        let vm = vm(
            json!({"instancetype": {"name": "it", "revisionName": "rev"}}),
            json!({}),
        );
        let error = expand_err(&vm, &objects, &raw());
        assert!(
            error.starts_with("failed to decode object in ControllerRevision: "),
            "{error}"
        );
    }

    #[test]
    fn legacy_revision_formats_decode() {
        use base64::Engine as _;
        let wrapped = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&it_body(3, "1Gi")).unwrap());
        let v1alpha2 = object(
            "instancetype.kubevirt.io/v1alpha2",
            "VirtualMachineClusterInstancetype",
            "it",
            None,
            it_body(5, "2Gi"),
        );
        let objects = [
            revision(
                "wrapper",
                Some("it"),
                json!({"apiVersion": "instancetype.kubevirt.io/v1alpha1", "spec": wrapped}),
            ),
            revision("alpha", Some("it"), v1alpha2),
        ];
        for (name, sockets, memory) in [("wrapper", 3, "1Gi"), ("alpha", 5, "2Gi")] {
            let vm = vm(json!({"instancetype": {"name": "it", "revisionName": name}}), json!({}));
            let expanded = expand_ok(&vm, &objects, &raw());
            assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(sockets), "{name}");
            assert_eq!(tspec(&expanded)["domain"]["memory"]["guest"], json!(memory), "{name}");
        }
    }

    #[test]
    fn flavor_era_spec_flavor_is_the_old_name_of_spec_instancetype() {
        let flavor = object(
            "flavor.kubevirt.io/v1alpha1",
            "VirtualMachineFlavor",
            "small",
            Some(NS),
            it_body(2, "128Mi"),
        );
        let cluster_flavor = object(
            "flavor.kubevirt.io/v1alpha1",
            "VirtualMachineClusterFlavor",
            "small",
            None,
            it_body(4, "256Mi"),
        );
        let objects = [flavor, cluster_flavor];
        for (kind, sockets, memory) in [
            (json!("VirtualMachineFlavor"), 2, "128Mi"),
            (json!("virtualmachineflavors"), 2, "128Mi"),
            (json!("VirtualMachineClusterFlavor"), 4, "256Mi"),
            (json!(""), 4, "256Mi"),
        ] {
            let vm = vm(json!({"flavor": {"name": "small", "kind": kind}}), json!({}));
            let expanded = expand_ok(&vm, &objects, &raw());
            assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(sockets), "{kind}");
            assert_eq!(tspec(&expanded)["domain"]["memory"]["guest"], json!(memory), "{kind}");
            assert!(expanded["spec"].get("flavor").is_none(), "spec.flavor is removed");
        }
    }

    #[test]
    fn flavor_era_vm_looks_its_preference_up_in_the_flavor_group() {
        let vm = vm(
            json!({"flavor": {"name": "small"}, "preference": {"name": "p", "kind": "VirtualMachinePreference"}}),
            json!({}),
        );
        let flavor = object(
            "flavor.kubevirt.io/v1alpha1",
            "VirtualMachineClusterFlavor",
            "small",
            None,
            it_body(1, "1Gi"),
        );
        assert_eq!(
            expand_err(&vm, &[flavor], &raw()),
            r#"virtualmachinepreferences.flavor.kubevirt.io "p" not found"#
        );
    }

    #[test]
    fn spec_instancetype_takes_precedence_over_a_leftover_spec_flavor() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}, "flavor": {"name": "small", "kind": "VirtualMachineFlavor"}}),
            json!({}),
        );
        let expanded = expand_ok(&vm, &[cluster_it("it", it_body(3, "1Gi"))], &raw());
        assert_eq!(tspec(&expanded)["domain"]["cpu"]["sockets"], json!(3));
        assert!(expanded["spec"].get("flavor").is_none());
        assert!(expanded["spec"].get("instancetype").is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// §3.2 Instancetype fields
// ---------------------------------------------------------------------------------------------
mod instancetype_3_2 {
    use super::*;

    #[test]
    fn node_selector_is_copied_when_the_vmi_has_none() {
        let spec = apply_it(it_with(json!({"nodeSelector": {"disk": "ssd"}})), json!({}));
        assert_eq!(spec["nodeSelector"], json!({"disk": "ssd"}));
        // An empty selector on the instancetype is copied as an empty map, which Go's `omitempty`
        // leaves out of the expanded VM ...
        let spec = apply_it(it_with(json!({"nodeSelector": {}})), json!({}));
        assert!(spec.get("nodeSelector").is_none(), "{spec:#}");
        // ... but it is still "set": it conflicts with any selector of the VM.
        assert_eq!(
            conflicts(
                it_with(json!({"nodeSelector": {}})),
                json!({"nodeSelector": {"zone": "a"}}),
                json!({})
            ),
            vec![b("nodeSelector")]
        );
    }

    #[test]
    fn empty_annotation_maps_add_no_annotations_key() {
        // Go creates an empty `annotations` map for them, which `omitempty` drops.
        for (instancetype, preference) in [
            (Some(it_with(json!({"annotations": {}}))), None),
            (None, Some(json!({"annotations": {}}))),
            (
                Some(it_with(json!({"annotations": {}}))),
                Some(json!({"annotations": {}})),
            ),
        ] {
            let (_, metadata) = apply_full(instancetype, preference, json!({}), json!({}))
                .unwrap_or_else(|error| panic!("apply failed: {error}"));
            assert!(metadata.get("annotations").is_none(), "{metadata:#}");
        }
        // A non-empty one still lands.
        let (_, metadata) = apply_full(None, Some(json!({"annotations": {"a": "b"}})), json!({}), json!({})).unwrap();
        assert_eq!(metadata["annotations"], json!({"a": "b"}));
    }

    #[test]
    fn node_selector_conflicts_with_any_vmi_selector_even_an_empty_one() {
        for selector in [json!({}), json!({"zone": "a"})] {
            assert_eq!(
                conflicts(
                    it_with(json!({"nodeSelector": {"disk": "ssd"}})),
                    json!({"nodeSelector": selector}),
                    json!({})
                ),
                vec![b("nodeSelector")],
                "{selector}"
            );
        }
    }

    #[test]
    fn vmi_node_selector_is_kept_when_the_instancetype_has_none() {
        let spec = apply_it(it_with(json!({})), json!({"nodeSelector": {"zone": "a"}}));
        assert_eq!(spec["nodeSelector"], json!({"zone": "a"}));
    }

    #[test]
    fn scheduler_name_is_set_or_conflicts() {
        let spec = apply_it(it_with(json!({"schedulerName": "fast"})), json!({}));
        assert_eq!(spec["schedulerName"], json!("fast"));
        assert_eq!(
            conflicts(
                it_with(json!({"schedulerName": "fast"})),
                json!({"schedulerName": "slow"}),
                json!({})
            ),
            vec![b("schedulerName")]
        );
        // An empty instancetype scheduler name does nothing; an empty VMI one does not conflict.
        let spec = apply_it(it_with(json!({"schedulerName": ""})), json!({"schedulerName": "mine"}));
        assert_eq!(spec["schedulerName"], json!("mine"));
        let spec = apply_it(it_with(json!({"schedulerName": "fast"})), json!({"schedulerName": ""}));
        assert_eq!(spec["schedulerName"], json!("fast"));
    }

    #[test]
    fn cpu_and_memory_are_created_and_filled() {
        let spec = apply_it(it_body(1, "512Mi"), json!({}));
        assert_eq!(spec["domain"]["cpu"], json!({"cores": 1, "sockets": 1, "threads": 1}));
        assert_eq!(spec["domain"]["memory"], json!({"guest": "512Mi"}));
    }

    #[test]
    fn memory_guest_is_written_in_canonical_form() {
        for (given, canonical) in [
            ("1.5Gi", "1536Mi"),
            ("1000M", "1G"),
            ("1024Mi", "1Gi"),
            ("2048Ki", "2Mi"),
        ] {
            let spec = apply_it(it_body(1, given), json!({}));
            assert_eq!(spec["domain"]["memory"]["guest"], json!(canonical), "{given}");
        }
    }

    #[test]
    fn cpu_model_is_set_when_the_instancetype_sets_it() {
        let spec = apply_it(it_with(json!({"cpu": {"model": "host-passthrough"}})), json!({}));
        assert_eq!(spec["domain"]["cpu"]["model"], json!("host-passthrough"));
    }

    #[test]
    fn cpu_model_empty_string_counts_as_set() {
        // Set to "" means: nothing to write (Go omits it) ...
        let spec = apply_it(it_with(json!({"cpu": {"model": ""}})), json!({}));
        assert!(spec["domain"]["cpu"].get("model").is_none(), "{spec}");
        // ... but it is set, so a VMI model conflicts with it.
        assert_eq!(
            conflicts(
                it_with(json!({"cpu": {"model": ""}})),
                json!({"domain": {"cpu": {"model": "Haswell"}}}),
                json!({})
            ),
            vec![b("domain.cpu.model")]
        );
        // Without a model on the instancetype the VMI keeps its own.
        let spec = apply_it(it_with(json!({})), json!({"domain": {"cpu": {"model": "Haswell"}}}));
        assert_eq!(spec["domain"]["cpu"]["model"], json!("Haswell"));
    }

    #[test]
    fn dedicated_cpu_placement_uses_the_vmi_key_spelling() {
        let spec = apply_it(it_with(json!({"cpu": {"dedicatedCPUPlacement": true}})), json!({}));
        assert_eq!(spec["domain"]["cpu"]["dedicatedCpuPlacement"], json!(true));
        assert!(spec["domain"]["cpu"].get("dedicatedCPUPlacement").is_none());
    }

    #[test]
    fn isolate_emulator_thread_numa_and_realtime_are_copied() {
        let spec = apply_it(
            it_with(json!({"cpu": {
                "isolateEmulatorThread": true,
                "numa": {"guestMappingPassthrough": {}},
                "realtime": {"mask": "0-3"}
            }})),
            json!({}),
        );
        let cpu = &spec["domain"]["cpu"];
        assert_eq!(cpu["isolateEmulatorThread"], json!(true));
        assert_eq!(cpu["numa"], json!({"guestMappingPassthrough": {}}));
        assert_eq!(cpu["realtime"], json!({"mask": "0-3"}));
    }

    #[test]
    fn max_sockets_overwrites_the_vmi_value_without_conflict() {
        let spec = apply_it(
            it_with(json!({"cpu": {"maxSockets": 4}})),
            json!({"domain": {"cpu": {"maxSockets": 16}}}),
        );
        assert_eq!(spec["domain"]["cpu"]["maxSockets"], json!(4));
        let spec = apply_it(it_with(json!({})), json!({"domain": {"cpu": {"maxSockets": 16}}}));
        assert_eq!(spec["domain"]["cpu"]["maxSockets"], json!(16));
    }

    #[test]
    fn hugepages_and_max_guest_are_copied() {
        let spec = apply_it(
            it_with(json!({"memory": {"hugepages": {"pageSize": "2Mi"}, "maxGuest": "4096Mi"}})),
            json!({}),
        );
        assert_eq!(
            spec["domain"]["memory"],
            json!({"guest": "1Gi", "hugepages": {"pageSize": "2Mi"}, "maxGuest": "4Gi"})
        );
    }

    #[test]
    fn vmi_hugepages_or_max_guest_alone_do_not_conflict() {
        let spec = apply_it(
            it_with(json!({})),
            json!({"domain": {"memory": {"hugepages": {"pageSize": "1Gi"}, "maxGuest": "8Gi"}}}),
        );
        assert_eq!(
            spec["domain"]["memory"],
            json!({"hugepages": {"pageSize": "1Gi"}, "maxGuest": "8Gi", "guest": "1Gi"})
        );
    }

    #[test]
    fn overcommit_percent_writes_the_memory_request() {
        let spec = apply_it(
            it_with(json!({"memory": {"guest": "4Gi", "overcommitPercent": 50}})),
            json!({}),
        );
        assert_eq!(spec["domain"]["resources"], json!({"requests": {"memory": "2Gi"}}));
        let spec = apply_it(it_with(json!({"memory": {"overcommitPercent": 0}})), json!({}));
        assert!(spec["domain"].get("resources").is_none(), "{spec}");
    }

    #[test]
    fn io_threads_supplemental_pool_count_is_set_or_conflicts() {
        let it = it_with(json!({"ioThreads": {"supplementalPoolThreadCount": 4}}));
        let spec = apply_it(it.clone(), json!({"domain": {"ioThreads": {"other": 1}}}));
        assert_eq!(
            spec["domain"]["ioThreads"],
            json!({"other": 1, "supplementalPoolThreadCount": 4})
        );
        assert_eq!(
            conflicts(
                it,
                json!({"domain": {"ioThreads": {"supplementalPoolThreadCount": 2}}}),
                json!({})
            ),
            vec![b("domain.ioThreads.supplementalPoolThreadCount")]
        );
        // `ioThreads` without the count is ignored.
        let spec = apply_it(it_with(json!({"ioThreads": {}})), json!({}));
        assert!(spec["domain"].get("ioThreads").is_none(), "{spec}");
    }

    #[test]
    fn io_threads_policy_is_set_or_conflicts() {
        let it = it_with(json!({"ioThreadsPolicy": "auto"}));
        assert_eq!(
            apply_it(it.clone(), json!({}))["domain"]["ioThreadsPolicy"],
            json!("auto")
        );
        assert_eq!(
            conflicts(it, json!({"domain": {"ioThreadsPolicy": "shared"}}), json!({})),
            vec![b("domain.ioThreadsPolicy")]
        );
    }

    #[test]
    fn launch_security_is_copied_or_conflicts() {
        let it = it_with(json!({"launchSecurity": {"sev": {"policy": {"encryptedState": true}}}}));
        assert_eq!(
            apply_it(it.clone(), json!({}))["domain"]["launchSecurity"],
            json!({"sev": {"policy": {"encryptedState": true}}})
        );
        assert_eq!(
            conflicts(it, json!({"domain": {"launchSecurity": {"tdx": {}}}}), json!({})),
            vec![b("domain.launchSecurity")]
        );
    }

    #[test]
    fn gpus_and_host_devices_are_atomic_lists() {
        let cases = [
            ("gpus", json!({"name": "gpu1", "deviceName": "nvidia.com/A100"})),
            ("hostDevices", json!({"name": "hd1", "deviceName": "intel.com/qat"})),
        ];
        for (key, item) in cases {
            let it = it_with(json!({ key: [item.clone()] }));
            // Absent or empty on the VMI: copied whole.
            for devices in [json!({}), json!({ key: [] })] {
                let spec = apply_it(it.clone(), json!({"domain": {"devices": devices}}));
                assert_eq!(spec["domain"]["devices"][key], json!([item.clone()]), "{key}");
            }
            // Any VMI item: a conflict, nothing merged.
            assert_eq!(
                conflicts(
                    it,
                    json!({"domain": {"devices": { key: [{"name": "mine", "deviceName": "x"}] }}}),
                    json!({})
                ),
                vec![b(&format!("domain.devices.{key}"))],
                "{key}"
            );
            // An empty list on the instancetype does nothing.
            let spec = apply_it(
                it_with(json!({ key: [] })),
                json!({"domain": {"devices": { key: [{"name": "mine"}] }}}),
            );
            assert_eq!(spec["domain"]["devices"][key], json!([{"name": "mine"}]), "{key}");
        }
    }

    #[test]
    fn annotations_are_added_when_absent_accepted_when_equal_and_conflict_when_different() {
        let it = it_with(json!({"annotations": {"a": "1", "b": "2", "c": "3"}}));
        let (_, metadata) = apply_full(
            Some(it.clone()),
            None,
            json!({}),
            json!({"annotations": {"b": "2", "keep": "x"}}),
        )
        .unwrap();
        assert_eq!(
            metadata["annotations"],
            json!({"b": "2", "keep": "x", "a": "1", "c": "3"})
        );
        assert_eq!(
            conflicts(it, json!({}), json!({"annotations": {"c": "other"}})),
            vec!["annotations.c".to_owned()]
        );
        // A key that names nothing is written as Go's `field.Path` writes an empty step; keys with
        // dots and slashes are plain steps.
        let odd_keys = it_with(json!({"annotations": {"": "x", "a.b/c": "y"}}));
        assert_eq!(
            conflicts(
                odd_keys,
                json!({}),
                json!({"annotations": {"": "other", "a.b/c": "other"}})
            ),
            vec!["annotations[]".to_owned(), "annotations.a.b/c".to_owned()]
        );
    }

    #[test]
    fn template_metadata_other_than_annotations_is_untouched() {
        let (_, metadata) = apply_full(
            Some(it_with(json!({"annotations": {"a": "1"}}))),
            None,
            json!({}),
            json!({"labels": {"app": "x"}}),
        )
        .unwrap();
        assert_eq!(metadata, json!({"labels": {"app": "x"}, "annotations": {"a": "1"}}));
    }

    #[test]
    fn every_field_at_once_through_expand() {
        let it = it_with(json!({
            "nodeSelector": {"n": "1"},
            "schedulerName": "s",
            "cpu": {"guest": 4, "model": "m", "dedicatedCPUPlacement": true, "isolateEmulatorThread": true,
                    "numa": {"guestMappingPassthrough": {}}, "realtime": {}, "maxSockets": 8},
            "memory": {"guest": "2Gi", "hugepages": {"pageSize": "1Gi"}, "maxGuest": "8Gi"},
            "gpus": [{"name": "g", "deviceName": "d"}],
            "hostDevices": [{"name": "h", "deviceName": "d"}],
            "ioThreadsPolicy": "supplementalPool",
            "ioThreads": {"supplementalPoolThreadCount": 2},
            "launchSecurity": {"sev": {}},
            "annotations": {"x": "y"}
        }));
        let vm = vm(json!({"instancetype": {"name": "it"}}), json!({}));
        let expanded = expand_ok(&vm, &[cluster_it("it", it)], &raw());
        assert_eq!(
            expanded["spec"]["template"],
            json!({
                "spec": {
                    "nodeSelector": {"n": "1"},
                    "schedulerName": "s",
                    "domain": {
                        "cpu": {"model": "m", "dedicatedCpuPlacement": true, "isolateEmulatorThread": true,
                                "numa": {"guestMappingPassthrough": {}}, "realtime": {}, "maxSockets": 8,
                                "cores": 1, "sockets": 4, "threads": 1},
                        "memory": {"guest": "2Gi", "hugepages": {"pageSize": "1Gi"}, "maxGuest": "8Gi"},
                        "ioThreads": {"supplementalPoolThreadCount": 2},
                        "ioThreadsPolicy": "supplementalPool",
                        "launchSecurity": {"sev": {}},
                        "devices": {"interfaces": [{"name": "default", "bridge": {}}],
                                    "gpus": [{"name": "g", "deviceName": "d"}],
                                    "hostDevices": [{"name": "h", "deviceName": "d"}]}
                    },
                    "networks": [{"name": "default", "pod": {}}]
                },
                "metadata": {"annotations": {"x": "y"}}
            })
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §3.3 CPU topology
// ---------------------------------------------------------------------------------------------
mod topology_3_3 {
    use super::*;

    fn preference(
        topology: Option<&str>,
        across: Option<&str>,
        ratio: Option<u32>,
        legacy_ratio: u32,
    ) -> PreferenceSpec {
        let mut cpu = json!({});
        if let Some(topology) = topology {
            cpu["preferredCPUTopology"] = json!(topology);
        }
        let mut options = json!({});
        if let Some(across) = across {
            options["across"] = json!(across);
        }
        if let Some(ratio) = ratio {
            options["ratio"] = json!(ratio);
        }
        cpu["spreadOptions"] = options;
        pref_spec(json!({"cpu": cpu, "preferSpreadSocketToCoreRatio": legacy_ratio}))
    }

    /// name, vCPUs, preferredCPUTopology, spreadOptions.across, spreadOptions.ratio,
    /// preferSpreadSocketToCoreRatio, expected (sockets, cores, threads).
    type TopologyCase = (
        &'static str,
        u32,
        Option<&'static str>,
        Option<&'static str>,
        Option<u32>,
        u32,
        (u32, u32, u32),
    );

    #[test]
    fn topology_table() {
        #[rustfmt::skip]
        let cases: &[TopologyCase] = &[
            ("default is sockets",              4, None,                  None, None, 0, (4, 1, 1)),
            ("one vCPU stops at 1/1/1",         1, Some("cores"),         None, None, 0, (1, 1, 1)),
            ("sockets",                         4, Some("sockets"),       None, None, 0, (4, 1, 1)),
            ("preferSockets",                   4, Some("preferSockets"), None, None, 0, (4, 1, 1)),
            ("cores",                           4, Some("cores"),         None, None, 0, (1, 4, 1)),
            ("preferCores",                     4, Some("preferCores"),   None, None, 0, (1, 4, 1)),
            ("threads",                         4, Some("threads"),       None, None, 0, (1, 1, 4)),
            ("preferThreads",                   4, Some("preferThreads"), None, None, 0, (1, 1, 4)),
            ("any is sockets",                  4, Some("any"),           None, None, 0, (4, 1, 1)),
            ("preferAny is sockets",            4, Some("preferAny"),     None, None, 0, (4, 1, 1)),
            ("spread 2 default",                2, Some("spread"),        None, None, 0, (1, 2, 1)),
            ("spread 6 default",                6, Some("spread"),        None, None, 0, (3, 2, 1)),
            ("preferSpread 6",                  6, Some("preferSpread"),  None, None, 0, (3, 2, 1)),
            ("spread 12 ratio 4",              12, Some("spread"),        None, Some(4), 0, (3, 4, 1)),
            ("spread legacy ratio 3",          12, Some("spread"),        None, None, 3, (4, 3, 1)),
            ("spreadOptions ratio beats legacy",12, Some("spread"),       None, Some(4), 3, (3, 4, 1)),
            ("SocketsCores explicit",           8, Some("spread"),        Some("SocketsCores"), None, 0, (4, 2, 1)),
            ("CoresThreads",                    8, Some("spread"),        Some("CoresThreads"), None, 0, (1, 4, 2)),
            ("SocketsCoresThreads 4",           4, Some("spread"),        Some("SocketsCoresThreads"), None, 0, (1, 2, 2)),
            ("SocketsCoresThreads 6 ratio 3",   6, Some("spread"),        Some("SocketsCoresThreads"), Some(3), 0, (1, 3, 2)),
            ("SocketsCoresThreads 16",         16, Some("spread"),        Some("SocketsCoresThreads"), None, 0, (4, 2, 2)),
            ("unknown across is 1/1/1",         8, Some("spread"),        Some("Diagonal"), None, 0, (1, 1, 1)),
            ("unknown topology is 1/1/1",       8, Some("zigzag"),        None, None, 0, (1, 1, 1)),
            ("empty topology is unknown",        8, Some(""),              None, None, 0, (1, 1, 1)),
            ("division truncates",              3, Some("spread"),        None, None, 0, (1, 2, 1)),
            ("division truncates to 0",         2, Some("spread"),        None, Some(4), 0, (0, 4, 1)),
            ("SCT truncates",                   6, Some("spread"),        Some("SocketsCoresThreads"), None, 0, (1, 2, 2)),
        ];
        for (name, vcpus, topology, across, ratio, legacy, expected) in cases {
            let preference = preference(*topology, *across, *ratio, *legacy);
            let found = topology::guest_topology(*vcpus, Some(&preference)).unwrap();
            assert_eq!((found.sockets, found.cores, found.threads), *expected, "{name}");
        }
    }

    #[test]
    fn without_a_preference_all_vcpus_are_sockets() {
        let found = topology::guest_topology(6, None).unwrap();
        assert_eq!((found.sockets, found.cores, found.threads), (6, 1, 1));
    }

    #[test]
    fn topology_is_written_to_the_vmi_and_zero_counts_are_omitted() {
        let (spec, _) = apply_full(
            Some(it_body(2, "1Gi")),
            Some(json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"ratio": 4}}})),
            json!({}),
            json!({}),
        )
        .unwrap();
        // sockets = 2 / 4 = 0: Go omits a zero count.
        assert_eq!(spec["domain"]["cpu"], json!({"cores": 4, "threads": 1}));
        let (spec, _) = apply_full(
            Some(it_body(8, "1Gi")),
            Some(
                json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "SocketsCoresThreads"}}}),
            ),
            json!({}),
            json!({}),
        )
        .unwrap();
        assert_eq!(spec["domain"]["cpu"], json!({"cores": 2, "sockets": 2, "threads": 2}));
    }
}

// ---------------------------------------------------------------------------------------------
// §3.4 Memory overcommit
// ---------------------------------------------------------------------------------------------
mod overcommit_3_4 {
    use super::*;

    fn request(guest: &str, percent: i64) -> Value {
        let spec = apply_it(
            json!({"cpu": {"guest": 1}, "memory": {"guest": guest, "overcommitPercent": percent}}),
            json!({}),
        );
        spec["domain"]["resources"]["requests"]["memory"].clone()
    }

    #[test]
    fn request_is_computed_in_binary32_and_written_canonically() {
        // Expected values are trunc(f32(guest) * (1 - f32(pct)/100)) in IEEE binary32; the f64
        // results differ for the starred rows (e.g. 1Gi at 33% would be 719407022 in f64).
        #[rustfmt::skip]
        let cases = [
            ("3Gi",   25,  "2304Mi"),
            ("16Gi",  50,  "8Gi"),
            ("2G",    10,  "1800M"),
            ("1Gi",   100, "0"),
            ("1Gi",   33,  "719406976"),   // *
            ("1Gi",   10,  "966367616"),   // *
            ("1G",    33,  "669999936"),   // *
            ("128Mi", 1,   "132875552"),   // *
            ("7",     50,  "3"),
        ];
        for (guest, percent, expected) in cases {
            assert_eq!(request(guest, percent), json!(expected), "{guest} at {percent}%");
        }
    }

    #[test]
    fn the_request_keeps_the_guest_format() {
        // BinarySI guest → BinarySI request (Mi), DecimalSI guest → DecimalSI request (M).
        assert_eq!(request("2Gi", 50), json!("1Gi"));
        assert_eq!(request("2G", 50), json!("1G"));
    }

    #[test]
    fn an_existing_cpu_request_is_a_conflict_not_a_neighbour() {
        // The memory request lands next to nothing else: a VMI cpu request is a CPU conflict.
        assert_eq!(
            conflicts(
                json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": 10}}),
                json!({"domain": {"resources": {"requests": {"cpu": "1"}}}}),
                json!({})
            ),
            vec![b("domain.resources.requests.cpu")]
        );
    }

    #[test]
    fn other_resources_are_kept_next_to_the_request() {
        let spec = apply_it(
            json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": 50}}),
            json!({"domain": {"resources": {"requests": {"example.com/dev": "1"}, "overcommitGuestOverhead": true}}}),
        );
        assert_eq!(
            spec["domain"]["resources"],
            json!({"requests": {"example.com/dev": "1", "memory": "512Mi"}, "overcommitGuestOverhead": true})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §3.5 Preference fields
// ---------------------------------------------------------------------------------------------
mod preference_3_5 {
    use super::*;

    fn devices(preferences: Value, vmi_devices: Value) -> Value {
        apply_pref(
            json!({"devices": preferences}),
            json!({"domain": {"devices": vmi_devices}}),
        )["domain"]["devices"]
            .clone()
    }

    #[test]
    fn cpu_features_are_appended_when_not_named_by_the_vmi() {
        let spec = apply_pref(
            json!({"cpu": {"preferredCPUFeatures": [{"name": "vmx", "policy": "require"}, {"name": "pcid"}]}}),
            json!({"domain": {"cpu": {"features": [{"name": "vmx", "policy": "disable"}]}}}),
        );
        assert_eq!(
            spec["domain"]["cpu"]["features"],
            json!([{"name": "vmx", "policy": "disable"}, {"name": "pcid"}])
        );
    }

    #[test]
    fn device_booleans_fill_only_unset_values() {
        let preferences = json!({
            "preferredUseVirtioTransitional": true,
            "preferredBlockMultiQueue": true,
            "preferredNetworkInterfaceMultiQueue": true,
        });
        let filled = devices(preferences.clone(), json!({}));
        assert_eq!(
            filled,
            json!({"useVirtioTransitional": true, "blockMultiQueue": true, "networkInterfaceMultiqueue": true})
        );
        let kept = devices(
            preferences,
            json!({"useVirtioTransitional": false, "blockMultiQueue": false, "networkInterfaceMultiqueue": false}),
        );
        assert_eq!(
            kept,
            json!({"useVirtioTransitional": false, "blockMultiQueue": false, "networkInterfaceMultiqueue": false})
        );
    }

    #[test]
    fn disable_hotplug_overrides_the_vmi() {
        assert_eq!(
            devices(
                json!({"preferredDisableHotplug": true}),
                json!({"disableHotplug": false})
            )["disableHotplug"],
            json!(true)
        );
        assert_eq!(
            devices(
                json!({"preferredDisableHotplug": false}),
                json!({"disableHotplug": true})
            )["disableHotplug"],
            json!(false)
        );
    }

    #[test]
    fn sound_model_only_fills_an_existing_sound_device() {
        let pref = json!({"preferredSoundModel": "ac97"});
        assert!(devices(pref.clone(), json!({})).get("sound").is_none());
        assert_eq!(
            devices(pref.clone(), json!({"sound": {"name": "s"}}))["sound"],
            json!({"name": "s", "model": "ac97"})
        );
        assert_eq!(
            devices(pref, json!({"sound": {"name": "s", "model": "ich9"}}))["sound"],
            json!({"name": "s", "model": "ich9"})
        );
    }

    #[test]
    fn rng_and_tpm_fill_when_unset_and_an_explicit_disabled_tpm_counts_as_set() {
        let pref = json!({"preferredRng": {}, "preferredTPM": {"persistent": true}});
        assert_eq!(
            devices(pref.clone(), json!({})),
            json!({"rng": {}, "tpm": {"persistent": true}})
        );
        assert_eq!(
            devices(pref, json!({"tpm": {"enabled": false}})),
            json!({"tpm": {"enabled": false}, "rng": {}})
        );
    }

    #[test]
    fn video_type_creates_video_and_fills_an_empty_type() {
        let pref = json!({"preferredVideoType": "virtio"});
        assert_eq!(devices(pref.clone(), json!({}))["video"], json!({"type": "virtio"}));
        assert_eq!(
            devices(pref, json!({"video": {"type": "vga"}}))["video"],
            json!({"type": "vga"})
        );
    }

    #[test]
    fn the_five_autoattach_preferences_fill_only_unset_values() {
        let keys = [
            ("preferredAutoattachGraphicsDevice", "autoattachGraphicsDevice"),
            ("preferredAutoattachMemBalloon", "autoattachMemBalloon"),
            ("preferredAutoattachPodInterface", "autoattachPodInterface"),
            ("preferredAutoattachSerialConsole", "autoattachSerialConsole"),
            ("preferredAutoattachInputDevice", "autoattachInputDevice"),
        ];
        for (preferred, target) in keys {
            assert_eq!(
                devices(json!({ preferred: false }), json!({}))[target],
                json!(false),
                "{target}"
            );
            assert_eq!(
                devices(json!({ preferred: false }), json!({ target: true }))[target],
                json!(true),
                "{target}"
            );
        }
    }

    #[test]
    fn panic_device_model_appends_a_device_or_fills_missing_models() {
        let pref = json!({"preferredPanicDeviceModel": "hyperv"});
        assert_eq!(
            devices(pref.clone(), json!({}))["panicDevices"],
            json!([{"model": "hyperv"}])
        );
        assert_eq!(
            devices(pref, json!({"panicDevices": [{"model": "isa"}, {}]}))["panicDevices"],
            json!([{"model": "isa"}, {"model": "hyperv"}])
        );
    }

    #[test]
    fn nothing_of_devices_is_touched_without_a_devices_preference() {
        let spec = apply_pref(
            json!({"preferredSubdomain": "x"}),
            json!({"domain": {"devices": {"disks": [{"name": "d"}]}}}),
        );
        assert_eq!(spec["domain"]["devices"], json!({"disks": [{"name": "d"}]}));
    }

    #[test]
    fn disks_get_a_disk_target_and_the_disk_preferences() {
        let pref = json!({
            "preferredDiskBus": "virtio",
            "preferredDiskBlockSize": {"custom": {"logical": 512, "physical": 4096}},
            "preferredDiskCache": "none",
            "preferredDiskIO": "native",
            "preferredDiskDedicatedIoThread": true,
            "preferredCdromBus": "sata",
            "preferredLunBus": "scsi"
        });
        let found = devices(
            pref,
            json!({"disks": [
                {"name": "plain"},
                {"name": "sata", "disk": {"bus": "sata"}, "cache": "writeback"},
                {"name": "cd", "cdrom": {}},
                {"name": "lun", "lun": {}},
                {"name": "cd-set", "cdrom": {"bus": "scsi"}},
                {"name": "own-thread", "disk": {}, "dedicatedIOThread": false}
            ]}),
        );
        assert_eq!(
            found["disks"],
            json!([
                {"name": "plain", "disk": {"bus": "virtio"}, "blockSize": {"custom": {"logical": 512, "physical": 4096}},
                 "cache": "none", "io": "native", "dedicatedIOThread": true},
                {"name": "sata", "disk": {"bus": "sata"}, "cache": "writeback",
                 "blockSize": {"custom": {"logical": 512, "physical": 4096}}, "io": "native"},
                {"name": "cd", "cdrom": {"bus": "sata"}},
                {"name": "lun", "lun": {"bus": "scsi"}},
                {"name": "cd-set", "cdrom": {"bus": "scsi"}},
                {"name": "own-thread", "disk": {"bus": "virtio"}, "dedicatedIOThread": false,
                 "blockSize": {"custom": {"logical": 512, "physical": 4096}}, "cache": "none", "io": "native"}
            ])
        );
    }

    #[test]
    fn dedicated_io_thread_needs_virtio_after_the_bus_step() {
        #[rustfmt::skip]
        let cases = [
            ("no bus anywhere",
             json!({}), json!({"name": "d"}), json!({"name": "d", "disk": {}})),
            ("virtio bus on the VMI",
             json!({}), json!({"name": "d", "disk": {"bus": "virtio"}}),
             json!({"name": "d", "disk": {"bus": "virtio"}, "dedicatedIOThread": true})),
            ("virtio bus preferred",
             json!({"preferredDiskBus": "virtio"}), json!({"name": "d"}),
             json!({"name": "d", "disk": {"bus": "virtio"}, "dedicatedIOThread": true})),
            ("scsi bus preferred",
             json!({"preferredDiskBus": "scsi"}), json!({"name": "d"}),
             json!({"name": "d", "disk": {"bus": "scsi"}})),
            ("sata bus on the VMI beats virtio preferred",
             json!({"preferredDiskBus": "virtio"}), json!({"name": "d", "disk": {"bus": "sata"}}),
             json!({"name": "d", "disk": {"bus": "sata"}})),
            ("cdrom never gets it",
             json!({"preferredDiskBus": "virtio"}), json!({"name": "d", "cdrom": {"bus": "virtio"}}),
             json!({"name": "d", "cdrom": {"bus": "virtio"}})),
        ];
        for (name, extra, vmi_disk, expected) in cases {
            let pref = merge(json!({"preferredDiskDedicatedIoThread": true}), extra);
            assert_eq!(
                devices(pref, json!({ "disks": [vmi_disk] }))["disks"],
                json!([expected]),
                "{name}"
            );
        }
    }

    #[test]
    fn interface_model_fills_empty_models() {
        let found = devices(
            json!({"preferredInterfaceModel": "virtio"}),
            json!({"interfaces": [{"name": "a", "bridge": {}}, {"name": "b", "masquerade": {}, "model": "e1000"}]}),
        );
        assert_eq!(
            found["interfaces"],
            json!([{"name": "a", "bridge": {}, "model": "virtio"}, {"name": "b", "masquerade": {}, "model": "e1000"}])
        );
    }

    #[test]
    fn masquerade_only_on_pod_networks_without_a_binding() {
        let binding_cases = [
            ("bridge", json!({})),
            ("slirp", json!({})),
            ("masquerade", json!({})),
            ("sriov", json!({})),
            ("macvtap", json!({})),
            ("passt", json!({})),
            ("passtBinding", json!({})),
            ("binding", json!({"name": "plugin"})),
        ];
        let pref = json!({"devices": {"preferredInterfaceMasquerade": {}}});
        for (binding, value) in binding_cases {
            let spec = apply_pref(
                pref.clone(),
                json!({"domain": {"devices": {"interfaces": [{"name": "default", binding: value.clone()}]}},
                       "networks": [{"name": "default", "pod": {}}]}),
            );
            assert_eq!(
                spec["domain"]["devices"]["interfaces"],
                json!([{"name": "default", binding: value}]),
                "binding {binding}"
            );
        }
        let spec = apply_pref(
            pref,
            json!({"domain": {"devices": {"interfaces": [{"name": "pod"}, {"name": "multus"}, {"name": "nonet"}]}},
                   "networks": [{"name": "pod", "pod": {}}, {"name": "multus", "multus": {"networkName": "n"}}]}),
        );
        assert_eq!(
            spec["domain"]["devices"]["interfaces"],
            json!([{"name": "pod", "masquerade": {}}, {"name": "multus"}, {"name": "nonet"}])
        );
    }

    #[test]
    fn inputs_get_bus_and_type_when_empty() {
        let found = devices(
            json!({"preferredInputBus": "virtio", "preferredInputType": "tablet"}),
            json!({"inputs": [{"name": "a"}, {"name": "b", "bus": "usb", "type": "keyboard"}]}),
        );
        assert_eq!(
            found["inputs"],
            json!([{"name": "a", "bus": "virtio", "type": "tablet"}, {"name": "b", "bus": "usb", "type": "keyboard"}])
        );
    }

    #[test]
    fn features_acpi_overrides_and_the_others_fill() {
        let pref = json!({"features": {
            "preferredAcpi": {"enabled": true},
            "preferredApic": {"enabled": true},
            "preferredKvm": {"hidden": true},
            "preferredPvspinlock": {"enabled": true},
            "preferredSmm": {"enabled": true}
        }});
        assert_eq!(
            apply_pref(pref.clone(), json!({}))["domain"]["features"],
            json!({"acpi": {"enabled": true}, "apic": {"enabled": true}, "kvm": {"hidden": true},
                   "pvspinlock": {"enabled": true}, "smm": {"enabled": true}})
        );
        let vmi_features = json!({"acpi": {"enabled": false}, "apic": {"enabled": false}, "kvm": {"hidden": false},
                                   "pvspinlock": {"enabled": false}, "smm": {"enabled": false}});
        assert_eq!(
            apply_pref(pref, json!({"domain": {"features": vmi_features}}))["domain"]["features"],
            json!({"acpi": {"enabled": true}, "apic": {"enabled": false}, "kvm": {"hidden": false},
                   "pvspinlock": {"enabled": false}, "smm": {"enabled": false}})
        );
    }

    #[test]
    fn features_object_is_created_even_for_an_empty_preference() {
        assert_eq!(
            apply_pref(json!({"features": {}}), json!({}))["domain"]["features"],
            json!({})
        );
    }

    #[test]
    fn hyperv_sub_fields_fill_one_by_one() {
        let all = [
            "evmcs",
            "frequencies",
            "ipi",
            "reenlightenment",
            "relaxed",
            "reset",
            "runtime",
            "spinlocks",
            "synic",
            "synictimer",
            "tlbflush",
            "vapic",
            "vpindex",
            "vendorid",
        ];
        let mut preferred = Map::new();
        for key in all {
            preferred.insert(key.to_owned(), json!({"enabled": true}));
        }
        let spec = apply_pref(
            json!({"features": {"preferredHyperv": preferred}}),
            json!({"domain": {"features": {"hyperv": {"relaxed": {"enabled": false}, "spinlocks": {"spinlocks": 8191}}}}}),
        );
        let hyperv = spec["domain"]["features"]["hyperv"].as_object().unwrap();
        assert_eq!(hyperv.len(), all.len());
        assert_eq!(hyperv["relaxed"], json!({"enabled": false}));
        assert_eq!(hyperv["spinlocks"], json!({"spinlocks": 8191}));
        for key in all.iter().filter(|k| !["relaxed", "spinlocks"].contains(k)) {
            assert_eq!(hyperv[*key], json!({"enabled": true}), "{key}");
        }
        // An empty preferredHyperv still creates hyperv.
        let spec = apply_pref(json!({"features": {"preferredHyperv": {}}}), json!({}));
        assert_eq!(spec["domain"]["features"], json!({"hyperv": {}}));
    }

    #[test]
    fn firmware_five_steps() {
        #[rustfmt::skip]
        let cases = [
            ("1: bios when nothing chosen",
             json!({"preferredUseBios": true}), json!(null), json!({"bios": {}})),
            ("1: useBios false does nothing",
             json!({"preferredUseBios": false}), json!(null), json!({})),
            ("1: bios not added next to efi",
             json!({"preferredUseBios": true}), json!({"efi": {}}), json!({"efi": {}})),
            ("2: bios serial on the new bios",
             json!({"preferredUseBios": true, "preferredUseBiosSerial": true}), json!(null),
             json!({"bios": {"useSerial": true}})),
            ("2: bios serial kept when set",
             json!({"preferredUseBiosSerial": true}), json!({"bios": {"useSerial": false}}),
             json!({"bios": {"useSerial": false}})),
            ("2: bios serial needs bios",
             json!({"preferredUseBiosSerial": true}), json!(null), json!({})),
            ("3: preferredEfi copied and stops",
             json!({"preferredEfi": {"secureBoot": false, "persistent": true}, "preferredUseSecureBoot": true,
                    "preferredUseEfi": true}), json!(null),
             json!({"efi": {"secureBoot": false, "persistent": true}})),
            ("3: preferredEfi not over bios",
             json!({"preferredEfi": {"persistent": true}}), json!({"bios": {}}), json!({"bios": {}})),
            ("3: preferredEfi not over efi, then secure boot fills",
             json!({"preferredEfi": {"persistent": true}, "preferredUseSecureBoot": true}), json!({"efi": {}}),
             json!({"efi": {"secureBoot": true}})),
            ("4: useEfi",
             json!({"preferredUseEfi": true}), json!(null), json!({"efi": {}})),
            ("4: useEfi not over bios",
             json!({"preferredUseEfi": true}), json!({"bios": {}}), json!({"bios": {}})),
            ("5: secure boot on the new efi",
             json!({"preferredUseEfi": true, "preferredUseSecureBoot": false}), json!(null),
             json!({"efi": {"secureBoot": false}})),
            ("5: secure boot kept when set",
             json!({"preferredUseSecureBoot": true}), json!({"efi": {"secureBoot": false}}),
             json!({"efi": {"secureBoot": false}})),
            ("bios wins over useEfi when both preferred",
             json!({"preferredUseBios": true, "preferredUseEfi": true}), json!(null), json!({"bios": {}})),
        ];
        for (name, preference, bootloader, expected) in cases {
            let vmi = if bootloader.is_null() {
                json!({})
            } else {
                json!({"domain": {"firmware": {"bootloader": bootloader}}})
            };
            let spec = apply_pref(json!({ "firmware": preference }), vmi);
            assert_eq!(spec["domain"]["firmware"], json!({ "bootloader": expected }), "{name}");
        }
    }

    #[test]
    fn firmware_other_keys_are_kept() {
        let spec = apply_pref(
            json!({"firmware": {"preferredUseEfi": true}}),
            json!({"domain": {"firmware": {"serial": "abc", "uuid": "u"}}}),
        );
        assert_eq!(
            spec["domain"]["firmware"],
            json!({"serial": "abc", "uuid": "u", "bootloader": {"efi": {}}})
        );
    }

    #[test]
    fn machine_type_fills_an_empty_type() {
        let pref = json!({"machine": {"preferredMachineType": "pc-q35-rhel9"}});
        assert_eq!(
            apply_pref(pref.clone(), json!({}))["domain"]["machine"],
            json!({"type": "pc-q35-rhel9"})
        );
        assert_eq!(
            apply_pref(pref, json!({"domain": {"machine": {"type": "q35"}}}))["domain"]["machine"],
            json!({"type": "q35"})
        );
        // An empty preferred machine type creates nothing.
        assert!(
            apply_pref(json!({"machine": {}}), json!({}))["domain"]
                .get("machine")
                .is_none()
        );
    }

    #[test]
    fn clock_offset_replaces_only_when_utc_and_timezone_are_unset() {
        let pref = json!({"clock": {"preferredClockOffset": {"utc": {"offsetSeconds": 30}},
                                    "preferredTimer": {"hpet": {"present": false}}}});
        assert_eq!(
            apply_pref(pref.clone(), json!({}))["domain"]["clock"],
            json!({"utc": {"offsetSeconds": 30}, "timer": {"hpet": {"present": false}}})
        );
        assert_eq!(
            apply_pref(pref.clone(), json!({"domain": {"clock": {"timezone": "Europe/Paris"}}}))["domain"]["clock"],
            json!({"timezone": "Europe/Paris", "timer": {"hpet": {"present": false}}})
        );
        assert_eq!(
            apply_pref(pref, json!({"domain": {"clock": {"utc": {}, "timer": {"rtc": {}}}}}))["domain"]["clock"],
            json!({"utc": {}, "timer": {"rtc": {}}})
        );
        // An empty clock preference still creates `clock`.
        assert_eq!(
            apply_pref(json!({"clock": {}}), json!({}))["domain"]["clock"],
            json!({})
        );
    }

    #[test]
    fn subdomain_termination_grace_period_and_architecture_fill_when_unset() {
        let pref = json!({
            "preferredSubdomain": "sub",
            "preferredTerminationGracePeriodSeconds": 60,
            "preferredArchitecture": "arm64"
        });
        let spec = apply_pref(pref.clone(), json!({}));
        assert_eq!(spec["subdomain"], json!("sub"));
        assert_eq!(spec["terminationGracePeriodSeconds"], json!(60));
        assert_eq!(spec["architecture"], json!("arm64"));
        let spec = apply_pref(
            pref,
            json!({"subdomain": "mine", "terminationGracePeriodSeconds": 0, "architecture": "s390x"}),
        );
        assert_eq!(spec["subdomain"], json!("mine"));
        assert_eq!(spec["terminationGracePeriodSeconds"], json!(0), "an explicit 0 is set");
        assert_eq!(spec["architecture"], json!("s390x"));
        // Empty strings are unset for the string fields.
        let spec = apply_pref(
            json!({"preferredSubdomain": "sub", "preferredArchitecture": "arm64"}),
            json!({"subdomain": "", "architecture": ""}),
        );
        assert_eq!(
            (&spec["subdomain"], &spec["architecture"]),
            (&json!("sub"), &json!("arm64"))
        );
    }

    #[test]
    fn annotations_fill_absent_keys_and_the_instancetype_wins() {
        let (_, metadata) = apply_full(
            Some(it_with(json!({"annotations": {"shared": "it"}}))),
            Some(json!({"annotations": {"shared": "pref", "own": "pref", "vm": "pref"}})),
            json!({}),
            json!({"annotations": {"vm": "vm"}}),
        )
        .unwrap();
        assert_eq!(
            metadata["annotations"],
            json!({"vm": "vm", "shared": "it", "own": "pref"})
        );
    }

    #[test]
    fn preferred_launch_security_fills_and_the_instancetype_wins() {
        let pref = json!({"preferredLaunchSecurity": {"sev": {}}});
        assert_eq!(
            apply_pref(pref.clone(), json!({}))["domain"]["launchSecurity"],
            json!({"sev": {}})
        );
        assert_eq!(
            apply_pref(pref.clone(), json!({"domain": {"launchSecurity": {"tdx": {}}}}))["domain"]["launchSecurity"],
            json!({"tdx": {}})
        );
        let (spec, _) = apply_full(
            Some(it_with(json!({"launchSecurity": {"snp": {}}}))),
            Some(pref),
            json!({}),
            json!({}),
        )
        .unwrap();
        assert_eq!(spec["domain"]["launchSecurity"], json!({"snp": {}}));
    }

    #[test]
    fn storage_class_vgpu_options_requirements_and_spread_fields_are_not_applied() {
        let pref = json!({
            "volumes": {"preferredStorageClassName": "fast"},
            "devices": {"preferredVirtualGPUOptions": {"display": {"enabled": true}}},
            "requirements": {"cpu": {"guest": 64}, "memory": {"guest": "1Ti"}, "architecture": "s390x"},
            "preferSpreadSocketToCoreRatio": 4,
            "cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "CoresThreads"}}
        });
        let vmi = json!({"domain": {"devices": {}}, "volumes": []});
        assert_eq!(apply_pref(pref.clone(), vmi.clone()), vmi);
        // Through expand: data volume templates keep no storage class (that is the mutating webhook's job).
        let mut vm = vm(json!({"preference": {"name": "p"}}), json!({}));
        vm["spec"]["dataVolumeTemplates"] = json!([{"metadata": {"name": "dv"}, "spec": {"storage": {}}}]);
        let expanded = expand_ok(&vm, &[cluster_pref("p", pref)], &raw());
        assert_eq!(
            expanded["spec"]["dataVolumeTemplates"],
            vm["spec"]["dataVolumeTemplates"]
        );
    }

    #[test]
    fn mutating_webhook_persists_architecture_machine_type_and_storage_class() {
        let preference = pref_spec(json!({
            "preferredArchitecture": "arm64",
            "machine": {"preferredMachineType": "virt"},
            "volumes": {"preferredStorageClassName": "fast"}
        }));
        let mut vm = vm(json!({"preference": {"name": "p"}}), json!({"domain": {}}));
        vm["spec"]["dataVolumeTemplates"] = json!([
            {"metadata": {"name": "a"}, "spec": {"pvc": {}, "storage": {"storageClassName": "mine"}}},
            {"metadata": {"name": "b"}, "spec": {"source": {"blank": {}}}}
        ]);
        assert!(persist_preference_values(&mut vm, Some(&preference)).unwrap());
        assert_eq!(tspec(&vm)["architecture"], json!("arm64"));
        assert_eq!(tspec(&vm)["domain"]["machine"], json!({"type": "virt"}));
        assert_eq!(
            vm["spec"]["dataVolumeTemplates"],
            json!([
                {"metadata": {"name": "a"}, "spec": {"pvc": {"storageClassName": "fast"}, "storage": {"storageClassName": "mine"}}},
                {"metadata": {"name": "b"}, "spec": {"source": {"blank": {}}}}
            ])
        );
        // Second run: nothing left to change.
        assert!(!persist_preference_values(&mut vm, Some(&preference)).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// §3.6 Default disks, interfaces and networks
// ---------------------------------------------------------------------------------------------
mod defaults_3_6 {
    use super::*;

    fn pref_vm(template_spec: Value) -> Value {
        vm(json!({"preference": {"name": "p"}}), template_spec)
    }

    fn empty_pref() -> Vec<Value> {
        vec![cluster_pref("p", json!({}))]
    }

    fn options(interface: &str, permit_bridge: bool) -> ExpandOptions {
        ExpandOptions {
            cluster: ClusterOptions {
                default_network_interface: interface.to_owned(),
                permit_bridge_interface_on_pod_network: permit_bridge,
                ..ClusterOptions::default()
            },
            vmi_defaults: false,
            ..ExpandOptions::default()
        }
    }

    #[test]
    fn volumes_without_disk_or_filesystem_get_a_disk_appended() {
        let expanded = expand_ok(
            &pref_vm(json!({
                "domain": {"devices": {"disks": [{"name": "b", "cdrom": {}}], "filesystems": [{"name": "fs", "virtiofs": {}}]}},
                "volumes": [{"name": "a", "emptyDisk": {}}, {"name": "b", "emptyDisk": {}},
                            {"name": "fs", "persistentVolumeClaim": {"claimName": "c"}}, {"name": "c", "emptyDisk": {}}]
            })),
            &empty_pref(),
            &raw(),
        );
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["disks"],
            json!([{"name": "b", "cdrom": {}}, {"name": "a"}, {"name": "c"}])
        );
    }

    #[test]
    fn default_interface_is_a_bridge_on_the_pod_network() {
        let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["interfaces"],
            json!([{"name": "default", "bridge": {}}])
        );
        assert_eq!(tspec(&expanded)["networks"], json!([{"name": "default", "pod": {}}]));
    }

    #[test]
    fn default_interface_is_masquerade_when_the_cluster_says_so() {
        let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &options("masquerade", true));
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["interfaces"],
            json!([{"name": "default", "masquerade": {}}])
        );
        assert_eq!(tspec(&expanded)["networks"], json!([{"name": "default", "pod": {}}]));
    }

    #[test]
    fn refused_default_bindings_are_errors() {
        assert_eq!(
            expand(&pref_vm(json!({})), &source(&empty_pref()), &options("bridge", false))
                .unwrap_err()
                .to_string(),
            "bridge interface is not enabled in kubevirt-config"
        );
        assert_eq!(
            expand(&pref_vm(json!({})), &source(&empty_pref()), &options("slirp", true))
                .unwrap_err()
                .to_string(),
            "slirp interface is deprecated as of v1.3"
        );
        // Masquerade does not need the bridge permission.
        assert!(
            expand(
                &pref_vm(json!({})),
                &source(&empty_pref()),
                &options("masquerade", false)
            )
            .is_ok()
        );
    }

    #[test]
    fn no_default_interface_when_networks_or_interfaces_exist_or_autoattach_is_off() {
        let cases = [
            json!({"networks": [{"name": "n", "multus": {"networkName": "x"}}]}),
            json!({"domain": {"devices": {"interfaces": [{"name": "i", "bridge": {}}]}}}),
            json!({"domain": {"devices": {"autoattachPodInterface": false}}}),
        ];
        for template in cases {
            let expanded = expand_ok(&pref_vm(template.clone()), &empty_pref(), &raw());
            // (`domain: {}` may appear: Go always writes the non-pointer `domain`.)
            assert_eq!(tspec(&expanded)["networks"], template["networks"], "{template}");
            assert_eq!(
                tspec(&expanded)["domain"]["devices"],
                template["domain"]["devices"],
                "{template}"
            );
        }
        // Refusals only matter when a default would be added.
        let vm = pref_vm(json!({"domain": {"devices": {"autoattachPodInterface": false}}}));
        assert!(expand(&vm, &source(&empty_pref()), &options("slirp", false)).is_ok());
    }

    #[test]
    fn preferences_apply_to_the_defaults_except_masquerade() {
        let pref = cluster_pref(
            "p",
            json!({"devices": {"preferredDiskBus": "sata", "preferredInterfaceModel": "e1000",
                               "preferredInterfaceMasquerade": {}}}),
        );
        let expanded = expand_ok(
            &pref_vm(json!({"volumes": [{"name": "root", "containerDisk": {"image": "img"}}]})),
            &[pref],
            &raw(),
        );
        let devices = &tspec(&expanded)["domain"]["devices"];
        assert_eq!(devices["disks"], json!([{"name": "root", "disk": {"bus": "sata"}}]));
        assert_eq!(
            devices["interfaces"],
            json!([{"name": "default", "bridge": {}, "model": "e1000"}])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §3.8 Expand
// ---------------------------------------------------------------------------------------------
mod expand_3_8 {
    use super::*;

    fn pref_vm(template_spec: Value) -> Value {
        vm(json!({"preference": {"name": "p"}}), template_spec)
    }

    fn empty_pref() -> Vec<Value> {
        vec![cluster_pref("p", json!({}))]
    }

    #[test]
    fn a_vm_without_matchers_comes_back_unchanged_without_lookups() {
        let vm = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "x"},
                        "spec": {"template": {"spec": {"volumes": [{"name": "v", "emptyDisk": {}}]}}},
                        "status": {"instancetypeRef": {"name": "stale"}}});
        let recording = RecordingSource::new(InMemorySource::new());
        assert_eq!(expand(&vm, &recording, &with_defaults()).unwrap(), vm);
        assert!(recording.requested().is_empty());
    }

    #[test]
    fn the_vms_own_quantities_come_out_as_kubevirt_writes_them() {
        // KubeVirt's Expand decodes the typed VM and encodes the result: every quantity of the VM is
        // written by `MarshalJSON` (canonical form, or the text Go kept; always a string).
        let mut vm = pref_vm(json!({
            "domain": {"resources": {"requests": {"memory": "1.5Gi", "cpu": 2}}, "memory": {"maxGuest": "4096Mi"}},
            "volumes": [{"name": "scratch", "emptyDisk": {"capacity": "1024Mi"}}]
        }));
        vm["spec"]["dataVolumeTemplates"] = json!([{"metadata": {"name": "dv"}, "spec": {"storage": {"resources": {"requests": {"storage": "2048Mi"}}}}}]);
        let expanded = expand_ok(&vm, &empty_pref(), &with_defaults());
        let domain = &tspec(&expanded)["domain"];
        assert_eq!(domain["resources"]["requests"], json!({"memory": "1536Mi", "cpu": "2"}));
        // The guest memory the VMI defaults derive from the request is the same quantity.
        assert_eq!(domain["memory"], json!({"maxGuest": "4Gi", "guest": "1536Mi"}));
        assert_eq!(tspec(&expanded)["volumes"][0]["emptyDisk"]["capacity"], "1Gi");
        assert_eq!(
            expanded["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]["resources"]["requests"]["storage"],
            "2Gi"
        );
        // A VM without matchers is not expanded, but KubeVirt's Expand still hands it back encoded.
        let mut plain = vm.clone();
        plain["spec"].as_object_mut().unwrap().remove("preference");
        let returned = expand_ok(&plain, &empty_pref(), &with_defaults());
        let mut expected = plain.clone();
        expected["spec"]["template"]["spec"]["domain"]["resources"]["requests"] =
            json!({"memory": "1536Mi", "cpu": "2"});
        expected["spec"]["template"]["spec"]["domain"]["memory"]["maxGuest"] = json!("4Gi");
        expected["spec"]["template"]["spec"]["volumes"][0]["emptyDisk"]["capacity"] = json!("1Gi");
        expected["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]["resources"]["requests"]["storage"] =
            json!("2Gi");
        assert_eq!(returned, expected);
    }

    #[test]
    fn a_null_inside_a_map_is_gos_zero_value_not_an_absent_key() {
        // Go decodes `"a": null` in a `map[string]string` as `"a": ""`, and in a resource list as the
        // zero quantity: the key is there for every decision.
        let mut vm = pref_vm(json!({"domain": {"resources": {"requests": {"memory": null}}}}));
        vm["spec"]["template"]["metadata"] = json!({"annotations": {"kept": null}});
        let preference = cluster_pref("p", json!({"annotations": {"kept": "pref", "added": null, "b": "x"}}));
        let expanded = expand_ok(&vm, &[preference], &raw());
        assert_eq!(
            expanded["spec"]["template"]["metadata"]["annotations"],
            json!({"kept": "", "added": "", "b": "x"})
        );
        assert_eq!(
            tspec(&expanded)["domain"]["resources"]["requests"],
            json!({"memory": "0"})
        );
        // An instancetype's annotation conflicts with the VM's (empty) one, its memory with the
        // (zero) memory request.
        let mut vm = vm.clone();
        vm["spec"]["instancetype"] = json!({"name": "it"});
        let instancetype = cluster_it("it", it_with(json!({"annotations": {"kept": "it"}})));
        assert_eq!(
            expand_err(&vm, &[instancetype, cluster_pref("p", json!({}))], &raw()),
            "VM field(s) spec.template.spec.domain.resources.requests.memory, annotations.kept conflicts with selected instance type"
        );
    }

    #[test]
    fn admission_reads_null_map_values_as_the_expansion_does() {
        let options = with_defaults();
        // A null request is a present (zero) request: it conflicts with the instancetype's CPU.
        let null_request = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"domain": {"resources": {"requests": {"cpu": null}}}}),
        );
        let objects = [cluster_it("it", it_body(2, "2Gi"))];
        let checks = vm_admission_checks(&null_request, &source(&objects), &options);
        let fields: Vec<&str> = checks.apply_causes.iter().flatten().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["spec.template.spec.domain.resources.requests.cpu"]);
        // So is a null annotation: it conflicts with the instancetype's.
        let mut null_annotation = vm(json!({"instancetype": {"name": "it"}}), json!({}));
        null_annotation["spec"]["template"]["metadata"] = json!({"annotations": {"k": null}});
        let objects = [cluster_it("it", it_with(json!({"annotations": {"k": "v"}})))];
        let checks = vm_admission_checks(&null_annotation, &source(&objects), &options);
        let fields: Vec<&str> = checks.apply_causes.iter().flatten().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["annotations.k"]);
        // A null CPU limit is a zero limit: the VMI defaults give 0 sockets, short of the requirement.
        let null_limit = pref_vm(json!({"domain": {"resources": {"limits": {"cpu": null}, "requests": {"cpu": "4"}}}}));
        let objects = [cluster_pref("p", json!({"requirements": {"cpu": {"guest": 2}}}))];
        let checks = vm_admission_checks(&null_limit, &source(&objects), &options);
        let cause = checks.requirements_cause.expect("a requirement failure");
        assert_eq!(
            cause.message,
            "failure checking preference requirements: insufficient CPU resources of 0 vCPU provided by \
             VirtualMachine, preference requires 2 vCPU provided as sockets"
        );
    }

    #[test]
    fn a_vm_that_is_not_an_object_is_an_error() {
        assert!(matches!(
            expand(&json!([1]), &InMemorySource::new(), &with_defaults()),
            Err(ExpandError::Shape(_))
        ));
    }

    #[test]
    fn matchers_and_status_references_are_removed_and_the_rest_kept() {
        let mut vm = vm(
            json!({"instancetype": {"name": "it"}, "preference": {"name": "p"}, "runStrategy": "Always"}),
            json!({}),
        );
        vm["status"] = json!({
            "instancetypeRef": {"name": "it"}, "preferenceRef": {"name": "p"}, "printableStatus": "Stopped"
        });
        let expanded = expand_ok(
            &vm,
            &[cluster_it("it", it_body(1, "1Gi")), cluster_pref("p", json!({}))],
            &raw(),
        );
        let spec_keys: Vec<&String> = expanded["spec"].as_object().unwrap().keys().collect();
        assert_eq!(spec_keys, ["runStrategy", "template"]);
        assert_eq!(expanded["status"], json!({"printableStatus": "Stopped"}));
    }

    #[test]
    fn vmi_defaults_set_architecture_machine_type_and_eviction_strategy() {
        let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &with_defaults());
        let spec = tspec(&expanded);
        assert_eq!(spec["architecture"], json!("amd64"));
        assert_eq!(spec["domain"]["machine"], json!({"type": "q35"}));
        assert_eq!(spec["evictionStrategy"], json!("None"));
        assert_eq!(spec["domain"]["cpu"], json!({"sockets": 1, "cores": 1, "threads": 1}));
    }

    #[test]
    fn machine_type_follows_the_architecture() {
        for (architecture, machine) in [("amd64", "q35"), ("arm64", "virt"), ("s390x", "s390-ccw-virtio")] {
            let expanded = expand_ok(
                &pref_vm(json!({"architecture": architecture})),
                &empty_pref(),
                &with_defaults(),
            );
            assert_eq!(
                tspec(&expanded)["domain"]["machine"]["type"],
                json!(machine),
                "{architecture}"
            );
            // Also from the cluster's default architecture.
            let options = ExpandOptions {
                cluster: ClusterOptions {
                    default_architecture: architecture.to_owned(),
                    ..ClusterOptions::default()
                },
                vmi_defaults: true,
                ..ExpandOptions::default()
            };
            let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &options);
            assert_eq!(tspec(&expanded)["architecture"], json!(architecture));
            assert_eq!(
                tspec(&expanded)["domain"]["machine"]["type"],
                json!(machine),
                "{architecture}"
            );
        }
    }

    #[test]
    fn preferred_architecture_and_machine_type_come_before_the_defaults() {
        let pref = cluster_pref(
            "p",
            json!({"preferredArchitecture": "arm64", "machine": {"preferredMachineType": "virt-9.0"}}),
        );
        let expanded = expand_ok(&pref_vm(json!({})), &[pref], &with_defaults());
        assert_eq!(tspec(&expanded)["architecture"], json!("arm64"));
        assert_eq!(tspec(&expanded)["domain"]["machine"], json!({"type": "virt-9.0"}));
    }

    #[test]
    fn cpu_limit_is_copied_to_the_request_and_sockets_round_up() {
        let cases = [
            (
                json!({"limits": {"cpu": "1500m"}}),
                json!({"limits": {"cpu": "1500m"}, "requests": {"cpu": "1500m"}}),
                2,
            ),
            (json!({"requests": {"cpu": "3"}}), json!({"requests": {"cpu": "3"}}), 3),
            (
                json!({"limits": {"cpu": "4"}, "requests": {"cpu": "2"}}),
                json!({"limits": {"cpu": "4"}, "requests": {"cpu": "2"}}),
                4,
            ),
            (json!({}), json!({}), 1),
        ];
        for (resources, expected_resources, sockets) in cases {
            let expanded = expand_ok(
                &pref_vm(json!({"domain": {"resources": resources.clone()}})),
                &empty_pref(),
                &with_defaults(),
            );
            let domain = &tspec(&expanded)["domain"];
            assert_eq!(domain["resources"], expected_resources, "{resources}");
            assert_eq!(
                domain["cpu"],
                json!({"sockets": sockets, "cores": 1, "threads": 1}),
                "{resources}"
            );
        }
    }

    #[test]
    fn cpu_topology_default_keeps_a_vmi_topology() {
        let expanded = expand_ok(
            &pref_vm(json!({"domain": {"cpu": {"cores": 2}}})),
            &empty_pref(),
            &with_defaults(),
        );
        assert_eq!(tspec(&expanded)["domain"]["cpu"], json!({"cores": 2}));
        let expanded = expand_ok(
            &pref_vm(json!({"domain": {"cpu": {"model": "host-passthrough"}}})),
            &empty_pref(),
            &with_defaults(),
        );
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"model": "host-passthrough", "sockets": 1, "cores": 1, "threads": 1})
        );
    }

    #[test]
    fn guest_memory_comes_from_requests_then_limits_then_hugepages() {
        let cases = [
            (
                json!({"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}}),
                "1Gi",
            ),
            (json!({"resources": {"limits": {"memory": "2048Mi"}}}), "2Gi"),
            (json!({"memory": {"hugepages": {"pageSize": "1Gi"}}}), "1Gi"),
        ];
        for (domain, guest) in cases {
            let expanded = expand_ok(
                &pref_vm(json!({ "domain": domain.clone() })),
                &empty_pref(),
                &with_defaults(),
            );
            assert_eq!(tspec(&expanded)["domain"]["memory"]["guest"], json!(guest), "{domain}");
        }
        // Nothing to take it from: `memory` exists but has no guest.
        let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &with_defaults());
        assert_eq!(tspec(&expanded)["domain"]["memory"], json!({}));
    }

    #[test]
    fn container_disk_pull_policies() {
        #[rustfmt::skip]
        let cases = [
            ("quay.io/img",                  None,           "Always"),
            ("quay.io/img:latest",           None,           "Always"),
            ("quay.io/img:41",               None,           "IfNotPresent"),
            ("quay.io/img@sha256:abc",       None,           "IfNotPresent"),
            ("registry:5000/img",            None,           "IfNotPresent"),
            ("quay.io/img:latest",           Some("Never"),  "Never"),
        ];
        for (image, policy, expected) in cases {
            let mut disk = json!({"image": image});
            if let Some(policy) = policy {
                disk["imagePullPolicy"] = json!(policy);
            }
            let expanded = expand_ok(
                &pref_vm(json!({"volumes": [{"name": "c", "containerDisk": disk}]})),
                &empty_pref(),
                &with_defaults(),
            );
            assert_eq!(
                tspec(&expanded)["volumes"][0]["containerDisk"]["imagePullPolicy"],
                json!(expected),
                "{image}"
            );
        }
    }

    #[test]
    fn eviction_strategy_comes_from_the_cluster_unless_set() {
        let options = ExpandOptions {
            cluster: ClusterOptions {
                eviction_strategy: "LiveMigrate".to_owned(),
                ..ClusterOptions::default()
            },
            vmi_defaults: true,
            ..ExpandOptions::default()
        };
        let expanded = expand_ok(&pref_vm(json!({})), &empty_pref(), &options);
        assert_eq!(tspec(&expanded)["evictionStrategy"], json!("LiveMigrate"));
        let expanded = expand_ok(
            &pref_vm(json!({"evictionStrategy": "External"})),
            &empty_pref(),
            &options,
        );
        assert_eq!(tspec(&expanded)["evictionStrategy"], json!("External"));
    }

    #[test]
    fn vmi_defaults_off_writes_only_what_the_instancetype_and_preference_own() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"volumes": [{"name": "c", "containerDisk": {"image": "img"}}]}),
        );
        let expanded = expand_ok(&vm, &[cluster_it("it", it_body(2, "1Gi"))], &raw());
        assert_eq!(
            tspec(&expanded),
            &json!({
                "volumes": [{"name": "c", "containerDisk": {"image": "img"}}],
                "domain": {
                    "devices": {"disks": [{"name": "c"}], "interfaces": [{"name": "default", "bridge": {}}]},
                    "cpu": {"cores": 1, "sockets": 2, "threads": 1},
                    "memory": {"guest": "1Gi"}
                },
                "networks": [{"name": "default", "pod": {}}]
            })
        );
    }

    #[test]
    fn vmi_defaults_on_adds_kubevirts_defaults() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"volumes": [{"name": "c", "containerDisk": {"image": "img"}}]}),
        );
        let expanded = expand_ok(&vm, &[cluster_it("it", it_body(2, "1Gi"))], &with_defaults());
        assert_eq!(
            tspec(&expanded),
            &json!({
                "volumes": [{"name": "c", "containerDisk": {"image": "img", "imagePullPolicy": "Always"}}],
                "domain": {
                    "devices": {"disks": [{"name": "c"}], "interfaces": [{"name": "default", "bridge": {}}]},
                    "cpu": {"cores": 1, "sockets": 2, "threads": 1},
                    "memory": {"guest": "1Gi"},
                    "machine": {"type": "q35"}
                },
                "networks": [{"name": "default", "pod": {}}],
                "architecture": "amd64",
                "evictionStrategy": "None"
            })
        );
    }

    #[test]
    fn requirements_and_spread_are_not_checked_by_expand() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}, "preference": {"name": "p"}}),
            json!({}),
        );
        let objects = [
            cluster_it("it", it_body(3, "1Gi")),
            cluster_pref(
                "p",
                json!({"cpu": {"preferredCPUTopology": "spread"},
                       "requirements": {"cpu": {"guest": 8}, "memory": {"guest": "64Gi"}}}),
            ),
        ];
        let expanded = expand_ok(&vm, &objects, &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"cores": 2, "sockets": 1, "threads": 1})
        );
    }

    #[test]
    fn a_conflict_is_the_expand_error() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"domain": {"cpu": {"sockets": 2}}}),
        );
        let error = expand(&vm, &source(&[cluster_it("it", it_body(2, "1Gi"))]), &raw()).unwrap_err();
        assert!(matches!(error, ExpandError::Apply(ApplyError::Conflicts(_))));
        assert_eq!(
            error.to_string(),
            "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §4 Conflicts
// ---------------------------------------------------------------------------------------------
mod conflicts_4 {
    use super::*;

    fn everything_instancetype() -> Value {
        it_with(json!({
            "nodeSelector": {"a": "b"},
            "schedulerName": "s",
            "cpu": {"model": "m", "dedicatedCPUPlacement": true, "isolateEmulatorThread": true,
                    "numa": {"guestMappingPassthrough": {}}, "realtime": {}},
            "memory": {"hugepages": {"pageSize": "2Mi"}, "maxGuest": "4Gi"},
            "ioThreads": {"supplementalPoolThreadCount": 1},
            "ioThreadsPolicy": "auto",
            "launchSecurity": {"sev": {}},
            "gpus": [{"name": "g", "deviceName": "d"}],
            "hostDevices": [{"name": "h", "deviceName": "d"}],
            "annotations": {"zeta": "1", "alpha": "1", "mid": "1", "same": "1"}
        }))
    }

    fn everything_vmi() -> Value {
        json!({
            "nodeSelector": {},
            "schedulerName": "mine",
            "domain": {
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                "cpu": {"sockets": 1, "cores": 1, "threads": 1, "model": "x", "dedicatedCpuPlacement": true,
                        "isolateEmulatorThread": true, "numa": {}, "realtime": {}},
                "memory": {"guest": "1Gi", "hugepages": {"pageSize": "1Gi"}, "maxGuest": "2Gi"},
                "ioThreads": {"supplementalPoolThreadCount": 2},
                "ioThreadsPolicy": "shared",
                "launchSecurity": {},
                "devices": {"gpus": [{"name": "x"}], "hostDevices": [{"name": "y"}]}
            }
        })
    }

    fn everything_metadata() -> Value {
        json!({"annotations": {"mid": "2", "zeta": "2", "alpha": "2", "same": "1"}})
    }

    #[test]
    fn every_group_reports_in_kubevirts_order_with_annotation_conflicts_sorted() {
        let found = conflicts(everything_instancetype(), everything_vmi(), everything_metadata());
        let expected: Vec<String> = [
            "nodeSelector",
            "schedulerName",
            "domain.resources.requests.cpu",
            "domain.resources.limits.cpu",
            "domain.cpu.sockets",
            "domain.cpu.cores",
            "domain.cpu.threads",
            "domain.cpu.model",
            "domain.cpu.dedicatedCPUPlacement",
            "domain.cpu.isolateEmulatorThread",
            "domain.cpu.numa",
            "domain.cpu.realtime",
            "domain.memory.guest",
            "domain.ioThreads.supplementalPoolThreadCount",
            "domain.ioThreadsPolicy",
            "domain.launchSecurity",
            "domain.devices.gpus",
            "domain.devices.hostDevices",
        ]
        .iter()
        .map(|rest| b(rest))
        .chain(["annotations.alpha", "annotations.mid", "annotations.zeta"].map(str::to_owned))
        .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn expand_error_joins_all_paths_in_one_message() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"domain": {"cpu": {"sockets": 2, "threads": 2}}, "schedulerName": "x"}),
        );
        let it = cluster_it("it", it_with(json!({"schedulerName": "s"})));
        assert_eq!(
            expand_err(&vm, &[it], &raw()),
            "VM field(s) spec.template.spec.schedulerName, spec.template.spec.domain.cpu.sockets, \
             spec.template.spec.domain.cpu.threads conflicts with selected instance type"
        );
    }

    #[test]
    fn admission_reports_one_field_value_invalid_cause_per_path() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"domain": {"cpu": {"cores": 2}, "memory": {"guest": "1Gi"}}}),
        );
        let checks = vm_admission_checks(&vm, &source(&[cluster_it("it", it_body(2, "1Gi"))]), &with_defaults());
        assert_eq!(
            checks.apply_causes,
            Some(vec![
                invalid(
                    "VM field(s) spec.template.spec.domain.cpu.cores conflicts with selected instance type",
                    "spec.template.spec.domain.cpu.cores"
                ),
                invalid(
                    "VM field(s) spec.template.spec.domain.memory.guest conflicts with selected instance type",
                    "spec.template.spec.domain.memory.guest"
                ),
            ])
        );
        assert_eq!(checks.requirements_cause, None);
        assert!(!checks.is_allowed());
    }

    #[test]
    fn memory_group_reports_only_its_first_conflict() {
        let it = it_with(json!({"memory": {"hugepages": {"pageSize": "2Mi"}, "maxGuest": "4Gi"}}));
        #[rustfmt::skip]
        let cases = [
            (json!({"memory": {"guest": "1Gi", "hugepages": {}, "maxGuest": "1Gi"},
                    "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}}), "domain.memory.guest"),
            (json!({"memory": {"hugepages": {}, "maxGuest": "1Gi"},
                    "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}}), "domain.memory.hugepages"),
            (json!({"memory": {"maxGuest": "1Gi"},
                    "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}}), "domain.memory.maxGuest"),
            (json!({"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}}),
             "domain.resources.requests.memory"),
            (json!({"resources": {"limits": {"memory": "1Gi"}}}), "domain.resources.limits.memory"),
        ];
        for (domain, path) in cases {
            assert_eq!(
                conflicts(it.clone(), json!({ "domain": domain }), json!({})),
                vec![b(path)],
                "{path}"
            );
        }
    }

    #[test]
    fn cpu_group_reports_all_of_its_conflicts() {
        let found = conflicts(
            it_with(json!({})),
            json!({"domain": {"resources": {"limits": {"cpu": "2"}}, "cpu": {"threads": 2, "cores": 2}}}),
            json!({}),
        );
        assert_eq!(
            found,
            vec![
                b("domain.resources.limits.cpu"),
                b("domain.cpu.cores"),
                b("domain.cpu.threads")
            ]
        );
    }

    #[test]
    fn values_that_do_not_conflict() {
        // Each VMI value below is compatible with the instancetype and kept.
        let it = it_with(json!({"cpu": {"model": "m", "dedicatedCPUPlacement": true, "isolateEmulatorThread": true}}));
        let spec = apply_it(
            it,
            json!({"domain": {"cpu": {"sockets": 0, "model": "", "dedicatedCpuPlacement": false,
                                      "isolateEmulatorThread": false, "numa": {}, "realtime": {}},
                              "resources": {"requests": {"storage": "1Gi"}}}}),
        );
        assert_eq!(
            spec["domain"]["cpu"],
            json!({"sockets": 2, "model": "m", "dedicatedCpuPlacement": true, "isolateEmulatorThread": true,
                   "numa": {}, "realtime": {}, "cores": 1, "threads": 1})
        );
        // The instancetype sets none of numa/realtime/model: VMI values stay and don't conflict.
        let spec = apply_it(
            it_body(2, "1Gi"),
            json!({"domain": {"cpu": {"model": "x", "dedicatedCpuPlacement": true, "numa": {"a": 1}}}}),
        );
        assert_eq!(spec["domain"]["cpu"]["model"], json!("x"));
        assert_eq!(spec["domain"]["cpu"]["dedicatedCpuPlacement"], json!(true));
    }

    #[test]
    fn nothing_of_the_preference_is_applied_when_there_are_conflicts() {
        let result = apply_full(
            Some(it_body(2, "1Gi")),
            Some(json!({"machine": {"preferredMachineType": "pc"}, "preferredSubdomain": "s"})),
            json!({"domain": {"cpu": {"sockets": 1}}}),
            json!({}),
        );
        assert!(matches!(result, Err(ApplyError::Conflicts(_))));
        // And through admission, only the conflict is reported.
        let checks = checks_with_specs(
            &vm(json!({}), json!({"domain": {"cpu": {"sockets": 1}}})),
            Some(&it_spec(it_body(2, "1Gi"))),
            Some(&pref_spec(json!({"requirements": {"cpu": {"guest": 4}}}))),
            &with_defaults(),
        );
        assert_eq!(checks.apply_causes.map(|c| c.len()), Some(1));
        assert_eq!(checks.requirements_cause, None);
    }

    #[test]
    fn annotation_conflicts_are_sorted_by_key_whatever_the_input_order() {
        let it = it_with(json!({"annotations": {"b": "1", "c": "1", "a": "1"}}));
        let found = conflicts(it, json!({}), json!({"annotations": {"c": "2", "a": "2", "b": "2"}}));
        assert_eq!(found, ["annotations.a", "annotations.b", "annotations.c"]);
    }
}

// ---------------------------------------------------------------------------------------------
// §5 Requirement checks
// ---------------------------------------------------------------------------------------------
mod requirements_5 {
    use super::*;

    fn not_found(message: &str, field: &str) -> Cause {
        Cause::new(
            "FieldValueNotFound",
            format!("failure checking preference requirements: {message}"),
            field,
        )
    }

    /// Admission of a VM with these specs and template spec; only the requirement cause.
    fn requirement(instancetype: Option<Value>, preference: Value, template_spec: Value) -> Option<Cause> {
        let instancetype = instancetype.map(it_spec);
        let checks: AdmissionChecks = checks_with_specs(
            &vm(json!({}), template_spec),
            instancetype.as_ref(),
            Some(&pref_spec(preference)),
            &with_defaults(),
        );
        assert_eq!(checks.apply_causes, None);
        assert_eq!(checks.error, None);
        checks.requirements_cause
    }

    #[test]
    fn cpu_with_an_instancetype() {
        let pref = json!({"requirements": {"cpu": {"guest": 4}}});
        assert_eq!(
            requirement(Some(it_body(2, "1Gi")), pref.clone(), json!({})),
            Some(not_found(
                "insufficient CPU resources of 2 vCPU provided by instance type, preference requires 4 vCPU",
                "spec.instancetype"
            ))
        );
        assert_eq!(requirement(Some(it_body(4, "1Gi")), pref, json!({})), None);
    }

    #[test]
    fn cpu_without_an_instancetype_by_topology() {
        let prefix = "spec.template.spec.domain.cpu";
        #[rustfmt::skip]
        let cases: Vec<(Value, Value, &str, String)> = vec![
            (json!({"preferredCPUTopology": "threads"}), json!({"threads": 2}),
             "insufficient CPU resources of 2 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as threads",
             format!("{prefix}.threads")),
            (json!({"preferredCPUTopology": "preferCores"}), json!({"cores": 3}),
             "insufficient CPU resources of 3 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as cores",
             format!("{prefix}.cores")),
            (json!({}), json!({"sockets": 1}),
             "insufficient CPU resources of 1 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as sockets",
             format!("{prefix}.sockets")),
            (json!({"preferredCPUTopology": "spread"}), json!({"sockets": 1, "cores": 2}),
             "insufficient CPU resources of 2 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as SocketsCores",
             format!("{prefix}.sockets, {prefix}.cores")),
            (json!({"preferredCPUTopology": "spread", "spreadOptions": {"across": "CoresThreads"}}),
             json!({"cores": 1, "threads": 2}),
             "insufficient CPU resources of 2 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as CoresThreads",
             format!("{prefix}.cores, {prefix}.threads")),
            (json!({"preferredCPUTopology": "preferSpread", "spreadOptions": {"across": "SocketsCoresThreads"}}),
             json!({"sockets": 1, "cores": 1, "threads": 2}),
             "insufficient CPU resources of 2 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as SocketsCoresThreads",
             format!("{prefix}.sockets, {prefix}.cores, {prefix}.threads")),
            (json!({"preferredCPUTopology": "any"}), json!({"sockets": 1, "cores": 1, "threads": 3}),
             "insufficient CPU resources of 3 vCPU provided by VirtualMachine, preference requires 4 vCPU provided as cores, sockets and threads",
             format!("{prefix}.cores, {prefix}.sockets, {prefix}.threads")),
        ];
        for (cpu_preferences, vmi_cpu, message, field) in cases {
            let pref = json!({"cpu": cpu_preferences, "requirements": {"cpu": {"guest": 4}}});
            assert_eq!(
                requirement(None, pref, json!({"domain": {"cpu": vmi_cpu}})),
                Some(not_found(message, &field)),
                "{message}"
            );
        }
    }

    #[test]
    fn cpu_requirement_met_by_the_vm_topology() {
        let pref = json!({"cpu": {"preferredCPUTopology": "any"}, "requirements": {"cpu": {"guest": 8}}});
        assert_eq!(
            requirement(
                None,
                pref,
                json!({"domain": {"cpu": {"sockets": 2, "cores": 2, "threads": 2}}})
            ),
            None
        );
    }

    #[test]
    fn cpu_without_domain_cpu_says_no_cpu_resources() {
        let preference = pref_spec(json!({"requirements": {"cpu": {"guest": 2}}}));
        let vmi = Map::new();
        let failure = requirements::check_requirements(None, Some(&preference), &vmi)
            .unwrap()
            .unwrap();
        assert_eq!(
            failure.cause(),
            not_found(
                "no CPU resources provided by VirtualMachine, preference requires 2 vCPU",
                "spec.template.spec.domain.cpu"
            )
        );
    }

    #[test]
    fn cpu_requirement_against_the_defaulted_topology() {
        // VMI defaults run before the requirements: no cpu at all means 1 socket.
        let pref = json!({"requirements": {"cpu": {"guest": 2}}});
        assert_eq!(
            requirement(None, pref, json!({})),
            Some(not_found(
                "insufficient CPU resources of 1 vCPU provided by VirtualMachine, preference requires 2 vCPU provided as sockets",
                "spec.template.spec.domain.cpu.sockets"
            ))
        );
    }

    #[test]
    fn memory_with_and_without_an_instancetype_in_canonical_form() {
        let pref = json!({"requirements": {"memory": {"guest": "1.5Gi"}}});
        assert_eq!(
            requirement(Some(it_body(1, "1024Mi")), pref.clone(), json!({})),
            Some(not_found(
                "insufficient Memory resources of 1Gi provided by instance type, preference requires 1536Mi",
                "spec.instancetype"
            ))
        );
        assert_eq!(
            requirement(None, pref.clone(), json!({"domain": {"memory": {"guest": "1000M"}}})),
            Some(not_found(
                "insufficient Memory resources of 1G provided by VirtualMachine, preference requires 1536Mi",
                "spec.template.spec.domain.memory"
            ))
        );
        assert_eq!(
            requirement(None, pref.clone(), json!({})),
            Some(not_found(
                "insufficient Memory resources of 0 provided by VirtualMachine, preference requires 1536Mi",
                "spec.template.spec.domain.memory"
            ))
        );
        assert_eq!(requirement(Some(it_body(1, "2Gi")), pref, json!({})), None);
    }

    #[test]
    fn memory_provided_by_the_vmi_replaces_the_instancetype_guest() {
        let instancetype = it_spec(it_body(1, "4Gi"));
        let preference = pref_spec(json!({"requirements": {"memory": {"guest": "2Gi"}}}));
        let vmi = json!({"domain": {"memory": {"guest": "1Gi"}}});
        let failure =
            requirements::check_requirements(Some(&instancetype), Some(&preference), vmi.as_object().unwrap())
                .unwrap()
                .unwrap();
        assert_eq!(
            failure.message,
            "insufficient Memory resources of 1Gi provided by instance type, preference requires 2Gi"
        );
        assert_eq!(failure.fields, ["spec.instancetype"]);
    }

    #[test]
    fn architecture() {
        let pref = json!({"requirements": {"architecture": "arm64"}});
        assert_eq!(
            requirement(None, pref.clone(), json!({})),
            Some(not_found(
                "preference requires architecture arm64 but amd64 is being requested",
                "spec.template.spec.architecture"
            ))
        );
        assert_eq!(requirement(None, pref, json!({"architecture": "arm64"})), None);
    }

    #[test]
    fn first_failure_wins_in_cpu_memory_architecture_order() {
        let all = json!({"requirements": {"cpu": {"guest": 8}, "memory": {"guest": "8Gi"}, "architecture": "s390x"}});
        let cause = requirement(Some(it_body(2, "1Gi")), all, json!({})).unwrap();
        assert!(
            cause.message.contains("insufficient CPU resources"),
            "{}",
            cause.message
        );
        let memory_and_arch =
            json!({"requirements": {"cpu": {"guest": 1}, "memory": {"guest": "8Gi"}, "architecture": "s390x"}});
        let cause = requirement(Some(it_body(2, "1Gi")), memory_and_arch, json!({})).unwrap();
        assert!(
            cause.message.contains("insufficient Memory resources"),
            "{}",
            cause.message
        );
        let arch_only =
            json!({"requirements": {"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}, "architecture": "s390x"}});
        let cause = requirement(Some(it_body(2, "1Gi")), arch_only, json!({})).unwrap();
        assert_eq!(cause.field, "spec.template.spec.architecture");
    }

    #[test]
    fn spread_divisibility_messages() {
        let field = "instancetype.spec.cpu.guest";
        #[rustfmt::skip]
        let cases = [
            (3, json!({}), json!(0),
             "3 vCPUs provided by the instance type are not divisible by the Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 2 provided by the preference"),
            (6, json!({"ratio": 4}), json!(0),
             "6 vCPUs provided by the instance type are not divisible by the Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 4 provided by the preference"),
            (8, json!({}), json!(3),
             "8 vCPUs provided by the instance type are not divisible by the Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 3 provided by the preference"),
            (5, json!({"across": "CoresThreads"}), json!(0),
             "5 vCPUs provided by the instance type are not divisible by the number of threads per core 2"),
            (6, json!({"across": "SocketsCoresThreads"}), json!(0),
             "6 vCPUs provided by the instance type are not divisible by the number of threads per core 2 and Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 2"),
            (7, json!({"across": "SocketsCoresThreads", "ratio": 1}), json!(0),
             "7 vCPUs provided by the instance type are not divisible by the number of threads per core 2 and Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 1"),
        ];
        for (guest, options, legacy_ratio, message) in cases {
            let preference = pref_spec(
                json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": options},
                                               "preferSpreadSocketToCoreRatio": legacy_ratio}),
            );
            let instancetype = it_spec(it_body(guest, "1Gi"));
            assert_eq!(
                requirements::check_spread(Some(&instancetype), Some(&preference)),
                Some(invalid(message, field)),
                "{message}"
            );
        }
    }

    #[test]
    fn spread_divisibility_passes_or_is_not_checked() {
        let spread =
            |options: Value| pref_spec(json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": options}}));
        let cases = [
            ("divisible SocketsCores", Some(it_body(4, "1Gi")), spread(json!({}))),
            (
                "divisible SCT",
                Some(it_body(8, "1Gi")),
                spread(json!({"across": "SocketsCoresThreads"})),
            ),
            (
                "unknown across",
                Some(it_body(3, "1Gi")),
                spread(json!({"across": "Diagonal"})),
            ),
            (
                "not spread",
                Some(it_body(3, "1Gi")),
                pref_spec(json!({"cpu": {"preferredCPUTopology": "cores"}})),
            ),
            ("no instancetype", None, spread(json!({}))),
        ];
        for (name, instancetype, preference) in cases {
            let instancetype = instancetype.map(it_spec);
            assert_eq!(
                requirements::check_spread(instancetype.as_ref(), Some(&preference)),
                None,
                "{name}"
            );
        }
    }

    #[test]
    fn spread_cause_comes_alone_before_conflicts_and_requirements() {
        let checks = checks_with_specs(
            &vm(json!({}), json!({"domain": {"cpu": {"sockets": 1}}})),
            Some(&it_spec(it_body(3, "1Gi"))),
            Some(&pref_spec(json!({"cpu": {"preferredCPUTopology": "spread"},
                                   "requirements": {"cpu": {"guest": 8}}}))),
            &with_defaults(),
        );
        assert_eq!(
            checks.apply_causes,
            Some(vec![invalid(
                "3 vCPUs provided by the instance type are not divisible by the Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 2 provided by the preference",
                "instancetype.spec.cpu.guest"
            )])
        );
        assert_eq!(checks.requirements_cause, None);
    }

    #[test]
    fn admission_ignores_objects_that_cannot_be_found() {
        let vm = vm(
            json!({"instancetype": {"name": "gone"}, "preference": {"name": "gone"}}),
            json!({}),
        );
        let checks = vm_admission_checks(&vm, &InMemorySource::new(), &with_defaults());
        assert!(checks.is_allowed());
        assert_eq!(checks, AdmissionChecks::default());
    }
}

// ---------------------------------------------------------------------------------------------
// §6 KubeVirt's own admission behaviour (matchers)
// ---------------------------------------------------------------------------------------------
mod matchers_6 {
    use super::*;

    fn matchers_vm(spec: Value) -> Value {
        vm(spec, json!({}))
    }

    fn not_supported(message: &str, field: &str) -> Cause {
        Cause::new("FieldValueNotSupported", message, field)
    }

    #[test]
    fn every_structure_message() {
        #[rustfmt::skip]
        let cases: Vec<(Value, Vec<Cause>)> = vec![
            (json!({"instancetype": {}}),
             vec![Cause::new("FieldValueNotFound", "Either Name or InferFromVolume should be provided within the InstancetypeMatcher", "spec.instancetype")]),
            (json!({"instancetype": {"kind": "VirtualMachineInstancetype"}}),
             vec![Cause::new("FieldValueNotFound", "Either Name or InferFromVolume should be provided within the InstancetypeMatcher", "spec.instancetype")]),
            (json!({"preference": {"revisionName": "r"}}),
             vec![Cause::new("FieldValueNotFound", "Either Name or InferFromVolume should be provided within the PreferenceMatcher", "spec.preference")]),
            (json!({"instancetype": {"name": "n", "inferFromVolume": "v"}}),
             vec![not_supported("Name already set, should be cleared before setting inferFromVolume", "spec.instancetype.name")]),
            (json!({"instancetype": {"kind": "k", "inferFromVolume": "v"}}),
             vec![not_supported("Kind already set, should be cleared before setting inferFromVolume", "spec.instancetype.kind")]),
            (json!({"preference": {"name": "n", "kind": "k", "inferFromVolume": "v"}}),
             vec![not_supported("Name already set, should be cleared before setting inferFromVolume", "spec.preference.name"),
                  not_supported("Kind already set, should be cleared before setting inferFromVolume", "spec.preference.kind")]),
            (json!({"instancetype": {"inferFromVolume": "v", "inferFromVolumeFailurePolicy": "Sometimes"}}),
             vec![invalid("Invalid value 'Sometimes' for InferFromVolumeFailurePolicy", "spec.instancetype.inferFromVolumeFailurePolicy")]),
            (json!({"preference": {"inferFromVolume": "v", "inferFromVolumeFailurePolicy": ""}}),
             vec![invalid("Invalid value '' for InferFromVolumeFailurePolicy", "spec.preference.inferFromVolumeFailurePolicy")]),
            (json!({"instancetype": {"name": "n", "inferFromVolumeFailurePolicy": "ignore"}}),
             vec![invalid("Invalid value 'ignore' for InferFromVolumeFailurePolicy", "spec.instancetype.inferFromVolumeFailurePolicy")]),
            (json!({"instancetype": {}, "preference": {}}),
             vec![Cause::new("FieldValueNotFound", "Either Name or InferFromVolume should be provided within the InstancetypeMatcher", "spec.instancetype")]),
        ];
        for (spec, expected) in cases {
            assert_eq!(
                check_matchers(&matchers_vm(spec.clone()), None).unwrap(),
                expected,
                "{spec}"
            );
        }
    }

    #[test]
    fn valid_matchers_have_no_causes() {
        for spec in [
            json!({}),
            json!({"instancetype": {"name": "n"}, "preference": {"name": "p", "kind": "k", "revisionName": "r"}}),
            json!({"instancetype": {"inferFromVolume": "v", "inferFromVolumeFailurePolicy": "Ignore"}}),
            json!({"preference": {"inferFromVolume": "v", "inferFromVolumeFailurePolicy": "Reject"}}),
            json!({"instancetype": null}),
        ] {
            assert_eq!(
                check_matchers(&matchers_vm(spec.clone()), None).unwrap(),
                vec![],
                "{spec}"
            );
        }
    }

    #[test]
    fn update_renaming_a_matcher_without_changing_its_revision_name_is_refused() {
        let rename = |key: &str| {
            (
                matchers_vm(json!({ key: {"name": "new", "revisionName": "rev"} })),
                matchers_vm(json!({ key: {"name": "old", "revisionName": "rev"} })),
            )
        };
        for key in ["instancetype", "preference"] {
            let (new, old) = rename(key);
            assert_eq!(
                check_matchers(&new, Some(&old)).unwrap(),
                vec![invalid(
                    "the Matcher Name has been updated without updating the RevisionName",
                    &format!("spec.{key}.revisionName")
                )],
                "{key}"
            );
            // On CREATE the same VM is fine.
            assert_eq!(check_matchers(&new, None).unwrap(), vec![], "{key}");
        }
    }

    #[test]
    fn update_checks_run_before_structure_checks_and_instancetype_first() {
        let new = matchers_vm(json!({
            "instancetype": {"name": "new", "revisionName": "rev"},
            "preference": {"name": "new", "revisionName": "prev", "inferFromVolume": "v"}
        }));
        let old = matchers_vm(json!({
            "instancetype": {"name": "old", "revisionName": "rev"},
            "preference": {"name": "old", "revisionName": "prev"}
        }));
        assert_eq!(
            check_matchers(&new, Some(&old)).unwrap(),
            vec![invalid(
                "the Matcher Name has been updated without updating the RevisionName",
                "spec.instancetype.revisionName"
            )]
        );
    }

    #[test]
    fn allowed_updates() {
        #[rustfmt::skip]
        let cases = [
            ("revision name changed too",
             json!({"instancetype": {"name": "new", "revisionName": "rev2"}}), json!({"instancetype": {"name": "old", "revisionName": "rev"}})),
            ("revision name cleared",
             json!({"instancetype": {"name": "new"}}), json!({"instancetype": {"name": "old", "revisionName": "rev"}})),
            ("no revision name before or after",
             json!({"instancetype": {"name": "new"}}), json!({"instancetype": {"name": "old"}})),
            ("revision name added by the controller",
             json!({"instancetype": {"name": "same", "revisionName": "rev"}}), json!({"instancetype": {"name": "same"}})),
            ("same name, other kind",
             json!({"instancetype": {"name": "same", "kind": "VirtualMachineInstancetype", "revisionName": "rev"}}),
             json!({"instancetype": {"name": "same", "revisionName": "rev"}})),
            ("matcher added",
             json!({"instancetype": {"name": "new", "revisionName": "rev"}}), json!({})),
            ("matcher removed",
             json!({}), json!({"instancetype": {"name": "old", "revisionName": "rev"}})),
        ];
        for (name, new, old) in cases {
            assert_eq!(
                check_matchers(&matchers_vm(new), Some(&matchers_vm(old))).unwrap(),
                vec![],
                "{name}"
            );
        }
    }

    #[test]
    fn legacy_flavor_matcher_is_checked_under_its_own_key() {
        assert_eq!(
            check_matchers(&matchers_vm(json!({"flavor": {"kind": "VirtualMachineFlavor"}})), None).unwrap(),
            vec![Cause::new(
                "FieldValueNotFound",
                "Either Name or InferFromVolume should be provided within the InstancetypeMatcher",
                "spec.flavor"
            )]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §8 Upstream quirks and this project's choice
// ---------------------------------------------------------------------------------------------
mod quirks_8 {
    use super::*;

    #[test]
    fn q1_preference_only_cpu_features_without_domain_cpu_creates_cpu() {
        let vm = vm(json!({"preference": {"name": "p"}}), json!({}));
        let pref = cluster_pref(
            "p",
            json!({"cpu": {"preferredCPUFeatures": [{"name": "vmx", "policy": "require"}]}}),
        );
        let expanded = expand_ok(&vm, &[pref], &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"features": [{"name": "vmx", "policy": "require"}]})
        );
    }

    #[test]
    fn q2_zero_spread_ratio_is_a_clear_error_everywhere() {
        let pref_body = json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"ratio": 0}}});
        let vm = vm(
            json!({"instancetype": {"name": "it"}, "preference": {"name": "p"}}),
            json!({}),
        );
        let objects = [
            cluster_it("it", it_body(4, "1Gi")),
            cluster_pref("p", pref_body.clone()),
        ];
        assert_eq!(
            expand_err(&vm, &objects, &raw()),
            "spec.cpu.spreadOptions.ratio of the preference must be greater than 0 to spread vCPUs"
        );
        let checks = vm_admission_checks(&vm, &source(&objects), &with_defaults());
        assert_eq!(
            checks.apply_causes,
            Some(vec![invalid(
                "spec.cpu.spreadOptions.ratio of the preference must be greater than 0 to spread vCPUs",
                "instancetype.spec.cpu.guest"
            )])
        );
        let validation =
            kubevirt_instancetype::engine::object_validation::validate_object(&cluster_pref("p", pref_body));
        assert_eq!(
            validation.causes,
            vec![invalid(
                "a ratio of 0 is not allowed when spreading vCPUs: spec.cpu.spreadOptions.ratio must be at least 1",
                "spec.cpu.spreadOptions.ratio"
            )]
        );
        // One vCPU never divides: no error.
        let objects = [
            cluster_it("it", it_body(1, "1Gi")),
            cluster_pref("p", objects[1]["spec"].clone()),
        ];
        assert!(expand(&vm, &source(&objects), &raw()).is_ok());
        // Across sockets, cores and threads KubeVirt's check tests the threads first and stops at an
        // odd count without dividing: its own message, the ratio printed as 0.
        let threads_first = json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "SocketsCoresThreads", "ratio": 0}}});
        for (guest, message) in [
            (
                3,
                "3 vCPUs provided by the instance type are not divisible by the number of threads per core 2 and Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of 0",
            ),
            (
                4,
                "spec.cpu.spreadOptions.ratio of the preference must be greater than 0 to spread vCPUs",
            ),
        ] {
            let objects = [
                cluster_it("it", it_body(guest, "1Gi")),
                cluster_pref("p", threads_first.clone()),
            ];
            let checks = vm_admission_checks(&vm, &source(&objects), &with_defaults());
            assert_eq!(
                checks.apply_causes,
                Some(vec![invalid(message, "instancetype.spec.cpu.guest")]),
                "{guest}"
            );
        }
    }

    #[test]
    fn q3_non_divisible_spread_truncates_in_expand_and_is_rejected_in_admission() {
        let vm = vm(
            json!({"instancetype": {"name": "it"}, "preference": {"name": "p"}}),
            json!({}),
        );
        let objects = [
            cluster_it("it", it_body(5, "1Gi")),
            cluster_pref("p", json!({"cpu": {"preferredCPUTopology": "spread"}})),
        ];
        let expanded = expand_ok(&vm, &objects, &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"cores": 2, "sockets": 2, "threads": 1})
        );
        let checks = vm_admission_checks(&vm, &source(&objects), &with_defaults());
        assert_eq!(checks.apply_causes.unwrap()[0].field, "instancetype.spec.cpu.guest");
    }

    #[test]
    fn q4_dedicated_cpu_placement_path_spelling_and_sorted_annotations() {
        let found = conflicts(
            it_with(json!({"cpu": {"dedicatedCPUPlacement": false}, "annotations": {"z": "1", "a": "1"}})),
            json!({"domain": {"cpu": {"dedicatedCpuPlacement": true}}}),
            json!({"annotations": {"z": "2", "a": "2"}}),
        );
        assert_eq!(
            found,
            vec![
                "spec.template.spec.domain.cpu.dedicatedCPUPlacement".to_owned(),
                "annotations.a".to_owned(),
                "annotations.z".to_owned()
            ]
        );
    }

    #[test]
    fn q5_first_memory_conflict_only_and_max_sockets_overwrites() {
        let found = conflicts(
            it_with(json!({"memory": {"maxGuest": "2Gi"}})),
            json!({"domain": {"memory": {"guest": "1Gi", "maxGuest": "1Gi"}}}),
            json!({}),
        );
        assert_eq!(found, vec![b("domain.memory.guest")]);
        let spec = apply_it(
            it_with(json!({"cpu": {"maxSockets": 2}})),
            json!({"domain": {"cpu": {"maxSockets": 9}}}),
        );
        assert_eq!(spec["domain"]["cpu"]["maxSockets"], json!(2));
    }

    #[test]
    fn q6_overrides_dead_vgpu_field_and_sound_fill_only() {
        let spec = apply_pref(
            json!({
                "features": {"preferredAcpi": {"enabled": false}},
                "devices": {"preferredDisableHotplug": true, "preferredSoundModel": "ich9",
                            "preferredVirtualGPUOptions": {"display": {"enabled": false}}}
            }),
            json!({"domain": {"features": {"acpi": {"enabled": true}}, "devices": {"disableHotplug": false,
                             "gpus": [{"name": "g", "deviceName": "d"}]}}}),
        );
        assert_eq!(spec["domain"]["features"]["acpi"], json!({"enabled": false}));
        assert_eq!(
            spec["domain"]["devices"],
            json!({"disableHotplug": true, "gpus": [{"name": "g", "deviceName": "d"}]})
        );
    }

    #[test]
    fn q7_autoattach_pod_interface_false_still_leaves_the_default_interface() {
        let vm = vm(json!({"preference": {"name": "p"}}), json!({}));
        let pref = cluster_pref("p", json!({"devices": {"preferredAutoattachPodInterface": false}}));
        let expanded = expand_ok(&vm, &[pref], &raw());
        let spec = tspec(&expanded);
        assert_eq!(
            spec["domain"]["devices"],
            json!({"interfaces": [{"name": "default", "bridge": {}}], "autoattachPodInterface": false})
        );
        assert_eq!(spec["networks"], json!([{"name": "default", "pod": {}}]));
    }

    #[test]
    fn q8_converted_v1alpha1_instancetypes_carry_set_model_placement_and_isolation() {
        let v1alpha1 = object(
            "instancetype.kubevirt.io/v1alpha1",
            "VirtualMachineInstancetype",
            "it",
            Some(NS),
            it_body(2, "1Gi"),
        );
        let objects = [revision("rev", Some("it"), v1alpha1)];
        let matchers =
            json!({"instancetype": {"name": "it", "kind": "VirtualMachineInstancetype", "revisionName": "rev"}});
        let cases = [
            (json!({"model": "Haswell"}), "domain.cpu.model"),
            (
                json!({"dedicatedCpuPlacement": true}),
                "domain.cpu.dedicatedCPUPlacement",
            ),
            (
                json!({"isolateEmulatorThread": true}),
                "domain.cpu.isolateEmulatorThread",
            ),
        ];
        for (cpu, path) in cases {
            let vm = vm(matchers.clone(), json!({"domain": {"cpu": cpu}}));
            assert_eq!(
                expand_err(&vm, &objects, &raw()),
                format!("VM field(s) {} conflicts with selected instance type", b(path))
            );
        }
        // Without those VM values, the always-set zero values write nothing.
        let expanded = expand_ok(&vm(matchers, json!({})), &objects, &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"cores": 1, "sockets": 2, "threads": 1})
        );
        // A v1beta1 instancetype without those fields does not conflict.
        let vm = vm(
            json!({"instancetype": {"name": "it"}}),
            json!({"domain": {"cpu": {"model": "Haswell", "dedicatedCpuPlacement": true, "isolateEmulatorThread": true}}}),
        );
        assert!(expand(&vm, &source(&[cluster_it("it", it_body(2, "1Gi"))]), &raw()).is_ok());
    }

    #[test]
    fn served_old_version_objects_are_read_as_v1beta1_not_converted() {
        // KubeVirt's instancetype CRDs serve every version with the same JSON (no conversion webhook)
        // and its finders read it as v1beta1: only a ControllerRevision's copy is converted (above).
        let mut body = it_body(2, "1Gi");
        body["cpu"]["maxSockets"] = json!(8);
        for version in ["instancetype.kubevirt.io/v1alpha1", "instancetype.kubevirt.io/v1alpha2"] {
            let live = object(version, "VirtualMachineInstancetype", "it", Some(NS), body.clone());
            let vm = vm(
                json!({"instancetype": {"name": "it", "kind": "VirtualMachineInstancetype"}}),
                json!({"domain": {"cpu": {"model": "Haswell"}}}),
            );
            let expanded = expand_ok(&vm, &[live], &raw());
            let cpu = &tspec(&expanded)["domain"]["cpu"];
            assert_eq!(cpu["model"], json!("Haswell"), "{version}: no conflict on cpu.model");
            assert_eq!(cpu["maxSockets"], json!(8), "{version}: a v1beta1 field is kept");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fields expansion does not own come through untouched.
// ---------------------------------------------------------------------------------------------
mod data_preservation {
    use super::*;

    fn rich_vm() -> Value {
        json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "x-top": {"deep": [1, {"deeper": null}]},
            "metadata": {"name": "vm", "namespace": NS, "labels": {"l": "v"}, "x-meta": 1,
                         "annotations": {"z": "1", "a": "2"}},
            "spec": {
                "x-spec": "s",
                "instancetype": {"name": "it"},
                "preference": {"name": "p"},
                "dataVolumeTemplates": [{"metadata": {"name": "dv"}, "spec": {"x-dv": true, "storage": {}}}],
                "template": {
                    "x-template": [],
                    "metadata": {"x-tmeta": {"k": "v"}, "labels": {"app": "a"}},
                    "spec": {
                        "x-vmi": 3.5,
                        "domain": {
                            "x-domain": {"a": {"b": {"c": "d"}}},
                            "cpu": {"x-cpu": "keep"},
                            "memory": {"x-memory": 0},
                            "devices": {
                                "x-devices": false,
                                "disks": [{"name": "root", "x-disk": {"n": 1}, "disk": {"x-target": "t"}}],
                                "interfaces": [{"name": "default", "masquerade": {"x-binding": 1}, "x-iface": "i"}]
                            },
                            "features": {"x-features": 1}
                        },
                        "networks": [{"name": "default", "pod": {"x-pod": 1}}],
                        "volumes": [{"name": "root", "containerDisk": {"image": "img:1", "x-cd": "c"}, "x-vol": 2}]
                    }
                }
            },
            "status": {"x-status": {"phase": "p"}, "preferenceRef": {"name": "p"}}
        })
    }

    fn objects() -> Vec<Value> {
        vec![
            cluster_it("it", it_body(2, "1Gi")),
            cluster_pref(
                "p",
                json!({"devices": {"preferredDiskBus": "virtio", "preferredInterfaceModel": "virtio"},
                       "features": {"preferredSmm": {}}}),
            ),
        ]
    }

    /// Every (path, value) of a JSON value whose key starts with `x-`.
    fn unknown_fields(value: &Value, path: &str, found: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_path = format!("{path}/{key}");
                    if key.starts_with("x-") {
                        found.push((child_path.clone(), child.clone()));
                    }
                    unknown_fields(child, &child_path, found);
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    unknown_fields(item, &format!("{path}/{index}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn unknown_fields_survive_at_every_depth() {
        let vm = rich_vm();
        let mut before = Vec::new();
        unknown_fields(&vm, "", &mut before);
        assert_eq!(before.len(), 20, "the fixture has 20 unknown fields");
        for options in [raw(), with_defaults()] {
            let expanded = expand_ok(&vm, &objects(), &options);
            let mut after = Vec::new();
            unknown_fields(&expanded, "", &mut after);
            assert_eq!(after, before);
        }
    }

    #[test]
    fn existing_key_order_is_kept_and_new_keys_are_appended() {
        let expanded = expand_ok(&rich_vm(), &objects(), &raw());
        let keys = |value: &Value| value.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&expanded),
            ["apiVersion", "kind", "x-top", "metadata", "spec", "status"]
        );
        assert_eq!(
            keys(&expanded["metadata"]),
            ["name", "namespace", "labels", "x-meta", "annotations"]
        );
        assert_eq!(keys(&expanded["metadata"]["annotations"]), ["z", "a"]);
        assert_eq!(keys(&expanded["spec"]), ["x-spec", "dataVolumeTemplates", "template"]);
        assert_eq!(keys(tspec(&expanded)), ["x-vmi", "domain", "networks", "volumes"]);
        assert_eq!(
            keys(&tspec(&expanded)["domain"]),
            ["x-domain", "cpu", "memory", "devices", "features"]
        );
        assert_eq!(
            keys(&tspec(&expanded)["domain"]["cpu"]),
            ["x-cpu", "cores", "sockets", "threads"]
        );
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["disks"],
            json!([{"name": "root", "x-disk": {"n": 1}, "disk": {"x-target": "t", "bus": "virtio"}}])
        );
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["interfaces"],
            json!([{"name": "default", "masquerade": {"x-binding": 1}, "x-iface": "i", "model": "virtio"}])
        );
        assert_eq!(expanded["status"], json!({"x-status": {"phase": "p"}}));
    }

    #[test]
    fn output_is_deterministic_byte_for_byte_with_the_same_lookups() {
        let mut outputs = Vec::new();
        let mut lookups = Vec::new();
        for _ in 0..3 {
            let recording = RecordingSource::new(source(&objects()));
            let expanded = expand(&rich_vm(), &recording, &with_defaults()).unwrap();
            outputs.push(serde_json::to_string(&expanded).unwrap());
            lookups.push(recording.requested());
        }
        assert!(outputs.windows(2).all(|pair| pair[0] == pair[1]));
        assert!(lookups.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(
            lookups[0],
            vec![
                ObjectRef::new(ResourceKind::ClusterInstancetype, None, "it"),
                ObjectRef::new(ResourceKind::ClusterPreference, None, "p"),
            ]
        );
    }

    #[test]
    fn expanding_an_expanded_vm_changes_nothing() {
        let expanded = expand_ok(&rich_vm(), &objects(), &with_defaults());
        assert_eq!(expand_ok(&expanded, &[], &with_defaults()), expanded);
    }

    #[test]
    fn the_input_vm_is_not_modified() {
        let vm = rich_vm();
        let copy = vm.clone();
        let _ = expand_ok(&vm, &objects(), &with_defaults());
        let _ = vm_admission_checks(&vm, &source(&objects()), &with_defaults());
        assert_eq!(vm, copy);
    }
}

// ---------------------------------------------------------------------------------------------
// KubeVirt's original flavor-era demo, end to end (issue 2).
// ---------------------------------------------------------------------------------------------
#[test]
fn flavor_era_demo() {
    let vm: Value = serde_json::from_str(include_str!("../data/examples/flavor-demo/vm.json")).unwrap();
    let objects: Vec<Value> = serde_json::from_str(include_str!("../data/examples/flavor-demo/objects.json")).unwrap();

    // The bundled data is what the issue describes.
    assert_eq!(vm["metadata"]["name"], json!("example"));
    assert_eq!(
        vm["spec"]["flavor"],
        json!({"name": "small", "kind": "VirtualMachineFlavor"})
    );
    assert_eq!(
        vm["spec"]["preference"],
        json!({"name": "virtio", "kind": "VirtualMachinePreference"})
    );
    assert_eq!(tspec(&vm)["domain"]["devices"], json!({}));
    assert_eq!(objects[0]["apiVersion"], json!("flavor.kubevirt.io/v1alpha1"));
    assert_eq!(objects[0]["kind"], json!("VirtualMachineFlavor"));
    assert_eq!(
        objects[0]["spec"],
        json!({"cpu": {"guest": 2}, "memory": {"guest": "128Mi"}})
    );
    assert_eq!(objects[1]["apiVersion"], json!("flavor.kubevirt.io/v1alpha1"));
    assert_eq!(objects[1]["kind"], json!("VirtualMachinePreference"));
    assert_eq!(
        objects[1]["spec"],
        json!({"devices": {"preferredDiskBus": "virtio", "preferredInterfaceModel": "virtio"}})
    );

    for options in [with_defaults(), raw()] {
        let recording = RecordingSource::new(source(&objects));
        let expanded = expand(&vm, &recording, &options).unwrap();
        assert_eq!(
            recording.requested(),
            vec![
                ObjectRef::new(ResourceKind::Flavor, Some(NS), "small"),
                ObjectRef::new(ResourceKind::FlavorPreference, Some(NS), "virtio"),
            ]
        );
        let spec = tspec(&expanded);
        let devices = &spec["domain"]["devices"];
        assert_eq!(
            devices["disks"],
            json!([{"name": "containerdisk", "disk": {"bus": "virtio"}},
                   {"name": "cloudinitdisk", "disk": {"bus": "virtio"}}])
        );
        assert_eq!(
            devices["interfaces"],
            json!([{"name": "default", "bridge": {}, "model": "virtio"}])
        );
        assert_eq!(spec["networks"], json!([{"name": "default", "pod": {}}]));
        assert_eq!(spec["domain"]["cpu"], json!({"cores": 1, "sockets": 2, "threads": 1}));
        assert_eq!(spec["domain"]["memory"], json!({"guest": "128Mi"}));
        assert_eq!(spec["volumes"][0]["name"], json!("containerdisk"));
        assert_eq!(
            spec["volumes"][1]["cloudInitNoCloud"],
            tspec(&vm)["volumes"][1]["cloudInitNoCloud"]
        );
        let spec_keys: Vec<&String> = expanded["spec"].as_object().unwrap().keys().collect();
        assert_eq!(spec_keys, ["running", "template"], "matchers removed, the rest kept");
        assert_eq!(expanded["metadata"], vm["metadata"]);
    }

    // With KubeVirt's defaults on, only the documented defaults are added on top.
    let expanded = expand(&vm, &source(&objects), &with_defaults()).unwrap();
    let spec = tspec(&expanded);
    assert_eq!(spec["architecture"], json!("amd64"));
    assert_eq!(spec["evictionStrategy"], json!("None"));
    assert_eq!(spec["domain"]["machine"], json!({"type": "q35"}));
    assert_eq!(
        spec["volumes"][0]["containerDisk"]["imagePullPolicy"],
        json!("IfNotPresent")
    );

    // KubeVirt's VM admission has nothing against it.
    let checks = vm_admission_checks(&vm, &source(&objects), &with_defaults());
    assert!(checks.is_allowed(), "{checks:?}");
    assert_eq!(check_matchers(&vm, None).unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// §1.6 Admission of the instancetype/preference objects themselves
// ---------------------------------------------------------------------------------------------
mod objects_1_6 {
    use super::*;
    use kubevirt_instancetype::engine::object_validation::validate_object;

    #[test]
    fn instancetype_causes_and_warning() {
        #[rustfmt::skip]
        let cases: Vec<(&str, Value, Vec<Cause>, Vec<&str>)> = vec![
            ("valid", json!({}), vec![], vec![]),
            ("percent above 100", json!({"memory": {"overcommitPercent": 101}}),
             vec![invalid("spec.memory.overcommitPercent '101': must be in range between 0 and 100.", "spec.memory.overcommitPercent")],
             vec![]),
            ("negative percent with hugepages", json!({"memory": {"overcommitPercent": -1, "hugepages": {"pageSize": "2Mi"}}}),
             vec![invalid("spec.memory.overcommitPercent '-1': must be in range between 0 and 100.", "spec.memory.overcommitPercent"),
                  invalid("spec.memory.overcommitPercent and spec.memory.hugepages should not be requested together.", "spec.memory.overcommitPercent")],
             vec![]),
            ("launchSecurity warns", json!({"launchSecurity": {"sev": {}}}), vec![],
             vec!["launchSecurity is deprecated and will be removed in a future release. Use preference instead."]),
            ("no warning when rejected", json!({"launchSecurity": {}, "memory": {"overcommitPercent": 200}}),
             vec![invalid("spec.memory.overcommitPercent '200': must be in range between 0 and 100.", "spec.memory.overcommitPercent")],
             vec![]),
        ];
        for (name, extra, causes, warnings) in cases {
            for object in [
                cluster_it("it", it_with(extra.clone())),
                ns_it("it", it_with(extra.clone())),
            ] {
                let validation = validate_object(&object);
                assert_eq!(validation.causes, causes, "{name}");
                assert_eq!(validation.warnings, warnings, "{name}");
            }
        }
    }

    #[test]
    fn preference_causes_and_warnings() {
        #[rustfmt::skip]
        let cases: Vec<(&str, Value, Vec<Cause>, Vec<&str>)> = vec![
            ("valid spread", json!({"cpu": {"preferredCPUTopology": "spread"}}), vec![], vec![]),
            ("unknown topology", json!({"cpu": {"preferredCPUTopology": "diagonal"}}),
             vec![invalid("unknown preferredCPUTopology diagonal", "spec.cpu.preferredCPUTopology")], vec![]),
            ("unsupported across", json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "Sockets"}}}),
             vec![invalid("across Sockets is not supported", "spec.cpu.spreadOptions.across")], vec![]),
            ("across only checked for spread", json!({"cpu": {"preferredCPUTopology": "cores", "spreadOptions": {"across": "Sockets"}}}),
             vec![], vec![]),
            ("CoresThreads needs ratio 2", json!({"cpu": {"preferredCPUTopology": "preferSpread", "spreadOptions": {"across": "CoresThreads", "ratio": 3}}}),
             vec![invalid("only a ratio of 2 (1 core 2 threads) is allowed when spreading vCPUs over cores and threads", "spec.cpu.spreadOptions.ratio")],
             vec![]),
            ("CoresThreads legacy ratio counts", json!({"preferSpreadSocketToCoreRatio": 4, "cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "CoresThreads"}}}),
             vec![invalid("only a ratio of 2 (1 core 2 threads) is allowed when spreading vCPUs over cores and threads", "spec.cpu.spreadOptions.ratio")],
             vec![]),
            ("deprecated topology warns", json!({"cpu": {"preferredCPUTopology": "preferThreads"}}), vec![],
             vec!["PreferredCPUTopology preferThreads is deprecated for removal in a future release, please use threads instead"]),
        ];
        for (name, spec, causes, warnings) in cases {
            for object in [cluster_pref("p", spec.clone()), ns_pref("p", spec.clone())] {
                let validation = validate_object(&object);
                assert_eq!(validation.causes, causes, "{name}");
                assert_eq!(validation.warnings, warnings, "{name}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §2.5 Inference from volumes (through expand)
// ---------------------------------------------------------------------------------------------
mod inference_2_5 {
    use super::*;

    /// `raw()` with inference on: KubeVirt infers at VM admission, before any expansion; the
    /// engine's `expand` does it only when asked (`virtctl expand` never does).
    fn raw() -> ExpandOptions {
        ExpandOptions {
            infer_from_volumes: true,
            ..super::raw()
        }
    }

    fn pvc(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": name, "namespace": NS, "labels": labels}, "spec": {}})
    }

    fn labelled_pvc() -> Value {
        pvc(
            "disk",
            json!({
                "instancetype.kubevirt.io/default-instancetype": "it",
                "instancetype.kubevirt.io/default-instancetype-kind": "VirtualMachineInstancetype",
                "instancetype.kubevirt.io/default-preference": "p"
            }),
        )
    }

    fn objects() -> Vec<Value> {
        vec![
            labelled_pvc(),
            ns_it("it", it_body(3, "3Gi")),
            cluster_pref("p", json!({"cpu": {"preferredCPUTopology": "cores"}})),
        ]
    }

    fn root(volume: Value) -> Value {
        json!({"volumes": [merge(json!({"name": "root"}), volume)]})
    }

    #[test]
    fn matchers_are_inferred_from_pvc_labels() {
        let vm = vm(
            json!({"instancetype": {"inferFromVolume": "root"}, "preference": {"inferFromVolume": "root"}}),
            root(json!({"persistentVolumeClaim": {"claimName": "disk"}})),
        );
        let expanded = expand_ok(&vm, &objects(), &raw());
        assert_eq!(
            tspec(&expanded)["domain"]["cpu"],
            json!({"cores": 3, "sockets": 1, "threads": 1})
        );
        assert_eq!(tspec(&expanded)["domain"]["memory"], json!({"guest": "3Gi"}));
    }

    #[test]
    fn failures_and_their_messages() {
        #[rustfmt::skip]
        let cases = [
            ("missing volume", json!({"inferFromVolume": "nope"}), root(json!({"emptyDisk": {}})),
             "unable to find volume nope to infer defaults"),
            ("unsupported volume type", json!({"inferFromVolume": "root"}), root(json!({"containerDisk": {"image": "i"}})),
             "unable to infer defaults from volume root as type is not supported"),
            ("missing name label", json!({"inferFromVolume": "root"}), root(json!({"persistentVolumeClaim": {"claimName": "bare"}})),
             "unable to find required instancetype.kubevirt.io/default-instancetype label on the volume"),
            ("missing pvc", json!({"inferFromVolume": "root"}), root(json!({"persistentVolumeClaim": {"claimName": "gone"}})),
             r#"persistentvolumeclaims "gone" not found"#),
        ];
        let mut objects = objects();
        objects.push(pvc("bare", json!({})));
        for (name, matcher, template, message) in cases {
            let vm = vm(json!({ "instancetype": matcher }), template);
            assert_eq!(expand_err(&vm, &objects, &raw()), message, "{name}");
        }
    }

    #[test]
    fn ignore_policy_drops_the_matcher_only_for_ignorable_failures() {
        let vm = vm(
            json!({"instancetype": {"inferFromVolume": "root", "inferFromVolumeFailurePolicy": "Ignore"}}),
            root(json!({"containerDisk": {"image": "i"}})),
        );
        let expanded = expand_ok(&vm, &objects(), &raw());
        assert!(expanded["spec"].get("instancetype").is_none());
        assert!(tspec(&expanded)["domain"].get("cpu").is_none(), "{expanded:#}");
        // The VM then references nothing: it comes back as KubeVirt's webhook leaves it, the matcher
        // gone and nothing else written (no default disk or interface, no VMI defaults), as `Expand`
        // hands back any VM without matchers.
        let mut unreferenced = vm.clone();
        unreferenced["spec"].as_object_mut().unwrap().remove("instancetype");
        let with_vmi_defaults = ExpandOptions {
            vmi_defaults: true,
            ..raw()
        };
        for options in [raw(), with_vmi_defaults] {
            assert_eq!(expand_ok(&vm, &objects(), &options), unreferenced);
        }
        // With a preference still referenced, the VM is expanded (its default disk written).
        let mut with_preference = vm.clone();
        with_preference["spec"]["preference"] = json!({"name": "p"});
        let expanded = expand_ok(&with_preference, &objects(), &raw());
        assert!(expanded["spec"].get("preference").is_none());
        assert_eq!(
            tspec(&expanded)["domain"]["devices"]["disks"],
            json!([{"name": "root"}])
        );
        // A missing volume is never ignorable.
        let missing = super::vm(
            json!({"instancetype": {"inferFromVolume": "nope", "inferFromVolumeFailurePolicy": "Ignore"}}),
            root(json!({"containerDisk": {"image": "i"}})),
        );
        assert_eq!(
            expand_err(&missing, &objects(), &raw()),
            "unable to find volume nope to infer defaults"
        );
    }

    #[test]
    fn references_into_other_namespaces_are_followed_only_when_allowed() {
        let vm = merge(
            vm(
                json!({"instancetype": {"inferFromVolume": "root"}}),
                root(json!({"dataVolume": {"name": "root"}})),
            ),
            json!({"spec": {"dataVolumeTemplates": [{"metadata": {"name": "root"},
                    "spec": {"sourceRef": {"kind": "DataSource", "name": "fedora", "namespace": "os-images"}}}]}}),
        );
        let mut objects = objects();
        objects.push(json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource",
            "metadata": {"name": "fedora", "namespace": "os-images",
                         "labels": {"instancetype.kubevirt.io/default-instancetype": "it",
                                    "instancetype.kubevirt.io/default-instancetype-kind": "VirtualMachineInstancetype"}},
            "spec": {"source": {}}}));
        let refused = expand_err(&vm, &objects, &raw());
        assert!(
            refused.starts_with(
                "unable to infer defaults from volume root: spec.dataVolumeTemplates[0].spec.sourceRef.namespace"
            ) && refused.ends_with("cross-namespace inference is not allowed"),
            "{refused}"
        );
        let allowed = ExpandOptions {
            allow_cross_namespace_inference: true,
            ..raw()
        };
        let expanded = expand_ok(&vm, &objects, &allowed);
        assert_eq!(tspec(&expanded)["domain"]["memory"], json!({"guest": "3Gi"}));
    }

    #[test]
    fn successful_inference_with_ignore_clears_the_vm_memory() {
        let mut template = root(json!({"persistentVolumeClaim": {"claimName": "disk"}}));
        template["domain"] = json!({"memory": {"guest": "1Gi"}});
        let matcher =
            |policy: &str| json!({"instancetype": {"inferFromVolume": "root", "inferFromVolumeFailurePolicy": policy}});
        let expanded = expand_ok(&vm(matcher("Ignore"), template.clone()), &objects(), &raw());
        assert_eq!(tspec(&expanded)["domain"]["memory"], json!({"guest": "3Gi"}));
        // With Reject the VM's memory stays and conflicts.
        assert_eq!(
            expand_err(&vm(matcher("Reject"), template), &objects(), &raw()),
            "VM field(s) spec.template.spec.domain.memory.guest conflicts with selected instance type"
        );
    }
}
