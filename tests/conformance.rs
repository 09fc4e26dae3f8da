//! Conformance against KubeVirt: every golden case of `tests/data/golden` must give KubeVirt's own
//! result, and the conformance runner and CLI must behave on any file in that format.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubevirt_instancetype::conformance::{Problem, Summary, run_case, run_file};
use kubevirt_instancetype::engine::options::ExpandOptions;
use serde_json::{Value, json};

const GOLDEN_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden/cases.jsonl");
const GOLDEN_EXPECTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden/expected.jsonl");
const BIN: &str = env!("CARGO_BIN_EXE_kubevirt-instancetype");

fn open(path: &str) -> BufReader<std::fs::File> {
    BufReader::new(std::fs::File::open(path).unwrap_or_else(|error| panic!("{path}: {error}")))
}

/// The failures in full (the first [`DETAILED`] of them; then only their ids) and the closing line.
fn report(summary: &Summary) -> String {
    const DETAILED: usize = 40;
    let mut text = String::new();
    for failure in summary.failures.iter().take(DETAILED) {
        text.push_str(&format!("FAIL {failure}\n\n"));
    }
    if summary.failures.len() > DETAILED {
        text.push_str(&format!("... and {} more:\n", summary.failures.len() - DETAILED));
        for failure in summary.failures.iter().skip(DETAILED) {
            let line = failure
                .line
                .map(|line| format!(" ({} line {line})", failure.file))
                .unwrap_or_default();
            text.push_str(&format!("  {}{line}\n", failure.id.as_deref().unwrap_or("(no id)")));
        }
    }
    text.push_str(&summary.closing_line());
    text
}

/// A VM without matchers: expansion gives it back unchanged and admission has nothing to say.
fn plain_vm(name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"runStrategy": "Halted", "template": {"metadata": {}, "spec": {"domain": {"resources": {}, "devices": {}}}}},
        "status": {}
    })
}

fn plain_case(id: &str) -> Value {
    json!({"id": id, "vm": plain_vm(id), "instancetype": null, "preference": null})
}

fn plain_expected(id: &str) -> Value {
    json!({"id": id, "expanded": plain_vm(id), "error": null,
           "admission": {"applyCauses": null, "conflicts": null, "requirementsCause": null, "error": null}})
}

/// A VM whose cluster instancetype does not exist: expand fails with KubeVirt's NotFound text.
fn missing_instancetype_case(id: &str) -> Value {
    let mut vm = plain_vm(id);
    vm["spec"]["instancetype"] = json!({"name": "absent"});
    json!({"id": id, "vm": vm, "instancetype": null, "preference": null})
}

fn jsonl(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn run(cases: &[String], expected: Option<&[String]>) -> (Summary, Vec<Value>) {
    let mut out = Vec::new();
    let expected = expected.map(|lines| Cursor::new(jsonl(lines)));
    let summary = run_file(Cursor::new(jsonl(cases)), &mut out, expected).expect("in-memory IO does not fail");
    let results = out
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    (summary, results)
}

#[test]
fn every_golden_case_matches_kubevirt() {
    let expected_ids = open(GOLDEN_EXPECTED).lines().count();
    let mut out = Vec::new();
    let summary =
        run_file(open(GOLDEN_CASES), &mut out, Some(open(GOLDEN_EXPECTED))).expect("golden files are readable");
    assert_eq!(summary.cases, expected_ids, "one case per expected result");
    assert!(summary.compared);
    assert!(
        summary.failures.is_empty(),
        "golden conformance failures:\n\n{}",
        report(&summary)
    );
    assert_eq!(summary.passed, expected_ids);
    assert_eq!(out.lines().count(), expected_ids, "one result line per case");
}

#[test]
fn run_case_writes_the_result_shape() {
    let result = run_case(&plain_case("shape"), &ExpandOptions::default()).unwrap();
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "expanded", "error", "admission"]);
    let admission: Vec<&str> = result["admission"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(admission, ["applyCauses", "requirementsCause"]);
    assert_eq!(result["id"], "shape");
    assert!(result["error"].is_null());
    assert!(result["admission"]["applyCauses"].is_null());
    assert!(result["admission"]["requirementsCause"].is_null());
}

#[test]
fn run_case_reports_a_failed_lookup_as_the_expand_error() {
    let result = run_case(&missing_instancetype_case("missing"), &ExpandOptions::default()).unwrap();
    assert!(result["expanded"].is_null());
    assert_eq!(
        result["error"],
        r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "absent" not found"#
    );
}

