//! Decoding of every instancetype and preference API version KubeVirt ever served into the
//! `v1beta1` spec types of [`super`], following spec §1.5.
//!
//! # What each era looked like (read from KubeVirt's git history)
//!
//! | KubeVirt | Group/version | Shape of the object |
//! |---|---|---|
//! | v0.47–v0.52 | `flavor.kubevirt.io/v1alpha1` | `VirtualMachine(Cluster)Flavor` with a top-level `profiles: [{name, default, cpu}]` (no `spec`); `cpu` was a whole VMI `domain.cpu` (sockets/cores/threads, ...) and a VM picked a profile through `spec.flavor.profile` or the one marked `default: true`. No preferences. |
//! | v0.53 | `flavor.kubevirt.io/v1alpha1` | profiles dropped: `spec.cpu` is a whole VMI `domain.cpu`. No preferences. |
//! | v0.54–v0.55 | `flavor.kubevirt.io/v1alpha1` | the instancetype shape: `spec.cpu{guest, model, dedicatedCPUPlacement, numa, isolateEmulatorThread, realtime}`, `spec.memory{guest, hugepages}` (`memory.guest` was still optional), `gpus`, `hostDevices`, `ioThreadsPolicy`, `launchSecurity`; plus `VirtualMachine(Cluster)Preference` (§1.5 fields, without `devices.preferredAutoattachInputDevice`). |
//! | v0.56–v0.57 | `instancetype.kubevirt.io/v1alpha1` | the v0.55 shape renamed (no migration of flavor objects was ever shipped); `memory.guest` required; preferences gained `preferredAutoattachInputDevice`. |
//! | v0.58–v1.6 | `instancetype.kubevirt.io/v1alpha2` | v1alpha1 plus preference `volumes.preferredStorageClassName`. |
//! | v1.0+ | `instancetype.kubevirt.io/v1beta1` | the current schema ([`super`]). |
//!
//! The spec-revision wrapper (`{"apiVersion", "spec": <base64 JSON>}`) stored in ControllerRevisions
//! from v0.55 to v0.57 holds a bare spec of the v0.55/v1alpha1 shape; see [`crate::engine::revision`].
//!
//! # Conversion (spec §1.5, KubeVirt's `Convert_v1alpha{1,2}_*_To_v1beta1_*`)
//! - Old objects are decoded the way Go decoded them into the old structs: fields the old schema did
//!   not have are ignored (a `v1alpha2` object carrying `cpu.maxSockets` loses it), `null` counts as
//!   absent.
//! - Instancetype `cpu.model`, `cpu.dedicatedCPUPlacement` and `cpu.isolateEmulatorThread` were plain
//!   values, so the converted object always has them set (`Some("")`, `Some(false)` when absent).
//! - Preference `cpu.preferredCPUTopology: ""` becomes unset; every other value (`preferCores`,
//!   `preferSockets`, `preferThreads`, or anything else) is copied verbatim.
//! - Flavor-era objects (v0.54–v0.55) convert exactly like `instancetype.kubevirt.io/v1alpha1`: the Go
//!   structs were identical apart from the optional `memory.guest`.
//!
//! # Choices of this project
//! - Required fields are required: a missing `spec.cpu.guest` or `spec.memory.guest` is an error
//!   naming the field (Go silently decoded `0`). This includes v0.54–v0.55 flavors without
//!   `memory.guest`, which cannot be expressed as a v1beta1 instancetype.
//! - The v0.47–v0.53 flavor shapes carried a whole VMI CPU (explicit topology, no `guest`); no
//!   KubeVirt with instancetypes ever read them and they have no faithful v1beta1 form, so they are
//!   refused with [`DecodeError::UnsupportedFlavorSchema`].
//! - Type errors name the JSON path (`spec.cpu.guest: invalid type: string "x", expected u32`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{InstancetypeSpec, PreferenceSpec};
use crate::engine::json_text;

/// Why an instancetype, preference or ControllerRevision could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input (object, revision or spec) is not a JSON object.
    #[error("{what} is not a JSON object (found {found})")]
    NotAnObject {
        /// What was expected to be an object (`instancetype object`, `ControllerRevision`, ...).
        what: &'static str,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// `apiVersion`/`kind` name no instancetype (or no preference, whichever was asked for) this
    /// crate reads.
    #[error("unsupported object apiVersion {api_version:?} kind {kind:?}: expected {expected}")]
    UnsupportedKind {
        /// The object's `apiVersion` (empty when absent).
        api_version: String,
        /// The object's `kind` (empty when absent).
        kind: String,
        /// A description of what was accepted.
        expected: &'static str,
    },
    /// A `flavor.kubevirt.io/v1alpha1` flavor in the pre-v0.54 shape (see the module docs).
    #[error(
        "{kind} uses the flavor.kubevirt.io/v1alpha1 schema of KubeVirt {era} ({detail}), which has no instancetype equivalent; recreate it as an instancetype.kubevirt.io/v1beta1 instancetype"
    )]
    UnsupportedFlavorSchema {
        /// `VirtualMachineFlavor` or `VirtualMachineClusterFlavor`.
        kind: String,
        /// The KubeVirt releases that used the shape (`v0.47–v0.52`, `v0.53`).
        era: &'static str,
        /// What identified the shape.
        detail: &'static str,
        /// The field that identified the shape (`profiles`, `spec.cpu`).
        field: &'static str,
    },
    /// A field has the wrong type or value, is missing although required, or (in strict decoding)
    /// is unknown. `path` is the full JSON path, e.g. `spec.cpu.guest`.
    #[error("{path}: {message}")]
    Field {
        /// JSON path of the field, e.g. `spec.memory.guest` or `spec.gpus[0]`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A ControllerRevision's object without `kind` or `apiVersion`: Kubernetes' own text
    /// (`Object 'Kind' is missing in '<data>'`), which names no path; `path` is the field for a cause.
    #[error("{message}")]
    MissingTypeMeta {
        /// `data.kind` or `data.apiVersion`.
        path: String,
        /// Kubernetes' message.
        message: String,
    },
    /// The base64 `spec` of a spec-revision wrapper does not decode.
    #[error("spec-revision wrapper: spec is not valid base64: {0}")]
    WrapperBase64(String),
    /// The decoded `spec` of a spec-revision wrapper is not JSON.
    #[error("spec-revision wrapper: spec is not valid JSON: {0}")]
    WrapperJson(String),
    /// The decoded `spec` of a spec-revision wrapper is, strictly, neither a preference spec nor an
    /// instancetype spec (both attempts' errors are given).
    #[error(
        "spec-revision wrapper holds neither a preference spec ({preference}) nor an instancetype spec ({instancetype})"
    )]
    WrapperSpec {
        /// Why it is not a preference spec.
        preference: Box<DecodeError>,
        /// Why it is not an instancetype spec.
        instancetype: Box<DecodeError>,
    },
    /// KubeVirt's wording for an undecodable ControllerRevision object.
    #[error("failed to decode object in ControllerRevision: {0}")]
    RevisionObject(Box<DecodeError>),
    /// KubeVirt's wording for a ControllerRevision holding an object of another type. The type is
    /// rendered like Go's `%T`: `*<version>.<Kind>` (e.g. `*v1beta1.VirtualMachinePreference`).
    #[error("unexpected type in ControllerRevision: {0}")]
    UnexpectedRevisionType(String),
    /// The ControllerRevision has no (or a `null`) `data`; KubeVirt reports the nil object as
    /// `unexpected type in ControllerRevision: <nil>`.
    #[error("unexpected type in ControllerRevision: <nil>")]
    MissingRevisionData,
}

