//! The one door between the engine and a cluster: "give me object apiVersion/kind/namespace/name".
//!
//! The engine never performs IO itself. Every object it needs (instancetypes, preferences,
//! ControllerRevisions, PVCs, DataVolumes, DataSources, VolumeSnapshots) is requested through
//! [`ObjectSource`]; the policy answers from Kubewarden host capabilities, tests and the npm package
//! from an [`InMemorySource`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

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
    /// The object does not exist; displayed as Kubernetes does (`<resource> "<name>" not found`).
    #[error("{} \"{}\" not found", .0.kind.qualified_resource(), .0.name)]
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

impl LookupError {
    /// Whether the object is simply absent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
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
}

impl<T: ObjectSource + ?Sized> ObjectSource for &T {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        (**self).get(object)
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        (**self).get_shared(object)
    }
}

/// An in-memory set of objects, keyed by group, kind, namespace and name (any version of a group
/// matches, so a `v1alpha2` preference answers a lookup of the `v1beta1` kind).
#[derive(Debug, Clone, Default)]
pub struct InMemorySource {
    objects: BTreeMap<ObjectRef, Arc<Value>>,
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
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let Some(resource) = ResourceKind::of_object(api_version, kind) else {
            return Err(format!(
                "unsupported object kind {kind:?} of apiVersion {api_version:?}"
            ));
        };
        let metadata = object.get("metadata");
        let Some(name) = metadata.and_then(|m| m.get("name")).and_then(Value::as_str) else {
            return Err(format!("{kind} without metadata.name"));
        };
        let namespace = metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
            .or(default_namespace);
        let key = ObjectRef::new(resource, namespace, name);
        self.objects.insert(key, Arc::new(object));
        Ok(())
    }

    /// Number of objects held.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is held.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl ObjectSource for InMemorySource {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.get_shared(object).map(|found| Value::clone(&found))
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        self.objects
            .get(object)
            .cloned()
            .ok_or_else(|| LookupError::NotFound(object.clone()))
    }
}

/// One remembered answer of a [`RecordingSource`].
type SharedAnswer = Result<Arc<Value>, LookupError>;

/// Wraps a source and remembers every answer, so each object is fetched at most once and the
/// sequence of lookups can be inspected (the policy's replay contract depends on it).
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
}

impl<S: ObjectSource> ObjectSource for RecordingSource<S> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.get_shared(object).map(|found| Value::clone(&found))
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        if let Some((_, answer)) = self.answers.borrow().iter().find(|(asked, _)| asked == object) {
            return answer.clone();
        }
        let answer = self.inner.get_shared(object);
        self.answers.borrow_mut().push((object.clone(), answer.clone()));
        answer
    }
}
