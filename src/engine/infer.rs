//! Inference of instancetype and preference matchers from a VirtualMachine volume
//! (`spec.instancetype.inferFromVolume`, `spec.preference.inferFromVolume`), as KubeVirt's
//! `pkg/instancetype/infer` does it (specification §2.5), on a JSON VirtualMachine.
//!
//! The defaults come from the labels `instancetype.kubevirt.io/default-instancetype` (required),
//! `instancetype.kubevirt.io/default-instancetype-kind` (optional; empty means the cluster kind),
//! `instancetype.kubevirt.io/default-preference` and `instancetype.kubevirt.io/default-preference-kind`
//! of a PersistentVolumeClaim, DataVolume, DataSource or VolumeSnapshot.
//!
//! # The walk, and the order of lookups
//!
//! The order below is part of the policy's public contract (replay of host lookups depends on it).
//! `NS` is the VirtualMachine's namespace. Every lookup goes through [`ObjectSource`]; one walk is a
//! single chain, so it asks for each object at most once and for at most three objects.
//!
//! 1. The volume is the **first** entry of `spec.template.spec.volumes` whose `name` equals
//!    `inferFromVolume` (no lookup). None: `unable to find volume %s to infer defaults` (fatal).
//!    `persistentVolumeClaim` is considered before `dataVolume`; any other volume type:
//!    `unable to infer defaults from volume %s as type is not supported` (ignorable).
//! 2. `persistentVolumeClaim` volume: **PersistentVolumeClaim `NS/claimName`** → its labels.
//! 3. `dataVolume` volume named `D`:
//!    - if `spec.dataVolumeTemplates` has an entry with `metadata.name == D` (the first one), its
//!      `spec` goes through the DataVolumeSpec rules (step 4). No DataVolume is looked up and the
//!      template's own labels are **not** read.
//!    - otherwise **DataVolume `NS/D`**. On NotFound (the DataVolume was garbage collected):
//!      **PersistentVolumeClaim `NS/D`** → its labels. Any other lookup error is fatal. A found
//!      DataVolume with the name label gives the answer; otherwise its `spec` goes through step 4.
//! 4. DataVolumeSpec rules (a template's or a DataVolume's `spec`), first match wins:
//!    - `source.pvc` → **PersistentVolumeClaim `<source.pvc.namespace>/<source.pvc.name>`** → labels;
//!    - `source.snapshot` → **VolumeSnapshot `<namespace>/<name>`** → labels;
//!    - `sourceRef` with `kind: DataSource` → **DataSource `<sourceRef.namespace or NS>/<name>`** (step 5);
//!      another kind: `unable to infer defaults from DataVolumeSourceRef as Kind %s is not supported`
//!      (ignorable);
//!    - none: `unable to infer defaults from DataVolumeSpec as DataVolumeSource is not supported`
//!      (ignorable).
//! 5. DataSource: its labels if the name label is present; else `spec.source.pvc` →
//!    **PersistentVolumeClaim**; else `spec.source.snapshot` → **VolumeSnapshot**; else
//!    `unable to infer defaults from DataSource that doesn't provide DataVolumeSourcePVC or
//!    DataVolumeSourceSnapshot` (ignorable).
//!
//! The object that finally gives the answer must carry the name label, else
//! `unable to find required %s label on the volume` (ignorable). Every lookup error (NotFound
//! included, displayed as Kubernetes does, e.g. `persistentvolumeclaims "x" not found`) is fatal,
//! except the DataVolume NotFound of step 3, which falls back to the PVC.
//!
//! [`apply_inference`] runs the instancetype walk and then the preference walk; it shares one
//! answer cache between them, so a volume used by both is looked up once in total and the sequence
//! of distinct lookups is: the instancetype chain, then the preference objects not already asked.
//!
//! # Namespaces (this project's rules)
//!
//! - An empty or absent namespace in `source.pvc`, `source.snapshot` or `sourceRef` means the
//!   namespace of the object holding the reference: the VirtualMachine's for a template or a
//!   DataVolume, the DataSource's own for a DataSource's `spec.source` (as KubeVirt resolves clone
//!   sources elsewhere). Upstream inference would ask for the empty namespace instead.
//! - A reference to another namespace (`source.pvc.namespace`, `source.snapshot.namespace`,
//!   `sourceRef.namespace`, a DataSource's `spec.source.pvc.namespace` / `spec.source.snapshot.namespace`)
//!   is followed only with [`InferenceOptions::allow_cross_namespace`]. Otherwise it is a fatal error,
//!   raised **before** any lookup in that namespace, that names the field and both namespaces and
//!   nothing else (neither the referenced name nor anything about objects there).
//!
//! # Malformed input
//!
//! A value of the wrong JSON type on the path of the walk (a volume that is not an object, a label
//! that is not a string, an empty or missing referenced name, ...) is a fatal error naming the
//! field: `invalid <VirtualMachine | Kind ns/name>: <path> <problem>`.

use serde_json::{Map, Value};

use super::find::MatcherRole;
use super::json;
use super::lookup::{LookupError, ObjectRef, ObjectSource, RecordingSource, ResourceKind};

/// Label naming the default instancetype.
pub const DEFAULT_INSTANCETYPE_LABEL: &str = "instancetype.kubevirt.io/default-instancetype";
/// Label naming the kind of the default instancetype (optional).
pub const DEFAULT_INSTANCETYPE_KIND_LABEL: &str = "instancetype.kubevirt.io/default-instancetype-kind";
/// Label naming the default preference.
pub const DEFAULT_PREFERENCE_LABEL: &str = "instancetype.kubevirt.io/default-preference";
/// Label naming the kind of the default preference (optional).
pub const DEFAULT_PREFERENCE_KIND_LABEL: &str = "instancetype.kubevirt.io/default-preference-kind";

/// `inferFromVolumeFailurePolicy` value that drops the matcher on an ignorable failure.
pub const FAILURE_POLICY_IGNORE: &str = "Ignore";
/// `inferFromVolumeFailurePolicy` value that rejects on any failure (the default).
pub const FAILURE_POLICY_REJECT: &str = "Reject";

/// Which matcher is being inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InferTarget {
    /// `spec.instancetype`.
    Instancetype,
    /// `spec.preference`.
    Preference,
}

impl InferTarget {
    /// The matcher this target infers.
    pub fn role(self) -> MatcherRole {
        match self {
            Self::Instancetype => MatcherRole::Instancetype,
            Self::Preference => MatcherRole::Preference,
        }
    }

    /// The key of the matcher under the VM's `spec` (`instancetype` or `preference`).
    pub fn matcher_field(self) -> &'static str {
        self.role().spec_key()
    }

    /// The matcher's path in the VM (`spec.instancetype` or `spec.preference`), for errors.
    pub fn matcher_path(self) -> &'static str {
        self.role().spec_path()
    }

    /// The label holding the default name.
    pub fn name_label(self) -> &'static str {
        match self {
            Self::Instancetype => DEFAULT_INSTANCETYPE_LABEL,
            Self::Preference => DEFAULT_PREFERENCE_LABEL,
        }
    }

    /// The label holding the default kind.
    pub fn kind_label(self) -> &'static str {
        match self {
            Self::Instancetype => DEFAULT_INSTANCETYPE_KIND_LABEL,
            Self::Preference => DEFAULT_PREFERENCE_KIND_LABEL,
        }
    }
}

/// Project-specific knobs of the inference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InferenceOptions {
    /// Follow references into namespaces other than the VM's (KubeVirt always does). Default: false.
    pub allow_cross_namespace: bool,
}

/// The inferred matcher: `name` and `kind` (empty `kind` means the cluster-scoped kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InferredMatcher {
    /// Value of the default name label.
    pub name: String,
    /// Value of the default kind label, empty when absent.
    pub kind: String,
}

impl InferredMatcher {
    /// The matcher as VM JSON: `{"name": ..., "kind": ...}`, `kind` omitted when empty.
    pub fn to_matcher(&self) -> Value {
        let mut matcher = Map::new();
        matcher.insert("name".to_owned(), Value::String(self.name.clone()));
        if !self.kind.is_empty() {
            matcher.insert("kind".to_owned(), Value::String(self.kind.clone()));
        }
        Value::Object(matcher)
    }
}

/// Why inference failed; `Display` is the message (KubeVirt's text where KubeVirt has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    /// KubeVirt's `IgnoreableInferenceError`: dropped with `inferFromVolumeFailurePolicy: Ignore`.
    #[error("{0}")]
    Ignorable(String),
    /// Always rejects the VM (missing volume, lookup errors, malformed input, cross-namespace refs).
    #[error("{0}")]
    Fatal(String),
}

impl InferError {
    /// Whether the failure policy `Ignore` may drop it.
    pub fn is_ignorable(&self) -> bool {
        matches!(self, Self::Ignorable(_))
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Ignorable(message) | Self::Fatal(message) => message,
        }
    }
}

impl From<LookupError> for InferError {
    fn from(error: LookupError) -> Self {
        Self::Fatal(error.to_string())
    }
}

const VM_OWNER: &str = "VirtualMachine";

type Object = Map<String, Value>;

