//! The one door between the engine and a cluster: "give me object apiVersion/kind/namespace/name".
//!
//! The engine never performs IO itself. Every object it needs (instancetypes, preferences,
//! ControllerRevisions, PVCs, DataVolumes, DataSources, VolumeSnapshots) is requested through
//! [`ObjectSource`]; the policy answers from Kubewarden host capabilities, tests and the npm package
//! from an [`InMemorySource`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::engine::json_text;
use crate::engine::model::legacy::{self, DecodeError};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};

/// Every kind of object the engine may look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// `instancetype.kubevirt.io` `VirtualMachineInstancetype` (namespaced).
    Instancetype,
    /// `instancetype.kubevirt.io` `VirtualMachineClusterInstancetype`.
    ClusterInstancetype,
    /// `instancetype.kubevirt.io` `VirtualMachinePreference` (namespaced).
    Preference,
    /// `instancetype.kubevirt.io` `VirtualMachineClusterPreference`.
    ClusterPreference,
    /// `flavor.kubevirt.io/v1alpha1` `VirtualMachineFlavor` (namespaced, v0.54–v0.55).
    Flavor,
    /// `flavor.kubevirt.io/v1alpha1` `VirtualMachineClusterFlavor` (v0.54–v0.55).
    ClusterFlavor,
    /// `flavor.kubevirt.io/v1alpha1` `VirtualMachinePreference` (namespaced, v0.54–v0.55).
    FlavorPreference,
    /// `flavor.kubevirt.io/v1alpha1` `VirtualMachineClusterPreference` (v0.54–v0.55).
    FlavorClusterPreference,
    /// `apps/v1` `ControllerRevision`.
    ControllerRevision,
    /// `v1` `PersistentVolumeClaim`.
    PersistentVolumeClaim,
    /// `cdi.kubevirt.io/v1beta1` `DataVolume`.
    DataVolume,
    /// `cdi.kubevirt.io/v1beta1` `DataSource`.
    DataSource,
    /// `snapshot.storage.k8s.io/v1` `VolumeSnapshot`.
    VolumeSnapshot,
}

impl ResourceKind {
    /// All kinds, in declaration order.
    pub const ALL: [ResourceKind; 13] = [
        Self::Instancetype,
        Self::ClusterInstancetype,
        Self::Preference,
        Self::ClusterPreference,
        Self::Flavor,
        Self::ClusterFlavor,
        Self::FlavorPreference,
        Self::FlavorClusterPreference,
        Self::ControllerRevision,
        Self::PersistentVolumeClaim,
        Self::DataVolume,
        Self::DataSource,
        Self::VolumeSnapshot,
    ];

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Self::Instancetype | Self::ClusterInstancetype | Self::Preference | Self::ClusterPreference => {
                "instancetype.kubevirt.io"
            }
            Self::Flavor | Self::ClusterFlavor | Self::FlavorPreference | Self::FlavorClusterPreference => {
                "flavor.kubevirt.io"
            }
            Self::ControllerRevision => "apps",
            Self::PersistentVolumeClaim => "",
            Self::DataVolume | Self::DataSource => "cdi.kubevirt.io",
            Self::VolumeSnapshot => "snapshot.storage.k8s.io",
        }
    }

    /// The `apiVersion` used to look the object up.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Instancetype | Self::ClusterInstancetype | Self::Preference | Self::ClusterPreference => {
                "instancetype.kubevirt.io/v1beta1"
            }
            Self::Flavor | Self::ClusterFlavor | Self::FlavorPreference | Self::FlavorClusterPreference => {
                "flavor.kubevirt.io/v1alpha1"
            }
            Self::ControllerRevision => "apps/v1",
            Self::PersistentVolumeClaim => "v1",
            Self::DataVolume | Self::DataSource => "cdi.kubevirt.io/v1beta1",
            Self::VolumeSnapshot => "snapshot.storage.k8s.io/v1",
        }
    }

    /// The singular PascalCase `kind`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Instancetype => "VirtualMachineInstancetype",
            Self::ClusterInstancetype => "VirtualMachineClusterInstancetype",
            Self::Preference | Self::FlavorPreference => "VirtualMachinePreference",
            Self::ClusterPreference | Self::FlavorClusterPreference => "VirtualMachineClusterPreference",
            Self::Flavor => "VirtualMachineFlavor",
            Self::ClusterFlavor => "VirtualMachineClusterFlavor",
            Self::ControllerRevision => "ControllerRevision",
            Self::PersistentVolumeClaim => "PersistentVolumeClaim",
            Self::DataVolume => "DataVolume",
            Self::DataSource => "DataSource",
            Self::VolumeSnapshot => "VolumeSnapshot",
        }
    }

    /// The lower-case plural resource name, as in Kubernetes error messages.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Instancetype => "virtualmachineinstancetypes",
            Self::ClusterInstancetype => "virtualmachineclusterinstancetypes",
            Self::Preference | Self::FlavorPreference => "virtualmachinepreferences",
            Self::ClusterPreference | Self::FlavorClusterPreference => "virtualmachineclusterpreferences",
            Self::Flavor => "virtualmachineflavors",
            Self::ClusterFlavor => "virtualmachineclusterflavors",
            Self::ControllerRevision => "controllerrevisions",
            Self::PersistentVolumeClaim => "persistentvolumeclaims",
            Self::DataVolume => "datavolumes",
            Self::DataSource => "datasources",
            Self::VolumeSnapshot => "volumesnapshots",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            Self::ClusterInstancetype | Self::ClusterPreference | Self::ClusterFlavor | Self::FlavorClusterPreference
        )
    }

    /// `<plural>.<group>` (or just `<plural>` for the core group), as Kubernetes names a resource.
    pub fn qualified_resource(self) -> String {
        if self.group().is_empty() {
            self.plural().to_owned()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }

    /// The kind an object declares through `apiVersion` and `kind`, if it is one of ours.
    /// The version is not compared: any version of the group matches.
    pub fn of_object(api_version: &str, kind: &str) -> Option<ResourceKind> {
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.group() == group && candidate.kind() == kind)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.kind())
    }
}

