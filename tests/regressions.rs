//! Regression tests for what fuzzing and the hostile-input suite found (docs/hardening.md lists
//! each finding). Fuzzing stays out of `make test`; these stay in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::lookup::InMemorySource;
use kubevirt_instancetype::engine::quantity::{Format, Quantity};
use kubevirt_instancetype::policy::settings::validate_settings;
use kubevirt_instancetype::policy::validate;
use serde_json::{Value, json};

fn cluster() -> InMemorySource {
    let mut source = InMemorySource::new();
    source
        .insert(
            json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
                   "metadata": {"name": "u1.medium"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}}}),
            None,
        )
        .unwrap();
    source
}

fn vm_request_text(extra: &str, version: &str) -> String {
    format!(
        r#"{{"request": {{"uid": "r", "kind": {{"group": "kubevirt.io", "version": "{version}", "kind": "VirtualMachine"}},
            "operation": "CREATE", "namespace": "vms", "name": "vm1",
            "object": {{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {{"name": "vm1"}},
              "spec": {{"instancetype": {{"name": "u1.medium"}}, {extra}
                "template": {{"spec": {{"domain": {{"devices": {{}}}}}}}}}}}}}}, "settings": {{}}}}"#
    )
}

/// Fuzzing (expand, settings): serde_json parsed floats approximately, so a float in a field the
/// expansion does not own came back with another last digit, and the host's JSON patch rewrote it.
/// Fixed by serde_json's `float_roundtrip` feature.
#[test]
fn floats_outside_the_write_set_come_back_bit_for_bit() {
    for text in [
        "1.0850704503810997e+270",
        "1.7369343990923914e+98",
        "0.30000000000000004",
        "5e-324",
        "1.7976931348623157e308",
    ] {
        let payload = vm_request_text(&format!(r#""x-float": {text},"#), "v1");
        let response = validate(payload.as_bytes(), &cluster());
        let mutated = response.mutated_object.expect("expanded");
        let original: Value = serde_json::from_str::<Value>(&payload).unwrap()["request"]["object"].clone();
        assert_eq!(mutated["spec"]["x-float"], original["spec"]["x-float"], "{text}");
        assert_eq!(
            mutated["spec"]["x-float"].as_f64().unwrap().to_bits(),
            text.parse::<f64>().unwrap().to_bits(),
            "{text} is not parsed exactly"
        );
    }
    // The same floats in refused settings are reported as written.
    let response = validate_settings(br#"{"allowedInstancetypes": 1.7369343990923914e+98}"#);
    let message = response.message.unwrap();
    assert!(message.contains("1.7369343990923914e+98"), "{message}");
}

/// Hostile-input suite: a VM of an API version the policy does not know was expanded as if it were
/// `kubevirt.io/v1`. Now admitted untouched with a warning (`v1alpha3`, an alias of `v1`, is expanded).
#[test]
fn a_virtual_machine_of_an_unknown_version_is_not_rewritten() {
    let response = validate(vm_request_text("", "v2").as_bytes(), &cluster());
    assert!(response.accepted);
    assert_eq!(response.mutated_object, None);
    assert_eq!(
        response.warnings,
        Some(vec![
            "VirtualMachine \"vm1\" is neither expanded nor validated: this policy does not know API version kubevirt.io/v2"
                .to_owned()
        ])
    );
    let alias = validate(vm_request_text("", "v1alpha3").as_bytes(), &cluster());
    assert!(alias.accepted && alias.mutated_object.is_some());
}

/// Hostile-input suite: default disks, CPU features and pod-network matching searched lists
/// linearly for every element (10,000 disks took seconds). The result is unchanged by the fix:
/// first network of a name wins, existing disks and features are kept, missing disks appended.
#[test]
fn large_vms_keep_first_match_semantics() {
    let mut source = cluster();
    source
        .insert(
            json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference",
                   "metadata": {"name": "p"}, "spec": {"devices": {"preferredInterfaceModel": "virtio", "preferredInterfaceMasquerade": {}},
                   "cpu": {"preferredCPUFeatures": [{"name": "f1", "policy": "require"}, {"name": "new", "policy": "require"}]}}}),
            None,
        )
        .unwrap();
    let volumes: Vec<Value> = (0..3000)
        .map(|i| json!({"name": format!("v{i}"), "emptyDisk": {"capacity": "1Gi"}}))
        .collect();
    let disks: Vec<Value> = (0..3000)
        .step_by(2)
        .map(|i| json!({"name": format!("v{i}"), "disk": {"bus": "sata"}}))
        .collect();
    let interfaces: Vec<Value> = (0..2000).map(|i| json!({"name": format!("n{i}")})).collect();
    // Every name twice; the first definition decides (pod for even, multus for odd).
    let mut networks: Vec<Value> = (0..2000)
        .map(|i| {
            if i % 2 == 0 {
                json!({"name": format!("n{i}"), "pod": {}})
            } else {
                json!({"name": format!("n{i}"), "multus": {"networkName": "x"}})
            }
        })
        .collect();
    networks.extend((0..2000).map(|i| json!({"name": format!("n{i}"), "pod": {}})));
    let vm = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "big", "namespace": "vms"},
        "spec": {"preference": {"name": "p"}, "template": {"spec": {
            "domain": {"cpu": {"features": [{"name": "f1", "policy": "disable"}]}, "devices": {"disks": disks, "interfaces": interfaces}},
            "networks": networks, "volumes": volumes}}}});
    let payload = serde_json::to_vec(
        &json!({"request": {"uid": "r", "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"},
        "operation": "CREATE", "namespace": "vms", "object": vm}, "settings": {"vmiDefaults": false}}),
    )
    .unwrap();
    let response = validate(&payload, &source);
    let expanded = response
        .mutated_object
        .clone()
        .unwrap_or_else(|| panic!("{response:?}"));
    let domain = &expanded["spec"]["template"]["spec"]["domain"];
    let disks = domain["devices"]["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 3000);
    assert_eq!(disks[0], json!({"name": "v0", "disk": {"bus": "sata"}}));
    assert_eq!(disks[1500]["name"], "v1", "missing disks are appended in volume order");
    assert_eq!(
        domain["cpu"]["features"],
        json!([{"name": "f1", "policy": "disable"}, {"name": "new", "policy": "require"}])
    );
    let interfaces = domain["devices"]["interfaces"].as_array().unwrap();
    assert_eq!(
        interfaces[0],
        json!({"name": "n0", "model": "virtio", "masquerade": {}})
    );
    assert_eq!(
        interfaces[1],
        json!({"name": "n1", "model": "virtio"}),
        "the first n1 network is not a pod network"
    );
}

