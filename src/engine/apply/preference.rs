//! Preference application (spec §3.5). Preferences never conflict: a value applies only where the
//! VMI leaves the field unset, except the two overrides KubeVirt has (`preferredAcpi`,
//! `preferredDisableHotplug`).

use serde_json::{Map, Value, json};

use super::read_str;
use crate::engine::json::{self, ShapeError};
use crate::engine::model::{DevicePreferences, PreferenceSpec};

/// The path of the map a function edits, built only for an error.
type LazyPath<'a> = &'a dyn Fn() -> String;

/// Applies `preference` to `vmi_spec` (at path `base`) and its `metadata`.
pub fn apply(
    preference: &PreferenceSpec,
    vmi_spec: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    base: &str,
) -> Result<(), ShapeError> {
    let domain_path = &|| json::join(base, "domain");
    apply_cpu(
        preference,
        json::object_entry(vmi_spec, "domain", domain_path)?,
        domain_path,
    )?;
    if let Some(devices) = &preference.devices {
        apply_devices(devices, vmi_spec, base)?;
    }
    let domain = json::object_entry(vmi_spec, "domain", domain_path)?;
    apply_features(preference, domain, domain_path)?;
    apply_firmware(preference, domain, domain_path)?;
    apply_machine(preference, domain, domain_path)?;
    apply_clock(preference, domain, domain_path)?;

    if let Some(subdomain) = &preference.preferred_subdomain {
        if read_str(vmi_spec, "subdomain", base)?.is_empty() {
            json::set_scalar(vmi_spec, "subdomain", Value::from(subdomain.as_str()));
        }
    }
    if let Some(seconds) = preference.preferred_termination_grace_period_seconds {
        if json::is_absent(vmi_spec, "terminationGracePeriodSeconds") {
            json::put(vmi_spec, "terminationGracePeriodSeconds", Value::from(seconds));
        }
    }
    if let Some(architecture) = preference.preferred_architecture.as_deref().filter(|a| !a.is_empty()) {
        if read_str(vmi_spec, "architecture", base)?.is_empty() {
            json::put(vmi_spec, "architecture", Value::from(architecture));
        }
    }
    // An empty map adds nothing: Go creates an empty `annotations` map, which `omitempty` drops.
    if let Some(annotations) = preference.annotations.as_ref().filter(|a| !a.is_empty()) {
        let target = json::object_entry(metadata, "annotations", "spec.template.metadata.annotations")?;
        for (key, value) in annotations {
            if json::is_absent(target, key) {
                json::put(target, key, Value::from(value.as_str()));
            }
        }
    }
    if let Some(launch_security) = &preference.preferred_launch_security {
        let domain = json::object_entry(vmi_spec, "domain", domain_path)?;
        if json::is_absent(domain, "launchSecurity") {
            domain.insert("launchSecurity".into(), launch_security.clone());
        }
    }
    Ok(())
}

/// `preferredCPUFeatures`: appended when the name is not among the VMI's original features.
/// Without `domain.cpu`, KubeVirt crashes; here `cpu` is created (spec §8.1).
fn apply_cpu(
    preference: &PreferenceSpec,
    domain: &mut Map<String, Value>,
    domain_path: LazyPath,
) -> Result<(), ShapeError> {
    let Some(preferred) = preference
        .cpu
        .as_ref()
        .map(|c| &c.preferred_cpu_features)
        .filter(|f| !f.is_empty())
    else {
        return Ok(());
    };
    let cpu = json::object_entry(domain, "cpu", || json::join(&domain_path(), "cpu"))?;
    let features = json::array_entry(cpu, "features", || json::join(&domain_path(), "cpu.features"))?;
    let existing: std::collections::BTreeSet<String> =
        features.iter().map(|f| json::get_str(f, "name").to_owned()).collect();
    for feature in preferred {
        let name = json::get_str(feature, "name");
        if !existing.contains(name) {
            features.push(feature.clone());
        }
    }
    Ok(())
}

fn fill_bool(map: &mut Map<String, Value>, key: &str, preferred: Option<bool>) {
    if let Some(value) = preferred {
        if json::is_absent(map, key) {
            json::put(map, key, Value::from(value));
        }
    }
}

