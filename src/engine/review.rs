//! One admission decision for a VirtualMachine, shared by every face (the Kubewarden policy and the
//! npm package): matcher checks → inference → governance → lookups → spread, conflicts and
//! requirements → (expand mode) the expanded VM.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::admission::{self, checks_with_specs};
use crate::engine::cause::{self, Cause, FIELD_VALUE_NOT_FOUND};
use crate::engine::expand::{self, expand_with_specs};
use crate::engine::find::{self, FindError, MatcherRole};
use crate::engine::governance::{GovernanceRules, NameRule};
use crate::engine::infer::{self, InferenceOptions};
use crate::engine::lookup::{LookupError, ObjectSource};
use crate::engine::model::PreferenceSpec;
use crate::engine::options::{ClusterOptions, ExpandOptions};

/// What the review does with a valid VM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewMode {
    /// Return the VM expanded inline (KubeVirt's `referencePolicy: expand`).
    #[default]
    Expand,
    /// Never change the VM; only reject what KubeVirt's webhooks reject.
    Validate,
}

/// Everything that shapes a review. The policy's settings deserialize into this (through
/// [`SettingsKeys`], so that every error names its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "SettingsKeys")]
pub struct ReviewOptions {
    /// `expand` (default) or `validate`.
    pub mode: ReviewMode,
    /// Admit VMs whose instancetype or preference does not exist (as KubeVirt ≥ 1.6 does) instead of
    /// rejecting them with the NotFound error. Such a VM is admitted as it is (references kept, not
    /// expanded), with a warning, once what was found passes KubeVirt's checks (spread, conflicts
    /// with a found instancetype, a found preference's requirements).
    pub allow_missing_objects: bool,
    /// Let volume inference follow references into other namespaces (off: such references reject).
    pub allow_cross_namespace_inference: bool,
    /// Apply KubeVirt's VMI defaults when expanding (as `virtctl expand` does).
    pub vmi_defaults: bool,
    /// Cluster settings that change expansion.
    pub cluster: ClusterOptions,
    /// Governance rules.
    #[serde(flatten)]
    pub governance: GovernanceRules,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        Self {
            mode: ReviewMode::Expand,
            allow_missing_objects: false,
            allow_cross_namespace_inference: false,
            vmi_defaults: true,
            cluster: ClusterOptions::default(),
            governance: GovernanceRules::default(),
        }
    }
}

/// [`ReviewOptions`] as written: every key at the top level, the governance rules' among them.
/// (`serde(flatten)` would buffer the rules' keys, and an error would then name neither the key's
/// path nor the keys expected.)
#[derive(Deserialize)]
#[serde(rename = "ReviewOptions", rename_all = "camelCase", default, deny_unknown_fields)]
struct SettingsKeys {
    mode: ReviewMode,
    allow_missing_objects: bool,
    allow_cross_namespace_inference: bool,
    vmi_defaults: bool,
    cluster: ClusterOptions,
    require_instancetype: bool,
    allowed_instancetypes: Vec<NameRule>,
    allowed_preferences: Vec<NameRule>,
    forbid_inline_resources_without_instancetype: bool,
}

impl Default for SettingsKeys {
    fn default() -> Self {
        let ReviewOptions {
            mode,
            allow_missing_objects,
            allow_cross_namespace_inference,
            vmi_defaults,
            cluster,
            governance,
        } = ReviewOptions::default();
        Self {
            mode,
            allow_missing_objects,
            allow_cross_namespace_inference,
            vmi_defaults,
            cluster,
            require_instancetype: governance.require_instancetype,
            allowed_instancetypes: governance.allowed_instancetypes,
            allowed_preferences: governance.allowed_preferences,
            forbid_inline_resources_without_instancetype: governance.forbid_inline_resources_without_instancetype,
        }
    }
}

impl From<SettingsKeys> for ReviewOptions {
    fn from(keys: SettingsKeys) -> Self {
        Self {
            mode: keys.mode,
            allow_missing_objects: keys.allow_missing_objects,
            allow_cross_namespace_inference: keys.allow_cross_namespace_inference,
            vmi_defaults: keys.vmi_defaults,
            cluster: keys.cluster,
            governance: GovernanceRules {
                require_instancetype: keys.require_instancetype,
                allowed_instancetypes: keys.allowed_instancetypes,
                allowed_preferences: keys.allowed_preferences,
                forbid_inline_resources_without_instancetype: keys.forbid_inline_resources_without_instancetype,
            },
        }
    }
}

