//! What KubeVirt's VM webhooks check about instancetypes and preferences (spec §6, §4, §5):
//! matcher structure (mutating webhook), then spread divisibility, conflicts, VMI defaults and
//! preference requirements on a copy of the VM (validating webhook). Nothing here changes the VM.

use serde_json::Value;

use crate::engine::apply;
use crate::engine::cause::{Cause, FIELD_VALUE_NOT_FOUND};
use crate::engine::defaults;
use crate::engine::expand::{VMI_SPEC_PATH, expand_with_specs, template_parts};
use crate::engine::find::{self, Matcher, MatcherRole};
use crate::engine::json::{self, ShapeError};
use crate::engine::lookup::ObjectSource;
use crate::engine::options::ExpandOptions;
use crate::engine::requirements;

/// `metav1.CauseTypeFieldValueNotSupported`.
pub const FIELD_VALUE_NOT_SUPPORTED: &str = "FieldValueNotSupported";

/// The outcome of the VM validating webhook's instancetype checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionChecks {
    /// Spread or conflict causes (`None` when there are none).
    pub apply_causes: Option<Vec<Cause>>,
    /// The failed preference requirement (`None` when met or not checked).
    pub requirements_cause: Option<Cause>,
    /// An error that is not a cause (a malformed VM, a refused default interface).
    pub error: Option<String>,
}

impl AdmissionChecks {
    /// Every cause, in order.
    pub fn causes(&self) -> Vec<Cause> {
        let mut causes = self.apply_causes.clone().unwrap_or_default();
        causes.extend(self.requirements_cause.clone());
        causes
    }

    /// Whether the VM passes.
    pub fn is_allowed(&self) -> bool {
        self.apply_causes.is_none() && self.requirements_cause.is_none() && self.error.is_none()
    }
}

/// KubeVirt's VM validation for instancetypes and preferences, on a copy of `vm`. Objects that
/// cannot be found are ignored, as KubeVirt ≥ 1.6 does (callers that want a rejection resolve
/// first). Looks objects up in the VM's own namespace.
pub fn vm_admission_checks(vm: &Value, source: &dyn ObjectSource, options: &ExpandOptions) -> AdmissionChecks {
    vm_admission_checks_in_namespace(vm, find::vm_namespace(vm), source, options)
}

/// [`vm_admission_checks`] with an explicit lookup namespace.
pub fn vm_admission_checks_in_namespace(
    vm: &Value,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &ExpandOptions,
) -> AdmissionChecks {
    let instancetype = find::find_instancetype(vm, namespace, source).ok().flatten();
    let preference = find::find_preference(vm, namespace, source).ok().flatten();
    checks_with_specs(vm, instancetype.as_deref(), preference.as_deref(), options)
}

/// The validating checks given already resolved specs.
pub fn checks_with_specs(
    vm: &Value,
    instancetype: Option<&crate::engine::model::InstancetypeSpec>,
    preference: Option<&crate::engine::model::PreferenceSpec>,
    options: &ExpandOptions,
) -> AdmissionChecks {
    let mut checks = AdmissionChecks::default();
    if instancetype.is_none() && preference.is_none() {
        return checks;
    }
    if let Some(cause) = requirements::check_spread(instancetype, preference) {
        checks.apply_causes = Some(vec![cause]);
        return checks;
    }
    let mut copy = vm.clone();
    // The VM as KubeVirt decodes it, as the expansion reads it (a `null` map value is a present key).
    crate::engine::vm_quantities::canonicalize(&mut copy);
    let outcome = (|| -> Result<Option<Cause>, CheckError> {
        let (vmi_spec, metadata) = template_parts(&mut copy)?;
        match apply::apply_to_vmi(instancetype, preference, vmi_spec, metadata, VMI_SPEC_PATH) {
            Ok(()) => {}
            Err(apply::ApplyError::Conflicts(conflicts)) => return Err(CheckError::Causes(conflicts.causes())),
            Err(other) => return Err(CheckError::Message(other.to_string())),
        }
        defaults::set_vmi_defaults(vmi_spec, VMI_SPEC_PATH, &options.cluster)
            .map_err(|e| CheckError::Message(e.to_string()))?;
        Ok(requirements::check_requirements(instancetype, preference, vmi_spec)?.map(|failure| failure.cause()))
    })();
    match outcome {
        Ok(requirement) => checks.requirements_cause = requirement,
        Err(CheckError::Causes(causes)) => checks.apply_causes = Some(causes),
        Err(CheckError::Message(message)) => checks.error = Some(message),
    }
    checks
}

