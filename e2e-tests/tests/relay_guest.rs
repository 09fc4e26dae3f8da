//! End-to-end checks of the harness with a tiny hand-written waPC guest (WAT), so that the wasmtime /
//! waPC plumbing, the host callback and the replay are exercised before the real policy.wasm exists.
//!
//! The guest speaks the waPC protocol directly (imports `wapc.__guest_request`, `__host_call`, ...; exports
//! `__guest_call`, `wapc_init`, `memory`) and imports one WASI function, as wasm32-wasip1 policies do:
//! * `protocol_version` → `"v1"`
//! * `validate_settings` → valid only for `{}`
//! * `validate` → logs through `kubewarden/tracing/log`, then looks up an instancetype and a preference with
//!   `kubewarden/kubernetes/get_resource` and returns the *second* answer as its ValidationResponse (so a
//!   session decides the verdict); a failed host call is returned as the guest error.
//! * `spin` → loops forever (timeout test).

// test helpers outside `#[test]` functions: failing loudly is the point
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kubevirt_instancetype_e2e::{
    ContextAwareResource, HarnessError, PolicyMetadata, PreparedPolicy, ReplayOutcome, RunConfig, RunOutcome, Session,
};
use serde_json::{Value, json};

const GET_INSTANCETYPE: &str = r#"{"api_version":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype","name":"u1.medium","namespace":null,"disable_cache":false}"#;
const GET_PREFERENCE: &str = r#"{"api_version":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterPreference","name":"fedora","namespace":null,"disable_cache":false,"field_masks":null}"#;
const LOG: &str = r#"{"level":"info","message":"relay guest validating","column":1}"#;

struct Data {
    wat: String,
    next: usize,
}

impl Data {
    /// Places `text` in a data segment; returns (offset, length).
    fn add(&mut self, text: &str) -> (usize, usize) {
        let offset = self.next;
        let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
        self.wat
            .push_str(&format!("  (data (i32.const {offset}) \"{escaped}\")\n"));
        self.next += text.len() + 16;
        (offset, text.len())
    }
}

fn relay_guest_wat() -> String {
    let mut d = Data {
        wat: String::new(),
        next: 1024,
    };
    let (kw, kw_len) = d.add("kubewarden");
    let (k8s, k8s_len) = d.add("kubernetes");
    let (tracing, tracing_len) = d.add("tracing");
    let (log_op, log_op_len) = d.add("log");
    let (get_op, get_op_len) = d.add("get_resource");
    let (log, log_len) = d.add(LOG);
    let (it, it_len) = d.add(GET_INSTANCETYPE);
    let (pref, pref_len) = d.add(GET_PREFERENCE);
    let (v1, v1_len) = d.add("\"v1\"");
    let (valid, valid_len) = d.add(r#"{"valid":true}"#);
    let (invalid, invalid_len) =
        d.add(r#"{"valid":false,"message":"relay guest: settings must be empty, got something else"}"#);
    let (unknown, unknown_len) = d.add("relay guest: unknown operation");
    let data = d.wat;
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 4)
{data}
  (func (export "wapc_init"))
  ;; get_resource with the payload at (ptr, len); on failure forwards the host error as the guest error
  (func $get (param $ptr i32) (param $len i32) (result i32)
    (if (i32.eqz (call $host_call (i32.const {kw}) (i32.const {kw_len}) (i32.const {k8s}) (i32.const {k8s_len})
                                  (i32.const {get_op}) (i32.const {get_op_len}) (local.get $ptr) (local.get $len)))
      (then
        (call $host_error (i32.const 131072))
        (call $guest_error (i32.const 131072) (call $host_error_len))
        (return (i32.const 0))))
    (i32.const 1))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 512) (i32.const 65536))
    ;; protocol_version
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (call $guest_response (i32.const {v1}) (i32.const {v1_len})) (return (i32.const 1))))
    ;; validate_settings: valid only for "{{}}"
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then
        (if (i32.eq (local.get $msg_len) (i32.const 2))
          (then (call $guest_response (i32.const {valid}) (i32.const {valid_len})))
          (else (call $guest_response (i32.const {invalid}) (i32.const {invalid_len}))))
        (return (i32.const 1))))
    ;; validate
    (if (i32.eq (local.get $op_len) (i32.const 8))
      (then
        (drop (call $random_get (i32.const 256) (i32.const 8)))
        (drop (call $host_call (i32.const {kw}) (i32.const {kw_len}) (i32.const {tracing}) (i32.const {tracing_len})
                               (i32.const {log_op}) (i32.const {log_op_len}) (i32.const {log}) (i32.const {log_len})))
        (if (i32.eqz (call $get (i32.const {it}) (i32.const {it_len}))) (then (return (i32.const 0))))
        (if (i32.eqz (call $get (i32.const {pref}) (i32.const {pref_len}))) (then (return (i32.const 0))))
        (call $host_response (i32.const 131072))
        (call $guest_response (i32.const 131072) (call $host_response_len))
        (return (i32.const 1))))
    ;; spin
    (if (i32.eq (local.get $op_len) (i32.const 4))
      (then (loop $forever (br $forever))))
    (call $guest_error (i32.const {unknown}) (i32.const {unknown_len}))
    (i32.const 0))
)
"#
    )
}