impl ReviewOptions {
    /// Checks values serde cannot: the cluster options and the governance rules.
    pub fn validate(&self) -> Result<(), String> {
        match self.cluster.default_network_interface.as_str() {
            "bridge" | "masquerade" => {}
            other => {
                return Err(format!(
                    "cluster.defaultNetworkInterface must be bridge or masquerade, not {other:?}"
                ));
            }
        }
        match self.cluster.default_architecture.as_str() {
            "amd64" | "arm64" | "s390x" => {}
            other => {
                return Err(format!(
                    "cluster.defaultArchitecture must be amd64, arm64 or s390x, not {other:?}"
                ));
            }
        }
        match self.cluster.eviction_strategy.as_str() {
            "None" | "LiveMigrate" | "LiveMigrateIfPossible" | "External" => {}
            other => {
                return Err(format!(
                    "cluster.evictionStrategy must be None, LiveMigrate, LiveMigrateIfPossible or External, not {other:?}"
                ));
            }
        }
        self.governance.validate()
    }

    /// The expansion switches within these options.
    pub fn expand_options(&self) -> ExpandOptions {
        ExpandOptions {
            cluster: self.cluster.clone(),
            vmi_defaults: self.vmi_defaults,
            // The review infers before it expands (`review_vm`), with these options' settings.
            infer_from_volumes: false,
            allow_cross_namespace_inference: self.allow_cross_namespace_inference,
        }
    }
}

/// A rejected request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The message ([`cause::join_messages`] of the causes, when there are causes).
    pub message: String,
    /// HTTP status code (422 invalid, 400 bad request as KubeVirt's inference uses).
    pub code: u16,
    /// KubeVirt-style causes (may be empty).
    pub causes: Vec<Cause>,
}

impl Rejection {
    /// A 422 rejection from causes.
    pub fn invalid(causes: Vec<Cause>) -> Self {
        Self {
            message: cause::join_messages(&causes),
            code: 422,
            causes,
        }
    }

    /// A rejection with a message and no causes.
    pub fn message(message: impl Into<String>, code: u16) -> Self {
        Self {
            message: message.into(),
            code,
            causes: Vec::new(),
        }
    }
}

/// The decision about one VM.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Admit unchanged.
    Accept,
    /// Admit this (changed) VM instead.
    Mutate(Value),
    /// Refuse.
    Reject(Rejection),
}

/// A decision plus the warnings to return with it.
#[derive(Debug, Clone, PartialEq)]
pub struct VmReview {
    /// The decision.
    pub verdict: Verdict,
    /// Warnings (inference notes, missing objects let through, ...).
    pub warnings: Vec<String>,
}

impl VmReview {
    fn reject(rejection: Rejection, warnings: Vec<String>) -> Self {
        Self {
            verdict: Verdict::Reject(rejection),
            warnings,
        }
    }
}

