//! The Kubewarden policy face: a mutating, context-aware admission policy over the [`crate::engine`].
//!
//! Everything here is plain Rust with no Kubewarden SDK types, so it builds and is tested natively;
//! only `guest` (compiled for `wasm32-wasip1`) touches the SDK and the waPC host.
//!
//! [`validate`] handles one `validate` call:
//! - `VirtualMachine` (`kubevirt.io`) CREATE/UPDATE → [`review_vm`] (expand or validate mode,
//!   governance, lookups through the host, each object fetched at most once, in a fixed order);
//! - the instancetype/preference kinds (`instancetype.kubevirt.io` v1beta1/v1alpha2/v1alpha1 and
//!   `flavor.kubevirt.io/v1alpha1`) CREATE/UPDATE → [`validate_object`] (§1.6), with warnings;
//! - anything else (DELETE, CONNECT, subresources, other kinds) → accepted untouched.
//!
//! Nothing panics and nothing returns an error to the host: a malformed request is rejected with
//! a message saying what is wrong.

pub mod host;
pub mod request;
pub mod response;
pub mod settings;

#[cfg(target_os = "wasi")]
mod guest;

use serde_json::Value;

use crate::engine::lookup::{ObjectSource, RecordingSource};
use crate::engine::object_validation::validate_object;
use crate::engine::review::{Verdict, review_vm};
use crate::policy::request::{AdmissionRequest, GroupVersionKind, parse_validation_request};
use crate::policy::response::PolicyResponse;
use crate::policy::settings::{Settings, parse_settings};

pub use crate::policy::settings::validate_settings;

/// HTTP 400, for requests the policy cannot read.
const BAD_REQUEST: u16 = 400;
/// HTTP 422, KubeVirt's code for invalid objects.
const UNPROCESSABLE: u16 = 422;

/// What the policy does with a request of a given kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A `kubevirt.io` `VirtualMachine`: the VM review.
    VirtualMachine,
    /// An instancetype or preference object of an API version this crate reads: object validation.
    InstancetypeObject,
    /// An instancetype or preference kind of an API version this crate does not know: admitted
    /// with a warning (a newer KubeVirt's object should not be blocked by an older policy).
    UnknownInstancetypeVersion,
    /// A `kubevirt.io` `VirtualMachine` of an API version whose schema this crate does not know
    /// (neither `v1` nor its alias `v1alpha3`): admitted untouched with a warning, never rewritten
    /// by guesswork (the policy's rules register `v1` only, so the API server sends none).
    UnknownVirtualMachineVersion,
    /// Anything else: admitted untouched.
    Other,
}

/// The instancetype/preference kinds of `instancetype.kubevirt.io`.
const INSTANCETYPE_KINDS: [&str; 4] = [
    "VirtualMachineInstancetype",
    "VirtualMachineClusterInstancetype",
    "VirtualMachinePreference",
    "VirtualMachineClusterPreference",
];
/// The kinds of `flavor.kubevirt.io` (KubeVirt v0.54–v0.55).
const FLAVOR_KINDS: [&str; 4] = [
    "VirtualMachineFlavor",
    "VirtualMachineClusterFlavor",
    "VirtualMachinePreference",
    "VirtualMachineClusterPreference",
];

/// Picks the route for an object kind.
pub fn route(kind: &GroupVersionKind) -> Route {
    let name = kind.kind.as_str();
    match kind.group.as_str() {
        "kubevirt.io" if name == "VirtualMachine" => {
            if matches!(kind.version.as_str(), "v1" | "v1alpha3") {
                Route::VirtualMachine
            } else {
                Route::UnknownVirtualMachineVersion
            }
        }
        "instancetype.kubevirt.io" if INSTANCETYPE_KINDS.contains(&name) => {
            if matches!(kind.version.as_str(), "v1beta1" | "v1alpha2" | "v1alpha1") {
                Route::InstancetypeObject
            } else {
                Route::UnknownInstancetypeVersion
            }
        }
        "flavor.kubevirt.io" if FLAVOR_KINDS.contains(&name) => {
            if kind.version == "v1alpha1" {
                Route::InstancetypeObject
            } else {
                Route::UnknownInstancetypeVersion
            }
        }
        _ => Route::Other,
    }
}

/// Handles a `validate` payload (`{"request": ..., "settings": ...}`), looking objects up in
/// `source` (the Kubewarden host in the policy).
pub fn validate(payload: &[u8], source: &dyn ObjectSource) -> PolicyResponse {
    let parsed = match parse_validation_request(payload) {
        Ok(parsed) => parsed,
        Err(message) => return PolicyResponse::reject(message, BAD_REQUEST, Vec::new()),
    };
    let settings = match parse_settings(&parsed.settings) {
        Ok(settings) => settings,
        Err(message) => return PolicyResponse::reject(message, BAD_REQUEST, Vec::new()),
    };
    review_request(&parsed.request, &settings, source)
}

