//! Data safety, as property tests over generated VMs: the golden cases' VMs decorated with random
//! known and unknown fields at random places, expanded through the policy's request handling
//! (`policy::validate`, natively) exactly as a Kubewarden host runs it.
//!
//! - **Write-set.** Every difference between the request's VM and the admitted VM lies in the
//!   expansion's write-set, [`WRITE_SET`] (spec §3.2, §3.5–§3.8, path for path), and so does every
//!   operation of the JSON patch the host computes (`json_patch::diff`, policy-evaluator's crate).
//! - **Unknown fields survive**, at any depth, inside owned objects too.
//! - **Deterministic** (byte-identical responses) and **idempotent** (the admitted VM is admitted
//!   again unchanged, with no lookup).
//! - The patch applied to the request's VM gives the admitted VM (what Kubernetes stores is what the
//!   policy answered).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::cell::Cell;
use std::sync::OnceLock;

use kubevirt_instancetype::engine::lookup::{InMemorySource, LookupError, ObjectRef, ObjectSource};
use kubevirt_instancetype::policy::response::PolicyResponse;
use kubevirt_instancetype::policy::validate;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CASES: &str = include_str!("data/golden/cases.jsonl");

/// The expansion's write-set, relative to the VM: a path is owned when one of these patterns is a
/// prefix of it. `*` matches any key or index; `+` matches only an element appended to an array
/// (an index the request's array did not have).
pub const WRITE_SET: &[&str] = &[
    // §3.8 step 6: matchers and their status references are removed.
    "/spec/instancetype",
    "/spec/flavor",
    "/spec/preference",
    "/status/instancetypeRef",
    "/status/preferenceRef",
    // §3.2 annotations, §3.5 annotations: new keys of the template's annotations.
    "/spec/template/metadata/annotations/*",
    // §3.7 persisted preference values.
    "/spec/dataVolumeTemplates/*/spec/pvc/storageClassName",
    "/spec/dataVolumeTemplates/*/spec/storage/storageClassName",
    // §3.2, §3.5, §3.8 step 5 — the VMI spec.
    "/spec/template/spec/nodeSelector",
    "/spec/template/spec/schedulerName",
    "/spec/template/spec/subdomain",
    "/spec/template/spec/terminationGracePeriodSeconds",
    "/spec/template/spec/architecture",
    "/spec/template/spec/evictionStrategy",
    "/spec/template/spec/domain/cpu/sockets",
    "/spec/template/spec/domain/cpu/cores",
    "/spec/template/spec/domain/cpu/threads",
    "/spec/template/spec/domain/cpu/model",
    "/spec/template/spec/domain/cpu/dedicatedCpuPlacement",
    "/spec/template/spec/domain/cpu/isolateEmulatorThread",
    "/spec/template/spec/domain/cpu/numa",
    "/spec/template/spec/domain/cpu/realtime",
    "/spec/template/spec/domain/cpu/maxSockets",
    "/spec/template/spec/domain/cpu/features/+",
    "/spec/template/spec/domain/memory/guest",
    "/spec/template/spec/domain/memory/hugepages",
    "/spec/template/spec/domain/memory/maxGuest",
    "/spec/template/spec/domain/resources/requests/memory",
    "/spec/template/spec/domain/resources/requests/cpu",
    "/spec/template/spec/domain/ioThreads/supplementalPoolThreadCount",
    "/spec/template/spec/domain/ioThreadsPolicy",
    "/spec/template/spec/domain/launchSecurity",
    "/spec/template/spec/domain/devices/gpus",
    "/spec/template/spec/domain/devices/hostDevices",
    "/spec/template/spec/domain/devices/disks/+",
    "/spec/template/spec/domain/devices/disks/*/disk/bus",
    "/spec/template/spec/domain/devices/disks/*/blockSize",
    "/spec/template/spec/domain/devices/disks/*/cache",
    "/spec/template/spec/domain/devices/disks/*/io",
    "/spec/template/spec/domain/devices/disks/*/dedicatedIOThread",
    "/spec/template/spec/domain/devices/disks/*/cdrom/bus",
    "/spec/template/spec/domain/devices/disks/*/lun/bus",
    "/spec/template/spec/domain/devices/interfaces/+",
    "/spec/template/spec/domain/devices/interfaces/*/model",
    "/spec/template/spec/domain/devices/interfaces/*/masquerade",
    "/spec/template/spec/domain/devices/inputs/*/bus",
    "/spec/template/spec/domain/devices/inputs/*/type",
    "/spec/template/spec/domain/devices/useVirtioTransitional",
    "/spec/template/spec/domain/devices/blockMultiQueue",
    "/spec/template/spec/domain/devices/networkInterfaceMultiqueue",
    "/spec/template/spec/domain/devices/disableHotplug",
    "/spec/template/spec/domain/devices/sound/model",
    "/spec/template/spec/domain/devices/rng",
    "/spec/template/spec/domain/devices/tpm",
    "/spec/template/spec/domain/devices/video",
    "/spec/template/spec/domain/devices/autoattachPodInterface",
    "/spec/template/spec/domain/devices/autoattachGraphicsDevice",
    "/spec/template/spec/domain/devices/autoattachMemBalloon",
    "/spec/template/spec/domain/devices/autoattachInputDevice",
    "/spec/template/spec/domain/devices/autoattachSerialConsole",
    "/spec/template/spec/domain/devices/panicDevices",
    "/spec/template/spec/domain/features/acpi",
    "/spec/template/spec/domain/features/apic",
    "/spec/template/spec/domain/features/kvm",
    "/spec/template/spec/domain/features/pvspinlock",
    "/spec/template/spec/domain/features/smm",
    "/spec/template/spec/domain/features/hyperv/*",
    "/spec/template/spec/domain/firmware/bootloader/bios",
    "/spec/template/spec/domain/firmware/bootloader/efi",
    "/spec/template/spec/domain/machine/type",
    "/spec/template/spec/domain/clock/utc",
    "/spec/template/spec/domain/clock/timezone",
    "/spec/template/spec/domain/clock/timer",
    "/spec/template/spec/networks/+",
    "/spec/template/spec/volumes/*/containerDisk/imagePullPolicy",
];

