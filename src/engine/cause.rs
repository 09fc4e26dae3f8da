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

/// How many cause messages a rejection message quotes, as KubeVirt's `ToAdmissionResponse`.
pub const MESSAGES_QUOTED: usize = 10;

/// The rejection message KubeVirt's `ToAdmissionResponse` builds from causes: their messages joined
/// with `", "`, the first [`MESSAGES_QUOTED`] only, then `", and N more validation errors"`.
pub fn join_messages(causes: &[Cause]) -> String {
    let mut message = String::new();
    for cause in causes.iter().take(MESSAGES_QUOTED) {
        // As Go's loop: no separator while the message so far is empty.
        if !message.is_empty() {
            message.push_str(", ");
        }
        message.push_str(&cause.message);
    }
    let more = causes.len().saturating_sub(MESSAGES_QUOTED);
    if more > 0 {
        message.push_str(&format!(", and {more} more validation errors"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_beyond_the_tenth_are_counted_not_quoted() {
        let causes = |n: usize| -> Vec<Cause> { (1..=n).map(|i| Cause::invalid(format!("m{i}"), "f")).collect() };
        assert_eq!(join_messages(&causes(0)), "");
        assert_eq!(join_messages(&causes(2)), "m1, m2");
        let blank_first = [Cause::invalid("", "f"), Cause::invalid("b", "f")];
        assert_eq!(join_messages(&blank_first), "b");
        assert_eq!(join_messages(&causes(10)), "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10");
        assert_eq!(
            join_messages(&causes(13)),
            "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, and 3 more validation errors"
        );
    }
}