/// Decides about one AdmissionRequest.
pub fn review_request(request: &AdmissionRequest, settings: &Settings, source: &dyn ObjectSource) -> PolicyResponse {
    if !matches!(request.operation.as_str(), "CREATE" | "UPDATE") {
        return PolicyResponse::accept(Vec::new());
    }
    if request.sub_resource.as_deref().is_some_and(|sub| !sub.is_empty()) {
        // `virtualmachines/status` and friends: the policy owns the spec only.
        return PolicyResponse::accept(Vec::new());
    }
    match route(&request.kind) {
        Route::VirtualMachine => review_virtual_machine(request, settings, source),
        Route::InstancetypeObject => review_instancetype_object(request),
        Route::UnknownInstancetypeVersion => PolicyResponse::accept(vec![format!(
            "{} {} is not validated: this policy does not know API version {}",
            request.kind.kind,
            object_name(request),
            request.kind.api_version()
        )]),
        Route::UnknownVirtualMachineVersion => PolicyResponse::accept(vec![format!(
            "{} {} is neither expanded nor validated: this policy does not know API version {}",
            request.kind.kind,
            object_name(request),
            request.kind.api_version()
        )]),
        Route::Other => PolicyResponse::accept(Vec::new()),
    }
}

/// The name for messages: the request's `name`, else `metadata.name`, else `metadata.generateName`.
fn object_name(request: &AdmissionRequest) -> String {
    let metadata = request.object.get("metadata");
    let field = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let name = request
        .name
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| field("name"));
    match (name, field("generateName")) {
        (Some(name), _) => format!("{name:?}"),
        (None, Some(prefix)) => format!("{:?}", format!("{prefix}*")),
        (None, None) => "(unnamed)".to_owned(),
    }
}

/// The rejection of a request whose object is not a JSON object.
fn not_an_object(request: &AdmissionRequest) -> PolicyResponse {
    PolicyResponse::reject(
        format!(
            "malformed request: the {} object is not a JSON object",
            request.kind.kind
        ),
        BAD_REQUEST,
        Vec::new(),
    )
}

fn review_virtual_machine(
    request: &AdmissionRequest,
    settings: &Settings,
    source: &dyn ObjectSource,
) -> PolicyResponse {
    let vm = &request.object;
    if !vm.is_object() {
        return not_an_object(request);
    }
    let is_being_deleted = vm
        .get("metadata")
        .and_then(|metadata| metadata.get("deletionTimestamp"))
        .is_some_and(|stamp| !stamp.is_null());
    if request.operation == "UPDATE" && is_being_deleted {
        // Finalizer removal while the VM is deleted: never block it (its instancetype may be gone).
        return PolicyResponse::accept(Vec::new());
    }
    let Some(namespace) = request.effective_namespace() else {
        return PolicyResponse::reject(
            "malformed request: a VirtualMachine request without a namespace (neither request.namespace nor \
             object.metadata.namespace is set)",
            BAD_REQUEST,
            Vec::new(),
        );
    };
    let old_vm = (request.operation == "UPDATE")
        .then_some(&request.old_object)
        .filter(|old| old.is_object());
    let recording = RecordingSource::new(source);
    let review = review_vm(vm, old_vm, namespace, &recording, settings);
    match review.verdict {
        Verdict::Accept => PolicyResponse::accept(review.warnings),
        Verdict::Mutate(expanded) => PolicyResponse::mutate(expanded, review.warnings),
        Verdict::Reject(rejection) => PolicyResponse::reject(rejection.message, rejection.code, review.warnings),
    }
}

fn review_instancetype_object(request: &AdmissionRequest) -> PolicyResponse {
    let Some(map) = request.object.as_object() else {
        return not_an_object(request);
    };
    // Requests always carry apiVersion and kind in the object; fill them from the request if not.
    let mut object = map.clone();
    object
        .entry("apiVersion")
        .or_insert_with(|| Value::String(request.kind.api_version()));
    object
        .entry("kind")
        .or_insert_with(|| Value::String(request.kind.kind.clone()));
    let validation = validate_object(&Value::Object(object));
    match validation.rejection_message() {
        Some(message) => PolicyResponse::reject(message, UNPROCESSABLE, validation.warnings),
        None => PolicyResponse::accept(validation.warnings),
    }
}

#[cfg(test)]
mod tests;
