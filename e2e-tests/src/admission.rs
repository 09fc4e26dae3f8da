//! AdmissionRequest in, AdmissionResponse out, the way Kubewarden's host (policy-evaluator) does it.
//!
//! * The request file is read like `kwctl run -r`: a JSON object; if its `kind` is `AdmissionReview` the
//!   AdmissionRequest is its `request`, otherwise the whole object is taken as a bare AdmissionRequest.
//!   (A `{"request": {...}}` without `"kind": "AdmissionReview"` is therefore refused, as kwctl refuses it.)
//! * The AdmissionRequest is deserialized into policy-evaluator's `AdmissionRequest` shape and serialized back:
//!   unknown fields are dropped, `null` optionals are dropped, and — because policy-evaluator's serde_json has
//!   no `preserve_order` — every object reaches the guest with its keys sorted. [`validation_payload`] builds
//!   exactly that `{"request": ..., "settings": ...}` document.
//! * The guest's answer is the SDK's `ValidationResponse`; [`AdmissionResponse::from_policy_validation_response`]
//!   mirrors policy-evaluator's function of the same name: the patch is
//!   `json_patch::diff(request.object, mutated_object)` serialized to JSON and base64-encoded (standard
//!   alphabet, padded); an empty diff gives no patch and no `patchType`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `group`/`version`/`kind` as in the AdmissionRequest's `kind` and `requestKind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// `group`/`version`/`resource` as in the AdmissionRequest's `resource` and `requestResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
}

/// authentication/v1 `UserInfo` (k8s-openapi's shape: every field optional, `null` means absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Extra attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, Vec<String>>>,
    /// Groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// User UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// admission/v1 `AdmissionRequest`, field for field as policy-evaluator models it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Request UID, copied to the response.
    pub uid: String,
    /// Kind of the object.
    pub kind: GroupVersionKind,
    /// Resource being requested.
    pub resource: GroupVersionResource,
    /// Subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// Original kind, when converted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    /// Original resource, when converted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    /// Original subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sub_resource: Option<String>,
    /// Object name (often absent on CREATE with generateName).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    /// Who sent it (required, as in policy-evaluator).
    pub user_info: UserInfo,
    /// The object (absent/null on DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    /// The previous object (UPDATE, DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    /// Dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Operation options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl AdmissionRequest {
    /// kwctl's `build_validate_request`: take `.request` of an `AdmissionReview`, else the value itself.
    /// The error texts are kwctl's.
    pub fn from_request_document(doc: &Value) -> Result<Self, String> {
        let Some(object) = doc.as_object() else {
            return Err("Invalid request object".to_owned());
        };
        let req = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
            object
                .get("request")
                .cloned()
                .ok_or_else(|| "invalid AdmissionReview object".to_owned())?
        } else {
            doc.clone()
        };
        let hint = if object.contains_key("request")
            && object.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
        {
            " (the document has a `request` key but no `\"kind\": \"AdmissionReview\"`; kwctl then reads it as a bare AdmissionRequest)"
        } else {
            ""
        };
        serde_json::from_value(req)
            .map_err(|e| format!("cannot build AdmissionRequest object from given input: {e}{hint}"))
    }

    /// The request as the host sends it: re-serialized, with sorted keys at every level.
    pub fn to_host_value(&self) -> Value {
        canonicalize(serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// Recursively sorts object keys (what a serde_json without `preserve_order` produces), whatever this build's
/// serde_json features are.
pub fn canonicalize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonicalize(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        other => other,
    }
}

/// The `validate` payload: `{"request": <AdmissionRequest>, "settings": <settings>}` with sorted keys.
pub fn validation_payload(request: &AdmissionRequest, settings: &Map<String, Value>) -> Value {
    let mut payload = Map::new();
    payload.insert("request".to_owned(), request.to_host_value());
    payload.insert("settings".to_owned(), Value::Object(settings.clone()));
    canonicalize(Value::Object(payload))
}

/// The SDK's `ValidationResponse` (kubewarden-policy-sdk `response.rs`): snake_case keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyValidationResponse {
    /// Whether the request is accepted.
    pub accepted: bool,
    /// Rejection message.
    #[serde(default)]
    pub message: Option<String>,
    /// Rejection code.
    #[serde(default)]
    pub code: Option<u16>,
    /// The whole mutated object, for mutating policies.
    #[serde(default)]
    pub mutated_object: Option<Value>,
    /// Audit annotations.
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings for the API client.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// The SDK's `SettingsValidationResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsValidationResponse {
    /// Whether the settings are valid.
    pub valid: bool,
    /// Why not.
    #[serde(default)]
    pub message: Option<String>,
}

