//! `expand`: the VM with its instancetype and preference applied inline, exactly as KubeVirt's
//! `expand-vm-spec` API / `virtctl expand` produces it (spec §3.8).

use serde_json::{Map, Value};

use crate::engine::apply::{self, ApplyError};
use crate::engine::defaults::{self, DefaultsError};
use crate::engine::find::{self, FindError};
use crate::engine::infer::{self, InferError, InferenceOptions};
use crate::engine::json::{self, ShapeError};
use crate::engine::lookup::ObjectSource;
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};
use crate::engine::options::ExpandOptions;
use crate::engine::vm_quantities;

/// The VMI spec path inside a VM.
pub const VMI_SPEC_PATH: &str = "spec.template.spec";

/// Why a VM could not be expanded. `Display` is KubeVirt's error text where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpandError {
    /// The VM is not a JSON object or a field has the wrong shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Inferring a matcher from a volume failed.
    #[error(transparent)]
    Inference(#[from] InferError),
    /// The instancetype or preference could not be resolved.
    #[error(transparent)]
    Find(#[from] FindError),
    /// The instancetype conflicts with the VM, or the preference cannot be applied.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A cluster default could not be set.
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
}

/// Expands `vm` looking objects up in its own `metadata.namespace`.
///
/// The result is a new VM, so `vm` is copied first; a caller that owns the VM (it has just parsed
/// it) saves that copy with [`expand_owned`].
pub fn expand(vm: &Value, source: &dyn ObjectSource, options: &ExpandOptions) -> Result<Value, ExpandError> {
    expand_in_namespace(vm, find::vm_namespace(vm), source, options)
}

/// [`expand`] for a caller that hands the VM over: it is expanded in place, not copied.
pub fn expand_owned(vm: Value, source: &dyn ObjectSource, options: &ExpandOptions) -> Result<Value, ExpandError> {
    let namespace = find::vm_namespace(&vm).to_owned();
    expand_owned_in_namespace(vm, &namespace, source, options)
}

/// Whether the VM references an instancetype or a preference (including the legacy `spec.flavor`).
pub fn has_matchers(vm: &Value) -> bool {
    json::get(vm, "spec").is_some_and(|spec| {
        ["instancetype", "flavor", "preference"]
            .iter()
            .any(|key| json::has(spec, key))
    })
}

/// Mutable views of a VM's `spec.template.spec` and `spec.template.metadata`.
pub type TemplateParts<'a> = (&'a mut Map<String, Value>, &'a mut Map<String, Value>);

/// The VM's template spec and metadata, created when absent.
pub fn template_parts(vm: &mut Value) -> Result<TemplateParts<'_>, ShapeError> {
    let root = json::as_object_mut(vm, "")?;
    let template = json::object_path(root, "", &["spec", "template"])?;
    // Create both entries first so the two mutable borrows below are disjoint.
    json::object_entry(template, "metadata", "spec.template.metadata")?;
    json::object_entry(template, "spec", VMI_SPEC_PATH)?;
    let mut spec = None;
    let mut metadata = None;
    for (key, value) in template.iter_mut() {
        match key.as_str() {
            "spec" => spec = value.as_object_mut(),
            "metadata" => metadata = value.as_object_mut(),
            _ => {}
        }
    }
    match (spec, metadata) {
        (Some(spec), Some(metadata)) => Ok((spec, metadata)),
        _ => Err(ShapeError::new("spec.template", "expected spec and metadata objects")),
    }
}

/// Expands `vm`, looking namespaced objects up in `namespace` (the policy passes the admission
/// request's namespace, as objects often carry none on CREATE).
pub fn expand_in_namespace(
    vm: &Value,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &ExpandOptions,
) -> Result<Value, ExpandError> {
    json::as_object(vm, "")?;
    expand_owned_in_namespace(vm.clone(), namespace, source, options)
}

/// [`expand_in_namespace`] for a caller that hands the VM over (see [`expand_owned`]).
pub fn expand_owned_in_namespace(
    mut expanded: Value,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &ExpandOptions,
) -> Result<Value, ExpandError> {
    json::as_object(&expanded, "")?;
    if options.infer_from_volumes && has_matchers(&expanded) {
        let inference = InferenceOptions {
            allow_cross_namespace: options.allow_cross_namespace_inference,
        };
        infer::apply_inference(&mut expanded, namespace, source, &inference)?;
    }
    if !has_matchers(&expanded) {
        // KubeVirt's `Expand` hands such a VM back as it decoded it: written as its typed VM is. (With
        // inference, this includes a VM whose only matcher an ignored inference failure dropped: it
        // references nothing, as KubeVirt's webhook leaves it.)
        vm_quantities::canonicalize(&mut expanded);
        return Ok(expanded);
    }

    let instancetype = find::find_instancetype(&expanded, namespace, source)?;
    let preference = find::find_preference(&expanded, namespace, source)?;
    expand_with_specs(expanded, instancetype.as_deref(), preference.as_deref(), options)
}

/// Expands a VM whose instancetype and preference are already resolved (inference already done):
/// the VM's quantities in Kubernetes' JSON form ([`vm_quantities`]), default disks and interface,
/// application, VMI defaults, matchers removed.
pub fn expand_with_specs(
    mut vm: Value,
    instancetype: Option<&InstancetypeSpec>,
    preference: Option<&PreferenceSpec>,
    options: &ExpandOptions,
) -> Result<Value, ExpandError> {
    vm_quantities::canonicalize(&mut vm);
    {
        let (vmi_spec, metadata) = template_parts(&mut vm)?;
        defaults::set_default_volume_disks(vmi_spec, VMI_SPEC_PATH)?;
        defaults::set_default_network_interface(vmi_spec, VMI_SPEC_PATH, &options.cluster)?;
        apply::apply_to_vmi(instancetype, preference, vmi_spec, metadata, VMI_SPEC_PATH)?;
        if options.vmi_defaults {
            defaults::set_vmi_defaults(vmi_spec, VMI_SPEC_PATH, &options.cluster)?;
        }
    }
    remove_matchers(&mut vm);
    Ok(vm)
}

/// Removes `spec.instancetype`, `spec.flavor`, `spec.preference`, `status.instancetypeRef` and
/// `status.preferenceRef`.
pub fn remove_matchers(vm: &mut Value) {
    // Looked for first: removing hashes the key, and most of these are absent.
    if let Some(spec) = json::get_mut(vm, "spec").and_then(Value::as_object_mut) {
        for key in ["instancetype", "flavor", "preference"] {
            if json::contains(spec, key) {
                spec.shift_remove(key);
            }
        }
    }
    if let Some(status) = json::get_mut(vm, "status").and_then(Value::as_object_mut) {
        for key in ["instancetypeRef", "preferenceRef"] {
            if json::contains(status, key) {
                status.shift_remove(key);
            }
        }
    }
}
