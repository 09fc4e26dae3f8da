//! The error for every VM field the expansion reads or writes with the wrong JSON shape names that
//! field exactly (`spec.template.spec.domain.devices.disks[1].disk: expected an object, found number`).
//! The paths are built only when an error happens (`json::FieldPath`), so each one is checked here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kubevirt_instancetype::engine::expand::expand_with_specs;
use kubevirt_instancetype::engine::model::{InstancetypeSpec, PreferenceSpec};
use kubevirt_instancetype::engine::options::ExpandOptions;
use serde_json::{Value, json};

/// A VM with two disks, an interface on the pod network, an input and a sound device, so that the
/// preference has something to do in each.
fn base_vm() -> Value {
    let devices = json!({
        "disks": [{"name": "root", "disk": {}}, {"name": "data", "disk": {}}],
        "interfaces": [{"name": "default"}],
        "inputs": [{"name": "tablet"}],
        "sound": {"name": "audio"}
    });
    let image = json!({"image": "quay.io/containerdisks/fedora:41"});
    let template_spec = json!({
        "domain": {"devices": devices},
        "networks": [{"name": "default", "pod": {}}],
        "volumes": [{"name": "root", "containerDisk": image}, {"name": "data", "containerDisk": image}]
    });
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "shapes"},
        "spec": {"template": {"metadata": {"labels": {"app": "shapes"}}, "spec": template_spec}}
    })
}

fn instancetype() -> InstancetypeSpec {
    serde_json::from_value(json!({
        "cpu": {"guest": 2},
        "memory": {"guest": "2Gi"},
        "ioThreads": {"supplementalPoolThreadCount": 2},
        "gpus": [{"name": "gpu", "deviceName": "nvidia.com/A"}],
        "annotations": {"team": "a"}
    }))
    .unwrap()
}

/// A preference that sets something in every part of the VMI the application edits; `firmware`
/// chooses BIOS or EFI.
fn preference(firmware: Value) -> PreferenceSpec {
    serde_json::from_value(json!({
        "cpu": {"preferredCPUFeatures": [{"name": "pcid", "policy": "require"}]},
        "devices": {
            "preferredDiskBus": "virtio",
            "preferredCdromBus": "sata",
            "preferredInterfaceModel": "virtio",
            "preferredInterfaceMasquerade": {},
            "preferredInputBus": "usb",
            "preferredInputType": "tablet",
            "preferredSoundModel": "ich9",
            "preferredVideoType": "virtio",
            "preferredPanicDeviceModel": "hyperv"
        },
        "features": {"preferredHyperv": {"relaxed": {}}},
        "firmware": firmware,
        "machine": {"preferredMachineType": "q35"},
        "clock": {"preferredClockOffset": {"utc": {}}},
        "preferredSubdomain": "sub",
        "preferredArchitecture": "amd64",
        "annotations": {"os": "linux"}
    }))
    .unwrap()
}

/// Sets `value` at `pointer` (below the VM), creating missing objects on the way.
fn set(vm: &mut Value, pointer: &str, value: Value) {
    let mut target = vm;
    let keys: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let (last, parents) = keys.split_last().unwrap();
    for key in parents {
        target = match target {
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            Value::Object(map) => map.entry(*key).or_insert_with(|| json!({})),
            other => panic!("{pointer}: cannot descend into {other}"),
        };
    }
    match target {
        Value::Array(items) => items[last.parse::<usize>().unwrap()] = value,
        Value::Object(map) => {
            map.insert((*last).to_owned(), value);
        }
        other => panic!("{pointer}: cannot set in {other}"),
    }
}

/// The error expanding the base VM with `value` at `pointer` (or a note that it expanded).
fn error_for(pointer: &str, value: Value, firmware: Value) -> String {
    let mut vm = base_vm();
    set(&mut vm, pointer, value);
    let it = instancetype();
    let pref = preference(firmware);
    match expand_with_specs(vm, Some(&it), Some(&pref), &ExpandOptions::default()) {
        Ok(_) => format!("{pointer}: expanded"),
        Err(error) => error.to_string(),
    }
}

const T: &str = "/spec/template/spec";

