//! The policy's answer, mirroring the JSON of the Kubewarden SDK's `ValidationResponse`
//! (`accepted`, `message`, `code`, `mutated_object`, `audit_annotations`, `warnings`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `validate` returns to the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyResponse {
    /// Whether the request is admitted.
    pub accepted: bool,
    /// Why it is rejected.
    pub message: Option<String>,
    /// HTTP status code of a rejection.
    pub code: Option<u16>,
    /// The whole object to admit instead of the request's (the host computes the JSON patch).
    pub mutated_object: Option<Value>,
    /// Audit annotations (never set by this policy; kept so the JSON matches the SDK's).
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Warnings returned to the API client.
    pub warnings: Option<Vec<String>>,
}

fn non_empty(warnings: Vec<String>) -> Option<Vec<String>> {
    (!warnings.is_empty()).then_some(warnings)
}

impl PolicyResponse {
    /// Admit unchanged.
    pub fn accept(warnings: Vec<String>) -> Self {
        Self {
            accepted: true,
            warnings: non_empty(warnings),
            ..Self::default()
        }
    }

    /// Admit `object` instead of the request's object.
    pub fn mutate(object: Value, warnings: Vec<String>) -> Self {
        Self {
            accepted: true,
            mutated_object: Some(object),
            warnings: non_empty(warnings),
            ..Self::default()
        }
    }

    /// Refuse with a message and an HTTP status code.
    pub fn reject(message: impl Into<String>, code: u16, warnings: Vec<String>) -> Self {
        Self {
            accepted: false,
            message: Some(message.into()),
            code: Some(code),
            warnings: non_empty(warnings),
            ..Self::default()
        }
    }
}

/// The answer to `validate_settings`, as the SDK's `SettingsValidationResponse` (`valid`, `message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsResponse {
    /// Whether the settings can be used.
    pub valid: bool,
    /// What is wrong with them.
    pub message: Option<String>,
}
