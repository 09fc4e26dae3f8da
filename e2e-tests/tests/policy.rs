//! The built policy (`policy.wasm`, wasm32-wasip1) run the way Kubewarden runs it, through the kwrun harness
//! library, on every fixture under `e2e-tests/fixtures/<case>/` (request.json, settings.json, session.yml in
//! kwctl's replay format, expected.json; see `fixtures/generate.py`).
//!
//! The module: `$POLICY_WASM` when set (the Makefile sets it to the `policy.wasm` it just built), else built
//! here once with `cargo build --target wasm32-wasip1 --release --lib -p kubevirt-instancetype`. It is compiled
//! once and shared by all cases. Every case also checks that the policy made exactly the recorded host calls,
//! in order (kwctl replays strictly), and consumed the whole session.

// test helpers outside `#[test]` functions: failing loudly is the point
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;

use common::{metadata, policy_wasm_path};
use kubevirt_instancetype_e2e::{PreparedPolicy, RunConfig, RunOutcome, Session};
use serde_json::{Map, Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn policy() -> &'static PreparedPolicy {
    static POLICY: OnceLock<PreparedPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = policy_wasm_path();
        PreparedPolicy::from_path(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
    })
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs a request document with settings and an optional session, as `kwctl run --allow-context-aware` does.
fn evaluate(request: Value, settings: Value, session: Option<Session>) -> RunOutcome {
    let Value::Object(settings) = settings else {
        panic!("settings must be a JSON object")
    };
    policy()
        .run(RunConfig {
            request,
            request_source: "request.json".to_owned(),
            settings,
            allow_context_aware: true,
            metadata_override: Some(metadata()),
            session,
            timeout: Some(std::time::Duration::from_secs(60)),
            echo_policy_logs: false,
        })
        .expect("the harness runs the policy")
}

fn run_fixture(name: &str) -> RunOutcome {
    let dir = fixtures_dir().join(name);
    let session = Session::from_path(&dir.join("session.yml")).unwrap_or_else(|e| panic!("{name}: {e}"));
    evaluate(
        read_json(&dir.join("request.json")),
        read_json(&dir.join("settings.json")),
        Some(session),
    )
}

