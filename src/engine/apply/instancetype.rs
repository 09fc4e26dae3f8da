//! Instancetype application (spec §3.2) with conflict collection (spec §4).
//!
//! Groups run in KubeVirt's order: nodeSelector, schedulerName, CPU, memory, ioThreads,
//! ioThreadsPolicy, launchSecurity, GPUs, hostDevices, annotations. Each group checks its own
//! conflicts and, when it has none, writes its own fields.

use serde_json::{Map, Value, json};

use super::topology::{self, TopologyError};
use super::{Conflicts, read_bool, read_str, read_u32};
use crate::engine::json::{self, ShapeError};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};
use crate::engine::quantity::Quantity;

/// Applies `instancetype` to `vmi_spec` (at path `base`) and `metadata`, returning the conflicts
/// found (empty when everything applied).
pub fn apply(
    instancetype: &InstancetypeSpec,
    preference: Option<&PreferenceSpec>,
    vmi_spec: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    base: &str,
) -> Result<Conflicts, super::ApplyError> {
    let mut conflicts = Conflicts::default();
    let path = |rest: &str| json::join(base, rest);

    // nodeSelector: conflict when the VMI has one at all (even `{}`). An empty one is copied as an
    // empty map, which Go's `omitempty` leaves out of the VM: nothing is written.
    if let Some(selector) = &instancetype.node_selector {
        if json::is_absent(vmi_spec, "nodeSelector") {
            if !selector.is_empty() {
                json::put(vmi_spec, "nodeSelector", json!(selector));
            }
        } else {
            conflicts.paths.push(path("nodeSelector"));
        }
    }

    // schedulerName
    if !instancetype.scheduler_name.is_empty() {
        if read_str(vmi_spec, "schedulerName", base)?.is_empty() {
            json::put(
                vmi_spec,
                "schedulerName",
                Value::from(instancetype.scheduler_name.as_str()),
            );
        } else {
            conflicts.paths.push(path("schedulerName"));
        }
    }

    apply_cpu(instancetype, preference, vmi_spec, base, &mut conflicts)?;
    apply_memory(instancetype, vmi_spec, base, &mut conflicts)?;

    let domain_path = || path("domain");
    let domain = json::object_entry(vmi_spec, "domain", domain_path)?;

    // ioThreads.supplementalPoolThreadCount
    if let Some(count) = instancetype
        .io_threads
        .as_ref()
        .and_then(|t| t.supplemental_pool_thread_count)
    {
        let io_threads = json::object_entry(domain, "ioThreads", || path("domain.ioThreads"))?;
        if json::is_absent(io_threads, "supplementalPoolThreadCount") {
            json::put(io_threads, "supplementalPoolThreadCount", Value::from(count));
        } else {
            conflicts
                .paths
                .push(path("domain.ioThreads.supplementalPoolThreadCount"));
        }
    }

    // ioThreadsPolicy
    if let Some(policy) = &instancetype.io_threads_policy {
        if json::is_absent(domain, "ioThreadsPolicy") {
            json::put(domain, "ioThreadsPolicy", Value::from(policy.as_str()));
        } else {
            conflicts.paths.push(path("domain.ioThreadsPolicy"));
        }
    }

    // launchSecurity
    if let Some(launch_security) = &instancetype.launch_security {
        if json::is_absent(domain, "launchSecurity") {
            domain.insert("launchSecurity".into(), launch_security.clone());
        } else {
            conflicts.paths.push(path("domain.launchSecurity"));
        }
    }

    // GPUs and host devices: atomic lists.
    for (key, items) in [
        ("gpus", &instancetype.gpus),
        ("hostDevices", &instancetype.host_devices),
    ] {
        if items.is_empty() {
            continue;
        }
        let devices = json::object_entry(domain, "devices", || path("domain.devices"))?;
        let existing = json::array_mut(devices, key, || path(&format!("domain.devices.{key}")))?;
        if existing.is_some_and(|list| !list.is_empty()) {
            conflicts.paths.push(path(&format!("domain.devices.{key}")));
        } else {
            devices.insert(key.into(), Value::Array(items.clone()));
        }
    }

    // Annotations: per key; conflicts sorted by key (upstream iterates a Go map randomly).
    // An empty map adds nothing: Go creates an empty `annotations` map, which `omitempty` drops.
    if let Some(annotations) = instancetype.annotations.as_ref().filter(|a| !a.is_empty()) {
        let target = json::object_entry(metadata, "annotations", "spec.template.metadata.annotations")?;
        for (key, value) in annotations {
            match json::find(target, key) {
                None | Some(Value::Null) => {
                    json::put(target, key, Value::from(value.as_str()));
                }
                Some(existing) if existing.as_str() == Some(value.as_str()) => {}
                // Go's `field.Path` writes a step with an empty name as an empty index.
                Some(_) if key.is_empty() => conflicts.paths.push("annotations[]".to_owned()),
                Some(_) => conflicts.paths.push(format!("annotations.{key}")),
            }
        }
    }

    Ok(conflicts)
}

