//! ControllerRevisions holding instancetypes and preferences (spec §2.4).
//!
//! A revision's `data` is accepted in every form KubeVirt ever wrote:
//! - a whole `instancetype.kubevirt.io/v1beta1` object (KubeVirt v1.0+);
//! - a whole `v1alpha1`/`v1alpha2` object (v0.58–v1.6), converted as in
//!   [`crate::engine::model::legacy`];
//! - a whole `flavor.kubevirt.io/v1alpha1` object (never written by KubeVirt, accepted for symmetry
//!   with the live-object lookup);
//! - the spec-revision wrapper of v0.55–v0.57, `{"apiVersion": "<any>", "spec": "<base64 of the spec
//!   JSON>"}` (Go's `VirtualMachine{Flavor,Instancetype,Preference}SpecRevision`, whose `[]byte` spec
//!   marshals as standard padded base64). Like KubeVirt up to v1.6, the wrapper itself and the spec
//!   inside are decoded strictly (unknown fields rejected) against the `v1alpha1` schema, first as a
//!   preference spec, then as an instancetype spec; the result counts as a namespaced
//!   `VirtualMachinePreference` / `VirtualMachineInstancetype`.
//!
//! Errors keep KubeVirt's wording: `failed to decode object in ControllerRevision: <err>` and
//! `unexpected type in ControllerRevision: <type>`, where `<type>` is rendered like Go's `%T` of the
//! decoded object: `*<version>.<Kind>` (`*v1beta1.VirtualMachinePreference`, `*v1.VirtualMachine`),
//! after conversion to `v1beta1` for the kinds this crate reads. Where KubeVirt would fall through
//! to a less helpful error (an undecodable wrapper ends in "Object 'Kind' is missing"), the wrapper's
//! own problem is reported instead.

use base64::Engine as _;
use serde_json::Value;

use crate::engine::model::legacy::{self, DecodeError, ObjectCategory, ObjectType, SchemaVersion};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};

/// Label holding the generation of the stored object.
pub const OBJECT_GENERATION_LABEL: &str = "instancetype.kubevirt.io/object-generation";
/// Label holding the kind of the stored object.
pub const OBJECT_KIND_LABEL: &str = "instancetype.kubevirt.io/object-kind";
/// Label holding the name of the stored object.
pub const OBJECT_NAME_LABEL: &str = "instancetype.kubevirt.io/object-name";
/// Label holding the UID of the stored object.
pub const OBJECT_UID_LABEL: &str = "instancetype.kubevirt.io/object-uid";
/// Label holding the API version of the stored object (`v1beta1`).
pub const OBJECT_VERSION_LABEL: &str = "instancetype.kubevirt.io/object-version";

/// The spec a ControllerRevision holds, converted to `v1beta1`.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // decoded once per lookup and unwrapped at once; boxing buys nothing
pub enum RevisionSpec {
    /// An instancetype (or flavor) spec.
    Instancetype(InstancetypeSpec),
    /// A preference spec.
    Preference(PreferenceSpec),
}

/// How a revision stored its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionFormat {
    /// A whole object of the given schema version.
    Object(SchemaVersion),
    /// The v0.55–v0.57 base64 spec-revision wrapper.
    SpecWrapper,
}

/// A decoded ControllerRevision with what it held.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRevision {
    /// The converted spec.
    pub spec: RevisionSpec,
    /// The `v1beta1` kind the content converts to (`VirtualMachineClusterInstancetype`, ...).
    pub kind: &'static str,
    /// How it was stored.
    pub format: RevisionFormat,
}

impl DecodedRevision {
    /// The Go `%T` rendering of the converted object (`*v1beta1.VirtualMachineInstancetype`).
    pub fn go_type(&self) -> String {
        format!("*v1beta1.{}", self.kind)
    }
}

/// Decodes a ControllerRevision's `data` into an instancetype or preference spec.
pub fn decode_controller_revision(revision: &Value) -> Result<RevisionSpec, DecodeError> {
    decode_controller_revision_detailed(revision).map(|decoded| decoded.spec)
}

/// Decodes a ControllerRevision that must hold an instancetype; a preference gives KubeVirt's
/// `unexpected type in ControllerRevision: *v1beta1.VirtualMachinePreference`.
pub fn decode_instancetype_revision(revision: &Value) -> Result<InstancetypeSpec, DecodeError> {
    let decoded = decode_controller_revision_detailed(revision)?;
    let go_type = decoded.go_type();
    match decoded.spec {
        RevisionSpec::Instancetype(spec) => Ok(spec),
        RevisionSpec::Preference(_) => Err(DecodeError::UnexpectedRevisionType(go_type)),
    }
}

