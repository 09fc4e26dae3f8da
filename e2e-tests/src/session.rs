//! kwctl replay sessions: parsing and strict in-order replay.
//!
//! The file format is the one `kwctl run --record-host-capabilities-interactions` writes and
//! `--replay-host-capabilities-interactions` reads (kwctl `callback_handler/proxy.rs`): a YAML list of
//!
//! ```yaml
//! - type: Exchange
//!   request: |
//!     !KubernetesGetResource
//!     api_version: instancetype.kubevirt.io/v1beta1
//!     kind: VirtualMachineClusterInstancetype
//!     name: u1.medium
//!     namespace: null
//!     disable_cache: false
//!   response:
//!     type: Success            # or `type: Error` with `message: ...`
//!     payload: '{"apiVersion": "..."}'
//! ```
//!
//! `request` is itself a YAML document: policy-evaluator's `CallbackRequestType` serialized by serde_yaml
//! (the variant is the YAML tag). Newer hosts also write `field_masks: null`; an absent `field_masks` means
//! `null`.
//!
//! Replay follows kwctl exactly: each host call that reaches the callback handler pops the next exchange;
//! if the recorded request differs from the live one the exchange is consumed anyway and the guest gets
//! `Replay error: unexpected request. Was expecting {expected:?}, got {got:?} instead`; past the end it gets
//! `the list of recorded responses is empty`. Leftover exchanges are allowed (kwctl only warns).
//!
//! Stricter than kwctl, on purpose: unknown keys in a recorded request are refused at load time (kwctl would
//! silently ignore a typo such as `namspace:`), and a malformed file is an error naming the exchange instead
//! of a panic.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::HarnessError;

/// `KubernetesGetResource`: the `kubewarden/kubernetes/get_resource` host call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesGetResource {
    /// apiVersion of the resource (`v1` for the core group, `group/version` otherwise).
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Namespace; `None` (`null`) for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Whether the policy asked to bypass the host's 5 s cache.
    pub disable_cache: bool,
    /// Field masks (newer SDKs/hosts); absent in the file means `None`.
    #[serde(default)]
    pub field_masks: Option<BTreeSet<String>>,
}

/// `KubernetesListResourceNamespace`: the `kubewarden/kubernetes/list_resources_by_namespace` host call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesListResourceNamespace {
    /// apiVersion of the resources.
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
    /// Namespace scoping the list.
    pub namespace: String,
    /// Label selector.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Field selector.
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Field masks (newer SDKs/hosts).
    #[serde(default)]
    pub field_masks: Option<BTreeSet<String>>,
}

/// `KubernetesListResourceAll`: the `kubewarden/kubernetes/list_resources_all` host call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesListResourceAll {
    /// apiVersion of the resources.
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
    /// Label selector.
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Field selector.
    #[serde(default)]
    pub field_selector: Option<String>,
    /// Field masks (newer SDKs/hosts).
    #[serde(default)]
    pub field_masks: Option<BTreeSet<String>>,
}

/// `DNSLookupHost`: the `kubewarden/net/v1/dns_lookup_host` host call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DNSLookupHost {
    /// Host name to resolve.
    pub host: String,
}

/// An OCI host call that only carries an image reference.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciImage {
    /// Image reference.
    pub image: String,
}

/// Kinds of kwctl requests that a session may hold but that kwrun does not emulate (sigstore verification,
/// `can_i`, certificate checks, ...). They are kept so that ordering stays right; a live call never matches
/// them.
const KNOWN_UNEMULATED: &[&str] = &[
    "SigstorePubKeyVerify",
    "SigstoreKeylessVerify",
    "SigstoreKeylessPrefixVerify",
    "SigstoreGithubActionsVerify",
    "SigstoreCertificateVerify",
    "KubernetesGetResourcePluralName",
    "HasKubernetesListResourceAllResultChangedSinceInstant",
    "KubernetesCanI",
    "CryptoIsCertificateTrusted",
];