/// Values the expansion writes back as KubeVirt's typed VM encodes them (`engine::vm_quantities`),
/// without changing what they mean: a `null` inside a string map becomes `""`, a `null` inside a
/// resource list becomes `"0"`, and a quantity is written in Kubernetes' form of the same value.
/// Not owned: any other change at these paths is still a violation.
const REENCODED_STRINGS: &[&str] = &[
    "/metadata/labels/*",
    "/metadata/annotations/*",
    "/spec/template/metadata/labels/*",
    "/spec/template/metadata/annotations/*",
    "/spec/dataVolumeTemplates/*/metadata/labels/*",
    "/spec/dataVolumeTemplates/*/metadata/annotations/*",
    "/spec/template/spec/nodeSelector/*",
];
/// Resource lists (their `null`s are `"0"`) and the other quantity fields, see [`REENCODED_STRINGS`].
const REENCODED_RESOURCE_LISTS: &[&str] = &[
    "/spec/template/spec/domain/resources/requests/*",
    "/spec/template/spec/domain/resources/limits/*",
    "/spec/dataVolumeTemplates/*/spec/pvc/resources/requests/*",
    "/spec/dataVolumeTemplates/*/spec/pvc/resources/limits/*",
    "/spec/dataVolumeTemplates/*/spec/storage/resources/requests/*",
    "/spec/dataVolumeTemplates/*/spec/storage/resources/limits/*",
];
const REENCODED_QUANTITIES: &[&str] = &[
    "/spec/template/spec/domain/memory/guest",
    "/spec/template/spec/domain/memory/maxGuest",
    "/spec/template/spec/volumes/*/emptyDisk/capacity",
    "/spec/template/spec/volumes/*/hostDisk/capacity",
    "/spec/template/spec/volumes/*/downwardAPI/fields/*/resourceFieldRef/divisor",
];

