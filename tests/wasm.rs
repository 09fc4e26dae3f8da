//! The npm face (`src/js`) under wasm-bindgen-test: run in Node and in headless Chromium by
//! `make test-npm` (`cargo test --target wasm32-unknown-unknown --test wasm`, the second time with
//! `WASM_BINDGEN_USE_BROWSER=1`). Calls the exported functions with real JS values and checks what
//! JS sees: plain objects, tagged results, `TypeError` on misuse.

#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use js_sys::{Array, JSON, Object, Reflect};
use kubevirt_instancetype::js;
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const INSTANCETYPES: &str = include_str!("../data/common-instancetypes/common-clusterinstancetypes-bundle.json");
const PREFERENCES: &str = include_str!("../data/common-instancetypes/common-clusterpreferences-bundle.json");

/// A JS value made by `JSON.parse` (as a console would hold it).
fn parse(value: &Value) -> JsValue {
    JSON::parse(&value.to_string()).unwrap()
}

/// A JS result read back as JSON.
fn read(value: &JsValue) -> Value {
    serde_json::from_str(&String::from(JSON::stringify(value).unwrap())).unwrap()
}

fn bundle_object(bundle: &str, name: &str) -> Value {
    let items: Vec<Value> = serde_json::from_str(bundle).unwrap();
    items.into_iter().find(|item| item["metadata"]["name"] == name).unwrap()
}

/// u1.medium and fedora, plus a Pod the engine never reads.
fn objects() -> JsValue {
    parse(&json!([
        bundle_object(INSTANCETYPES, "u1.medium"),
        bundle_object(PREFERENCES, "fedora"),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "not-used"}},
    ]))
}

fn vm(domain: Value) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "preview", "namespace": "default"},
        "spec": {
            "instancetype": {"name": "u1.medium"},
            "preference": {"name": "fedora"},
            "runStrategy": "Halted",
            "template": {"spec": {
                "domain": domain,
                "volumes": [{"name": "rootdisk", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}]
            }}
        }
    })
}

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object()
        && !value.is_instance_of::<js_sys::Map>()
        && JsValue::from(Object::get_prototype_of(value)) == JsValue::from(Object::get_prototype_of(&Object::new()))
}

fn type_error_message(error: JsValue) -> String {
    assert!(
        error.is_instance_of::<js_sys::TypeError>(),
        "expected a TypeError, got {error:?}"
    );
    String::from(error.unchecked_into::<js_sys::Error>().message())
}

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(js::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn expand_applies_instancetype_and_preference() {
    let result = js::expand(parse(&vm(json!({"devices": {}}))), objects(), JsValue::UNDEFINED).unwrap();
    let out = read(&result);
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["changed"], true);
    let domain = &out["vm"]["spec"]["template"]["spec"]["domain"];
    assert_eq!(domain["cpu"]["sockets"], 1);
    assert_eq!(domain["cpu"]["cores"], 1);
    assert_eq!(domain["cpu"]["threads"], 1);
    assert_eq!(domain["memory"]["guest"], "4Gi");
    assert_eq!(domain["devices"]["disks"][0]["disk"]["bus"], "virtio");
    assert_eq!(domain["devices"]["interfaces"][0]["model"], "virtio");
    assert!(out["vm"]["spec"].get("instancetype").is_none(), "matchers are removed");
    let warnings = out["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("objects[2] ignored: unsupported object kind \"Pod\"")
    );
}

#[wasm_bindgen_test]
fn results_are_plain_objects_and_arrays() {
    let result = js::expand(parse(&vm(json!({}))), objects(), JsValue::UNDEFINED).unwrap();
    assert!(is_plain_object(&result));
    let vm = Reflect::get(&result, &"vm".into()).unwrap();
    assert!(is_plain_object(&vm));
    let metadata = Reflect::get(&vm, &"metadata".into()).unwrap();
    assert!(is_plain_object(&metadata));
    let warnings = Reflect::get(&result, &"warnings".into()).unwrap();
    assert!(Array::is_array(&warnings));
    assert_eq!(Reflect::get(&result, &"ok".into()).unwrap(), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn a_vm_without_matchers_comes_back_unchanged() {
    let plain = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "x"},
        "spec": {"template": {"spec": {"domain": {"cpu": {"cores": 3}}}}}});
    let out = read(&js::expand(parse(&plain), parse(&json!([])), JsValue::NULL).unwrap());
    assert_eq!(out, json!({"ok": true, "vm": plain, "changed": false, "warnings": []}));
}