fn has_resource(domain: &Map<String, Value>, list: &str, resource: &str) -> bool {
    json::find(domain, "resources")
        .and_then(|r| json::get(r, list))
        .is_some_and(|l| json::has(l, resource))
}

fn apply_cpu(
    instancetype: &InstancetypeSpec,
    preference: Option<&PreferenceSpec>,
    vmi_spec: &mut Map<String, Value>,
    base: &str,
    conflicts: &mut Conflicts,
) -> Result<(), super::ApplyError> {
    let domain = json::object_entry(vmi_spec, "domain", || json::join(base, "domain"))?;
    let requests_cpu = has_resource(domain, "requests", "cpu");
    let limits_cpu = has_resource(domain, "limits", "cpu");
    let cpu_path = || json::join(base, "domain.cpu");
    let cpu = json::object_entry(domain, "cpu", cpu_path)?;
    let it = &instancetype.cpu;

    let mut found = Vec::new();
    if requests_cpu {
        found.push("domain.resources.requests.cpu");
    }
    if limits_cpu {
        found.push("domain.resources.limits.cpu");
    }
    for key in ["sockets", "cores", "threads"] {
        if read_u32(cpu, key, cpu_path)? != 0 {
            found.push(match key {
                "sockets" => "domain.cpu.sockets",
                "cores" => "domain.cpu.cores",
                _ => "domain.cpu.threads",
            });
        }
    }
    if !read_str(cpu, "model", cpu_path)?.is_empty() && it.model.is_some() {
        found.push("domain.cpu.model");
    }
    if read_bool(cpu, "dedicatedCpuPlacement", cpu_path)? && it.dedicated_cpu_placement.is_some() {
        found.push("domain.cpu.dedicatedCPUPlacement");
    }
    if read_bool(cpu, "isolateEmulatorThread", cpu_path)? && it.isolate_emulator_thread.is_some() {
        found.push("domain.cpu.isolateEmulatorThread");
    }
    if !json::is_absent(cpu, "numa") && it.numa.is_some() {
        found.push("domain.cpu.numa");
    }
    if !json::is_absent(cpu, "realtime") && it.realtime.is_some() {
        found.push("domain.cpu.realtime");
    }
    if !found.is_empty() {
        conflicts
            .paths
            .extend(found.into_iter().map(|rest| json::join(base, rest)));
        return Ok(());
    }

    if let Some(model) = &it.model {
        json::set_scalar(cpu, "model", Value::from(model.as_str()));
    }
    if let Some(dedicated) = it.dedicated_cpu_placement {
        json::set_scalar(cpu, "dedicatedCpuPlacement", Value::from(dedicated));
    }
    if let Some(isolate) = it.isolate_emulator_thread {
        json::set_scalar(cpu, "isolateEmulatorThread", Value::from(isolate));
    }
    if let Some(numa) = &it.numa {
        cpu.insert("numa".into(), numa.clone());
    }
    if let Some(realtime) = &it.realtime {
        cpu.insert("realtime".into(), realtime.clone());
    }
    if let Some(max_sockets) = it.max_sockets {
        json::set_scalar(cpu, "maxSockets", Value::from(max_sockets));
    }
    let topology =
        topology::guest_topology(it.guest, preference).map_err(|e: TopologyError| super::ApplyError::from(e))?;
    json::set_scalar(cpu, "cores", Value::from(topology.cores));
    json::set_scalar(cpu, "sockets", Value::from(topology.sockets));
    json::set_scalar(cpu, "threads", Value::from(topology.threads));
    Ok(())
}

