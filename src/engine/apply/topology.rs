//! vCPU topology from an instancetype's guest count and a preference (spec §3.3).

use crate::engine::model::PreferenceSpec;

/// A vCPU topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// Why a topology cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// `spreadOptions.ratio: 0` (KubeVirt divides by zero here; this project refuses it).
    #[error("spec.cpu.spreadOptions.ratio of the preference must be greater than 0 to spread vCPUs")]
    ZeroSpreadRatio,
}

/// `sockets`, the default preferred topology.
pub const DEFAULT_TOPOLOGY: &str = "sockets";
/// `SocketsCores`, the default spread axis.
pub const DEFAULT_SPREAD_ACROSS: &str = "SocketsCores";
/// The spread ratio when none is given.
pub const DEFAULT_SPREAD_RATIO: u32 = 2;
/// Threads per core of the `SocketsCoresThreads` spread.
pub const THREADS_PER_CORE: u32 = 2;

/// The preferred topology name (`sockets` when unset).
pub fn preferred_topology(preference: Option<&PreferenceSpec>) -> &str {
    preference
        .and_then(|p| p.cpu.as_ref())
        .and_then(|cpu| cpu.preferred_cpu_topology.as_deref())
        .unwrap_or(DEFAULT_TOPOLOGY)
}

/// Whether a topology name means spread (`spread` or the legacy `preferSpread`).
pub fn is_spread(topology: &str) -> bool {
    matches!(topology, "spread" | "preferSpread")
}

/// Spread ratio and axis: ratio 2, or `preferSpreadSocketToCoreRatio` if non-zero, or
/// `spreadOptions.ratio` if set; axis `spreadOptions.across` or `SocketsCores`.
pub fn spread_options(preference: Option<&PreferenceSpec>) -> (u32, &str) {
    let mut ratio = DEFAULT_SPREAD_RATIO;
    let mut across = DEFAULT_SPREAD_ACROSS;
    if let Some(preference) = preference {
        if preference.prefer_spread_socket_to_core_ratio != 0 {
            ratio = preference.prefer_spread_socket_to_core_ratio;
        }
        if let Some(options) = preference.cpu.as_ref().and_then(|cpu| cpu.spread_options.as_ref()) {
            if let Some(value) = options.across.as_deref() {
                across = value;
            }
            if let Some(value) = options.ratio {
                ratio = value;
            }
        }
    }
    (ratio, across)
}

/// The topology KubeVirt gives `vcpus` under `preference`. Unknown topology names and spread axes
/// give 1/1/1, as upstream; integer division truncates.
pub fn guest_topology(vcpus: u32, preference: Option<&PreferenceSpec>) -> Result<Topology, TopologyError> {
    let mut topology = Topology {
        sockets: 1,
        cores: 1,
        threads: 1,
    };
    if vcpus == 1 {
        return Ok(topology);
    }
    match preferred_topology(preference) {
        "cores" | "preferCores" => topology.cores = vcpus,
        "sockets" | "preferSockets" | "any" | "preferAny" => topology.sockets = vcpus,
        "threads" | "preferThreads" => topology.threads = vcpus,
        "spread" | "preferSpread" => {
            let (ratio, across) = spread_options(preference);
            let divide = |value: u32| value.checked_div(ratio).ok_or(TopologyError::ZeroSpreadRatio);
            match across {
                "SocketsCores" => {
                    topology.cores = ratio;
                    topology.sockets = divide(vcpus)?;
                }
                "CoresThreads" => {
                    topology.threads = ratio;
                    topology.cores = divide(vcpus)?;
                }
                "SocketsCoresThreads" => {
                    topology.threads = THREADS_PER_CORE;
                    topology.cores = ratio;
                    topology.sockets = divide(vcpus / THREADS_PER_CORE)?;
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(topology)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{CpuPreferences, SpreadOptions};

    fn pref(topology: &str, across: Option<&str>, ratio: Option<u32>, legacy_ratio: u32) -> PreferenceSpec {
        PreferenceSpec {
            cpu: Some(CpuPreferences {
                preferred_cpu_topology: Some(topology.to_owned()),
                spread_options: Some(SpreadOptions {
                    across: across.map(str::to_owned),
                    ratio,
                }),
                ..Default::default()
            }),
            prefer_spread_socket_to_core_ratio: legacy_ratio,
            ..Default::default()
        }
    }

    fn t(vcpus: u32, p: &PreferenceSpec) -> (u32, u32, u32) {
        let t = guest_topology(vcpus, Some(p)).unwrap();
        (t.sockets, t.cores, t.threads)
    }

    #[test]
    fn spec_examples_hold() {
        assert_eq!(t(2, &pref("spread", None, None, 0)), (1, 2, 1));
        assert_eq!(t(6, &pref("spread", None, None, 0)), (3, 2, 1));
        assert_eq!(t(12, &pref("spread", None, Some(4), 0)), (3, 4, 1));
        assert_eq!(t(4, &pref("spread", Some("SocketsCoresThreads"), None, 0)), (1, 2, 2));
        assert_eq!(
            t(6, &pref("spread", Some("SocketsCoresThreads"), Some(3), 0)),
            (1, 3, 2)
        );
    }

    #[test]
    fn legacy_names_and_default_are_honoured() {
        assert_eq!(guest_topology(4, None).map(|t| t.sockets), Ok(4));
        assert_eq!(t(4, &pref("preferCores", None, None, 0)), (1, 4, 1));
        assert_eq!(t(4, &pref("preferThreads", None, None, 0)), (1, 1, 4));
        assert_eq!(t(4, &pref("preferAny", None, None, 0)), (4, 1, 1));
        assert_eq!(t(8, &pref("preferSpread", None, None, 4)), (2, 4, 1));
    }

    #[test]
    fn spread_options_ratio_overrides_legacy_ratio() {
        assert_eq!(t(12, &pref("spread", None, Some(3), 4)), (4, 3, 1));
    }

    #[test]
    fn unknown_topology_or_axis_gives_one_of_each() {
        assert_eq!(t(4, &pref("diagonal", None, None, 0)), (1, 1, 1));
        assert_eq!(t(4, &pref("spread", Some("Nowhere"), None, 0)), (1, 1, 1));
    }

    #[test]
    fn single_vcpu_short_circuits_even_with_zero_ratio() {
        assert_eq!(t(1, &pref("spread", None, Some(0), 0)), (1, 1, 1));
    }

    #[test]
    fn zero_ratio_is_an_error_not_a_crash() {
        assert_eq!(
            guest_topology(4, Some(&pref("spread", None, Some(0), 0))),
            Err(TopologyError::ZeroSpreadRatio)
        );
    }

    #[test]
    fn truncates_like_go() {
        assert_eq!(t(3, &pref("spread", None, None, 0)), (1, 2, 1));
        assert_eq!(t(2, &pref("spread", None, Some(4), 0)), (0, 4, 1));
    }
}
