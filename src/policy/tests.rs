//! Native tests of the policy face: routing, settings messages, host error mapping, responses.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::host::{GetResource, Host, HostSource, lookup_error};
use super::response::{PolicyResponse, SettingsResponse};
use super::*;
use crate::engine::lookup::{LookupError, ObjectRef, ResourceKind};

/// A fake Kubewarden host: objects by (kind, namespace, name), errors by name, and a log of calls.
#[derive(Default)]
struct FakeHost {
    objects: BTreeMap<(String, Option<String>, String), Value>,
    errors: BTreeMap<String, String>,
    calls: RefCell<Vec<GetResource>>,
}

impl FakeHost {
    fn with(mut self, object: Value) -> Self {
        let kind = object["kind"].as_str().unwrap().to_owned();
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_owned);
        self.objects.insert((kind, namespace, name), object);
        self
    }

    fn failing(mut self, name: &str, message: &str) -> Self {
        self.errors.insert(name.to_owned(), message.to_owned());
        self
    }

    fn calls(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(|call| {
                format!(
                    "{} {} {} {:?} {}",
                    call.api_version, call.kind, call.name, call.namespace, call.disable_cache
                )
            })
            .collect()
    }
}

impl Host for &FakeHost {
    fn get_resource(&self, request: &GetResource) -> Result<String, String> {
        self.calls.borrow_mut().push(request.clone());
        if let Some(message) = self.errors.get(&request.name) {
            return Err(message.clone());
        }
        let key = (request.kind.clone(), request.namespace.clone(), request.name.clone());
        self.objects.get(&key).map(Value::to_string).ok_or_else(|| {
            format!(
                "Cannot find {}/{} named '{}' inside of namespace '{:?}'",
                request.api_version, request.kind, request.name, request.namespace
            )
        })
    }
}

fn cluster_instancetype(name: &str, cpus: u32, memory: &str) -> Value {
    json!({
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineClusterInstancetype",
        "metadata": {"name": name},
        "spec": {"cpu": {"guest": cpus}, "memory": {"guest": memory}}
    })
}

fn cluster_preference(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineClusterPreference",
        "metadata": {"name": name},
        "spec": spec
    })
}

fn host() -> FakeHost {
    FakeHost::default()
        .with(cluster_instancetype("u1.medium", 1, "4Gi"))
        .with(cluster_preference(
            "fedora",
            json!({"devices": {"preferredDiskBus": "virtio"}}),
        ))
}

fn vm(instancetype: Option<&str>, preference: Option<&str>) -> Value {
    let mut vm = json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm1"},
        "spec": {
            "runStrategy": "Halted",
            "template": {"spec": {
                "domain": {"devices": {}},
                "volumes": [{"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}]
            }}
        }
    });
    if let Some(name) = instancetype {
        vm["spec"]["instancetype"] = json!({"name": name});
    }
    if let Some(name) = preference {
        vm["spec"]["preference"] = json!({"name": name});
    }
    vm
}

fn admission(group: &str, version: &str, kind: &str, operation: &str, object: Value) -> Value {
    json!({
        "uid": "1299d386-525b-4032-98ae-1949f69f9cfc",
        "kind": {"group": group, "version": version, "kind": kind},
        "operation": operation,
        "namespace": "vms",
        "object": object,
        "oldObject": null
    })
}

fn payload(request: Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap()
}

fn run(request: Value, settings: Value, host: &FakeHost) -> PolicyResponse {
    validate(&payload(request, settings), &HostSource::new(host))
}

fn vm_request(operation: &str, object: Value) -> Value {
    admission("kubevirt.io", "v1", "VirtualMachine", operation, object)
}

// ---- routing ----