fn fill_str(map: &mut Map<String, Value>, key: &str, preferred: &str) {
    if !preferred.is_empty() && json::is_unset(map, key) {
        json::put(map, key, Value::from(preferred));
    }
}

fn fill_value(map: &mut Map<String, Value>, key: &str, preferred: Option<&Value>) {
    if let Some(value) = preferred {
        if json::is_absent(map, key) {
            json::put(map, key, value.clone());
        }
    }
}

fn apply_devices(
    preferences: &DevicePreferences,
    vmi_spec: &mut Map<String, Value>,
    base: &str,
) -> Result<(), ShapeError> {
    // Read only when a masquerade binding may be set (it needs the networks).
    let pod_networks = match preferences.preferred_interface_masquerade {
        Some(_) => pod_network_names(vmi_spec, base)?,
        None => PodNetworks::default(),
    };
    let devices_path = &|| json::join(base, "domain.devices");
    let devices = json::object_path(vmi_spec, base, &["domain", "devices"])?;

    fill_bool(
        devices,
        "useVirtioTransitional",
        preferences.preferred_use_virtio_transitional,
    );
    fill_bool(devices, "blockMultiQueue", preferences.preferred_block_multi_queue);
    fill_bool(
        devices,
        "networkInterfaceMultiqueue",
        preferences.preferred_network_interface_multi_queue,
    );
    if let Some(disable) = preferences.preferred_disable_hotplug {
        json::set_scalar(devices, "disableHotplug", Value::from(disable));
    }
    if !preferences.preferred_sound_model.is_empty() {
        if let Some(sound) = json::find_mut(devices, "sound").filter(|s| !s.is_null()) {
            let sound = json::as_object_mut(sound, || json::join(&devices_path(), "sound"))?;
            fill_str(sound, "model", &preferences.preferred_sound_model);
        }
    }
    fill_value(devices, "rng", preferences.preferred_rng.as_ref());
    fill_value(devices, "tpm", preferences.preferred_tpm.as_ref());
    if let Some(video_type) = &preferences.preferred_video_type {
        let video = json::object_entry(devices, "video", || json::join(&devices_path(), "video"))?;
        fill_str(video, "type", video_type);
    }
    fill_bool(
        devices,
        "autoattachGraphicsDevice",
        preferences.preferred_autoattach_graphics_device,
    );
    fill_bool(
        devices,
        "autoattachMemBalloon",
        preferences.preferred_autoattach_mem_balloon,
    );
    fill_bool(
        devices,
        "autoattachPodInterface",
        preferences.preferred_autoattach_pod_interface,
    );
    fill_bool(
        devices,
        "autoattachSerialConsole",
        preferences.preferred_autoattach_serial_console,
    );
    fill_bool(
        devices,
        "autoattachInputDevice",
        preferences.preferred_autoattach_input_device,
    );

    if let Some(disks) = json::array_mut(devices, "disks", || json::join(&devices_path(), "disks"))? {
        for (index, disk) in disks.iter_mut().enumerate() {
            let disk_path = &|| format!("{}.disks[{index}]", devices_path());
            apply_disk(preferences, json::as_object_mut(disk, disk_path)?, disk_path)?;
        }
    }

    if let Some(interfaces) = json::array_mut(devices, "interfaces", || json::join(&devices_path(), "interfaces"))? {
        for (index, interface) in interfaces.iter_mut().enumerate() {
            let interface_path = || format!("{}.interfaces[{index}]", devices_path());
            let interface = json::as_object_mut(interface, interface_path)?;
            fill_str(interface, "model", &preferences.preferred_interface_model);
            if let Some(masquerade) = &preferences.preferred_interface_masquerade {
                let name = read_str(interface, "name", interface_path)?;
                if binding_unset(interface) && pod_networks.first_match(name) {
                    interface.insert("masquerade".into(), masquerade.clone());
                }
            }
        }
    }

    if let Some(inputs) = json::array_mut(devices, "inputs", || json::join(&devices_path(), "inputs"))? {
        for (index, input) in inputs.iter_mut().enumerate() {
            let input = json::as_object_mut(input, || format!("{}.inputs[{index}]", devices_path()))?;
            fill_str(input, "bus", &preferences.preferred_input_bus);
            fill_str(input, "type", &preferences.preferred_input_type);
        }
    }

    if let Some(model) = &preferences.preferred_panic_device_model {
        let panic_path = || json::join(&devices_path(), "panicDevices");
        let panic_devices = json::array_entry(devices, "panicDevices", panic_path)?;
        if panic_devices.is_empty() {
            panic_devices.push(json!({ "model": model }));
        } else {
            for (index, device) in panic_devices.iter_mut().enumerate() {
                let device = json::as_object_mut(device, || format!("{}[{index}]", panic_path()))?;
                fill_value(device, "model", Some(&Value::from(model.as_str())));
            }
        }
    }
    Ok(())
}