impl DecodeError {
    /// The JSON path of the offending field, when the error is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field { path, .. } | Self::MissingTypeMeta { path, .. } => Some(path),
            Self::UnsupportedKind { .. } => Some("kind"),
            Self::UnsupportedFlavorSchema { field, .. } => Some(field),
            Self::RevisionObject(inner) => inner.field(),
            Self::MissingRevisionData => Some("data"),
            Self::WrapperBase64(_) | Self::WrapperJson(_) => Some("data.spec"),
            Self::NotAnObject { .. } | Self::WrapperSpec { .. } | Self::UnexpectedRevisionType(_) => None,
        }
    }

    fn field_error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The schema an object or bare spec is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaVersion {
    /// `instancetype.kubevirt.io/v1beta1` (current).
    V1beta1,
    /// `instancetype.kubevirt.io/v1alpha2` (v0.58–v1.6).
    V1alpha2,
    /// `instancetype.kubevirt.io/v1alpha1` (v0.56–v1.6), also the shape inside spec-revision wrappers.
    V1alpha1,
    /// `flavor.kubevirt.io/v1alpha1` in its v0.54–v0.55 shape.
    Flavor,
}

/// Whether an object is an instancetype or a preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectCategory {
    /// `VirtualMachine(Cluster)Instancetype` or `VirtualMachine(Cluster)Flavor`.
    Instancetype,
    /// `VirtualMachine(Cluster)Preference`.
    Preference,
}

/// What an object's `apiVersion` and `kind` identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectType {
    /// The schema version.
    pub version: SchemaVersion,
    /// Instancetype or preference.
    pub category: ObjectCategory,
    /// Whether the kind is the cluster-scoped one.
    pub cluster: bool,
    /// The `kind` as written.
    pub kind: &'static str,
}

impl ObjectType {
    /// The `v1beta1` kind the object converts to (`VirtualMachineClusterPreference`, ...).
    pub fn v1beta1_kind(self) -> &'static str {
        match (self.category, self.cluster) {
            (ObjectCategory::Instancetype, false) => "VirtualMachineInstancetype",
            (ObjectCategory::Instancetype, true) => "VirtualMachineClusterInstancetype",
            (ObjectCategory::Preference, false) => "VirtualMachinePreference",
            (ObjectCategory::Preference, true) => "VirtualMachineClusterPreference",
        }
    }
}

const INSTANCETYPE_GROUP: &str = "instancetype.kubevirt.io";

const EXPECTED_ANY: &str = "an instancetype or preference kind of instancetype.kubevirt.io/v1beta1, v1alpha2 or v1alpha1 \
     (VirtualMachineInstancetype, VirtualMachineClusterInstancetype, VirtualMachinePreference, \
     VirtualMachineClusterPreference) or of flavor.kubevirt.io/v1alpha1 (VirtualMachineFlavor, \
     VirtualMachineClusterFlavor, VirtualMachinePreference, VirtualMachineClusterPreference)";
const EXPECTED_INSTANCETYPE: &str = "VirtualMachineInstancetype or VirtualMachineClusterInstancetype of \
     instancetype.kubevirt.io/v1beta1, v1alpha2 or v1alpha1, or VirtualMachineFlavor or \
     VirtualMachineClusterFlavor of flavor.kubevirt.io/v1alpha1";
const EXPECTED_PREFERENCE: &str = "VirtualMachinePreference or VirtualMachineClusterPreference of \
     instancetype.kubevirt.io/v1beta1, v1alpha2 or v1alpha1, or of flavor.kubevirt.io/v1alpha1";

/// Identifies an instancetype/preference object by `apiVersion` and `kind` (both compared exactly).
pub fn object_type(object: &Value) -> Result<ObjectType, DecodeError> {
    let map = object.as_object().ok_or(DecodeError::NotAnObject {
        what: "object",
        found: type_name(object),
    })?;
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    identify(api_version, kind).ok_or_else(|| DecodeError::UnsupportedKind {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        expected: EXPECTED_ANY,
    })
}

fn identify(api_version: &str, kind: &str) -> Option<ObjectType> {
    let version = match api_version.split_once('/') {
        Some((INSTANCETYPE_GROUP, "v1beta1")) => SchemaVersion::V1beta1,
        Some((INSTANCETYPE_GROUP, "v1alpha2")) => SchemaVersion::V1alpha2,
        Some((INSTANCETYPE_GROUP, "v1alpha1")) => SchemaVersion::V1alpha1,
        Some(("flavor.kubevirt.io", "v1alpha1")) => SchemaVersion::Flavor,
        _ => return None,
    };
    let flavor = version == SchemaVersion::Flavor;
    let (category, cluster, kind) = match kind {
        "VirtualMachineInstancetype" if !flavor => (ObjectCategory::Instancetype, false, "VirtualMachineInstancetype"),
        "VirtualMachineClusterInstancetype" if !flavor => {
            (ObjectCategory::Instancetype, true, "VirtualMachineClusterInstancetype")
        }
        "VirtualMachineFlavor" if flavor => (ObjectCategory::Instancetype, false, "VirtualMachineFlavor"),
        "VirtualMachineClusterFlavor" if flavor => (ObjectCategory::Instancetype, true, "VirtualMachineClusterFlavor"),
        "VirtualMachinePreference" => (ObjectCategory::Preference, false, "VirtualMachinePreference"),
        "VirtualMachineClusterPreference" => (ObjectCategory::Preference, true, "VirtualMachineClusterPreference"),
        _ => return None,
    };
    Some(ObjectType {
        version,
        category,
        cluster,
        kind,
    })
}

/// The schema KubeVirt reads an object of `version` with when it is served by the API server (a live
/// object, or one under admission) rather than stored in a ControllerRevision: KubeVirt's
/// instancetype CRDs serve every `instancetype.kubevirt.io` version with the same JSON (no conversion
/// webhook, one schema for all versions), and its finders and webhooks decode that JSON as `v1beta1`,
/// so `v1alpha1`/`v1alpha2` objects are read as `v1beta1`. Only a ControllerRevision's copy of an
/// old object goes through Go's conversion (§1.5). `flavor.kubevirt.io` objects keep their own shape.
fn served_schema(version: SchemaVersion) -> SchemaVersion {
    match version {
        SchemaVersion::V1alpha1 | SchemaVersion::V1alpha2 => SchemaVersion::V1beta1,
        other => other,
    }
}

/// Decodes a served instancetype object (a live object, or one under admission) into the `v1beta1`
/// spec as KubeVirt reads it: [`instancetype_spec_from_object`] with every `instancetype.kubevirt.io`
/// version read as `v1beta1` (see [`served_schema`]).
pub fn instancetype_spec_from_served_object(object: &Value) -> Result<InstancetypeSpec, DecodeError> {
    decode_instancetype_object(object, served_schema)
}

