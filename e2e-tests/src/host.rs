//! The waPC host callback: `(binding, namespace, operation, payload)` dispatched as policy-evaluator's
//! `host_callback` does, with the callback handler replaced by a kwctl replay session.
//!
//! Error texts the guest receives (the SDK turns them into its `HostCall` error):
//!
//! | situation | text |
//! | --- | --- |
//! | binding other than `kubewarden` | `unknown binding: <binding>` |
//! | unknown namespace / operation | `unknown namespace: <ns>` / `unknown operation: <op>` |
//! | payload not the SDK request JSON (a missing or an unknown field) | serde_json's message (e.g. ``missing field `kind` at line 1 column 20``) |
//! | kind not granted (no `--allow-context-aware`, or not in `contextAwareResources`) | `Policy has not been granted access to Kubernetes <apiVersion>/<kind> resources. The violation has been reported.` |
//! | recorded `type: Error` | `Callback evaluation failure: <message>` |
//! | request differs from the next exchange | `Callback evaluation failure: Replay error: unexpected request. Was expecting <recorded>, got <live> instead` |
//! | session exhausted | `Callback evaluation failure: the list of recorded responses is empty` |
//! | no session given | `Callback evaluation failure: kwrun: no replay session (...)` (kwctl would ask a real cluster) |
//!
//! A refused access or an unparsable payload does not consume an exchange (kwctl checks both before the
//! request reaches the replay proxy); a mismatch does.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::metadata::ContextAwareResource;
use crate::session::{
    CallbackRequest, DNSLookupHost, KubernetesGetResource, KubernetesListResourceAll, KubernetesListResourceNamespace,
    OciImage, ReplayOutcome, Replayer,
};

/// A `kubewarden/tracing/log` record (the SDK's slog drain: `level`, `message`, plus key/values).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyLogEntry {
    /// `trace`, `debug`, `info`, `warning` or `error` (as sent).
    pub level: String,
    /// The message.
    pub message: Option<String>,
    /// The other key/values.
    pub data: BTreeMap<String, Value>,
}

/// One host call, as the harness saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCall {
    /// waPC binding (`kubewarden`).
    pub binding: String,
    /// Namespace (`kubernetes`, `tracing`, ...).
    pub namespace: String,
    /// Operation (`get_resource`, `log`, ...).
    pub operation: String,
    /// The payload the guest sent (UTF-8, lossy).
    pub payload: String,
    /// What the guest got: the payload, or the error text.
    pub result: Result<String, String>,
    /// How the replay session answered, when the call reached it.
    pub replay: Option<ReplayOutcome>,
}

impl HostCall {
    /// `binding/namespace/operation`.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.binding, self.namespace, self.operation)
    }
}

/// The state behind the host callback.
#[derive(Debug)]
pub struct HostState {
    replayer: Option<Replayer>,
    allow_list: BTreeSet<ContextAwareResource>,
    echo_policy_logs: bool,
    calls: Vec<HostCall>,
    logs: Vec<PolicyLogEntry>,
}

enum Routed {
    /// Answered locally (logs, errors before the callback handler).
    Local(Result<Vec<u8>, String>),
    /// Goes to the callback handler (the replay session).
    Callback(CallbackRequest),
}

fn unknown_operation(operation: &str) -> Routed {
    Routed::Local(Err(format!("unknown operation: {operation}")))
}

fn not_granted(api_version: &str, kind: &str) -> Routed {
    Routed::Local(Err(format!(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported."
    )))
}

fn unemulated(namespace: &str, operation: &str) -> Routed {
    Routed::Local(Err(format!(
        "kwrun does not emulate the host capability kubewarden/{namespace}/{operation} (only kubernetes get_resource, \
         list_resources_by_namespace, list_resources_all, net v1/dns_lookup_host and the oci manifest calls are replayed)"
    )))
}

macro_rules! parse_or_return {
    ($payload:expr) => {
        match serde_json::from_slice($payload) {
            Ok(v) => v,
            Err(e) => return Routed::Local(Err(e.to_string())),
        }
    };
}

impl HostState {
    /// A host with the given replay session (if any) and the kinds `--allow-context-aware` granted.
    pub fn new(replayer: Option<Replayer>, allow_list: BTreeSet<ContextAwareResource>, echo_policy_logs: bool) -> Self {
        Self {
            replayer,
            allow_list,
            echo_policy_logs,
            calls: Vec::new(),
            logs: Vec::new(),
        }
    }