fn matches_exactly(patterns: &[&str], path: &[String]) -> bool {
    patterns.iter().any(|pattern| {
        let pattern = tokens(pattern);
        pattern.len() == path.len() && pattern.iter().zip(path).all(|(p, t)| p == "*" || p == t)
    })
}

/// Whether `old` → `new` at `path` is one of the re-encodings of [`REENCODED_STRINGS`].
fn reencoded(path: &[String], old: &Value, new: &Value) -> bool {
    use kubevirt_instancetype::engine::quantity::Quantity;
    let quantity = |value: &Value| match value {
        Value::String(text) => Quantity::parse(text.trim()).ok(),
        Value::Number(number) => Quantity::parse(&number.to_string()).ok(),
        _ => None,
    };
    let same_quantity = || match (quantity(old), new.as_str()) {
        (Some(parsed), Some(written)) => parsed.to_canonical_string() == written,
        _ => false,
    };
    if matches_exactly(REENCODED_STRINGS, path) {
        return old.is_null() && new == "";
    }
    if matches_exactly(REENCODED_RESOURCE_LISTS, path) {
        return (old.is_null() && new == "0") || same_quantity();
    }
    matches_exactly(REENCODED_QUANTITIES, path) && same_quantity()
}

fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Whether a path (tokens; appended array indices written `+N`) is in the write-set.
fn owned(path: &[String]) -> bool {
    WRITE_SET.iter().any(|pattern| {
        let pattern = tokens(pattern);
        pattern.len() <= path.len()
            && pattern.iter().zip(path).all(|(p, t)| match p.as_str() {
                "*" => true,
                "+" => t.starts_with('+'),
                literal => literal == t.trim_start_matches('+'),
            })
    })
}

/// Whether a path leads to a write-set entry (a container the expansion may create).
fn leads_to_owned(path: &[String]) -> bool {
    WRITE_SET.iter().any(|pattern| {
        let pattern = tokens(pattern);
        pattern.len() > path.len()
            && pattern.iter().zip(path).all(|(p, t)| match p.as_str() {
                "*" => true,
                "+" => t.starts_with('+'),
                literal => literal == t.trim_start_matches('+'),
            })
    })
}

/// Every leaf path of an added value must be owned (or lead to owned entries, for created containers).
fn added_is_owned(path: &mut Vec<String>, value: &Value, problems: &mut Vec<String>) {
    if owned(path) {
        return;
    }
    match value {
        Value::Object(map) if leads_to_owned(path) => {
            for (key, child) in map {
                path.push(key.clone());
                added_is_owned(path, child, problems);
                path.pop();
            }
        }
        Value::Array(items) if leads_to_owned(path) => {
            for (index, child) in items.iter().enumerate() {
                path.push(format!("+{index}"));
                added_is_owned(path, child, problems);
                path.pop();
            }
        }
        _ => problems.push(format!("added outside the write-set: /{} = {value}", path.join("/"))),
    }
}

