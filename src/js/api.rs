//! The npm API as plain functions over JSON values, free of wasm-bindgen types: argument checks,
//! the in-memory "cluster" built from `objects`, the shared review, and the tagged results.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::engine::cause::Cause;
use crate::engine::find;
use crate::engine::lookup::InMemorySource;
use crate::engine::object_validation::validate_object;
use crate::engine::review::{Rejection, ReviewMode, ReviewOptions, Verdict, VmReview, review_vm};
use crate::js::convert::{Misuse, describe, parse_text};

/// The `objects` of the review functions, read once (`new PreparedObjects(objects)` keeps one for
/// many calls): the JSON text of the array and the in-memory cluster built from it for the last
/// VM namespace asked about (namespaced objects without a namespace live in the VM's, so when there
/// are any, another namespace rebuilds it).
pub struct Objects {
    /// The JSON text of the array (`None` for `undefined`, which is misuse).
    text: Option<String>,
    /// Built on first use, and again for a VM in another namespace.
    cluster: Option<Cluster>,
}

/// The cluster built from the objects for one namespace, with its warnings.
struct Cluster {
    namespace: String,
    source: InMemorySource,
    warnings: Vec<String>,
}

impl Objects {
    /// The objects of a JSON text, read on first use (so that misuse of the VM and options is
    /// reported first).
    pub fn owned(objects: Option<String>) -> Objects {
        Objects {
            text: objects,
            cluster: None,
        }
    }

    /// The objects read now, for many calls: misuse (not an array, an element that is not an
    /// object) is reported here.
    pub fn prepare(objects: Option<String>) -> Result<Objects, Misuse> {
        let mut prepared = Self::owned(objects);
        prepared.cluster_for("")?;
        Ok(prepared)
    }

    /// The cluster for a VM in `namespace`: the last one built when it was for that namespace or
    /// holds no object that took the VM's namespace (objects carrying their own, cluster-scoped
    /// kinds), else built anew.
    fn cluster_for(&mut self, namespace: &str) -> Result<&Cluster, Misuse> {
        let cluster = match self.cluster.take() {
            Some(cluster) if cluster.namespace == namespace || !cluster.source.takes_default_namespace() => cluster,
            _ => {
                let (source, warnings) = build_source(self.text.as_deref(), namespace)?;
                Cluster {
                    namespace: namespace.to_owned(),
                    source,
                    warnings,
                }
            }
        };
        Ok(self.cluster.insert(cluster))
    }

    /// `expand`'s result for `vm` against these objects.
    pub fn expand(&mut self, vm: &Value, options: &Value) -> Result<Value, Misuse> {
        let (review, warnings) = self.review(vm, options, ReviewMode::Expand)?;
        Ok(match review.verdict {
            Verdict::Accept => success(Some((vm.clone(), false)), warnings),
            Verdict::Mutate(expanded) => success(Some((expanded, true)), warnings),
            Verdict::Reject(rejection) => failure(&rejection, warnings),
        })
    }

    /// `validate`'s result for `vm` against these objects.
    pub fn validate(&mut self, vm: &Value, options: &Value) -> Result<Value, Misuse> {
        let (review, warnings) = self.review(vm, options, ReviewMode::Validate)?;
        Ok(match review.verdict {
            Verdict::Accept | Verdict::Mutate(_) => success(None, warnings),
            Verdict::Reject(rejection) => failure(&rejection, warnings),
        })
    }

    /// Runs the shared review with the VM's namespace (`""` when it has none, as the native CLI and
    /// the conformance runner do).
    fn review(&mut self, vm: &Value, options: &Value, mode: ReviewMode) -> Result<(VmReview, Vec<String>), Misuse> {
        if !vm.is_object() {
            return Err(Misuse(format!(
                "vm must be a VirtualMachine object, not {}",
                describe(vm)
            )));
        }
        let options = parse_options(options, mode)?;
        let namespace = find::vm_namespace(vm);
        let cluster = self.cluster_for(namespace)?;
        let review = review_vm(vm, None, namespace, &cluster.source, &options);
        let mut warnings = cluster.warnings.clone();
        warnings.extend(review.warnings.iter().cloned());
        Ok((review, warnings))
    }
}