/// Decodes a served preference object (see [`instancetype_spec_from_served_object`]).
pub fn preference_spec_from_served_object(object: &Value) -> Result<PreferenceSpec, DecodeError> {
    decode_preference_object(object, served_schema)
}

/// Decodes any supported instancetype object (`instancetype.kubevirt.io/v1beta1|v1alpha2|v1alpha1`
/// `VirtualMachine(Cluster)Instancetype`, `flavor.kubevirt.io/v1alpha1` `VirtualMachine(Cluster)Flavor`)
/// into the `v1beta1` spec, converting an old version's spec as KubeVirt (up to v1.6) converts the
/// copy a ControllerRevision holds.
pub fn instancetype_spec_from_object(object: &Value) -> Result<InstancetypeSpec, DecodeError> {
    decode_instancetype_object(object, |version| version)
}

fn decode_instancetype_object(
    object: &Value,
    schema: fn(SchemaVersion) -> SchemaVersion,
) -> Result<InstancetypeSpec, DecodeError> {
    let found = object_type(object).map_err(|err| expect(err, EXPECTED_INSTANCETYPE))?;
    if found.category != ObjectCategory::Instancetype {
        return Err(unsupported(object, EXPECTED_INSTANCETYPE));
    }
    if found.version == SchemaVersion::Flavor {
        check_flavor_shape(object, found.kind)?;
    }
    let spec = object.get("spec").filter(|spec| !spec.is_null());
    let Some(spec) = spec else {
        return Err(DecodeError::field_error("spec", MISSING));
    };
    instancetype_spec_from_spec(spec, schema(found.version))
}

/// Decodes any supported preference object (`VirtualMachine(Cluster)Preference` of
/// `instancetype.kubevirt.io/v1beta1|v1alpha2|v1alpha1` or `flavor.kubevirt.io/v1alpha1`) into the
/// `v1beta1` spec, converting an old version's spec (see [`instancetype_spec_from_object`]). A
/// missing `spec` is an empty preference (as Go decodes it).
pub fn preference_spec_from_object(object: &Value) -> Result<PreferenceSpec, DecodeError> {
    decode_preference_object(object, |version| version)
}

fn decode_preference_object(
    object: &Value,
    schema: fn(SchemaVersion) -> SchemaVersion,
) -> Result<PreferenceSpec, DecodeError> {
    let found = object_type(object).map_err(|err| expect(err, EXPECTED_PREFERENCE))?;
    if found.category != ObjectCategory::Preference {
        return Err(unsupported(object, EXPECTED_PREFERENCE));
    }
    match object.get("spec").filter(|spec| !spec.is_null()) {
        Some(spec) => preference_spec_from_spec(spec, schema(found.version)),
        None => Ok(PreferenceSpec::default()),
    }
}

/// Decodes a bare instancetype spec written in `version`, converting it to `v1beta1`. Fields the
/// version does not define are ignored, as Kubernetes decoding ignores them. Errors name paths
/// starting with `spec.`.
pub fn instancetype_spec_from_spec(spec: &Value, version: SchemaVersion) -> Result<InstancetypeSpec, DecodeError> {
    if let Some(spec) = as_is(spec, version) {
        return decode_typed(spec);
    }
    let spec = prepare(spec, version, Schema::Instancetype)?;
    let spec = if version == SchemaVersion::V1beta1 {
        spec
    } else {
        convert_old_instancetype(spec)
    };
    decode_typed(&spec)
}

/// Decodes a bare preference spec written in `version`, converting it to `v1beta1` (see
/// [`instancetype_spec_from_spec`]).
pub fn preference_spec_from_spec(spec: &Value, version: SchemaVersion) -> Result<PreferenceSpec, DecodeError> {
    if let Some(spec) = as_is(spec, version) {
        return decode_typed(spec);
    }
    let spec = prepare(spec, version, Schema::Preference)?;
    let spec = if version == SchemaVersion::V1beta1 {
        spec
    } else {
        convert_old_preference(spec)
    };
    decode_typed(&spec)
}

/// The `v1beta1` instancetype spec decoded from the JSON text of the object's `spec` member alone,
/// exactly as [`instancetype_spec_from_object`] decodes it from the whole parsed object; `None` when
/// that would fail (the caller takes that path, which names the error). Parsing only the spec skips
/// the object's metadata, often most of its text.
///
/// Natively the text is decoded straight into the typed spec (by the engine's text readers, else
/// [`spec_from_clean_text`]); both wasm
/// modules (the policy and the npm package) decode it through a JSON value instead
/// ([`spec_from_text_via_value`]), the path every other input takes: a second set of spec decoders
/// would add ~5 kB gzipped to an npm module whose budget is 200 kB, and 114 kB to `policy.wasm` for
/// no measured gain (docs/performance.md). Both give the same specs (tested side by side over the
/// catalogue and hostile texts).
pub fn v1beta1_instancetype_spec_from_text(spec: &str) -> Option<InstancetypeSpec> {
    if !json_text::vouches_for(spec) {
        return None;
    }
    v1beta1_instancetype_spec_from_vouched_text(spec)
}

/// [`v1beta1_instancetype_spec_from_text`] for a preference.
pub fn v1beta1_preference_spec_from_text(spec: &str) -> Option<PreferenceSpec> {
    if !json_text::vouches_for(spec) {
        return None;
    }
    v1beta1_preference_spec_from_vouched_text(spec)
}

/// [`v1beta1_instancetype_spec_from_text`] for text [`json_text`] has already vouched for (an
/// [`crate::engine::lookup::InMemorySource`] scans an object's text once, when it keeps the object).
pub(crate) fn v1beta1_instancetype_spec_from_vouched_text(spec: &str) -> Option<InstancetypeSpec> {
    #[cfg(not(target_arch = "wasm32"))]
    return read_vouched_text(spec);
    #[cfg(target_arch = "wasm32")]
    return spec_from_text_via_value(spec, |spec| instancetype_spec_from_spec(spec, SchemaVersion::V1beta1));
}

/// [`v1beta1_preference_spec_from_text`] for text [`json_text`] has already vouched for.
pub(crate) fn v1beta1_preference_spec_from_vouched_text(spec: &str) -> Option<PreferenceSpec> {
    #[cfg(not(target_arch = "wasm32"))]
    return read_vouched_text(spec);
    #[cfg(target_arch = "wasm32")]
    return spec_from_text_via_value(spec, |spec| preference_spec_from_spec(spec, SchemaVersion::V1beta1));
}

/// A `v1beta1` spec decoded straight from its text, without a JSON tree: `Some` only for text whose
/// result is certainly what the tree decoding gives. Text without a `null` anywhere (the tree decoding
/// strips them first; `null` inside a string also counts, which only costs speed) and without
/// duplicate keys (the tree keeps the last; the typed decoding refuses known ones, and unknown ones are
/// ignored either way) decodes to the same spec; anything else, or any error, gives `None`.
pub fn spec_from_clean_text<T: serde::de::DeserializeOwned>(spec: &str) -> Option<T> {
    if !json_text::vouches_for(spec) {
        return None;
    }
    spec_from_vouched_text(spec)
}

/// [`spec_from_clean_text`] for text [`json_text`] has already vouched for.
pub(crate) fn spec_from_vouched_text<T: serde::de::DeserializeOwned>(spec: &str) -> Option<T> {
    if !is_null_free_object(spec) {
        return None;
    }
    serde_json::from_str(spec).ok()
}