/// Decodes a ControllerRevision that must hold a preference (see [`decode_instancetype_revision`]).
pub fn decode_preference_revision(revision: &Value) -> Result<PreferenceSpec, DecodeError> {
    let decoded = decode_controller_revision_detailed(revision)?;
    let go_type = decoded.go_type();
    match decoded.spec {
        RevisionSpec::Preference(spec) => Ok(spec),
        RevisionSpec::Instancetype(_) => Err(DecodeError::UnexpectedRevisionType(go_type)),
    }
}

/// Decodes a ControllerRevision, also telling what kind and format it held.
pub fn decode_controller_revision_detailed(revision: &Value) -> Result<DecodedRevision, DecodeError> {
    let Some(revision) = revision.as_object() else {
        return Err(DecodeError::NotAnObject {
            what: "ControllerRevision",
            found: legacy::type_name(revision),
        });
    };
    let data = match revision.get("data") {
        None | Some(Value::Null) => return Err(DecodeError::MissingRevisionData),
        Some(data) => data,
    };
    if !data.is_object() {
        return Err(wrap(DecodeError::NotAnObject {
            what: "ControllerRevision data",
            found: legacy::type_name(data),
        }));
    }
    if let Some(encoded) = wrapper_spec(data) {
        return decode_wrapper(encoded).map_err(wrap);
    }
    decode_object(data)
}

/// The base64 `spec` when `data` has the exact shape of the spec-revision wrapper.
fn wrapper_spec(data: &Value) -> Option<&str> {
    let map = data.as_object()?;
    let only_wrapper_keys = map.keys().all(|key| key == "apiVersion" || key == "spec");
    let api_version_ok = map.get("apiVersion").is_none_or(|v| v.is_string() || v.is_null());
    let spec = map.get("spec")?.as_str()?;
    (only_wrapper_keys && api_version_ok).then_some(spec)
}

fn decode_wrapper(encoded: &str) -> Result<DecodedRevision, DecodeError> {
    // Go's base64 decoding (as used by encoding/json for []byte) skips CR and LF.
    let cleaned: String = encoded.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|err| DecodeError::WrapperBase64(err.to_string()))?;
    let mut spec: Value = serde_json::from_slice(&bytes).map_err(|err| DecodeError::WrapperJson(err.to_string()))?;
    if spec.is_null() {
        // Go unmarshals `null` into a struct as a no-op: an empty spec.
        spec = Value::Object(serde_json::Map::new());
    }
    let preference_error = match legacy::strict_v1alpha1_preference_spec(&spec) {
        Ok(preference) => {
            return Ok(DecodedRevision {
                spec: RevisionSpec::Preference(preference),
                kind: "VirtualMachinePreference",
                format: RevisionFormat::SpecWrapper,
            });
        }
        Err(err) => err,
    };
    match legacy::strict_v1alpha1_instancetype_spec(&spec) {
        Ok(instancetype) => Ok(DecodedRevision {
            spec: RevisionSpec::Instancetype(instancetype),
            kind: "VirtualMachineInstancetype",
            format: RevisionFormat::SpecWrapper,
        }),
        Err(instancetype_error) => Err(DecodeError::WrapperSpec {
            preference: Box::new(preference_error),
            instancetype: Box::new(instancetype_error),
        }),
    }
}

fn decode_object(data: &Value) -> Result<DecodedRevision, DecodeError> {
    let api_version = data.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = data.get("kind").and_then(Value::as_str).unwrap_or_default();
    // The order of Kubernetes' JSON serializer: the kind is checked first.
    if kind.is_empty() {
        return Err(wrap(missing_type_meta("Kind", data)));
    }
    if api_version.is_empty() {
        return Err(wrap(missing_type_meta("apiVersion", data)));
    }
    let found: ObjectType = match legacy::object_type(data) {
        Ok(found) => found,
        Err(_) => return Err(DecodeError::UnexpectedRevisionType(go_type_name(api_version, kind))),
    };
    let spec = match found.category {
        ObjectCategory::Instancetype => legacy::instancetype_spec_from_object(data).map(RevisionSpec::Instancetype),
        ObjectCategory::Preference => legacy::preference_spec_from_object(data).map(RevisionSpec::Preference),
    }
    .map_err(wrap)?;
    Ok(DecodedRevision {
        spec,
        kind: found.v1beta1_kind(),
        format: RevisionFormat::Object(found.version),
    })
}