#[test]
fn routes_by_group_kind_and_known_versions() {
    let gvk = |group: &str, version: &str, kind: &str| GroupVersionKind {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
    };
    assert_eq!(
        route(&gvk("kubevirt.io", "v1", "VirtualMachine")),
        Route::VirtualMachine
    );
    assert_eq!(route(&gvk("kubevirt.io", "v1", "VirtualMachineInstance")), Route::Other);
    for kind in INSTANCETYPE_KINDS {
        for version in ["v1beta1", "v1alpha2", "v1alpha1"] {
            assert_eq!(
                route(&gvk("instancetype.kubevirt.io", version, kind)),
                Route::InstancetypeObject
            );
        }
        assert_eq!(
            route(&gvk("instancetype.kubevirt.io", "v1", kind)),
            Route::UnknownInstancetypeVersion
        );
    }
    for kind in FLAVOR_KINDS {
        assert_eq!(
            route(&gvk("flavor.kubevirt.io", "v1alpha1", kind)),
            Route::InstancetypeObject
        );
    }
    assert_eq!(
        route(&gvk("instancetype.kubevirt.io", "v1beta1", "VirtualMachineFlavor")),
        Route::Other
    );
    assert_eq!(route(&gvk("", "v1", "Pod")), Route::Other);
    assert_eq!(route(&gvk("apps", "v1", "ControllerRevision")), Route::Other);
}

#[test]
fn other_kinds_delete_and_subresources_are_accepted_without_lookups() {
    let host = host();
    let pod = admission("", "v1", "Pod", "CREATE", json!({"apiVersion": "v1", "kind": "Pod"}));
    assert_eq!(run(pod, json!({}), &host), PolicyResponse::accept(Vec::new()));

    let mut delete = vm_request("DELETE", Value::Null);
    delete["oldObject"] = vm(Some("missing"), None);
    assert_eq!(run(delete, json!({}), &host), PolicyResponse::accept(Vec::new()));

    let mut status = vm_request("UPDATE", vm(Some("missing"), None));
    status["subResource"] = json!("status");
    assert_eq!(run(status, json!({}), &host), PolicyResponse::accept(Vec::new()));
    assert!(host.calls().is_empty());
}

#[test]
fn a_vm_without_matchers_is_accepted_unchanged() {
    let host = host();
    let response = run(vm_request("CREATE", vm(None, None)), json!({}), &host);
    assert_eq!(response, PolicyResponse::accept(Vec::new()));
    assert!(host.calls().is_empty());
}

// ---- VM review through the host ----