/// One host-capability request, as kwctl records it (policy-evaluator's `CallbackRequestType`).
///
/// `Debug` prints exactly what policy-evaluator's derived `Debug` prints for the emulated variants, so the
/// mismatch message matches kwctl's.
#[derive(Clone, PartialEq, Eq)]
pub enum CallbackRequest {
    /// `get_resource`.
    KubernetesGetResource(KubernetesGetResource),
    /// `list_resources_by_namespace`.
    KubernetesListResourceNamespace(KubernetesListResourceNamespace),
    /// `list_resources_all`.
    KubernetesListResourceAll(KubernetesListResourceAll),
    /// `net/v1/dns_lookup_host`.
    DNSLookupHost(DNSLookupHost),
    /// `oci/v1/manifest_digest`.
    OciManifestDigest(OciImage),
    /// `oci/v1/oci_manifest`.
    OciManifest(OciImage),
    /// `oci/v1/oci_manifest_config`.
    OciManifestAndConfig(OciImage),
    /// A kwctl request kind kwrun does not emulate; never equal to a live request.
    Unemulated {
        /// The YAML tag without `!`.
        kind: String,
        /// The recorded body, re-serialized as YAML.
        body: String,
    },
}

impl fmt::Debug for OciImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // printed inside the variant name by `CallbackRequest`'s Debug
        write!(f, "{{ image: {:?} }}", self.image)
    }
}

impl fmt::Debug for CallbackRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KubernetesGetResource(r) => fmt::Debug::fmt(r, f),
            Self::KubernetesListResourceNamespace(r) => fmt::Debug::fmt(r, f),
            Self::KubernetesListResourceAll(r) => fmt::Debug::fmt(r, f),
            Self::DNSLookupHost(r) => fmt::Debug::fmt(r, f),
            Self::OciManifestDigest(r) => write!(f, "OciManifestDigest {r:?}"),
            Self::OciManifest(r) => write!(f, "OciManifest {r:?}"),
            Self::OciManifestAndConfig(r) => write!(f, "OciManifestAndConfig {r:?}"),
            Self::Unemulated { kind, body } => write!(f, "{kind} {{ {} }}", body.trim_end().replace('\n', ", ")),
        }
    }
}

impl CallbackRequest {
    /// The variant name as it appears as a YAML tag (`KubernetesGetResource`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Self::KubernetesGetResource(_) => "KubernetesGetResource",
            Self::KubernetesListResourceNamespace(_) => "KubernetesListResourceNamespace",
            Self::KubernetesListResourceAll(_) => "KubernetesListResourceAll",
            Self::DNSLookupHost(_) => "DNSLookupHost",
            Self::OciManifestDigest(_) => "OciManifestDigest",
            Self::OciManifest(_) => "OciManifest",
            Self::OciManifestAndConfig(_) => "OciManifestAndConfig",
            Self::Unemulated { kind, .. } => kind,
        }
    }

    /// Parses the `request:` string of an exchange (a tagged YAML document).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| format!("request is not valid YAML: {e}"))?;
        let serde_yaml::Value::Tagged(tagged) = value else {
            return Err(format!(
                "request must start with a tag naming the request kind (e.g. `!KubernetesGetResource`), got: {}",
                text.trim()
            ));
        };
        let tag = tagged.tag.to_string();
        let kind = tag.strip_prefix('!').unwrap_or(&tag).to_owned();
        let body = tagged.value;
        fn body_of<T: DeserializeOwned>(kind: &str, body: serde_yaml::Value) -> Result<T, String> {
            serde_yaml::from_value(body).map_err(|e| format!("request !{kind}: {e}"))
        }
        Ok(match kind.as_str() {
            "KubernetesGetResource" => Self::KubernetesGetResource(body_of(&kind, body)?),
            "KubernetesListResourceNamespace" => Self::KubernetesListResourceNamespace(body_of(&kind, body)?),
            "KubernetesListResourceAll" => Self::KubernetesListResourceAll(body_of(&kind, body)?),
            "DNSLookupHost" => Self::DNSLookupHost(body_of(&kind, body)?),
            "OciManifestDigest" => Self::OciManifestDigest(body_of(&kind, body)?),
            "OciManifest" => Self::OciManifest(body_of(&kind, body)?),
            "OciManifestAndConfig" => Self::OciManifestAndConfig(body_of(&kind, body)?),
            k if KNOWN_UNEMULATED.contains(&k) => {
                let body = serde_yaml::to_string(&body).map_err(|e| format!("request !{kind}: {e}"))?;
                Self::Unemulated { kind, body }
            }
            other => {
                return Err(format!(
                    "unknown request kind `!{other}` (kwctl knows KubernetesGetResource, \
                     KubernetesListResourceNamespace, KubernetesListResourceAll, DNSLookupHost, OciManifestDigest, \
                     OciManifest, OciManifestAndConfig, {})",
                    KNOWN_UNEMULATED.join(", ")
                ));
            }
        })
    }
}