#[test]
fn every_malformed_field_is_named_exactly() {
    let bios = json!({"preferredUseBios": true, "preferredUseBiosSerial": true});
    let efi = json!({"preferredUseEfi": true, "preferredUseSecureBoot": true});
    // (where, what, firmware preference, the error)
    let cases: Vec<(String, Value, &Value, &str)> = vec![
        (
            format!("{T}/domain"),
            json!("x"),
            &bios,
            "spec.template.spec.domain: expected an object, found string",
        ),
        (
            format!("{T}/domain/cpu"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.cpu: expected an object, found string",
        ),
        (
            format!("{T}/domain/cpu/sockets"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.cpu.sockets: expected an unsigned 32-bit integer, found \"x\"",
        ),
        (
            format!("{T}/domain/cpu/model"),
            json!(5),
            &bios,
            "spec.template.spec.domain.cpu.model: expected a string, found number",
        ),
        (
            format!("{T}/domain/cpu/dedicatedCpuPlacement"),
            json!("yes"),
            &bios,
            "spec.template.spec.domain.cpu.dedicatedCpuPlacement: expected a boolean, found string",
        ),
        (
            format!("{T}/domain/cpu/features"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.cpu.features: expected an array, found string",
        ),
        (
            format!("{T}/domain/memory"),
            json!([]),
            &bios,
            "spec.template.spec.domain.memory: expected an object, found array",
        ),
        (
            format!("{T}/domain/ioThreads"),
            json!(1),
            &bios,
            "spec.template.spec.domain.ioThreads: expected an object, found number",
        ),
        (
            format!("{T}/domain/devices"),
            json!(3),
            &bios,
            "spec.template.spec.domain.devices: expected an object, found number",
        ),
        (
            format!("{T}/domain/devices/gpus"),
            json!({}),
            &bios,
            "spec.template.spec.domain.devices.gpus: expected an array, found object",
        ),
        (
            format!("{T}/domain/devices/disks"),
            json!({}),
            &bios,
            "spec.template.spec.domain.devices.disks: expected an array, found object",
        ),
        (
            format!("{T}/domain/devices/disks/1"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.disks[1]: expected an object, found string",
        ),
        (
            format!("{T}/domain/devices/disks/1/disk"),
            json!(7),
            &bios,
            "spec.template.spec.domain.devices.disks[1].disk: expected an object, found number",
        ),
        (
            format!("{T}/domain/devices/disks/1"),
            json!({"name":"data","cdrom":7}),
            &bios,
            "spec.template.spec.domain.devices.disks[1].cdrom: expected an object, found number",
        ),
        (
            format!("{T}/domain/devices/disks/1"),
            json!({"name":"data","lun":"x"}),
            &bios,
            "spec.template.spec.domain.devices.disks[1].lun: expected an object, found string",
        ),
        (
            format!("{T}/domain/devices/interfaces"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.interfaces: expected an array, found string",
        ),
        (
            format!("{T}/domain/devices/interfaces/0"),
            json!(1),
            &bios,
            "spec.template.spec.domain.devices.interfaces[0]: expected an object, found number",
        ),
        (
            format!("{T}/domain/devices/interfaces/0/name"),
            json!(5),
            &bios,
            "spec.template.spec.domain.devices.interfaces[0].name: expected a string, found number",
        ),
        (
            format!("{T}/domain/devices/inputs/0"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.inputs[0]: expected an object, found string",
        ),
        (
            format!("{T}/domain/devices/sound"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.sound: expected an object, found string",
        ),
        (
            format!("{T}/domain/devices/video"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.video: expected an object, found string",
        ),
        (
            format!("{T}/domain/devices/panicDevices"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.devices.panicDevices: expected an array, found string",
        ),
        (
            format!("{T}/domain/devices/panicDevices"),
            json!([{"model":"isa"},5]),
            &bios,
            "spec.template.spec.domain.devices.panicDevices[1]: expected an object, found number",
        ),
        (
            format!("{T}/domain/features"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.features: expected an object, found string",
        ),
        (
            format!("{T}/domain/features/hyperv"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.features.hyperv: expected an object, found string",
        ),
        (
            format!("{T}/domain/firmware"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.firmware: expected an object, found string",
        ),
        (
            format!("{T}/domain/firmware/bootloader"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.firmware.bootloader: expected an object, found string",
        ),
        (
            format!("{T}/domain/firmware/bootloader/bios"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.firmware.bootloader.bios: expected an object, found string",
        ),
        (
            format!("{T}/domain/firmware/bootloader/efi"),
            json!("x"),
            &efi,
            "spec.template.spec.domain.firmware.bootloader.efi: expected an object, found string",
        ),
        (
            format!("{T}/domain/machine"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.machine: expected an object, found string",
        ),
        (
            format!("{T}/domain/machine/type"),
            json!(5),
            &bios,
            "spec.template.spec.domain.machine.type: expected a string, found number",
        ),
        (
            format!("{T}/domain/clock"),
            json!("x"),
            &bios,
            "spec.template.spec.domain.clock: expected an object, found string",
        ),
        (
            format!("{T}/networks"),
            json!("x"),
            &bios,
            "spec.template.spec.networks: expected an array, found string",
        ),
        (
            format!("{T}/volumes"),
            json!("x"),
            &bios,
            "spec.template.spec.volumes: expected an array, found string",
        ),
        (
            format!("{T}/subdomain"),
            json!(5),
            &bios,
            "spec.template.spec.subdomain: expected a string, found number",
        ),
        (
            format!("{T}/architecture"),
            json!(5),
            &bios,
            "spec.template.spec.architecture: expected a string, found number",
        ),
        (
            "/spec/template/metadata/annotations".to_owned(),
            json!("x"),
            &bios,
            "spec.template.metadata.annotations: expected an object, found string",
        ),
    ];
    let mut failures = Vec::new();
    for (pointer, value, firmware, expected) in &cases {
        let error = error_for(pointer, value.clone(), (*firmware).clone());
        if error != *expected {
            failures.push(format!(
                "{pointer} = {value}:\n  expected {expected}\n  got      {error}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_base_vm_expands() {
    let firmware = json!({"preferredUseBios": true, "preferredUseBiosSerial": true});
    let expanded = expand_with_specs(
        base_vm(),
        Some(&instancetype()),
        Some(&preference(firmware)),
        &ExpandOptions::default(),
    )
    .unwrap();
    let domain = &expanded["spec"]["template"]["spec"]["domain"];
    assert_eq!(domain["devices"]["disks"][1]["disk"]["bus"], "virtio");
    assert_eq!(domain["devices"]["interfaces"][0]["masquerade"], json!({}));
    assert_eq!(domain["firmware"]["bootloader"]["bios"]["useSerial"], true);
    assert_eq!(domain["devices"]["panicDevices"], json!([{"model": "hyperv"}]));
}
