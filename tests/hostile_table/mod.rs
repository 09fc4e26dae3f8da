//! The hostile-input table (tests/data/hostile/cases.json): building each case's payload and cluster,
//! and checking an outcome against the case's expectation. Shared, with `#[path]`, by tests/hostile.rs
//! (native) and e2e-tests/tests/hostile.rs (policy.wasm); depends on serde_json only.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use serde_json::{Map, Value, json};

const TABLE: &str = include_str!("../data/hostile/cases.json");

/// The parsed table.
pub struct Table {
    /// Every case.
    pub cases: Vec<Case>,
}

/// Parses the table once per call (cheap: 80 KB).
pub fn table() -> Table {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let base = table["base"].clone();
    let cases = table["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| Case::new(&base, case))
        .collect();
    Table { cases }
}

/// One case, with its edits applied.
pub struct Case {
    /// The case name.
    pub name: String,
    faces: Option<Vec<String>>,
    /// `{"request", "objects", "settings"}` after the edits.
    pub doc: Value,
    raw: Option<Vec<u8>>,
    replacements: Vec<(String, String)>,
    host: Vec<Value>,
    expect: Value,
    overrides: Map<String, Value>,
}

/// What the scripted host answers.
pub enum HostAnswer {
    /// The object.
    Object(Value),
    /// A host error with this text.
    Error(String),
    /// These bytes as the response payload.
    Payload(String),
}

fn nested(depth: usize) -> Value {
    let mut value = json!({});
    for _ in 1..depth {
        value = json!({ "x": value });
    }
    value
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let mut current = doc;
    for token in parent.split('/').skip(1) {
        current = match current {
            Value::Object(map) => map.entry(token.to_owned()).or_insert_with(|| json!({})),
            Value::Array(items) => &mut items[token.parse::<usize>().unwrap()],
            other => panic!("cannot descend into {other} at {pointer}"),
        };
        if current.is_null() {
            *current = json!({});
        }
    }
    match current {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        Value::Array(items) if last == "-" => items.push(value),
        Value::Array(items) => items[last.parse::<usize>().unwrap()] = value,
        other => panic!("cannot set {pointer} in {other}"),
    }
}

fn remove(doc: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.shift_remove_compat(last);
        }
        Some(Value::Array(items)) => {
            items.remove(last.parse::<usize>().unwrap());
        }
        _ => panic!("cannot remove {pointer}"),
    }
}

/// `Map::remove` under both map features (`preserve_order` or not).
trait RemoveCompat {
    fn shift_remove_compat(&mut self, key: &str) -> Option<Value>;
}

impl RemoveCompat for Map<String, Value> {
    #[allow(deprecated)]
    fn shift_remove_compat(&mut self, key: &str) -> Option<Value> {
        self.remove(key)
    }
}