fn apply_disk(
    preferences: &DevicePreferences,
    disk: &mut Map<String, Value>,
    disk_path: LazyPath,
) -> Result<(), ShapeError> {
    let is_set = |disk: &Map<String, Value>, key: &str| !json::is_absent(disk, key);
    if !is_set(disk, "disk") && !is_set(disk, "cdrom") && !is_set(disk, "lun") {
        disk.insert("disk".into(), json!({}));
    }
    if is_set(disk, "disk") {
        let target = json::object_entry(disk, "disk", || json::join(&disk_path(), "disk"))?;
        fill_str(target, "bus", &preferences.preferred_disk_bus);
        let is_virtio = json::find(target, "bus").and_then(Value::as_str) == Some("virtio");
        fill_value(disk, "blockSize", preferences.preferred_disk_block_size.as_ref());
        fill_str(disk, "cache", &preferences.preferred_disk_cache);
        fill_str(disk, "io", &preferences.preferred_disk_io);
        if is_virtio {
            fill_bool(
                disk,
                "dedicatedIOThread",
                preferences.preferred_disk_dedicated_io_thread,
            );
        }
    } else if is_set(disk, "cdrom") {
        let target = json::object_entry(disk, "cdrom", || json::join(&disk_path(), "cdrom"))?;
        fill_str(target, "bus", &preferences.preferred_cdrom_bus);
    } else {
        let target = json::object_entry(disk, "lun", || json::join(&disk_path(), "lun"))?;
        fill_str(target, "bus", &preferences.preferred_lun_bus);
    }
    Ok(())
}

/// The binding keys of a KubeVirt interface (every field of `InterfaceBindingMethod`, including
/// `passtBinding`, plus the plugin `binding`).
const BINDING_KEYS: [&str; 8] = [
    "bridge",
    "slirp",
    "masquerade",
    "sriov",
    "macvtap",
    "passt",
    "passtBinding",
    "binding",
];

fn binding_unset(interface: &Map<String, Value>) -> bool {
    BINDING_KEYS.iter().all(|key| json::is_absent(interface, key))
}

/// For each network name, whether its first definition is a pod network (KubeVirt stops at the
/// first network with the interface's name). A map, so that a VM with thousands of interfaces and
/// networks costs no quadratic search.
#[derive(Default)]
struct PodNetworks(std::collections::BTreeMap<String, bool>);

impl PodNetworks {
    fn first_match(&self, name: &str) -> bool {
        self.0.get(name).copied().unwrap_or(false)
    }
}

fn pod_network_names(vmi_spec: &Map<String, Value>, base: &str) -> Result<PodNetworks, ShapeError> {
    let networks = json::array_in(vmi_spec, "networks", || json::join(base, "networks"))?;
    let mut first = std::collections::BTreeMap::new();
    for network in networks {
        first
            .entry(json::get_str(network, "name").to_owned())
            .or_insert_with(|| json::has(network, "pod"));
    }
    Ok(PodNetworks(first))
}