    fn allowed(&self, api_version: &str, kind: &str) -> bool {
        self.allow_list.contains(&ContextAwareResource {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        })
    }

    /// Handles one host call and records it. Never panics; every failure is an `Err` text for the guest.
    pub fn dispatch(
        &mut self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let routed = self.route(binding, namespace, operation, payload);
        let (result, replay) = match routed {
            Routed::Local(result) => (result, None),
            Routed::Callback(request) => match self.replayer.as_mut() {
                Some(replayer) => {
                    let answer = replayer.answer(&request);
                    let outcome = replayer.events().last().map(|e| e.outcome.clone());
                    (answer.map_err(|e| format!("Callback evaluation failure: {e}")), outcome)
                }
                None => (
                    Err(format!(
                        "Callback evaluation failure: kwrun: no replay session \
                         (--replay-host-capabilities-interactions) to answer {request:?}; kwrun never contacts a cluster"
                    )),
                    None,
                ),
            },
        };
        self.calls.push(HostCall {
            binding: binding.to_owned(),
            namespace: namespace.to_owned(),
            operation: operation.to_owned(),
            payload: String::from_utf8_lossy(payload).into_owned(),
            result: result
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .map_err(Clone::clone),
            replay,
        });
        result
    }

    fn route(&mut self, binding: &str, namespace: &str, operation: &str, payload: &[u8]) -> Routed {
        if binding != "kubewarden" {
            return Routed::Local(Err(format!("unknown binding: {binding}")));
        }
        match namespace {
            "tracing" => match operation {
                "log" => {
                    self.log(payload);
                    Routed::Local(Ok(Vec::new()))
                }
                _ => unknown_operation(operation),
            },
            "kubernetes" => match operation {
                "get_resource" => {
                    // The payloads are read into the session's request types (strict, as sessions are):
                    // a field the harness does not know would otherwise escape replay's comparison.
                    let req: KubernetesGetResource = parse_or_return!(payload);
                    if !self.allowed(&req.api_version, &req.kind) {
                        return not_granted(&req.api_version, &req.kind);
                    }
                    Routed::Callback(CallbackRequest::KubernetesGetResource(req))
                }
                "list_resources_by_namespace" => {
                    let req: KubernetesListResourceNamespace = parse_or_return!(payload);
                    if !self.allowed(&req.api_version, &req.kind) {
                        return not_granted(&req.api_version, &req.kind);
                    }
                    Routed::Callback(CallbackRequest::KubernetesListResourceNamespace(req))
                }
                "list_resources_all" => {
                    let req: KubernetesListResourceAll = parse_or_return!(payload);
                    if !self.allowed(&req.api_version, &req.kind) {
                        return not_granted(&req.api_version, &req.kind);
                    }
                    Routed::Callback(CallbackRequest::KubernetesListResourceAll(req))
                }
                "can_i" => unemulated(namespace, operation),
                _ => unknown_operation(operation),
            },
            "net" => match operation {
                "v1/dns_lookup_host" => {
                    let host: String = parse_or_return!(payload);
                    Routed::Callback(CallbackRequest::DNSLookupHost(DNSLookupHost { host }))
                }
                _ => unknown_operation(operation),
            },
            "oci" => match operation {
                "v1/manifest_digest" => {
                    let image: String = parse_or_return!(payload);
                    Routed::Callback(CallbackRequest::OciManifestDigest(OciImage { image }))
                }
                "v1/oci_manifest" => {
                    let image: String = parse_or_return!(payload);
                    Routed::Callback(CallbackRequest::OciManifest(OciImage { image }))
                }
                "v1/oci_manifest_config" => {
                    let image: String = parse_or_return!(payload);
                    Routed::Callback(CallbackRequest::OciManifestAndConfig(OciImage { image }))
                }
                "v1/verify" | "v2/verify" => unemulated(namespace, operation),
                _ => unknown_operation(operation),
            },
            "crypto" => match operation {
                "v1/is_certificate_trusted" => unemulated(namespace, operation),
                _ => unknown_operation(operation),
            },
            _ => Routed::Local(Err(format!("unknown namespace: {namespace}"))),
        }
    }

