//! Hostile and broken input through the built policy (`policy.wasm`), two ways:
//!
//! 1. **Raw waPC**: the module on wapc + wasmtime-provider (the stack Kubewarden's policy-evaluator
//!    uses), `validate` called with the exact payload bytes of each case of
//!    tests/data/hostile/cases.json (so malformed JSON, duplicate keys and 100,000-deep nesting reach
//!    the guest as they are), lookups answered by a scripted host that fails on demand (timeouts,
//!    forbidden, server errors, garbage payloads) and counts every call. A trap or a guest error
//!    fails the test: the policy must answer every case itself.
//! 2. **The kwrun harness** (`PreparedPolicy::run`, as `kwctl run` does) for every case that is a
//!    plain request, with a kwctl replay session recorded from the raw run: the same outcome, and
//!    the session consumed exactly, in order.
//!
//! The expected outcome of each case is in the table (shared with tests/hostile.rs, natively, and
//! npm/test/hostile.test.mjs). `HOSTILE_PRINT=1` prints each outcome and its wall time in the guest.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
#[path = "../../tests/hostile_table/mod.rs"]
mod hostile_table;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{metadata, policy_wasm_path};
use hostile_table::{Case, HostAnswer, Outcome, table};
use kubevirt_instancetype_e2e::{PreparedPolicy, RunConfig, Session};
use serde_json::{Value, json};
use wasmtime_provider::wasmtime;

fn module_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(policy_wasm_path()).expect("read policy.wasm"))
}

/// The module compiled once, for raw waPC calls.
fn prepared() -> &'static wasmtime_provider::WasmtimeEngineProviderPre {
    static PRE: OnceLock<wasmtime_provider::WasmtimeEngineProviderPre> = OnceLock::new();
    PRE.get_or_init(|| {
        let engine = wasmtime::Engine::new(&wasmtime::Config::new()).unwrap();
        wasmtime_provider::WasmtimeEngineProviderBuilder::new()
            .engine(engine)
            .module_bytes(module_bytes())
            .build_pre()
            .unwrap()
    })
}

/// The module compiled once, for the kwrun harness.
fn harness() -> &'static PreparedPolicy {
    static POLICY: OnceLock<PreparedPolicy> = OnceLock::new();
    POLICY.get_or_init(|| PreparedPolicy::from_bytes(policy_wasm_path(), module_bytes()).unwrap())
}

/// One `get_resource` the guest made, and what it was answered.
#[derive(Debug, Clone)]
struct Lookup {
    request: Value,
    answer: Result<String, String>,
}

/// Calls `validate` with the case's payload bytes; lookups answered by the case's scripted host.
fn run_raw(case: &Arc<Case>) -> (Outcome, Vec<Lookup>) {
    let lookups: Arc<Mutex<Vec<Lookup>>> = Arc::default();
    let callback_case = Arc::clone(case);
    let callback_lookups = Arc::clone(&lookups);
    let callback = move |_id: u64,
                         binding: &str,
                         namespace: &str,
                         operation: &str,
                         payload: &[u8]|
          -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        match (binding, namespace, operation) {
            ("kubewarden", "tracing", "log") => Ok(Vec::new()),
            ("kubewarden", "kubernetes", "get_resource") => {
                let request: Value = serde_json::from_slice(payload)?;
                let answer = match callback_case.answer(
                    request["kind"].as_str().unwrap_or_default(),
                    request["namespace"].as_str(),
                    request["name"].as_str().unwrap_or_default(),
                ) {
                    HostAnswer::Object(object) => Ok(serde_json::to_string(&object)?),
                    HostAnswer::Payload(text) => Ok(text),
                    HostAnswer::Error(message) => Err(message),
                };
                callback_lookups.lock().unwrap().push(Lookup {
                    request,
                    answer: answer.clone(),
                });
                answer.map(String::into_bytes).map_err(Into::into)
            }
            _ => Err(format!("unexpected host call {binding}/{namespace}/{operation}").into()),
        }
    };
    let provider = prepared().rehydrate(None).unwrap();
    let host = wapc::WapcHost::new(Box::new(provider), Some(Box::new(callback))).unwrap();
    let payload = case.payload();
    let started = Instant::now();
    let result = host.call("validate", &payload);
    let elapsed = started.elapsed();
    let bytes = result.unwrap_or_else(|error| panic!("{}: the guest failed instead of answering: {error}", case.name));
    let response: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{}: unreadable response {error}", case.name));
    let lookups = lookups.lock().unwrap().clone();
    (
        Outcome::from_response_json(&response, &case.request_object(), lookups.len(), elapsed),
        lookups,
    )
}

