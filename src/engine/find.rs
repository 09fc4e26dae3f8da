//! Resolution of a VM's instancetype and preference matchers into specs (spec §2).
//!
//! Order per matcher: `revisionName` → `status.<x>Ref.controllerRevisionRef` (only when its
//! object-name label matches) → the live object by kind and name. The VM's legacy
//! `spec.flavor` matcher (KubeVirt v0.54–v0.55) is read as the old name of `spec.instancetype`;
//! a VM that uses it looks its instancetype *and* preference up in `flavor.kubevirt.io`.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::json::{self, ShapeError};
use crate::engine::lookup::{LookupError, ObjectRef, ObjectSource, ResourceKind, SpecLookupError};
use crate::engine::model::legacy::DecodeError;
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};
use crate::engine::revision;

/// Which of the two matchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatcherRole {
    /// `spec.instancetype` (or the legacy `spec.flavor`).
    Instancetype,
    /// `spec.preference`.
    Preference,
}

impl MatcherRole {
    /// The Go type name used in KubeVirt's messages (`InstancetypeMatcher`, `PreferenceMatcher`).
    pub fn go_type(self) -> &'static str {
        match self {
            Self::Instancetype => "InstancetypeMatcher",
            Self::Preference => "PreferenceMatcher",
        }
    }

    /// The VM spec key of the matcher.
    pub fn spec_key(self) -> &'static str {
        match self {
            Self::Instancetype => "instancetype",
            Self::Preference => "preference",
        }
    }

    /// The matcher's path in the VM (`spec.instancetype`, `spec.preference`), for errors.
    pub fn spec_path(self) -> &'static str {
        match self {
            Self::Instancetype => "spec.instancetype",
            Self::Preference => "spec.preference",
        }
    }

    /// The VM status key of the reference (`instancetypeRef`, `preferenceRef`).
    pub fn status_key(self) -> &'static str {
        match self {
            Self::Instancetype => "instancetypeRef",
            Self::Preference => "preferenceRef",
        }
    }
}

/// A VM's `spec.instancetype` / `spec.preference` matcher.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    /// `name`.
    pub name: String,
    /// `kind` (empty means the cluster kind).
    pub kind: String,
    /// `revisionName`.
    pub revision_name: String,
    /// `inferFromVolume`.
    pub infer_from_volume: String,
    /// `inferFromVolumeFailurePolicy` (`Reject`, `Ignore`; empty = Reject).
    pub infer_from_volume_failure_policy: Option<String>,
    /// Whether the matcher was read from the legacy `spec.flavor` key.
    pub legacy_flavor: bool,
}

/// Reads the `role` matcher of a VM (`None` when absent or `null`).
pub fn read_matcher(vm: &Value, role: MatcherRole) -> Result<Option<Matcher>, ShapeError> {
    let spec = json::get(vm, "spec");
    let legacy_flavor = role == MatcherRole::Instancetype
        && spec.is_some_and(|s| !json::has(s, "instancetype") && json::has(s, "flavor"));
    let key = if legacy_flavor { "flavor" } else { role.spec_key() };
    let Some(raw) = spec.and_then(|s| json::get(s, key)) else {
        return Ok(None);
    };
    // The path for errors, without building it on every read.
    let field = if legacy_flavor { "spec.flavor" } else { role.spec_path() };
    json::as_object(raw, field)?;
    let text = |name: &str| -> Result<String, ShapeError> {
        match json::get(raw, name) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(ShapeError::new(
                json::join(field, name),
                format!("expected a string, found {}", json::type_name(other)),
            )),
        }
    };
    let policy = text("inferFromVolumeFailurePolicy")?;
    Ok(Some(Matcher {
        name: text("name")?,
        kind: text("kind")?,
        revision_name: text("revisionName")?,
        infer_from_volume: text("inferFromVolume")?,
        infer_from_volume_failure_policy: json::has(raw, "inferFromVolumeFailurePolicy").then_some(policy),
        legacy_flavor,
    }))
}

