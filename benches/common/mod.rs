//! Fixtures and jobs shared by the native benches (`benches/engine.rs`, `benches/engine_report.rs`).
//!
//! The matrix: every instancetype of `data/common-instancetypes/common-clusterinstancetypes-bundle.json` ×
//! (every preference of `common-clusterpreferences-bundle.json`, and none), each applied to `bench/vm.json`
//! (a VM with a containerDisk and a cloud-init volume). Every object is held as the JSON bytes a caller
//! would receive, so one job is the whole of a caller's work: parse, expand, serialize.

#![allow(dead_code)] // each bench binary uses a part

use std::path::PathBuf;

use kubevirt_instancetype::engine::expand::{expand, expand_owned};
use kubevirt_instancetype::engine::lookup::{BorrowingSource, InMemorySource, ObjectSource};
use kubevirt_instancetype::engine::options::ExpandOptions;
use serde_json::{Value, json};

/// One cell of the matrix: the VM and its objects, as bytes.
pub struct Case {
    /// `instancetype/preference` (preference `-` for none).
    pub label: String,
    /// The VM naming this instancetype and preference.
    pub vm: Vec<u8>,
    /// The `VirtualMachineClusterInstancetype`.
    pub instancetype: Vec<u8>,
    /// The `VirtualMachineClusterPreference`, if the VM has one.
    pub preference: Option<Vec<u8>>,
    /// The same objects read once, ahead of the measured loop (their specs are decoded on first use and
    /// kept), as a caller that expands many VMs against one set of objects holds them.
    pub prepared: InMemorySource,
}