fn apply_features(
    preference: &PreferenceSpec,
    domain: &mut Map<String, Value>,
    domain_path: LazyPath,
) -> Result<(), ShapeError> {
    let Some(features) = &preference.features else {
        return Ok(());
    };
    let features_path = || json::join(&domain_path(), "features");
    let target = json::object_entry(domain, "features", features_path)?;
    if let Some(acpi) = &features.preferred_acpi {
        target.insert("acpi".into(), acpi.clone());
    }
    fill_value(target, "apic", features.preferred_apic.as_ref());
    if let Some(hyperv) = &features.preferred_hyperv {
        let target_hyperv = json::object_entry(target, "hyperv", || json::join(&features_path(), "hyperv"))?;
        for (key, value) in hyperv {
            fill_value(target_hyperv, key, Some(value).filter(|v| !v.is_null()));
        }
    }
    fill_value(target, "kvm", features.preferred_kvm.as_ref());
    fill_value(target, "pvspinlock", features.preferred_pvspinlock.as_ref());
    fill_value(target, "smm", features.preferred_smm.as_ref());
    Ok(())
}

fn apply_firmware(
    preference: &PreferenceSpec,
    domain: &mut Map<String, Value>,
    domain_path: LazyPath,
) -> Result<(), ShapeError> {
    let Some(firmware) = &preference.firmware else {
        return Ok(());
    };
    let firmware_path = || json::join(&domain_path(), "firmware");
    let firmware_map = json::object_entry(domain, "firmware", firmware_path)?;
    let bootloader_path = || json::join(&domain_path(), "firmware.bootloader");
    let bootloader = json::object_entry(firmware_map, "bootloader", bootloader_path)?;
    let has = |b: &Map<String, Value>, key: &str| !json::is_absent(b, key);

    if firmware.preferred_use_bios == Some(true) && !has(bootloader, "bios") && !has(bootloader, "efi") {
        bootloader.insert("bios".into(), json!({}));
    }
    if let Some(use_serial) = firmware.preferred_use_bios_serial {
        if has(bootloader, "bios") {
            let bios = json::object_entry(bootloader, "bios", || json::join(&bootloader_path(), "bios"))?;
            fill_bool(bios, "useSerial", Some(use_serial));
        }
    }
    if let Some(efi) = &firmware.preferred_efi {
        if !has(bootloader, "efi") && !has(bootloader, "bios") {
            bootloader.insert("efi".into(), efi.clone());
            return Ok(());
        }
    }
    if firmware.preferred_use_efi == Some(true) && !has(bootloader, "efi") && !has(bootloader, "bios") {
        bootloader.insert("efi".into(), json!({}));
    }
    if let Some(secure_boot) = firmware.preferred_use_secure_boot {
        if has(bootloader, "efi") {
            let efi = json::object_entry(bootloader, "efi", || json::join(&bootloader_path(), "efi"))?;
            fill_bool(efi, "secureBoot", Some(secure_boot));
        }
    }
    Ok(())
}

fn apply_machine(
    preference: &PreferenceSpec,
    domain: &mut Map<String, Value>,
    domain_path: LazyPath,
) -> Result<(), ShapeError> {
    let Some(machine_type) = preference
        .machine
        .as_ref()
        .map(|m| m.preferred_machine_type.as_str())
        .filter(|t| !t.is_empty())
    else {
        return Ok(());
    };
    let machine = json::object_entry(domain, "machine", || json::join(&domain_path(), "machine"))?;
    fill_str(machine, "type", machine_type);
    Ok(())
}

fn apply_clock(
    preference: &PreferenceSpec,
    domain: &mut Map<String, Value>,
    domain_path: LazyPath,
) -> Result<(), ShapeError> {
    let Some(clock_preferences) = &preference.clock else {
        return Ok(());
    };
    let clock = json::object_entry(domain, "clock", || json::join(&domain_path(), "clock"))?;
    if let Some(offset) = &clock_preferences.preferred_clock_offset {
        if json::is_absent(clock, "utc") && json::is_absent(clock, "timezone") {
            // The offset is an inline struct: its `utc`/`timezone` replace the VMI's (both unset).
            clock.shift_remove("utc");
            clock.shift_remove("timezone");
            for (key, value) in offset {
                if !value.is_null() {
                    clock.insert(key.clone(), value.clone());
                }
            }
        }
    }
    fill_value(clock, "timer", clock_preferences.preferred_timer.as_ref());
    Ok(())
}