/// The expansion of a VM that passes every check of [`checks_with_specs`], found with one
/// application of the instancetype and preference instead of two (one on a copy for the checks,
/// one for the expansion). `None` when anything fails or the shortcut does not apply
/// (`vmi_defaults` off, nothing to apply); the caller then runs [`checks_with_specs`] and
/// [`expand_with_specs`] separately, which name the failure exactly as KubeVirt does.
///
/// Why one application suffices: the expansion first adds the default disks, pod network and
/// interface, then applies, then sets the VMI defaults; the checks apply to the VM as it is and then
/// set the VMI defaults. The defaults only append new disks, interfaces and networks, which no
/// instancetype field conflicts with and which the requirements (CPU, memory, architecture) never
/// read; and every field of the VM that the checks could find malformed is read in the same state by
/// the expansion. So when the expansion succeeds and its result meets the requirements, the checks
/// pass too. `tests/single_pass.rs` holds the two paths to that over the catalogue.
pub fn expand_checked(
    vm: &Value,
    instancetype: Option<&crate::engine::model::InstancetypeSpec>,
    preference: Option<&crate::engine::model::PreferenceSpec>,
    options: &ExpandOptions,
) -> Option<Value> {
    if !options.vmi_defaults || (instancetype.is_none() && preference.is_none()) {
        return None;
    }
    if requirements::check_spread(instancetype, preference).is_some() {
        return None;
    }
    let expanded = expand_with_specs(vm.clone(), instancetype, preference, options).ok()?;
    let vmi_spec = json::get_path(&expanded, &["spec", "template", "spec"])?.as_object()?;
    match requirements::check_requirements(instancetype, preference, vmi_spec) {
        Ok(None) => Some(expanded),
        Ok(Some(_)) | Err(_) => None,
    }
}

enum CheckError {
    Causes(Vec<Cause>),
    Message(String),
}

impl From<ShapeError> for CheckError {
    fn from(error: ShapeError) -> Self {
        Self::Message(error.to_string())
    }
}

fn matcher_causes(matcher: &Matcher, role: MatcherRole, key: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    if matcher.name.is_empty() && matcher.infer_from_volume.is_empty() {
        causes.push(Cause::new(
            FIELD_VALUE_NOT_FOUND,
            format!(
                "Either Name or InferFromVolume should be provided within the {}",
                role.go_type()
            ),
            format!("spec.{key}"),
        ));
    }
    if !matcher.infer_from_volume.is_empty() {
        if !matcher.name.is_empty() {
            causes.push(Cause::new(
                FIELD_VALUE_NOT_SUPPORTED,
                "Name already set, should be cleared before setting inferFromVolume",
                format!("spec.{key}.name"),
            ));
        }
        if !matcher.kind.is_empty() {
            causes.push(Cause::new(
                FIELD_VALUE_NOT_SUPPORTED,
                "Kind already set, should be cleared before setting inferFromVolume",
                format!("spec.{key}.kind"),
            ));
        }
    }
    if let Some(policy) = matcher.infer_from_volume_failure_policy.as_deref() {
        if policy != "Ignore" && policy != "Reject" {
            causes.push(Cause::invalid(
                format!("Invalid value '{policy}' for InferFromVolumeFailurePolicy"),
                format!("spec.{key}.inferFromVolumeFailurePolicy"),
            ));
        }
    }
    causes
}