/// The identity of one object to look up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// What kind of object.
    pub kind: ResourceKind,
    /// Namespace for namespaced kinds, `None` for cluster-scoped ones.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

impl ObjectRef {
    /// A reference; `namespace` is dropped for cluster-scoped kinds.
    pub fn new(kind: ResourceKind, namespace: Option<&str>, name: &str) -> Self {
        let namespace = if kind.is_namespaced() {
            namespace.map(str::to_owned)
        } else {
            None
        };
        Self {
            kind,
            namespace,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {}/{}", self.kind.kind(), namespace, self.name),
            None => write!(f, "{} {}", self.kind.kind(), self.name),
        }
    }
}

/// Why a lookup gave no object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The object does not exist; displayed as Kubernetes does (`<resource> "<name>" not found`, the
    /// name quoted as Go's `%q` quotes it).
    #[error("{} {} not found", .0.kind.qualified_resource(), GoQuoted(&.0.name))]
    NotFound(ObjectRef),
    /// The lookup itself failed (forbidden, timeout, host error, ...).
    #[error("failed to get {object}: {message}")]
    Failed {
        /// The object asked for.
        object: ObjectRef,
        /// What the source reported.
        message: String,
    },
}

/// A text quoted as Go's `strconv.Quote` (`%q`) writes it: `"` and `\\` escaped with a backslash,
/// the usual escapes for `\a \b \f \n \r \t \v`, other control characters as `\xHH`, and characters
/// Go does not print as `\uHHHH` / `\UHHHHHHHH`. Go decides "printable" with Unicode tables; here the
/// non-printable ones are Latin-1's, separators (white space), format characters and private-use
/// and non-characters, which leaves out only code points Unicode has not assigned.
struct GoQuoted<'a>(&'a str);