fn wrap(err: DecodeError) -> DecodeError {
    DecodeError::RevisionObject(Box::new(err))
}

fn missing_type_meta(field: &'static str, data: &Value) -> DecodeError {
    DecodeError::MissingTypeMeta {
        path: field_path(field),
        message: format!("Object '{field}' is missing in '{data}'"),
    }
}

fn field_path(field: &'static str) -> String {
    match field {
        "Kind" => "data.kind".to_owned(),
        _ => "data.apiVersion".to_owned(),
    }
}

/// Go's `%T` of a registered object: `*<version>.<Kind>` (`v1` for the core group).
fn go_type_name(api_version: &str, kind: &str) -> String {
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, version)| version);
    format!("*{version}.{kind}")
}

/// The `instancetype.kubevirt.io/object-name` label of a ControllerRevision, if any.
pub fn revision_object_name_label(revision: &Value) -> Option<&str> {
    revision
        .get("metadata")?
        .get("labels")?
        .get(OBJECT_NAME_LABEL)?
        .as_str()
}

/// The name KubeVirt gives the ControllerRevision storing `object_name` for `vm_name`:
/// `<vm>-<object>-v1beta1-<uid>-<generation>`.
pub fn controller_revision_name(vm_name: &str, object_name: &str, uid: &str, generation: i64) -> String {
    format!("{vm_name}-{object_name}-v1beta1-{uid}-{generation}")
}