/// Compares the request's VM with the admitted one; returns every difference outside the write-set.
fn outside_write_set(before: &Value, after: &Value) -> Vec<String> {
    fn walk(before: &Value, after: &Value, path: &mut Vec<String>, problems: &mut Vec<String>) {
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                for (key, old) in b {
                    path.push(key.clone());
                    match a.get(key) {
                        Some(new) => walk(old, new, path, problems),
                        None if owned(path) => {}
                        None => problems.push(format!("removed outside the write-set: /{}", path.join("/"))),
                    }
                    path.pop();
                }
                for (key, new) in a {
                    if !b.contains_key(key) {
                        path.push(key.clone());
                        added_is_owned(path, new, problems);
                        path.pop();
                    }
                }
            }
            (Value::Array(b), Value::Array(a)) => {
                for (index, new) in a.iter().enumerate() {
                    match b.get(index) {
                        Some(old) => {
                            path.push(index.to_string());
                            walk(old, new, path, problems);
                        }
                        None => {
                            path.push(format!("+{index}"));
                            added_is_owned(path, new, problems);
                        }
                    }
                    path.pop();
                }
                if b.len() > a.len() && !owned(path) {
                    problems.push(format!("array shortened outside the write-set: /{}", path.join("/")));
                }
            }
            (old, new) if old == new => {}
            (old, new) if reencoded(path, old, new) => {}
            // `null` counts as unset: the expansion may fill it.
            (Value::Null, new) => added_is_owned(path, new, problems),
            (old, new) if !owned(path) => problems.push(format!(
                "changed outside the write-set: /{} {old} -> {new}",
                path.join("/")
            )),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    walk(before, after, &mut Vec::new(), &mut problems);
    problems
}

/// The operations of the host's JSON patch that leave the write-set.
fn patch_outside_write_set(before: &Value, after: &Value) -> Vec<String> {
    let patch = json_patch::diff(before, after);
    let mut patched = before.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    assert_eq!(&patched, after, "the host's patch does not give the admitted VM");
    let mut problems = Vec::new();
    for operation in patch.iter() {
        let (path, value) = match operation {
            json_patch::PatchOperation::Add(op) => (op.path.to_string(), Some(&op.value)),
            json_patch::PatchOperation::Replace(op) => (op.path.to_string(), Some(&op.value)),
            json_patch::PatchOperation::Remove(op) => (op.path.to_string(), None),
            other => {
                problems.push(format!("unexpected patch operation {other:?}"));
                continue;
            }
        };
        let mut tokens = tokens(&path);
        // An index the request's array did not have is an append.
        let mut current = Some(before);
        for token in &mut tokens {
            let next = match current {
                Some(Value::Array(items)) => match token.parse::<usize>() {
                    Ok(index) if index < items.len() => items.get(index),
                    _ => {
                        *token = format!("+{token}");
                        None
                    }
                },
                Some(Value::Object(map)) => map.get(token.as_str()),
                _ => None,
            };
            current = next;
        }
        match (operation, value) {
            (json_patch::PatchOperation::Add(_), Some(value)) if current.is_none() => {
                added_is_owned(&mut tokens, value, &mut problems)
            }
            (json_patch::PatchOperation::Replace(_), Some(value))
                if current.is_some_and(|old| reencoded(&tokens, old, value)) => {}
            (json_patch::PatchOperation::Replace(_), Some(value)) if current.is_some_and(Value::is_null) => {
                added_is_owned(&mut tokens, value, &mut problems)
            }
            _ if owned(&tokens) => {}
            _ => problems.push(format!("patch operation outside the write-set: {operation:?}")),
        }
    }
    problems
}

fn golden_cases() -> &'static [Value] {
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    PARSED.get_or_init(|| CASES.lines().map(|line| serde_json::from_str(line).unwrap()).collect())
}

/// Counts lookups, to show the idempotent second pass makes none.
struct Counting<'a> {
    inner: &'a InMemorySource,
    count: Cell<usize>,
}

impl ObjectSource for Counting<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.count.set(self.count.get() + 1);
        self.inner.get(object)
    }
}

fn source_for(case: &Value) -> InMemorySource {
    let mut source = InMemorySource::new();
    for key in ["instancetype", "preference"] {
        if case[key].is_object() {
            source.insert(case[key].clone(), Some("default")).unwrap();
        }
    }
    source
}

fn payload(vm: &Value, operation: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request": {
            "uid": "data-safety",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"},
            "operation": operation,
            "namespace": "default",
            "name": vm["metadata"]["name"],
            "object": vm,
            "oldObject": if operation == "UPDATE" { vm.clone() } else { Value::Null },
        },
        "settings": {},
    }))
    .unwrap()
}