impl std::fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char('"')?;
        for character in self.0.chars() {
            let code = u32::from(character);
            let (escape, digits) = match character {
                '"' | '\\' => (character, 0),
                '\u{7}' => ('a', 0),
                '\u{8}' => ('b', 0),
                '\u{c}' => ('f', 0),
                '\n' => ('n', 0),
                '\r' => ('r', 0),
                '\t' => ('t', 0),
                '\u{b}' => ('v', 0),
                '\0'..='\u{1f}' | '\u{7f}' => ('x', 2),
                _ if go_prints(character) => {
                    f.write_char(character)?;
                    continue;
                }
                _ if code < 0x10000 => ('u', 4),
                _ => ('U', 8),
            };
            f.write_char('\\')?;
            f.write_char(escape)?;
            for place in (0..digits).rev() {
                let digit = (code >> (4 * place)) & 0xf;
                f.write_char(char::from_digit(digit, 16).unwrap_or('0'))?;
            }
        }
        f.write_char('"')
    }
}

/// Whether Go's `strconv.IsPrint` holds for `character` (see [`GoQuoted`] for the approximation
/// above Latin-1).
fn go_prints(character: char) -> bool {
    let code = u32::from(character);
    if code <= 0xff {
        return (0x20..=0x7e).contains(&code) || ((0xa1..=0xff).contains(&code) && code != 0xad);
    }
    const FORMAT: &[(u32, u32)] = &[
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
    ];
    let private_use = (0xe000..=0xf8ff).contains(&code) || code >= 0xf0000;
    let non_character = (0xfdd0..=0xfdef).contains(&code) || code & 0xfffe == 0xfffe;
    !(character.is_whitespace()
        || private_use
        || non_character
        || FORMAT.iter().any(|&(first, last)| (first..=last).contains(&code)))
}

impl LookupError {
    /// Whether the object is simply absent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

/// Why an instancetype or preference spec could not be had from a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecLookupError {
    /// The object could not be fetched.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The object was fetched but is not a usable instancetype (or preference).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Where the engine gets cluster objects from. Implementations must not panic.
pub trait ObjectSource {
    /// The object named by `object`, as JSON.
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError>;

    /// The same object, shared: the engine only reads what it looks up, so a source that keeps its
    /// objects hands out a reference-counted handle instead of a deep copy of the object (the
    /// default wraps [`ObjectSource::get`], which costs nothing more).
    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        self.get(object).map(Arc::new)
    }

    /// The instancetype (or flavor) `object` decoded into the `v1beta1` spec. The default decodes
    /// what [`ObjectSource::get_shared`] answers; a source holding decoded specs answers with them.
    fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
        decode_instancetype(self.get_shared(object)?)
    }

    /// The preference `object` decoded into the `v1beta1` spec (see [`ObjectSource::instancetype_spec`]).
    fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
        decode_preference(self.get_shared(object)?)
    }

    /// The object fetched, for a wrapper that keeps what it fetched ([`RecordingSource`]): the
    /// default wraps [`ObjectSource::get_shared`]. A source that receives objects as JSON text
    /// answers with the text ([`Fetched::from_text`]), so that a spec is decoded from it without
    /// building the object's JSON tree.
    fn fetch(&self, object: &ObjectRef) -> Result<Fetched, LookupError> {
        self.get_shared(object).map(Fetched::value)
    }
}

fn decode_instancetype(object: Arc<Value>) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
    Ok(Arc::new(legacy::instancetype_spec_from_served_object(&object)?))
}

fn decode_preference(object: Arc<Value>) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
    Ok(Arc::new(legacy::preference_spec_from_served_object(&object)?))
}

impl<T: ObjectSource + ?Sized> ObjectSource for &T {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        (**self).get(object)
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        (**self).get_shared(object)
    }

    fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
        (**self).instancetype_spec(object)
    }

    fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
        (**self).preference_spec(object)
    }

    fn fetch(&self, object: &ObjectRef) -> Result<Fetched, LookupError> {
        (**self).fetch(object)
    }
}

/// One object as a source fetched it: its JSON value, or the JSON text of a `v1beta1` instancetype or
/// preference, whose spec is decoded from the text when first asked for (the object's JSON value is
/// only built if someone asks for it). Answers exactly as the parsed text would.
#[derive(Debug)]
pub struct Fetched(Held<String>);

impl Fetched {
    /// An object fetched as a JSON value.
    pub fn value(object: Arc<Value>) -> Self {
        Self(Held::Value(object))
    }