#[test]
fn expand_mode_returns_the_expanded_vm_after_instancetype_then_preference_lookups() {
    let host = host();
    let response = run(
        vm_request("CREATE", vm(Some("u1.medium"), Some("fedora"))),
        json!({}),
        &host,
    );
    assert!(response.accepted, "{response:?}");
    let expanded = response.mutated_object.expect("mutated");
    assert!(expanded["spec"].get("instancetype").is_none());
    assert!(expanded["spec"].get("preference").is_none());
    assert_eq!(
        expanded["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"],
        json!(1)
    );
    assert_eq!(
        expanded["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        json!("4Gi")
    );
    assert_eq!(
        host.calls(),
        [
            "instancetype.kubevirt.io/v1beta1 VirtualMachineClusterInstancetype u1.medium None false",
            "instancetype.kubevirt.io/v1beta1 VirtualMachineClusterPreference fedora None false",
        ]
    );
}

#[test]
fn namespaced_kinds_are_looked_up_in_the_request_namespace() {
    let host = FakeHost::default().with(json!({
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineInstancetype",
        "metadata": {"name": "small", "namespace": "vms"},
        "spec": {"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}}
    }));
    let mut object = vm(None, None);
    object["spec"]["instancetype"] = json!({"name": "small", "kind": "VirtualMachineInstancetype"});
    let response = run(vm_request("CREATE", object), json!({}), &host);
    assert!(response.mutated_object.is_some(), "{response:?}");
    assert_eq!(
        host.calls(),
        ["instancetype.kubevirt.io/v1beta1 VirtualMachineInstancetype small Some(\"vms\") false"]
    );
}

#[test]
fn validate_mode_never_mutates() {
    let host = host();
    let response = run(
        vm_request("CREATE", vm(Some("u1.medium"), Some("fedora"))),
        json!({"mode": "validate"}),
        &host,
    );
    assert_eq!(response, PolicyResponse::accept(Vec::new()));
    assert_eq!(host.calls().len(), 2);
}

#[test]
fn conflicts_reject_with_kubevirt_message() {
    let host = host();
    let mut object = vm(Some("u1.medium"), None);
    object["spec"]["template"]["spec"]["domain"]["cpu"] = json!({"sockets": 2});
    let response = run(vm_request("CREATE", object), json!({}), &host);
    assert!(!response.accepted);
    assert_eq!(response.code, Some(422));
    assert_eq!(
        response.message.as_deref(),
        Some("VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type")
    );
}

#[test]
fn a_missing_instancetype_rejects_before_the_preference_is_looked_up() {
    let host = host();
    let response = run(vm_request("CREATE", vm(Some("nope"), Some("fedora"))), json!({}), &host);
    assert!(!response.accepted);
    assert_eq!(
        response.message.as_deref(),
        Some(
            "Failure to find instancetype: virtualmachineclusterinstancetypes.instancetype.kubevirt.io \"nope\" not found"
        )
    );
    assert_eq!(host.calls().len(), 1);
}

#[test]
fn allow_missing_objects_admits_with_a_warning() {
    let host = host();
    let response = run(
        vm_request("CREATE", vm(Some("nope"), Some("fedora"))),
        json!({"allowMissingObjects": true}),
        &host,
    );
    assert!(response.accepted, "{response:?}");
    let warnings = response.warnings.expect("warnings");
    assert!(warnings[0].contains("ignoring missing instancetype"), "{warnings:?}");
    assert_eq!(host.calls().len(), 2);
}

#[test]
fn allow_missing_objects_still_judges_a_found_preference_requirements() {
    // KubeVirt >= 1.6 checks what it found: with the instancetype missing, the preference's
    // requirements are judged against the VM's own sizing (one vCPU by default).
    let host = FakeHost::default().with(cluster_preference(
        "big",
        json!({"requirements": {"cpu": {"guest": 2}}}),
    ));
    let response = run(
        vm_request("CREATE", vm(Some("nope"), Some("big"))),
        json!({"allowMissingObjects": true}),
        &host,
    );
    assert!(!response.accepted, "{response:?}");
    let message = response.message.unwrap_or_default();
    assert!(
        message.starts_with("failure checking preference requirements: "),
        "{message}"
    );
}

#[test]
fn other_host_errors_reject_naming_the_object_even_with_allow_missing_objects() {
    let host = host().failing("u1.medium", "Host error: the server is unreachable");
    let response = run(
        vm_request("CREATE", vm(Some("u1.medium"), None)),
        json!({"allowMissingObjects": true}),
        &host,
    );
    assert!(!response.accepted);
    assert_eq!(
        response.message.as_deref(),
        Some(
            "Failure to find instancetype: failed to get VirtualMachineClusterInstancetype u1.medium: Host error: the \
             server is unreachable"
        )
    );
}

#[test]
fn governance_rejections_name_the_rule_and_field() {
    let host = host();
    let response = run(
        vm_request("CREATE", vm(None, Some("fedora"))),
        json!({"requireInstancetype": true}),
        &host,
    );
    assert_eq!(
        response.message.as_deref(),
        Some("the VirtualMachine must reference an instancetype (rule requireInstancetype)")
    );
    assert!(host.calls().is_empty(), "governance runs before lookups");
}

#[test]
fn update_of_an_already_expanded_vm_is_accepted_without_patch() {
    let host = host();
    let first = run(
        vm_request("CREATE", vm(Some("u1.medium"), Some("fedora"))),
        json!({}),
        &host,
    );
    let expanded = first.mutated_object.expect("mutated");
    let mut update = vm_request("UPDATE", expanded.clone());
    update["oldObject"] = expanded;
    assert_eq!(run(update, json!({}), &host), PolicyResponse::accept(Vec::new()));
}

#[test]
fn governance_on_update_judges_only_what_the_update_changes() {
    // The settings of the documented example: expand, and size VMs only through instancetypes.
    let settings = json!({"requireInstancetype": true, "forbidInlineResourcesWithoutInstancetype": true});
    let host = host();
    let created = run(
        vm_request("CREATE", vm(Some("u1.medium"), Some("fedora"))),
        settings.clone(),
        &host,
    );
    let expanded = created.mutated_object.expect("mutated");
    // KubeVirt's controller then adds its finalizer: the expanded VM (no matchers, sizing inline) is
    // updated without touching what the rules are about.
    let update = |object: Value| {
        let mut update = vm_request("UPDATE", object);
        update["oldObject"] = expanded.clone();
        update
    };
    let mut finalized = expanded.clone();
    finalized["metadata"]["finalizers"] = json!(["kubevirt.io/virtualMachineControllerFinalize"]);
    assert_eq!(
        run(update(finalized), settings.clone(), &host),
        PolicyResponse::accept(Vec::new())
    );
    // Resizing it inline is what the rule forbids: only the changed field is named.
    let mut resized = expanded.clone();
    resized["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"] = json!(4);
    assert_eq!(
        run(update(resized), settings.clone(), &host).message.as_deref(),
        Some(
            "spec.template.spec.domain.cpu.sockets may not be set on a VirtualMachine without an instancetype \
             (rule forbidInlineResourcesWithoutInstancetype)"
        )
    );
    // The same rules on CREATE judge the whole VM.
    let response = run(vm_request("CREATE", expanded), settings, &host);
    assert!(
        response
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("the VirtualMachine must reference an instancetype")),
        "{response:?}"
    );
}

#[test]
fn expand_mode_only_validates_a_vm_whose_objects_are_captured_in_revisions() {
    // As KubeVirt's `referencePolicy: expand`: a VM whose instancetype is already captured in a
    // ControllerRevision is left as it is (expanding it at some later UPDATE would rewrite a running
    // VM's template and orphan its revisions), but still validated against the revision.
    let revision = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": "vm1-u1.medium-v1beta1-uid-1",
            "namespace": "vms",
            "labels": {"instancetype.kubevirt.io/object-name": "u1.medium"}
        },
        "data": cluster_instancetype("u1.medium", 2, "2Gi")
    });
    // The cluster holds the revision only: a lookup of the live object would fail.
    let host = FakeHost::default().with(revision.clone());
    let mut captured = vm(Some("u1.medium"), None);
    captured["status"] = json!({"instancetypeRef": {
        "name": "u1.medium", "kind": "VirtualMachineClusterInstancetype",
        "controllerRevisionRef": {"name": "vm1-u1.medium-v1beta1-uid-1"}
    }});
    let update = |object: Value| {
        let mut update = vm_request("UPDATE", object);
        update["oldObject"] = captured.clone();
        update
    };
    let mut labelled = captured.clone();
    labelled["metadata"]["labels"] = json!({"team": "a"});
    assert_eq!(
        run(update(labelled), json!({}), &host),
        PolicyResponse::accept(Vec::new())
    );
    assert_eq!(
        host.calls(),
        ["apps/v1 ControllerRevision vm1-u1.medium-v1beta1-uid-1 Some(\"vms\") false"]
    );
    let mut conflicting = captured.clone();
    conflicting["spec"]["template"]["spec"]["domain"]["cpu"] = json!({"sockets": 4});
    assert_eq!(
        run(update(conflicting), json!({}), &host).message.as_deref(),
        Some("VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type")
    );
    // Without the captured revision the same update is expanded (with the live object).
    let host = self::host().with(revision);
    let mut uncaptured = captured.clone();
    uncaptured.as_object_mut().unwrap().remove("status");
    let mut request = vm_request("UPDATE", uncaptured.clone());
    request["oldObject"] = uncaptured;
    assert!(run(request, json!({}), &host).mutated_object.is_some());
    // What counts is the stored VM's status: a CREATE carrying one (which the API server drops) is
    // expanded, here from the revision its status names.
    let expanded = run(vm_request("CREATE", captured), json!({}), &host).mutated_object;
    assert_eq!(
        expanded.expect("expanded")["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        json!("2Gi")
    );
}