/// The recorded answer of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum RecordedResponse {
    /// The host answered with this payload (given to the guest as its UTF-8 bytes).
    Success {
        /// Usually the JSON of the Kubernetes object.
        payload: String,
    },
    /// The host failed with this message.
    Error {
        /// The error text (the guest sees `Callback evaluation failure: <message>`).
        message: String,
    },
}

/// One recorded request/response pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// What the policy is expected to ask.
    pub request: CallbackRequest,
    /// What the host answers.
    pub response: RecordedResponse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    #[serde(rename = "type")]
    kind: String,
    request: serde_yaml::Value,
    response: serde_yaml::Value,
}

/// A parsed replay session file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Where it came from, for messages.
    pub source: String,
    /// The exchanges, in replay order.
    pub exchanges: Vec<Exchange>,
}

impl Session {
    /// Reads and parses a session file.
    pub fn from_path(path: &Path) -> Result<Self, HarnessError> {
        let text = std::fs::read_to_string(path).map_err(|source| HarnessError::ReadFile {
            what: "replay session",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses session text; `source` names it in error messages.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Self, HarnessError> {
        let err = |message: String| HarnessError::Session {
            path: source.to_owned(),
            message,
        };
        if text.trim().is_empty() {
            return Err(err("the file is empty (a session without exchanges is `[]`)".to_owned()));
        }
        let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| err(format!("not valid YAML: {e}")))?;
        let serde_yaml::Value::Sequence(items) = doc else {
            return Err(err(
                "expected a YAML list of exchanges (`- type: Exchange ...`)".to_owned()
            ));
        };
        let mut exchanges = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let n = i + 1;
            let raw: RawExchange = serde_yaml::from_value(item).map_err(|e| err(format!("exchange #{n}: {e}")))?;
            if raw.kind != "Exchange" {
                return Err(err(format!(
                    "exchange #{n}: `type` must be `Exchange`, got `{}`",
                    raw.kind
                )));
            }
            let serde_yaml::Value::String(request_text) = raw.request else {
                return Err(err(format!(
                    "exchange #{n}: `request` must be a string holding the tagged YAML request (write `request: |` \
                     and the `!KubernetesGetResource` document indented below it)"
                )));
            };
            let request = CallbackRequest::from_yaml(&request_text).map_err(|e| err(format!("exchange #{n}: {e}")))?;
            let response: RecordedResponse =
                serde_yaml::from_value(raw.response).map_err(|e| err(format!("exchange #{n}: response: {e}")))?;
            exchanges.push(Exchange { request, response });
        }
        Ok(Self {
            source: source.to_owned(),
            exchanges,
        })
    }
}

/// How one live request was answered by the replayer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// The request matched exchange `index` (0-based) and its recorded response was returned.
    Replayed {
        /// 0-based exchange index.
        index: usize,
        /// Whether the recorded response was `Success`.
        success: bool,
    },
    /// The request differed from exchange `index`, which was consumed anyway (as kwctl does).
    Mismatch {
        /// 0-based exchange index.
        index: usize,
        /// The recorded request.
        expected: CallbackRequest,
    },
    /// No exchange was left.
    Exhausted,
}

/// One live request seen by the replayer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayEvent {
    /// What the policy asked.
    pub request: CallbackRequest,
    /// How it was answered.
    pub outcome: ReplayOutcome,
}

/// Strict in-order replay of a [`Session`].
#[derive(Debug, Clone)]
pub struct Replayer {
    session: Session,
    next: usize,
    events: Vec<ReplayEvent>,
}

impl Replayer {
    /// Starts replaying `session` from its first exchange.
    pub fn new(session: Session) -> Self {
        Self {
            session,
            next: 0,
            events: Vec::new(),
        }
    }

