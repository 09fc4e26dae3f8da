//! The policy module in wasmtime, as Kubewarden runs it (`make bench`; docs/performance.md).
//!
//! `cargo bench -p kubevirt-instancetype-e2e --profile bench-host --bench policy -- --policy policy.wasm`
//! writes `$BENCH_OUT_DIR/policy.json` (default `target/bench/`) and prints a summary:
//!
//! - compile: [`PreparedPolicy::from_path`] (read, metadata, wasmtime compile), a few times;
//! - instantiate: a fresh instance from the compiled module (`rehydrate` + waPC `wapc_init`), the step
//!   policy-server takes for every request;
//! - warm `validate`: one `validate` call on a live instance (guest + host calls answering the two
//!   lookups), for the realistic CREATE (u1.medium + fedora, 2 disks) and the same VM with 50 disks;
//! - fresh request: instantiate + `validate`, what policy-server pays per request;
//! - harness run: [`PreparedPolicy::run`] end to end (protocol_version, validate_settings, validate with
//!   session replay, JSON patch), for reference.
//!
//! The instance set-up mirrors `PreparedPolicy` (wasmtime defaults plus epoch interruption, the
//! wasmtime-provider 2.19 + wapc 2.1 stack). Without `--bench` (as under `cargo test --all-targets`)
//! it prints a note and exits: the module is not built there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubevirt_instancetype_e2e::admission::validation_payload;
use kubevirt_instancetype_e2e::{AdmissionRequest, PolicyMetadata, PreparedPolicy, RunConfig, Session};
use serde_json::{Map, Value, json};
use wasmtime_provider::wasmtime;

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bundled object named `name`.
fn bundled(file: &str, name: &str) -> Value {
    let Value::Array(items) = read_json(&repo_path(&format!("data/common-instancetypes/{file}"))) else {
        panic!("{file} is not a JSON array");
    };
    items
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {file}"))
}