/// Whether a vouched text is an object without `null` anywhere: what the straight decodings take.
fn is_null_free_object(spec: &str) -> bool {
    spec.starts_with('{') && !spec.contains("null")
}

/// [`spec_from_vouched_text`] through the text readers of [`super::from_text`] first, and through
/// `serde` when they are unsure: the same spec, for about four fifths of the instructions.
#[cfg(not(target_arch = "wasm32"))]
fn read_vouched_text<T: serde::de::DeserializeOwned + super::from_text::FromText>(spec: &str) -> Option<T> {
    if !is_null_free_object(spec) {
        return None;
    }
    super::from_text::spec_from_text(spec).or_else(|| serde_json::from_str(spec).ok())
}

/// A `v1beta1` spec decoded from its text through a JSON value, by `decode` (the tree decoding).
pub fn spec_from_text_via_value<T>(spec: &str, decode: impl FnOnce(&Value) -> Result<T, DecodeError>) -> Option<T> {
    let spec = serde_json::from_str::<Value>(spec)
        .ok()
        .filter(|spec| !spec.is_null())?;
    decode(&spec).ok()
}

/// Strictly decodes the bare `v1alpha1` instancetype spec of a spec-revision wrapper: any field
/// `v1alpha1` does not define is an error (`spec.cpu.foo: unknown field`). Nested KubeVirt
/// structures copied verbatim (NUMA, hugepages, GPUs, ...) are not checked key by key.
pub fn strict_v1alpha1_instancetype_spec(spec: &Value) -> Result<InstancetypeSpec, DecodeError> {
    check_strict(
        spec,
        schema_fields(SchemaVersion::V1alpha1, Schema::Instancetype),
        "spec",
    )?;
    instancetype_spec_from_spec(spec, SchemaVersion::V1alpha1)
}

/// Strictly decodes the bare `v1alpha1` preference spec of a spec-revision wrapper (see
/// [`strict_v1alpha1_instancetype_spec`]).
pub fn strict_v1alpha1_preference_spec(spec: &Value) -> Result<PreferenceSpec, DecodeError> {
    check_strict(spec, schema_fields(SchemaVersion::V1alpha1, Schema::Preference), "spec")?;
    preference_spec_from_spec(spec, SchemaVersion::V1alpha1)
}

const MISSING: &str = "missing required field";

fn expect(err: DecodeError, expected: &'static str) -> DecodeError {
    match err {
        DecodeError::UnsupportedKind { api_version, kind, .. } => DecodeError::UnsupportedKind {
            api_version,
            kind,
            expected,
        },
        other => other,
    }
}

fn unsupported(object: &Value, expected: &'static str) -> DecodeError {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    DecodeError::UnsupportedKind {
        api_version: text("apiVersion"),
        kind: text("kind"),
        expected,
    }
}

/// Refuses the pre-v0.54 flavor shapes (module docs).
fn check_flavor_shape(object: &Value, kind: &str) -> Result<(), DecodeError> {
    if object.get("profiles").is_some() && object.get("spec").is_none() {
        return Err(DecodeError::UnsupportedFlavorSchema {
            kind: kind.to_owned(),
            era: "v0.47–v0.52",
            detail: "top-level profiles, each with a whole VMI domain.cpu",
            field: "profiles",
        });
    }
    const VMI_CPU_ONLY: [&str; 6] = [
        "sockets",
        "cores",
        "threads",
        "features",
        "dedicatedCpuPlacement",
        "mask",
    ];
    let vmi_cpu = object
        .get("spec")
        .and_then(|spec| spec.get("cpu"))
        .and_then(Value::as_object)
        .filter(|cpu| !cpu.contains_key("guest") && VMI_CPU_ONLY.iter().any(|key| cpu.contains_key(*key)));
    match vmi_cpu {
        Some(_) => Err(DecodeError::UnsupportedFlavorSchema {
            kind: kind.to_owned(),
            era: "v0.53",
            detail: "spec.cpu is a whole VMI domain.cpu without guest",
            field: "spec.cpu",
        }),
        None => Ok(()),
    }
}

/// One known field of an old schema; `nested` lists the known fields of an object value, `None`
/// means "any value, not inspected" (scalars and KubeVirt structures copied verbatim).
#[derive(Debug, Clone, Copy)]
struct Known {
    name: &'static str,
    nested: Option<Fields>,
}

/// The known fields of one object level.
type Fields = &'static [Known];

const fn leaf(name: &'static str) -> Known {
    Known { name, nested: None }
}

const fn nested(name: &'static str, fields: Fields) -> Known {
    Known {
        name,
        nested: Some(fields),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    Instancetype,
    Preference,
}

const IT_CPU: Fields = &[
    leaf("guest"),
    leaf("model"),
    leaf("dedicatedCPUPlacement"),
    leaf("numa"),
    leaf("isolateEmulatorThread"),
    leaf("realtime"),
];
const IT_MEMORY: Fields = &[leaf("guest"), leaf("hugepages")];
const IT_SPEC: Fields = &[
    nested("cpu", IT_CPU),
    nested("memory", IT_MEMORY),
    leaf("gpus"),
    leaf("hostDevices"),
    leaf("ioThreadsPolicy"),
    leaf("launchSecurity"),
];

const PREF_CLOCK: Fields = &[leaf("preferredClockOffset"), leaf("preferredTimer")];
const PREF_CPU: Fields = &[leaf("preferredCPUTopology")];
/// v1alpha1/v1alpha2 device preferences; the flavor era lacked the first entry.
const PREF_DEVICES: Fields = &[
    leaf("preferredAutoattachInputDevice"),
    leaf("preferredAutoattachGraphicsDevice"),
    leaf("preferredAutoattachMemBalloon"),
    leaf("preferredAutoattachPodInterface"),
    leaf("preferredAutoattachSerialConsole"),
    leaf("preferredDisableHotplug"),
    leaf("preferredVirtualGPUOptions"),
    leaf("preferredSoundModel"),
    leaf("preferredUseVirtioTransitional"),
    leaf("preferredInputBus"),
    leaf("preferredInputType"),
    leaf("preferredDiskBus"),
    leaf("preferredLunBus"),
    leaf("preferredCdromBus"),
    leaf("preferredDiskDedicatedIoThread"),
    leaf("preferredDiskCache"),
    leaf("preferredDiskIO"),
    leaf("preferredDiskBlockSize"),
    leaf("preferredInterfaceModel"),
    leaf("preferredRng"),
    leaf("preferredBlockMultiQueue"),
    leaf("preferredNetworkInterfaceMultiQueue"),
    leaf("preferredTPM"),
];
const PREF_DEVICES_FLAVOR: Fields = match PREF_DEVICES.split_first() {
    Some((_, rest)) => rest,
    None => PREF_DEVICES,
};
const PREF_FEATURES: Fields = &[
    leaf("preferredAcpi"),
    leaf("preferredApic"),
    leaf("preferredHyperv"),
    leaf("preferredKvm"),
    leaf("preferredPvspinlock"),
    leaf("preferredSmm"),
];
const PREF_FIRMWARE: Fields = &[
    leaf("preferredUseBios"),
    leaf("preferredUseBiosSerial"),
    leaf("preferredUseEfi"),
    leaf("preferredUseSecureBoot"),
];
const PREF_MACHINE: Fields = &[leaf("preferredMachineType")];
const PREF_VOLUMES: Fields = &[leaf("preferredStorageClassName")];
const PREF_SPEC_FLAVOR: Fields = &[
    nested("clock", PREF_CLOCK),
    nested("cpu", PREF_CPU),
    nested("devices", PREF_DEVICES_FLAVOR),
    nested("features", PREF_FEATURES),
    nested("firmware", PREF_FIRMWARE),
    nested("machine", PREF_MACHINE),
];
const PREF_SPEC_V1ALPHA1: Fields = &[
    nested("clock", PREF_CLOCK),
    nested("cpu", PREF_CPU),
    nested("devices", PREF_DEVICES),
    nested("features", PREF_FEATURES),
    nested("firmware", PREF_FIRMWARE),
    nested("machine", PREF_MACHINE),
];
const PREF_SPEC_V1ALPHA2: Fields = &[
    nested("clock", PREF_CLOCK),
    nested("cpu", PREF_CPU),
    nested("devices", PREF_DEVICES),
    nested("features", PREF_FEATURES),
    nested("firmware", PREF_FIRMWARE),
    nested("machine", PREF_MACHINE),
    nested("volumes", PREF_VOLUMES),
];

/// The field table of an old schema (`V1beta1` is never pruned, its table is unused).
fn schema_fields(version: SchemaVersion, schema: Schema) -> Fields {
    match (schema, version) {
        (Schema::Instancetype, _) => IT_SPEC,
        (Schema::Preference, SchemaVersion::Flavor) => PREF_SPEC_FLAVOR,
        (Schema::Preference, SchemaVersion::V1alpha1) => PREF_SPEC_V1ALPHA1,
        (Schema::Preference, SchemaVersion::V1alpha2 | SchemaVersion::V1beta1) => PREF_SPEC_V1ALPHA2,
    }
}

/// The spec itself when [`prepare`] would return an unchanged copy of it (a `v1beta1` object without
/// `null`s, the common case), so it is decoded in place instead of cloned first.
fn as_is(spec: &Value, version: SchemaVersion) -> Option<&Value> {
    (version == SchemaVersion::V1beta1 && spec.is_object() && !has_null_member(spec)).then_some(spec)
}

/// Whether an object at any depth has a `null` member (what [`strip_nulls`] removes).
fn has_null_member(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|child| child.is_null() || has_null_member(child)),
        Value::Array(items) => items.iter().any(has_null_member),
        _ => false,
    }
}