    /// Answers one live request. `Ok` is the payload for the guest; `Err` is the host error text *before*
    /// policy-evaluator wraps it as `Callback evaluation failure: ...`.
    pub fn answer(&mut self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        let Some(exchange) = self.session.exchanges.get(self.next) else {
            self.events.push(ReplayEvent {
                request: request.clone(),
                outcome: ReplayOutcome::Exhausted,
            });
            return Err("the list of recorded responses is empty".to_owned());
        };
        let index = self.next;
        self.next += 1;
        if &exchange.request == request {
            let (outcome, result) = match &exchange.response {
                RecordedResponse::Success { payload } => (
                    ReplayOutcome::Replayed { index, success: true },
                    Ok(payload.clone().into_bytes()),
                ),
                RecordedResponse::Error { message } => {
                    (ReplayOutcome::Replayed { index, success: false }, Err(message.clone()))
                }
            };
            self.events.push(ReplayEvent {
                request: request.clone(),
                outcome,
            });
            result
        } else {
            let expected = exchange.request.clone();
            let message =
                format!("Replay error: unexpected request. Was expecting {expected:?}, got {request:?} instead");
            self.events.push(ReplayEvent {
                request: request.clone(),
                outcome: ReplayOutcome::Mismatch { index, expected },
            });
            Err(message)
        }
    }

    /// Every live request seen so far, in order.
    pub fn events(&self) -> &[ReplayEvent] {
        &self.events
    }

    /// Number of exchanges consumed (matched or not).
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// Number of exchanges in the session.
    pub fn total(&self) -> usize {
        self.session.exchanges.len()
    }

    /// Exchanges never reached.
    pub fn leftovers(&self) -> &[Exchange] {
        self.session.exchanges.get(self.next..).unwrap_or_default()
    }

    /// The session being replayed.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_EXCHANGES: &str = r#"
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
    payload: '{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype"}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: instancetype.kubevirt.io/v1beta1
    kind: VirtualMachinePreference
    name: fedora
    namespace: default
    disable_cache: false
    field_masks: null
  response:
    type: Error
    message: Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachinePreference named 'fedora' inside of namespace 'Some("default")'
"#;

    fn get(kind: &str, name: &str, namespace: Option<&str>) -> CallbackRequest {
        CallbackRequest::KubernetesGetResource(KubernetesGetResource {
            api_version: "instancetype.kubevirt.io/v1beta1".to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            disable_cache: false,
            field_masks: None,
        })
    }

    fn session(text: &str) -> Session {
        Session::from_yaml_str(text, "session.yml").expect("valid session")
    }

    fn load_error(text: &str) -> String {
        Session::from_yaml_str(text, "session.yml")
            .expect_err("invalid session")
            .to_string()
    }

    #[test]
    fn parses_success_and_error_exchanges_in_order() {
        let s = session(TWO_EXCHANGES);
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(
            s.exchanges[0].request,
            get("VirtualMachineClusterInstancetype", "u1.medium", None)
        );
        assert_eq!(
            s.exchanges[0].response,
            RecordedResponse::Success {
                payload:
                    r#"{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype"}"#
                        .to_owned()
            }
        );
        assert_eq!(
            s.exchanges[1].request,
            get("VirtualMachinePreference", "fedora", Some("default"))
        );
        assert_eq!(
            s.exchanges[1].response,
            RecordedResponse::Error {
                message: "Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachinePreference named 'fedora' inside of namespace 'Some(\"default\")'".to_owned()
            }
        );
    }

    #[test]
    fn empty_list_is_a_session_without_exchanges() {
        assert!(session("[]").exchanges.is_empty());
    }

    #[test]
    fn field_masks_absent_null_and_listed() {
        let with_masks = CallbackRequest::from_yaml(
            "!KubernetesGetResource\napi_version: v1\nkind: Pod\nname: p\nnamespace: ns\ndisable_cache: true\nfield_masks:\n- metadata.name\n- spec\n",
        )
        .expect("parses");
        let CallbackRequest::KubernetesGetResource(r) = with_masks else {
            panic!("wrong variant")
        };
        assert_eq!(
            r.field_masks,
            Some(BTreeSet::from(["metadata.name".to_owned(), "spec".to_owned()]))
        );
        assert!(r.disable_cache);
        let absent = CallbackRequest::from_yaml(
            "!KubernetesGetResource\napi_version: v1\nkind: Pod\nname: p\nnamespace: ns\ndisable_cache: false\n",
        )
        .expect("parses");
        let null = CallbackRequest::from_yaml(
            "!KubernetesGetResource\napi_version: v1\nkind: Pod\nname: p\nnamespace: ns\ndisable_cache: false\nfield_masks: null\n",
        )
        .expect("parses");
        assert_eq!(absent, null);
    }

