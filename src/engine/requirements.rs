//! Preference requirements (spec §5.1) and spread divisibility (spec §5.2).
//!
//! KubeVirt runs these only in VM admission, never in `expand`.

use serde_json::{Map, Value};

use crate::engine::apply::read_u32;
use crate::engine::apply::topology::{self, THREADS_PER_CORE};
use crate::engine::cause::{Cause, FIELD_VALUE_INVALID};
use crate::engine::json::{self, ShapeError};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};
use crate::engine::quantity::Quantity;

/// A failed requirement: the message and the conflicting field paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementFailure {
    /// KubeVirt's message (without the admission prefix).
    pub message: String,
    /// Field paths, in KubeVirt's order.
    pub fields: Vec<String>,
}

impl RequirementFailure {
    fn new(message: String, fields: &[&str]) -> Self {
        Self {
            message,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// The admission cause: `FieldValueNotFound`, `failure checking preference requirements: ...`.
    pub fn cause(&self) -> Cause {
        Cause::new(
            crate::engine::cause::FIELD_VALUE_NOT_FOUND,
            format!("failure checking preference requirements: {}", self.message),
            self.fields.join(", "),
        )
    }
}

const CPU_BASE: &str = "spec.template.spec.domain.cpu";

/// Checks the preference's requirements against the instancetype or the (defaulted) VMI spec.
/// Order CPU → memory → architecture; the first failure wins.
pub fn check_requirements(
    instancetype: Option<&InstancetypeSpec>,
    preference: Option<&PreferenceSpec>,
    vmi_spec: &Map<String, Value>,
) -> Result<Option<RequirementFailure>, ShapeError> {
    let Some(preference) = preference else { return Ok(None) };
    let Some(requirements) = &preference.requirements else {
        return Ok(None);
    };
    if let Some(cpu) = &requirements.cpu {
        if let Some(failure) = check_cpu(instancetype, preference, cpu.guest, vmi_spec)? {
            return Ok(Some(failure));
        }
    }
    if let Some(memory) = &requirements.memory {
        if let Some(failure) = check_memory(instancetype, &memory.guest, vmi_spec)? {
            return Ok(Some(failure));
        }
    }
    if let Some(architecture) = &requirements.architecture {
        let actual = json::find(vmi_spec, "architecture")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if actual != architecture {
            return Ok(Some(RequirementFailure::new(
                format!("preference requires architecture {architecture} but {actual} is being requested"),
                &["spec.template.spec.architecture"],
            )));
        }
    }
    Ok(None)
}

fn check_cpu(
    instancetype: Option<&InstancetypeSpec>,
    preference: &PreferenceSpec,
    required: u32,
    vmi_spec: &Map<String, Value>,
) -> Result<Option<RequirementFailure>, ShapeError> {
    if let Some(instancetype) = instancetype {
        if instancetype.cpu.guest < required {
            return Ok(Some(RequirementFailure::new(
                format!(
                    "insufficient CPU resources of {} vCPU provided by instance type, preference requires {required} vCPU",
                    instancetype.cpu.guest
                ),
                &["spec.instancetype"],
            )));
        }
        return Ok(None);
    }
    let Some(cpu) = json::find(vmi_spec, "domain").and_then(|d| json::get(d, "cpu")) else {
        return Ok(Some(RequirementFailure::new(
            format!("no CPU resources provided by VirtualMachine, preference requires {required} vCPU"),
            &[CPU_BASE],
        )));
    };
    let cpu = json::as_object(cpu, CPU_BASE)?;
    let sockets = read_u32(cpu, "sockets", CPU_BASE)?;
    let cores = read_u32(cpu, "cores", CPU_BASE)?;
    let threads = read_u32(cpu, "threads", CPU_BASE)?;
    let insufficient = |provided: u32, suffix: &str, fields: &[&str]| {
        (provided < required).then(|| {
            RequirementFailure::new(
                format!(
                    "insufficient CPU resources of {provided} vCPU provided by VirtualMachine, preference requires {required} vCPU provided as {suffix}"
                ),
                fields,
            )
        })
    };
    let sockets_path = format!("{CPU_BASE}.sockets");
    let cores_path = format!("{CPU_BASE}.cores");
    let threads_path = format!("{CPU_BASE}.threads");
    // Products wrap like Go's uint32 arithmetic.
    Ok(match topology::preferred_topology(Some(preference)) {
        "threads" | "preferThreads" => insufficient(threads, "threads", &[&threads_path]),
        "cores" | "preferCores" => insufficient(cores, "cores", &[&cores_path]),
        "sockets" | "preferSockets" => insufficient(sockets, "sockets", &[&sockets_path]),
        "spread" | "preferSpread" => match topology::spread_options(Some(preference)).1 {
            across @ "SocketsCores" => insufficient(sockets.wrapping_mul(cores), across, &[&sockets_path, &cores_path]),
            across @ "CoresThreads" => insufficient(cores.wrapping_mul(threads), across, &[&cores_path, &threads_path]),
            across @ "SocketsCoresThreads" => insufficient(
                sockets.wrapping_mul(cores).wrapping_mul(threads),
                across,
                &[&sockets_path, &cores_path, &threads_path],
            ),
            // Upstream compares 0 vCPUs for an unknown axis, with no conflicting fields.
            across => insufficient(0, across, &[]),
        },
        "any" | "preferAny" => insufficient(
            cores.wrapping_mul(sockets).wrapping_mul(threads),
            "cores, sockets and threads",
            &[&cores_path, &sockets_path, &threads_path],
        ),
        _ => None,
    })
}

fn check_memory(
    instancetype: Option<&InstancetypeSpec>,
    required: &Quantity,
    vmi_spec: &Map<String, Value>,
) -> Result<Option<RequirementFailure>, ShapeError> {
    let guest_field = "spec.template.spec.domain.memory.guest";
    let vmi_guest = match json::find(vmi_spec, "domain")
        .and_then(|d| json::get(d, "memory"))
        .and_then(|m| json::get(m, "guest"))
    {
        Some(value) => Some(json::decode::<Quantity>(value, guest_field)?),
        None => None,
    };
    let (provided, by, field) = match instancetype {
        Some(it) => (
            vmi_guest.unwrap_or_else(|| it.memory.guest.clone()),
            "instance type",
            "spec.instancetype",
        ),
        None => (
            vmi_guest.unwrap_or_else(Quantity::zero),
            "VirtualMachine",
            "spec.template.spec.domain.memory",
        ),
    };
    if provided < *required {
        return Ok(Some(RequirementFailure::new(
            format!("insufficient Memory resources of {provided} provided by {by}, preference requires {required}"),
            &[field],
        )));
    }
    Ok(None)
}

/// The spread divisibility check KubeVirt's VM admission runs first (spec §5.2): only with an
/// instancetype and a spread topology. A zero ratio is reported where KubeVirt would divide by it.
pub fn check_spread(instancetype: Option<&InstancetypeSpec>, preference: Option<&PreferenceSpec>) -> Option<Cause> {
    let instancetype = instancetype?;
    if !topology::is_spread(topology::preferred_topology(preference)) {
        return None;
    }
    let guest = instancetype.cpu.guest;
    let (ratio, across) = topology::spread_options(preference);
    let field = "instancetype.spec.cpu.guest";
    let divides_by_ratio = match across {
        "SocketsCores" | "CoresThreads" => true,
        // KubeVirt tests the threads first and, for an odd count, stops there: no division.
        "SocketsCoresThreads" => guest % THREADS_PER_CORE == 0,
        _ => false,
    };
    if ratio == 0 && divides_by_ratio {
        return Some(Cause::new(
            FIELD_VALUE_INVALID,
            topology::TopologyError::ZeroSpreadRatio.to_string(),
            field,
        ));
    }
    let not_divisible = |value: u32| value.checked_rem(ratio).is_some_and(|rest| rest > 0);
    let message = match across {
        "SocketsCores" if not_divisible(guest) => format!(
            "{guest} vCPUs provided by the instance type are not divisible by the Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of {ratio} provided by the preference"
        ),
        "CoresThreads" if not_divisible(guest) => format!(
            "{guest} vCPUs provided by the instance type are not divisible by the number of threads per core {ratio}"
        ),
        "SocketsCoresThreads" if guest % THREADS_PER_CORE > 0 || not_divisible(guest / THREADS_PER_CORE) => format!(
            "{guest} vCPUs provided by the instance type are not divisible by the number of threads per core {THREADS_PER_CORE} and Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of {ratio}"
        ),
        _ => return None,
    };
    Some(Cause::new(FIELD_VALUE_INVALID, message, field))
}
