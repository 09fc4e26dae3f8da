//! Admission of instancetype and preference objects themselves (spec §1.6), as KubeVirt's
//! `InstancetypeAdmitter` / `PreferenceAdmitter` do it, plus this project's rejection of a spread
//! ratio of 0 (spec §8.2).
//!
//! Like KubeVirt, warnings are only produced for objects that are admitted: when there are causes,
//! `warnings` is empty. Objects of every version [`crate::engine::model::legacy`] reads are validated
//! after conversion to `v1beta1`.

use serde_json::Value;

use crate::engine::cause::{self, Cause};
use crate::engine::model::legacy::{self, DecodeError, ObjectCategory};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};

/// Field of the overcommit causes.
pub const OVERCOMMIT_PERCENT_FIELD: &str = "spec.memory.overcommitPercent";
/// The overcommit/hugepages cause message.
pub const OVERCOMMIT_WITH_HUGEPAGES_MESSAGE: &str =
    "spec.memory.overcommitPercent and spec.memory.hugepages should not be requested together.";
/// KubeVirt's warning for an instancetype using `launchSecurity`.
pub const LAUNCH_SECURITY_DEPRECATED_WARNING: &str =
    "launchSecurity is deprecated and will be removed in a future release. Use preference instead.";
/// Field of the unknown-topology cause.
pub const PREFERRED_CPU_TOPOLOGY_FIELD: &str = "spec.cpu.preferredCPUTopology";
/// Field of the unsupported-across cause.
pub const SPREAD_ACROSS_FIELD: &str = "spec.cpu.spreadOptions.across";
/// Field of the spread ratio causes.
pub const SPREAD_RATIO_FIELD: &str = "spec.cpu.spreadOptions.ratio";
/// KubeVirt's message for `CoresThreads` with a ratio other than 2.
pub const CORES_THREADS_RATIO_MESSAGE: &str =
    "only a ratio of 2 (1 core 2 threads) is allowed when spreading vCPUs over cores and threads";
/// This project's message for `spreadOptions.ratio: 0` with a spread topology (KubeVirt divides by zero).
pub const ZERO_RATIO_MESSAGE: &str =
    "a ratio of 0 is not allowed when spreading vCPUs: spec.cpu.spreadOptions.ratio must be at least 1";

/// Every topology KubeVirt accepts, current and deprecated.
const SUPPORTED_TOPOLOGIES: [&str; 10] = [
    "preferSockets",
    "preferCores",
    "preferThreads",
    "preferSpread",
    "preferAny",
    "sockets",
    "cores",
    "threads",
    "spread",
    "any",
];

/// Every `spreadOptions.across` KubeVirt accepts.
const SUPPORTED_ACROSS: [&str; 3] = ["CoresThreads", "SocketsCores", "SocketsCoresThreads"];

/// The outcome of admitting an instancetype or preference object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectValidation {
    /// Why the object is rejected (empty: admitted).
    pub causes: Vec<Cause>,
    /// Warnings for an admitted object.
    pub warnings: Vec<String>,
}

impl ObjectValidation {
    /// Whether the object is admitted.
    pub fn is_allowed(&self) -> bool {
        self.causes.is_empty()
    }

    /// The rejection message ([`cause::join_messages`]), or `None` when admitted.
    pub fn rejection_message(&self) -> Option<String> {
        (!self.causes.is_empty()).then(|| cause::join_messages(&self.causes))
    }

    fn from_causes(causes: Vec<Cause>, warnings: impl FnOnce() -> Vec<String>) -> Self {
        let warnings = if causes.is_empty() { warnings() } else { Vec::new() };
        Self { causes, warnings }
    }

    fn undecodable(err: &DecodeError) -> Self {
        let field = err.field().unwrap_or_default();
        Self {
            causes: vec![Cause::invalid(err.to_string(), field)],
            warnings: Vec::new(),
        }
    }
}

/// Validates any instancetype or preference object (any version this crate reads). An object that
/// cannot be decoded gets one `FieldValueInvalid` cause naming the field.
pub fn validate_object(object: &Value) -> ObjectValidation {
    let category = match legacy::object_type(object) {
        Ok(found) => found.category,
        Err(err) => return ObjectValidation::undecodable(&err),
    };
    match category {
        ObjectCategory::Instancetype => match legacy::instancetype_spec_from_served_object(object) {
            Ok(spec) => validate_instancetype_spec(&spec),
            Err(err) => ObjectValidation::undecodable(&err),
        },
        ObjectCategory::Preference => match legacy::preference_spec_from_served_object(object) {
            Ok(spec) => validate_preference_spec(&spec),
            Err(err) => ObjectValidation::undecodable(&err),
        },
    }
}