    /// The JSON text of an object asked for as `kind`, kept as text when it is a `v1beta1` object of
    /// that kind whose spec can be decoded from the text (as [`InMemorySource::insert_json`] keeps
    /// one); otherwise the text is given back, for the caller to parse (and report its errors).
    pub fn from_text(text: String, kind: ResourceKind) -> Result<Self, String> {
        let spec_at = clean_envelope(&text)
            .filter(|envelope| ResourceKind::of_object(envelope.api_version, envelope.kind) == Some(kind))
            .map(|envelope| envelope.spec_at);
        match spec_at {
            // The text moves in (no copy).
            Some(spec_at) => Ok(Self(Held::text(text, spec_at, None))),
            None => Err(text),
        }
    }

    /// The object's JSON value (built from the text the first time).
    pub fn shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        self.0.shared(object)
    }

    /// The instancetype spec of the object (see [`ObjectSource::instancetype_spec`]).
    pub fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
        self.0.instancetype_spec(object)
    }

    /// The preference spec of the object (see [`ObjectSource::preference_spec`]).
    pub fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
        self.0.preference_spec(object)
    }
}

/// An in-memory set of objects, keyed by group, kind, namespace and name (any version of a group
/// matches, so a `v1alpha2` preference answers a lookup of the `v1beta1` kind).
#[derive(Debug, Clone, Default)]
pub struct InMemorySource(Objects<Box<str>>);

/// Like [`InMemorySource`], but the JSON texts given to [`BorrowingSource::insert_json`] are kept by
/// reference instead of copied: for a caller that holds the texts anyway (read from a file or a
/// request body) for as long as it looks objects up. It reads, checks and answers exactly as an
/// `InMemorySource` with the same objects inserted.
#[derive(Debug, Clone, Default)]
pub struct BorrowingSource<'a>(Objects<&'a str>);

/// The objects of an [`InMemorySource`] (`T` is `Box<str>`: texts are copied in) or of a
/// [`BorrowingSource`] (`&str`: texts borrowed); a [`Fetched`] text is a `String` moved in.
#[derive(Debug, Clone, Default)]
struct Objects<T> {
    objects: BTreeMap<ObjectRef, Held<T>>,
    /// Whether a namespaced object without a namespace was put in the default namespace.
    takes_default_namespace: bool,
}

/// One object of an [`InMemorySource`] or a [`BorrowingSource`].
#[derive(Debug, Clone)]
enum Held<T> {
    /// Inserted as a JSON value.
    Value(Arc<Value>),
    /// A `v1beta1` instancetype or preference inserted as JSON text (shared by clones of the source,
    /// with whatever was decoded from it).
    Text(Arc<TextObject<T>>),
}

/// A `v1beta1` instancetype or preference kept as its JSON text (copied, or borrowed). Its
/// spec is decoded from the `spec` member's text when first asked for (a catalogue of objects costs
/// only the ones used), and the JSON value of the whole object is only built if someone asks for it.
#[derive(Debug)]
struct TextObject<T> {
    text: T,
    /// Where the `spec` member's text lies in `text` (vouched for by [`json_text::read_envelope`]: it
    /// reads as a JSON value).
    spec_at: std::ops::Range<usize>,
    value: OnceLock<Arc<Value>>,
    /// The decoded spec; `None` inside when the text does not decode (the JSON value's decoding then
    /// gives the error).
    spec: OnceLock<Option<DecodedSpec>>,
}

/// When the spec of an object kept as text is decoded.
#[derive(Debug, Clone, Copy)]
enum SpecDecoding {
    /// When first asked for.
    WhenAsked,
    /// As the text is read, natively (see [`envelope_with_spec`]).
    WhileReading,
}

#[derive(Debug, Clone)]
enum DecodedSpec {
    Instancetype(Arc<InstancetypeSpec>),
    Preference(Arc<PreferenceSpec>),
}

impl<T: AsRef<str>> Held<T> {
    /// A `v1beta1` instancetype or preference kept as its text, whose spec lies at `spec_at`, with
    /// the spec when it was decoded as the text was read (otherwise it is decoded when first asked for).
    fn text(text: T, spec_at: std::ops::Range<usize>, spec: Option<DecodedSpec>) -> Self {
        Self::Text(Arc::new(TextObject {
            text,
            spec_at,
            value: OnceLock::new(),
            spec: spec.map_or_else(OnceLock::new, |spec| OnceLock::from(Some(spec))),
        }))
    }

