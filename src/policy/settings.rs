//! The policy settings: [`ReviewOptions`], parsed strictly (unknown keys refused) and validated,
//! with messages that name the offending key.

use serde_json::Value;

use crate::engine::json;
use crate::engine::review::ReviewOptions;
use crate::policy::response::SettingsResponse;

/// The policy's settings type: the options of the shared VM review. Every key is optional.
pub type Settings = ReviewOptions;

/// Parses and validates settings given as JSON (`null` means all defaults).
///
/// Errors read `invalid settings: <key path>: <problem>`, e.g.
/// `invalid settings: cluster.defaultArchitecture must be amd64, arm64 or s390x, not "x86"` or
/// `invalid settings: mood: unknown field `mood`, expected one of ...`.
pub fn parse_settings(value: &Value) -> Result<Settings, String> {
    if value.is_null() {
        return Ok(Settings::default());
    }
    if !value.is_object() {
        // (serde would read an array as the fields in order.)
        return Err(format!(
            "invalid settings: expected an object, found {}",
            json::type_name(value)
        ));
    }
    let settings: Settings = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            format!("invalid settings: {inner}")
        } else {
            format!("invalid settings: {path}: {inner}")
        }
    })?;
    settings
        .validate()
        .map_err(|problem| format!("invalid settings: {problem}"))?;
    Ok(settings)
}

/// Answers a `validate_settings` call (the payload is the settings JSON).
pub fn validate_settings(payload: &[u8]) -> SettingsResponse {
    let value = match serde_json::from_slice::<Value>(payload) {
        Ok(value) => value,
        Err(error) => {
            return SettingsResponse {
                valid: false,
                message: Some(format!("invalid settings: not JSON: {error}")),
            };
        }
    };
    match parse_settings(&value) {
        Ok(_) => SettingsResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsResponse {
            valid: false,
            message: Some(message),
        },
    }
}