/// `bench/vm.json` with `disks` disks (the two it has, then containerDisks `disk3`, `disk4`, ...),
/// as benches/common/mod.rs and bench/npm.mjs build it.
fn vm_with_disks(disks: usize) -> Value {
    let mut vm = read_json(&repo_path("bench/vm.json"));
    let spec = &mut vm["spec"]["template"]["spec"];
    for index in 3..=disks {
        let name = format!("disk{index}");
        spec["domain"]["devices"]["disks"]
            .as_array_mut()
            .expect("disks")
            .push(json!({"name": name, "disk": {}}));
        spec["volumes"]
            .as_array_mut()
            .expect("volumes")
            .push(json!({"name": name, "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}));
    }
    vm
}

/// The AdmissionReview of a CREATE of `vm` in namespace `vms`.
fn admission_review(vm: Value) -> Value {
    let gvk = json!({"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"});
    let gvr = json!({"group": "kubevirt.io", "version": "v1", "resource": "virtualmachines"});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0d1c5c3e-6b4e-4d3f-9a57-5f7f4b1d2c01",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": vm["metadata"]["name"], "namespace": "vms", "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": vm, "oldObject": null, "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    })
}

/// The kwctl session answering the policy's two lookups (for [`PreparedPolicy::run`]).
fn session(objects: &[Value]) -> Session {
    let mut text = String::new();
    for object in objects {
        let payload = serde_json::to_string(object).expect("JSON");
        text.push_str(&format!(
            "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: {}\n    kind: {}\n    name: \"{}\"\n    namespace: null\n    disable_cache: false\n  response:\n    type: Success\n    payload: {}\n",
            object["apiVersion"].as_str().expect("apiVersion"),
            object["kind"].as_str().expect("kind"),
            object["metadata"]["name"].as_str().expect("name"),
            serde_json::to_string(&payload).expect("JSON"),
        ));
    }
    Session::from_yaml_str(&text, "bench session").expect("session")
}

/// Nanoseconds, summarized in microseconds (nearest-rank percentiles).
fn summary(mut samples: Vec<u64>) -> Value {
    samples.sort_unstable();
    let n = samples.len();
    let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
    json!({
        "samples": n,
        "min_us": samples[0] as f64 / 1000.0,
        "median_us": rank(0.5),
        "mean_us": samples.iter().sum::<u64>() as f64 / n as f64 / 1000.0,
        "p90_us": rank(0.9),
        "p99_us": rank(0.99),
        "max_us": samples[n - 1] as f64 / 1000.0,
    })
}

fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

type Callback = Box<
    dyn Fn(u64, &str, &str, &str, &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> + Send + Sync,
>;

/// The host side: `kubernetes/get_resource` answered from `objects`, logs dropped.
fn callback(objects: &[Value]) -> Callback {
    let answers: HashMap<(String, String), Vec<u8>> = objects
        .iter()
        .map(|o| {
            let key = (
                o["kind"].as_str().expect("kind").to_owned(),
                o["metadata"]["name"].as_str().expect("name").to_owned(),
            );
            (key, serde_json::to_vec(o).expect("JSON"))
        })
        .collect();
    Box::new(
        move |_id, binding, namespace, operation, payload| match (binding, namespace, operation) {
            ("kubewarden", "tracing", "log") => Ok(Vec::new()),
            ("kubewarden", "kubernetes", "get_resource") => {
                let request: Value = serde_json::from_slice(payload)?;
                let key = (
                    request["kind"].as_str().unwrap_or_default().to_owned(),
                    request["name"].as_str().unwrap_or_default().to_owned(),
                );
                answers
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| format!("{key:?} not found").into())
            }
            other => Err(format!("unexpected host call {other:?}").into()),
        },
    )
}

struct Module {
    pre: wasmtime_provider::WasmtimeEngineProviderPre,
}

impl Module {
    /// Compiled as `PreparedPolicy::from_bytes` does.
    fn compile(bytes: &[u8]) -> Self {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).expect("engine");
        let pre = wasmtime_provider::WasmtimeEngineProviderBuilder::new()
            .engine(engine)
            .module_bytes(bytes)
            .build_pre()
            .expect("compile");
        Self { pre }
    }

    /// A fresh instance (`wapc_init` run), its settings validated.
    fn instantiate(&self, objects: &[Value]) -> wapc::WapcHost {
        let deadlines = wasmtime_provider::EpochDeadlines {
            wapc_init: 1 << 48,
            wapc_func: 1 << 48,
        };
        let provider = self.pre.rehydrate(Some(deadlines)).expect("rehydrate");
        wapc::WapcHost::new(Box::new(provider), Some(callback(objects))).expect("instance")
    }
}

/// One `validate` call; checks the VM was expanded.
fn validate(host: &wapc::WapcHost, payload: &[u8]) -> Vec<u8> {
    host.call("validate", payload).expect("validate")
}

fn check_expanded(answer: &[u8]) {
    let response: Value = serde_json::from_slice(answer).expect("response JSON");
    assert_eq!(response["accepted"], json!(true), "{response}");
    let cpu = &response["mutated_object"]["spec"]["template"]["spec"]["domain"]["cpu"];
    assert_eq!(cpu["sockets"], json!(1), "u1.medium was not applied: {response}");
}

fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let position = args.iter().position(|a| a == flag)?;
    args.get(position + 1).map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("policy bench: skipped outside `cargo bench` (make bench runs it)");
        return;
    }
    let policy = arg(&args, "--policy").map_or_else(|| repo_path("policy.wasm"), PathBuf::from);
    let iterations: usize = arg(&args, "--iterations").and_then(|n| n.parse().ok()).unwrap_or(3000);
    let bytes = std::fs::read(&policy).unwrap_or_else(|e| panic!("{}: {e} (run `make policy.wasm`)", policy.display()));

    let objects = [
        bundled("common-clusterinstancetypes-bundle.json", "u1.medium"),
        bundled("common-clusterpreferences-bundle.json", "fedora"),
    ];
    let settings = Map::new();
    let metadata = PolicyMetadata::from_yaml_or_json(
        &std::fs::read_to_string(repo_path("policy-metadata.yml")).expect("metadata"),
    )
    .expect("policy-metadata.yml");
    let payloads: Vec<(usize, Vec<u8>, Value)> = [2usize, 50]
        .into_iter()
        .map(|disks| {
            let review = admission_review(vm_with_disks(disks));
            let request = AdmissionRequest::from_request_document(&review).expect("request");
            let payload = serde_json::to_vec(&validation_payload(&request, &settings)).expect("payload");
            (disks, payload, review)
        })
        .collect();

    // Compile: through the harness library, as its tests do.
    let mut compile = Vec::new();
    let mut prepared = None;
    for _ in 0..3 {
        let start = Instant::now();
        let compiled = PreparedPolicy::from_path(&policy).expect("compile");
        compile.push(nanos(start.elapsed()));
        prepared = Some(compiled);
    }
    let prepared = prepared.expect("compiled");
    let module = Module::compile(&bytes);

    // Instantiate: rehydrate + wapc_init; then the settings are validated once, as at policy load.
    let mut instantiate = Vec::new();
    for round in 0..(iterations / 10).max(50) + 20 {
        let start = Instant::now();
        let host = module.instantiate(&objects);
        let elapsed = nanos(start.elapsed());
        if round >= 20 {
            instantiate.push(elapsed);
        }
        drop(black_box(host));
    }

    let mut report = Map::new();
    report.insert("policy_wasm".into(), json!(policy.display().to_string()));
    report.insert("policy_wasm_bytes".into(), json!(bytes.len()));
    report.insert("compile".into(), summary(compile));
    report.insert("instantiate".into(), summary(instantiate));

    for (disks, payload, review) in &payloads {
        // Warm: one live instance, many requests.
        let host = module.instantiate(&objects);
        let settings_answer = host.call("validate_settings", b"{}").expect("validate_settings");
        assert_eq!(
            serde_json::from_slice::<Value>(&settings_answer).expect("JSON")["valid"],
            json!(true)
        );
        check_expanded(&validate(&host, payload));
        let rounds = iterations * 2 / disks.max(&2);
        for _ in 0..rounds / 10 + 10 {
            black_box(validate(&host, payload));
        }
        let mut warm = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            let answer = validate(&host, payload);
            warm.push(nanos(start.elapsed()));
            black_box(answer);
        }
        drop(host);

        // Fresh instance per request, as policy-server evaluates.
        let mut fresh = Vec::new();
        for _ in 0..(rounds / 10).max(30) {
            let start = Instant::now();
            let host = module.instantiate(&objects);
            let answer = validate(&host, payload);
            fresh.push(nanos(start.elapsed()));
            black_box(answer);
        }

        // The whole harness (what `kwrun` does per request).
        let config = RunConfig {
            request: review.clone(),
            request_source: "bench".to_owned(),
            settings: settings.clone(),
            allow_context_aware: true,
            metadata_override: Some(metadata.clone()),
            session: Some(session(&objects)),
            timeout: None,
            echo_policy_logs: false,
        };
        let outcome = prepared.run(config.clone()).expect("run");
        assert!(outcome.session_fully_consumed(), "the session was not consumed");
        assert!(outcome.patch.is_some(), "no patch: {:?}", outcome.response);
        let mut harness = Vec::new();
        for _ in 0..(rounds / 30).max(20) {
            let config = config.clone();
            let start = Instant::now();
            let outcome = prepared.run(config).expect("run");
            harness.push(nanos(start.elapsed()));
            black_box(outcome);
        }

        report.insert(
            format!("disks_{disks}"),
            json!({
                "request_bytes": payload.len(),
                "warm_validate": summary(warm),
                "fresh_request": summary(fresh),
                "harness_run": summary(harness),
            }),
        );
    }

    let report = Value::Object(report);
    let out_dir = std::env::var_os("BENCH_OUT_DIR").map_or_else(|| repo_path("target/bench"), PathBuf::from);
    std::fs::create_dir_all(&out_dir).expect("output directory");
    let out = out_dir.join("policy.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).expect("JSON")).expect("write policy.json");
    let us = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "policy: compile median {:.1} ms, instantiate median {:.2} ms p99 {:.2} ms",
        us(&report["compile"]["median_us"]) / 1000.0,
        us(&report["instantiate"]["median_us"]) / 1000.0,
        us(&report["instantiate"]["p99_us"]) / 1000.0,
    );
    for disks in ["2", "50"] {
        let entry = &report[format!("disks_{disks}")];
        println!(
            "policy {disks} disks: warm validate median {:.1} µs p99 {:.1} µs; fresh request median {:.1} µs; harness run median {:.1} µs",
            us(&entry["warm_validate"]["median_us"]),
            us(&entry["warm_validate"]["p99_us"]),
            us(&entry["fresh_request"]["median_us"]),
            us(&entry["harness_run"]["median_us"]),
        );
    }
    println!("wrote {}", out.display());
}