/// Whether the VM's matchers point at the flavor-era API group.
pub fn uses_legacy_flavor(vm: &Value) -> bool {
    json::get(vm, "spec").is_some_and(|s| !json::has(s, "instancetype") && json::has(s, "flavor"))
}

/// Why an instancetype or preference could not be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FindError {
    /// The object or ControllerRevision could not be fetched.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The fetched object could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The matcher names a kind that is neither the namespaced nor the cluster kind.
    #[error("got unexpected kind in {matcher}: {kind}")]
    UnexpectedKind {
        /// `InstancetypeMatcher` or `PreferenceMatcher`.
        matcher: &'static str,
        /// The kind as written.
        kind: String,
    },
    /// The VM itself is malformed where resolution reads it.
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

impl From<SpecLookupError> for FindError {
    fn from(error: SpecLookupError) -> Self {
        match error {
            SpecLookupError::Lookup(error) => Self::Lookup(error),
            SpecLookupError::Decode(error) => Self::Decode(error),
        }
    }
}

/// The kind a matcher's `kind` resolves to, or the unexpected-kind error.
pub fn resolve_kind(role: MatcherRole, kind: &str, legacy_flavor: bool) -> Result<ResourceKind, FindError> {
    let lowered = go_lowercase(kind);
    let resolved = match (role, lowered.as_str()) {
        (MatcherRole::Instancetype, "virtualmachineinstancetype" | "virtualmachineinstancetypes") => {
            Some(ResourceKind::Instancetype)
        }
        (MatcherRole::Instancetype, "virtualmachineclusterinstancetype" | "virtualmachineclusterinstancetypes") => {
            Some(ResourceKind::ClusterInstancetype)
        }
        // The flavor kinds only in the legacy `spec.flavor` matcher: KubeVirt's `spec.instancetype`
        // has never known them (`got unexpected kind in InstancetypeMatcher`).
        (MatcherRole::Instancetype, "virtualmachineflavor" | "virtualmachineflavors") if legacy_flavor => {
            Some(ResourceKind::Flavor)
        }
        (MatcherRole::Instancetype, "virtualmachineclusterflavor" | "virtualmachineclusterflavors")
            if legacy_flavor =>
        {
            Some(ResourceKind::ClusterFlavor)
        }
        (MatcherRole::Instancetype, "") if legacy_flavor => Some(ResourceKind::ClusterFlavor),
        (MatcherRole::Instancetype, "") => Some(ResourceKind::ClusterInstancetype),
        (MatcherRole::Preference, "virtualmachinepreference" | "virtualmachinepreferences") => Some(if legacy_flavor {
            ResourceKind::FlavorPreference
        } else {
            ResourceKind::Preference
        }),
        (MatcherRole::Preference, "virtualmachineclusterpreference" | "virtualmachineclusterpreferences" | "") => {
            Some(if legacy_flavor {
                ResourceKind::FlavorClusterPreference
            } else {
                ResourceKind::ClusterPreference
            })
        }
        _ => None,
    };
    resolved.ok_or_else(|| FindError::UnexpectedKind {
        matcher: role.go_type(),
        kind: kind.to_owned(),
    })
}

/// `kind` lower-cased as Go's `strings.ToLower` does it, for comparing with the (ASCII) resource
/// names: ASCII letters, and the two other characters whose lower case is an ASCII letter, `İ`
/// (U+0130) → `i` and the Kelvin sign (U+212A) → `k`. Any other character matches no name whatever
/// its case, so it is kept (byte by byte: no Unicode case tables are needed).
fn go_lowercase(kind: &str) -> String {
    let mut lowered = Vec::with_capacity(kind.len());
    let mut rest = kind.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = match (byte, tail) {
            (0xc4, [0xb0, after @ ..]) => {
                lowered.push(b'i');
                after
            }
            (0xe2, [0x84, 0xaa, after @ ..]) => {
                lowered.push(b'k');
                after
            }
            _ => {
                lowered.push(byte.to_ascii_lowercase());
                tail
            }
        };
    }
    // Only whole characters were replaced (by ASCII letters), and other bytes kept: still UTF-8. (Were
    // it not, the kind as written would match no name, never the empty kind.)
    String::from_utf8(lowered).unwrap_or_else(|_| kind.to_owned())
}