/// `validateObject(obj)`: admission of an instancetype or preference object, with warnings.
pub fn validate_object_api(object: &Value) -> Result<Value, Misuse> {
    if !object.is_object() {
        return Err(Misuse(format!(
            "validateObject(obj): obj must be an instancetype or preference object, not {}",
            describe(object)
        )));
    }
    let validation = validate_object(object);
    Ok(if validation.is_allowed() {
        success(None, validation.warnings)
    } else {
        failure(&Rejection::invalid(validation.causes), validation.warnings)
    })
}

/// Reads the options exactly as the policy reads its settings (same keys, same checks); `mode`
/// is set by the function called.
pub fn parse_options(options: &Value, mode: ReviewMode) -> Result<ReviewOptions, Misuse> {
    let mut parsed = match options {
        Value::Null => ReviewOptions::default(),
        Value::Object(_) => serde_path_to_error::deserialize::<_, ReviewOptions>(options).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path.is_empty() || path == "." {
                Misuse(format!("invalid options: {inner}"))
            } else {
                Misuse(format!("invalid options: {path}: {inner}"))
            }
        })?,
        other => return Err(Misuse(format!("options must be an object, not {}", describe(other)))),
    };
    parsed
        .validate()
        .map_err(|problem| Misuse(format!("invalid options: {problem}")))?;
    parsed.mode = mode;
    Ok(parsed)
}

/// The in-memory cluster: every usable object of `objects` (the JSON text of the array, `None` for
/// `undefined`); each unusable one (an unsupported kind, no `metadata.name`) is skipped with a
/// warning. Namespaced objects without a namespace live in `namespace` (the VM's). When two objects
/// share kind, namespace and name, the later wins. Each element goes to the source as its own text,
/// so instancetypes and preferences are decoded straight from it (`InMemorySource::insert_json`).
pub fn build_source(objects: Option<&str>, namespace: &str) -> Result<(InMemorySource, Vec<String>), Misuse> {
    let not_an_array = |found: &Value| {
        Misuse(format!(
            "objects must be an array of Kubernetes objects (instancetypes, preferences, ControllerRevisions, PVCs, DataVolumes, DataSources, VolumeSnapshots), not {}",
            describe(found)
        ))
    };
    let Some(text) = objects else {
        return Err(not_an_array(&Value::Null));
    };
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) else {
        return Err(not_an_array(&parse_text(text, "objects")?));
    };
    let mut source = InMemorySource::new();
    let mut warnings = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item = item.get();
        if !item.starts_with('{') {
            return Err(Misuse(format!(
                "objects[{index}] must be a Kubernetes object, not {}",
                describe(&parse_text(item, "objects")?)
            )));
        }
        if let Err(problem) = source.insert_json(item, Some(namespace)) {
            warnings.push(format!("objects[{index}] ignored: {problem}"));
        }
    }
    Ok((source, warnings))
}

/// `{ok: true, [vm, changed,] warnings}`.
fn success(vm: Option<(Value, bool)>, warnings: Vec<String>) -> Value {
    let mut result = Map::new();
    result.insert("ok".into(), Value::Bool(true));
    if let Some((vm, changed)) = vm {
        result.insert("vm".into(), vm);
        result.insert("changed".into(), Value::Bool(changed));
    }
    result.insert("warnings".into(), json!(warnings));
    Value::Object(result)
}

/// `{ok: false, message, code, causes, warnings}`.
fn failure(rejection: &Rejection, warnings: Vec<String>) -> Value {
    json!({
        "ok": false,
        "message": rejection.message,
        "code": rejection.code,
        "causes": causes(&rejection.causes),
        "warnings": warnings,
    })
}

fn causes(causes: &[Cause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|cause| json!({"reason": cause.reason, "message": cause.message, "field": cause.field}))
            .collect(),
    )
}