#[test]
fn run_case_rejects_what_is_not_a_case() {
    let options = ExpandOptions::default();
    for (case, needle) in [
        (json!([1]), "JSON object"),
        (json!({"vm": {}}), "\"id\""),
        (json!({"id": "x"}), "\"vm\""),
        (json!({"id": "x", "vm": "text"}), "\"vm\""),
        (
            json!({"id": "x", "vm": plain_vm("x"), "instancetype": {"kind": "Pod"}}),
            "\"instancetype\"",
        ),
    ] {
        let error = run_case(&case, &options).unwrap_err();
        assert!(error.contains(needle), "{case}: {error}");
    }
}

#[test]
fn runner_matches_by_id_in_any_order() {
    let cases = ["a", "b", "c"].map(|id| plain_case(id).to_string());
    let expected = ["c", "a", "b"].map(|id| plain_expected(id).to_string());
    let (summary, results) = run(&cases, Some(&expected));
    assert_eq!(
        (summary.passed, summary.failed(), summary.cases),
        (3, 0, 3),
        "{}",
        report(&summary)
    );
    let ids: Vec<&str> = results.iter().map(|result| result["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c"], "results follow the cases' order");
}

#[test]
fn runner_reports_ids_missing_on_either_side() {
    let cases = ["a", "only-case"].map(|id| plain_case(id).to_string());
    let expected = ["only-expected", "a"].map(|id| plain_expected(id).to_string());
    let (summary, _) = run(&cases, Some(&expected));
    assert_eq!(summary.passed, 1);
    let failed: Vec<(Option<&str>, &'static str)> = summary
        .failures
        .iter()
        .map(|failure| (failure.id.as_deref(), failure.file))
        .collect();
    assert_eq!(
        failed,
        [(Some("only-case"), "cases"), (Some("only-expected"), "expected")]
    );
    assert_eq!(summary.closing_line(), "1 passed, 2 failed");
}

#[test]
fn runner_goes_on_after_bad_lines() {
    let cases = [
        plain_case("a").to_string(),
        "{not json".to_owned(),
        String::new(),
        json!({"no": "id"}).to_string(),
        plain_case("a").to_string(),
        plain_case("b").to_string(),
    ];
    let expected = ["a", "b"].map(|id| plain_expected(id).to_string()).to_vec();
    let expected = [expected, vec!["also not json".to_owned()]].concat();
    let (summary, results) = run(&cases, Some(&expected));
    assert_eq!(summary.cases, 5, "blank lines are not cases");
    assert_eq!(summary.passed, 2, "{}", report(&summary));
    let lines: Vec<(&'static str, Option<usize>)> = summary
        .failures
        .iter()
        .map(|failure| (failure.file, failure.line))
        .collect();
    assert_eq!(
        lines,
        [
            ("cases", Some(2)),
            ("cases", Some(4)),
            ("cases", Some(5)),
            ("expected", Some(3))
        ]
    );
    assert!(matches!(&summary.failures[0].problem, Problem::Case(message) if message.contains("not valid JSON")));
    assert!(matches!(&summary.failures[2].problem, Problem::Case(message) if message.contains("duplicate id")));
    assert_eq!(results.len(), 5, "one output line per case");
    assert!(results[1]["caseError"].as_str().unwrap().contains("not valid JSON"));
}

#[test]
fn runner_reports_differences_and_non_utf8_lines() {
    let mut expected = plain_expected("a");
    expected["expanded"]["spec"]["runStrategy"] = json!("Always");
    let mut cases = jsonl(&[plain_case("a").to_string()]).into_bytes();
    cases.extend_from_slice(b"\xff\xfe\n");
    let mut out = Vec::new();
    let summary = run_file(
        Cursor::new(cases),
        &mut out,
        Some(Cursor::new(jsonl(&[expected.to_string()]))),
    )
    .unwrap();
    assert_eq!(summary.closing_line(), "0 passed, 2 failed");
    let Problem::Differences(differences) = &summary.failures[0].problem else {
        panic!("{}", report(&summary))
    };
    assert_eq!(differences.len(), 1);
    assert_eq!(differences[0].path, "/expanded/spec/runStrategy");
    assert!(matches!(&summary.failures[1].problem, Problem::Case(message) if message.contains("UTF-8")));
}

#[test]
fn runner_without_expected_only_runs() {
    let cases = [plain_case("a").to_string(), missing_instancetype_case("b").to_string()];
    let mut out = Vec::new();
    let summary = run_file(Cursor::new(jsonl(&cases)), &mut out, None::<Cursor<Vec<u8>>>).unwrap();
    assert!(!summary.compared);
    assert_eq!(summary.closing_line(), "2 passed, 0 failed");
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kubevirt-instancetype-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the CLI binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn cli_conformance_passes_and_fails_with_a_closing_line() {
    let scratch = Scratch::new("cli-conformance");
    let cases = scratch.write(
        "cases.jsonl",
        &jsonl(&[
            plain_case("good").to_string(),
            missing_instancetype_case("missing").to_string(),
        ]),
    );
    let mut missing_expected = json!({"id": "missing", "expanded": null,
        "error": r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "absent" not found"#,
        "admission": {"applyCauses": null, "conflicts": null, "requirementsCause": null, "error": null}});
    let expected = scratch.write(
        "expected.jsonl",
        &jsonl(&[missing_expected.to_string(), plain_expected("good").to_string()]),
    );
    let out = scratch.path("results/out.jsonl");

    let output = cli(&["conformance", "--cases", &cases, "--out", &out, "--expected", &expected]);
    assert_eq!(
        stdout(&output).lines().last(),
        Some("2 passed, 0 failed"),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(0));
    let results = std::fs::read_to_string(&out).unwrap();
    assert_eq!(results.lines().count(), 2);

    missing_expected["error"] = json!("something else");
    let expected = scratch.write(
        "expected.jsonl",
        &jsonl(&[missing_expected.to_string(), plain_expected("good").to_string()]),
    );
    let cases = scratch.write(
        "cases.jsonl",
        &(std::fs::read_to_string(&cases).unwrap() + "this is not json\n"),
    );
    let output = cli(&[
        "conformance",
        "--cases",
        &cases,
        "--out",
        &out,
        &format!("--expected={expected}"),
    ]);
    let text = stdout(&output);
    assert_eq!(text.lines().last(), Some("1 passed, 2 failed"), "{text}");
    assert_eq!(output.status.code(), Some(1));
    assert!(text.contains("missing (cases line 2)"), "{text}");
    assert!(text.contains("/error: expected \"something else\""), "{text}");
    assert!(text.contains("cases line 3"), "{text}");
}

#[test]
fn cli_conformance_without_expected_writes_results() {
    let scratch = Scratch::new("cli-no-expected");
    let cases = scratch.write("cases.jsonl", &jsonl(&[plain_case("x").to_string()]));
    let out = scratch.path("out.jsonl");
    let output = cli(&["conformance", "--cases", &cases, "--out", &out]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().last(), Some("1 passed, 0 failed"));
    let line: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(line["id"], "x");
}

#[test]
fn cli_usage_errors_are_clear() {
    let output = cli(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no command given"));
    for (args, needle) in [
        (vec!["frobnicate"], "unknown command `frobnicate`"),
        (
            vec!["conformance", "--cases", "x"],
            "`--cases <file>` and `--out <file>` are required",
        ),
        (vec!["conformance", "--bogus"], "unknown option `--bogus`"),
        (vec!["conformance", "--cases"], "`--cases` needs a value"),
        (vec!["expand"], "`--vm <vm.json>` is required"),
        (
            vec!["expand", "--vm", "/nonexistent/vm.json"],
            "/nonexistent/vm.json: cannot read",
        ),
        (
            vec!["conformance", "--cases", "/nonexistent/c.jsonl", "--out", "/tmp/x"],
            "/nonexistent/c.jsonl: cannot open",
        ),
    ] {
        let output = cli(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains(needle), "{args:?}: {}", stderr(&output));
    }
    for args in [
        vec!["--help"],
        vec!["help", "expand"],
        vec!["conformance", "--help"],
        vec!["expand", "-h"],
    ] {
        let output = cli(&args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(stdout(&output).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn cli_expand_names_the_bad_file() {
    let scratch = Scratch::new("cli-expand-bad");
    let vm = scratch.write("vm.json", &plain_vm("vm").to_string());
    let yaml = scratch.write("vm.yaml", "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n");
    let objects = scratch.write(
        "objects.json",
        r#"[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}]"#,
    );
    let output = cli(&["expand", "--vm", &yaml]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("{yaml}: not valid JSON")),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("YAML"), "{}", stderr(&output));
    let output = cli(&["expand", "--vm", &vm, "--objects", &objects]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("{objects}: object #1")),
        "{}",
        stderr(&output)
    );
    let output = cli(&["expand", "--vm", &vm, "--namespace", "other"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("does not match --namespace"),
        "{}",
        stderr(&output)
    );
}

/// A file of the bundled common-instancetypes data (`data/common-instancetypes/`).
fn bundle(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/common-instancetypes")
        .join(file)
}

#[test]
fn cli_expand_uses_the_common_instancetypes_bundles() {
    let instancetypes = bundle("common-clusterinstancetypes-bundle.json");
    let preferences = bundle("common-clusterpreferences-bundle.json");
    let scratch = Scratch::new("cli-expand");
    let mut vm = plain_vm("bundle");
    vm["metadata"].as_object_mut().unwrap().remove("namespace");
    vm["spec"]["instancetype"] = json!({"name": "u1.medium"});
    vm["spec"]["preference"] = json!({"name": "fedora"});
    let vm_path = scratch.write("vm.json", &vm.to_string());

    let output = cli(&[
        "expand",
        "--vm",
        &vm_path,
        "--objects",
        instancetypes.to_str().unwrap(),
        preferences.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expanded: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(expanded["spec"].get("instancetype").is_none());
    assert!(expanded["spec"].get("preference").is_none());
    assert_eq!(expanded["metadata"]["namespace"], "default");
    assert_eq!(expanded["spec"]["template"]["spec"]["domain"]["memory"]["guest"], "4Gi");
    assert_eq!(expanded["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"], 1);

    vm["spec"]["instancetype"] = json!({"name": "no-such-type"});
    let vm_path = scratch.write("vm.json", &vm.to_string());
    let output = cli(&["expand", "--vm", &vm_path, "--objects", instancetypes.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(r#""no-such-type" not found"#),
        "{}",
        stderr(&output)
    );
}

/// A VM whose instancetype is to be inferred from its `root` volume, a PVC labelled `u1.medium`.
fn inferring_vm(name: &str) -> Value {
    let mut vm = plain_vm(name);
    vm["spec"]["instancetype"] = json!({"inferFromVolume": "root"});
    vm["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "root", "persistentVolumeClaim": {"claimName": "root-pvc"}}]);
    vm
}

#[test]
fn conformance_expands_as_kubevirts_expand_which_never_infers() {
    // KubeVirt's `Expand` calls its finders directly: a matcher with only `inferFromVolume` is looked
    // up by its empty name, whatever the failure policy.
    for policy in [None, Some("Ignore"), Some("Reject")] {
        let mut vm = inferring_vm("infer");
        if let Some(policy) = policy {
            vm["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!(policy);
        }
        let case = json!({"id": "infer", "vm": vm, "instancetype": null, "preference": null});
        let result = run_case(&case, &ExpandOptions::default()).unwrap();
        assert_eq!(result["expanded"], Value::Null, "{policy:?}");
        assert_eq!(
            result["error"], r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "" not found"#,
            "{policy:?}"
        );
    }
}

#[test]
fn cli_expand_infers_from_volumes_unless_told_not_to() {
    let instancetypes = bundle("common-clusterinstancetypes-bundle.json");
    let scratch = Scratch::new("cli-expand-infer");
    let vm = scratch.write("vm.json", &inferring_vm("infer").to_string());
    let pvc = scratch.write(
        "pvc.json",
        &json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "root-pvc", "namespace": "default",
                             "labels": {"instancetype.kubevirt.io/default-instancetype": "u1.medium"}}})
        .to_string(),
    );
    let instancetypes = instancetypes.to_str().unwrap();

    let output = cli(&["expand", "--vm", &vm, "--objects", instancetypes, &pvc]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expanded: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(expanded["spec"]["template"]["spec"]["domain"]["memory"]["guest"], "4Gi");
    assert!(expanded["spec"].get("instancetype").is_none());

    let output = cli(&["expand", "--vm", &vm, "--objects", instancetypes, &pvc, "--no-infer"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(r#"virtualmachineclusterinstancetypes.instancetype.kubevirt.io "" not found"#),
        "{}",
        stderr(&output)
    );
}

#[test]
fn cli_expand_follows_other_namespaces_only_when_allowed() {
    let instancetypes = bundle("common-clusterinstancetypes-bundle.json");
    let instancetypes = instancetypes.to_str().unwrap();
    let scratch = Scratch::new("cli-expand-cross-namespace");
    let mut vm = inferring_vm("infer");
    vm["spec"]["template"]["spec"]["volumes"] = json!([{"name": "root", "dataVolume": {"name": "root"}}]);
    vm["spec"]["dataVolumeTemplates"] = json!([{"metadata": {"name": "root"},
        "spec": {"sourceRef": {"kind": "DataSource", "name": "fedora", "namespace": "os-images"}}}]);
    let vm = scratch.write("vm.json", &vm.to_string());
    let data_source = scratch.write(
        "datasource.json",
        &json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource",
                "metadata": {"name": "fedora", "namespace": "os-images",
                             "labels": {"instancetype.kubevirt.io/default-instancetype": "u1.medium"}},
                "spec": {"source": {}}})
        .to_string(),
    );

    let output = cli(&["expand", "--vm", &vm, "--objects", instancetypes, &data_source]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cross-namespace inference is not allowed"),
        "{}",
        stderr(&output)
    );

    let output = cli(&[
        "expand",
        "--vm",
        &vm,
        "--objects",
        instancetypes,
        &data_source,
        "--allow-cross-namespace-inference",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expanded: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(expanded["spec"]["template"]["spec"]["domain"]["memory"]["guest"], "4Gi");
}