/// KubeVirt's `ValidateInstanceTypeSpec` plus the deprecation warning.
pub fn validate_instancetype_spec(spec: &InstancetypeSpec) -> ObjectValidation {
    let mut causes = Vec::new();
    let percent = spec.memory.overcommit_percent;
    if !(0..=100).contains(&percent) {
        causes.push(Cause::invalid(
            format!("{OVERCOMMIT_PERCENT_FIELD} '{percent}': must be in range between 0 and 100."),
            OVERCOMMIT_PERCENT_FIELD,
        ));
    }
    if percent != 0 && spec.memory.hugepages.is_some() {
        causes.push(Cause::invalid(
            OVERCOMMIT_WITH_HUGEPAGES_MESSAGE,
            OVERCOMMIT_PERCENT_FIELD,
        ));
    }
    ObjectValidation::from_causes(causes, || {
        if spec.launch_security.is_some() {
            vec![LAUNCH_SECURITY_DEPRECATED_WARNING.to_owned()]
        } else {
            Vec::new()
        }
    })
}

/// KubeVirt's `ValidatePreferenceSpec` (topology, spread options), this project's ratio-0 rule, and
/// the deprecated-topology warning.
pub fn validate_preference_spec(spec: &PreferenceSpec) -> ObjectValidation {
    let mut causes = Vec::new();
    let topology = spec.cpu.as_ref().and_then(|cpu| cpu.preferred_cpu_topology.as_deref());
    if let Some(unknown) = topology.filter(|topology| !SUPPORTED_TOPOLOGIES.contains(topology)) {
        causes.push(Cause::invalid(
            format!("unknown preferredCPUTopology {unknown}"),
            PREFERRED_CPU_TOPOLOGY_FIELD,
        ));
    }
    if matches!(topology, Some("spread" | "preferSpread")) {
        causes.extend(validate_spread_options(spec));
    }
    ObjectValidation::from_causes(causes, || {
        topology
            .and_then(|topology| deprecated_topology_replacement(topology).map(|replacement| (topology, replacement)))
            .map(|(topology, replacement)| {
                vec![format!(
                    "PreferredCPUTopology {topology} is deprecated for removal in a future release, please use {replacement} instead"
                )]
            })
            .unwrap_or_default()
    })
}

/// The current topology replacing a deprecated one (`preferSockets` → `sockets`, ...).
pub fn deprecated_topology_replacement(topology: &str) -> Option<&'static str> {
    match topology {
        "preferSockets" => Some("sockets"),
        "preferCores" => Some("cores"),
        "preferThreads" => Some("threads"),
        "preferSpread" => Some("spread"),
        "preferAny" => Some("any"),
        _ => None,
    }
}