#[test]
fn updates_of_a_vm_being_deleted_are_never_blocked() {
    let host = host();
    let mut object = vm(Some("gone"), None);
    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let mut update = vm_request("UPDATE", object.clone());
    update["oldObject"] = object;
    assert_eq!(run(update, json!({}), &host), PolicyResponse::accept(Vec::new()));
    assert!(host.calls().is_empty());
}

#[test]
fn the_object_namespace_is_used_when_the_request_has_none() {
    let host = FakeHost::default();
    let mut object = vm(None, None);
    object["spec"]["instancetype"] = json!({"name": "x", "kind": "VirtualMachineInstancetype"});
    object["metadata"]["namespace"] = json!("fromobject");
    let mut request = vm_request("CREATE", object.clone());
    request.as_object_mut().unwrap().remove("namespace");
    let _ = run(request, json!({}), &host);
    assert_eq!(
        host.calls(),
        ["instancetype.kubevirt.io/v1beta1 VirtualMachineInstancetype x Some(\"fromobject\") false"]
    );

    object["metadata"].as_object_mut().unwrap().remove("namespace");
    let mut request = vm_request("CREATE", object);
    request["namespace"] = json!("");
    let response = run(request, json!({}), &host);
    assert_eq!(response.code, Some(400));
    assert!(response.message.unwrap().contains("without a namespace"));
}