/// Checks the spec is an object, drops `null`s and (for old versions) fields the version lacks.
fn prepare(spec: &Value, version: SchemaVersion, schema: Schema) -> Result<Value, DecodeError> {
    if !spec.is_object() {
        return Err(DecodeError::field_error(
            "spec",
            format!("expected an object, found {}", type_name(spec)),
        ));
    }
    let mut spec = if version == SchemaVersion::V1beta1 {
        spec.clone()
    } else {
        prune(spec, schema_fields(version, schema))
    };
    // Go reads a `null` value inside a string map as `""`, the key present: kept as such.
    for map in ["annotations", "nodeSelector"] {
        if let Some(entries) = spec.get_mut(map) {
            crate::engine::json::null_strings_to_empty(entries);
        }
    }
    strip_nulls(&mut spec);
    Ok(spec)
}

/// Keeps only the keys `fields` knows, recursively; non-object values are kept for the typed
/// decoding to judge.
fn prune(value: &Value, fields: Fields) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut kept = Map::new();
    for known in fields {
        if let Some(child) = crate::engine::json::find(map, known.name) {
            let child = match known.nested {
                Some(nested) => prune(child, nested),
                None => child.clone(),
            };
            kept.insert(known.name.to_owned(), child);
        }
    }
    Value::Object(kept)
}

/// Rejects the first key `fields` does not know (Go's `json.UnmarshalStrict`).
fn check_strict(value: &Value, fields: Fields, path: &str) -> Result<(), DecodeError> {
    let Value::Object(map) = value else {
        if path == "spec" {
            return Err(DecodeError::field_error(
                path,
                format!("expected an object, found {}", type_name(value)),
            ));
        }
        return Ok(());
    };
    for (key, child) in map {
        let child_path = format!("{path}.{key}");
        match fields.iter().find(|known| known.name == key) {
            None => return Err(DecodeError::field_error(child_path, "unknown field")),
            Some(Known {
                nested: Some(nested), ..
            }) => check_strict(child, nested, &child_path)?,
            Some(Known { nested: None, .. }) => {}
        }
    }
    Ok(())
}

/// Removes `null` members of objects at any depth (Go leaves such fields at their zero value).
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, child| !child.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// v1alpha* `cpu.model`, `dedicatedCPUPlacement`, `isolateEmulatorThread` were plain values: the
/// converted pointers are always set.
fn convert_old_instancetype(mut spec: Value) -> Value {
    if let Some(cpu) = spec.get_mut("cpu").and_then(Value::as_object_mut) {
        for (key, zero) in [
            ("model", Value::String(String::new())),
            ("dedicatedCPUPlacement", Value::Bool(false)),
            ("isolateEmulatorThread", Value::Bool(false)),
        ] {
            cpu.entry(key).or_insert(zero);
        }
    }
    spec
}

/// v1alpha* `preferredCPUTopology: ""` means unset.
fn convert_old_preference(mut spec: Value) -> Value {
    let cpu = spec.get_mut("cpu").and_then(Value::as_object_mut);
    if let Some(cpu) = cpu.filter(|cpu| cpu.get("preferredCPUTopology").and_then(Value::as_str) == Some("")) {
        cpu.remove("preferredCPUTopology");
    }
    spec
}