/// Everything the properties say about one VM; `Ok(true)` when the VM was expanded.
fn check_vm(vm: &Value, source: &InMemorySource, unknown: &[(Vec<String>, Value)]) -> Result<bool, String> {
    let counting = Counting {
        inner: source,
        count: Cell::new(0),
    };
    let first = validate(&payload(vm, "CREATE"), &counting);
    let second = validate(&payload(vm, "CREATE"), source);
    if serde_json::to_string(&first).unwrap() != serde_json::to_string(&second).unwrap() {
        return Err("not deterministic".into());
    }
    let PolicyResponse {
        accepted,
        mutated_object,
        ..
    } = first;
    let Some(admitted) = mutated_object else {
        return Ok(false);
    };
    if !accepted {
        return Err("a rejection with a mutated object".into());
    }
    let mut problems = outside_write_set(vm, &admitted);
    problems.extend(patch_outside_write_set(vm, &admitted));
    for (path, value) in unknown {
        let removed_with_matcher = matches!(
            path.get(..2).map(|p| (p[0].as_str(), p[1].as_str())),
            Some(("spec", "instancetype" | "preference" | "flavor") | ("status", "instancetypeRef" | "preferenceRef"))
        );
        let pointer = format!("/{}", path.join("/"));
        let kept = match admitted.pointer(&pointer) {
            Some(admitted) => admitted == value || reencoded(path, value, admitted),
            None => false,
        };
        if !removed_with_matcher && !kept {
            problems.push(format!("unknown field lost: {pointer}"));
        }
    }
    // Idempotent: the admitted VM passes again unchanged, without a lookup.
    let again = Counting {
        inner: source,
        count: Cell::new(0),
    };
    let second_pass = validate(&payload(&admitted, "UPDATE"), &again);
    if !second_pass.accepted || second_pass.mutated_object.is_some() || again.count.get() != 0 {
        problems.push(format!(
            "not idempotent: {second_pass:?}, {} lookups",
            again.count.get()
        ));
    }
    if problems.is_empty() {
        Ok(true)
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn every_golden_vm_stays_in_the_write_set() {
    let mut expanded = 0;
    for case in golden_cases() {
        let source = source_for(case);
        match check_vm(&case["vm"], &source, &[]) {
            Ok(true) => expanded += 1,
            Ok(false) => {}
            Err(problems) => panic!("{}: {problems}", case["id"]),
        }
    }
    // Not vacuous: most golden VMs are expanded (the others are rejected by conflicts or requirements).
    assert!(
        expanded > 300,
        "only {expanded} of {} golden VMs expanded",
        golden_cases().len()
    );
}

/// The checker itself: a change outside the write-set is caught, one inside is not.
#[test]
fn the_write_set_check_catches_changes_outside_it() {
    let before = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"template": {"spec": {
        "domain": {"cpu": {"cores": 1, "x": 1}, "devices": {"disks": [{"name": "d", "disk": {}}]}}}}}});
    let mut inside = before.clone();
    inside["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"] = json!(2);
    inside["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"]["bus"] = json!("virtio");
    inside["spec"]["template"]["spec"]["domain"]["devices"]["disks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "e"}));
    assert_eq!(outside_write_set(&before, &inside), Vec::<String>::new());
    assert_eq!(patch_outside_write_set(&before, &inside), Vec::<String>::new());
    for (pointer, value) in [
        ("/metadata/labels/x", json!("2")),
        ("/spec/template/spec/domain/cpu/x", json!(2)),
        ("/spec/template/spec/domain/devices/disks/0/name", json!("other")),
        (
            "/spec/template/spec/domain/devices/disks/0/disk",
            json!({"bus": "sata", "readonly": true}),
        ),
    ] {
        let mut outside = before.clone();
        *outside.pointer_mut(pointer).unwrap() = value;
        assert!(!outside_write_set(&before, &outside).is_empty(), "{pointer}");
        assert!(!patch_outside_write_set(&before, &outside).is_empty(), "{pointer}");
    }
}