// ---- instancetype/preference objects ----

#[test]
fn instancetype_objects_are_validated_with_kubevirt_messages_and_warnings() {
    let host = FakeHost::default();
    let mut bad = cluster_instancetype("bad", 1, "1Gi");
    bad["spec"]["memory"]["overcommitPercent"] = json!(150);
    let request = admission(
        "instancetype.kubevirt.io",
        "v1beta1",
        "VirtualMachineClusterInstancetype",
        "CREATE",
        bad,
    );
    let response = run(request, json!({}), &host);
    assert!(!response.accepted);
    assert_eq!(response.code, Some(422));
    assert_eq!(
        response.message.as_deref(),
        Some("spec.memory.overcommitPercent '150': must be in range between 0 and 100.")
    );

    let mut warned = cluster_instancetype("sev", 1, "1Gi");
    warned["spec"]["launchSecurity"] = json!({"sev": {}});
    let request = admission(
        "instancetype.kubevirt.io",
        "v1beta1",
        "VirtualMachineClusterInstancetype",
        "UPDATE",
        warned,
    );
    let response = run(request, json!({}), &host);
    assert_eq!(
        response,
        PolicyResponse::accept(vec![
            "launchSecurity is deprecated and will be removed in a future release. Use preference instead.".into()
        ])
    );
    assert!(host.calls().is_empty());
}

#[test]
fn preference_objects_of_legacy_versions_are_validated() {
    let preference = json!({
        "apiVersion": "instancetype.kubevirt.io/v1alpha2",
        "kind": "VirtualMachinePreference",
        "metadata": {"name": "p", "namespace": "vms"},
        "spec": {"cpu": {"preferredCPUTopology": "preferDiagonal"}}
    });
    let request = admission(
        "instancetype.kubevirt.io",
        "v1alpha2",
        "VirtualMachinePreference",
        "CREATE",
        preference,
    );
    let response = run(request, json!({}), &FakeHost::default());
    assert_eq!(
        response.message.as_deref(),
        Some("unknown preferredCPUTopology preferDiagonal")
    );
}

#[test]
fn unknown_instancetype_versions_are_admitted_with_a_warning() {
    let object = json!({"apiVersion": "instancetype.kubevirt.io/v2", "kind": "VirtualMachinePreference",
        "metadata": {"name": "p"}, "spec": {"anything": true}});
    let request = admission(
        "instancetype.kubevirt.io",
        "v2",
        "VirtualMachinePreference",
        "CREATE",
        object,
    );
    let response = run(request, json!({}), &FakeHost::default());
    assert!(response.accepted);
    assert_eq!(
        response.warnings,
        Some(vec![
            "VirtualMachinePreference \"p\" is not validated: this policy does not know API version \
             instancetype.kubevirt.io/v2"
                .into()
        ])
    );
}