impl Case {
    fn new(label: String, vm: Vec<u8>, instancetype: Vec<u8>, preference: Option<Vec<u8>>) -> Case {
        let mut case = Case {
            label,
            vm,
            instancetype,
            preference,
            prepared: InMemorySource::new(),
        };
        case.prepared = copy_objects(&case).unwrap_or_else(|e| panic!("{}: {e}", case.label));
        case
    }
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read_json(relative: &str) -> Value {
    let path = repo_path(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bundle(file: &str) -> Vec<Value> {
    match read_json(&format!("data/common-instancetypes/{file}")) {
        Value::Array(items) => items,
        other => panic!("{file}: expected a JSON array, found {other}"),
    }
}

/// The bundled cluster instancetypes.
pub fn instancetypes() -> Vec<Value> {
    bundle("common-clusterinstancetypes-bundle.json")
}

/// The bundled cluster preferences.
pub fn preferences() -> Vec<Value> {
    bundle("common-clusterpreferences-bundle.json")
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().expect("metadata.name")
}

/// `bench/vm.json`: u1.medium + fedora, a containerDisk and a cloud-init disk.
pub fn base_vm() -> Value {
    read_json("bench/vm.json")
}

/// The base VM with `disks` disks: the two of `bench/vm.json`, then containerDisks `disk3`, `disk4`, ...
pub fn vm_with_disks(disks: usize) -> Value {
    let mut vm = base_vm();
    let spec = &mut vm["spec"]["template"]["spec"];
    for index in 3..=disks {
        let disk_name = format!("disk{index}");
        spec["domain"]["devices"]["disks"]
            .as_array_mut()
            .expect("disks")
            .push(json!({"name": disk_name, "disk": {}}));
        spec["volumes"]
            .as_array_mut()
            .expect("volumes")
            .push(json!({"name": disk_name, "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}));
    }
    vm
}

/// The VM naming `instancetype` and `preference` (no `spec.preference` when `None`).
pub fn vm_for(base: &Value, instancetype: &str, preference: Option<&str>) -> Value {
    let mut vm = base.clone();
    let spec = vm["spec"].as_object_mut().expect("spec");
    spec.insert("instancetype".into(), json!({"name": instancetype}));
    match preference {
        Some(preference) => {
            spec.insert("preference".into(), json!({"name": preference}));
        }
        None => {
            spec.shift_remove("preference");
        }
    }
    vm
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialize")
}

/// The full matrix, instancetype-major.
pub fn matrix() -> Vec<Case> {
    let base = base_vm();
    let preferences = preferences();
    let mut cases = Vec::new();
    for instancetype in instancetypes() {
        let instancetype_bytes = to_bytes(&instancetype);
        let it = name(&instancetype);
        let choices = preferences.iter().map(Some).chain(std::iter::once(None));
        for preference in choices {
            let pref = preference.map(name);
            cases.push(Case::new(
                format!("{it}/{}", pref.unwrap_or("-")),
                to_bytes(&vm_for(&base, it, pref)),
                instancetype_bytes.clone(),
                preference.map(to_bytes),
            ));
        }
    }
    cases
}

/// The `u1.medium` + `fedora` case with `disks` disks.
pub fn fedora_case(disks: usize) -> Case {
    let find = |objects: Vec<Value>, wanted: &str| {
        objects
            .into_iter()
            .find(|o| name(o) == wanted)
            .unwrap_or_else(|| panic!("{wanted} is not bundled"))
    };
    Case::new(
        format!("u1.medium/fedora, {disks} disks"),
        to_bytes(&vm_with_disks(disks)),
        to_bytes(&find(instancetypes(), "u1.medium")),
        Some(to_bytes(&find(preferences(), "fedora"))),
    )
}

/// The case's VM parsed from its bytes: checked as UTF-8 in one pass, then parsed as text
/// (`serde_json::from_slice` would check each string on its own, which costs more).
fn parse_vm(case: &Case) -> Result<Value, String> {
    let text = std::str::from_utf8(&case.vm).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Hands the case's instancetype and preference texts, as a caller holds them after receiving their
/// bytes, to `insert_json`.
fn insert_objects<'c>(
    case: &'c Case,
    mut insert_json: impl FnMut(&'c str) -> Result<(), String>,
) -> Result<(), String> {
    let text = |bytes| std::str::from_utf8(bytes).map_err(|e| e.to_string());
    insert_json(text(&case.instancetype)?)?;
    case.preference
        .as_deref()
        .map_or(Ok(()), |preference| insert_json(text(preference)?))
}

/// The cluster a caller builds from the instancetype and preference texts it holds
/// (`BorrowingSource::insert_json`: each text is checked and kept borrowed, a `v1beta1` spec decoded
/// straight from it in the same pass).
fn borrow_objects(case: &Case) -> Result<BorrowingSource<'_>, String> {
    let mut source = BorrowingSource::new();
    insert_objects(case, |text| source.insert_json(text, None))?;
    Ok(source)
}

/// The same cluster with the texts copied in (`InMemorySource::insert_json`), as a caller that does
/// not keep them builds it.
fn copy_objects(case: &Case) -> Result<InMemorySource, String> {
    let mut source = InMemorySource::new();
    insert_objects(case, |text| source.insert_json(text, None))?;
    Ok(source)
}

/// `vm` expanded against `source` (`expand_owned`) and serialized.
fn expand_and_write(vm: Value, source: &dyn ObjectSource, options: &ExpandOptions) -> Result<Vec<u8>, String> {
    let expanded = expand_owned(vm, source, options).map_err(|e| e.to_string())?;
    serde_json::to_vec(&expanded).map_err(|e| e.to_string())
}

/// The VM parsed, expanded against the cluster `objects` builds, and serialized.
fn expand_with<'c, S: ObjectSource>(
    case: &'c Case,
    options: &ExpandOptions,
    objects: impl FnOnce(&'c Case) -> Result<S, String>,
) -> Result<Vec<u8>, String> {
    let vm = parse_vm(case)?;
    let source = objects(case)?;
    expand_and_write(vm, &source, options)
}

/// A caller's whole job: parse the VM and its objects from bytes, expand, serialize the result. The
/// caller owns the VM it parsed, so it hands it over (`expand_owned`), and lends the objects' texts.
#[inline(never)]
pub fn expand_job(case: &Case, options: &ExpandOptions) -> Result<Vec<u8>, String> {
    expand_with(case, options, borrow_objects)
}

/// [`expand_job`] with the objects' texts copied into an `InMemorySource`.
#[inline(never)]
pub fn expand_copied_job(case: &Case, options: &ExpandOptions) -> Result<Vec<u8>, String> {
    expand_with(case, options, copy_objects)
}

/// [`expand_job`] against the case's objects read once before ([`Case::prepared`]): what is left of the
/// job when reading and decoding the objects costs nothing (the VM's own part: parse, expansion,
/// serialize).
#[inline(never)]
pub fn expand_prepared_job(case: &Case, options: &ExpandOptions) -> Result<Vec<u8>, String> {
    expand_and_write(parse_vm(case)?, &case.prepared, options)
}

/// [`expand_job`] through the borrowing `expand(&vm)`, which copies the VM first.
#[inline(never)]
pub fn expand_borrowed_job(case: &Case, options: &ExpandOptions) -> Result<Vec<u8>, String> {
    let vm = parse_vm(case)?;
    let source = borrow_objects(case)?;
    let expanded = expand(&vm, &source, options).map_err(|e| e.to_string())?;
    serde_json::to_vec(&expanded).map_err(|e| e.to_string())
}

/// What no expansion can avoid: the VM parsed, its objects read (`insert_json` checks their texts, reads
/// their kind and name, and decodes their specs in the same pass), the VM serialized.
#[inline(never)]
pub fn inputs_job(case: &Case) -> Result<Vec<u8>, String> {
    let vm = parse_vm(case)?;
    let source = borrow_objects(case)?;
    std::hint::black_box(&source);
    serde_json::to_vec(&vm).map_err(|e| e.to_string())
}

/// The floor: the same VM parsed and serialized, nothing else.
#[inline(never)]
pub fn floor_job(case: &Case) -> Result<Vec<u8>, String> {
    let vm = parse_vm(case)?;
    serde_json::to_vec(&vm).map_err(|e| e.to_string())
}