fn malformed(owner: &str, path: &str, problem: &str) -> InferError {
    if path.is_empty() {
        InferError::Fatal(format!("invalid {owner}: {problem}"))
    } else {
        InferError::Fatal(format!("invalid {owner}: {path} {problem}"))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `map[key]` as an object; absent or `null` is `None`.
fn get_object<'v>(map: &'v Object, key: &str, owner: &str, path: &str) -> Result<Option<&'v Object>, InferError> {
    match json::find(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(malformed(owner, &join(path, key), "must be an object")),
    }
}

/// `map[key]` as an array; absent or `null` is empty.
fn get_array<'v>(map: &'v Object, key: &str, owner: &str, path: &str) -> Result<&'v [Value], InferError> {
    match json::find(map, key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(malformed(owner, &join(path, key), "must be an array")),
    }
}

/// `map[key]` as a string; absent or `null` is `None`.
fn get_str<'v>(map: &'v Object, key: &str, owner: &str, path: &str) -> Result<Option<&'v str>, InferError> {
    match json::find(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(malformed(owner, &join(path, key), "must be a string")),
    }
}

/// `map[key]` as a non-empty string (an object name).
fn get_name<'v>(map: &'v Object, key: &str, owner: &str, path: &str) -> Result<&'v str, InferError> {
    match get_str(map, key, owner, path)? {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(malformed(owner, &join(path, key), "must be a non-empty string")),
    }
}

fn as_vm_object(vm: &Value) -> Result<&Object, InferError> {
    vm.as_object()
        .ok_or_else(|| malformed(VM_OWNER, "", "must be a JSON object"))
}

/// One walk from a volume to the labels holding the defaults.
struct Walk<'a> {
    namespace: &'a str,
    target: InferTarget,
    source: &'a dyn ObjectSource,
    options: &'a InferenceOptions,
    volume: &'a str,
}

impl Walk<'_> {
    fn lookup(&self, kind: ResourceKind, namespace: &str, name: &str) -> (ObjectRef, Result<Value, LookupError>) {
        let object = ObjectRef::new(kind, Some(namespace), name);
        let answer = self.source.get(&object);
        (object, answer)
    }

    fn fetch(&self, kind: ResourceKind, namespace: &str, name: &str) -> Result<(String, Object), InferError> {
        let (object, answer) = self.lookup(kind, namespace, name);
        into_object(&object, answer?)
    }

    /// The defaults from an object's labels; `None` when the name label is absent.
    fn labels(&self, object: &Object, owner: &str) -> Result<Option<InferredMatcher>, InferError> {
        let Some(metadata) = get_object(object, "metadata", owner, "")? else {
            return Ok(None);
        };
        let Some(labels) = get_object(metadata, "labels", owner, "metadata")? else {
            return Ok(None);
        };
        let label = |key: &str| match json::find(labels, key) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(malformed(
                owner,
                &format!("metadata.labels[{key:?}]"),
                "must be a string",
            )),
        };
        let Some(name) = label(self.target.name_label())? else {
            return Ok(None);
        };
        let kind = label(self.target.kind_label())?.unwrap_or_default();
        Ok(Some(InferredMatcher { name, kind }))
    }

    /// The defaults from an object that must carry the name label.
    fn required_labels(&self, object: &Object, owner: &str) -> Result<InferredMatcher, InferError> {
        self.labels(object, owner)?.ok_or_else(|| {
            InferError::Ignorable(format!(
                "unable to find required {} label on the volume",
                self.target.name_label()
            ))
        })
    }

    fn walk_pvc(&self, namespace: &str, name: &str) -> Result<InferredMatcher, InferError> {
        let (owner, pvc) = self.fetch(ResourceKind::PersistentVolumeClaim, namespace, name)?;
        self.required_labels(&pvc, &owner)
    }

    fn walk_snapshot(&self, namespace: &str, name: &str) -> Result<InferredMatcher, InferError> {
        let (owner, snapshot) = self.fetch(ResourceKind::VolumeSnapshot, namespace, name)?;
        self.required_labels(&snapshot, &owner)
    }

    /// The namespace a reference points into: its `namespace` field or `default`, checked
    /// against the cross-namespace rule before anything is looked up there.
    fn reference_namespace<'r>(
        &self,
        reference: &'r Object,
        owner: &str,
        path: &str,
        default: &'r str,
    ) -> Result<&'r str, InferError> {
        let namespace = match get_str(reference, "namespace", owner, path)? {
            Some(namespace) if !namespace.is_empty() => namespace,
            _ => default,
        };
        if namespace != self.namespace && !self.options.allow_cross_namespace {
            return Err(InferError::Fatal(format!(
                "unable to infer defaults from volume {}: {} of {owner} refers to namespace {namespace:?}, \
                 but the VirtualMachine is in namespace {:?} and cross-namespace inference is not allowed",
                self.volume,
                join(path, "namespace"),
                self.namespace,
            )));
        }
        Ok(namespace)
    }

    fn walk_data_volume(&self, vm_spec: &Object, name: &str) -> Result<InferredMatcher, InferError> {
        for (index, template) in get_array(vm_spec, "dataVolumeTemplates", VM_OWNER, "spec")?
            .iter()
            .enumerate()
        {
            let path = format!("spec.dataVolumeTemplates[{index}]");
            let template = template
                .as_object()
                .ok_or_else(|| malformed(VM_OWNER, &path, "must be an object"))?;
            let template_name = match get_object(template, "metadata", VM_OWNER, &path)? {
                Some(metadata) => get_str(metadata, "name", VM_OWNER, &join(&path, "metadata"))?,
                None => None,
            };
            if template_name != Some(name) {
                continue;
            }
            let spec = get_object(template, "spec", VM_OWNER, &path)?;
            return self.walk_data_volume_spec(spec, VM_OWNER, &join(&path, "spec"));
        }

        let (object, answer) = self.lookup(ResourceKind::DataVolume, self.namespace, name);
        let data_volume = match answer {
            Ok(data_volume) => data_volume,
            // A garbage collected DataVolume leaves its PVC of the same name behind.
            Err(LookupError::NotFound(_)) => return self.walk_pvc(self.namespace, name),
            Err(error) => return Err(error.into()),
        };
        let (owner, data_volume) = into_object(&object, data_volume)?;
        if let Some(found) = self.labels(&data_volume, &owner)? {
            return Ok(found);
        }
        let spec = get_object(&data_volume, "spec", &owner, "")?;
        self.walk_data_volume_spec(spec, &owner, "spec")
    }

    fn walk_data_volume_spec(
        &self,
        spec: Option<&Object>,
        owner: &str,
        path: &str,
    ) -> Result<InferredMatcher, InferError> {
        let Some(spec) = spec else {
            return Err(InferError::Ignorable(UNSUPPORTED_DATA_VOLUME_SOURCE.to_owned()));
        };
        if let Some(source) = get_object(spec, "source", owner, path)? {
            let source_path = join(path, "source");
            if let Some(pvc) = get_object(source, "pvc", owner, &source_path)? {
                let pvc_path = join(&source_path, "pvc");
                let name = get_name(pvc, "name", owner, &pvc_path)?;
                let namespace = self.reference_namespace(pvc, owner, &pvc_path, self.namespace)?;
                return self.walk_pvc(namespace, name);
            }
            if let Some(snapshot) = get_object(source, "snapshot", owner, &source_path)? {
                let snapshot_path = join(&source_path, "snapshot");
                let name = get_name(snapshot, "name", owner, &snapshot_path)?;
                let namespace = self.reference_namespace(snapshot, owner, &snapshot_path, self.namespace)?;
                return self.walk_snapshot(namespace, name);
            }
        }
        if let Some(source_ref) = get_object(spec, "sourceRef", owner, path)? {
            let ref_path = join(path, "sourceRef");
            let kind = get_str(source_ref, "kind", owner, &ref_path)?.unwrap_or_default();
            if kind != "DataSource" {
                return Err(InferError::Ignorable(format!(
                    "unable to infer defaults from DataVolumeSourceRef as Kind {kind} is not supported"
                )));
            }
            let name = get_name(source_ref, "name", owner, &ref_path)?;
            let namespace = self.reference_namespace(source_ref, owner, &ref_path, self.namespace)?;
            return self.walk_data_source(namespace, name);
        }
        Err(InferError::Ignorable(UNSUPPORTED_DATA_VOLUME_SOURCE.to_owned()))
    }

    fn walk_data_source(&self, namespace: &str, name: &str) -> Result<InferredMatcher, InferError> {
        let (owner, data_source) = self.fetch(ResourceKind::DataSource, namespace, name)?;
        if let Some(found) = self.labels(&data_source, &owner)? {
            return Ok(found);
        }
        let source = match get_object(&data_source, "spec", &owner, "")? {
            Some(spec) => get_object(spec, "source", &owner, "spec")?,
            None => None,
        };
        if let Some(source) = source {
            if let Some(pvc) = get_object(source, "pvc", &owner, "spec.source")? {
                let name = get_name(pvc, "name", &owner, "spec.source.pvc")?;
                let namespace = self.reference_namespace(pvc, &owner, "spec.source.pvc", namespace)?;
                return self.walk_pvc(namespace, name);
            }
            if let Some(snapshot) = get_object(source, "snapshot", &owner, "spec.source")? {
                let name = get_name(snapshot, "name", &owner, "spec.source.snapshot")?;
                let namespace = self.reference_namespace(snapshot, &owner, "spec.source.snapshot", namespace)?;
                return self.walk_snapshot(namespace, name);
            }
        }
        Err(InferError::Ignorable(MISSING_DATA_SOURCE_SOURCE.to_owned()))
    }
}