/// The checker's re-encoding rule: the same value written as KubeVirt writes it passes; any other
/// change at those paths does not.
#[test]
fn the_write_set_check_allows_only_true_reencodings() {
    let before = json!({"metadata": {"labels": {"n": null, "s": "x"}}, "spec": {"template": {"spec": {
        "domain": {"resources": {"limits": {"cpu": null, "memory": "1024Mi"}}},
        "volumes": [{"name": "v", "emptyDisk": {"capacity": "1.5Gi"}}]}}}});
    let mut reencoded = before.clone();
    reencoded["metadata"]["labels"]["n"] = json!("");
    reencoded["spec"]["template"]["spec"]["domain"]["resources"]["limits"] = json!({"cpu": "0", "memory": "1Gi"});
    reencoded["spec"]["template"]["spec"]["volumes"][0]["emptyDisk"]["capacity"] = json!("1536Mi");
    assert_eq!(outside_write_set(&before, &reencoded), Vec::<String>::new());
    assert_eq!(patch_outside_write_set(&before, &reencoded), Vec::<String>::new());
    for (pointer, value) in [
        ("/metadata/labels/n", json!("set")),
        ("/metadata/labels/s", json!("")),
        ("/spec/template/spec/domain/resources/limits/cpu", json!("1")),
        ("/spec/template/spec/domain/resources/limits/memory", json!("2Gi")),
        (
            "/spec/template/spec/domain/resources/limits/memory",
            json!("1073741824"),
        ),
        ("/spec/template/spec/volumes/0/emptyDisk/capacity", json!("1.5G")),
    ] {
        let mut outside = before.clone();
        *outside.pointer_mut(pointer).unwrap() = value;
        assert!(!outside_write_set(&before, &outside).is_empty(), "{pointer}");
        assert!(!patch_outside_write_set(&before, &outside).is_empty(), "{pointer}");
    }
}

/// Places decorations are put: containers of a VM, known and not.
const PLACES: &[&str] = &[
    "/metadata",
    "/metadata/labels",
    "/metadata/annotations",
    "/spec",
    "/spec/template",
    "/spec/template/metadata",
    "/spec/template/metadata/labels",
    "/spec/template/spec",
    "/spec/template/spec/domain",
    "/spec/template/spec/domain/cpu",
    "/spec/template/spec/domain/memory",
    "/spec/template/spec/domain/resources",
    "/spec/template/spec/domain/devices",
    "/spec/template/spec/domain/features",
    "/spec/template/spec/domain/firmware",
    "/spec/template/spec/domain/clock",
    "/status",
];

/// Known fields a user may set (outside and inside the write-set): some conflict with the
/// instancetype (the VM is then rejected, which is fine), the others must be kept or filled.
const KNOWN: &[(&str, &str)] = &[
    ("/spec/template/spec", "hostname"),
    ("/spec/template/spec", "subdomain"),
    ("/spec/template/spec", "priorityClassName"),
    ("/spec/template/spec", "evictionStrategy"),
    ("/spec/template/spec/domain", "ioThreadsPolicy"),
    ("/spec/template/spec/domain/cpu", "model"),
    ("/spec/template/spec/domain/memory", "guest"),
    ("/spec/template/spec/domain/devices", "autoattachSerialConsole"),
    ("/spec/template/spec/domain/devices", "rng"),
    ("/spec/template/spec/domain/features", "smm"),
    ("/spec/template/metadata/annotations", "team"),
    (
        "/metadata/annotations",
        "kubectl.kubernetes.io/last-applied-configuration",
    ),
    ("/spec", "runStrategy"),
    ("/status", "printableStatus"),
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9 ._/-]{0,16}".prop_map(Value::String),
        prop::sample::select(vec!["1Gi", "virtio", "sata", "bridge", "", "true"]).prop_map(|s| json!(s)),
        Just(json!({})),
        Just(json!([])),
        Just(json!({"nested": {"deeper": [1, "two", null]}})),
    ]
}

