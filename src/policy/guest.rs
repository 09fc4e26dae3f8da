//! The waPC guest: the entry points a Kubewarden host calls, and lookups through its
//! `kubewarden/kubernetes/get_resource` capability. Only this file uses the Kubewarden SDK.

use kubewarden_policy_sdk::host_capabilities::kubernetes::GetResourceRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self, CallResult};
use kubewarden_policy_sdk::{accept_request, mutate_request, protocol_version_guest, reject_request};

use crate::policy::host::{GetResource, Host, HostSource, unreadable_answer};
use crate::policy::response::PolicyResponse;

/// Registers the policy's waPC functions; the host calls it once after instantiating the module.
#[allow(unsafe_code)] // `no_mangle` is an unsafe attribute; this is the export waPC hosts look for.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    wapc_guest::register_function("validate", validate);
    wapc_guest::register_function("validate_settings", validate_settings);
    wapc_guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let source = HostSource::new(KubewardenHost);
    respond(super::validate(payload, &source))
}

fn validate_settings(payload: &[u8]) -> CallResult {
    // Not `kubewarden_policy_sdk::validate_settings`: that one turns a deserialization error (an
    // unknown key, a wrong type) into a host error instead of `valid: false` with a message.
    let outcome = super::validate_settings(payload);
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: outcome.valid,
        message: outcome.message,
    })?)
}

/// The SDK's helpers where they fit; a full `ValidationResponse` when there are warnings
/// (`accept_request` and `mutate_request` take none).
fn respond(response: PolicyResponse) -> CallResult {
    let PolicyResponse {
        accepted,
        message,
        code,
        mutated_object,
        audit_annotations: _,
        warnings,
    } = response;
    match (accepted, mutated_object, warnings) {
        (false, _, warnings) => reject_request(message, code, None, warnings),
        (true, None, None) => accept_request(),
        (true, Some(object), None) => mutate_request(object),
        (true, mutated_object, warnings) => Ok(serde_json::to_vec(&ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings,
        })?),
    }
}

/// The Kubewarden host's `get_resource`, called as the SDK's `get_resource` calls it (the same request
/// payload, the same error texts) but answering the object's JSON text: the SDK would parse it into
/// the type asked for, and the policy decodes a spec from the text instead ([`HostSource`]).
struct KubewardenHost;

impl Host for KubewardenHost {
    fn get_resource(&self, request: &GetResource) -> Result<String, String> {
        let request = GetResourceRequest {
            api_version: request.api_version.clone(),
            kind: request.kind.clone(),
            name: request.name.clone(),
            namespace: request.namespace.clone(),
            disable_cache: request.disable_cache,
            field_masks: None,
        };
        let payload = serde_json::to_vec(&request).map_err(|error| error.to_string())?;
        match wapc_guest::host_call("kubewarden", "kubernetes", "get_resource", &payload) {
            // Text that is not UTF-8 is not JSON either: the error the SDK's parse would give.
            Ok(answer) => String::from_utf8(answer).map_err(|not_text| {
                match serde_json::from_slice::<serde_json::Value>(not_text.as_bytes()) {
                    Err(error) => unreadable_answer(&error),
                    Ok(_) => "the host's answer is not UTF-8 text".to_owned(),
                }
            }),
            // The host's own text ("Cannot find ..." for a missing object), without the waPC prefix.
            Err(error) => {
                let text = error.to_string();
                Err(text.strip_prefix("Host error: ").unwrap_or(&text).to_owned())
            }
        }
    }
}