/// Checks one fixture against its expected.json.
fn check_fixture(name: &str) {
    let expected = read_json(&fixtures_dir().join(name).join("expected.json"));
    let outcome = run_fixture(name);
    let context = format!("case {name} ({})", expected["description"].as_str().unwrap_or_default());

    if expected.get("settingsValid") == Some(&json!(false)) {
        assert!(!outcome.settings_validation.valid, "{context}: settings accepted");
        assert!(
            outcome.response.is_none(),
            "{context}: validate ran with refused settings"
        );
        let message = outcome.settings_validation.message.clone().unwrap_or_default();
        let wanted = expected["settingsMessageContains"].as_str().unwrap();
        assert!(
            message.contains(wanted),
            "{context}: settings message {message:?} lacks {wanted:?}"
        );
        return;
    }
    assert!(
        outcome.settings_validation.valid,
        "{context}: settings refused: {:?}",
        outcome.settings_validation.message
    );

    // The host calls: exactly the session, in order, nothing else.
    let replay = outcome.replay.as_ref().expect("a session was given");
    assert!(
        replay.errors().is_empty(),
        "{context}: replay errors {:#?}",
        replay.errors()
    );
    assert!(
        replay.fully_consumed(),
        "{context}: {} of {} exchanges consumed",
        replay.consumed,
        replay.total
    );
    let calls: Vec<_> = outcome.capability_calls().collect();
    assert_eq!(
        calls.len(),
        expected["hostCalls"].as_u64().unwrap() as usize,
        "{context}: host calls {calls:#?}"
    );
    assert!(
        calls.iter().all(|c| c.path() == "kubewarden/kubernetes/get_resource"),
        "{context}: {calls:#?}"
    );

    let response = outcome.response.as_ref().expect("a response");
    let policy_response = outcome.policy_response.as_ref().expect("the policy answered");
    assert_eq!(
        response.allowed,
        expected["allowed"].as_bool().unwrap(),
        "{context}: {policy_response:#?}"
    );
    if let Some(code) = expected.get("code") {
        assert_eq!(
            policy_response.code.map(u64::from),
            code.as_u64(),
            "{context}: {policy_response:#?}"
        );
    }
    let message = policy_response.message.clone().unwrap_or_default();
    if let Some(wanted) = expected.get("message") {
        assert_eq!(message, wanted.as_str().unwrap(), "{context}");
    }
    if let Some(wanted) = expected.get("messageContains") {
        assert!(
            message.contains(wanted.as_str().unwrap()),
            "{context}: message {message:?}"
        );
    }
    if response.allowed {
        assert!(
            policy_response.message.is_none(),
            "{context}: accepted with message {message:?}"
        );
    }

    let patched = expected["patched"].as_bool().unwrap();
    assert_eq!(
        outcome.patch.is_some(),
        patched,
        "{context}: patch {:#?}",
        outcome.patch
    );
    if patched {
        assert!(!outcome.patch.as_ref().unwrap().0.is_empty(), "{context}: empty patch");
    } else {
        assert!(
            policy_response.mutated_object.is_none(),
            "{context}: a mutated object that equals the request (no-op mutation)"
        );
    }
    let object = outcome.patched_object.as_ref().or(outcome.request_object.as_ref());
    for (pointer, value) in expected.get("object").and_then(Value::as_object).into_iter().flatten() {
        let found = object.and_then(|o| o.pointer(pointer));
        assert_eq!(
            found,
            Some(value),
            "{context}: {pointer} in {:#}",
            object.cloned().unwrap_or_default()
        );
    }
    for pointer in expected.get("absent").and_then(Value::as_array).into_iter().flatten() {
        let pointer = pointer.as_str().unwrap();
        assert!(
            object.and_then(|o| o.pointer(pointer)).is_none(),
            "{context}: {pointer} still present in {:#}",
            object.cloned().unwrap_or_default()
        );
    }
    let warnings = response.warnings.clone().unwrap_or_default();
    let wanted_warnings: Vec<&str> = expected
        .get("warningsContain")
        .and_then(Value::as_array)
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for wanted in &wanted_warnings {
        assert!(
            warnings.iter().any(|w| w.contains(wanted)),
            "{context}: warnings {warnings:?} lack {wanted:?}"
        );
    }
    if wanted_warnings.is_empty() {
        assert!(warnings.is_empty(), "{context}: unexpected warnings {warnings:?}");
    }
}

macro_rules! fixture_tests {
    ($($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_fixture($case);
            }
        )*

        /// Every fixture directory has a test above, and every test a directory.
        #[test]
        fn every_fixture_has_a_test() {
            let listed: BTreeSet<&str> = [$($case),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
                .unwrap()
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.path().join("expected.json").is_file())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
            assert_eq!(listed, on_disk, "fixture directories and tests differ");
        }
    };
}