/// Fuzzing (quantity) refined a property rather than the parser: the canonical form of a BinarySI
/// quantity that is not a multiple of a power of 1024 has no suffix, so it reads back as DecimalSI
/// and canonicalizes once more, exactly as Kubernetes does (`562.50Ki` → `576000` → `576k`).
#[test]
fn binary_si_canonical_form_reads_back_as_decimal_si() {
    let quantity = Quantity::parse("562.50Ki").unwrap();
    assert_eq!(quantity.format(), Format::BinarySI);
    assert_eq!(quantity.canonicalize(), "576000");
    let again = Quantity::parse("576000").unwrap();
    assert_eq!(again, quantity);
    assert_eq!(again.format(), Format::DecimalSI);
    assert_eq!(again.canonicalize(), "576k");
    assert_eq!(Quantity::parse("576k").unwrap().canonicalize(), "576k");
}

/// Fuzzing (quantity): `154000e10000` was accepted (the suffix's exponent is within the cap) but is
/// 154 × 10^10003, whose canonical form `1540e10002` the parser then refused: an expansion could
/// write a quantity the policy could not read back. The value's own exponent is now capped too.
#[test]
fn every_accepted_quantity_formats_to_a_parseable_string() {
    let refused = Quantity::parse("154000e10000").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "quantity exponent 10003 is out of the supported range -10000..=10000"
    );
    for digits in ["1", "10", "100", "154", "154000", "999", "1.5", "0.001"] {
        for exponent in 9_990..=10_000 {
            for suffix in ["e", "E"] {
                let text = format!("{digits}{suffix}{exponent}");
                let Ok(quantity) = Quantity::parse(&text) else { continue };
                let canonical = quantity.canonicalize();
                let again = Quantity::parse(&canonical).unwrap_or_else(|e| panic!("{text} → {canonical}: {e}"));
                assert_eq!(again, quantity, "{text}");
            }
        }
    }
    let digits = format!("1{}E", "0".repeat(20_000));
    assert!(Quantity::parse(&digits).is_err(), "10^20018 written with the E suffix");
}