/// The only patch type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PatchType {
    /// RFC 6902.
    #[serde(rename = "JSONPatch")]
    JsonPatch,
}

/// `status` of a rejecting AdmissionResponse (only the fields Kubewarden fills).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionResponseStatus {
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Suggested HTTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// admission/v1 `AdmissionResponse` as policy-evaluator serializes it (and kwctl prints it):
/// `uid, allowed, patchType?, patch?, status?, auditAnnotations, warnings` — the last two are printed as
/// `null` when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's UID.
    pub uid: String,
    /// The verdict.
    pub allowed: bool,
    /// `JSONPatch` when there is a patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// Base64 (standard, padded) of the JSON patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Why it was rejected (or the policy's message/code, which Kubewarden copies even when accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    /// Audit annotations from the policy.
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings from the policy.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// policy-evaluator's message when a policy mutates a DELETE request (no incoming object).
pub const MUTATION_ON_NULL_OBJECT_MESSAGE: &str = "Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    /// A rejection with a message and code.
    pub fn reject(uid: &str, message: String, code: u16) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some(message),
                code: Some(code),
            }),
            ..Default::default()
        }
    }

    /// `internal server error: <message>`, code 500 — what a failed `validate` call (guest `Err`, trap,
    /// unparsable answer) becomes.
    pub fn reject_internal_server_error(uid: &str, message: &str) -> Self {
        Self::reject(uid, format!("internal server error: {message}"), 500)
    }

    /// policy-evaluator's `from_policy_validation_response`. `request_object` is the AdmissionRequest's
    /// `object` as the host sees it (`None` on DELETE).
    pub fn from_policy_validation_response(
        uid: &str,
        request_object: Option<&Value>,
        response: &PolicyValidationResponse,
    ) -> Result<Self, serde_json::Error> {
        let patch = match (&response.mutated_object, request_object) {
            (Some(_), None) => {
                return Ok(Self {
                    uid: uid.to_owned(),
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some(MUTATION_ON_NULL_OBJECT_MESSAGE.to_owned()),
                        code: None,
                    }),
                    ..Default::default()
                });
            }
            (Some(mutated), Some(original)) => match compute_patch(original, mutated) {
                Some(diff) => Some(STANDARD.encode(serde_json::to_string(&diff)?)),
                None => None,
            },
            (None, _) => None,
        };
        let status = (response.message.is_some() || response.code.is_some()).then(|| AdmissionResponseStatus {
            message: response.message.clone(),
            code: response.code,
        });
        Ok(Self {
            uid: uid.to_owned(),
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| PatchType::JsonPatch),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
        })
    }

    /// The decoded JSON patch, if any.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>, String> {
        self.patch.as_deref().map(decode_patch).transpose()
    }
}

/// `json_patch::diff(original, mutated)` on key-sorted copies (as the host sees them); `None` when the
/// objects are equal.
pub fn compute_patch(original: &Value, mutated: &Value) -> Option<json_patch::Patch> {
    let diff = json_patch::diff(&canonicalize(original.clone()), &canonicalize(mutated.clone()));
    (!diff.0.is_empty()).then_some(diff)
}