    fn log(&mut self, payload: &[u8]) {
        let entry = match serde_json::from_slice::<serde_json::Map<String, Value>>(payload) {
            Ok(mut map) => {
                let level = match map.remove("level") {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => "unknown".to_owned(),
                };
                let message = match map.remove("message") {
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                PolicyLogEntry {
                    level,
                    message,
                    data: map.into_iter().collect(),
                }
            }
            // policy-evaluator logs an error and still answers Ok
            Err(e) => PolicyLogEntry {
                level: "unparsable".to_owned(),
                message: Some(format!("Cannot log event: {e}: {}", String::from_utf8_lossy(payload))),
                data: BTreeMap::new(),
            },
        };
        if self.echo_policy_logs {
            let data = serde_json::to_string(&entry.data).unwrap_or_default();
            eprintln!(
                "policy log [{}] {} {}",
                entry.level.to_uppercase(),
                entry.message.as_deref().unwrap_or_default(),
                data
            );
        }
        self.logs.push(entry);
    }

    /// Every host call so far.
    pub fn calls(&self) -> &[HostCall] {
        &self.calls
    }

    /// Every policy log record so far.
    pub fn logs(&self) -> &[PolicyLogEntry] {
        &self.logs
    }

    /// The replayer, if a session was given.
    pub fn replayer(&self) -> Option<&Replayer> {
        self.replayer.as_ref()
    }

    /// The kinds the policy may read.
    pub fn allow_list(&self) -> &BTreeSet<ContextAwareResource> {
        &self.allow_list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    const SESSION: &str = r#"
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: instancetype.kubevirt.io/v1beta1
    kind: VirtualMachineClusterInstancetype
    name: u1.medium
    namespace: null
    disable_cache: false
  response:
    type: Success
    payload: '{"kind":"VirtualMachineClusterInstancetype"}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: instancetype.kubevirt.io/v1beta1
    kind: VirtualMachineClusterPreference
    name: fedora
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: boom
"#;

    const GET_U1: &str = r#"{"api_version":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype","name":"u1.medium","namespace":null,"disable_cache":false}"#;
    const GET_FEDORA: &str = r#"{"api_version":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterPreference","name":"fedora","namespace":null,"disable_cache":false,"field_masks":null}"#;

    fn granted() -> BTreeSet<ContextAwareResource> {
        ["VirtualMachineClusterInstancetype", "VirtualMachineClusterPreference"]
            .into_iter()
            .map(|kind| ContextAwareResource {
                api_version: "instancetype.kubevirt.io/v1beta1".to_owned(),
                kind: kind.to_owned(),
            })
            .collect()
    }

    fn host(allow: BTreeSet<ContextAwareResource>) -> HostState {
        let session = Session::from_yaml_str(SESSION, "session.yml").expect("session");
        HostState::new(Some(Replayer::new(session)), allow, false)
    }

    fn get(h: &mut HostState, payload: &str) -> Result<Vec<u8>, String> {
        h.dispatch("kubewarden", "kubernetes", "get_resource", payload.as_bytes())
    }

    #[test]
    fn get_resource_is_answered_from_the_session_in_order() {
        let mut h = host(granted());
        assert_eq!(
            get(&mut h, GET_U1),
            Ok(br#"{"kind":"VirtualMachineClusterInstancetype"}"#.to_vec())
        );
        assert_eq!(
            get(&mut h, GET_FEDORA),
            Err("Callback evaluation failure: boom".to_owned())
        );
        assert_eq!(h.calls().len(), 2);
        assert_eq!(h.calls()[0].path(), "kubewarden/kubernetes/get_resource");
        assert_eq!(
            h.calls()[0].replay,
            Some(ReplayOutcome::Replayed {
                index: 0,
                success: true
            })
        );
        assert_eq!(h.calls()[1].result, Err("Callback evaluation failure: boom".to_owned()));
        assert_eq!(h.replayer().map(Replayer::consumed), Some(2));
    }

    #[test]
    fn an_unexpected_request_gets_kwctls_replay_error() {
        let mut h = host(granted());
        let e = get(&mut h, GET_FEDORA).expect_err("out of order");
        assert!(
            e.starts_with("Callback evaluation failure: Replay error: unexpected request. Was expecting KubernetesGetResource { api_version: \"instancetype.kubevirt.io/v1beta1\", kind: \"VirtualMachineClusterInstancetype\""),
            "{e}"
        );
        assert!(matches!(
            h.calls()[0].replay,
            Some(ReplayOutcome::Mismatch { index: 0, .. })
        ));
        get(&mut h, GET_U1).expect_err("compared with exchange #2 now");
        assert_eq!(
            get(&mut h, GET_U1),
            Err("Callback evaluation failure: the list of recorded responses is empty".to_owned())
        );
        assert_eq!(h.calls()[2].replay, Some(ReplayOutcome::Exhausted));
    }

    #[test]
    fn kinds_not_granted_are_refused_without_consuming_the_session() {
        let mut h = host(BTreeSet::new());
        assert_eq!(
            get(&mut h, GET_U1),
            Err("Policy has not been granted access to Kubernetes instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype resources. The violation has been reported.".to_owned())
        );
        assert_eq!(h.calls()[0].replay, None);
        assert_eq!(h.replayer().map(Replayer::consumed), Some(0));
    }

    #[test]
    fn a_malformed_payload_is_refused_without_consuming_the_session() {
        let mut h = host(granted());
        let e = get(
            &mut h,
            r#"{"api_version":"v1","name":"x","namespace":null,"disable_cache":false}"#,
        )
        .expect_err("bad");
        assert_eq!(e, "missing field `kind` at line 1 column 70");
        assert!(get(&mut h, "not json").is_err());
        assert_eq!(h.replayer().map(Replayer::consumed), Some(0));
    }

    #[test]
    fn unknown_bindings_namespaces_and_operations_are_errors() {
        let mut h = host(granted());
        assert_eq!(
            h.dispatch("wapc", "kubernetes", "get_resource", b"{}"),
            Err("unknown binding: wapc".to_owned())
        );
        assert_eq!(
            h.dispatch("kubewarden", "nope", "x", b""),
            Err("unknown namespace: nope".to_owned())
        );
        assert_eq!(
            h.dispatch("kubewarden", "kubernetes", "delete", b""),
            Err("unknown operation: delete".to_owned())
        );
        assert_eq!(
            h.dispatch("kubewarden", "tracing", "trace", b""),
            Err("unknown operation: trace".to_owned())
        );
        assert!(
            h.dispatch("kubewarden", "oci", "v1/verify", b"{}")
                .expect_err("unemulated")
                .starts_with("kwrun does not emulate")
        );
        assert_eq!(h.calls().len(), 5);
        assert_eq!(h.replayer().map(Replayer::consumed), Some(0));
    }

    #[test]
    fn policy_logs_are_recorded_and_answered_ok() {
        let mut h = host(BTreeSet::new());
        let payload = br#"{"level":"info","message":"looking up","name":"u1.medium","column":3}"#;
        assert_eq!(h.dispatch("kubewarden", "tracing", "log", payload), Ok(Vec::new()));
        assert_eq!(h.dispatch("kubewarden", "tracing", "log", b"garbage"), Ok(Vec::new()));
        assert_eq!(h.logs().len(), 2);
        assert_eq!(h.logs()[0].level, "info");
        assert_eq!(h.logs()[0].message.as_deref(), Some("looking up"));
        assert_eq!(h.logs()[0].data.get("name"), Some(&Value::from("u1.medium")));
        assert_eq!(h.logs()[1].level, "unparsable");
    }

    #[test]
    fn without_a_session_lookups_fail_clearly() {
        let mut h = HostState::new(None, granted(), false);
        let e = get(&mut h, GET_U1).expect_err("no session");
        assert!(
            e.starts_with("Callback evaluation failure: kwrun: no replay session"),
            "{e}"
        );
    }

    #[test]
    fn other_replayable_calls_reach_the_session() {
        let session = Session::from_yaml_str(
            "- type: Exchange\n  request: |\n    !DNSLookupHost\n    host: example.com\n  response:\n    type: Success\n    payload: '[\"10.0.0.1\"]'\n",
            "s",
        )
        .expect("session");
        let mut h = HostState::new(Some(Replayer::new(session)), BTreeSet::new(), false);
        assert_eq!(
            h.dispatch("kubewarden", "net", "v1/dns_lookup_host", br#""example.com""#),
            Ok(br#"["10.0.0.1"]"#.to_vec())
        );
    }
}