    #[test]
    fn other_kwctl_request_kinds_parse() {
        assert_eq!(
            CallbackRequest::from_yaml("!DNSLookupHost\nhost: example.com\n").expect("parses"),
            CallbackRequest::DNSLookupHost(DNSLookupHost {
                host: "example.com".to_owned()
            })
        );
        assert_eq!(
            CallbackRequest::from_yaml("!OciManifestDigest\nimage: busybox\n").expect("parses"),
            CallbackRequest::OciManifestDigest(OciImage {
                image: "busybox".to_owned()
            })
        );
        let list = CallbackRequest::from_yaml(
            "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: ns\nlabel_selector: null\nfield_selector: null\n",
        )
        .expect("parses");
        assert_eq!(list.kind(), "KubernetesListResourceNamespace");
        let unemulated = CallbackRequest::from_yaml("!KubernetesCanI\nrequest:\n  user: me\ndisable_cache: false\n")
            .expect("known kwctl kind is kept");
        assert_eq!(unemulated.kind(), "KubernetesCanI");
    }

    #[test]
    fn load_errors_name_the_file_and_the_exchange() {
        let typo = TWO_EXCHANGES.replacen("    namespace: default", "    namspace: default", 1);
        let e = load_error(&typo);
        assert!(e.starts_with("invalid replay session session.yml: exchange #2: request !KubernetesGetResource: unknown field `namspace`"), "{e}");

        let no_cache = TWO_EXCHANGES.replacen(
            "    disable_cache: false\n  response:\n    type: Success",
            "  response:\n    type: Success",
            1,
        );
        let e = load_error(&no_cache);
        assert!(
            e.contains("exchange #1: request !KubernetesGetResource: missing field `disable_cache`"),
            "{e}"
        );

        let e = load_error(&TWO_EXCHANGES.replacen("- type: Exchange", "- type: Exchnage", 1));
        assert!(
            e.contains("exchange #1: `type` must be `Exchange`, got `Exchnage`"),
            "{e}"
        );

        let e = load_error(&TWO_EXCHANGES.replacen("type: Error", "type: Failure", 1));
        assert!(e.contains("exchange #2: response: unknown variant `Failure`"), "{e}");

        let e = load_error(&TWO_EXCHANGES.replacen("!KubernetesGetResource", "!KubernetesGetResources", 1));
        assert!(
            e.contains("exchange #1: unknown request kind `!KubernetesGetResources`"),
            "{e}"
        );

        let e = load_error(&TWO_EXCHANGES.replacen("    !KubernetesGetResource\n", "", 1));
        assert!(e.contains("exchange #1: request must start with a tag"), "{e}");

        let inline = "- type: Exchange\n  request: !KubernetesGetResource\n    api_version: v1\n  response:\n    type: Success\n    payload: x\n";
        assert!(
            load_error(inline).contains("exchange #1: `request` must be a string"),
            "{}",
            load_error(inline)
        );
        let missing = "- type: Exchange\n  response:\n    type: Success\n    payload: x\n";
        assert!(
            load_error(missing).contains("exchange #1: missing field `request`"),
            "{}",
            load_error(missing)
        );
        assert!(load_error("").contains("the file is empty"));
        assert!(load_error("type: Exchange\n").contains("expected a YAML list of exchanges"));
        assert!(load_error("- [unclosed\n").contains("not valid YAML"));
    }

    #[test]
    fn replays_in_strict_order() {
        let mut r = Replayer::new(session(TWO_EXCHANGES));
        let first = r.answer(&get("VirtualMachineClusterInstancetype", "u1.medium", None));
        assert_eq!(
            first,
            Ok(
                br#"{"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype"}"#
                    .to_vec()
            )
        );
        let second = r.answer(&get("VirtualMachinePreference", "fedora", Some("default")));
        assert_eq!(
            second,
            Err("Cannot find instancetype.kubevirt.io/v1beta1/VirtualMachinePreference named 'fedora' inside of namespace 'Some(\"default\")'".to_owned())
        );
        assert_eq!((r.consumed(), r.total()), (2, 2));
        assert!(r.leftovers().is_empty());
        assert_eq!(
            r.events().iter().map(|e| e.outcome.clone()).collect::<Vec<_>>(),
            vec![
                ReplayOutcome::Replayed {
                    index: 0,
                    success: true
                },
                ReplayOutcome::Replayed {
                    index: 1,
                    success: false
                }
            ]
        );
    }