/// Decodes an AdmissionResponse `patch` (base64 of a JSON patch).
pub fn decode_patch(encoded: &str) -> Result<json_patch::Patch, String> {
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| format!("patch is not valid base64: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("patch is not a JSON patch: {e}"))
}

/// Applies `patch` to a copy of `object` (what the API server would store).
pub fn apply_patch(object: &Value, patch: &json_patch::Patch) -> Result<Value, String> {
    let mut doc = object.clone();
    json_patch::patch(&mut doc, patch).map_err(|e| format!("the patch does not apply to the request object: {e}"))?;
    Ok(doc)
}

/// Settings as kwctl takes them: a JSON/YAML map, `null` meaning `{}`; anything else is refused with
/// policy-evaluator's message.
pub fn settings_from_value(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err("Invalid settings in CRD, not an object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bare_request() -> Value {
        json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"},
            "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachines"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:masters"], "uid": null},
            "object": {"spec": {"template": {}}, "metadata": {"name": "vm", "labels": {"b": "2", "a": "1"}},
                       "kind": "VirtualMachine", "apiVersion": "kubevirt.io/v1"},
            "oldObject": null,
            "dryRun": false,
            "somethingNew": {"ignored": true}
        })
    }

    #[test]
    fn accepts_an_admission_review_and_a_bare_request() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": bare_request()});
        let from_review = AdmissionRequest::from_request_document(&review).expect("review");
        let from_bare = AdmissionRequest::from_request_document(&bare_request()).expect("bare");
        assert_eq!(from_review, from_bare);
        assert_eq!(from_bare.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(from_bare.namespace.as_deref(), Some("default"));
        assert_eq!(from_bare.old_object, None);
    }

    #[test]
    fn refuses_what_kwctl_refuses() {
        assert_eq!(
            AdmissionRequest::from_request_document(&json!([1])),
            Err("Invalid request object".to_owned())
        );
        assert_eq!(
            AdmissionRequest::from_request_document(&json!({"kind": "AdmissionReview"})),
            Err("invalid AdmissionReview object".to_owned())
        );
        // `{"request": ...}` without kind: kwctl reads it as a bare AdmissionRequest, which has no uid
        let e = AdmissionRequest::from_request_document(&json!({"request": bare_request()})).expect_err("refused");
        assert!(
            e.starts_with("cannot build AdmissionRequest object from given input: missing field `uid`"),
            "{e}"
        );
        assert!(e.contains("no `\"kind\": \"AdmissionReview\"`"), "{e}");
        let mut no_user = bare_request();
        no_user.as_object_mut().expect("object").remove("userInfo");
        let e = AdmissionRequest::from_request_document(&no_user).expect_err("refused");
        assert_eq!(
            e,
            "cannot build AdmissionRequest object from given input: missing field `userInfo`"
        );
    }

    #[test]
    fn the_validate_payload_is_what_policy_evaluator_sends() {
        let request = AdmissionRequest::from_request_document(&bare_request()).expect("request");
        let mut settings = Map::new();
        settings.insert("mode".to_owned(), json!("expand"));
        settings.insert("allowList".to_owned(), json!({"z": 1, "a": 2}));
        let payload = serde_json::to_string(&validation_payload(&request, &settings)).expect("json");
        // unknown fields and nulls dropped, keys sorted at every level (serde_json without preserve_order)
        assert_eq!(
            payload,
            r#"{"request":{"dryRun":false,"kind":{"group":"kubevirt.io","kind":"VirtualMachine","version":"v1"},"namespace":"default","object":{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"labels":{"a":"1","b":"2"},"name":"vm"},"spec":{"template":{}}},"operation":"CREATE","resource":{"group":"kubevirt.io","resource":"virtualmachines","version":"v1"},"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","userInfo":{"groups":["system:masters"],"username":"admin"}},"settings":{"allowList":{"a":2,"z":1},"mode":"expand"}}"#
        );
    }

    fn accepted() -> PolicyValidationResponse {
        PolicyValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    #[test]
    fn an_accepted_request_without_mutation_has_no_patch() {
        let object = json!({"a": 1});
        let r = AdmissionResponse::from_policy_validation_response("uid", Some(&object), &accepted()).expect("ok");
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            r#"{"uid":"uid","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
        // a mutated object equal to the original (keys in another order) is no mutation either
        let same = PolicyValidationResponse {
            mutated_object: Some(json!({"a": 1})),
            ..accepted()
        };
        let r = AdmissionResponse::from_policy_validation_response("uid", Some(&object), &same).expect("ok");
        assert_eq!((r.patch, r.patch_type), (None, None));
    }

    #[test]
    fn a_rejection_carries_message_code_and_warnings() {
        let rejected = PolicyValidationResponse {
            accepted: false,
            message: Some("spec.instancetype: not allowed".to_owned()),
            code: Some(422),
            warnings: Some(vec!["w".to_owned()]),
            audit_annotations: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            ..accepted()
        };
        let r = AdmissionResponse::from_policy_validation_response("uid", Some(&json!({})), &rejected).expect("ok");
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            r#"{"uid":"uid","allowed":false,"status":{"message":"spec.instancetype: not allowed","code":422},"auditAnnotations":{"k":"v"},"warnings":["w"]}"#
        );
    }

    #[test]
    fn a_mutation_becomes_a_base64_json_patch() {
        let object = json!({"spec": {"running": false, "instancetype": {"name": "u1.medium"}}});
        let mutated = json!({"spec": {"running": false, "template": {"spec": {"domain": {"cpu": {"sockets": 1}}}}}});
        let response = PolicyValidationResponse {
            mutated_object: Some(mutated.clone()),
            ..accepted()
        };
        let r = AdmissionResponse::from_policy_validation_response("uid", Some(&object), &response).expect("ok");
        assert_eq!(r.patch_type, Some(PatchType::JsonPatch));
        // json-patch 4's diff emits additions before removals
        let expected_ops = json!([
            {"op": "add", "path": "/spec/template", "value": {"spec": {"domain": {"cpu": {"sockets": 1}}}}},
            {"op": "remove", "path": "/spec/instancetype"}
        ]);
        let encoded = r.patch.clone().expect("patch");
        assert_eq!(
            encoded,
            STANDARD.encode(serde_json::to_string(&expected_ops).expect("json"))
        );
        let decoded = r.decoded_patch().expect("decodes").expect("some");
        assert_eq!(serde_json::to_value(&decoded).expect("json"), expected_ops);
        assert_eq!(apply_patch(&object, &decoded).expect("applies"), mutated);
        let line = serde_json::to_string(&r).expect("json");
        assert!(
            line.starts_with(r#"{"uid":"uid","allowed":true,"patchType":"JSONPatch","patch":""#),
            "{line}"
        );
    }

    #[test]
    fn the_patch_is_computed_on_sorted_keys() {
        // whatever the key order, the operations come out in sorted-key order, as in policy-evaluator
        let original = json!({"z": 1, "a": 1});
        let mutated = json!({"z": 2, "a": 2});
        let patch = compute_patch(&original, &mutated).expect("differs");
        let paths: Vec<String> = patch
            .0
            .iter()
            .map(|op| serde_json::to_value(op).expect("json")["path"].to_string())
            .collect();
        assert_eq!(paths, vec!["\"/a\"".to_owned(), "\"/z\"".to_owned()]);
        assert_eq!(compute_patch(&original, &json!({"a": 1, "z": 1})), None);
    }

    #[test]
    fn mutating_a_delete_is_refused() {
        let response = PolicyValidationResponse {
            mutated_object: Some(json!({"a": 1})),
            ..accepted()
        };
        let r = AdmissionResponse::from_policy_validation_response("uid", None, &response).expect("ok");
        assert!(!r.allowed);
        assert_eq!(
            r.status.and_then(|s| s.message).as_deref(),
            Some(MUTATION_ON_NULL_OBJECT_MESSAGE)
        );
        assert_eq!(r.patch, None);
    }

    #[test]
    fn internal_errors_are_500() {
        let r = AdmissionResponse::reject_internal_server_error("uid", "Guest call failure: boom");
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            r#"{"uid":"uid","allowed":false,"status":{"message":"internal server error: Guest call failure: boom","code":500},"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn the_sdk_response_shape_parses() {
        let parsed: PolicyValidationResponse = serde_json::from_str(
            r#"{"accepted":true,"message":null,"code":null,"mutated_object":{"a":1},"audit_annotations":null,"warnings":["x"]}"#,
        )
        .expect("parses");
        assert_eq!(parsed.mutated_object, Some(json!({"a": 1})));
        let minimal: PolicyValidationResponse = serde_json::from_str(r#"{"accepted":false}"#).expect("parses");
        assert!(!minimal.accepted);
        assert!(serde_json::from_str::<PolicyValidationResponse>(r#"{"allowed":true}"#).is_err());
    }

    #[test]
    fn bad_patches_do_not_panic() {
        assert!(
            decode_patch("%%%")
                .expect_err("bad")
                .starts_with("patch is not valid base64")
        );
        assert!(
            decode_patch(&STANDARD.encode("{}"))
                .expect_err("bad")
                .starts_with("patch is not a JSON patch")
        );
        let patch: json_patch::Patch =
            serde_json::from_value(json!([{"op": "remove", "path": "/missing"}])).expect("patch");
        assert!(apply_patch(&json!({}), &patch).is_err());
    }

    #[test]
    fn settings_must_be_a_map_or_null() {
        assert_eq!(settings_from_value(Value::Null), Ok(Map::new()));
        assert_eq!(settings_from_value(json!({"a": 1})).expect("map").len(), 1);
        assert_eq!(
            settings_from_value(json!([1])),
            Err("Invalid settings in CRD, not an object".to_owned())
        );
    }
}