/// Reviews a VM CREATE or UPDATE (`old_vm` given on UPDATE). Namespaced objects are looked up in
/// `namespace`. Lookups happen in this order, each object at most once when `source` is a
/// [`crate::engine::lookup::RecordingSource`]: inference (instancetype, then preference), the
/// instancetype (its ControllerRevision or the object), then the preference likewise.
pub fn review_vm(
    vm: &Value,
    old_vm: Option<&Value>,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &ReviewOptions,
) -> VmReview {
    let mut warnings = Vec::new();
    if !vm.is_object() {
        return VmReview::reject(
            Rejection::message("the VirtualMachine is not a JSON object", 400),
            warnings,
        );
    }
    match admission::check_matchers(vm, old_vm) {
        Ok(causes) if !causes.is_empty() => return VmReview::reject(Rejection::invalid(causes), warnings),
        Ok(_) => {}
        Err(error) => return VmReview::reject(Rejection::message(error.to_string(), 400), warnings),
    }

    // KubeVirt's `referencePolicy: expand` leaves a VM whose instancetype or preference is already
    // captured in a ControllerRevision as it is: such a VM is only validated. What counts is the
    // stored VM's status (a CREATE has none: a status in the request is dropped by the API server).
    let mode = match options.mode {
        ReviewMode::Expand if old_vm.is_some_and(find::has_captured_revision) => ReviewMode::Validate,
        mode => mode,
    };
    let inference = InferenceOptions {
        allow_cross_namespace: options.allow_cross_namespace_inference,
    };
    // The VM itself, borrowed, unless inference changed a matcher.
    let inferred: Cow<'_, Value> = match infer::infer_copy(vm, namespace, source, &inference) {
        Ok((inferred, notes)) => {
            warnings.extend(notes);
            inferred.map_or(Cow::Borrowed(vm), Cow::Owned)
        }
        Err(error) => return VmReview::reject(Rejection::message(error.to_string(), 400), warnings),
    };

    let governance = match old_vm {
        // On UPDATE, only what the update changes (a VM the policy expanded has its sizing inline).
        Some(old_vm) => options.governance.check_update(&inferred, vm, old_vm),
        None => options.governance.check(&inferred),
    };
    match governance {
        Ok(causes) if !causes.is_empty() => return VmReview::reject(Rejection::invalid(causes), warnings),
        Ok(_) => {}
        Err(error) => return VmReview::reject(Rejection::message(error.to_string(), 400), warnings),
    }

    if !expand::has_matchers(&inferred) {
        return finish(vm, inferred, warnings, mode);
    }

    let mut let_through = false;
    let instancetype = match find::find_instancetype(&inferred, namespace, source) {
        Ok(found) => found,
        Err(error) => match missing(error, MatcherRole::Instancetype, options, &mut warnings) {
            Ok(()) => {
                let_through = true;
                None
            }
            Err(rejection) => return VmReview::reject(rejection, warnings),
        },
    };
    let preference = match find::find_preference(&inferred, namespace, source) {
        Ok(found) => found,
        Err(error) => match missing(error, MatcherRole::Preference, options, &mut warnings) {
            Ok(()) => {
                let_through = true;
                None
            }
            Err(rejection) => return VmReview::reject(rejection, warnings),
        },
    };

    let expand_options = options.expand_options();
    if let_through {
        // A missing object let through: admit the VM as it is, keeping its references (expanding now
        // would drop the reference to the missing object for good). As KubeVirt >= 1.6 does, what was
        // found is still checked: spread, conflicts with a found instancetype, and a found preference's
        // requirements (against the VM's own sizing when the instancetype is the missing one).
        let checks = checks_with_specs(
            &inferred,
            instancetype.as_deref(),
            preference.as_deref(),
            &expand_options,
        );
        if let Some(error) = checks.error {
            return VmReview::reject(Rejection::message(error, 422), warnings);
        }
        let causes = checks.causes();
        if !causes.is_empty() {
            return VmReview::reject(Rejection::invalid(causes), warnings);
        }
        return finish(vm, inferred, warnings, mode);
    }
    if mode == ReviewMode::Expand {
        // The common case, a VM that passes: checked and expanded with one application.
        if let Some(expanded) = admission::expand_checked(
            &inferred,
            instancetype.as_deref(),
            preference.as_deref(),
            &expand_options,
        ) {
            return persist_and_finish(vm, expanded, preference.as_deref(), warnings);
        }
    }
    let checks = checks_with_specs(
        &inferred,
        instancetype.as_deref(),
        preference.as_deref(),
        &expand_options,
    );
    if let Some(error) = checks.error {
        return VmReview::reject(Rejection::message(error, 422), warnings);
    }
    let causes = checks.causes();
    if !causes.is_empty() {
        return VmReview::reject(Rejection::invalid(causes), warnings);
    }

    if mode == ReviewMode::Validate || (instancetype.is_none() && preference.is_none()) {
        return finish(vm, inferred, warnings, mode);
    }
    let expanded = match expand_with_specs(
        inferred.into_owned(),
        instancetype.as_deref(),
        preference.as_deref(),
        &expand_options,
    ) {
        Ok(expanded) => expanded,
        Err(error) => return VmReview::reject(Rejection::message(error.to_string(), 422), warnings),
    };
    persist_and_finish(vm, expanded, preference.as_deref(), warnings)
}

/// The expanded VM with what KubeVirt's mutating webhook persists from the preference, then
/// [`finish`].
fn persist_and_finish(
    original: &Value,
    mut expanded: Value,
    preference: Option<&PreferenceSpec>,
    warnings: Vec<String>,
) -> VmReview {
    if let Err(error) = admission::persist_preference_values(&mut expanded, preference) {
        return VmReview::reject(Rejection::message(error.to_string(), 422), warnings);
    }
    finish(original, Cow::Owned(expanded), warnings, ReviewMode::Expand)
}

/// Accept or mutate; validate mode never changes the VM.
fn finish(original: &Value, result: Cow<'_, Value>, warnings: Vec<String>, mode: ReviewMode) -> VmReview {
    let verdict = match result {
        // Borrowed: the VM itself, unchanged.
        Cow::Borrowed(_) => Verdict::Accept,
        Cow::Owned(_) if mode == ReviewMode::Validate => Verdict::Accept,
        Cow::Owned(result) if result == *original => Verdict::Accept,
        Cow::Owned(result) => Verdict::Mutate(result),
    };
    VmReview { verdict, warnings }
}

/// A lookup failure: let a missing object through when allowed (with a warning), else reject.
fn missing(
    error: FindError,
    role: MatcherRole,
    options: &ReviewOptions,
    warnings: &mut Vec<String>,
) -> Result<(), Rejection> {
    let what = match role {
        MatcherRole::Instancetype => "instancetype",
        MatcherRole::Preference => "preference",
    };
    let not_found = matches!(error, FindError::Lookup(LookupError::NotFound(_)));
    if not_found && options.allow_missing_objects {
        warnings.push(format!("ignoring missing {what}: {error}"));
        return Ok(());
    }
    let field = format!("spec.{}", role.spec_key());
    let message = format!("Failure to find {what}: {error}");
    let reason = if not_found {
        FIELD_VALUE_NOT_FOUND
    } else {
        cause::FIELD_VALUE_INVALID
    };
    Err(Rejection::invalid(vec![Cause::new(reason, message, field)]))
}
