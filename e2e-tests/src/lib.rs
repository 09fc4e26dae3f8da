//! End-to-end harness for the kubevirt-instancetype Kubewarden policy.
//!
//! [`PreparedPolicy`] compiles a built `policy.wasm` once; [`PreparedPolicy::run`] evaluates it the way Kubewarden's host does (wasmtime through the `wapc` +
//! `wasmtime-provider` crates, `validate_settings` then `validate`), answering the policy's host calls from a
//! kwctl replay session ([`Session`]), and turns the policy's answer into the AdmissionResponse kwctl prints,
//! JSON patch included. The `kwrun` binary wraps it in a `kwctl run`-like command line ([`cli`]).

pub mod admission;
pub mod cli;
pub mod error;
pub mod host;
pub mod metadata;
pub mod runner;
pub mod session;

pub use admission::{AdmissionRequest, AdmissionResponse, PolicyValidationResponse, SettingsValidationResponse};
pub use error::HarnessError;
pub use host::{HostCall, PolicyLogEntry};
pub use metadata::{ContextAwareResource, PolicyMetadata};
pub use runner::{PreparedPolicy, ReplayReport, RunConfig, RunOutcome, run};
pub use session::{CallbackRequest, Exchange, RecordedResponse, ReplayOutcome, Replayer, Session};