impl Case {
    fn new(base: &Value, case: &Value) -> Self {
        let mut doc = base.clone();
        let mut raw = None;
        let mut replacements = Vec::new();
        for edit in case["edits"].as_array().unwrap() {
            if let Some(pointer) = edit.get("set").and_then(Value::as_str) {
                set(&mut doc, pointer, edit["value"].clone());
            } else if let Some(pointer) = edit.get("remove").and_then(Value::as_str) {
                remove(&mut doc, pointer);
            } else if let Some(count) = edit.get("disks").and_then(Value::as_u64) {
                let disks: Vec<Value> = (0..count)
                    .map(|i| json!({"name": format!("disk-{i}"), "disk": {}}))
                    .collect();
                let volumes: Vec<Value> = (0..count)
                    .map(|i| json!({"name": format!("disk-{i}"), "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}))
                    .collect();
                set(
                    &mut doc,
                    "/request/object/spec/template/spec/domain/devices/disks",
                    Value::Array(disks),
                );
                set(
                    &mut doc,
                    "/request/object/spec/template/spec/volumes",
                    Value::Array(volumes),
                );
            } else if let Some(count) = edit.get("volumesOnly").and_then(Value::as_u64) {
                let volumes: Vec<Value> = (0..count)
                    .map(|i| json!({"name": format!("disk-{i}"), "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}))
                    .collect();
                set(
                    &mut doc,
                    "/request/object/spec/template/spec/volumes",
                    Value::Array(volumes),
                );
            } else if let Some(count) = edit.get("interfaces").and_then(Value::as_u64) {
                let interfaces: Vec<Value> = (0..count).map(|i| json!({"name": format!("net-{i}")})).collect();
                let networks: Vec<Value> = (0..count)
                    .map(|i| match i {
                        0 => json!({"name": "net-0", "pod": {}}),
                        _ => json!({"name": format!("net-{i}"), "multus": {"networkName": format!("nad-{i}")}}),
                    })
                    .collect();
                set(
                    &mut doc,
                    "/request/object/spec/template/spec/domain/devices/interfaces",
                    Value::Array(interfaces),
                );
                set(
                    &mut doc,
                    "/request/object/spec/template/spec/networks",
                    Value::Array(networks),
                );
            } else if let Some(bytes) = edit.get("annotation").and_then(Value::as_u64) {
                let text = "a".repeat(usize::try_from(bytes).unwrap());
                set(&mut doc, "/request/object/metadata/annotations", json!({ "big": text }));
            } else if let Some(pointer) = edit.get("nest").and_then(Value::as_str) {
                let depth = usize::try_from(edit["depth"].as_u64().unwrap()).unwrap();
                set(&mut doc, pointer, nested(depth));
            } else if let Some(text) = edit.get("raw").and_then(Value::as_str) {
                raw = Some(text.as_bytes().to_vec());
            } else if let Some(bytes) = edit.get("rawBytes").and_then(Value::as_array) {
                raw = Some(
                    bytes
                        .iter()
                        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
                        .collect(),
                );
            } else if let Some(pair) = edit.get("replace").and_then(Value::as_array) {
                let to = match &pair[1] {
                    Value::String(text) => text.clone(),
                    other => {
                        let depth = usize::try_from(other["nested"].as_u64().unwrap()).unwrap();
                        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
                    }
                };
                replacements.push((pair[0].as_str().unwrap().to_owned(), to));
            } else {
                panic!("unknown edit {edit}");
            }
        }
        let overrides = case
            .as_object()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.starts_with("expect") && key.len() > "expect".len())
            .map(|(key, value)| (key["expect".len()..].to_ascii_lowercase(), value.clone()))
            .collect();
        Case {
            name: case["name"].as_str().unwrap().to_owned(),
            faces: case
                .get("faces")
                .and_then(Value::as_array)
                .map(|faces| faces.iter().map(|f| f.as_str().unwrap().to_owned()).collect()),
            doc,
            raw,
            replacements,
            host: case.get("host").and_then(Value::as_array).cloned().unwrap_or_default(),
            expect: case["expect"].clone(),
            overrides,
        }
    }

    /// Whether the case runs on a face (`native`, `wasm`, `npm`).
    pub fn runs_on(&self, face: &str) -> bool {
        self.faces.as_ref().is_none_or(|faces| faces.iter().any(|f| f == face))
    }

    /// Whether the payload is text edited after serialization (so no harness can carry it as a value).
    pub fn is_raw(&self) -> bool {
        self.raw.is_some() || !self.replacements.is_empty()
    }

    /// The `validate` payload bytes.
    pub fn payload(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut text = serde_json::to_string(&json!({
            "request": self.doc["request"],
            "settings": self.doc["settings"],
        }))
        .unwrap();
        for (from, to) in &self.replacements {
            assert!(
                text.contains(from.as_str()),
                "{}: {from:?} is not in the payload",
                self.name
            );
            text = text.replacen(from.as_str(), to, 1);
        }
        text.into_bytes()
    }

    /// The request's object, as the host holds it: from the payload when it was edited as text.
    pub fn request_object(&self) -> Value {
        if self.is_raw() {
            return serde_json::from_slice::<Value>(&self.payload())
                .ok()
                .and_then(|payload| payload.pointer("/request/object").cloned())
                .unwrap_or(Value::Null);
        }
        self.doc["request"]["object"].clone()
    }

    /// The settings.
    pub fn settings(&self) -> Value {
        self.doc["settings"].clone()
    }

    /// What the host answers to `get_resource` of kind/namespace/name.
    pub fn answer(&self, kind: &str, namespace: Option<&str>, name: &str) -> HostAnswer {
        for scripted in &self.host {
            if scripted["kind"] == kind && scripted["name"] == name {
                if let Some(error) = scripted.get("error").and_then(Value::as_str) {
                    return HostAnswer::Error(error.to_owned());
                }
                return HostAnswer::Payload(scripted["payload"].as_str().unwrap().to_owned());
            }
        }
        for object in self.doc["objects"].as_array().unwrap() {
            let object_namespace = object["metadata"]["namespace"].as_str().unwrap_or("vms");
            if object["kind"] == kind
                && object["metadata"]["name"] == name
                && namespace.is_none_or(|ns| ns == object_namespace)
            {
                return HostAnswer::Object(object.clone());
            }
        }
        HostAnswer::Error(format!(
            "Cannot find {kind} named '{name}' inside of namespace '{:?}'",
            namespace
        ))
    }

    /// The expectation for a face: `expect`, with `expect<Face>` keys laid over it.
    pub fn expectation(&self, face: &str) -> Value {
        let mut expect = self.expect.clone();
        if let (Some(over), Some(map)) = (self.overrides.get(face), expect.as_object_mut()) {
            for (key, value) in over.as_object().unwrap() {
                map.insert(key.clone(), value.clone());
            }
        }
        expect
    }

    /// Checks an outcome against the expectation for `face`.
    pub fn check(&self, outcome: &Outcome, face: &str) -> Result<(), String> {
        let expect = self.expectation(face);
        let Some(allowed) = expect.get("allowed").and_then(Value::as_bool) else {
            return Err(format!("no expectation; outcome {}", outcome.report(&self.name)));
        };
        let mut problems = Vec::new();
        if outcome.allowed != allowed {
            problems.push(format!("allowed {} (expected {allowed})", outcome.allowed));
        }
        let code = expect.get("code").and_then(Value::as_u64);
        if outcome.code != code {
            problems.push(format!("code {:?} (expected {code:?})", outcome.code));
        }
        let message = expect.get("message").and_then(Value::as_str);
        if let Some(prefix) = expect.get("messageStartsWith").and_then(Value::as_str) {
            if !outcome.message.as_deref().is_some_and(|m| m.starts_with(prefix)) {
                problems.push(format!(
                    "message {:?} (expected to start with {prefix:?})",
                    outcome.message
                ));
            }
        } else if outcome.message.as_deref().map(without_position) != message.map(without_position) {
            problems.push(format!("message {:?} (expected {message:?})", outcome.message));
        }
        let patched = expect.get("patched").and_then(Value::as_bool).unwrap_or(false);
        if outcome.patched != patched {
            problems.push(format!("patched {} (expected {patched})", outcome.patched));
        }
        let warnings: Vec<String> = expect
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| w.iter().map(|w| w.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        if outcome.warnings != warnings {
            problems.push(format!("warnings {:?} (expected {warnings:?})", outcome.warnings));
        }
        if face != "npm" {
            if let Some(lookups) = expect.get("lookups").and_then(Value::as_u64) {
                if outcome.lookups as u64 != lookups {
                    problems.push(format!("{} lookups (expected {lookups})", outcome.lookups));
                }
            } else {
                problems.push("the expectation states no lookup count".to_owned());
            }
        }
        for (pointer, value) in expect.get("object").and_then(Value::as_object).into_iter().flatten() {
            let found = outcome.object.as_ref().and_then(|o| o.pointer(pointer));
            if found != Some(value) {
                problems.push(format!("{pointer} is {found:?} (expected {value})"));
            }
        }
        for pointer in expect.get("absent").and_then(Value::as_array).into_iter().flatten() {
            let pointer = pointer.as_str().unwrap();
            if outcome.object.as_ref().and_then(|o| o.pointer(pointer)).is_some() {
                problems.push(format!("{pointer} is present"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// A parser message without its ` at line N column M`: the column depends on the key order the
/// payload was serialized with (sorted, or as written), not on the policy.
fn without_position(message: &str) -> String {
    if let Some(index) = message.rfind(" at line ") {
        let rest = &message[index + " at line ".len()..];
        let mut parts = rest.splitn(3, ' ');
        let line = parts.next().unwrap_or_default();
        let word = parts.next().unwrap_or_default();
        let column = parts.next().unwrap_or_default();
        if word == "column"
            && !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && !column.is_empty()
            && column.bytes().all(|b| b.is_ascii_digit())
        {
            return message[..index].to_owned();
        }
    }
    message.to_owned()
}

/// Fields `HOSTILE_PRINT` shows of the admitted object.
const OBSERVED: &[&str] = &[
    "/spec/instancetype",
    "/spec/preference",
    "/spec/template/spec/domain/cpu",
    "/spec/template/spec/domain/memory/guest",
    "/spec/template/spec/domain/devices/disks/0",
    "/spec/template/spec/domain/devices/interfaces/0",
    "/spec/x-big",
    "/metadata/name",
];

/// What a face answered, normalized.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Admitted.
    pub allowed: bool,
    /// Rejection code.
    pub code: Option<u64>,
    /// Rejection message.
    pub message: Option<String>,
    /// Whether the object was changed.
    pub patched: bool,
    /// The object as admitted (the mutated one, else the request's).
    pub object: Option<Value>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Host lookups made.
    pub lookups: usize,
    /// Wall time of the evaluation.
    pub elapsed: Duration,
}

impl Outcome {
    /// From the JSON of a `ValidationResponse` (the SDK's, or `PolicyResponse`).
    pub fn from_response_json(response: &Value, request_object: &Value, lookups: usize, elapsed: Duration) -> Self {
        let mutated = response.get("mutated_object").filter(|o| !o.is_null());
        Outcome {
            allowed: response["accepted"].as_bool().unwrap(),
            code: response.get("code").and_then(Value::as_u64),
            message: response.get("message").and_then(Value::as_str).map(str::to_owned),
            patched: mutated.is_some_and(|m| m != request_object),
            object: Some(mutated.cloned().unwrap_or_else(|| request_object.clone())),
            warnings: response
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| w.iter().map(|w| w.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
            lookups,
            elapsed,
        }
    }

    /// From anything that serializes as a `ValidationResponse`.
    pub fn from_policy_response(
        response: &impl serde::Serialize,
        request_object: &Value,
        lookups: usize,
        elapsed: Duration,
    ) -> Self {
        Self::from_response_json(
            &serde_json::to_value(response).unwrap(),
            request_object,
            lookups,
            elapsed,
        )
    }

    /// One line of JSON describing the outcome (for `HOSTILE_PRINT`).
    pub fn report(&self, name: &str) -> String {
        let message = self.message.clone();
        let observed: Map<String, Value> = OBSERVED
            .iter()
            .filter_map(|pointer| {
                let found = self.object.as_ref()?.pointer(pointer)?;
                Some(((*pointer).to_owned(), found.clone()))
            })
            .collect();
        json!({
            "observed": observed,
            "name": name,
            "allowed": self.allowed,
            "code": self.code,
            "message": message,
            "patched": self.patched,
            "warnings": self.warnings,
            "lookups": self.lookups,
            "micros": self.elapsed.as_micros() as u64,
        })
        .to_string()
    }
}