    /// The object's JSON value (parsed from the text the first time, for a `Text` object).
    fn shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        match self {
            Held::Value(value) => Ok(Arc::clone(value)),
            Held::Text(kept) => {
                if let Some(parsed) = kept.value.get() {
                    return Ok(Arc::clone(parsed));
                }
                // The text was read as a value would read it when it was kept, so this cannot fail.
                let parsed: Value = serde_json::from_str(kept.text.as_ref()).map_err(|error| LookupError::Failed {
                    object: object.clone(),
                    message: error.to_string(),
                })?;
                Ok(Arc::clone(kept.value.get_or_init(|| Arc::new(parsed))))
            }
        }
    }

    fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
        match self.decoded_spec(object.kind) {
            Some(DecodedSpec::Instancetype(spec)) => Ok(Arc::clone(spec)),
            _ => decode_instancetype(self.shared(object)?),
        }
    }

    fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
        match self.decoded_spec(object.kind) {
            Some(DecodedSpec::Preference(spec)) => Ok(Arc::clone(spec)),
            _ => decode_preference(self.shared(object)?),
        }
    }

    /// The spec decoded from the text (once), for a `Text` object.
    fn decoded_spec(&self, kind: ResourceKind) -> Option<&DecodedSpec> {
        let Self::Text(kept) = self else {
            return None;
        };
        kept.spec
            .get_or_init(|| {
                let spec_text = kept.text.as_ref().get(kept.spec_at.clone())?;
                match kind {
                    ResourceKind::Instancetype | ResourceKind::ClusterInstancetype => {
                        legacy::v1beta1_instancetype_spec_from_vouched_text(spec_text)
                            .map(|s| DecodedSpec::Instancetype(Arc::new(s)))
                    }
                    ResourceKind::Preference | ResourceKind::ClusterPreference => {
                        legacy::v1beta1_preference_spec_from_vouched_text(spec_text)
                            .map(|s| DecodedSpec::Preference(Arc::new(s)))
                    }
                    _ => None,
                }
            })
            .as_ref()
    }
}

/// The envelope of a `v1beta1` object whose spec may be decoded from its text: read by
/// [`json_text::read_envelope`], which vouches that reading the text into a JSON value succeeds
/// and gives the same members (its spec included). `None` for anything else (not an object, another
/// version, no spec, text the scan cannot vouch for), which takes the general path.
fn clean_envelope(text: &str) -> Option<json_text::Envelope<'_>> {
    json_text::read_envelope(text)
        .ok()
        .filter(|envelope| envelope.api_version == V1BETA1)
}

/// The `apiVersion` of the objects kept as text.
const V1BETA1: &str = "instancetype.kubevirt.io/v1beta1";

/// [`clean_envelope`], with the spec of an instancetype or preference decoded as the text is read
/// (natively, by the text readers of [`crate::engine::model::from_text`], which check the spec as
/// the scan would: one pass instead of a scan, then a decoding), when they read it; `None` inside
/// leaves the decoding for when the spec is first asked for. The wasm modules only scan the text.
fn envelope_with_spec(text: &str) -> Option<(json_text::Envelope<'_>, Option<DecodedSpec>)> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use crate::engine::model::from_text::FromText;
        let read = |api_version: &str, kind: &str, scan: &mut json_text::Scanner<'_>| {
            if api_version != V1BETA1 {
                return None;
            }
            match ResourceKind::of_object(api_version, kind)? {
                ResourceKind::Instancetype | ResourceKind::ClusterInstancetype => InstancetypeSpec::read(scan)
                    .ok()
                    .map(|spec| DecodedSpec::Instancetype(Arc::new(spec))),
                ResourceKind::Preference | ResourceKind::ClusterPreference => PreferenceSpec::read(scan)
                    .ok()
                    .map(|spec| DecodedSpec::Preference(Arc::new(spec))),
                _ => None,
            }
        };
        json_text::read_envelope_reading_spec(text, read)
            .ok()
            .filter(|(envelope, _)| envelope.api_version == V1BETA1)
    }
    #[cfg(target_arch = "wasm32")]
    clean_envelope(text).map(|envelope| (envelope, None))
}