/// Typed decoding with the failing path named (`spec.` prefixed), straight from the borrowed spec.
/// (Decoding once without tracking the path, and again with it only on failure, would save ~3 % of
/// an expansion but instantiates the large spec decoders twice: +43 kB in the npm module.)
fn decode_typed<'de, T: Deserialize<'de>>(spec: &'de Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(spec).map_err(|err| {
        let inner = err.path().to_string();
        let mut path = if inner == "." || inner.is_empty() {
            "spec".to_owned()
        } else {
            format!("spec.{inner}")
        };
        let message = err.into_inner().to_string();
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            path.push('.');
            path.push_str(field);
            return DecodeError::field_error(path, MISSING);
        }
        DecodeError::field_error(path, message)
    })
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn it_object(api_version: &str, kind: &str, spec: Value) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec})
    }

    fn basic_it_spec() -> Value {
        json!({"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}})
    }

    #[test]
    fn every_instancetype_version_and_kind_decodes() {
        for (api_version, kind) in [
            ("instancetype.kubevirt.io/v1beta1", "VirtualMachineInstancetype"),
            ("instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterInstancetype"),
            ("instancetype.kubevirt.io/v1alpha2", "VirtualMachineInstancetype"),
            ("instancetype.kubevirt.io/v1alpha2", "VirtualMachineClusterInstancetype"),
            ("instancetype.kubevirt.io/v1alpha1", "VirtualMachineInstancetype"),
            ("instancetype.kubevirt.io/v1alpha1", "VirtualMachineClusterInstancetype"),
            ("flavor.kubevirt.io/v1alpha1", "VirtualMachineFlavor"),
            ("flavor.kubevirt.io/v1alpha1", "VirtualMachineClusterFlavor"),
        ] {
            let spec = instancetype_spec_from_object(&it_object(api_version, kind, basic_it_spec()))
                .unwrap_or_else(|err| panic!("{api_version} {kind}: {err}"));
            assert_eq!(spec.cpu.guest, 2, "{api_version} {kind}");
            assert_eq!(spec.memory.guest.to_string(), "1Gi");
        }
    }

    #[test]
    fn every_preference_version_and_kind_decodes() {
        for api_version in [
            "instancetype.kubevirt.io/v1beta1",
            "instancetype.kubevirt.io/v1alpha2",
            "instancetype.kubevirt.io/v1alpha1",
            "flavor.kubevirt.io/v1alpha1",
        ] {
            for kind in ["VirtualMachinePreference", "VirtualMachineClusterPreference"] {
                let object = it_object(
                    api_version,
                    kind,
                    json!({"cpu": {"preferredCPUTopology": "preferCores"}}),
                );
                let spec =
                    preference_spec_from_object(&object).unwrap_or_else(|err| panic!("{api_version} {kind}: {err}"));
                assert_eq!(spec.cpu.unwrap().preferred_cpu_topology.as_deref(), Some("preferCores"));
            }
        }
    }

    #[test]
    fn v1beta1_instancetype_keeps_unset_cpu_fields_unset() {
        let spec = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachineInstancetype",
            basic_it_spec(),
        ))
        .unwrap();
        assert_eq!(spec.cpu.model, None);
        assert_eq!(spec.cpu.dedicated_cpu_placement, None);
        assert_eq!(spec.cpu.isolate_emulator_thread, None);
    }

    #[test]
    fn old_instancetype_cpu_values_become_always_set() {
        for api_version in [
            "instancetype.kubevirt.io/v1alpha1",
            "instancetype.kubevirt.io/v1alpha2",
            "flavor.kubevirt.io/v1alpha1",
        ] {
            let kind = if api_version.starts_with("flavor") {
                "VirtualMachineFlavor"
            } else {
                "VirtualMachineInstancetype"
            };
            let spec = instancetype_spec_from_object(&it_object(api_version, kind, basic_it_spec())).unwrap();
            assert_eq!(spec.cpu.model.as_deref(), Some(""), "{api_version}");
            assert_eq!(spec.cpu.dedicated_cpu_placement, Some(false));
            assert_eq!(spec.cpu.isolate_emulator_thread, Some(false));
        }
    }

    #[test]
    fn old_instancetype_explicit_cpu_values_are_copied() {
        let spec = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1alpha2",
            "VirtualMachineInstancetype",
            json!({"cpu": {"guest": 4, "model": "host-passthrough", "dedicatedCPUPlacement": true,
                           "isolateEmulatorThread": true, "numa": {"guestMappingPassthrough": {}}},
                   "memory": {"guest": "2Gi", "hugepages": {"pageSize": "2Mi"}},
                   "gpus": [{"name": "g", "deviceName": "d"}], "ioThreadsPolicy": "auto"}),
        ))
        .unwrap();
        assert_eq!(spec.cpu.model.as_deref(), Some("host-passthrough"));
        assert_eq!(spec.cpu.dedicated_cpu_placement, Some(true));
        assert_eq!(spec.cpu.isolate_emulator_thread, Some(true));
        assert_eq!(spec.cpu.numa, Some(json!({"guestMappingPassthrough": {}})));
        assert_eq!(spec.memory.hugepages, Some(json!({"pageSize": "2Mi"})));
        assert_eq!(spec.gpus, vec![json!({"name": "g", "deviceName": "d"})]);
        assert_eq!(spec.io_threads_policy.as_deref(), Some("auto"));
    }

    #[test]
    fn old_instancetype_ignores_fields_the_version_lacks() {
        let spec = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1alpha2",
            "VirtualMachineInstancetype",
            json!({"cpu": {"guest": 2, "maxSockets": 8}, "memory": {"guest": "1Gi", "overcommitPercent": 10},
                   "annotations": {"a": "b"}, "nodeSelector": {"x": "y"}}),
        ))
        .unwrap();
        assert_eq!(spec.cpu.max_sockets, None);
        assert_eq!(spec.memory.overcommit_percent, 0);
        assert_eq!(spec.annotations, None);
        assert_eq!(spec.node_selector, None);
    }

    #[test]
    fn v1beta1_instancetype_reads_every_current_field() {
        let spec = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachineClusterInstancetype",
            json!({"cpu": {"guest": 2, "maxSockets": 8}, "memory": {"guest": "1Gi", "overcommitPercent": 10},
                   "annotations": {"a": "b"}, "schedulerName": "s", "unknownField": 1}),
        ))
        .unwrap();
        assert_eq!(spec.cpu.max_sockets, Some(8));
        assert_eq!(spec.memory.overcommit_percent, 10);
        assert_eq!(spec.scheduler_name, "s");
    }

    #[test]
    fn old_preference_empty_topology_becomes_unset() {
        for api_version in [
            "instancetype.kubevirt.io/v1alpha1",
            "instancetype.kubevirt.io/v1alpha2",
            "flavor.kubevirt.io/v1alpha1",
        ] {
            let object = it_object(
                api_version,
                "VirtualMachinePreference",
                json!({"cpu": {"preferredCPUTopology": ""}}),
            );
            let spec = preference_spec_from_object(&object).unwrap();
            let cpu = spec.cpu.unwrap();
            assert_eq!(cpu.preferred_cpu_topology, None, "{api_version}");
        }
    }

    #[test]
    fn v1beta1_preference_empty_topology_stays_set() {
        let object = it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachinePreference",
            json!({"cpu": {"preferredCPUTopology": ""}}),
        );
        let spec = preference_spec_from_object(&object).unwrap();
        assert_eq!(spec.cpu.unwrap().preferred_cpu_topology.as_deref(), Some(""));
    }

    #[test]
    fn old_preference_topology_values_are_copied_verbatim() {
        for topology in ["preferCores", "preferSockets", "preferThreads", "somethingElse"] {
            let object = it_object(
                "instancetype.kubevirt.io/v1alpha1",
                "VirtualMachineClusterPreference",
                json!({"cpu": {"preferredCPUTopology": topology}}),
            );
            let spec = preference_spec_from_object(&object).unwrap();
            assert_eq!(spec.cpu.unwrap().preferred_cpu_topology.as_deref(), Some(topology));
        }
    }

    #[test]
    fn old_preference_fields_by_version() {
        let spec = json!({
            "devices": {"preferredAutoattachInputDevice": true, "preferredDiskBus": "virtio"},
            "volumes": {"preferredStorageClassName": "fast"},
            "firmware": {"preferredUseEfi": true, "preferredEfi": {"secureBoot": true}},
            "cpu": {"spreadOptions": {"ratio": 3}},
            "preferredSubdomain": "sub"
        });
        let v2 = preference_spec_from_spec(&spec, SchemaVersion::V1alpha2).unwrap();
        assert_eq!(v2.volumes.unwrap().preferred_storage_class_name, "fast");
        let devices = v2.devices.unwrap();
        assert_eq!(devices.preferred_autoattach_input_device, Some(true));
        assert_eq!(devices.preferred_disk_bus, "virtio");
        let firmware = v2.firmware.unwrap();
        assert_eq!(firmware.preferred_use_efi, Some(true));
        assert_eq!(firmware.preferred_efi, None);
        assert_eq!(v2.cpu.unwrap().spread_options, None);
        assert_eq!(v2.preferred_subdomain, None);

        let v1 = preference_spec_from_spec(&spec, SchemaVersion::V1alpha1).unwrap();
        assert_eq!(v1.volumes, None);
        assert_eq!(v1.devices.unwrap().preferred_autoattach_input_device, Some(true));

        let flavor = preference_spec_from_spec(&spec, SchemaVersion::Flavor).unwrap();
        assert_eq!(flavor.volumes, None);
        let devices = flavor.devices.unwrap();
        assert_eq!(devices.preferred_autoattach_input_device, None);
        assert_eq!(devices.preferred_disk_bus, "virtio");

        let beta = preference_spec_from_spec(&spec, SchemaVersion::V1beta1).unwrap();
        assert_eq!(beta.preferred_subdomain.as_deref(), Some("sub"));
        assert_eq!(beta.firmware.unwrap().preferred_efi, Some(json!({"secureBoot": true})));
    }

    #[test]
    fn type_error_names_the_field() {
        let err = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachineInstancetype",
            json!({"cpu": {"guest": "x"}, "memory": {"guest": "1Gi"}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"spec.cpu.guest: invalid type: string "x", expected u32"#
        );
        assert_eq!(err.field(), Some("spec.cpu.guest"));
    }

    #[test]
    fn type_error_in_old_object_names_the_field() {
        let err = instancetype_spec_from_object(&it_object(
            "instancetype.kubevirt.io/v1alpha1",
            "VirtualMachineInstancetype",
            json!({"cpu": {"guest": 1, "dedicatedCPUPlacement": "yes"}, "memory": {"guest": "1Gi"}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"spec.cpu.dedicatedCPUPlacement: invalid type: string "yes", expected a boolean"#
        );
    }

    #[test]
    fn type_error_in_list_names_the_index() {
        let err = preference_spec_from_spec(
            &json!({"cpu": {"preferredCPUFeatures": [{"name": "a"}]}, "devices": {"preferredDiskBus": 3}}),
            SchemaVersion::V1beta1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.devices.preferredDiskBus: invalid type: integer `3`, expected a string"
        );
        let err = instancetype_spec_from_spec(
            &json!({"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}, "gpus": {"a": 1}}),
            SchemaVersion::V1beta1,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("spec.gpus"));
    }

    #[test]
    fn bad_quantity_names_the_field() {
        let err = instancetype_spec_from_spec(
            &json!({"cpu": {"guest": 1}, "memory": {"guest": "lots"}}),
            SchemaVersion::V1beta1,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("spec.memory.guest"));
        assert!(err.to_string().starts_with("spec.memory.guest: "), "{err}");
    }

    #[test]
    fn missing_cpu_guest_names_the_field() {
        let err = instancetype_spec_from_spec(&json!({"cpu": {}, "memory": {"guest": "1Gi"}}), SchemaVersion::V1beta1)
            .unwrap_err();
        assert_eq!(err.to_string(), "spec.cpu.guest: missing required field");
    }

    #[test]
    fn missing_memory_guest_names_the_field() {
        let err = instancetype_spec_from_object(&it_object(
            "flavor.kubevirt.io/v1alpha1",
            "VirtualMachineFlavor",
            json!({"cpu": {"guest": 1}, "memory": {}}),
        ))
        .unwrap_err();
        assert_eq!(err.to_string(), "spec.memory.guest: missing required field");
    }

    #[test]
    fn missing_cpu_and_spec_name_the_field() {
        let err =
            instancetype_spec_from_spec(&json!({"memory": {"guest": "1Gi"}}), SchemaVersion::V1alpha1).unwrap_err();
        assert_eq!(err.to_string(), "spec.cpu: missing required field");
        let object = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype"});
        assert_eq!(
            instancetype_spec_from_object(&object).unwrap_err().to_string(),
            "spec: missing required field"
        );
    }

    #[test]
    fn null_counts_as_absent() {
        let spec = instancetype_spec_from_spec(
            &json!({"cpu": {"guest": 1, "model": null}, "memory": {"guest": "1Gi"}, "schedulerName": null}),
            SchemaVersion::V1alpha1,
        )
        .unwrap();
        assert_eq!(spec.cpu.model.as_deref(), Some(""));
        let err = instancetype_spec_from_spec(
            &json!({"cpu": {"guest": null}, "memory": {"guest": "1Gi"}}),
            SchemaVersion::V1beta1,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "spec.cpu.guest: missing required field");
    }

    #[test]
    fn preference_without_spec_is_empty() {
        let object = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachinePreference"});
        assert_eq!(preference_spec_from_object(&object).unwrap(), PreferenceSpec::default());
    }

    #[test]
    fn spec_that_is_not_an_object_is_rejected() {
        let err = preference_spec_from_spec(&json!("x"), SchemaVersion::V1beta1).unwrap_err();
        assert_eq!(err.to_string(), "spec: expected an object, found a string");
    }

    #[test]
    fn wrong_kind_names_api_version_and_kind() {
        let err = instancetype_spec_from_object(&json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine"}))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(r#"unsupported object apiVersion "kubevirt.io/v1" kind "VirtualMachine": expected VirtualMachineInstancetype"#), "{text}");
        assert_eq!(err.field(), Some("kind"));
    }

    #[test]
    fn preference_is_not_an_instancetype() {
        let object = it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachinePreference",
            json!({}),
        );
        let err = instancetype_spec_from_object(&object).unwrap_err();
        assert!(matches!(err, DecodeError::UnsupportedKind { ref kind, .. } if kind == "VirtualMachinePreference"));
        let object = it_object(
            "instancetype.kubevirt.io/v1beta1",
            "VirtualMachineInstancetype",
            basic_it_spec(),
        );
        let err = preference_spec_from_object(&object).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected VirtualMachinePreference or VirtualMachineClusterPreference"),
            "{err}"
        );
    }

    #[test]
    fn unknown_version_and_group_mismatch_are_rejected() {
        for (api_version, kind) in [
            ("instancetype.kubevirt.io/v1", "VirtualMachineInstancetype"),
            ("flavor.kubevirt.io/v1alpha1", "VirtualMachineInstancetype"),
            ("instancetype.kubevirt.io/v1beta1", "VirtualMachineFlavor"),
            ("instancetype.kubevirt.io/v1beta1", "virtualmachineinstancetype"),
            ("", ""),
        ] {
            let err = instancetype_spec_from_object(&it_object(api_version, kind, basic_it_spec())).unwrap_err();
            assert!(
                matches!(err, DecodeError::UnsupportedKind { .. }),
                "{api_version} {kind}: {err}"
            );
        }
    }

    #[test]
    fn non_object_input_is_rejected() {
        let err = instancetype_spec_from_object(&json!([1])).unwrap_err();
        assert_eq!(err.to_string(), "object is not a JSON object (found an array)");
    }

    #[test]
    fn flavor_profiles_schema_is_refused() {
        let object = json!({"apiVersion": "flavor.kubevirt.io/v1alpha1", "kind": "VirtualMachineFlavor",
            "profiles": [{"name": "default", "default": true, "cpu": {"sockets": 2}}]});
        let err = instancetype_spec_from_object(&object).unwrap_err();
        assert!(err.to_string().contains("KubeVirt v0.47–v0.52"), "{err}");
        assert_eq!(err.field(), Some("profiles"));
    }

    #[test]
    fn flavor_vmi_cpu_schema_is_refused() {
        let object = it_object(
            "flavor.kubevirt.io/v1alpha1",
            "VirtualMachineClusterFlavor",
            json!({"cpu": {"sockets": 2, "cores": 1}}),
        );
        let err = instancetype_spec_from_object(&object).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "VirtualMachineClusterFlavor uses the flavor.kubevirt.io/v1alpha1 schema of KubeVirt v0.53"
            ),
            "{err}"
        );
        assert_eq!(err.field(), Some("spec.cpu"));
    }

    #[test]
    fn strict_spec_rejects_unknown_fields() {
        let err = strict_v1alpha1_instancetype_spec(
            &json!({"cpu": {"guest": 1, "maxSockets": 2}, "memory": {"guest": "1Gi"}}),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "spec.cpu.maxSockets: unknown field");
        let err = strict_v1alpha1_preference_spec(&json!({"volumes": {}})).unwrap_err();
        assert_eq!(err.to_string(), "spec.volumes: unknown field");
        let err = strict_v1alpha1_preference_spec(&json!({"cpu": {"guest": 1}})).unwrap_err();
        assert_eq!(err.to_string(), "spec.cpu.guest: unknown field");
    }

    #[test]
    fn strict_spec_accepts_every_v1alpha1_field() {
        let preference = json!({
            "clock": {"preferredClockOffset": {"utc": {}}, "preferredTimer": {"hpet": {}}},
            "cpu": {"preferredCPUTopology": "preferThreads"},
            "devices": {"preferredAutoattachInputDevice": true, "preferredTPM": {}, "preferredDiskIO": "native"},
            "features": {"preferredAcpi": {}, "preferredHyperv": {"relaxed": {}}},
            "firmware": {"preferredUseBios": true, "preferredUseSecureBoot": false},
            "machine": {"preferredMachineType": "q35"}
        });
        let spec = strict_v1alpha1_preference_spec(&preference).unwrap();
        assert_eq!(spec.machine.unwrap().preferred_machine_type, "q35");
        let instancetype = json!({"cpu": {"guest": 1, "realtime": {}}, "memory": {"guest": "1Gi", "hugepages": {}},
            "gpus": [], "hostDevices": [], "ioThreadsPolicy": "shared", "launchSecurity": {}});
        let spec = strict_v1alpha1_instancetype_spec(&instancetype).unwrap();
        assert_eq!(spec.launch_security, Some(json!({})));
        assert_eq!(spec.cpu.model.as_deref(), Some(""));
    }

    /// Every field name of `fields`, as `a.b` paths.
    fn paths(fields: Fields, prefix: &str, out: &mut Vec<String>) {
        for known in fields {
            let path = if prefix.is_empty() {
                known.name.to_owned()
            } else {
                format!("{prefix}.{}", known.name)
            };
            match known.nested {
                Some(nested) => paths(nested, &path, out),
                None => out.push(path),
            }
        }
    }

    /// `section.field` for members of the objects named in `sections`, `key` for other members.
    fn leaf_paths(value: &Value, sections: &[&str], out: &mut Vec<String>) {
        for (key, child) in value.as_object().unwrap() {
            match child.as_object() {
                Some(inner) if sections.contains(&key.as_str()) => {
                    out.extend(inner.keys().map(|field| format!("{key}.{field}")));
                }
                _ => out.push(key.clone()),
            }
        }
    }

    #[test]
    fn old_schemas_lose_nothing_in_the_model() {
        let preference = json!({
            "clock": {"preferredClockOffset": {"utc": {}}, "preferredTimer": {"hpet": {}}},
            "cpu": {"preferredCPUTopology": "preferThreads"},
            "devices": {
                "preferredAutoattachInputDevice": true, "preferredAutoattachGraphicsDevice": true,
                "preferredAutoattachMemBalloon": false, "preferredAutoattachPodInterface": true,
                "preferredAutoattachSerialConsole": true, "preferredDisableHotplug": true,
                "preferredVirtualGPUOptions": {"display": {}}, "preferredSoundModel": "ich9",
                "preferredUseVirtioTransitional": true, "preferredInputBus": "usb", "preferredInputType": "tablet",
                "preferredDiskBus": "virtio", "preferredLunBus": "scsi", "preferredCdromBus": "sata",
                "preferredDiskDedicatedIoThread": true, "preferredDiskCache": "none", "preferredDiskIO": "native",
                "preferredDiskBlockSize": {"matchVolume": {}}, "preferredInterfaceModel": "virtio",
                "preferredRng": {}, "preferredBlockMultiQueue": true, "preferredNetworkInterfaceMultiQueue": true,
                "preferredTPM": {}
            },
            "features": {"preferredAcpi": {}, "preferredApic": {}, "preferredHyperv": {"relaxed": {}},
                         "preferredKvm": {}, "preferredPvspinlock": {}, "preferredSmm": {}},
            "firmware": {"preferredUseBios": true, "preferredUseBiosSerial": true, "preferredUseEfi": true,
                         "preferredUseSecureBoot": true},
            "machine": {"preferredMachineType": "q35"},
            "volumes": {"preferredStorageClassName": "fast"}
        });
        let (mut expected, mut written) = (Vec::new(), Vec::new());
        paths(PREF_SPEC_V1ALPHA2, "", &mut expected);
        leaf_paths(
            &preference,
            &["clock", "cpu", "devices", "features", "firmware", "machine", "volumes"],
            &mut written,
        );
        expected.sort();
        written.sort();
        assert_eq!(
            expected, written,
            "the test object covers the whole v1alpha2 preference schema"
        );
        let decoded = preference_spec_from_spec(&preference, SchemaVersion::V1alpha2).unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), preference);

        let instancetype = json!({
            "cpu": {"guest": 2, "model": "m", "dedicatedCPUPlacement": true, "numa": {}, "isolateEmulatorThread": true,
                    "realtime": {}},
            "memory": {"guest": "1Gi", "hugepages": {"pageSize": "1Gi"}},
            "gpus": [{"name": "a"}], "hostDevices": [{"name": "b"}], "ioThreadsPolicy": "auto",
            "launchSecurity": {"sev": {}}
        });
        let (mut expected, mut written) = (Vec::new(), Vec::new());
        paths(IT_SPEC, "", &mut expected);
        leaf_paths(&instancetype, &["cpu", "memory"], &mut written);
        expected.sort();
        written.sort();
        assert_eq!(
            expected, written,
            "the test object covers the whole v1alpha1 instancetype schema"
        );
        let decoded = instancetype_spec_from_spec(&instancetype, SchemaVersion::V1alpha1).unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), instancetype);
    }
}