    #[test]
    fn a_mismatch_consumes_the_exchange_and_uses_kwctls_text() {
        let mut r = Replayer::new(session(TWO_EXCHANGES));
        // preference first: out of order
        let e = r
            .answer(&get("VirtualMachinePreference", "fedora", Some("default")))
            .expect_err("mismatch");
        assert_eq!(
            e,
            "Replay error: unexpected request. Was expecting KubernetesGetResource { api_version: \
             \"instancetype.kubevirt.io/v1beta1\", kind: \"VirtualMachineClusterInstancetype\", name: \"u1.medium\", \
             namespace: None, disable_cache: false, field_masks: None }, got KubernetesGetResource { api_version: \
             \"instancetype.kubevirt.io/v1beta1\", kind: \"VirtualMachinePreference\", name: \"fedora\", namespace: \
             Some(\"default\"), disable_cache: false, field_masks: None } instead"
        );
        assert_eq!(r.consumed(), 1);
        // the next call is compared with exchange #2, as in kwctl
        assert!(
            r.answer(&get("VirtualMachinePreference", "fedora", Some("default")))
                .is_err()
        );
        assert_eq!(r.consumed(), 2);
        assert!(matches!(
            r.events()[0].outcome,
            ReplayOutcome::Mismatch { index: 0, .. }
        ));
    }

    #[test]
    fn any_field_difference_is_a_mismatch() {
        let mut r = Replayer::new(session(TWO_EXCHANGES));
        let mut live = get("VirtualMachineClusterInstancetype", "u1.medium", None);
        if let CallbackRequest::KubernetesGetResource(g) = &mut live {
            g.disable_cache = true;
        }
        assert!(r.answer(&live).expect_err("mismatch").contains("disable_cache: true"));

        let mut r = Replayer::new(session(TWO_EXCHANGES));
        // namespace given for a cluster-scoped lookup
        assert!(
            r.answer(&get("VirtualMachineClusterInstancetype", "u1.medium", Some("default")))
                .is_err()
        );

        let mut r = Replayer::new(session(TWO_EXCHANGES));
        let mut masked = get("VirtualMachineClusterInstancetype", "u1.medium", None);
        if let CallbackRequest::KubernetesGetResource(g) = &mut masked {
            g.field_masks = Some(BTreeSet::from(["spec".to_owned()]));
        }
        assert!(r.answer(&masked).is_err());
    }

    #[test]
    fn running_past_the_end_is_an_error_and_leftovers_are_reported() {
        let mut r = Replayer::new(session("[]"));
        assert_eq!(
            r.answer(&get("VirtualMachineClusterInstancetype", "u1.medium", None)),
            Err("the list of recorded responses is empty".to_owned())
        );
        assert_eq!(r.events()[0].outcome, ReplayOutcome::Exhausted);

        let mut r = Replayer::new(session(TWO_EXCHANGES));
        assert!(
            r.answer(&get("VirtualMachineClusterInstancetype", "u1.medium", None))
                .is_ok()
        );
        assert_eq!(r.leftovers().len(), 1);
        assert_eq!(
            r.leftovers()[0].request,
            get("VirtualMachinePreference", "fedora", Some("default"))
        );
    }

    #[test]
    fn unemulated_requests_never_match() {
        let text = "- type: Exchange\n  request: |\n    !KubernetesCanI\n    disable_cache: false\n  response:\n    type: Success\n    payload: 'true'\n";
        let mut r = Replayer::new(session(text));
        let e = r
            .answer(&get("VirtualMachineClusterInstancetype", "u1.medium", None))
            .expect_err("mismatch");
        assert!(
            e.contains("Was expecting KubernetesCanI { disable_cache: false }"),
            "{e}"
        );
    }

    #[test]
    fn debug_of_oci_and_dns_requests_matches_kwctl() {
        assert_eq!(
            format!(
                "{:?}",
                CallbackRequest::OciManifestDigest(OciImage {
                    image: "busybox".to_owned()
                })
            ),
            "OciManifestDigest { image: \"busybox\" }"
        );
        assert_eq!(
            format!(
                "{:?}",
                CallbackRequest::DNSLookupHost(DNSLookupHost { host: "a".to_owned() })
            ),
            "DNSLookupHost { host: \"a\" }"
        );
    }
}