const UNSUPPORTED_DATA_VOLUME_SOURCE: &str =
    "unable to infer defaults from DataVolumeSpec as DataVolumeSource is not supported";
const MISSING_DATA_SOURCE_SOURCE: &str =
    "unable to infer defaults from DataSource that doesn't provide DataVolumeSourcePVC or DataVolumeSourceSnapshot";

/// A looked-up object as a JSON object, with its description (`Kind ns/name`) for messages.
fn into_object(object: &ObjectRef, value: Value) -> Result<(String, Object), InferError> {
    let owner = object.to_string();
    match value {
        Value::Object(map) => Ok((owner, map)),
        _ => Err(malformed(&owner, "", "must be a JSON object")),
    }
}

/// Infers the `target` matcher of `vm` (in `namespace`) from the volume named by
/// `spec.<instancetype|preference>.inferFromVolume`, walking volumes and cluster objects as the
/// module documentation describes. Does not modify anything.
pub fn infer_defaults(
    vm: &Value,
    namespace: &str,
    target: InferTarget,
    source: &dyn ObjectSource,
    options: &InferenceOptions,
) -> Result<InferredMatcher, InferError> {
    let vm = as_vm_object(vm)?;
    let field = target.matcher_field();
    let spec = get_object(vm, "spec", VM_OWNER, "")?;
    let matcher = match spec {
        Some(spec) => get_object(spec, field, VM_OWNER, "spec")?,
        None => None,
    };
    let Some(matcher) = matcher else {
        return Err(malformed(VM_OWNER, target.matcher_path(), "is not set"));
    };
    let volume_name = get_name(matcher, "inferFromVolume", VM_OWNER, target.matcher_path())?;
    let Some(spec) = spec else {
        return Err(malformed(VM_OWNER, "spec", "is not set"));
    };

    let walk = Walk {
        namespace,
        target,
        source,
        options,
        volume: volume_name,
    };

    let vmi_spec = match get_object(spec, "template", VM_OWNER, "spec")? {
        Some(template) => get_object(template, "spec", VM_OWNER, "spec.template")?,
        None => None,
    };
    let volumes = match vmi_spec {
        Some(vmi_spec) => get_array(vmi_spec, "volumes", VM_OWNER, "spec.template.spec")?,
        None => &[],
    };
    for (index, volume) in volumes.iter().enumerate() {
        let path = format!("spec.template.spec.volumes[{index}]");
        let volume = volume
            .as_object()
            .ok_or_else(|| malformed(VM_OWNER, &path, "must be an object"))?;
        if get_str(volume, "name", VM_OWNER, &path)? != Some(volume_name) {
            continue;
        }
        if let Some(pvc) = get_object(volume, "persistentVolumeClaim", VM_OWNER, &path)? {
            let claim = get_name(pvc, "claimName", VM_OWNER, &join(&path, "persistentVolumeClaim"))?;
            return walk.walk_pvc(namespace, claim);
        }
        if let Some(data_volume) = get_object(volume, "dataVolume", VM_OWNER, &path)? {
            let name = get_name(data_volume, "name", VM_OWNER, &join(&path, "dataVolume"))?;
            return walk.walk_data_volume(spec, name);
        }
        return Err(InferError::Ignorable(format!(
            "unable to infer defaults from volume {volume_name} as type is not supported"
        )));
    }
    Err(InferError::Fatal(format!(
        "unable to find volume {volume_name} to infer defaults"
    )))
}

/// What [`apply_inference`] must do for one matcher.
struct Plan {
    volume: String,
    ignore_failure: bool,
}

fn plan(vm: &Value, target: InferTarget) -> Result<Option<Plan>, InferError> {
    let vm = as_vm_object(vm)?;
    let Some(spec) = get_object(vm, "spec", VM_OWNER, "")? else {
        return Ok(None);
    };
    let field = target.matcher_field();
    let Some(matcher) = get_object(spec, field, VM_OWNER, "spec")? else {
        return Ok(None);
    };
    let path = target.matcher_path();
    let volume = match get_str(matcher, "inferFromVolume", VM_OWNER, path)? {
        Some(volume) if !volume.is_empty() => volume,
        _ => return Ok(None),
    };
    // A matcher with both a name and inferFromVolume is rejected by KubeVirt's mutator; that check
    // lives elsewhere in this project, so the matcher is left alone here.
    if get_str(matcher, "name", VM_OWNER, path)?.is_some_and(|name| !name.is_empty()) {
        return Ok(None);
    }
    let ignore_failure = match get_str(matcher, "inferFromVolumeFailurePolicy", VM_OWNER, path)? {
        None | Some(FAILURE_POLICY_REJECT) => false,
        Some(FAILURE_POLICY_IGNORE) => true,
        Some(other) => {
            return Err(InferError::Fatal(format!(
                "Invalid value '{other}' for InferFromVolumeFailurePolicy"
            )));
        }
    };
    Ok(Some(Plan {
        volume: volume.to_owned(),
        ignore_failure,
    }))
}

fn spec_mut(vm: &mut Value) -> Result<&mut Object, InferError> {
    vm.as_object_mut()
        .and_then(|vm| json::find_mut(vm, "spec"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| malformed(VM_OWNER, "spec", "must be an object"))
}

/// Removes `spec.template.spec.domain.memory`; whether there was one.
fn remove_guest_memory(spec: &mut Object) -> Result<bool, InferError> {
    let domain = json::find_mut(spec, "template")
        .and_then(Value::as_object_mut)
        .and_then(|template| json::find_mut(template, "spec"))
        .and_then(Value::as_object_mut)
        .and_then(|vmi_spec| json::find_mut(vmi_spec, "domain"));
    match domain {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(domain)) => Ok(domain.shift_remove("memory").is_some()),
        Some(_) => Err(malformed(VM_OWNER, "spec.template.spec.domain", "must be an object")),
    }
}