#[derive(Debug, Clone)]
enum Decoration {
    Unknown { place: usize, index: u8, value: Value },
    Known { field: usize, value: Value },
    ExtraDisk { name: u8, bus: Option<&'static str> },
    ExtraVolume { name: u8 },
    Interface { name: u8, binding: bool },
}

fn decoration() -> impl Strategy<Value = Decoration> {
    prop_oneof![
        3 => (0..PLACES.len(), any::<u8>(), leaf()).prop_map(|(place, index, value)| Decoration::Unknown { place, index, value }),
        2 => (0..KNOWN.len(), leaf()).prop_map(|(field, value)| Decoration::Known { field, value }),
        1 => (any::<u8>(), prop::option::of(prop::sample::select(vec!["virtio", "sata", "scsi"])))
            .prop_map(|(name, bus)| Decoration::ExtraDisk { name, bus }),
        1 => any::<u8>().prop_map(|name| Decoration::ExtraVolume { name }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(name, binding)| Decoration::Interface { name, binding }),
    ]
}

fn container<'a>(vm: &'a mut Value, pointer: &str) -> &'a mut Map<String, Value> {
    let mut current = vm;
    for token in tokens(pointer) {
        let map = current.as_object_mut().unwrap();
        let entry = map.entry(token).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        current = entry;
    }
    current.as_object_mut().unwrap()
}

fn push(vm: &mut Value, pointer: &str, key: &str, item: Value) {
    let map = container(vm, pointer);
    let list = map.entry(key.to_owned()).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().unwrap().push(item);
}

/// Applies decorations; returns the unknown fields placed (path, value).
fn decorate(vm: &mut Value, decorations: &[Decoration]) -> Vec<(Vec<String>, Value)> {
    let mut unknown = Vec::new();
    for decoration in decorations {
        match decoration {
            Decoration::Unknown { place, index, value } => {
                let key = format!("x-unknown-{index}");
                container(vm, PLACES[*place]).insert(key.clone(), value.clone());
                let mut path = tokens(PLACES[*place]);
                path.push(key);
                unknown.retain(|(p, _)| p != &path);
                unknown.push((path, value.clone()));
            }
            Decoration::Known { field, value } => {
                let (place, key) = KNOWN[*field];
                container(vm, place).insert(key.to_owned(), value.clone());
            }
            Decoration::ExtraDisk { name, bus } => {
                let mut disk = json!({"name": format!("extra-{name}")});
                if let Some(bus) = bus {
                    disk["disk"] = json!({"bus": bus});
                }
                push(vm, "/spec/template/spec/domain/devices", "disks", disk);
            }
            Decoration::ExtraVolume { name } => push(
                vm,
                "/spec/template/spec",
                "volumes",
                json!({"name": format!("extra-{name}"), "emptyDisk": {"capacity": "1Gi"}}),
            ),
            Decoration::Interface { name, binding } => {
                let mut interface = json!({"name": format!("net-{name}")});
                if *binding {
                    interface["bridge"] = json!({});
                }
                push(vm, "/spec/template/spec/domain/devices", "interfaces", interface);
                push(
                    vm,
                    "/spec/template/spec",
                    "networks",
                    json!({"name": format!("net-{name}"), "pod": {}}),
                );
            }
        }
    }
    // A decoration may have replaced a container holding an earlier unknown field.
    unknown.retain(|(path, value)| vm.pointer(&format!("/{}", path.join("/"))) == Some(value));
    unknown
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn decorated_vms_stay_in_the_write_set(case_index in 0usize..447, decorations in prop::collection::vec(decoration(), 0..8)) {
        let cases = golden_cases();
        let case = &cases[case_index % cases.len()];
        let source = source_for(case);
        let mut vm = case["vm"].clone();
        let unknown = decorate(&mut vm, &decorations);
        if let Err(problems) = check_vm(&vm, &source, &unknown) {
            prop_assert!(false, "{}: {}\n{:#}", case["id"], problems, vm);
        }
    }
}