/// The same guest with `validate` (op length 8) mapped to the endless loop.
fn spinning_guest_wat() -> String {
    relay_guest_wat()
        .replace(
            "(i32.eq (local.get $op_len) (i32.const 8))",
            "(i32.eq (local.get $op_len) (i32.const 999))",
        )
        .replace(
            "(i32.eq (local.get $op_len) (i32.const 4))",
            "(i32.eq (local.get $op_len) (i32.const 8))",
        )
}

fn exchange(kind: &str, name: &str, response: &str) -> String {
    format!(
        "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: instancetype.kubevirt.io/v1beta1\n    kind: {kind}\n    name: {name}\n    namespace: null\n    disable_cache: false\n  response:\n{response}"
    )
}

fn success(payload: &Value) -> String {
    let text = serde_json::to_string(payload).expect("json").replace('\'', "''");
    format!("    type: Success\n    payload: '{text}'\n")
}

fn vm() -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm1", "namespace": "default"},
        "spec": {"instancetype": {"name": "u1.medium"}, "preference": {"name": "fedora"}, "template": {"spec": {}}}
    })
}

fn expanded_vm() -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm1", "namespace": "default"},
        "spec": {"template": {"spec": {"domain": {"cpu": {"sockets": 1}, "memory": {"guest": "4Gi"}}}}}
    })
}

fn review() -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1299d386-525b-4032-98ae-1949f69f9cfc",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"},
            "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachines"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin"},
            "object": vm()
        }
    })
}

fn good_session() -> String {
    let verdict = json!({"accepted": true, "mutated_object": expanded_vm(), "warnings": ["expanded"]});
    exchange(
        "VirtualMachineClusterInstancetype",
        "u1.medium",
        &success(&json!({"kind": "VirtualMachineClusterInstancetype"})),
    ) + &exchange("VirtualMachineClusterPreference", "fedora", &success(&verdict))
}

fn granted_metadata() -> PolicyMetadata {
    PolicyMetadata {
        context_aware_resources: ["VirtualMachineClusterInstancetype", "VirtualMachineClusterPreference"]
            .into_iter()
            .map(|kind| ContextAwareResource {
                api_version: "instancetype.kubevirt.io/v1beta1".to_owned(),
                kind: kind.to_owned(),
            })
            .collect(),
        ..Default::default()
    }
}

fn config(session: Option<&str>) -> RunConfig {
    RunConfig {
        request: review(),
        request_source: "<memory>".to_owned(),
        settings: serde_json::Map::new(),
        allow_context_aware: true,
        metadata_override: Some(granted_metadata()),
        session: session.map(|s| Session::from_yaml_str(s, "session.yml").expect("session")),
        timeout: None,
        echo_policy_logs: false,
    }
}

/// Compiles the relay guest (once per test; a suite would share one `PreparedPolicy`).
fn run(config: RunConfig) -> Result<RunOutcome, HarnessError> {
    PreparedPolicy::from_bytes("relay-guest.wat", relay_guest_wat().as_bytes())?.run(config)
}

fn message(outcome: &RunOutcome) -> String {
    outcome
        .response
        .as_ref()
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.message.clone())
        .unwrap_or_default()
}