/// KubeVirt's `validateSpreadOptions` (at most one cause), then the ratio-0 rule.
fn validate_spread_options(spec: &PreferenceSpec) -> Option<Cause> {
    let options = spec.cpu.as_ref().and_then(|cpu| cpu.spread_options.as_ref());
    let across = options.and_then(|o| o.across.as_deref()).unwrap_or("SocketsCores");
    let ratio = match options.and_then(|o| o.ratio) {
        Some(ratio) => ratio,
        None if spec.prefer_spread_socket_to_core_ratio != 0 => spec.prefer_spread_socket_to_core_ratio,
        None => 2,
    };
    if !SUPPORTED_ACROSS.contains(&across) {
        return Some(Cause::invalid(
            format!("across {across} is not supported"),
            SPREAD_ACROSS_FIELD,
        ));
    }
    if across == "CoresThreads" && ratio != 2 {
        return Some(Cause::invalid(CORES_THREADS_RATIO_MESSAGE, SPREAD_RATIO_FIELD));
    }
    (ratio == 0).then(|| Cause::invalid(ZERO_RATIO_MESSAGE, SPREAD_RATIO_FIELD))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;
    use crate::engine::cause::FIELD_VALUE_INVALID;

    fn instancetype(spec: Value) -> Value {
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype",
               "metadata": {"name": "it"}, "spec": spec})
    }

    fn preference(spec: Value) -> Value {
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference",
               "metadata": {"name": "p"}, "spec": spec})
    }

    fn spread(options: Value) -> Value {
        preference(json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": options}}))
    }

    fn messages(result: &ObjectValidation) -> Vec<(&str, &str)> {
        result
            .causes
            .iter()
            .map(|c| (c.message.as_str(), c.field.as_str()))
            .collect()
    }

    #[test]
    fn valid_instancetype_is_allowed() {
        let result = validate_object(&instancetype(
            json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": 100}}),
        ));
        assert!(result.is_allowed());
        assert_eq!(result, ObjectValidation::default());
        assert_eq!(result.rejection_message(), None);
    }

    #[test]
    fn overcommit_out_of_range_is_rejected() {
        for percent in [-1, 101] {
            let result = validate_object(&instancetype(
                json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": percent}}),
            ));
            assert_eq!(
                messages(&result),
                vec![(
                    format!("spec.memory.overcommitPercent '{percent}': must be in range between 0 and 100.").as_str(),
                    "spec.memory.overcommitPercent"
                )]
            );
            assert_eq!(result.causes[0].reason, FIELD_VALUE_INVALID);
        }
    }

    #[test]
    fn overcommit_with_hugepages_is_rejected() {
        let result = validate_object(&instancetype(
            json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": 10, "hugepages": {"pageSize": "2Mi"}}}),
        ));
        assert_eq!(
            messages(&result),
            vec![(
                "spec.memory.overcommitPercent and spec.memory.hugepages should not be requested together.",
                "spec.memory.overcommitPercent"
            )]
        );
    }

    #[test]
    fn both_overcommit_causes_are_joined() {
        let result = validate_object(&instancetype(
            json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi", "overcommitPercent": 150, "hugepages": {}}, "launchSecurity": {}}),
        ));
        assert_eq!(
            result.rejection_message().unwrap(),
            "spec.memory.overcommitPercent '150': must be in range between 0 and 100., \
             spec.memory.overcommitPercent and spec.memory.hugepages should not be requested together."
        );
        assert!(result.warnings.is_empty(), "no warnings on rejection");
    }

    #[test]
    fn launch_security_warns() {
        let result = validate_object(&instancetype(
            json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}, "launchSecurity": {"sev": {}}}),
        ));
        assert!(result.is_allowed());
        assert_eq!(
            result.warnings,
            vec!["launchSecurity is deprecated and will be removed in a future release. Use preference instead."]
        );
    }

    #[test]
    fn undecodable_object_gives_one_cause_naming_the_field() {
        let result = validate_object(&instancetype(
            json!({"cpu": {"guest": "x"}, "memory": {"guest": "1Gi"}}),
        ));
        assert_eq!(
            messages(&result),
            vec![(
                r#"spec.cpu.guest: invalid type: string "x", expected u32"#,
                "spec.cpu.guest"
            )]
        );
        let result = validate_object(&instancetype(json!({"cpu": {"guest": 1}, "memory": {}})));
        assert_eq!(
            messages(&result),
            vec![("spec.memory.guest: missing required field", "spec.memory.guest")]
        );
    }

    #[test]
    fn unsupported_kind_gives_one_cause() {
        let result = validate_object(&json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine"}));
        assert_eq!(result.causes.len(), 1);
        assert_eq!(result.causes[0].field, "kind");
        assert!(
            result.causes[0]
                .message
                .contains(r#"apiVersion "kubevirt.io/v1" kind "VirtualMachine""#)
        );
        let result = validate_object(&json!(42));
        assert_eq!(result.causes.len(), 1);
    }

    #[test]
    fn valid_preference_is_allowed() {
        for topology in ["sockets", "cores", "threads", "spread", "any"] {
            let result = validate_object(&preference(json!({"cpu": {"preferredCPUTopology": topology}})));
            assert_eq!(result, ObjectValidation::default(), "{topology}");
        }
        assert_eq!(validate_object(&preference(json!({}))), ObjectValidation::default());
    }

    #[test]
    fn unknown_topology_is_rejected() {
        let result = validate_object(&preference(json!({"cpu": {"preferredCPUTopology": "diagonal"}})));
        assert_eq!(
            messages(&result),
            vec![("unknown preferredCPUTopology diagonal", "spec.cpu.preferredCPUTopology")]
        );
        assert_eq!(
            result.rejection_message().unwrap(),
            "unknown preferredCPUTopology diagonal"
        );
    }

    #[test]
    fn old_versions_are_admitted_as_kubevirt_reads_them_as_v1beta1() {
        // KubeVirt's webhooks decode every served version as v1beta1 (no conversion): an empty
        // topology is unknown in all of them, and fields the old schema lacked are still judged.
        for version in ["v1beta1", "v1alpha2", "v1alpha1"] {
            let old = json!({"apiVersion": format!("instancetype.kubevirt.io/{version}"),
                             "kind": "VirtualMachinePreference",
                             "spec": {"cpu": {"preferredCPUTopology": ""}}});
            assert_eq!(
                messages(&validate_object(&old)),
                vec![("unknown preferredCPUTopology ", "spec.cpu.preferredCPUTopology")],
                "{version}"
            );
            let overcommitted = json!({"apiVersion": format!("instancetype.kubevirt.io/{version}"),
                                       "kind": "VirtualMachineInstancetype",
                                       "spec": {"cpu": {"guest": 1}, "memory": {
                                           "guest": "1Gi", "hugepages": {"pageSize": "2Mi"}, "overcommitPercent": 10}}});
            assert_eq!(
                messages(&validate_object(&overcommitted)),
                vec![(
                    "spec.memory.overcommitPercent and spec.memory.hugepages should not be requested together.",
                    "spec.memory.overcommitPercent"
                )],
                "{version}"
            );
        }
    }

    #[test]
    fn deprecated_topologies_warn_with_their_replacement() {
        for (old, new) in [
            ("preferSockets", "sockets"),
            ("preferCores", "cores"),
            ("preferThreads", "threads"),
            ("preferSpread", "spread"),
            ("preferAny", "any"),
        ] {
            let result = validate_object(&preference(json!({"cpu": {"preferredCPUTopology": old}})));
            assert!(result.is_allowed(), "{old}");
            assert_eq!(
                result.warnings,
                vec![format!(
                    "PreferredCPUTopology {old} is deprecated for removal in a future release, please use {new} instead"
                )]
            );
        }
    }

    #[test]
    fn unsupported_across_is_rejected() {
        let result = validate_object(&spread(json!({"across": "SocketsThreads"})));
        assert_eq!(
            messages(&result),
            vec![(
                "across SocketsThreads is not supported",
                "spec.cpu.spreadOptions.across"
            )]
        );
    }

    #[test]
    fn unsupported_across_under_prefer_spread_is_rejected_with_no_warning() {
        let result = validate_object(&preference(
            json!({"cpu": {"preferredCPUTopology": "preferSpread", "spreadOptions": {"across": "Nope"}}}),
        ));
        assert_eq!(
            messages(&result),
            vec![("across Nope is not supported", "spec.cpu.spreadOptions.across")]
        );
        assert!(result.warnings.is_empty());
    }

    #[test]
    fn spread_options_are_ignored_without_spread_topology() {
        let result = validate_object(&preference(
            json!({"cpu": {"preferredCPUTopology": "cores", "spreadOptions": {"across": "Nope", "ratio": 0}}}),
        ));
        assert!(result.is_allowed());
    }

    #[test]
    fn cores_threads_needs_ratio_two() {
        for options in [
            json!({"across": "CoresThreads", "ratio": 3}),
            json!({"across": "CoresThreads", "ratio": 0}),
        ] {
            let result = validate_object(&spread(options));
            assert_eq!(
                messages(&result),
                vec![(CORES_THREADS_RATIO_MESSAGE, "spec.cpu.spreadOptions.ratio")]
            );
        }
        let legacy_ratio = preference(
            json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "CoresThreads"}},
                                             "preferSpreadSocketToCoreRatio": 4}),
        );
        assert_eq!(
            messages(&validate_object(&legacy_ratio)),
            vec![(CORES_THREADS_RATIO_MESSAGE, "spec.cpu.spreadOptions.ratio")]
        );
        assert!(validate_object(&spread(json!({"across": "CoresThreads"}))).is_allowed());
        assert!(validate_object(&spread(json!({"across": "CoresThreads", "ratio": 2}))).is_allowed());
    }

    #[test]
    fn zero_ratio_is_rejected_when_spreading() {
        for across in ["SocketsCores", "SocketsCoresThreads"] {
            let result = validate_object(&spread(json!({"across": across, "ratio": 0})));
            assert_eq!(
                messages(&result),
                vec![(ZERO_RATIO_MESSAGE, "spec.cpu.spreadOptions.ratio")],
                "{across}"
            );
        }
        let result = validate_object(&spread(json!({"ratio": 0})));
        assert_eq!(result.rejection_message().unwrap(), ZERO_RATIO_MESSAGE);
    }

    #[test]
    fn zero_prefer_spread_socket_to_core_ratio_means_unset() {
        let result = validate_object(&preference(
            json!({"cpu": {"preferredCPUTopology": "spread"}, "preferSpreadSocketToCoreRatio": 0}),
        ));
        assert!(result.is_allowed());
        let result = validate_object(&preference(
            json!({"cpu": {"preferredCPUTopology": "spread", "spreadOptions": {"across": "SocketsCores", "ratio": 4}},
                   "preferSpreadSocketToCoreRatio": 3}),
        ));
        assert!(result.is_allowed());
    }

    #[test]
    fn undecodable_preference_gives_one_cause() {
        let result = validate_object(&preference(json!({"cpu": {"spreadOptions": {"ratio": -1}}})));
        assert_eq!(result.causes.len(), 1);
        assert_eq!(result.causes[0].field, "spec.cpu.spreadOptions.ratio");
        assert!(
            result.causes[0]
                .message
                .starts_with("spec.cpu.spreadOptions.ratio: invalid value: integer `-1`")
        );
    }
}
