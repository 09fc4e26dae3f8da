//! KubeVirt-style status causes: `{reason, message, field}`.

use serde::{Deserialize, Serialize};

/// `metav1.CauseTypeFieldValueInvalid`.
pub const FIELD_VALUE_INVALID: &str = "FieldValueInvalid";
/// `metav1.CauseTypeFieldValueNotFound`.
pub const FIELD_VALUE_NOT_FOUND: &str = "FieldValueNotFound";
/// `metav1.CauseTypeFieldValueRequired`.
pub const FIELD_VALUE_REQUIRED: &str = "FieldValueRequired";

/// One reason a request is rejected, as KubeVirt's webhooks report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// The offending field path(s), comma separated.
    pub field: String,
}

impl Cause {
    /// A cause from its parts.
    pub fn new(reason: &str, message: impl Into<String>, field: impl Into<String>) -> Self {
        Self {
            reason: reason.to_owned(),
            message: message.into(),
            field: field.into(),
        }
    }

    /// A `FieldValueInvalid` cause.
    pub fn invalid(message: impl Into<String>, field: impl Into<String>) -> Self {
        Self::new(FIELD_VALUE_INVALID, message, field)
    }
}

/// Joins cause messages the way KubeVirt builds a rejection message (`", "`).
pub fn join_messages(causes: &[Cause]) -> String {
    causes
        .iter()
        .map(|cause| cause.message.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
