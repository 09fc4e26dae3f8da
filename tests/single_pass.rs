//! `admission::expand_checked` (checks and expansion with one application, what `review_vm` does
//! first in expand mode) agrees with the two separate passes, `checks_with_specs` then
//! `expand_with_specs`: whenever it gives a VM, the checks pass and the expansion is that VM; and
//! whenever both passes succeed, it gives a VM (so the shortcut is taken in every passing case).
//! Over catalogue instancetypes and preferences, VM shapes that trip each step (defaults that add
//! disks or an interface, conflicts, requirements, malformed devices) and cluster settings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::admission::{checks_with_specs, expand_checked};
use kubevirt_instancetype::engine::expand::expand_with_specs;
use kubevirt_instancetype::engine::model::legacy::{instancetype_spec_from_object, preference_spec_from_object};
use kubevirt_instancetype::engine::model::{InstancetypeSpec, PreferenceSpec};
use kubevirt_instancetype::engine::options::ExpandOptions;
use serde_json::{Value, json};

fn bundle(file: &str) -> Vec<Value> {
    let path = format!("{}/data/common-instancetypes/{file}", env!("CARGO_MANIFEST_DIR"));
    match serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap() {
        Value::Array(items) => items,
        other => panic!("{path}: not an array: {other}"),
    }
}

fn base_vm() -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": "vms"},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": {"labels": {"app": "vm"}},
                "spec": {
                    "domain": {"devices": {"disks": [{"name": "root", "disk": {}}]}},
                    "volumes": [
                        {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}},
                        {"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config\n"}}
                    ]
                }
            }
        }
    })
}

/// VM shapes, each changing the base VM's template spec.
fn variants() -> Vec<(&'static str, Value)> {
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut vm = base_vm();
        f(&mut vm["spec"]["template"]["spec"]);
        vm
    };
    vec![
        ("default disk and interface added", base_vm()),
        (
            "interfaces and networks given",
            edit(&|spec| {
                spec["domain"]["devices"]["interfaces"] = json!([{"name": "default", "masquerade": {}}]);
                spec["networks"] = json!([{"name": "default", "pod": {}}]);
            }),
        ),
        (
            "no pod interface",
            edit(&|spec| spec["domain"]["devices"]["autoattachPodInterface"] = json!(false)),
        ),
        (
            "cpu conflict",
            edit(&|spec| spec["domain"]["cpu"] = json!({"sockets": 2})),
        ),
        (
            "memory conflict",
            edit(&|spec| spec["domain"]["memory"] = json!({"guest": "1Gi"})),
        ),
        ("arm64", edit(&|spec| spec["architecture"] = json!("arm64"))),
        (
            "disks not an array",
            edit(&|spec| spec["domain"]["devices"]["disks"] = json!({})),
        ),
        (
            "interfaces malformed",
            edit(&|spec| spec["domain"]["devices"]["interfaces"] = json!("eth0")),
        ),
        ("volumes malformed", edit(&|spec| spec["volumes"] = json!(7))),
        (
            "bad cpu limit",
            edit(&|spec| spec["domain"]["resources"] = json!({"limits": {"cpu": "lots"}})),
        ),
        (
            "bad machine",
            edit(&|spec| spec["domain"]["machine"] = json!({"type": 1})),
        ),
        ("no template spec", {
            let mut vm = base_vm();
            vm["spec"]["template"] = json!({});
            vm
        }),
    ]
}

fn option_sets() -> Vec<(&'static str, ExpandOptions)> {
    let mut masquerade = ExpandOptions::default();
    masquerade.cluster.default_network_interface = "masquerade".into();
    let mut bridge_forbidden = ExpandOptions::default();
    bridge_forbidden.cluster.permit_bridge_interface_on_pod_network = false;
    let no_defaults = ExpandOptions {
        vmi_defaults: false,
        ..ExpandOptions::default()
    };
    vec![
        ("default", ExpandOptions::default()),
        ("masquerade", masquerade),
        ("bridge forbidden", bridge_forbidden),
        ("no VMI defaults", no_defaults),
    ]
}

/// Checks one case both ways; returns whether the shortcut gave a VM.
fn agree(
    label: &str,
    vm: &Value,
    instancetype: Option<&InstancetypeSpec>,
    preference: Option<&PreferenceSpec>,
    options: &ExpandOptions,
) -> bool {
    let shortcut = expand_checked(vm, instancetype, preference, options);
    let checks = checks_with_specs(vm, instancetype, preference, options);
    let expanded = expand_with_specs(vm.clone(), instancetype, preference, options);
    match shortcut {
        Some(shortcut) => {
            assert!(
                checks.is_allowed(),
                "{label}: shortcut expanded a VM the checks refuse: {checks:?}"
            );
            assert_eq!(
                expanded.as_ref(),
                Ok(&shortcut),
                "{label}: shortcut differs from the expansion"
            );
            true
        }
        None => {
            let applicable = options.vmi_defaults && (instancetype.is_some() || preference.is_some());
            assert!(
                !(applicable && checks.is_allowed() && expanded.is_ok()),
                "{label}: both passes succeed but the shortcut gave nothing"
            );
            false
        }
    }
}

#[test]
fn one_application_agrees_with_checks_then_expansion() {
    let instancetypes: Vec<(String, InstancetypeSpec)> = bundle("common-clusterinstancetypes-bundle.json")
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                instancetype_spec_from_object(o).unwrap(),
            )
        })
        .collect();
    let preferences: Vec<(String, PreferenceSpec)> = bundle("common-clusterpreferences-bundle.json")
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                preference_spec_from_object(o).unwrap(),
            )
        })
        .collect();
    // Every preference with a few instancetypes, every instancetype with a few preferences, and each
    // alone: the pairs that differ in what they apply, without the whole 65 × 55 matrix.
    let some_instancetypes = ["u1.medium", "cx1.large", "m1.xlarge", "n1.medium", "o1.small"];
    let some_preferences = ["fedora", "windows.11", "rhel.9", "alpine", "centos.stream9"];
    let mut pairs: Vec<(String, Option<&InstancetypeSpec>, Option<&PreferenceSpec>)> = Vec::new();
    for (it_name, it) in &instancetypes {
        let it_wanted = some_instancetypes.contains(&it_name.as_str());
        pairs.push((format!("{it_name}/-"), Some(it), None));
        for (pref_name, pref) in &preferences {
            if it_wanted || some_preferences.contains(&pref_name.as_str()) {
                pairs.push((format!("{it_name}/{pref_name}"), Some(it), Some(pref)));
            }
        }
    }
    for (pref_name, pref) in &preferences {
        pairs.push((format!("-/{pref_name}"), None, Some(pref)));
    }
    pairs.push(("-/-".into(), None, None));

    let (mut taken, mut refused) = (0usize, 0usize);
    for (variant, vm) in variants() {
        for (options_name, options) in option_sets() {
            for (pair, instancetype, preference) in &pairs {
                let label = format!("{pair}, {variant}, {options_name}");
                if agree(&label, &vm, *instancetype, *preference, &options) {
                    taken += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    // Both outcomes must be exercised for the agreement to mean anything.
    assert!(taken > 1000, "shortcut taken {taken} times");
    assert!(refused > 1000, "shortcut refused {refused} times");
}