fn apply_memory(
    instancetype: &InstancetypeSpec,
    vmi_spec: &mut Map<String, Value>,
    base: &str,
    conflicts: &mut Conflicts,
) -> Result<(), ShapeError> {
    let domain = json::object_entry(vmi_spec, "domain", || json::join(base, "domain"))?;
    let requests_memory = has_resource(domain, "requests", "memory");
    let limits_memory = has_resource(domain, "limits", "memory");
    let memory = json::object_entry(domain, "memory", || json::join(base, "domain.memory"))?;
    let it = &instancetype.memory;

    // Only the first memory conflict is reported (upstream parity).
    let conflict = if !json::is_absent(memory, "guest") {
        Some("domain.memory.guest")
    } else if !json::is_absent(memory, "hugepages") && it.hugepages.is_some() {
        Some("domain.memory.hugepages")
    } else if !json::is_absent(memory, "maxGuest") && it.max_guest.is_some() {
        Some("domain.memory.maxGuest")
    } else if requests_memory {
        Some("domain.resources.requests.memory")
    } else if limits_memory {
        Some("domain.resources.limits.memory")
    } else {
        None
    };
    if let Some(rest) = conflict {
        conflicts.paths.push(json::join(base, rest));
        return Ok(());
    }

    json::put(memory, "guest", Value::from(it.guest.to_canonical_string()));
    if let Some(hugepages) = &it.hugepages {
        memory.insert("hugepages".into(), hugepages.clone());
    }
    if let Some(max_guest) = &it.max_guest {
        json::put(memory, "maxGuest", Value::from(max_guest.to_canonical_string()));
    }
    if it.overcommit_percent > 0 {
        let requested = overcommitted_request(&it.guest, it.overcommit_percent);
        let requests = json::object_path(domain, &json::join(base, "domain"), &["resources", "requests"])?;
        json::put(requests, "memory", Value::from(requested.to_canonical_string()));
    }
    Ok(())
}

/// The pod memory request for `guest` with `percent` overcommit, computed in IEEE binary32 in
/// KubeVirt's exact order: `trunc(f32(guest) * (1 - f32(percent) / 100))`, in the guest's format.
pub fn overcommitted_request(guest: &Quantity, percent: i64) -> Quantity {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let value = {
        let fraction = 1.0_f32 - (percent as f32) / 100.0_f32;
        let product = (guest.value() as f32) * fraction;
        // `as` saturates and maps NaN to 0, where Go's conversion is undefined: never a trap. The
        // floor is -(2^63 - 1), the most negative value Kubernetes' parser gives a quantity, so the
        // request reads back as written (-2^63 would be written `-8Ei` and read as -(2^63 - 1)).
        (product.trunc() as i64).max(-i64::MAX)
    };
    Quantity::from_i64(value, guest.format())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overcommit_matches_binary32_arithmetic() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(overcommitted_request(&q("3Gi"), 25).to_string(), "2304Mi");
        assert_eq!(overcommitted_request(&q("2G"), 10).to_string(), "1800M");
        assert_eq!(overcommitted_request(&q("1Gi"), 100).to_string(), "0");
    }

    #[test]
    fn an_absurd_overcommit_stays_a_quantity_kubernetes_reads_back() {
        let guest = Quantity::parse("128Gi").unwrap();
        let request = overcommitted_request(&guest, 5_031_366_116_373_803_283);
        let written = request.to_string();
        assert_eq!(written, "-9223372036854775807");
        assert_eq!(Quantity::parse(&written).unwrap().to_string(), written);
    }
}
