//! Running a policy module end to end: instantiate (waPC `wapc_init`), `protocol_version`,
//! `validate_settings`, `validate`, and the AdmissionResponse — the steps kwctl's `run` takes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use wasmtime_provider::wasmtime;

use crate::admission::{
    AdmissionRequest, AdmissionResponse, PolicyValidationResponse, SettingsValidationResponse, apply_patch,
    validation_payload,
};
use crate::error::HarnessError;
use crate::host::{HostCall, HostState, PolicyLogEntry};
use crate::metadata::{ContextAwareResource, PolicyMetadata, embedded_metadata};
use crate::session::{Exchange, ReplayEvent, ReplayOutcome, Replayer, Session};

/// Everything one evaluation needs besides the module, already read from disk.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The request document (AdmissionReview or bare AdmissionRequest).
    pub request: Value,
    /// Where the request came from, for messages.
    pub request_source: String,
    /// The settings map.
    pub settings: Map<String, Value>,
    /// `--allow-context-aware`.
    pub allow_context_aware: bool,
    /// kwrun extension: metadata to use instead of the module's embedded metadata.
    pub metadata_override: Option<PolicyMetadata>,
    /// The replay session, if any.
    pub session: Option<Session>,
    /// kwrun extension: interrupt a guest call after this long (wasmtime epochs). `None`: no limit, as kwctl.
    pub timeout: Option<Duration>,
    /// Print `kubewarden/tracing/log` records to stderr as they come.
    pub echo_policy_logs: bool,
}

/// What the replay session saw.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayReport {
    /// The session file.
    pub source: String,
    /// Exchanges in the file.
    pub total: usize,
    /// Exchanges consumed (matched or not).
    pub consumed: usize,
    /// Every live request that reached the session, in order.
    pub events: Vec<ReplayEvent>,
    /// Exchanges never reached (kwctl only warns about these).
    pub leftovers: Vec<Exchange>,
}

impl ReplayReport {
    /// Whether every exchange was consumed.
    pub fn fully_consumed(&self) -> bool {
        self.consumed == self.total
    }

    /// Mismatches and calls past the end, as the messages the guest got (without the
    /// `Callback evaluation failure: ` prefix).
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match &e.outcome {
                ReplayOutcome::Replayed { .. } => None,
                ReplayOutcome::Mismatch { index, expected } => Some(format!(
                    "exchange #{}: Replay error: unexpected request. Was expecting {expected:?}, got {:?} instead",
                    index + 1,
                    e.request
                )),
                ReplayOutcome::Exhausted => Some(format!(
                    "the list of recorded responses is empty (live request: {:?})",
                    e.request
                )),
            })
            .collect()
    }
}

/// The result of a run that got as far as loading the module.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// `protocol_version`'s answer (`"v1"`), or why it failed (not fatal).
    pub protocol_version: Result<String, String>,
    /// `validate_settings`' answer (failures turned into `valid: false` as policy-evaluator does).
    pub settings_validation: SettingsValidationResponse,
    /// The AdmissionResponse; `None` when the settings were refused (kwctl then stops with
    /// `Provided settings are not valid: ...`).
    pub response: Option<AdmissionResponse>,
    /// The policy's raw `validate` answer, when it parsed.
    pub policy_response: Option<PolicyValidationResponse>,
    /// The decoded JSON patch, if the response has one.
    pub patch: Option<json_patch::Patch>,
    /// The request object with the patch applied (what the API server would store), if there is a patch.
    pub patched_object: Option<Value>,
    /// The request's `object` as the host saw it.
    pub request_object: Option<Value>,
    /// Every host call, in order.
    pub host_calls: Vec<HostCall>,
    /// Policy log records.
    pub policy_logs: Vec<PolicyLogEntry>,
    /// The replay session's report, if a session was given.
    pub replay: Option<ReplayReport>,
    /// The kinds the policy was allowed to read.
    pub context_aware_allow_list: BTreeSet<ContextAwareResource>,
    /// Non-fatal notes (metadata source, ...), for stderr.
    pub notes: Vec<String>,
}

impl RunOutcome {
    /// Number of host calls (all bindings, logs included).
    pub fn host_call_count(&self) -> usize {
        self.host_calls.len()
    }

    /// Host calls other than `kubewarden/tracing/log`.
    pub fn capability_calls(&self) -> impl Iterator<Item = &HostCall> {
        self.host_calls
            .iter()
            .filter(|c| !(c.namespace == "tracing" && c.operation == "log"))
    }

    /// Whether the session (if any) was fully consumed; `true` without a session.
    pub fn session_fully_consumed(&self) -> bool {
        self.replay.as_ref().is_none_or(ReplayReport::fully_consumed)
    }