/// A kwctl replay session answering `lookups` in order; `None` when a name cannot be written in the
/// session's literal block (control characters).
fn session_yaml(lookups: &[Lookup]) -> Option<String> {
    let mut yaml = String::new();
    if lookups.is_empty() {
        return Some("[]".to_owned());
    }
    for lookup in lookups {
        let field = |key: &str| lookup.request[key].clone();
        let name = field("name");
        if name.as_str()?.chars().any(char::is_control) {
            return None;
        }
        yaml.push_str("- type: Exchange\n  request: |\n    !KubernetesGetResource\n");
        yaml.push_str(&format!("    api_version: {}\n", field("api_version")));
        yaml.push_str(&format!("    kind: {}\n", field("kind")));
        yaml.push_str(&format!("    name: {name}\n"));
        yaml.push_str(&format!("    namespace: {}\n", field("namespace")));
        yaml.push_str("    disable_cache: false\n");
        match &lookup.answer {
            Ok(payload) => {
                yaml.push_str("  response:\n    type: Success\n");
                yaml.push_str(&format!("    payload: {}\n", Value::String(payload.clone())));
            }
            Err(message) => {
                yaml.push_str("  response:\n    type: Error\n");
                yaml.push_str(&format!("    message: {}\n", Value::String(message.clone())));
            }
        }
    }
    Some(yaml)
}

/// The same case through `PreparedPolicy::run` (kwctl's evaluation) with a session of `lookups`.
fn run_harness(case: &Case, lookups: &[Lookup]) -> Option<Outcome> {
    let yaml = session_yaml(lookups)?;
    let session = Session::from_yaml_str(&yaml, "recorded").unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", case.name));
    let Value::Object(settings) = case.settings() else {
        panic!("{}: settings", case.name)
    };
    let started = Instant::now();
    // A request policy-evaluator cannot even read (no `kind`, an `operation` that is not a string)
    // never reaches the policy there: nothing to compare.
    let outcome = harness()
        .run(RunConfig {
            request: json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": case.doc["request"]}),
            request_source: case.name.clone(),
            settings,
            allow_context_aware: true,
            metadata_override: Some(metadata()),
            session: Some(session),
            timeout: Some(Duration::from_secs(60)),
            echo_policy_logs: false,
        })
        .ok()?;
    let elapsed = started.elapsed();
    let replay = outcome.replay.as_ref().unwrap();
    assert!(
        replay.errors().is_empty(),
        "{}: replay errors {:?}",
        case.name,
        replay.errors()
    );
    assert!(replay.fully_consumed(), "{}: session not consumed", case.name);
    let response = outcome
        .policy_response
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no policy response", case.name));
    let response = serde_json::to_value(response).unwrap();
    let request_object = outcome.request_object.clone().unwrap_or(Value::Null);
    let mut normalized =
        Outcome::from_response_json(&response, &request_object, outcome.capability_calls().count(), elapsed);
    // What Kubernetes stores: the request object with the host's JSON patch applied.
    normalized.patched = outcome.patch.is_some();
    normalized.object = outcome.patched_object.clone().or(Some(request_object));
    Some(normalized)
}

#[test]
fn hostile_table_through_policy_wasm() {
    let print = std::env::var_os("HOSTILE_PRINT").is_some();
    let cases: Vec<Arc<Case>> = table()
        .cases
        .into_iter()
        .filter(|c| c.runs_on("wasm"))
        .map(Arc::new)
        .collect();
    let mut failures = Vec::new();
    let mut harness_runs = 0;
    for case in &cases {
        let (outcome, lookups) = run_raw(case);
        if print {
            println!("wasm {}", outcome.report(&case.name));
        }
        if let Err(problem) = case.check(&outcome, "wasm") {
            failures.push(format!("{} (raw waPC): {problem}", case.name));
        }
        // The harness adds nothing for the megabyte-sized cases but minutes of a debug-built host.
        let scripted_failure = lookups
            .iter()
            .any(|l| l.answer.as_ref().is_err_and(|e| !e.starts_with("Cannot find")));
        if case.is_raw() || scripted_failure || case.payload().len() > 256 * 1024 {
            continue;
        }
        if let Some(through_harness) = run_harness(case, &lookups) {
            harness_runs += 1;
            if print {
                println!("harness {}", through_harness.report(&case.name));
            }
            if let Err(problem) = case.check(&through_harness, "wasm") {
                failures.push(format!("{} (kwrun harness): {problem}", case.name));
            }
        }
    }
    eprintln!(
        "{} cases through raw waPC, {harness_runs} also through the kwrun harness",
        cases.len()
    );
    assert!(
        cases.len() > 100 && harness_runs > 50,
        "{} cases, {harness_runs} through the harness",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