/// The VM's `metadata.namespace` (`""` when absent).
pub fn vm_namespace(vm: &Value) -> &str {
    json::get(vm, "metadata").map_or("", |m| json::get_str(m, "namespace"))
}

/// The ControllerRevision to use for `role`, if any (§2.3 steps 1 and 2).
fn find_revision(
    vm: &Value,
    matcher: &Matcher,
    role: MatcherRole,
    namespace: &str,
    source: &dyn ObjectSource,
) -> Result<Option<Arc<Value>>, FindError> {
    if !matcher.revision_name.is_empty() {
        let object = ObjectRef::new(
            ResourceKind::ControllerRevision,
            Some(namespace),
            &matcher.revision_name,
        );
        return Ok(Some(source.get_shared(&object)?));
    }
    let Some(name) = captured_revision_name(vm, role) else {
        return Ok(None);
    };
    let object = ObjectRef::new(ResourceKind::ControllerRevision, Some(namespace), name);
    let found = source.get_shared(&object)?;
    let matches = revision::revision_object_name_label(&found) == Some(matcher.name.as_str());
    Ok(matches.then_some(found))
}

/// Whether the VM's instancetype or preference is captured in a ControllerRevision
/// (`status.instancetypeRef` or `status.preferenceRef` names one), as KubeVirt's
/// `HasControllerRevisionRef` tells.
pub fn has_captured_revision(vm: &Value) -> bool {
    [MatcherRole::Instancetype, MatcherRole::Preference]
        .into_iter()
        .any(|role| captured_revision_name(vm, role).is_some())
}

/// The ControllerRevision `status.<role>Ref.controllerRevisionRef.name` names, if any.
fn captured_revision_name(vm: &Value, role: MatcherRole) -> Option<&str> {
    json::get_path(vm, &["status", role.status_key(), "controllerRevisionRef", "name"])
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

/// Resolves the VM's instancetype (`None` when the VM has no instancetype matcher).
pub fn find_instancetype(
    vm: &Value,
    namespace: &str,
    source: &dyn ObjectSource,
) -> Result<Option<Arc<InstancetypeSpec>>, FindError> {
    let Some(matcher) = read_matcher(vm, MatcherRole::Instancetype)? else {
        return Ok(None);
    };
    if let Some(found) = find_revision(vm, &matcher, MatcherRole::Instancetype, namespace, source)? {
        // A revision holding a preference is KubeVirt's `unexpected type in ControllerRevision: %T`.
        return Ok(Some(Arc::new(revision::decode_instancetype_revision(&found)?)));
    }
    let kind = resolve_kind(MatcherRole::Instancetype, &matcher.kind, matcher.legacy_flavor)?;
    let object = ObjectRef::new(kind, Some(namespace), &matcher.name);
    Ok(Some(source.instancetype_spec(&object)?))
}

/// Resolves the VM's preference (`None` when the VM has no preference matcher).
pub fn find_preference(
    vm: &Value,
    namespace: &str,
    source: &dyn ObjectSource,
) -> Result<Option<Arc<PreferenceSpec>>, FindError> {
    let Some(matcher) = read_matcher(vm, MatcherRole::Preference)? else {
        return Ok(None);
    };
    if let Some(found) = find_revision(vm, &matcher, MatcherRole::Preference, namespace, source)? {
        return Ok(Some(Arc::new(revision::decode_preference_revision(&found)?)));
    }
    let kind = resolve_kind(MatcherRole::Preference, &matcher.kind, uses_legacy_flavor(vm))?;
    let object = ObjectRef::new(kind, Some(namespace), &matcher.name);
    Ok(Some(source.preference_spec(&object)?))
}