    /// The error shown by kwctl when the settings are refused.
    pub fn settings_error(&self) -> Option<String> {
        (!self.settings_validation.valid).then(|| {
            format!(
                "Provided settings are not valid: {}",
                self.settings_validation.message.clone().unwrap_or_default()
            )
        })
    }
}

/// Ticks a wasmtime engine's epoch every 10 ms until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What wasmtime-provider reports when an epoch deadline interrupts the guest (policy-evaluator matches the
/// same text).
const EPOCH_INTERRUPTION_MESSAGE: &str = "guest code interrupted, execution deadline exceeded";

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Decides which kinds the policy may read, like kwctl's `build_context_aware_allowed_resources`
/// (`TrustPolicyMetadata` with `--allow-context-aware`, `NoAccess` without).
pub fn context_aware_allow_list(
    allow_context_aware: bool,
    metadata: Option<&PolicyMetadata>,
    notes: &mut Vec<String>,
) -> BTreeSet<ContextAwareResource> {
    match (allow_context_aware, metadata) {
        (false, Some(m)) if !m.context_aware_resources.is_empty() => {
            notes.push(
                "Policy requires access to Kubernetes resources at evaluation time. During this execution the access \
                 to Kubernetes resources is denied (pass --allow-context-aware)."
                    .to_owned(),
            );
            BTreeSet::new()
        }
        (false, _) => BTreeSet::new(),
        (true, Some(m)) => m.context_aware_resources.clone(),
        (true, None) => {
            notes.push(
                "Policy is not annotated, access to Kubernetes resources is not allowed (annotate it with kwctl, or \
                 give kwrun --metadata-path policy-metadata.yml)"
                    .to_owned(),
            );
            BTreeSet::new()
        }
    }
}

fn module_error(path: &Path, message: impl ToString) -> HarnessError {
    HarnessError::Module {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Epoch deadline used when no timeout is asked for: never reached (10 ms ticks).
const NO_DEADLINE_TICKS: u64 = 1 << 48;

/// A compiled policy module, reusable for many evaluations (each gets a fresh instance, as policy-server's
/// `rehydrate`). Compiling is the slow part: share one `PreparedPolicy` across the cases of a test suite.
pub struct PreparedPolicy {
    path: PathBuf,
    engine: wasmtime::Engine,
    pre: wasmtime_provider::WasmtimeEngineProviderPre,
    embedded_metadata: Option<PolicyMetadata>,
}

impl std::fmt::Debug for PreparedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPolicy")
            .field("path", &self.path)
            .field("embedded_metadata", &self.embedded_metadata)
            .finish_non_exhaustive()
    }
}