fixture_tests! {
    flavor_demo => "flavor-demo",
    u1_medium_fedora => "u1-medium-fedora",
    cx1_large_rhel9 => "cx1-large-rhel9",
    o1_large_windows11 => "o1-large-windows11",
    u1_micro_windows11_requirements => "u1-micro-windows11-requirements",
    preference_only_fedora => "preference-only-fedora",
    preference_only_fedora_too_small => "preference-only-fedora-too-small",
    no_matchers => "no-matchers",
    conflict_expand => "conflict-expand",
    namespaced_instancetype_and_preference => "namespaced-instancetype-and-preference",
    spread_not_divisible => "spread-not-divisible",
    cluster_options => "cluster-options",
    no_vmi_defaults => "no-vmi-defaults",
    validate_mode_accepts_without_patch => "validate-mode-accepts-without-patch",
    validate_mode_conflict => "validate-mode-conflict",
    validate_mode_requirements => "validate-mode-requirements",
    matcher_name_and_infer => "matcher-name-and-infer",
    matcher_without_name => "matcher-without-name",
    matcher_unexpected_kind => "matcher-unexpected-kind",
    governance_require_instancetype => "governance-require-instancetype",
    governance_instancetype_not_allowed => "governance-instancetype-not-allowed",
    governance_preference_not_allowed => "governance-preference-not-allowed",
    governance_allowed => "governance-allowed",
    governance_inline_resources => "governance-inline-resources",
    missing_instancetype => "missing-instancetype",
    missing_instancetype_allowed => "missing-instancetype-allowed",
    missing_instancetype_allowed_requirements => "missing-instancetype-allowed-requirements",
    missing_preference => "missing-preference",
    missing_preference_allowed_validate_mode => "missing-preference-allowed-validate-mode",
    host_error => "host-error",
    revision_v1beta1 => "revision-v1beta1",
    revision_v1alpha1 => "revision-v1alpha1",
    revision_legacy_wrapper => "revision-legacy-wrapper",
    revision_missing => "revision-missing",
    revision_wrong_type => "revision-wrong-type",
    infer_pvc => "infer-pvc",
    infer_pvc_validate_mode => "infer-pvc-validate-mode",
    infer_pvc_validate_mode_requirements => "infer-pvc-validate-mode-requirements",
    infer_datavolume_datasource => "infer-datavolume-datasource",
    infer_datasource_cross_namespace_denied => "infer-datasource-cross-namespace-denied",
    infer_datasource_cross_namespace_allowed => "infer-datasource-cross-namespace-allowed",
    infer_datavolume_template => "infer-datavolume-template",
    infer_missing_label_reject => "infer-missing-label-reject",
    infer_missing_label_ignore => "infer-missing-label-ignore",
    infer_missing_pvc => "infer-missing-pvc",
    infer_ignore_policy_success => "infer-ignore-policy-success",
    object_instancetype_overcommit => "object-instancetype-overcommit",
    object_instancetype_overcommit_hugepages => "object-instancetype-overcommit-hugepages",
    object_instancetype_launchsecurity_warning => "object-instancetype-launchsecurity-warning",
    object_common_instancetype => "object-common-instancetype",
    object_common_preference => "object-common-preference",
    object_preference_unknown_topology => "object-preference-unknown-topology",
    object_preference_spread_ratio => "object-preference-spread-ratio",
    object_preference_spread_ratio_zero => "object-preference-spread-ratio-zero",
    object_preference_v1alpha2_deprecated_topology => "object-preference-v1alpha2-deprecated-topology",
    object_flavor_v1alpha1 => "object-flavor-v1alpha1",
    update_expanded_vm => "update-expanded-vm",
    update_expanded_vm_governance => "update-expanded-vm-governance",
    update_expanded_vm_governance_resize => "update-expanded-vm-governance-resize",
    update_captured_revisions => "update-captured-revisions",
    update_name_without_revision => "update-name-without-revision",
    update_while_deleting => "update-while-deleting",
    other_kind_pod => "other-kind-pod",
    delete_vm => "delete-vm",
    vm_status_subresource => "vm-status-subresource",
    malformed_matcher => "malformed-matcher",
    vm_without_namespace => "vm-without-namespace",
    bad_settings_unknown_key => "bad-settings-unknown-key",
    bad_settings_mode => "bad-settings-mode",
    bad_settings_architecture => "bad-settings-architecture",
    bad_settings_allow_list_kind => "bad-settings-allow-list-kind",
}

// ---- beyond the fixtures ----

/// The VM a CREATE produced is what an UPDATE then sends: accepted with no patch and no lookup.
#[test]
fn the_expanded_vm_of_a_create_passes_its_update_untouched() {
    let created = run_fixture("u1-medium-fedora");
    let expanded = created.patched_object.expect("expanded");
    let mut review = read_json(&fixtures_dir().join("u1-medium-fedora/request.json"));
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["object"] = expanded.clone();
    review["request"]["oldObject"] = expanded;
    let outcome = evaluate(review, json!({}), Some(Session::from_yaml_str("[]", "empty").unwrap()));
    assert!(outcome.response.as_ref().expect("response").allowed);
    assert!(outcome.patch.is_none());
    assert_eq!(outcome.capability_calls().count(), 0);
}