#[test]
fn one_compiled_module_serves_many_evaluations() {
    let policy = PreparedPolicy::from_bytes("relay-guest.wat", relay_guest_wat().as_bytes()).expect("compiles");
    for _ in 0..3 {
        let outcome = policy.run(config(Some(&good_session()))).expect("runs");
        assert_eq!(outcome.response.as_ref().map(|r| r.allowed), Some(true));
        assert!(outcome.session_fully_consumed());
    }
    // a timeout on one run does not leak into the next
    let mut with_timeout = config(Some(&good_session()));
    with_timeout.timeout = Some(Duration::from_secs(5));
    assert!(
        policy
            .run(with_timeout)
            .expect("runs")
            .response
            .is_some_and(|r| r.allowed)
    );
    assert!(
        policy
            .run(config(Some(&good_session())))
            .expect("runs")
            .response
            .is_some_and(|r| r.allowed)
    );
}

#[test]
fn a_mutation_comes_back_as_a_json_patch() {
    let outcome = run(config(Some(&good_session()))).expect("runs");
    assert_eq!(outcome.protocol_version, Ok("v1".to_owned()));
    assert!(outcome.settings_validation.valid);
    let response = outcome.response.clone().expect("evaluated");
    assert!(response.allowed, "{response:?}");
    assert_eq!(response.uid, "1299d386-525b-4032-98ae-1949f69f9cfc");
    assert_eq!(response.warnings, Some(vec!["expanded".to_owned()]));
    let patch = serde_json::to_value(outcome.patch.as_ref().expect("patch")).expect("json");
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/spec/template/spec/domain", "value": {"cpu": {"sockets": 1}, "memory": {"guest": "4Gi"}}},
            {"op": "remove", "path": "/spec/instancetype"},
            {"op": "remove", "path": "/spec/preference"}
        ])
    );
    assert_eq!(outcome.patched_object, Some(expanded_vm()));
    // host calls: the log, then the two lookups in order; the session is used up
    let paths: Vec<String> = outcome.host_calls.iter().map(|c| c.path()).collect();
    assert_eq!(
        paths,
        [
            "kubewarden/tracing/log",
            "kubewarden/kubernetes/get_resource",
            "kubewarden/kubernetes/get_resource"
        ]
    );
    assert_eq!(outcome.host_calls[1].payload, GET_INSTANCETYPE);
    assert_eq!(outcome.capability_calls().count(), 2);
    assert!(outcome.session_fully_consumed());
    let replay = outcome.replay.as_ref().expect("session");
    assert_eq!((replay.consumed, replay.total), (2, 2));
    assert!(replay.errors().is_empty());
    assert_eq!(outcome.policy_logs.len(), 1);
    assert_eq!(
        outcome.policy_logs[0].message.as_deref(),
        Some("relay guest validating")
    );
}

#[test]
fn an_out_of_order_session_fails_the_request_like_kwctl() {
    let verdict = json!({"accepted": true});
    let swapped = exchange("VirtualMachineClusterPreference", "fedora", &success(&verdict))
        + &exchange("VirtualMachineClusterInstancetype", "u1.medium", &success(&json!({})));
    let outcome = run(config(Some(&swapped))).expect("runs");
    let response = outcome.response.clone().expect("evaluated");
    assert!(!response.allowed);
    assert_eq!(response.status.as_ref().and_then(|s| s.code), Some(500));
    let text = message(&outcome);
    assert!(
        text.starts_with("internal server error: Guest call failure: Callback evaluation failure: Replay error: unexpected request. Was expecting KubernetesGetResource { api_version: \"instancetype.kubevirt.io/v1beta1\", kind: \"VirtualMachineClusterPreference\""),
        "{text}"
    );
    let replay = outcome.replay.as_ref().expect("session");
    assert_eq!(replay.errors().len(), 1);
    assert_eq!((replay.consumed, replay.total), (1, 2));
    assert!(!outcome.session_fully_consumed());
    assert!(matches!(
        outcome.host_calls[1].replay,
        Some(ReplayOutcome::Mismatch { index: 0, .. })
    ));
}

#[test]
fn a_short_session_runs_out() {
    let short = exchange("VirtualMachineClusterInstancetype", "u1.medium", &success(&json!({})));
    let outcome = run(config(Some(&short))).expect("runs");
    assert_eq!(
        message(&outcome),
        "internal server error: Guest call failure: Callback evaluation failure: the list of recorded responses is empty"
    );
    assert_eq!(outcome.replay.as_ref().map(|r| r.errors().len()), Some(1));
    // the one recorded exchange was used; the second lookup found nothing left
    assert!(outcome.session_fully_consumed());
}