#[test]
fn instancetype_objects_without_apiversion_take_it_from_the_request() {
    let object = json!({"metadata": {"name": "p"}, "spec": {"cpu": {"preferredCPUTopology": "spread",
        "spreadOptions": {"across": "CoresThreads", "ratio": 3}}}});
    let request = admission(
        "instancetype.kubevirt.io",
        "v1beta1",
        "VirtualMachineClusterPreference",
        "CREATE",
        object,
    );
    let response = run(request, json!({}), &FakeHost::default());
    assert_eq!(
        response.message.as_deref(),
        Some("only a ratio of 2 (1 core 2 threads) is allowed when spreading vCPUs over cores and threads")
    );
}

// ---- malformed requests ----

#[test]
fn malformed_payloads_are_rejected_with_the_problem_named() {
    let host = FakeHost::default();
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "malformed ValidationRequest: expected ident"),
        (b"{}", "malformed ValidationRequest: missing field `request`"),
        (
            br#"{"request": {"operation": "CREATE"}}"#,
            "malformed ValidationRequest: request: missing field `kind`",
        ),
        (
            br#"{"request": {"kind": {"group": "kubevirt.io"}, "operation": "CREATE"}}"#,
            "malformed ValidationRequest: request.kind: missing field `kind`",
        ),
        (
            br#"{"request": {"kind": {"kind": "VirtualMachine"}, "operation": 3}}"#,
            "malformed ValidationRequest: request.operation: invalid type: integer `3`, expected a string",
        ),
    ];
    for (payload, message) in cases {
        let response = validate(payload, &HostSource::new(&host));
        assert!(!response.accepted);
        assert_eq!(response.code, Some(400));
        let got = response.message.unwrap();
        let without_position = got.split(" at line ").next().unwrap();
        assert_eq!(without_position, message, "{got}");
    }
}

#[test]
fn a_vm_that_is_not_an_object_is_rejected() {
    let response = run(vm_request("CREATE", json!("vm")), json!({}), &FakeHost::default());
    assert_eq!(
        response,
        PolicyResponse::reject(
            "malformed request: the VirtualMachine object is not a JSON object",
            400,
            Vec::new()
        )
    );
}

#[test]
fn bad_settings_in_a_validate_call_reject_the_request() {
    let response = run(
        vm_request("CREATE", vm(None, None)),
        json!({"mode": "mutate"}),
        &FakeHost::default(),
    );
    assert!(!response.accepted);
    let message = response.message.unwrap();
    assert!(
        message.starts_with("invalid settings: mode: unknown variant `mutate`"),
        "{message}"
    );
}

// ---- settings ----

fn settings_message(settings: &str) -> Option<String> {
    validate_settings(settings.as_bytes()).message
}

#[test]
fn settings_defaults_and_valid_values() {
    assert_eq!(
        validate_settings(b"{}"),
        SettingsResponse {
            valid: true,
            message: None
        }
    );
    assert_eq!(
        validate_settings(b"null"),
        SettingsResponse {
            valid: true,
            message: None
        }
    );
    let all = json!({
        "mode": "validate",
        "allowMissingObjects": true,
        "allowCrossNamespaceInference": true,
        "vmiDefaults": false,
        "cluster": {"defaultNetworkInterface": "masquerade", "permitBridgeInterfaceOnPodNetwork": false,
                    "defaultArchitecture": "arm64", "evictionStrategy": "LiveMigrate"},
        "requireInstancetype": true,
        "allowedInstancetypes": [{"kind": "VirtualMachineClusterInstancetype", "name": "u1.*"}],
        "allowedPreferences": [{"name": "fedora"}],
        "forbidInlineResourcesWithoutInstancetype": true
    });
    assert_eq!(
        validate_settings(all.to_string().as_bytes()),
        SettingsResponse {
            valid: true,
            message: None
        }
    );
}