/// The same request in both modes: expand mutates, validate does not; the lookups are the same.
#[test]
fn both_modes_make_the_same_lookups() {
    let dir = fixtures_dir().join("u1-medium-fedora");
    let session = || Some(Session::from_path(&dir.join("session.yml")).unwrap());
    let request = read_json(&dir.join("request.json"));
    let expand = evaluate(request.clone(), json!({"mode": "expand"}), session());
    let validate = evaluate(request, json!({"mode": "validate"}), session());
    assert!(expand.patch.is_some());
    assert!(validate.patch.is_none());
    let payloads = |o: &RunOutcome| o.capability_calls().map(|c| c.payload.clone()).collect::<Vec<_>>();
    assert_eq!(payloads(&expand), payloads(&validate));
    assert_eq!(
        payloads(&expand)
            .first()
            .map(|p| serde_json::from_str::<Value>(p).unwrap()),
        Some(
            json!({"api_version": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
                    "name": "u1.medium", "namespace": null, "disable_cache": false, "field_masks": null})
        )
    );
}

/// Without the metadata's contextAwareResources the host refuses every lookup: the policy rejects with the
/// host's reason instead of trapping.
#[test]
fn a_refused_lookup_is_a_clear_rejection() {
    let dir = fixtures_dir().join("u1-medium-fedora");
    let outcome = policy()
        .run(RunConfig {
            request: read_json(&dir.join("request.json")),
            request_source: "request.json".to_owned(),
            settings: Map::new(),
            allow_context_aware: false,
            metadata_override: Some(metadata()),
            session: Some(Session::from_path(&dir.join("session.yml")).unwrap()),
            timeout: None,
            echo_policy_logs: false,
        })
        .unwrap();
    let policy_response = outcome.policy_response.expect("answered");
    assert!(!policy_response.accepted);
    let message = policy_response.message.unwrap();
    assert!(
        message.starts_with("Failure to find instancetype: failed to get VirtualMachineClusterInstancetype u1.medium:"),
        "{message}"
    );
}

/// A lookup the session does not expect (a policy whose order changed) is reported, not a trap.
#[test]
fn an_out_of_order_session_is_reported_as_a_rejection() {
    let dir = fixtures_dir().join("u1-medium-fedora");
    let text = std::fs::read_to_string(dir.join("session.yml")).unwrap();
    let exchanges: Vec<&str> = text.split("- type: Exchange\n").filter(|s| !s.is_empty()).collect();
    let swapped = format!("- type: Exchange\n{}- type: Exchange\n{}", exchanges[1], exchanges[0]);
    let outcome = evaluate(
        read_json(&dir.join("request.json")),
        json!({}),
        Some(Session::from_yaml_str(&swapped, "swapped").unwrap()),
    );
    assert_eq!(outcome.replay.as_ref().unwrap().errors().len(), 1);
    let policy_response = outcome.policy_response.expect("answered");
    assert!(!policy_response.accepted);
    assert!(
        policy_response
            .message
            .unwrap()
            .contains("Replay error: unexpected request")
    );
}

/// Requests the policy cannot read are rejected with a message, never a trap or an internal error.
#[test]
fn malformed_requests_are_rejected_not_trapped() {
    let mut review = read_json(&fixtures_dir().join("no-matchers/request.json"));
    review["request"]["object"]["spec"] = json!("not an object");
    let outcome = evaluate(review, json!({}), None);
    let policy_response = outcome.policy_response.expect("answered");
    assert!(!policy_response.accepted);
    assert_eq!(policy_response.code, Some(400));
    assert!(policy_response.message.unwrap().contains("spec"));
}