fn apply_target(
    vm: &mut Value,
    namespace: &str,
    target: InferTarget,
    source: &dyn ObjectSource,
    options: &InferenceOptions,
    notes: &mut Vec<String>,
) -> Result<(), InferError> {
    let Some(Plan { volume, ignore_failure }) = plan(vm, target)? else {
        return Ok(());
    };
    let outcome = infer_defaults(vm, namespace, target, source, options);
    let field = target.matcher_field();
    let spec = spec_mut(vm)?;
    match outcome {
        Ok(inferred) => {
            if ignore_failure && target == InferTarget::Instancetype && remove_guest_memory(spec)? {
                notes.push(
                    "removed spec.template.spec.domain.memory because the instancetype was inferred \
                     with inferFromVolumeFailurePolicy Ignore"
                        .to_owned(),
                );
            }
            spec.insert(field.to_owned(), inferred.to_matcher());
            let kind = if inferred.kind.is_empty() {
                String::new()
            } else {
                format!(" (kind {})", inferred.kind)
            };
            notes.push(format!("inferred {field} {}{kind} from volume {volume}", inferred.name));
            Ok(())
        }
        Err(error) if ignore_failure && error.is_ignorable() => {
            spec.shift_remove(field);
            notes.push(format!(
                "removed spec.{field}: could not infer it from volume {volume} and \
                 inferFromVolumeFailurePolicy is Ignore: {error}"
            ));
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// KubeVirt's inference handler on a VM: the instancetype matcher, then the preference matcher,
/// each only when it has a non-empty `inferFromVolume` and an empty `name`.
///
/// Success replaces the matcher by `{name, kind}` (and, for the instancetype with
/// `inferFromVolumeFailurePolicy: Ignore`, removes `spec.template.spec.domain.memory`); an ignorable
/// error with policy `Ignore` removes the matcher; any other error is returned and `vm` is left
/// untouched (changes are applied only when both matchers succeed). Lookups are shared between the
/// two walks (each object at most once). Returns human-readable notes of what was changed.
pub fn apply_inference(
    vm: &mut Value,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &InferenceOptions,
) -> Result<Vec<String>, InferError> {
    let (inferred, notes) = infer_copy(vm, namespace, source, options)?;
    if let Some(inferred) = inferred {
        *vm = inferred;
    }
    Ok(notes)
}

/// [`apply_inference`] leaving `vm` as it is: the inferred VM when a matcher was inferred or removed
/// (`None` when there was nothing to infer, so a caller that only reads needs no copy), and the notes.
pub fn infer_copy(
    vm: &Value,
    namespace: &str,
    source: &dyn ObjectSource,
    options: &InferenceOptions,
) -> Result<(Option<Value>, Vec<String>), InferError> {
    let cached = RecordingSource::new(source);
    let mut notes = Vec::new();
    let mut work: Option<Value> = None;
    for target in [InferTarget::Instancetype, InferTarget::Preference] {
        let current = work.as_ref().unwrap_or(vm);
        if plan(current, target)?.is_none() {
            continue;
        }
        let working = work.get_or_insert_with(|| vm.clone());
        apply_target(working, namespace, target, &cached, options, &mut notes)?;
    }
    Ok((work, notes))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;
    use crate::engine::lookup::InMemorySource;

    const NS: &str = "vmns";
    const OTHER: &str = "otherns";
    const IT: InferTarget = InferTarget::Instancetype;
    const PREF: InferTarget = InferTarget::Preference;

    fn labels(prefix: &str) -> Value {
        json!({
            DEFAULT_INSTANCETYPE_LABEL: format!("{prefix}-it"),
            DEFAULT_INSTANCETYPE_KIND_LABEL: "VirtualMachineInstancetype",
            DEFAULT_PREFERENCE_LABEL: format!("{prefix}-pref"),
            DEFAULT_PREFERENCE_KIND_LABEL: "VirtualMachinePreference",
        })
    }

    fn object(api_version: &str, kind: &str, namespace: &str, name: &str, labels: Value, spec: Value) -> Value {
        let mut object = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
        });
        if !labels.is_null() {
            object["metadata"]["labels"] = labels;
        }
        if !spec.is_null() {
            object["spec"] = spec;
        }
        object
    }

    fn pvc(namespace: &str, name: &str, labels: Value) -> Value {
        object(
            "v1",
            "PersistentVolumeClaim",
            namespace,
            name,
            labels,
            json!({"resources": {}}),
        )
    }

    fn snapshot(namespace: &str, name: &str, labels: Value) -> Value {
        object(
            "snapshot.storage.k8s.io/v1",
            "VolumeSnapshot",
            namespace,
            name,
            labels,
            Value::Null,
        )
    }

    fn data_volume(namespace: &str, name: &str, labels: Value, spec: Value) -> Value {
        object("cdi.kubevirt.io/v1beta1", "DataVolume", namespace, name, labels, spec)
    }

    fn data_source(namespace: &str, name: &str, labels: Value, spec: Value) -> Value {
        object("cdi.kubevirt.io/v1beta1", "DataSource", namespace, name, labels, spec)
    }

    fn store(objects: Vec<Value>) -> InMemorySource {
        let mut source = InMemorySource::new();
        for object in objects {
            source.insert(object, None).unwrap();
        }
        source
    }

    fn pvc_volume(claim: &str) -> Value {
        json!({"name": "root", "persistentVolumeClaim": {"claimName": claim}})
    }

    fn dv_volume(name: &str) -> Value {
        json!({"name": "root", "dataVolume": {"name": name}})
    }

    /// A VM inferring both matchers from volume `root`.
    fn vm(volume: Value, templates: Value) -> Value {
        json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": {"name": "vm", "namespace": NS},
            "spec": {
                "instancetype": {"inferFromVolume": "root"},
                "preference": {"inferFromVolume": "root"},
                "dataVolumeTemplates": templates,
                "template": {"spec": {
                    "domain": {"memory": {"guest": "1Gi"}, "devices": {}},
                    "volumes": [{"name": "other", "containerDisk": {"image": "x"}}, volume],
                }},
            },
        })
    }

    fn oref(kind: ResourceKind, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef::new(kind, Some(namespace), name)
    }

    fn run_with(
        vm: &Value,
        target: InferTarget,
        source: &InMemorySource,
        options: InferenceOptions,
    ) -> (Result<InferredMatcher, InferError>, Vec<ObjectRef>) {
        let recording = RecordingSource::new(source);
        let result = infer_defaults(vm, NS, target, &recording, &options);
        (result, recording.requested())
    }

    fn run(
        vm: &Value,
        target: InferTarget,
        source: &InMemorySource,
    ) -> (Result<InferredMatcher, InferError>, Vec<ObjectRef>) {
        run_with(vm, target, source, InferenceOptions::default())
    }

    fn matcher(name: &str, kind: &str) -> InferredMatcher {
        InferredMatcher {
            name: name.to_owned(),
            kind: kind.to_owned(),
        }
    }

    fn pvc_ref(namespace: &str, name: &str) -> ObjectRef {
        oref(ResourceKind::PersistentVolumeClaim, namespace, name)
    }

    fn dv_ref(name: &str) -> ObjectRef {
        oref(ResourceKind::DataVolume, NS, name)
    }

    fn ds_ref(namespace: &str, name: &str) -> ObjectRef {
        oref(ResourceKind::DataSource, namespace, name)
    }

    fn snap_ref(namespace: &str, name: &str) -> ObjectRef {
        oref(ResourceKind::VolumeSnapshot, namespace, name)
    }

    fn ignorable(message: &str) -> InferError {
        InferError::Ignorable(message.to_owned())
    }

    fn fatal(message: &str) -> InferError {
        InferError::Fatal(message.to_owned())
    }

    /// A source that fails one object with a non-NotFound error.
    struct Failing<'s> {
        inner: &'s InMemorySource,
        fail: ObjectRef,
    }

    impl ObjectSource for Failing<'_> {
        fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
            if *object == self.fail {
                return Err(LookupError::Failed {
                    object: object.clone(),
                    message: "forbidden".to_owned(),
                });
            }
            self.inner.get(object)
        }
    }

    /// A source that records every call, repeated ones included.
    struct Counting<'s> {
        inner: &'s InMemorySource,
        calls: RefCell<Vec<ObjectRef>>,
    }

    impl ObjectSource for Counting<'_> {
        fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
            self.calls.borrow_mut().push(object.clone());
            self.inner.get(object)
        }
    }

    // ---- PVC volumes ------------------------------------------------------------------------

    #[test]
    fn pvc_volume_gives_instancetype_from_pvc_labels_with_one_lookup() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let (result, lookups) = run(&vm(pvc_volume("disk"), Value::Null), IT, &source);
        assert_eq!(result.unwrap(), matcher("pvc-it", "VirtualMachineInstancetype"));
        assert_eq!(lookups, vec![pvc_ref(NS, "disk")]);
    }

    #[test]
    fn pvc_volume_gives_preference_from_pvc_labels() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let (result, _) = run(&vm(pvc_volume("disk"), Value::Null), PREF, &source);
        assert_eq!(result.unwrap(), matcher("pvc-pref", "VirtualMachinePreference"));
    }

    #[test]
    fn absent_kind_label_gives_empty_kind() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_INSTANCETYPE_LABEL: "u1.medium"}))]);
        let (result, _) = run(&vm(pvc_volume("disk"), Value::Null), IT, &source);
        assert_eq!(result.unwrap(), matcher("u1.medium", ""));
    }

    #[test]
    fn annotations_are_not_read_only_labels() {
        let mut claim = pvc(NS, "disk", Value::Null);
        claim["metadata"]["annotations"] = labels("ann");
        let source = store(vec![claim]);
        let (result, _) = run(&vm(pvc_volume("disk"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to find required instancetype.kubevirt.io/default-instancetype label on the volume")
        );
    }

    #[test]
    fn missing_instancetype_label_is_ignorable_with_kubevirt_message() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_PREFERENCE_LABEL: "p"}))]);
        let (result, _) = run(&vm(pvc_volume("disk"), Value::Null), IT, &source);
        let error = result.unwrap_err();
        assert!(error.is_ignorable());
        assert_eq!(
            error.to_string(),
            "unable to find required instancetype.kubevirt.io/default-instancetype label on the volume"
        );
    }

    #[test]
    fn missing_preference_label_is_ignorable_with_kubevirt_message() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_INSTANCETYPE_LABEL: "i"}))]);
        let (result, _) = run(&vm(pvc_volume("disk"), Value::Null), PREF, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to find required instancetype.kubevirt.io/default-preference label on the volume")
        );
    }

    #[test]
    fn unknown_pvc_is_fatal_with_kubernetes_not_found_text() {
        let source = store(vec![]);
        let (result, lookups) = run(&vm(pvc_volume("unknownPVCName"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            fatal("persistentvolumeclaims \"unknownPVCName\" not found")
        );
        assert_eq!(lookups, vec![pvc_ref(NS, "unknownPVCName")]);
    }

    #[test]
    fn lookup_failure_is_fatal_with_the_lookup_error_text() {
        let inner = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let failing = Failing {
            inner: &inner,
            fail: pvc_ref(NS, "disk"),
        };
        let result = infer_defaults(
            &vm(pvc_volume("disk"), Value::Null),
            NS,
            IT,
            &failing,
            &InferenceOptions::default(),
        );
        let expected = LookupError::Failed {
            object: pvc_ref(NS, "disk"),
            message: "forbidden".to_owned(),
        };
        assert_eq!(result.unwrap_err(), fatal(&expected.to_string()));
        assert_eq!(InferError::from(expected.clone()).to_string(), expected.to_string());
    }

    // ---- volume selection -------------------------------------------------------------------

    #[test]
    fn missing_volume_is_fatal_without_lookups() {
        let source = store(vec![]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["template"]["spec"]["volumes"] = json!([]);
        let (result, lookups) = run(&machine, IT, &source);
        assert_eq!(
            result.unwrap_err(),
            fatal("unable to find volume root to infer defaults")
        );
        assert!(lookups.is_empty());
    }

    #[test]
    fn absent_volumes_list_is_a_missing_volume() {
        let source = store(vec![]);
        let machine = json!({"spec": {"instancetype": {"inferFromVolume": "root"}, "template": {"spec": {}}}});
        let (result, _) = run(&machine, IT, &source);
        assert_eq!(
            result.unwrap_err(),
            fatal("unable to find volume root to infer defaults")
        );
    }

    #[test]
    fn unsupported_volume_type_is_ignorable() {
        let source = store(vec![]);
        let machine = vm(json!({"name": "root", "secret": {"secretName": "s"}}), Value::Null);
        let (result, lookups) = run(&machine, PREF, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to infer defaults from volume root as type is not supported")
        );
        assert!(lookups.is_empty());
    }

    #[test]
    fn first_volume_with_the_name_wins() {
        let source = store(vec![
            pvc(NS, "first", labels("first")),
            pvc(NS, "second", labels("second")),
        ]);
        let mut machine = vm(pvc_volume("first"), Value::Null);
        machine["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(pvc_volume("second"));
        let (result, lookups) = run(&machine, IT, &source);
        assert_eq!(result.unwrap().name, "first-it");
        assert_eq!(lookups, vec![pvc_ref(NS, "first")]);
    }

    #[test]
    fn persistent_volume_claim_is_considered_before_data_volume() {
        let source = store(vec![
            pvc(NS, "claim", labels("pvc")),
            data_volume(NS, "dv", labels("dv"), Value::Null),
        ]);
        let volume =
            json!({"name": "root", "persistentVolumeClaim": {"claimName": "claim"}, "dataVolume": {"name": "dv"}});
        let (result, lookups) = run(&vm(volume, Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![pvc_ref(NS, "claim")]);
    }

    #[test]
    fn null_volume_source_counts_as_absent() {
        let source = store(vec![data_volume(NS, "dv", labels("dv"), Value::Null)]);
        let volume = json!({"name": "root", "persistentVolumeClaim": null, "dataVolume": {"name": "dv"}});
        let (result, _) = run(&vm(volume, Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "dv-it");
    }

    // ---- DataVolumes ------------------------------------------------------------------------

    #[test]
    fn data_volume_labels_win_over_its_source() {
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                labels("dv"),
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap(), matcher("dv-it", "VirtualMachineInstancetype"));
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    #[test]
    fn data_volume_without_name_label_follows_source_pvc() {
        let dv_labels = json!({DEFAULT_INSTANCETYPE_KIND_LABEL: "ignored"});
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                dv_labels,
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), PREF, &source);
        assert_eq!(result.unwrap(), matcher("pvc-pref", "VirtualMachinePreference"));
        assert_eq!(lookups, vec![dv_ref("dv"), pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_volume_source_pvc_without_namespace_means_vm_namespace() {
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                Value::Null,
                json!({"source": {"pvc": {"name": "disk", "namespace": ""}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![dv_ref("dv"), pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_volume_without_name_label_follows_source_snapshot() {
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                Value::Null,
                json!({"source": {"snapshot": {"name": "snap", "namespace": NS}}}),
            ),
            snapshot(NS, "snap", labels("snap")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap(), matcher("snap-it", "VirtualMachineInstancetype"));
        assert_eq!(lookups, vec![dv_ref("dv"), snap_ref(NS, "snap")]);
    }

    #[test]
    fn data_volume_source_pvc_is_preferred_over_snapshot_and_source_ref() {
        let spec = json!({
            "source": {"pvc": {"name": "disk", "namespace": NS}, "snapshot": {"name": "snap", "namespace": NS}},
            "sourceRef": {"kind": "DataSource", "name": "ds"},
        });
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![dv_ref("dv"), pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_volume_source_ref_data_source_labels() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds", "namespace": NS}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(
                NS,
                "ds",
                labels("ds"),
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), PREF, &source);
        assert_eq!(result.unwrap(), matcher("ds-pref", "VirtualMachinePreference"));
        assert_eq!(lookups, vec![dv_ref("dv"), ds_ref(NS, "ds")]);
    }

    #[test]
    fn data_volume_source_ref_without_namespace_uses_vm_namespace() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds"}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![dv_ref("dv"), ds_ref(NS, "ds"), pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_source_without_labels_follows_its_snapshot() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds", "namespace": NS}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"snapshot": {"name": "snap", "namespace": NS}}}),
            ),
            snapshot(NS, "snap", labels("snap")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "snap-it");
        assert_eq!(lookups, vec![dv_ref("dv"), ds_ref(NS, "ds"), snap_ref(NS, "snap")]);
    }

    #[test]
    fn data_source_pvc_without_namespace_means_the_data_source_namespace() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds", "namespace": OTHER}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(OTHER, "ds", Value::Null, json!({"source": {"pvc": {"name": "golden"}}})),
            pvc(OTHER, "golden", labels("golden")),
        ]);
        let options = InferenceOptions {
            allow_cross_namespace: true,
        };
        let (result, lookups) = run_with(&vm(dv_volume("dv"), Value::Null), IT, &source, options);
        assert_eq!(result.unwrap().name, "golden-it");
        assert_eq!(
            lookups,
            vec![dv_ref("dv"), ds_ref(OTHER, "ds"), pvc_ref(OTHER, "golden")]
        );
    }

    #[test]
    fn data_source_without_pvc_or_snapshot_is_ignorable() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds"}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(NS, "ds", Value::Null, json!({"source": {}})),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable(
                "unable to infer defaults from DataSource that doesn't provide DataVolumeSourcePVC or DataVolumeSourceSnapshot"
            )
        );
        assert_eq!(lookups, vec![dv_ref("dv"), ds_ref(NS, "ds")]);
    }

    #[test]
    fn data_source_without_spec_is_ignorable() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds"}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(NS, "ds", Value::Null, Value::Null),
        ]);
        let (result, _) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap_err().message(), MISSING_DATA_SOURCE_SOURCE);
    }

    #[test]
    fn unknown_data_source_is_fatal() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds"}});
        let source = store(vec![data_volume(NS, "dv", Value::Null, spec)]);
        let (result, _) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            fatal("datasources.cdi.kubevirt.io \"ds\" not found")
        );
    }

    #[test]
    fn unsupported_source_ref_kind_is_ignorable() {
        let source = store(vec![data_volume(
            NS,
            "dv",
            Value::Null,
            json!({"sourceRef": {"kind": "foo", "name": "x"}}),
        )]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to infer defaults from DataVolumeSourceRef as Kind foo is not supported")
        );
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    #[test]
    fn unsupported_data_volume_source_is_ignorable() {
        let source = store(vec![data_volume(
            NS,
            "dv",
            Value::Null,
            json!({"source": {"vddk": {}}}),
        )]);
        let (result, _) = run(&vm(dv_volume("dv"), Value::Null), PREF, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to infer defaults from DataVolumeSpec as DataVolumeSource is not supported")
        );
    }

    #[test]
    fn data_volume_without_spec_is_an_unsupported_source() {
        let source = store(vec![data_volume(NS, "dv", Value::Null, Value::Null)]);
        let (result, _) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap_err().message(), UNSUPPORTED_DATA_VOLUME_SOURCE);
    }

    #[test]
    fn data_volume_not_found_falls_back_to_pvc_of_the_same_name() {
        let source = store(vec![pvc(NS, "gone", labels("pvc"))]);
        let (result, lookups) = run(&vm(dv_volume("gone"), Value::Null), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![dv_ref("gone"), pvc_ref(NS, "gone")]);
    }

    #[test]
    fn data_volume_and_pvc_not_found_reports_the_pvc_as_fatal() {
        let source = store(vec![]);
        let (result, lookups) = run(&vm(dv_volume("unknownDVName"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            fatal("persistentvolumeclaims \"unknownDVName\" not found")
        );
        assert_eq!(lookups, vec![dv_ref("unknownDVName"), pvc_ref(NS, "unknownDVName")]);
    }

    #[test]
    fn data_volume_lookup_failure_other_than_not_found_does_not_fall_back() {
        let inner = store(vec![pvc(NS, "dv", labels("pvc"))]);
        let failing = Failing {
            inner: &inner,
            fail: dv_ref("dv"),
        };
        let recording = RecordingSource::new(&failing);
        let result = infer_defaults(
            &vm(dv_volume("dv"), Value::Null),
            NS,
            IT,
            &recording,
            &InferenceOptions::default(),
        );
        let error = result.unwrap_err();
        assert!(!error.is_ignorable());
        assert!(
            error
                .message()
                .starts_with("failed to get DataVolume vmns/dv: forbidden"),
            "{error}"
        );
        assert_eq!(recording.requested(), vec![dv_ref("dv")]);
    }

    #[test]
    fn found_data_volume_falls_back_to_its_spec_not_to_the_same_named_pvc() {
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, json!({"source": {"http": {"url": "x"}}})),
            pvc(NS, "dv", labels("pvc")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(result.unwrap_err().message(), UNSUPPORTED_DATA_VOLUME_SOURCE);
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    // ---- dataVolumeTemplates ----------------------------------------------------------------

    fn template(name: &str, spec: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels("template")}, "spec": spec})
    }

    #[test]
    fn data_volume_template_takes_precedence_and_its_labels_are_not_read() {
        let source = store(vec![
            data_volume(NS, "dv", labels("cluster-dv"), Value::Null),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let templates = json!([
            template(
                "unrelated",
                json!({"source": {"pvc": {"name": "nope", "namespace": NS}}})
            ),
            template("dv", json!({"source": {"pvc": {"name": "disk", "namespace": NS}}})),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_eq!(result.unwrap(), matcher("pvc-it", "VirtualMachineInstancetype"));
        assert_eq!(lookups, vec![pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_volume_template_with_snapshot_source() {
        let source = store(vec![snapshot(NS, "snap", labels("snap"))]);
        let templates = json!([template(
            "dv",
            json!({"source": {"snapshot": {"name": "snap", "namespace": NS}}})
        )]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), PREF, &source);
        assert_eq!(result.unwrap().name, "snap-pref");
        assert_eq!(lookups, vec![snap_ref(NS, "snap")]);
    }

    #[test]
    fn data_volume_template_with_source_ref_to_data_source_and_pvc() {
        let source = store(vec![
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let templates = json!([template(
            "dv",
            json!({"sourceRef": {"kind": "DataSource", "name": "ds", "namespace": NS}})
        )]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
        assert_eq!(lookups, vec![ds_ref(NS, "ds"), pvc_ref(NS, "disk")]);
    }

    #[test]
    fn data_volume_template_without_spec_is_an_unsupported_source() {
        let source = store(vec![data_volume(NS, "dv", labels("dv"), Value::Null)]);
        let templates = json!([{"metadata": {"name": "dv", "labels": labels("template")}}]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_eq!(result.unwrap_err(), ignorable(UNSUPPORTED_DATA_VOLUME_SOURCE));
        assert!(lookups.is_empty());
    }

    #[test]
    fn data_volume_template_with_other_name_does_not_apply() {
        let source = store(vec![data_volume(NS, "dv", labels("dv"), Value::Null)]);
        let templates = json!([template("another", json!({"source": {"blank": {}}}))]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_eq!(result.unwrap().name, "dv-it");
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    // ---- cross-namespace references ----------------------------------------------------------

    fn assert_cross_namespace_error(error: &InferError, field: &str, secret: &str) {
        let message = error.message();
        assert!(!error.is_ignorable(), "{message}");
        assert!(message.contains(field), "{message}");
        assert!(message.contains("\"otherns\""), "{message}");
        assert!(message.contains("\"vmns\""), "{message}");
        assert!(
            message.contains("cross-namespace inference is not allowed"),
            "{message}"
        );
        assert!(
            !message.contains(secret),
            "must not name the referenced object: {message}"
        );
    }

    #[test]
    fn template_source_pvc_in_other_namespace_is_refused_before_any_lookup() {
        let source = store(vec![pvc(OTHER, "secret-disk", labels("pvc"))]);
        let templates = json!([template(
            "dv",
            json!({"source": {"pvc": {"name": "secret-disk", "namespace": OTHER}}})
        )]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        let error = result.unwrap_err();
        assert_eq!(
            error.message(),
            "unable to infer defaults from volume root: spec.dataVolumeTemplates[0].spec.source.pvc.namespace of \
             VirtualMachine refers to namespace \"otherns\", but the VirtualMachine is in namespace \"vmns\" and \
             cross-namespace inference is not allowed"
        );
        assert_cross_namespace_error(
            &error,
            "spec.dataVolumeTemplates[0].spec.source.pvc.namespace",
            "secret-disk",
        );
        assert!(lookups.is_empty());
    }

    #[test]
    fn template_source_pvc_in_other_namespace_is_followed_when_allowed() {
        let source = store(vec![pvc(OTHER, "disk", labels("other"))]);
        let templates = json!([template(
            "dv",
            json!({"source": {"pvc": {"name": "disk", "namespace": OTHER}}})
        )]);
        let options = InferenceOptions {
            allow_cross_namespace: true,
        };
        let (result, lookups) = run_with(&vm(dv_volume("dv"), templates), IT, &source, options);
        assert_eq!(result.unwrap().name, "other-it");
        assert_eq!(lookups, vec![pvc_ref(OTHER, "disk")]);
    }

    #[test]
    fn explicit_vm_namespace_reference_is_not_cross_namespace() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let templates = json!([template(
            "dv",
            json!({"source": {"pvc": {"name": "disk", "namespace": NS}}})
        )]);
        let (result, _) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_eq!(result.unwrap().name, "pvc-it");
    }

    #[test]
    fn data_volume_source_snapshot_in_other_namespace_is_refused() {
        let spec = json!({"source": {"snapshot": {"name": "secret-snap", "namespace": OTHER}}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            snapshot(OTHER, "secret-snap", labels("s")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        let error = result.unwrap_err();
        assert_cross_namespace_error(
            &error,
            "spec.source.snapshot.namespace of DataVolume vmns/dv",
            "secret-snap",
        );
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    #[test]
    fn data_volume_source_ref_in_other_namespace_is_refused() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "secret-ds", "namespace": OTHER}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(OTHER, "secret-ds", labels("ds"), Value::Null),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_cross_namespace_error(
            &result.unwrap_err(),
            "spec.sourceRef.namespace of DataVolume vmns/dv",
            "secret-ds",
        );
        assert_eq!(lookups, vec![dv_ref("dv")]);
    }

    #[test]
    fn data_volume_source_ref_in_other_namespace_is_followed_when_allowed() {
        let spec = json!({"sourceRef": {"kind": "DataSource", "name": "ds", "namespace": OTHER}});
        let source = store(vec![
            data_volume(NS, "dv", Value::Null, spec),
            data_source(OTHER, "ds", labels("ds"), Value::Null),
        ]);
        let options = InferenceOptions {
            allow_cross_namespace: true,
        };
        let (result, lookups) = run_with(&vm(dv_volume("dv"), Value::Null), PREF, &source, options);
        assert_eq!(result.unwrap().name, "ds-pref");
        assert_eq!(lookups, vec![dv_ref("dv"), ds_ref(OTHER, "ds")]);
    }

    #[test]
    fn data_source_pvc_in_other_namespace_is_refused() {
        let templates = json!([template(
            "dv",
            json!({"sourceRef": {"kind": "DataSource", "name": "ds"}})
        )]);
        let source = store(vec![
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"pvc": {"name": "secret-golden", "namespace": OTHER}}}),
            ),
            pvc(OTHER, "secret-golden", labels("golden")),
        ]);
        let (result, lookups) = run(&vm(dv_volume("dv"), templates), IT, &source);
        assert_cross_namespace_error(
            &result.unwrap_err(),
            "spec.source.pvc.namespace of DataSource vmns/ds",
            "secret-golden",
        );
        assert_eq!(lookups, vec![ds_ref(NS, "ds")]);
    }

    #[test]
    fn data_source_snapshot_in_other_namespace_is_refused_and_followed_when_allowed() {
        let templates = json!([template(
            "dv",
            json!({"sourceRef": {"kind": "DataSource", "name": "ds"}})
        )]);
        let source = store(vec![
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"snapshot": {"name": "snap", "namespace": OTHER}}}),
            ),
            snapshot(OTHER, "snap", labels("snap")),
        ]);
        let machine = vm(dv_volume("dv"), templates);
        let (refused, _) = run(&machine, IT, &source);
        assert_cross_namespace_error(
            &refused.unwrap_err(),
            "spec.source.snapshot.namespace of DataSource vmns/ds",
            "\"snap\"",
        );
        let options = InferenceOptions {
            allow_cross_namespace: true,
        };
        let (allowed, lookups) = run_with(&machine, IT, &source, options);
        assert_eq!(allowed.unwrap().name, "snap-it");
        assert_eq!(lookups, vec![ds_ref(NS, "ds"), snap_ref(OTHER, "snap")]);
    }

    #[test]
    fn cross_namespace_error_is_the_same_whether_or_not_the_object_exists() {
        let templates = json!([template(
            "dv",
            json!({"source": {"pvc": {"name": "disk", "namespace": OTHER}}})
        )]);
        let machine = vm(dv_volume("dv"), templates);
        let (with, _) = run(&machine, IT, &store(vec![pvc(OTHER, "disk", labels("x"))]));
        let (without, _) = run(&machine, IT, &store(vec![]));
        assert_eq!(with.unwrap_err(), without.unwrap_err());
    }

    #[test]
    fn inference_options_default_refuses_cross_namespace() {
        assert!(!InferenceOptions::default().allow_cross_namespace);
    }

    // ---- malformed input ----------------------------------------------------------------------

    fn malformed_message(machine: &Value, source: &InMemorySource) -> String {
        let (result, _) = run(machine, IT, source);
        let error = result.unwrap_err();
        assert!(!error.is_ignorable(), "{error}");
        error.to_string()
    }

    #[test]
    fn malformed_vm_fields_are_fatal_and_named() {
        let source = store(vec![]);
        assert_eq!(
            malformed_message(&json!([]), &source),
            "invalid VirtualMachine: must be a JSON object"
        );
        assert_eq!(
            malformed_message(&json!({"spec": {}}), &source),
            "invalid VirtualMachine: spec.instancetype is not set"
        );
        assert_eq!(
            malformed_message(&json!({"spec": {"instancetype": "x"}}), &source),
            "invalid VirtualMachine: spec.instancetype must be an object"
        );
        assert_eq!(
            malformed_message(&json!({"spec": {"instancetype": {"inferFromVolume": 3}}}), &source),
            "invalid VirtualMachine: spec.instancetype.inferFromVolume must be a string"
        );
        assert_eq!(
            malformed_message(&json!({"spec": {"instancetype": {"name": "x"}}}), &source),
            "invalid VirtualMachine: spec.instancetype.inferFromVolume must be a non-empty string"
        );

        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["template"]["spec"]["volumes"] = json!({"root": {}});
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes must be an array"
        );

        machine["spec"]["template"]["spec"]["volumes"] = json!(["root"]);
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes[0] must be an object"
        );

        machine["spec"]["template"]["spec"]["volumes"] = json!([{"name": 1}]);
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes[0].name must be a string"
        );

        machine["spec"]["template"]["spec"]["volumes"] = json!([{"name": "root", "persistentVolumeClaim": {}}]);
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes[0].persistentVolumeClaim.claimName must be a non-empty string"
        );

        machine["spec"]["template"]["spec"]["volumes"] = json!([{"name": "root", "dataVolume": {"name": ""}}]);
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes[0].dataVolume.name must be a non-empty string"
        );

        machine["spec"]["template"]["spec"]["volumes"] = json!([{"name": "root", "dataVolume": "dv"}]);
        assert_eq!(
            malformed_message(&machine, &source),
            "invalid VirtualMachine: spec.template.spec.volumes[0].dataVolume must be an object"
        );
    }

    #[test]
    fn malformed_data_volume_templates_are_fatal_and_named() {
        let source = store(vec![]);
        assert_eq!(
            malformed_message(&vm(dv_volume("dv"), json!({})), &source),
            "invalid VirtualMachine: spec.dataVolumeTemplates must be an array"
        );
        assert_eq!(
            malformed_message(&vm(dv_volume("dv"), json!([7])), &source),
            "invalid VirtualMachine: spec.dataVolumeTemplates[0] must be an object"
        );
        assert_eq!(
            malformed_message(
                &vm(
                    dv_volume("dv"),
                    json!([{"metadata": {"name": "dv"}, "spec": {"sourceRef": {"kind": "DataSource"}}}])
                ),
                &source
            ),
            "invalid VirtualMachine: spec.dataVolumeTemplates[0].spec.sourceRef.name must be a non-empty string"
        );
        assert_eq!(
            malformed_message(
                &vm(
                    dv_volume("dv"),
                    json!([{"metadata": {"name": "dv"}, "spec": {"source": {"pvc": {"namespace": NS}}}}])
                ),
                &source
            ),
            "invalid VirtualMachine: spec.dataVolumeTemplates[0].spec.source.pvc.name must be a non-empty string"
        );
        assert_eq!(
            malformed_message(
                &vm(
                    dv_volume("dv"),
                    json!([{"metadata": {"name": "dv"}, "spec": {"source": {"pvc": {"name": "d", "namespace": 5}}}}])
                ),
                &source
            ),
            "invalid VirtualMachine: spec.dataVolumeTemplates[0].spec.source.pvc.namespace must be a string"
        );
    }

    #[test]
    fn malformed_labels_are_fatal_and_named() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_INSTANCETYPE_LABEL: 42}))]);
        assert_eq!(
            malformed_message(&vm(pvc_volume("disk"), Value::Null), &source),
            "invalid PersistentVolumeClaim vmns/disk: metadata.labels[\"instancetype.kubevirt.io/default-instancetype\"] must be a string"
        );
        let source = store(vec![pvc(
            NS,
            "disk",
            json!({DEFAULT_INSTANCETYPE_LABEL: "a", DEFAULT_INSTANCETYPE_KIND_LABEL: false}),
        )]);
        assert!(malformed_message(&vm(pvc_volume("disk"), Value::Null), &source).contains("default-instancetype-kind"));
        let source = store(vec![pvc(NS, "disk", json!(["not", "a", "map"]))]);
        assert_eq!(
            malformed_message(&vm(pvc_volume("disk"), Value::Null), &source),
            "invalid PersistentVolumeClaim vmns/disk: metadata.labels must be an object"
        );
    }

    #[test]
    fn malformed_looked_up_objects_are_fatal_and_named() {
        let source = store(vec![data_volume(
            NS,
            "dv",
            Value::Null,
            json!({"sourceRef": "DataSource"}),
        )]);
        assert_eq!(
            malformed_message(&vm(dv_volume("dv"), Value::Null), &source),
            "invalid DataVolume vmns/dv: spec.sourceRef must be an object"
        );
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                Value::Null,
                json!({"sourceRef": {"kind": "DataSource", "name": "ds"}}),
            ),
            data_source(NS, "ds", Value::Null, json!({"source": {"pvc": {"name": ""}}})),
        ]);
        assert_eq!(
            malformed_message(&vm(dv_volume("dv"), Value::Null), &source),
            "invalid DataSource vmns/ds: spec.source.pvc.name must be a non-empty string"
        );
    }

    #[test]
    fn non_object_lookup_answer_is_fatal() {
        struct Scalar;
        impl ObjectSource for Scalar {
            fn get(&self, _: &ObjectRef) -> Result<Value, LookupError> {
                Ok(json!("surprise"))
            }
        }
        let result = infer_defaults(
            &vm(pvc_volume("disk"), Value::Null),
            NS,
            IT,
            &Scalar,
            &InferenceOptions::default(),
        );
        assert_eq!(
            result.unwrap_err(),
            fatal("invalid PersistentVolumeClaim vmns/disk: must be a JSON object")
        );
    }

    #[test]
    fn unsupported_source_ref_kind_is_reported_before_a_missing_name() {
        let source = store(vec![data_volume(NS, "dv", Value::Null, json!({"sourceRef": {}}))]);
        let (result, _) = run(&vm(dv_volume("dv"), Value::Null), IT, &source);
        assert_eq!(
            result.unwrap_err(),
            ignorable("unable to infer defaults from DataVolumeSourceRef as Kind  is not supported")
        );
    }

    // ---- apply_inference ----------------------------------------------------------------------

    fn apply(machine: &mut Value, source: &InMemorySource) -> Result<Vec<String>, InferError> {
        apply_inference(machine, NS, source, &InferenceOptions::default())
    }

    #[test]
    fn apply_replaces_both_matchers_in_place_and_reports_notes() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"]["revisionName"] = json!("stale");
        let notes = apply(&mut machine, &source).unwrap();
        assert_eq!(
            machine["spec"]["instancetype"],
            json!({"name": "pvc-it", "kind": "VirtualMachineInstancetype"})
        );
        assert_eq!(
            machine["spec"]["preference"],
            json!({"name": "pvc-pref", "kind": "VirtualMachinePreference"})
        );
        let keys: Vec<&String> = machine["spec"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["instancetype", "preference", "dataVolumeTemplates", "template"]);
        assert_eq!(
            machine["spec"]["template"]["spec"]["domain"]["memory"],
            json!({"guest": "1Gi"})
        );
        assert_eq!(
            notes,
            vec![
                "inferred instancetype pvc-it (kind VirtualMachineInstancetype) from volume root".to_owned(),
                "inferred preference pvc-pref (kind VirtualMachinePreference) from volume root".to_owned(),
            ]
        );
    }

    #[test]
    fn apply_omits_empty_kind() {
        let source = store(vec![pvc(
            NS,
            "disk",
            json!({DEFAULT_INSTANCETYPE_LABEL: "u1.medium", DEFAULT_PREFERENCE_LABEL: "fedora"}),
        )]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        let notes = apply(&mut machine, &source).unwrap();
        assert_eq!(machine["spec"]["instancetype"], json!({"name": "u1.medium"}));
        assert_eq!(machine["spec"]["preference"], json!({"name": "fedora"}));
        assert_eq!(notes[0], "inferred instancetype u1.medium from volume root");
    }

    #[test]
    fn apply_with_ignore_policy_removes_guest_memory_on_instancetype_success() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let notes = apply(&mut machine, &source).unwrap();
        assert!(machine["spec"]["template"]["spec"]["domain"].get("memory").is_none());
        assert_eq!(machine["spec"]["template"]["spec"]["domain"], json!({"devices": {}}));
        assert_eq!(notes.len(), 3);
        assert!(notes[0].starts_with("removed spec.template.spec.domain.memory"));
    }

    #[test]
    fn apply_with_reject_policy_keeps_guest_memory() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Reject");
        apply(&mut machine, &source).unwrap();
        assert_eq!(
            machine["spec"]["template"]["spec"]["domain"]["memory"],
            json!({"guest": "1Gi"})
        );
    }

    #[test]
    fn apply_with_ignore_policy_on_preference_keeps_guest_memory() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["preference"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let notes = apply(&mut machine, &source).unwrap();
        assert_eq!(
            machine["spec"]["template"]["spec"]["domain"]["memory"],
            json!({"guest": "1Gi"})
        );
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn apply_ignore_policy_with_ignorable_error_removes_the_matcher() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_PREFERENCE_LABEL: "fedora"}))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let notes = apply(&mut machine, &source).unwrap();
        assert!(machine["spec"].get("instancetype").is_none());
        assert_eq!(machine["spec"]["preference"], json!({"name": "fedora"}));
        // Nothing inferred for the instancetype, so guest memory stays.
        assert_eq!(
            machine["spec"]["template"]["spec"]["domain"]["memory"],
            json!({"guest": "1Gi"})
        );
        let keys: Vec<&String> = machine["spec"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["preference", "dataVolumeTemplates", "template"]);
        assert_eq!(
            notes[0],
            "removed spec.instancetype: could not infer it from volume root and inferFromVolumeFailurePolicy is \
             Ignore: unable to find required instancetype.kubevirt.io/default-instancetype label on the volume"
        );
    }

    #[test]
    fn apply_ignore_policy_on_preference_removes_it_for_unsupported_volume() {
        let source = store(vec![]);
        let mut machine = vm(json!({"name": "root", "emptyDisk": {"capacity": "1Gi"}}), Value::Null);
        machine["spec"].as_object_mut().unwrap().shift_remove("instancetype");
        machine["spec"]["preference"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let notes = apply(&mut machine, &source).unwrap();
        assert!(machine["spec"].get("preference").is_none());
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn apply_reject_policy_returns_the_ignorable_error_and_leaves_vm_untouched() {
        let source = store(vec![pvc(NS, "disk", json!({DEFAULT_PREFERENCE_LABEL: "fedora"}))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Reject");
        let before = machine.clone();
        let error = apply(&mut machine, &source).unwrap_err();
        assert!(error.is_ignorable());
        assert_eq!(machine, before);
    }

    #[test]
    fn apply_default_policy_rejects_ignorable_errors() {
        let source = store(vec![]);
        let mut machine = vm(json!({"name": "root", "emptyDisk": {}}), Value::Null);
        let error = apply(&mut machine, &source).unwrap_err();
        assert_eq!(
            error,
            ignorable("unable to infer defaults from volume root as type is not supported")
        );
    }

    #[test]
    fn apply_ignore_policy_does_not_ignore_fatal_errors() {
        let source = store(vec![]);
        let mut machine = vm(pvc_volume("missing"), Value::Null);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let before = machine.clone();
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("persistentvolumeclaims \"missing\" not found")
        );
        assert_eq!(machine, before);

        machine["spec"]["instancetype"]["inferFromVolume"] = json!("nope");
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("unable to find volume nope to infer defaults")
        );
    }

    #[test]
    fn apply_ignore_policy_does_not_ignore_cross_namespace_refusal() {
        let source = store(vec![pvc(OTHER, "disk", labels("pvc"))]);
        let templates = json!([template(
            "dv",
            json!({"source": {"pvc": {"name": "disk", "namespace": OTHER}}})
        )]);
        let mut machine = vm(dv_volume("dv"), templates);
        machine["spec"]["instancetype"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        machine["spec"]["preference"]["inferFromVolumeFailurePolicy"] = json!("Ignore");
        let error = apply(&mut machine, &source).unwrap_err();
        assert!(!error.is_ignorable());
        let notes = apply_inference(
            &mut machine,
            NS,
            &source,
            &InferenceOptions {
                allow_cross_namespace: true,
            },
        )
        .unwrap();
        assert_eq!(notes.len(), 3);
        assert_eq!(machine["spec"]["instancetype"]["name"], "pvc-it");
    }

    #[test]
    fn apply_is_atomic_when_preference_fails_after_instancetype_succeeded() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["preference"]["inferFromVolume"] = json!("absent");
        let before = machine.clone();
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("unable to find volume absent to infer defaults")
        );
        assert_eq!(machine, before);
    }

    #[test]
    fn apply_leaves_matcher_with_name_alone_without_lookups() {
        let inner = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let counting = Counting {
            inner: &inner,
            calls: RefCell::new(Vec::new()),
        };
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"] = json!({"name": "explicit", "inferFromVolume": "root"});
        machine["spec"]["preference"] = json!({"name": "explicit"});
        let before = machine.clone();
        let notes = apply_inference(&mut machine, NS, &counting, &InferenceOptions::default()).unwrap();
        assert!(notes.is_empty());
        assert_eq!(machine, before);
        assert!(counting.calls.borrow().is_empty());
    }

    #[test]
    fn apply_skips_absent_null_and_empty_inference() {
        let source = store(vec![]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["instancetype"] = Value::Null;
        machine["spec"]["preference"] = json!({"inferFromVolume": "", "kind": "VirtualMachinePreference"});
        let before = machine.clone();
        assert!(apply(&mut machine, &source).unwrap().is_empty());
        assert_eq!(machine, before);
        let mut bare = json!({"spec": {}});
        assert!(apply(&mut bare, &source).unwrap().is_empty());
        let mut no_spec = json!({"metadata": {}});
        assert!(apply(&mut no_spec, &source).unwrap().is_empty());
    }

    #[test]
    fn apply_rejects_invalid_failure_policy() {
        let source = store(vec![pvc(NS, "disk", labels("pvc"))]);
        let mut machine = vm(pvc_volume("disk"), Value::Null);
        machine["spec"]["preference"]["inferFromVolumeFailurePolicy"] = json!("Sometimes");
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("Invalid value 'Sometimes' for InferFromVolumeFailurePolicy")
        );
    }

    #[test]
    fn apply_rejects_malformed_matcher() {
        let source = store(vec![]);
        let mut machine = json!({"spec": {"instancetype": ["root"]}});
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("invalid VirtualMachine: spec.instancetype must be an object")
        );
        let mut machine =
            json!({"spec": {"preference": {"inferFromVolume": "root", "inferFromVolumeFailurePolicy": 1}}});
        assert_eq!(
            apply(&mut machine, &source).unwrap_err(),
            fatal("invalid VirtualMachine: spec.preference.inferFromVolumeFailurePolicy must be a string")
        );
        let mut not_object = json!("vm");
        assert_eq!(
            apply(&mut not_object, &source).unwrap_err(),
            fatal("invalid VirtualMachine: must be a JSON object")
        );
    }

    #[test]
    fn apply_looks_up_each_object_once_across_both_matchers() {
        let inner = store(vec![
            data_volume(
                NS,
                "dv",
                Value::Null,
                json!({"sourceRef": {"kind": "DataSource", "name": "ds"}}),
            ),
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"pvc": {"name": "disk", "namespace": NS}}}),
            ),
            pvc(NS, "disk", labels("pvc")),
        ]);
        let counting = Counting {
            inner: &inner,
            calls: RefCell::new(Vec::new()),
        };
        let mut machine = vm(dv_volume("dv"), Value::Null);
        apply_inference(&mut machine, NS, &counting, &InferenceOptions::default()).unwrap();
        assert_eq!(
            *counting.calls.borrow(),
            vec![dv_ref("dv"), ds_ref(NS, "ds"), pvc_ref(NS, "disk")]
        );
        assert_eq!(machine["spec"]["instancetype"]["name"], "pvc-it");
        assert_eq!(machine["spec"]["preference"]["name"], "pvc-pref");
    }

    #[test]
    fn apply_lookup_order_is_instancetype_chain_then_new_preference_objects() {
        let inner = store(vec![
            pvc(NS, "it-disk", labels("it")),
            data_volume(
                NS,
                "pref-dv",
                Value::Null,
                json!({"source": {"snapshot": {"name": "snap"}}}),
            ),
            snapshot(NS, "snap", labels("snap")),
        ]);
        let counting = Counting {
            inner: &inner,
            calls: RefCell::new(Vec::new()),
        };
        let mut machine = vm(pvc_volume("it-disk"), Value::Null);
        machine["spec"]["preference"]["inferFromVolume"] = json!("pref");
        machine["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "pref", "dataVolume": {"name": "pref-dv"}}));
        apply_inference(&mut machine, NS, &counting, &InferenceOptions::default()).unwrap();
        assert_eq!(
            *counting.calls.borrow(),
            vec![pvc_ref(NS, "it-disk"), dv_ref("pref-dv"), snap_ref(NS, "snap")]
        );
        assert_eq!(machine["spec"]["instancetype"]["name"], "it-it");
        assert_eq!(machine["spec"]["preference"]["name"], "snap-pref");
    }

    #[test]
    fn repeated_walks_are_deterministic() {
        let source = store(vec![
            data_volume(
                NS,
                "dv",
                Value::Null,
                json!({"sourceRef": {"kind": "DataSource", "name": "ds"}}),
            ),
            data_source(
                NS,
                "ds",
                Value::Null,
                json!({"source": {"snapshot": {"name": "snap", "namespace": NS}}}),
            ),
            snapshot(NS, "snap", labels("snap")),
        ]);
        let machine = vm(dv_volume("dv"), Value::Null);
        let first = run(&machine, IT, &source);
        let second = run(&machine, IT, &source);
        assert_eq!(first, second);
        assert_eq!(first.1.len(), 3);
    }

    // ---- small API pieces ---------------------------------------------------------------------

    #[test]
    fn infer_error_display_is_the_message() {
        assert_eq!(ignorable("a b").to_string(), "a b");
        assert_eq!(fatal("c").to_string(), "c");
        assert_eq!(fatal("c").message(), "c");
        let not_found = LookupError::NotFound(pvc_ref(NS, "x"));
        assert_eq!(
            InferError::from(not_found),
            fatal("persistentvolumeclaims \"x\" not found")
        );
    }

    #[test]
    fn targets_name_their_labels_and_fields() {
        assert_eq!(IT.matcher_field(), "instancetype");
        assert_eq!(PREF.matcher_field(), "preference");
        assert_eq!(IT.name_label(), "instancetype.kubevirt.io/default-instancetype");
        assert_eq!(IT.kind_label(), "instancetype.kubevirt.io/default-instancetype-kind");
        assert_eq!(PREF.name_label(), "instancetype.kubevirt.io/default-preference");
        assert_eq!(PREF.kind_label(), "instancetype.kubevirt.io/default-preference-kind");
        assert_eq!(matcher("a", "").to_matcher(), json!({"name": "a"}));
        assert_eq!(matcher("a", "b").to_matcher(), json!({"name": "a", "kind": "b"}));
    }
}