#[wasm_bindgen_test]
fn a_conflict_is_returned_with_its_field() {
    let conflicting = vm(json!({"cpu": {"sockets": 2}}));
    let out = read(&js::expand(parse(&conflicting), objects(), JsValue::UNDEFINED).unwrap());
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["code"], 422);
    assert_eq!(
        out["causes"],
        json!([{"reason": "FieldValueInvalid",
            "message": "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type",
            "field": "spec.template.spec.domain.cpu.sockets"}])
    );
    assert_eq!(out["message"], out["causes"][0]["message"]);
    assert!(out.get("vm").is_none());
    // validate reports the same conflict.
    let validated = read(&js::validate(parse(&conflicting), objects(), JsValue::UNDEFINED).unwrap());
    assert_eq!(validated["causes"], out["causes"]);
}

#[wasm_bindgen_test]
fn validate_never_returns_a_vm() {
    let out = read(&js::validate(parse(&vm(json!({}))), objects(), JsValue::UNDEFINED).unwrap());
    assert_eq!(out["ok"], true);
    assert!(out.get("vm").is_none());
}

#[wasm_bindgen_test]
fn a_failed_requirement_is_returned() {
    let mut instancetype = bundle_object(INSTANCETYPES, "u1.medium");
    instancetype["metadata"]["name"] = json!("tiny");
    instancetype["spec"]["memory"]["guest"] = json!("1Gi");
    let mut machine = vm(json!({}));
    machine["spec"]["instancetype"]["name"] = json!("tiny");
    let objects = parse(&json!([instancetype, bundle_object(PREFERENCES, "fedora")]));
    let out = read(&js::expand(parse(&machine), objects, JsValue::UNDEFINED).unwrap());
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["causes"][0]["field"], "spec.instancetype");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("insufficient Memory resources of 1Gi"),
        "{out}"
    );
}

#[wasm_bindgen_test]
fn missing_objects_reject_unless_allowed() {
    let out = read(&js::expand(parse(&vm(json!({}))), parse(&json!([])), JsValue::UNDEFINED).unwrap());
    assert_eq!(out["ok"], false);
    assert_eq!(out["causes"][0]["reason"], "FieldValueNotFound");
    assert_eq!(out["causes"][0]["field"], "spec.instancetype");
    let allowed = parse(&json!({"allowMissingObjects": true}));
    let out = read(&js::expand(parse(&vm(json!({}))), parse(&json!([])), allowed).unwrap());
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["warnings"].as_array().unwrap().len(), 2, "{out}");
}

#[wasm_bindgen_test]
fn options_are_the_policy_settings() {
    let rules = parse(
        &json!({"mode": "validate", "allowedInstancetypes": [{"name": "cx1.*"}], "cluster": {"defaultArchitecture": "arm64"}}),
    );
    let out = read(&js::expand(parse(&vm(json!({}))), objects(), rules).unwrap());
    assert_eq!(out["ok"], false);
    assert_eq!(out["causes"][0]["reason"], "FieldValueForbidden");
    assert_eq!(out["causes"][0]["field"], "spec.instancetype.name");
}

#[wasm_bindgen_test]
fn validate_object_reports_causes_and_warnings() {
    let good = parse(&bundle_object(INSTANCETYPES, "u1.medium"));
    assert_eq!(
        read(&js::validate_object(good).unwrap()),
        json!({"ok": true, "warnings": []})
    );
    let bad = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachinePreference",
        "metadata": {"name": "p"}, "spec": {"cpu": {"preferredCPUTopology": "bogus"}}});
    let out = read(&js::validate_object(parse(&bad)).unwrap());
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["causes"][0]["field"], "spec.cpu.preferredCPUTopology");
    let warned = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype",
        "metadata": {"name": "t"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}, "launchSecurity": {"sev": {}}}});
    let out = read(&js::validate_object(parse(&warned)).unwrap());
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["warnings"].as_array().unwrap().len(), 1, "{out}");
}