#[test]
fn a_recorded_error_reaches_the_guest() {
    let failing = exchange(
        "VirtualMachineClusterInstancetype",
        "u1.medium",
        "    type: Error\n    message: Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype named 'u1.medium' inside of namespace 'None'\n",
    );
    let outcome = run(config(Some(&failing))).expect("runs");
    assert_eq!(
        message(&outcome),
        "internal server error: Guest call failure: Callback evaluation failure: Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype named 'u1.medium' inside of namespace 'None'"
    );
    assert!(outcome.replay.as_ref().expect("session").errors().is_empty());
    assert_eq!(
        outcome.capability_calls().count(),
        1,
        "the guest stops at the first failure"
    );
}

#[test]
fn without_allow_context_aware_lookups_are_denied_and_nothing_is_consumed() {
    let mut c = config(Some(&good_session()));
    c.allow_context_aware = false;
    let outcome = run(c).expect("runs");
    assert_eq!(
        message(&outcome),
        "internal server error: Guest call failure: Policy has not been granted access to Kubernetes instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype resources. The violation has been reported."
    );
    assert_eq!(outcome.replay.as_ref().map(|r| r.consumed), Some(0));
    assert!(outcome.context_aware_allow_list.is_empty());
}

#[test]
fn an_unannotated_module_gets_no_access_even_with_the_flag() {
    let mut c = config(Some(&good_session()));
    c.metadata_override = None;
    let outcome = run(c).expect("runs");
    assert!(message(&outcome).contains("has not been granted access"));
    assert!(outcome.notes.iter().any(|n| n.starts_with("Policy is not annotated")));
}

#[test]
fn refused_settings_stop_before_validate() {
    let mut c = config(Some(&good_session()));
    c.settings.insert("mode".to_owned(), json!("expand"));
    let outcome = run(c).expect("runs");
    assert!(outcome.response.is_none());
    assert_eq!(
        outcome.settings_error().as_deref(),
        Some("Provided settings are not valid: relay guest: settings must be empty, got something else")
    );
    assert_eq!(outcome.host_call_count(), 0);
}

#[test]
fn a_bad_request_or_module_is_a_harness_error() {
    let mut c = config(None);
    c.request = json!({"request": {}});
    let e = run(c).expect_err("bad request").to_string();
    assert!(
        e.starts_with(
            "invalid request <memory>: cannot build AdmissionRequest object from given input: missing field `uid`"
        ),
        "{e}"
    );

    let trapping = PreparedPolicy::from_bytes("trap.wat", b"(module (func (export \"wapc_init\") unreachable))")
        .expect("compiles");
    let e = trapping.run(config(None)).expect_err("trap in init").to_string();
    assert!(e.starts_with("cannot load policy module trap.wat: "), "{e}");

    let e = PreparedPolicy::from_bytes("bad.wasm", b"not wasm")
        .expect_err("not a module")
        .to_string();
    assert!(e.starts_with("cannot load policy module bad.wasm: "), "{e}");
    let e = PreparedPolicy::from_bytes("imports.wat", b"(module (import \"env\" \"f\" (func)))")
        .expect_err("unknown import")
        .to_string();
    assert!(e.contains("env::f"), "{e}");
}