impl PreparedPolicy {
    /// Reads and compiles a module file (binary wasm, or WAT text).
    pub fn from_path(path: &Path) -> Result<Self, HarnessError> {
        let bytes = std::fs::read(path).map_err(|source| HarnessError::ReadFile {
            what: "policy module",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Compiles module bytes (binary wasm, or WAT text); `path` names it in messages. Reads the metadata
    /// `kwctl annotate` embeds, if any. Unknown imports are reported here.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<Self, HarnessError> {
        let path = path.into();
        let embedded_metadata = embedded_metadata(bytes).map_err(|message| HarnessError::Metadata {
            source_name: path.display().to_string(),
            message,
        })?;
        if let Some(mode) = embedded_metadata.as_ref().and_then(|m| m.execution_mode.as_deref())
            && mode != "kubewarden-wapc"
        {
            return Err(HarnessError::Unsupported(format!(
                "the policy's executionMode is {mode}; kwrun runs kubewarden-wapc policies only"
            )));
        }
        // wasmtime defaults, as policy-evaluator; epoch interruption always on (as in policy-server) so that
        // any run may ask for a timeout
        let mut wasm_config = wasmtime::Config::new();
        wasm_config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&wasm_config).map_err(|e| module_error(&path, e))?;
        let pre = wasmtime_provider::WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module_bytes(bytes)
            .build_pre()
            .map_err(|e| module_error(&path, e))?;
        Ok(Self {
            path,
            engine,
            pre,
            embedded_metadata,
        })
    }

    /// The module path given at construction.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The metadata `kwctl annotate` embedded in the module, if any.
    pub fn embedded_metadata(&self) -> Option<&PolicyMetadata> {
        self.embedded_metadata.as_ref()
    }

    /// Runs one evaluation in a fresh instance. `Err` only for problems before evaluation (bad request,
    /// an instance that does not start); everything the policy does ends up in the [`RunOutcome`].
    pub fn run(&self, config: RunConfig) -> Result<RunOutcome, HarnessError> {
        evaluate(self, config)
    }
}

/// Compiles `module` and runs one evaluation: [`PreparedPolicy::from_bytes`] then [`PreparedPolicy::run`].
pub fn run(policy_path: impl Into<PathBuf>, module: &[u8], config: RunConfig) -> Result<RunOutcome, HarnessError> {
    PreparedPolicy::from_bytes(policy_path, module)?.run(config)
}

fn evaluate(policy: &PreparedPolicy, config: RunConfig) -> Result<RunOutcome, HarnessError> {
    let request =
        AdmissionRequest::from_request_document(&config.request).map_err(|message| HarnessError::InvalidRequest {
            source_name: config.request_source.clone(),
            message,
        })?;

    let mut notes = Vec::new();
    let metadata = match (config.metadata_override, policy.embedded_metadata()) {
        (Some(over), Some(_)) => {
            notes.push("--metadata-path overrides the metadata embedded in the module".to_owned());
            Some(over)
        }
        (Some(over), None) => Some(over),
        (None, embedded) => embedded.cloned(),
    };
    if let Some(mode) = metadata.as_ref().and_then(|m| m.execution_mode.as_deref())
        && mode != "kubewarden-wapc"
    {
        return Err(HarnessError::Unsupported(format!(
            "the policy's executionMode is {mode}; kwrun runs kubewarden-wapc policies only"
        )));
    }
    let allow_list = context_aware_allow_list(config.allow_context_aware, metadata.as_ref(), &mut notes);

    let state = Arc::new(Mutex::new(HostState::new(
        config.session.map(Replayer::new),
        allow_list.clone(),
        config.echo_policy_logs,
    )));

    let ticks = match config.timeout {
        Some(timeout) => u64::try_from(timeout.as_millis() / EPOCH_TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1),
        None => NO_DEADLINE_TICKS,
    };
    let _ticker = config.timeout.map(|_| EpochTicker::start(policy.engine.clone()));
    let provider = policy
        .pre
        .rehydrate(Some(wasmtime_provider::EpochDeadlines {
            wapc_init: ticks,
            wapc_func: ticks,
        }))
        .map_err(|e| module_error(&policy.path, e))?;

    let callback_state = Arc::clone(&state);
    let callback = move |_id: u64,
                         binding: &str,
                         namespace: &str,
                         operation: &str,
                         payload: &[u8]|
          -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        let mut guard = callback_state.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .dispatch(binding, namespace, operation, payload)
            .map_err(Into::into)
    };
    let host =
        wapc::WapcHost::new(Box::new(provider), Some(Box::new(callback))).map_err(|e| module_error(&policy.path, e))?;

    // protocol_version: not called by `kwctl run`, but by `kwctl annotate`; harmless and informative.
    let protocol_version = match host.call("protocol_version", &[]) {
        Ok(bytes) => serde_json::from_slice::<String>(&bytes).map_err(|e| {
            format!(
                "unexpected protocol_version answer {:?}: {e}",
                String::from_utf8_lossy(&bytes)
            )
        }),
        Err(e) => Err(format!("cannot invoke 'protocol_version' waPC function : {e}")),
    };

    // validate_settings, with policy-evaluator's fallbacks
    let settings_json = serde_json::to_string(&crate::admission::canonicalize(Value::Object(config.settings.clone())))
        .map_err(|source| HarnessError::Serialize {
            what: "settings",
            source,
        })?;
    let settings_validation = match host.call("validate_settings", settings_json.as_bytes()) {
        Ok(bytes) => serde_json::from_slice::<SettingsValidationResponse>(&bytes).unwrap_or_else(|e| {
            SettingsValidationResponse {
                valid: false,
                message: Some(format!("error: InvalidResponseWithError({e:?})")),
            }
        }),
        Err(e) => SettingsValidationResponse {
            valid: false,
            message: Some(format!("Error invoking settings validation callback: {e:?}")),
        },
    };

    let request_object = request.to_host_value().get("object").cloned();
    let (response, policy_response) = if settings_validation.valid {
        let payload = validation_payload(&request, &config.settings);
        let payload = serde_json::to_string(&payload).map_err(|source| HarnessError::Serialize {
            what: "validation request",
            source,
        })?;
        let uid = request.uid.as_str();
        match host.call("validate", payload.as_bytes()) {
            Ok(bytes) => match serde_json::from_slice::<PolicyValidationResponse>(&bytes) {
                Ok(parsed) => {
                    let response =
                        AdmissionResponse::from_policy_validation_response(uid, request_object.as_ref(), &parsed)
                            .unwrap_or_else(|e| {
                                AdmissionResponse::reject_internal_server_error(
                                    uid,
                                    &format!("invalid response format: {e}"),
                                )
                            });
                    (Some(response), Some(parsed))
                }
                Err(e) => (
                    Some(AdmissionResponse::reject_internal_server_error(
                        uid,
                        &format!("invalid response from policy: {e}"),
                    )),
                    None,
                ),
            },
            Err(e) => {
                let text = e.to_string();
                let response = if text.contains(EPOCH_INTERRUPTION_MESSAGE) {
                    AdmissionResponse::reject(
                        uid,
                        "Policy execution interrupted because it exceeded the allowed execution time".to_owned(),
                        500,
                    )
                } else {
                    AdmissionResponse::reject_internal_server_error(uid, &text)
                };
                (Some(response), None)
            }
        }
    } else {
        (None, None)
    };
    drop(host);