#[wasm_bindgen_test]
fn misuse_throws_type_errors() {
    let message = type_error_message(js::expand(JsValue::NULL, parse(&json!([])), JsValue::UNDEFINED).unwrap_err());
    assert!(
        message.contains("vm must be a VirtualMachine object, not null"),
        "{message}"
    );
    let message = type_error_message(js::expand(parse(&json!([])), parse(&json!([])), JsValue::UNDEFINED).unwrap_err());
    assert!(message.contains("not an array"), "{message}");
    let message =
        type_error_message(js::validate(parse(&vm(json!({}))), JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap_err());
    assert!(message.contains("objects must be an array"), "{message}");
    let message =
        type_error_message(js::expand(parse(&vm(json!({}))), parse(&json!([1])), JsValue::UNDEFINED).unwrap_err());
    assert!(
        message.contains("objects[0] must be a Kubernetes object, not a number"),
        "{message}"
    );
    let message =
        type_error_message(js::expand(parse(&vm(json!({}))), objects(), parse(&json!({"bogus": 1}))).unwrap_err());
    assert!(
        message.contains("invalid options") && message.contains("bogus"),
        "{message}"
    );
    let message = type_error_message(
        js::expand(
            parse(&vm(json!({}))),
            objects(),
            parse(&json!({"cluster": {"defaultArchitecture": "x86"}})),
        )
        .unwrap_err(),
    );
    assert!(
        message.contains("cluster.defaultArchitecture must be amd64, arm64 or s390x"),
        "{message}"
    );
    let message = type_error_message(js::expand(parse(&vm(json!({}))), objects(), JsValue::from(3)).unwrap_err());
    assert!(message.contains("options must be an object"), "{message}");
    let message = type_error_message(js::validate_object(JsValue::from("x")).unwrap_err());
    assert!(
        message.contains("obj must be an instancetype or preference object, not a string"),
        "{message}"
    );
    let function = js_sys::Function::new_no_args("return 1");
    let message = type_error_message(js::validate_object(function.into()).unwrap_err());
    assert!(message.contains("obj is not a JSON-compatible value"), "{message}");
}

/// A namespaced instancetype without a namespace: it lives in the namespace of the VM asked about.
fn namespaced_objects() -> JsValue {
    let mut instancetype = bundle_object(INSTANCETYPES, "u1.medium");
    instancetype["kind"] = json!("VirtualMachineInstancetype");
    instancetype["metadata"] = json!({"name": "team-medium"});
    parse(
        &json!([instancetype, bundle_object(PREFERENCES, "fedora"), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}]),
    )
}

fn vm_in(namespace: &str, domain: Value) -> Value {
    let mut vm = vm(domain);
    vm["metadata"]["namespace"] = json!(namespace);
    vm["spec"]["instancetype"] = json!({"name": "team-medium", "kind": "VirtualMachineInstancetype"});
    vm
}