impl InMemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object; returns an error text naming the problem when it has no usable
    /// `apiVersion`, `kind` or `metadata.name`, or is of a kind the engine never reads.
    /// Namespaced objects without `metadata.namespace` live in `default_namespace`.
    pub fn insert(&mut self, object: Value, default_namespace: Option<&str>) -> Result<(), String> {
        self.0.insert(object, default_namespace)
    }

    /// [`InMemorySource::insert`] for an object given as JSON text, as a caller receives it. Of a
    /// `v1beta1` instancetype or preference only the kind, name and namespace are read now (its
    /// metadata, often most of the text, is checked by a scan but not built) and the text is copied
    /// in; the spec is decoded from the `spec` member's text when first asked for, and the object's
    /// JSON value is only built if asked for. Anything else is parsed and inserted as a value. Either
    /// way the source answers exactly as if the parsed text had been inserted.
    pub fn insert_json(&mut self, text: &str, default_namespace: Option<&str>) -> Result<(), String> {
        self.0
            .insert_json(text, default_namespace, Box::from, SpecDecoding::WhenAsked)
    }
}

impl<'a> BorrowingSource<'a> {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// As [`InMemorySource::insert`].
    pub fn insert(&mut self, object: Value, default_namespace: Option<&str>) -> Result<(), String> {
        self.0.insert(object, default_namespace)
    }

    /// As [`InMemorySource::insert_json`], but a `v1beta1` instancetype or preference keeps `text`
    /// borrowed instead of a copy of it (anything else is parsed into a value, as there), and its
    /// spec is decoded now, natively, as the text is checked (one pass over it instead of two): the
    /// objects a caller lends for one request are the ones it expands with. (An `InMemorySource`,
    /// which may hold a catalogue, decodes only the specs asked for.)
    pub fn insert_json(&mut self, text: &'a str, default_namespace: Option<&str>) -> Result<(), String> {
        self.0
            .insert_json(text, default_namespace, |text| text, SpecDecoding::WhileReading)
    }
}

impl<T: AsRef<str>> Objects<T> {
    fn insert(&mut self, object: Value, default_namespace: Option<&str>) -> Result<(), String> {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let metadata = object.get("metadata");
        let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
        let namespace = metadata.and_then(|m| m.get("namespace")).and_then(Value::as_str);
        let key = self.key(api_version, kind, name, namespace, default_namespace)?;
        self.objects.insert(key, Held::Value(Arc::new(object)));
        Ok(())
    }

    /// An object given as JSON text: a `v1beta1` instancetype or preference is kept as the text
    /// `keep` makes of it (a copy, or the text itself when borrowed); anything else is parsed.
    fn insert_json<'t>(
        &mut self,
        text: &'t str,
        default_namespace: Option<&str>,
        keep: impl FnOnce(&'t str) -> T,
        decoding: SpecDecoding,
    ) -> Result<(), String> {
        if let Some((key, spec_at, spec)) = self.read_envelope(text, default_namespace, decoding) {
            self.objects.insert(key, Held::text(keep(text), spec_at, spec));
            return Ok(());
        }
        let object = serde_json::from_str(text).map_err(|error| format!("not a JSON object: {error}"))?;
        self.insert(object, default_namespace)
    }

    /// The key of a `v1beta1` instancetype or preference and where its `spec` member lies in
    /// `text`; `None` sends the text down the general path (which also gives the errors).
    fn read_envelope(
        &mut self,
        text: &str,
        default_namespace: Option<&str>,
        decoding: SpecDecoding,
    ) -> Option<(ObjectRef, std::ops::Range<usize>, Option<DecodedSpec>)> {
        let (envelope, spec) = match decoding {
            SpecDecoding::WhenAsked => (clean_envelope(text)?, None),
            SpecDecoding::WhileReading => envelope_with_spec(text)?,
        };
        // Last: the key notes a default namespace taken, only once the text path is certain.
        let key = self
            .key(
                envelope.api_version,
                envelope.kind,
                envelope.name,
                envelope.namespace,
                default_namespace,
            )
            .ok()?;
        Some((key, envelope.spec_at, spec))
    }