#[test]
fn settings_errors_name_the_bad_key() {
    let cases = [
        (
            "{\"mode\": \"mutate\"}",
            "invalid settings: mode: unknown variant `mutate`, expected `expand` or `validate`",
        ),
        (
            "{\"allowMissingObjects\": \"yes\"}",
            "invalid settings: allowMissingObjects: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "{\"cluster\": {\"defaultArchitecture\": \"x86\"}}",
            "invalid settings: cluster.defaultArchitecture must be amd64, arm64 or s390x, not \"x86\"",
        ),
        (
            "{\"cluster\": {\"evictionStrategy\": \"Never\"}}",
            "invalid settings: cluster.evictionStrategy must be None, LiveMigrate, LiveMigrateIfPossible or External, not \"Never\"",
        ),
        (
            "{\"cluster\": {\"defaultNetworkInterface\": \"slirp\"}}",
            "invalid settings: cluster.defaultNetworkInterface must be bridge or masquerade, not \"slirp\"",
        ),
        (
            "{\"allowedPreferences\": [{\"kind\": \"Pod\", \"name\": \"x\"}]}",
            "invalid settings: allowedPreferences[0].kind \"Pod\" is not a preference kind",
        ),
        (
            "{\"allowedInstancetypes\": [{\"name\": \"\"}]}",
            "invalid settings: allowedInstancetypes[0].name must not be empty",
        ),
        ("[]", "invalid settings: expected an object, found array"),
        (
            "{",
            "invalid settings: not JSON: EOF while parsing an object at line 1 column 1",
        ),
    ];
    for (settings, message) in cases {
        assert_eq!(settings_message(settings).as_deref(), Some(message), "{settings}");
    }
    let unknown = settings_message("{\"mood\": 1}").unwrap();
    assert!(
        unknown.starts_with("invalid settings: mood: unknown field `mood`, expected one of `mode`, "),
        "{unknown}"
    );
    // The governance rules' keys are named like the others, with their paths.
    for (settings, message) in [
        (
            "{\"requireInstancetype\": null}",
            "invalid settings: requireInstancetype: invalid type: null, expected a boolean",
        ),
        (
            "{\"allowedInstancetypes\": [{\"knd\": \"x\", \"name\": \"u1.*\"}]}",
            "invalid settings: allowedInstancetypes[0].knd: unknown field `knd`, expected `kind` or `name`",
        ),
    ] {
        assert_eq!(settings_message(settings).as_deref(), Some(message), "{settings}");
    }
    let nested = settings_message("{\"cluster\": {\"arch\": \"amd64\"}}").unwrap();
    assert!(
        nested.starts_with("invalid settings: cluster.arch: unknown field `arch`, expected one of"),
        "{nested}"
    );
}

// ---- host error mapping ----

#[test]
fn host_errors_map_to_not_found_or_failed() {
    let object = ObjectRef::new(ResourceKind::ClusterInstancetype, None, "u1.medium");
    let not_found = lookup_error(
        &object,
        "Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype named 'u1.medium' inside of \
         namespace 'None'",
    );
    assert_eq!(not_found, LookupError::NotFound(object.clone()));
    assert_eq!(
        not_found.to_string(),
        "virtualmachineclusterinstancetypes.instancetype.kubevirt.io \"u1.medium\" not found"
    );
    // A kind the cluster does not serve (an API group without the v1beta1 kinds) is no missing object.
    let unserved = "Cannot find resource instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype";
    assert!(matches!(lookup_error(&object, unserved), LookupError::Failed { .. }));
    let failed = lookup_error(&object, "forbidden: cannot get resource ");
    assert_eq!(
        failed,
        LookupError::Failed {
            object,
            message: "forbidden: cannot get resource".into()
        }
    );
}

#[test]
fn host_requests_follow_the_replay_contract() {
    let request = GetResource::for_object(&ObjectRef::new(ResourceKind::ClusterPreference, Some("vms"), "fedora"));
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"api_version": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference",
               "name": "fedora", "namespace": null, "disable_cache": false})
    );
    let request = GetResource::for_object(&ObjectRef::new(
        ResourceKind::PersistentVolumeClaim,
        Some("vms"),
        "root",
    ));
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"api_version": "v1", "kind": "PersistentVolumeClaim", "name": "root", "namespace": "vms",
               "disable_cache": false})
    );
}