/// The name KubeVirt v0.55–v1.2 used, before the version became part of it:
/// `<vm>-<object>-<uid>-<generation>`.
pub fn legacy_controller_revision_name(vm_name: &str, object_name: &str, uid: &str, generation: i64) -> String {
    format!("{vm_name}-{object_name}-{uid}-{generation}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    fn revision(data: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
               "metadata": {"name": "r", "labels": {OBJECT_NAME_LABEL: "u1.medium"}}, "data": data})
    }

    fn wrapper(spec: &Value) -> Value {
        let encoded = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(spec).unwrap());
        revision(json!({"apiVersion": "instancetype.kubevirt.io/v1alpha1", "spec": encoded}))
    }

    fn it_spec() -> Value {
        json!({"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}})
    }

    #[test]
    fn v1beta1_objects_of_all_four_kinds_decode() {
        for (kind, instancetype) in [
            ("VirtualMachineInstancetype", true),
            ("VirtualMachineClusterInstancetype", true),
            ("VirtualMachinePreference", false),
            ("VirtualMachineClusterPreference", false),
        ] {
            let spec = if instancetype {
                it_spec()
            } else {
                json!({"cpu": {"preferredCPUTopology": "cores"}})
            };
            let decoded = decode_controller_revision_detailed(&revision(
                json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}),
            ))
            .unwrap();
            assert_eq!(decoded.kind, kind);
            assert_eq!(decoded.format, RevisionFormat::Object(SchemaVersion::V1beta1));
            assert_eq!(
                matches!(decoded.spec, RevisionSpec::Instancetype(_)),
                instancetype,
                "{kind}"
            );
        }
    }

    #[test]
    fn v1alpha_objects_are_converted() {
        for version in ["v1alpha1", "v1alpha2"] {
            let data = json!({"apiVersion": format!("instancetype.kubevirt.io/{version}"),
                              "kind": "VirtualMachineClusterInstancetype", "spec": it_spec()});
            let RevisionSpec::Instancetype(spec) = decode_controller_revision(&revision(data)).unwrap() else {
                panic!("not an instancetype");
            };
            assert_eq!(spec.cpu.model.as_deref(), Some(""), "{version}");
            assert_eq!(spec.cpu.dedicated_cpu_placement, Some(false));
            let data = json!({"apiVersion": format!("instancetype.kubevirt.io/{version}"),
                              "kind": "VirtualMachinePreference", "spec": {"cpu": {"preferredCPUTopology": ""}}});
            let RevisionSpec::Preference(spec) = decode_controller_revision(&revision(data)).unwrap() else {
                panic!("not a preference");
            };
            assert_eq!(spec.cpu.unwrap().preferred_cpu_topology, None);
        }
    }

    #[test]
    fn flavor_objects_decode() {
        let data = json!({"apiVersion": "flavor.kubevirt.io/v1alpha1", "kind": "VirtualMachineClusterFlavor", "spec": it_spec()});
        let decoded = decode_controller_revision_detailed(&revision(data)).unwrap();
        assert_eq!(decoded.kind, "VirtualMachineClusterInstancetype");
        assert_eq!(decoded.format, RevisionFormat::Object(SchemaVersion::Flavor));
        let data = json!({"apiVersion": "flavor.kubevirt.io/v1alpha1", "kind": "VirtualMachinePreference",
                          "spec": {"devices": {"preferredDiskBus": "virtio"}}});
        assert!(matches!(
            decode_controller_revision(&revision(data)).unwrap(),
            RevisionSpec::Preference(_)
        ));
    }

    #[test]
    fn wrapper_with_instancetype_spec_decodes_as_instancetype() {
        let decoded = decode_controller_revision_detailed(&wrapper(&it_spec())).unwrap();
        assert_eq!(decoded.format, RevisionFormat::SpecWrapper);
        assert_eq!(decoded.kind, "VirtualMachineInstancetype");
        let RevisionSpec::Instancetype(spec) = decoded.spec else {
            panic!("not an instancetype")
        };
        assert_eq!(spec.cpu.guest, 2);
        assert_eq!(spec.cpu.model.as_deref(), Some(""));
        assert_eq!(spec.cpu.isolate_emulator_thread, Some(false));
    }

    #[test]
    fn wrapper_with_preference_spec_decodes_as_preference() {
        let decoded =
            decode_controller_revision(&wrapper(&json!({"cpu": {"preferredCPUTopology": "preferThreads"}}))).unwrap();
        let RevisionSpec::Preference(spec) = decoded else {
            panic!("not a preference")
        };
        assert_eq!(
            spec.cpu.unwrap().preferred_cpu_topology.as_deref(),
            Some("preferThreads")
        );
    }

    #[test]
    fn wrapper_tries_preference_first() {
        // `{}` and `{"cpu": {}}` are valid as both; KubeVirt picks the preference.
        for spec in [json!({}), json!({"cpu": {}})] {
            assert!(
                matches!(
                    decode_controller_revision(&wrapper(&spec)).unwrap(),
                    RevisionSpec::Preference(_)
                ),
                "{spec}"
            );
        }
    }

    #[test]
    fn wrapper_spec_is_strict() {
        let err = decode_controller_revision(&wrapper(
            &json!({"cpu": {"guest": 2, "maxSockets": 4}, "memory": {"guest": "1Gi"}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to decode object in ControllerRevision: spec-revision wrapper holds neither a preference spec \
             (spec.cpu.guest: unknown field) nor an instancetype spec (spec.cpu.maxSockets: unknown field)"
        );
        // v1alpha2-only preference fields are unknown to the v1alpha1 wrapper schema.
        let err =
            decode_controller_revision(&wrapper(&json!({"volumes": {"preferredStorageClassName": "x"}}))).unwrap_err();
        assert!(err.to_string().contains("(spec.volumes: unknown field)"), "{err}");
    }

    #[test]
    fn wrapper_type_errors_are_reported() {
        let err = decode_controller_revision(&wrapper(&json!({"cpu": {"guest": "two"}, "memory": {"guest": "1Gi"}})))
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with(r#"nor an instancetype spec (spec.cpu.guest: invalid type: string "two", expected u32)"#),
            "{err}"
        );
    }

    #[test]
    fn wrapper_with_extra_keys_is_not_a_wrapper() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(b"{}");
        let err =
            decode_controller_revision(&revision(json!({"apiVersion": "x", "spec": encoded, "extra": 1}))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to decode object in ControllerRevision: Object 'Kind' is missing in '"),
            "{err}"
        );
    }

    #[test]
    fn wrapper_without_api_version_and_with_line_breaks_decodes() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&it_spec()).unwrap());
        let (head, tail) = encoded.split_at(8);
        let data = json!({"spec": format!("{head}\r\n{tail}")});
        assert!(matches!(
            decode_controller_revision(&revision(data)).unwrap(),
            RevisionSpec::Instancetype(_)
        ));
    }

    #[test]
    fn wrapper_with_bad_base64_is_reported() {
        let err = decode_controller_revision(&revision(json!({"apiVersion": "", "spec": "%%%"}))).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "failed to decode object in ControllerRevision: spec-revision wrapper: spec is not valid base64"
            ),
            "{err}"
        );
        assert_eq!(err.field(), Some("data.spec"));
    }

    #[test]
    fn wrapper_with_bad_json_is_reported() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(b"{nope");
        let err = decode_controller_revision(&revision(json!({"spec": encoded}))).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "failed to decode object in ControllerRevision: spec-revision wrapper: spec is not valid JSON"
            ),
            "{err}"
        );
    }

    #[test]
    fn wrapper_holding_null_is_an_empty_preference() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(b"null");
        let decoded = decode_controller_revision(&revision(json!({"spec": encoded}))).unwrap();
        assert_eq!(decoded, RevisionSpec::Preference(PreferenceSpec::default()));
    }

    #[test]
    fn unexpected_type_is_rendered_like_go() {
        let err = decode_controller_revision(&revision(
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine"}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected type in ControllerRevision: *v1.VirtualMachine"
        );
        let err = decode_controller_revision(&revision(json!({"apiVersion": "v1", "kind": "ConfigMap"}))).unwrap_err();
        assert_eq!(err.to_string(), "unexpected type in ControllerRevision: *v1.ConfigMap");
    }

    #[test]
    fn wrong_category_is_an_unexpected_type() {
        let data = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference", "spec": {}});
        let err = decode_instancetype_revision(&revision(data)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected type in ControllerRevision: *v1beta1.VirtualMachineClusterPreference"
        );
        let err = decode_preference_revision(&wrapper(&it_spec())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected type in ControllerRevision: *v1beta1.VirtualMachineInstancetype"
        );
        assert_eq!(decode_instancetype_revision(&wrapper(&it_spec())).unwrap().cpu.guest, 2);
        assert_eq!(
            decode_preference_revision(&wrapper(&json!({}))).unwrap(),
            PreferenceSpec::default()
        );
    }

    #[test]
    fn spec_errors_use_the_failed_to_decode_wording() {
        let data = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype",
                          "spec": {"cpu": {"guest": "x"}, "memory": {"guest": "1Gi"}}});
        let err = decode_controller_revision(&revision(data)).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"failed to decode object in ControllerRevision: spec.cpu.guest: invalid type: string "x", expected u32"#
        );
        assert_eq!(err.field(), Some("spec.cpu.guest"));
    }

    #[test]
    fn missing_kind_and_api_version_use_kubernetes_wording() {
        let err = decode_controller_revision(&revision(
            json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "spec": {}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"failed to decode object in ControllerRevision: Object 'Kind' is missing in '{"apiVersion":"instancetype.kubevirt.io/v1beta1","spec":{}}'"#
        );
        // Kubernetes' text names no path; the cause's field still does.
        assert_eq!(err.field(), Some("data.kind"));
        let err = decode_controller_revision(&revision(json!({"kind": "VirtualMachinePreference"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"failed to decode object in ControllerRevision: Object 'apiVersion' is missing in '{"kind":"VirtualMachinePreference"}'"#
        );
        assert_eq!(err.field(), Some("data.apiVersion"));
    }

    #[test]
    fn missing_or_null_data_is_reported() {
        for value in [json!({"metadata": {"name": "r"}}), json!({"data": null})] {
            let err = decode_controller_revision(&value).unwrap_err();
            assert_eq!(err, DecodeError::MissingRevisionData);
            assert_eq!(err.to_string(), "unexpected type in ControllerRevision: <nil>");
        }
    }

    #[test]
    fn data_that_is_not_an_object_is_reported() {
        let err = decode_controller_revision(&revision(json!("text"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to decode object in ControllerRevision: ControllerRevision data is not a JSON object (found a string)"
        );
        let err = decode_controller_revision(&json!([])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ControllerRevision is not a JSON object (found an array)"
        );
    }

    #[test]
    fn object_name_label_is_read() {
        assert_eq!(revision_object_name_label(&revision(json!({}))), Some("u1.medium"));
        assert_eq!(revision_object_name_label(&json!({"metadata": {}})), None);
        assert_eq!(
            revision_object_name_label(&json!({"metadata": {"labels": {OBJECT_NAME_LABEL: 1}}})),
            None
        );
    }

    #[test]
    fn revision_names_follow_kubevirt() {
        assert_eq!(
            controller_revision_name("myvm", "u1.medium", "abc-123", 1),
            "myvm-u1.medium-v1beta1-abc-123-1"
        );
        assert_eq!(
            legacy_controller_revision_name("myvm", "u1.medium", "abc-123", 2),
            "myvm-u1.medium-abc-123-2"
        );
    }
}
