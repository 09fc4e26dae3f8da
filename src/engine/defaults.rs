//! KubeVirt's VMI defaults as `expand` applies them (spec §3.6, §3.8 step 5).

use serde_json::{Map, Value, json};

use crate::engine::apply::{read_str, read_u32};
use crate::engine::json::{self, ShapeError};
use crate::engine::options::ClusterOptions;
use crate::engine::quantity::Quantity;

/// Why a default could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefaultsError {
    /// A field read by the defaults has the wrong shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The cluster's default interface binding is not allowed (KubeVirt's wording).
    #[error("{0}")]
    NetworkInterface(String),
}

/// Adds a disk `{name}` for every volume that has neither a disk nor a filesystem of that name.
pub fn set_default_volume_disks(vmi_spec: &mut Map<String, Value>, base: &str) -> Result<(), ShapeError> {
    if json::array_in(vmi_spec, "volumes", || json::join(base, "volumes"))?.is_empty() {
        return Ok(());
    }
    // Created when absent, as KubeVirt's defaulting leaves them, even when no disk is missing.
    json::object_path(vmi_spec, base, &["domain", "devices"])?;
    // `volumes` and `domain.devices` borrowed together, to copy only the names of missing disks.
    let (mut volumes, mut domain) = (None, None);
    for (key, value) in vmi_spec.iter_mut() {
        match key.as_str() {
            "volumes" => volumes = value.as_array(),
            "domain" => domain = json::get_mut(value, "devices").and_then(Value::as_object_mut),
            _ => {}
        }
    }
    let (Some(volumes), Some(devices)) = (volumes, domain) else {
        return Ok(());
    };
    let devices_path = || json::join(base, "domain.devices");
    // A set: a VM with thousands of disks and volumes must not cost a quadratic search.
    let mut taken: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for key in ["disks", "filesystems"] {
        let list = json::array_in(devices, key, || json::join(&devices_path(), key))?;
        taken.extend(list.iter().map(|d| json::get_str(d, "name")));
    }
    let missing: Vec<Value> = volumes
        .iter()
        .map(|volume| json::get_str(volume, "name"))
        .filter(|name| !taken.contains(name))
        .map(|name| json!({ "name": name }))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let disks = json::array_entry(devices, "disks", || json::join(&devices_path(), "disks"))?;
    disks.extend(missing);
    Ok(())
}

/// Adds the default pod interface and network when the VMI has neither networks nor interfaces
/// and `autoattachPodInterface` is not `false`.
pub fn set_default_network_interface(
    vmi_spec: &mut Map<String, Value>,
    base: &str,
    cluster: &ClusterOptions,
) -> Result<(), DefaultsError> {
    let devices_value = json::find(vmi_spec, "domain").and_then(|d| json::get(d, "devices"));
    if devices_value.and_then(|d| json::get(d, "autoattachPodInterface")) == Some(&Value::Bool(false)) {
        return Ok(());
    }
    let has_interfaces = devices_value
        .and_then(|d| json::get(d, "interfaces"))
        .is_some_and(|i| i.as_array().is_none_or(|a| !a.is_empty()));
    let has_networks = json::find(vmi_spec, "networks")
        .filter(|n| !n.is_null())
        .is_some_and(|n| n.as_array().is_none_or(|a| !a.is_empty()));
    if has_interfaces || has_networks {
        return Ok(());
    }
    let interface = match cluster.default_network_interface.as_str() {
        "bridge" => {
            if !cluster.permit_bridge_interface_on_pod_network {
                return Err(DefaultsError::NetworkInterface(
                    "bridge interface is not enabled in kubevirt-config".into(),
                ));
            }
            Some(json!({"name": "default", "bridge": {}}))
        }
        "masquerade" => Some(json!({"name": "default", "masquerade": {}})),
        "slirp" => {
            return Err(DefaultsError::NetworkInterface(
                "slirp interface is deprecated as of v1.3".into(),
            ));
        }
        _ => None,
    };
    if let Some(interface) = interface {
        let devices = json::object_path(vmi_spec, base, &["domain", "devices"])?;
        json::put(devices, "interfaces", Value::Array(vec![interface]));
    }
    json::put(vmi_spec, "networks", json!([{"name": "default", "pod": {}}]));
    Ok(())
}

/// Reads a resource quantity `domain.resources.<list>.<name>` (`None` when absent).
fn resource_quantity(
    domain: &Map<String, Value>,
    list: &str,
    name: &str,
    base: &str,
) -> Result<Option<Quantity>, ShapeError> {
    let Some(value) = json::find(domain, "resources")
        .and_then(|r| json::get(r, list))
        .and_then(|l| json::get(l, name))
    else {
        return Ok(None);
    };
    let field = format!("{base}.domain.resources.{list}.{name}");
    json::decode::<Quantity>(value, &field).map(Some)
}