    /// The key of an object, noting when it takes the default namespace.
    fn key(
        &mut self,
        api_version: &str,
        kind: &str,
        name: Option<&str>,
        namespace: Option<&str>,
        default_namespace: Option<&str>,
    ) -> Result<ObjectRef, String> {
        let Some(resource) = ResourceKind::of_object(api_version, kind) else {
            return Err(format!(
                "unsupported object kind {kind:?} of apiVersion {api_version:?}"
            ));
        };
        let Some(name) = name else {
            return Err(format!("{kind} without metadata.name"));
        };
        let own_namespace = namespace.filter(|ns| !ns.is_empty());
        if own_namespace.is_none() && resource.is_namespaced() {
            self.takes_default_namespace = true;
        }
        Ok(ObjectRef::new(resource, own_namespace.or(default_namespace), name))
    }

    fn held(&self, object: &ObjectRef) -> Result<&Held<T>, LookupError> {
        self.objects
            .get(object)
            .ok_or_else(|| LookupError::NotFound(object.clone()))
    }
}

/// What the two sources holding [`Objects`] answer from them.
macro_rules! answer_from_objects {
    ($source:ty) => {
        impl $source {
            /// Number of objects held.
            pub fn len(&self) -> usize {
                self.0.objects.len()
            }

            /// Whether no object is held.
            pub fn is_empty(&self) -> bool {
                self.0.objects.is_empty()
            }

            /// Whether a namespaced object without `metadata.namespace` was put in the default
            /// namespace given at insertion: only then do the source's answers depend on it.
            pub fn takes_default_namespace(&self) -> bool {
                self.0.takes_default_namespace
            }
        }

        impl ObjectSource for $source {
            fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
                self.get_shared(object).map(|found| Value::clone(&found))
            }

            fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
                self.0.held(object)?.shared(object)
            }

            fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
                self.0.held(object)?.instancetype_spec(object)
            }

            fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
                self.0.held(object)?.preference_spec(object)
            }
        }
    };
}

answer_from_objects!(InMemorySource);
answer_from_objects!(BorrowingSource<'_>);

/// One remembered answer of a [`RecordingSource`].
type SharedAnswer = Result<Arc<Fetched>, LookupError>;

/// Wraps a source and remembers every answer, so each object is fetched at most once and the
/// sequence of lookups can be inspected (the policy's replay contract depends on it). Answers are
/// kept as the inner source fetched them ([`ObjectSource::fetch`]): a spec fetched as text is decoded
/// from the text, once.
#[derive(Debug)]
pub struct RecordingSource<S> {
    inner: S,
    answers: RefCell<Vec<(ObjectRef, SharedAnswer)>>,
}

impl<S: ObjectSource> RecordingSource<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            answers: RefCell::new(Vec::new()),
        }
    }

    /// The objects asked of the inner source, in order (each once).
    pub fn requested(&self) -> Vec<ObjectRef> {
        self.answers.borrow().iter().map(|(object, _)| object.clone()).collect()
    }

    /// Gives back the wrapped source.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The answer for `object`: the remembered one, or the inner source's (remembered).
    fn fetched(&self, object: &ObjectRef) -> SharedAnswer {
        if let Some((_, answer)) = self.answers.borrow().iter().find(|(asked, _)| asked == object) {
            return answer.clone();
        }
        let answer = self.inner.fetch(object).map(Arc::new);
        self.answers.borrow_mut().push((object.clone(), answer.clone()));
        answer
    }
}

impl<S: ObjectSource> ObjectSource for RecordingSource<S> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.get_shared(object).map(|found| Value::clone(&found))
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        self.fetched(object)?.shared(object)
    }

    fn instancetype_spec(&self, object: &ObjectRef) -> Result<Arc<InstancetypeSpec>, SpecLookupError> {
        self.fetched(object)?.instancetype_spec(object)
    }

    fn preference_spec(&self, object: &ObjectRef) -> Result<Arc<PreferenceSpec>, SpecLookupError> {
        self.fetched(object)?.preference_spec(object)
    }
}
