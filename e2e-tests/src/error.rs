//! The one error type of the harness.

use std::path::PathBuf;

/// Everything that stops the harness before or around a policy evaluation.
///
/// Errors *inside* an evaluation (a rejected request, a failed host call, a trap in the guest) are not
/// `HarnessError`s: they end up in the [`crate::AdmissionResponse`] and the [`crate::RunOutcome`], as they
/// would with kwctl.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        /// What the file was supposed to hold ("request file", "settings file", ...).
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The request file is not JSON, or not an AdmissionReview / AdmissionRequest kwctl would accept.
    #[error("invalid request {source_name}: {message}")]
    InvalidRequest {
        /// The file the request came from (`-` for stdin, `<memory>` for library callers).
        source_name: String,
        /// What is wrong, in kwctl's words where kwctl has words for it.
        message: String,
    },

    /// The settings given on the command line or in a settings file cannot be parsed, or are not a map.
    #[error("invalid settings: {0}")]
    InvalidSettings(String),

    /// The replay session file is malformed; the message names the file and the exchange.
    #[error("invalid replay session {path}: {message}")]
    Session {
        /// The session file (or `<memory>`).
        path: String,
        /// What is wrong, naming the exchange (`exchange #N`, 1-based) where there is one.
        message: String,
    },

    /// Policy metadata (the module's `io.kubewarden.metadata` section or a `--metadata-path` file) is malformed.
    #[error("invalid policy metadata {source_name}: {message}")]
    Metadata {
        /// Where the metadata came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },

    /// The policy module cannot be compiled or instantiated (or its `wapc_init` failed).
    #[error("cannot load policy module {path}: {message}")]
    Module {
        /// The module path.
        path: PathBuf,
        /// The wasmtime / waPC error text.
        message: String,
    },

    /// Something the harness does not do (a remote policy URI, a non-waPC execution mode, ...).
    #[error("{0}")]
    Unsupported(String),

    /// Writing the result failed.
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        /// What was being serialized.
        what: &'static str,
        /// The serde_json error.
        #[source]
        source: serde_json::Error,
    },
}