#[test]
fn host_answers_are_fetched_once_and_specs_decoded_from_their_text() {
    let mut annotated = cluster_instancetype("u1.medium", 2, "4Gi");
    annotated["metadata"]["annotations"] = json!({"description": "a long text\nwith escapes \"and quotes\""});
    let preference = cluster_preference("fedora", json!({"devices": {"preferredDiskBus": "virtio"}}));
    let host = host().with(annotated.clone()).with(preference.clone());
    let source = RecordingSource::new(HostSource::new(&host));
    let it = ObjectRef::new(ResourceKind::ClusterInstancetype, None, "u1.medium");
    let pref = ObjectRef::new(ResourceKind::ClusterPreference, None, "fedora");
    for _ in 0..2 {
        let spec = source.instancetype_spec(&it).unwrap();
        assert_eq!(
            *spec,
            crate::engine::model::legacy::instancetype_spec_from_object(&annotated).unwrap()
        );
        assert_eq!(*source.get_shared(&it).unwrap(), annotated);
        let spec = source.preference_spec(&pref).unwrap();
        assert_eq!(
            *spec,
            crate::engine::model::legacy::preference_spec_from_object(&preference).unwrap()
        );
    }
    assert_eq!(host.calls().len(), 2, "{:?}", host.calls());
    assert_eq!(source.requested(), vec![it.clone(), pref]);
    // Asked as another kind, the text is not taken for that kind's spec: decoding names the mismatch.
    let host = host_with_answer_for("u1.medium", &annotated);
    let wrong = ObjectRef::new(ResourceKind::ClusterPreference, None, "u1.medium");
    let error = RecordingSource::new(HostSource::new(&host))
        .preference_spec(&wrong)
        .unwrap_err();
    let expected = crate::engine::model::legacy::preference_spec_from_object(&annotated).unwrap_err();
    assert_eq!(error, crate::engine::lookup::SpecLookupError::Decode(expected));
}

/// A host answering `object` whatever kind is asked for `name`.
fn host_with_answer_for(name: &str, object: &Value) -> FakeHost {
    let mut host = host();
    for kind in ["VirtualMachineClusterInstancetype", "VirtualMachineClusterPreference"] {
        host.objects
            .insert((kind.to_owned(), None, name.to_owned()), object.clone());
    }
    host
}

#[test]
fn a_host_answer_that_is_not_an_object_is_a_failed_lookup() {
    struct Weird;
    impl Host for Weird {
        fn get_resource(&self, _: &GetResource) -> Result<String, String> {
            Ok("[1, 2]".to_owned())
        }
    }
    let object = ObjectRef::new(ResourceKind::DataSource, Some("vms"), "fedora");
    let error = HostSource::new(Weird).get(&object).unwrap_err();
    assert_eq!(
        error.to_string(),
        "failed to get DataSource vms/fedora: the host answered with something that is not a JSON object"
    );
}

// ---- responses ----

#[test]
fn responses_serialize_like_the_sdk_validation_response() {
    assert_eq!(
        serde_json::to_value(PolicyResponse::accept(Vec::new())).unwrap(),
        json!({"accepted": true, "message": null, "code": null, "mutated_object": null,
               "audit_annotations": null, "warnings": null})
    );
    assert_eq!(
        serde_json::to_value(PolicyResponse::mutate(json!({"a": 1}), vec!["w".into()])).unwrap(),
        json!({"accepted": true, "message": null, "code": null, "mutated_object": {"a": 1},
               "audit_annotations": null, "warnings": ["w"]})
    );
    assert_eq!(
        serde_json::to_value(PolicyResponse::reject("no", 422, Vec::new())).unwrap(),
        json!({"accepted": false, "message": "no", "code": 422, "mutated_object": null,
               "audit_annotations": null, "warnings": null})
    );
    assert_eq!(
        serde_json::to_value(SettingsResponse {
            valid: false,
            message: Some("m".into())
        })
        .unwrap(),
        json!({"valid": false, "message": "m"})
    );
}

// ---- metadata ----

#[test]
fn the_metadata_grants_every_kind_the_engine_reads() {
    let metadata = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policy-metadata.yml")).unwrap();
    for kind in ResourceKind::ALL {
        let entry = format!("- apiVersion: {}\n    kind: {}\n", kind.api_version(), kind.kind());
        assert!(
            metadata.contains(&entry),
            "policy-metadata.yml lacks contextAwareResources entry {kind}"
        );
    }
}