#[wasm_bindgen_test]
fn prepared_objects_answer_as_the_functions_do() {
    let mut prepared = js::PreparedObjects::new(namespaced_objects()).unwrap();
    // VM after VM, namespace after namespace, passing and failing, expand and validate.
    for (namespace, domain) in [
        ("default", json!({"devices": {}})),
        ("team-a", json!({"devices": {}})),
        ("team-a", json!({"cpu": {"sockets": 2}})),
        ("", json!({})),
        ("team-b", json!({"memory": {"guest": "1Gi"}})),
        ("default", json!({"devices": {}})),
    ] {
        let vm = vm_in(namespace, domain);
        let options = parse(&json!({"vmiDefaults": false}));
        let expected = read(&js::expand(parse(&vm), namespaced_objects(), options.clone()).unwrap());
        let got = read(&prepared.expand(parse(&vm), options.clone()).unwrap());
        assert_eq!(got, expected, "expand, namespace {namespace:?}");
        let expected = read(&js::validate(parse(&vm), namespaced_objects(), JsValue::UNDEFINED).unwrap());
        let got = read(&prepared.validate(parse(&vm), JsValue::UNDEFINED).unwrap());
        assert_eq!(got, expected, "validate, namespace {namespace:?}");
        // The ignored Pod is reported on every call.
        assert_eq!(got["warnings"].as_array().unwrap().len(), 1, "{got}");
    }
    let expanded = read(
        &prepared
            .expand(parse(&vm_in("team-a", json!({}))), JsValue::UNDEFINED)
            .unwrap(),
    );
    assert_eq!(expanded["ok"], true, "{expanded}");
    assert_eq!(
        expanded["vm"]["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        "4Gi"
    );
}

/// `expand` and `validate` keep the objects of the last call: a call whose objects are kept answers
/// as one that reads them anew, VM after VM and namespace after namespace; objects changed in place
/// are other JSON and are read again.
#[wasm_bindgen_test]
fn kept_objects_answer_as_objects_read_anew() {
    let other = parse(&json!([bundle_object(INSTANCETYPES, "u1.small")]));
    for (namespace, domain) in [
        ("default", json!({"devices": {}})),
        ("team-a", json!({"cpu": {"sockets": 2}})),
        ("team-b", json!({"memory": {"guest": "1Gi"}})),
        ("team-b", json!({})),
    ] {
        let vm = vm_in(namespace, domain);
        let options = parse(&json!({"vmiDefaults": false}));
        // Another set first, so that the next call reads the objects anew.
        js::expand(parse(&vm), other.clone(), JsValue::UNDEFINED).unwrap();
        let anew = read(&js::expand(parse(&vm), namespaced_objects(), options.clone()).unwrap());
        let kept = read(&js::expand(parse(&vm), namespaced_objects(), options.clone()).unwrap());
        assert_eq!(kept, anew, "expand, namespace {namespace:?}");
        js::validate(parse(&vm), other.clone(), JsValue::UNDEFINED).unwrap();
        let anew = read(&js::validate(parse(&vm), namespaced_objects(), JsValue::UNDEFINED).unwrap());
        let kept = read(&js::validate(parse(&vm), namespaced_objects(), JsValue::UNDEFINED).unwrap());
        assert_eq!(kept, anew, "validate, namespace {namespace:?}");
    }

    let objects = namespaced_objects();
    let sockets = |objects: &JsValue| {
        let out = read(&js::expand(parse(&vm_in("x", json!({}))), objects.clone(), JsValue::UNDEFINED).unwrap());
        out["vm"]["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"].clone()
    };
    assert_eq!(sockets(&objects), json!(1));
    assert_eq!(sockets(&objects), json!(1));
    let cpu = ["0", "spec", "cpu"]
        .into_iter()
        .fold(objects.clone(), |value, key| Reflect::get(&value, &key.into()).unwrap());
    Reflect::set(&cpu, &"guest".into(), &4.into()).unwrap();
    assert_eq!(sockets(&objects), json!(4));
}

#[wasm_bindgen_test]
fn prepared_objects_are_copied_and_checked_when_constructed() {
    let objects = namespaced_objects();
    let mut prepared = js::PreparedObjects::new(objects.clone()).unwrap();
    // Emptying the array afterwards changes nothing.
    objects.unchecked_ref::<Array>().set_length(0);
    let out = read(
        &prepared
            .expand(parse(&vm_in("x", json!({}))), JsValue::UNDEFINED)
            .unwrap(),
    );
    assert_eq!(out["ok"], true, "{out}");

    let message = type_error_message(js::PreparedObjects::new(JsValue::UNDEFINED).err().unwrap());
    assert!(message.contains("objects must be an array"), "{message}");
    let message = type_error_message(js::PreparedObjects::new(parse(&json!([1]))).err().unwrap());
    assert!(
        message.contains("objects[0] must be a Kubernetes object, not a number"),
        "{message}"
    );
    let message = type_error_message(prepared.expand(JsValue::NULL, JsValue::UNDEFINED).unwrap_err());
    assert!(
        message.contains("vm must be a VirtualMachine object, not null"),
        "{message}"
    );
    let message = type_error_message(
        prepared
            .validate(parse(&vm_in("x", json!({}))), JsValue::from(3))
            .unwrap_err(),
    );
    assert!(message.contains("options must be an object"), "{message}");
}

#[wasm_bindgen_test]
fn prepared_objects_with_their_own_namespaces_answer_for_every_namespace() {
    // A cluster preference and a namespaced instancetype that names its namespace: one source
    // serves VMs of every namespace, and only team-a's VMs find the instancetype.
    let mut instancetype = bundle_object(INSTANCETYPES, "u1.medium");
    instancetype["kind"] = json!("VirtualMachineInstancetype");
    instancetype["metadata"] = json!({"name": "team-medium", "namespace": "team-a"});
    let objects = json!([instancetype, bundle_object(PREFERENCES, "fedora")]);
    let mut prepared = js::PreparedObjects::new(parse(&objects)).unwrap();
    for namespace in ["team-a", "team-b", "team-a", ""] {
        let vm = vm_in(namespace, json!({}));
        let expected = read(&js::expand(parse(&vm), parse(&objects), JsValue::UNDEFINED).unwrap());
        let got = read(&prepared.expand(parse(&vm), JsValue::UNDEFINED).unwrap());
        assert_eq!(got, expected, "namespace {namespace:?}");
        assert_eq!(got["ok"], namespace == "team-a", "namespace {namespace:?}: {got}");
    }
}
