//! Cluster settings that change what an expansion produces, and the switches of an expansion.

use serde::{Deserialize, Serialize};

/// The parts of KubeVirt's cluster configuration (`KubeVirt` CR `spec.configuration`) that affect
/// expansion. Defaults are KubeVirt's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClusterOptions {
    /// `network.defaultNetworkInterface`: binding of the default pod interface
    /// (`bridge`, `masquerade`; KubeVirt rejects the removed `slirp`).
    pub default_network_interface: String,
    /// `network.permitBridgeInterfaceOnPodNetwork`.
    pub permit_bridge_interface_on_pod_network: bool,
    /// `architectureConfiguration.defaultArchitecture` (`amd64`, `arm64`, `s390x`).
    pub default_architecture: String,
    /// `evictionStrategy` (`None`, `LiveMigrate`, `LiveMigrateIfPossible`, `External`).
    pub eviction_strategy: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            default_network_interface: "bridge".to_owned(),
            permit_bridge_interface_on_pod_network: true,
            default_architecture: "amd64".to_owned(),
            eviction_strategy: "None".to_owned(),
        }
    }
}

impl ClusterOptions {
    /// The default machine type for an architecture, as KubeVirt's cluster config gives it.
    pub fn machine_type(&self, architecture: &str) -> &'static str {
        match architecture {
            "arm64" => "virt",
            "s390x" => "s390-ccw-virtio",
            _ => "q35",
        }
    }
}

/// Switches of one expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ExpandOptions {
    /// Cluster settings.
    pub cluster: ClusterOptions,
    /// Apply KubeVirt's VMI defaults after the instancetype and preference (as `virtctl expand`
    /// does). Off, only what the instancetype and preference own is written.
    pub vmi_defaults: bool,
    /// Infer `inferFromVolume` matchers from the volumes' labels first, as KubeVirt's VM mutating
    /// webhook does when the VM is admitted. Off (the default), as `virtctl expand`: KubeVirt's
    /// `Expand` never infers, so a matcher with only `inferFromVolume` is looked up by its empty name.
    pub infer_from_volumes: bool,
    /// With `infer_from_volumes`: follow a volume's references into namespaces other than the VM's
    /// (KubeVirt always does; see `engine::infer`). Off by default.
    pub allow_cross_namespace_inference: bool,
}

impl Default for ExpandOptions {
    fn default() -> Self {
        Self {
            cluster: ClusterOptions::default(),
            vmi_defaults: true,
            infer_from_volumes: false,
            allow_cross_namespace_inference: false,
        }
    }
}