/// The mutating webhook's matcher checks (spec §6): on UPDATE (`old_vm` given) a renamed matcher
/// that keeps its non-empty `revisionName`; then each matcher's structure. KubeVirt stops at the
/// first group with causes.
pub fn check_matchers(vm: &Value, old_vm: Option<&Value>) -> Result<Vec<Cause>, ShapeError> {
    let roles = [MatcherRole::Instancetype, MatcherRole::Preference];
    if let Some(old_vm) = old_vm {
        for role in roles {
            let (Some(new), Some(old)) = (find::read_matcher(vm, role)?, find::read_matcher(old_vm, role)?) else {
                continue;
            };
            if !new.revision_name.is_empty() && new.name != old.name && new.revision_name == old.revision_name {
                let key = if new.legacy_flavor { "flavor" } else { role.spec_key() };
                return Ok(vec![Cause::invalid(
                    "the Matcher Name has been updated without updating the RevisionName",
                    format!("spec.{key}.revisionName"),
                )]);
            }
        }
    }
    for role in roles {
        if let Some(matcher) = find::read_matcher(vm, role)? {
            let key = if matcher.legacy_flavor {
                "flavor"
            } else {
                role.spec_key()
            };
            let causes = matcher_causes(&matcher, role, key);
            if !causes.is_empty() {
                return Ok(causes);
            }
        }
    }
    Ok(Vec::new())
}

/// KubeVirt's VM mutating webhook persists three preference values into the VM itself (spec
/// §3.7): `preferredArchitecture`, `preferredMachineType` and `volumes.preferredStorageClassName`
/// on DataVolume templates. Returns whether anything changed.
pub fn persist_preference_values(
    vm: &mut Value,
    preference: Option<&crate::engine::model::PreferenceSpec>,
) -> Result<bool, ShapeError> {
    let Some(preference) = preference else { return Ok(false) };
    // Every write below fills a field that is absent, null or empty with a non-empty value, so each
    // one is a change: counted instead of comparing with a copy of the whole VM. Reaching the VMI spec
    // creates `spec.template.{spec,metadata}` when absent, a change too.
    let template_exists = ["spec", "metadata"]
        .iter()
        .all(|key| crate::engine::json::get_path(vm, &["spec", "template", key]).is_some_and(Value::is_object));
    let mut changed = false;
    if let Some(architecture) = preference.preferred_architecture.as_deref().filter(|a| !a.is_empty()) {
        changed |= !template_exists;
        let (vmi_spec, _) = template_parts(vm)?;
        if apply::read_str(vmi_spec, "architecture", VMI_SPEC_PATH)?.is_empty() {
            crate::engine::json::put(vmi_spec, "architecture", Value::from(architecture));
            changed = true;
        }
    }
    if let Some(machine_type) = preference
        .machine
        .as_ref()
        .map(|m| m.preferred_machine_type.as_str())
        .filter(|t| !t.is_empty())
    {
        changed |= !template_exists;
        let (vmi_spec, _) = template_parts(vm)?;
        let machine = crate::engine::json::object_path(vmi_spec, VMI_SPEC_PATH, &["domain", "machine"])?;
        if apply::read_str(machine, "type", "spec.template.spec.domain.machine")?.is_empty() {
            crate::engine::json::put(machine, "type", Value::from(machine_type));
            changed = true;
        }
    }
    if let Some(class) = preference
        .volumes
        .as_ref()
        .map(|v| v.preferred_storage_class_name.as_str())
        .filter(|c| !c.is_empty())
    {
        if let Some(templates) = vm
            .get_mut("spec")
            .and_then(|s| s.get_mut("dataVolumeTemplates"))
            .and_then(Value::as_array_mut)
        {
            for template in templates {
                let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) else {
                    continue;
                };
                for key in ["pvc", "storage"] {
                    if let Some(target) = spec.get_mut(key).and_then(Value::as_object_mut) {
                        if crate::engine::json::is_absent(target, "storageClassName") {
                            target.insert("storageClassName".into(), Value::String(class.to_owned()));
                            changed = true;
                        }
                    }
                }
            }
        }
    }
    Ok(changed)
}