    let (patch, patched_object) = match response.as_ref().map(AdmissionResponse::decoded_patch) {
        Some(Ok(Some(patch))) => {
            let patched = request_object.as_ref().map(|object| apply_patch(object, &patch));
            match patched {
                Some(Ok(object)) => (Some(patch), Some(object)),
                Some(Err(e)) => {
                    notes.push(e);
                    (Some(patch), None)
                }
                None => (Some(patch), None),
            }
        }
        Some(Err(e)) => {
            notes.push(e);
            (None, None)
        }
        _ => (None, None),
    };

    let state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let replay = state.replayer().map(|r| ReplayReport {
        source: r.session().source.clone(),
        total: r.total(),
        consumed: r.consumed(),
        events: r.events().to_vec(),
        leftovers: r.leftovers().to_vec(),
    });
    Ok(RunOutcome {
        protocol_version,
        settings_validation,
        response,
        policy_response,
        patch,
        patched_object,
        request_object,
        host_calls: state.calls().to_vec(),
        policy_logs: state.logs().to_vec(),
        replay,
        context_aware_allow_list: allow_list,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(kinds: &[&str]) -> PolicyMetadata {
        PolicyMetadata {
            context_aware_resources: kinds
                .iter()
                .map(|k| ContextAwareResource {
                    api_version: "v1".to_owned(),
                    kind: (*k).to_owned(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn context_aware_access_follows_kwctl() {
        let mut notes = Vec::new();
        // no flag: nothing, whatever the metadata says (with a note when it asks for something)
        assert!(context_aware_allow_list(false, Some(&metadata(&["Pod"])), &mut notes).is_empty());
        assert_eq!(notes.len(), 1);
        assert!(context_aware_allow_list(false, None, &mut notes).is_empty());
        // flag: exactly the metadata's list
        assert_eq!(
            context_aware_allow_list(true, Some(&metadata(&["Pod", "PersistentVolumeClaim"])), &mut notes).len(),
            2
        );
        // flag without metadata: nothing, with kwctl's note
        notes.clear();
        assert!(context_aware_allow_list(true, None, &mut notes).is_empty());
        assert!(notes[0].starts_with("Policy is not annotated"));
    }

    fn report(outcomes: Vec<ReplayOutcome>, total: usize) -> ReplayReport {
        let request = CallbackRequestForTest::get();
        ReplayReport {
            source: "s.yml".to_owned(),
            total,
            consumed: outcomes
                .iter()
                .filter(|o| !matches!(o, ReplayOutcome::Exhausted))
                .count(),
            events: outcomes
                .into_iter()
                .map(|outcome| ReplayEvent {
                    request: request.clone(),
                    outcome,
                })
                .collect(),
            leftovers: Vec::new(),
        }
    }

    struct CallbackRequestForTest;
    impl CallbackRequestForTest {
        fn get() -> crate::session::CallbackRequest {
            crate::session::CallbackRequest::DNSLookupHost(crate::session::DNSLookupHost { host: "h".to_owned() })
        }
    }

    #[test]
    fn the_replay_report_counts_consumption_and_errors() {
        let ok = report(
            vec![ReplayOutcome::Replayed {
                index: 0,
                success: true,
            }],
            1,
        );
        assert!(ok.fully_consumed());
        assert!(ok.errors().is_empty());
        let partial = report(
            vec![ReplayOutcome::Replayed {
                index: 0,
                success: false,
            }],
            2,
        );
        assert!(!partial.fully_consumed());
        assert!(
            partial.errors().is_empty(),
            "a recorded Error response is not a replay error"
        );
        let bad = report(
            vec![
                ReplayOutcome::Mismatch {
                    index: 0,
                    expected: CallbackRequestForTest::get(),
                },
                ReplayOutcome::Exhausted,
            ],
            1,
        );
        let errors = bad.errors();
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].starts_with("exchange #1: Replay error: unexpected request."),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("the list of recorded responses is empty"),
            "{}",
            errors[1]
        );
    }
}