/// KubeVirt's `SetDefaultVirtualMachineInstanceSpec`, in its order: architecture, machine type,
/// CPU request from the limit, guest memory, CPU topology, containerDisk pull policies, eviction
/// strategy, default interface, default volume disks.
pub fn set_vmi_defaults(
    vmi_spec: &mut Map<String, Value>,
    base: &str,
    cluster: &ClusterOptions,
) -> Result<(), DefaultsError> {
    if read_str(vmi_spec, "architecture", base)?.is_empty() {
        json::put(
            vmi_spec,
            "architecture",
            Value::from(cluster.default_architecture.as_str()),
        );
    }
    let machine_type = cluster.machine_type(read_str(vmi_spec, "architecture", base)?);
    let domain_path = || json::join(base, "domain");
    let domain = json::object_entry(vmi_spec, "domain", domain_path)?;

    let machine_path = || json::join(base, "domain.machine");
    let machine = json::object_entry(domain, "machine", machine_path)?;
    if read_str(machine, "type", machine_path)?.is_empty() {
        json::put(machine, "type", Value::from(machine_type));
    }

    let limits_cpu = resource_quantity(domain, "limits", "cpu", base)?;
    let requests_cpu = resource_quantity(domain, "requests", "cpu", base)?;
    if let Some(limit) = limits_cpu.as_ref().filter(|q| !q.is_zero()) {
        if requests_cpu.as_ref().is_none_or(Quantity::is_zero) {
            let requests = json::object_path(domain, &domain_path(), &["resources", "requests"])?;
            json::put(requests, "cpu", Value::from(limit.to_canonical_string()));
        }
    }

    // Guest memory: requests.memory, else limits.memory, else the hugepages page size.
    let has_guest = json::find(domain, "memory")
        .and_then(|m| json::get(m, "guest"))
        .is_some();
    if !has_guest {
        let requests_memory = resource_quantity(domain, "requests", "memory", base)?.filter(|q| !q.is_zero());
        let limits_memory = resource_quantity(domain, "limits", "memory", base)?.filter(|q| !q.is_zero());
        let memory = json::object_entry(domain, "memory", || json::join(base, "domain.memory"))?;
        let page_size = json::find(memory, "hugepages")
            .and_then(|h| json::get(h, "pageSize"))
            .and_then(Value::as_str)
            .and_then(|s| Quantity::parse(s).ok());
        if let Some(guest) = requests_memory.or(limits_memory).or(page_size) {
            json::put(memory, "guest", Value::from(guest.to_canonical_string()));
        }
    }

    // CPU topology when no count is set: sockets from the CPU limit or request (rounded up).
    let cpu_path = || json::join(base, "domain.cpu");
    let counts_unset = match json::find(domain, "cpu").filter(|c| !c.is_null()) {
        None => true,
        Some(cpu) => {
            let cpu = json::as_object(cpu, cpu_path)?;
            read_u32(cpu, "cores", cpu_path)? == 0
                && read_u32(cpu, "sockets", cpu_path)? == 0
                && read_u32(cpu, "threads", cpu_path)? == 0
        }
    };
    if counts_unset {
        let limits_cpu = resource_quantity(domain, "limits", "cpu", base)?;
        let requests_cpu = resource_quantity(domain, "requests", "cpu", base)?;
        let sockets = match limits_cpu.or(requests_cpu) {
            // Go converts the int64 to uint32 by truncation.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(q) => q.value() as u32,
            None => 1,
        };
        let cpu = json::object_entry(domain, "cpu", cpu_path)?;
        json::set_scalar(cpu, "sockets", Value::from(sockets));
        json::put(cpu, "cores", Value::from(1));
        json::put(cpu, "threads", Value::from(1));
    }

    if let Some(volumes) = json::array_mut(vmi_spec, "volumes", || json::join(base, "volumes"))? {
        for volume in volumes.iter_mut() {
            let Some(container_disk) = json::get_mut(volume, "containerDisk").and_then(Value::as_object_mut) else {
                continue;
            };
            if json::find(container_disk, "imagePullPolicy")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.is_empty())
            {
                continue;
            }
            let image = json::find(container_disk, "image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let policy = if image.ends_with(":latest") || !image.contains([':', '@']) {
                "Always"
            } else {
                "IfNotPresent"
            };
            json::put(container_disk, "imagePullPolicy", Value::from(policy));
        }
    }

    if json::is_absent(vmi_spec, "evictionStrategy") {
        json::set_scalar(
            vmi_spec,
            "evictionStrategy",
            Value::from(cluster.eviction_strategy.as_str()),
        );
    }
    set_default_network_interface(vmi_spec, base, cluster)?;
    set_default_volume_disks(vmi_spec, base)?;
    Ok(())
}
