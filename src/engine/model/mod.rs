//! Typed model of the instancetype and preference specs (`instancetype.kubevirt.io/v1beta1`).
//!
//! Only the fields the engine reads are typed; nested KubeVirt structures that are copied verbatim
//! into the VM (NUMA, hugepages, GPUs, EFI, ...) stay as raw JSON so nothing inside them is lost.
//! Older API versions are converted into these types by [`legacy`].

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod from_text;
pub mod legacy;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::quantity::Quantity;

/// `spec` of a `VirtualMachineInstancetype` or `VirtualMachineClusterInstancetype`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancetypeSpec {
    /// Node selector for the VMI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Scheduler name for the VMI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheduler_name: String,
    /// Guest CPU settings (required).
    pub cpu: InstancetypeCpu,
    /// Guest memory settings (required).
    pub memory: InstancetypeMemory,
    /// GPUs (atomic list, copied verbatim).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<Value>,
    /// Host devices (atomic list, copied verbatim).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_devices: Vec<Value>,
    /// IO threads policy (`shared`, `auto`, `supplementalPool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_threads_policy: Option<String>,
    /// IO threads options; only `supplementalPoolThreadCount` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_threads: Option<IoThreads>,
    /// Deprecated launch security (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_security: Option<Value>,
    /// Annotations required on the VMI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `spec.cpu` of an instancetype.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancetypeCpu {
    /// Number of vCPUs (required).
    pub guest: u32,
    /// CPU model; set (even to `""`) means it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Dedicated CPU placement (VMI key `dedicatedCpuPlacement`).
    #[serde(default, rename = "dedicatedCPUPlacement", skip_serializing_if = "Option::is_none")]
    pub dedicated_cpu_placement: Option<bool>,
    /// NUMA settings (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa: Option<Value>,
    /// Isolate the emulator thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolate_emulator_thread: Option<bool>,
    /// Realtime settings (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime: Option<Value>,
    /// Maximum sockets for CPU hotplug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sockets: Option<u32>,
}

/// `spec.memory` of an instancetype.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancetypeMemory {
    /// Guest memory (required).
    pub guest: Quantity,
    /// Hugepages settings (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<Value>,
    /// Percentage of guest memory not requested from the pod (0..=100).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub overcommit_percent: i64,
    /// Maximum guest memory for memory hotplug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_guest: Option<Quantity>,
}

impl Default for InstancetypeMemory {
    fn default() -> Self {
        Self {
            guest: Quantity::zero(),
            hugepages: None,
            overcommit_percent: 0,
            max_guest: None,
        }
    }
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `spec.ioThreads` of an instancetype.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IoThreads {
    /// Threads in the supplemental IO thread pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplemental_pool_thread_count: Option<u32>,
}

/// `spec` of a `VirtualMachinePreference` or `VirtualMachineClusterPreference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferenceSpec {
    /// Clock preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockPreferences>,
    /// CPU preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPreferences>,
    /// Device preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Box<DevicePreferences>>,
    /// Feature preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Box<FeaturePreferences>>,
    /// Firmware preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<FirmwarePreferences>,
    /// Machine preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachinePreferences>,
    /// Volume preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<VolumePreferences>,
    /// Preferred subdomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_subdomain: Option<String>,
    /// Preferred termination grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_termination_grace_period_seconds: Option<i64>,
    /// Resources the VM must provide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<PreferenceRequirements>,
    /// Annotations to add to the VMI when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Legacy spread ratio (0 = unset).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub prefer_spread_socket_to_core_ratio: u32,
    /// Preferred architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_architecture: Option<String>,
    /// Preferred launch security (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_launch_security: Option<Value>,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// `spec.clock` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockPreferences {
    /// Clock offset: an object with `utc` or `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_clock_offset: Option<serde_json::Map<String, Value>>,
    /// Timers (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_timer: Option<Value>,
}

/// `spec.cpu` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuPreferences {
    /// Preferred vCPU topology (`sockets`, `cores`, `threads`, `spread`, `any`, legacy `prefer*`).
    #[serde(default, rename = "preferredCPUTopology", skip_serializing_if = "Option::is_none")]
    pub preferred_cpu_topology: Option<String>,
    /// Options for the `spread` topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_options: Option<SpreadOptions>,
    /// CPU features appended to the VMI when not already named there.
    #[serde(default, rename = "preferredCPUFeatures", skip_serializing_if = "Vec::is_empty")]
    pub preferred_cpu_features: Vec<Value>,
}

/// `spec.cpu.spreadOptions` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpreadOptions {
    /// `SocketsCoresThreads`, `SocketsCores` (default) or `CoresThreads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub across: Option<String>,
    /// Ratio (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<u32>,
}

/// `spec.devices` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // each field is the VMI device field it fills, named `preferred<Field>`
pub struct DevicePreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_graphics_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_mem_balloon: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_pod_interface: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_serial_console: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_input_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_disable_hotplug: Option<bool>,
    #[serde(
        default,
        rename = "preferredVirtualGPUOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_virtual_gpu_options: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_sound_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_use_virtio_transitional: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_input_bus: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_input_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_disk_bus: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_lun_bus: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_cdrom_bus: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_disk_dedicated_io_thread: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_disk_cache: String,
    #[serde(default, rename = "preferredDiskIO", skip_serializing_if = "String::is_empty")]
    pub preferred_disk_io: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_disk_block_size: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_interface_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_rng: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_block_multi_queue: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_network_interface_multi_queue: Option<bool>,
    #[serde(default, rename = "preferredTPM", skip_serializing_if = "Option::is_none")]
    pub preferred_tpm: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_interface_masquerade: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_panic_device_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_video_type: Option<String>,
}

/// `spec.features` of a preference; every value is a KubeVirt feature object copied verbatim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // each field is the VMI `domain.features` field it fills
pub struct FeaturePreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_acpi: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_apic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_hyperv: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_kvm: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_pvspinlock: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_smm: Option<Value>,
}

/// `spec.firmware` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirmwarePreferences {
    /// Use BIOS when no bootloader is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_use_bios: Option<bool>,
    /// BIOS `useSerial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_use_bios_serial: Option<bool>,
    /// Deprecated: use EFI when no bootloader is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_use_efi: Option<bool>,
    /// Deprecated: EFI `secureBoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_use_secure_boot: Option<bool>,
    /// EFI settings (copied verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_efi: Option<Value>,
}

/// `spec.machine` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachinePreferences {
    /// Machine type (e.g. `q35`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_machine_type: String,
}

/// `spec.volumes` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumePreferences {
    /// Storage class for DataVolume templates without one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_storage_class_name: String,
}

/// `spec.requirements` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferenceRequirements {
    /// Minimum vCPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuRequirement>,
    /// Minimum guest memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryRequirement>,
    /// Required architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// `spec.requirements.cpu` of a preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuRequirement {
    /// Minimum vCPUs (required).
    pub guest: u32,
}

/// `spec.requirements.memory` of a preference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRequirement {
    /// Minimum guest memory (required).
    pub guest: Quantity,
}