#[test]
fn a_runaway_guest_is_interrupted_with_a_timeout() {
    let spinning = PreparedPolicy::from_bytes("spin.wat", spinning_guest_wat().as_bytes()).expect("compiles");
    let mut c = config(None);
    c.timeout = Some(Duration::from_millis(300));
    let outcome = spinning.run(c).expect("runs");
    assert_eq!(
        message(&outcome),
        "Policy execution interrupted because it exceeded the allowed execution time"
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kwrun-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_kwrun_binary_prints_the_admission_response_like_kwctl() {
    let dir = temp_dir("cli");
    std::fs::write(dir.join("policy.wat"), relay_guest_wat()).expect("write");
    std::fs::write(
        dir.join("request.json"),
        serde_json::to_string_pretty(&review()).expect("json"),
    )
    .expect("write");
    std::fs::write(dir.join("session.yml"), good_session()).expect("write");
    std::fs::write(
        dir.join("policy-metadata.yml"),
        "rules: []\nmutating: true\ncontextAwareResources:\n- apiVersion: instancetype.kubevirt.io/v1beta1\n  kind: VirtualMachineClusterInstancetype\n- apiVersion: instancetype.kubevirt.io/v1beta1\n  kind: VirtualMachineClusterPreference\n",
    )
    .expect("write");
    let kwrun = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_kwrun"))
            .current_dir(&dir)
            .args([
                "run",
                "-r",
                "request.json",
                "--settings-json",
                "{}",
                "--allow-context-aware",
                "-m",
                "policy-metadata.yml",
            ])
            .args(extra)
            .arg("policy.wat")
            .output()
            .expect("kwrun runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = kwrun(&[
        "--replay-host-capabilities-interactions",
        "session.yml",
        "--print-patch",
        "--print-mutated-object",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let response: Value = serde_json::from_str(&stdout).expect("one JSON line");
    assert_eq!(response["allowed"], json!(true));
    assert_eq!(response["patchType"], json!("JSONPatch"));
    assert!(
        stdout.contains("\"allowed\":true") && stdout.contains("JSONPatch"),
        "the kwctl e2e greps work: {stdout}"
    );
    assert!(stderr.contains("--- JSON patch (decoded) ---"), "{stderr}");
    assert!(stderr.contains("\"guest\": \"4Gi\""), "{stderr}");
    assert!(
        stderr.contains(
            "3 host call(s), 2 capability call(s); session session.yml: 2 of 2 exchange(s) consumed (fully consumed)"
        ),
        "{stderr}"
    );

    // out of order: kwctl semantics (exit 0, 500 in the response) unless --fail-on-replay-error
    let swapped = exchange(
        "VirtualMachineClusterPreference",
        "fedora",
        &success(&json!({"accepted": true})),
    ) + &exchange("VirtualMachineClusterInstancetype", "u1.medium", &success(&json!({})));
    std::fs::write(dir.join("swapped.yml"), swapped).expect("write");
    let (code, stdout, stderr) = kwrun(&["--replay-host-capabilities-interactions", "swapped.yml"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("\"allowed\":false") && stdout.contains("\"code\":500"),
        "{stdout}"
    );
    assert!(
        stderr.contains("kwrun: replay error: exchange #1: Replay error: unexpected request."),
        "{stderr}"
    );
    let (code, _, _) = kwrun(&[
        "--replay-host-capabilities-interactions",
        "swapped.yml",
        "--fail-on-replay-error",
    ]);
    assert_eq!(code, Some(3));

    // leftovers: allowed by default, exit 4 on request
    let longer = good_session() + &exchange("VirtualMachineClusterInstancetype", "cx1.large", &success(&json!({})));
    std::fs::write(dir.join("longer.yml"), longer).expect("write");
    let (code, _, stderr) = kwrun(&["--replay-host-capabilities-interactions", "longer.yml"]);
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("kwrun: warning: 1 recorded exchange(s) have not been replayed"),
        "{stderr}"
    );
    let (code, _, _) = kwrun(&[
        "--replay-host-capabilities-interactions",
        "longer.yml",
        "--require-session-consumed",
    ]);
    assert_eq!(code, Some(4));

    // a malformed session is an error naming the file and the exchange
    std::fs::write(
        dir.join("broken.yml"),
        "- type: Exchange\n  request: '!KubernetesGetResource'\n  response: {type: Success, payload: x}\n",
    )
    .expect("write");
    let (code, stdout, stderr) = kwrun(&["--replay-host-capabilities-interactions", "broken.yml"]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("Error: invalid replay session broken.yml: exchange #1: request !KubernetesGetResource:"),
        "{stderr}"
    );

    // bad settings: kwctl's error, exit 1, nothing on stdout
    let output = Command::new(env!("CARGO_BIN_EXE_kwrun"))
        .current_dir(&dir)
        .args([
            "run",
            "-q",
            "-r",
            "request.json",
            "--settings-json",
            r#"{"mode":"x"}"#,
            "policy.wat",
        ])
        .output()
        .expect("kwrun runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: Provided settings are not valid: relay guest: settings must be empty, got something else\n"
    );

    // usage errors exit 2
    let output = Command::new(env!("CARGO_BIN_EXE_kwrun"))
        .args(["run", "policy.wat"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
