//! Shared machinery of the fuzz targets: the golden cases as seeds, and structure-aware mutation of
//! JSON documents driven by `arbitrary` (the fuzzer mutates the *choices*, so most inputs stay valid
//! JSON of the right overall shape and reach deep into the engine instead of dying in the parser).
//!
//! Every target also accepts raw JSON text (an input starting with `{`), so the parser-facing paths
//! are fuzzed too and the seed corpora can hold readable documents.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};

/// The golden cases (`tests/data/golden/cases.jsonl`): `{"id", "vm", "instancetype", "preference"}`.
pub fn golden_cases() -> &'static [Value] {
    static CASES: OnceLock<Vec<Value>> = OnceLock::new();
    CASES.get_or_init(|| {
        include_str!("../../tests/data/golden/cases.jsonl")
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    })
}

/// Every object key and every short string value found in the golden cases, plus hostile extras:
/// the vocabulary mutations draw from.
pub struct Vocabulary {
    /// Object keys.
    pub keys: Vec<String>,
    /// String values.
    pub words: Vec<String>,
}

const EXTRA_WORDS: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "1Gi",
    "-1Gi",
    "500m",
    "0.1n",
    "1e1000",
    "1e-1000",
    "1e10000",
    "1E3",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "1234567890123456789012345678901234567890",
    "1234567890123456789012345678901234567890Ki",
    ".5Mi",
    "1.5Ki",
    "8Ei",
    "16Ei",
    "1.Ki",
    "+.",
    "Ei",
    "e-10",
    "VirtualMachineInstancetype",
    "VirtualMachineClusterInstancetype",
    "VirtualMachinePreference",
    "VirtualMachineClusterPreference",
    "VirtualMachineFlavor",
    "VirtualMachineClusterFlavor",
    "virtualmachineinstancetypes",
    "ControllerRevision",
    "DataSource",
    "DataVolume",
    "PersistentVolumeClaim",
    "instancetype.kubevirt.io/v1alpha1",
    "instancetype.kubevirt.io/v1alpha2",
    "instancetype.kubevirt.io/v1beta1",
    "instancetype.kubevirt.io/v2",
    "flavor.kubevirt.io/v1alpha1",
    "kubevirt.io/v1",
    "apps/v1",
    "preferSockets",
    "preferCores",
    "preferThreads",
    "preferSpread",
    "preferAny",
    "spread",
    "SocketsCores",
    "SocketsCoresThreads",
    "CoresThreads",
    "Ignore",
    "Reject",
    "rootdisk",
    "containerdisk",
    "default",
    "other-namespace",
    "\u{0}\u{1f}\u{7f}",
    "ünïcødé-✓-\u{202e}",
];

const EXTRA_KEYS: &[&str] = &[
    "inferFromVolume",
    "inferFromVolumeFailurePolicy",
    "revisionName",
    "controllerRevisionRef",
    "instancetypeRef",
    "preferenceRef",
    "dataVolumeTemplates",
    "persistentVolumeClaim",
    "claimName",
    "dataVolume",
    "sourceRef",
    "namespace",
    "deletionTimestamp",
    "spreadOptions",
    "across",
    "ratio",
    "maxSockets",
    "overcommitPercent",
    "x-unknown",
];

/// The shared vocabulary.
pub fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let mut keys = BTreeSet::new();
        let mut words = BTreeSet::new();
        for case in golden_cases() {
            collect(case, &mut keys, &mut words);
        }
        keys.extend(EXTRA_KEYS.iter().map(|k| (*k).to_owned()));
        words.extend(EXTRA_WORDS.iter().map(|w| (*w).to_owned()));
        Vocabulary {
            keys: keys.into_iter().collect(),
            words: words.into_iter().collect(),
        }
    })
}

fn collect(value: &Value, keys: &mut BTreeSet<String>, words: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                keys.insert(key.clone());
                collect(child, keys, words);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, keys, words)),
        Value::String(text) if text.len() <= 64 => {
            words.insert(text.clone());
        }
        _ => {}
    }
}

fn pick<'a>(list: &'a [String], index: u16) -> &'a str {
    if list.is_empty() {
        return "";
    }
    list.get(usize::from(index) % list.len()).map_or("", String::as_str)
}

/// A value to put somewhere: scalars, vocabulary words, and small containers.
#[derive(Debug, Arbitrary)]
pub enum Leaf {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (non-finite ones become `null`, as serde_json does).
    Float(f64),
    /// Small integers, the common case.
    Small(u8),
    /// A vocabulary word.
    Word(u16),
    /// An arbitrary string.
    Text(String),
    /// A quantity-looking string built from parts.
    Quantity(QuantityParts),
    /// `{}`.
    EmptyObject,
    /// `[]`.
    EmptyArray,
    /// `{key: leaf}`.
    Object(u16, Box<Leaf>),
    /// `[leaf, ...]`.
    Array(Vec<Leaf>),
}

impl Leaf {
    /// The JSON value.
    pub fn to_value(&self, depth: u8) -> Value {
        let vocabulary = vocabulary();
        match self {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => Value::Bool(*b),
            Leaf::Int(n) => json!(n),
            Leaf::UInt(n) => json!(n),
            Leaf::Float(f) => json!(f),
            Leaf::Small(n) => json!(n),
            Leaf::Word(index) => Value::String(pick(&vocabulary.words, *index).to_owned()),
            Leaf::Text(text) => Value::String(text.clone()),
            Leaf::Quantity(parts) => Value::String(parts.to_text()),
            Leaf::EmptyObject => Value::Object(Map::new()),
            Leaf::EmptyArray => Value::Array(Vec::new()),
            Leaf::Object(key, leaf) if depth < 8 => {
                let mut map = Map::new();
                map.insert(pick(&vocabulary.keys, *key).to_owned(), leaf.to_value(depth + 1));
                Value::Object(map)
            }
            Leaf::Array(items) if depth < 8 => {
                Value::Array(items.iter().take(8).map(|item| item.to_value(depth + 1)).collect())
            }
            Leaf::Object(..) | Leaf::Array(_) => Value::Null,
        }
    }
}

/// A quantity string assembled from a sign, digits, a fraction and a suffix: mostly well formed,
/// so the fuzzer explores the arithmetic rather than the regular expression.
#[derive(Debug, Arbitrary)]
pub struct QuantityParts {
    /// 0: none, 1: `+`, 2: `-`, other: none.
    pub sign: u8,
    /// Integer digits (each byte mod 10; long runs allowed).
    pub integer: Vec<u8>,
    /// Fraction digits, if a `.` is written.
    pub fraction: Option<Vec<u8>>,
    /// Suffix choice.
    pub suffix: u8,
    /// Exponent for the `e`/`E` suffixes.
    pub exponent: i16,
}

const SUFFIXES: [&str; 18] = [
    "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "e", "E",
];

impl QuantityParts {
    /// The text.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        match self.sign {
            1 => text.push('+'),
            2 => text.push('-'),
            _ => {}
        }
        for digit in self.integer.iter().take(48) {
            text.push(char::from(b'0' + digit % 10));
        }
        if let Some(fraction) = &self.fraction {
            text.push('.');
            for digit in fraction.iter().take(48) {
                text.push(char::from(b'0' + digit % 10));
            }
        }
        let suffix = SUFFIXES
            .get(usize::from(self.suffix) % SUFFIXES.len())
            .copied()
            .unwrap_or("");
        text.push_str(suffix);
        if suffix == "e" || suffix == "E" {
            text.push_str(&self.exponent.to_string());
        }
        text
    }
}

/// One edit of a JSON document. Paths are choices: at each level, the index of the key or element
/// (modulo the size), stopping at a scalar.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// Replace the value at the path.
    Replace(Vec<u8>, Leaf),
    /// Remove the key or element at the path.
    Remove(Vec<u8>),
    /// Insert a vocabulary key with a value into the object at the path (or push onto an array).
    Insert(Vec<u8>, u16, Leaf),
    /// Copy the value at one path over the value at another (type confusion between fields).
    Graft(Vec<u8>, Vec<u8>),
    /// Duplicate the element at the path in its array (or wrap a value into a one-element array).
    Duplicate(Vec<u8>),
}

/// Follows `path` down `value`, stopping early at scalars; returns the container path taken.
fn resolve(value: &Value, path: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current = value;
    for choice in path {
        let next = match current {
            Value::Object(map) if !map.is_empty() => {
                let index = usize::from(*choice) % map.len();
                map.iter().nth(index).map(|(k, v)| (Step::Key(k.clone()), v))
            }
            Value::Array(items) if !items.is_empty() => {
                let index = usize::from(*choice) % items.len();
                items.get(index).map(|v| (Step::Index(index), v))
            }
            _ => None,
        };
        match next {
            Some((step, child)) => {
                steps.push(step);
                current = child;
            }
            None => break,
        }
    }
    steps
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn get_mut<'a>(value: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    let mut current = value;
    for step in steps {
        current = match (step, current) {
            (Step::Key(key), Value::Object(map)) => map.get_mut(key)?,
            (Step::Index(index), Value::Array(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn get<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut current = value;
    for step in steps {
        current = match (step, current) {
            (Step::Key(key), Value::Object(map)) => map.get(key)?,
            (Step::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Largest subtree a graft copies, and largest document it grafts into (JSON nodes).
const MAX_GRAFT_NODES: usize = 2_000;
const MAX_DOCUMENT_NODES: usize = 20_000;

/// The number of JSON nodes in `value`, counting stops at `limit`.
fn nodes(value: &Value, limit: usize) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        count += 1;
        if count >= limit {
            return limit;
        }
        match current {
            Value::Object(map) => pending.extend(map.values()),
            Value::Array(items) => pending.extend(items.iter()),
            _ => {}
        }
    }
    count
}

/// Applies one edit.
pub fn apply(document: &mut Value, op: &Op) {
    match op {
        Op::Replace(path, leaf) => {
            let steps = resolve(document, path);
            if let Some(target) = get_mut(document, &steps) {
                *target = leaf.to_value(0);
            }
        }
        Op::Remove(path) => {
            let steps = resolve(document, path);
            let Some((last, parent)) = steps.split_last() else {
                return;
            };
            match (last, get_mut(document, parent)) {
                (Step::Key(key), Some(Value::Object(map))) => {
                    map.shift_remove(key);
                }
                (Step::Index(index), Some(Value::Array(items))) if *index < items.len() => {
                    items.remove(*index);
                }
                _ => {}
            }
        }
        Op::Insert(path, key, leaf) => {
            let steps = resolve(document, path);
            let key = pick(&vocabulary().keys, *key).to_owned();
            match get_mut(document, &steps) {
                Some(Value::Object(map)) => {
                    map.insert(key, leaf.to_value(0));
                }
                Some(Value::Array(items)) if items.len() < 64 => items.push(leaf.to_value(0)),
                _ => {}
            }
        }
        Op::Graft(from, to) => {
            let from = resolve(document, from);
            // Grafting a document into itself doubles it: keep inputs small (the first campaign's
            // revision run spent its time copying a 2^16-fold document, not in the engine).
            if get(document, &from).is_none_or(|copy| nodes(copy, MAX_GRAFT_NODES) >= MAX_GRAFT_NODES)
                || nodes(document, MAX_DOCUMENT_NODES) >= MAX_DOCUMENT_NODES
            {
                return;
            }
            let Some(copy) = get(document, &from).cloned() else {
                return;
            };
            let to = resolve(document, to);
            if let Some(target) = get_mut(document, &to) {
                *target = copy;
            }
        }
        Op::Duplicate(path) => {
            let steps = resolve(document, path);
            let Some((last, parent)) = steps.split_last() else {
                return;
            };
            if let (Step::Index(index), Some(Value::Array(items))) = (last, get_mut(document, parent)) {
                if let Some(item) = items.get(*index).cloned() {
                    if items.len() < 256 {
                        items.insert(*index, item);
                    }
                }
            } else if let Some(target) = get_mut(document, &steps) {
                let inner = std::mem::take(target);
                *target = Value::Array(vec![inner]);
            }
        }
    }
}

/// A golden case, possibly edited.
#[derive(Debug)]
pub struct MutatedCase {
    /// The edited `{"vm", "instancetype", "preference"}` document.
    pub document: Value,
    /// Free bits the target may use for its own switches (settings, modes).
    pub switches: u32,
}

/// Reads a fuzz input: `{...` → the whole input is a JSON document; another odd first byte → the
/// rest is a JSON document (the first byte gives the switches); otherwise a golden case index, the
/// switches and up to 16 edits, decoded with `arbitrary`.
pub fn read_case(data: &[u8]) -> Option<MutatedCase> {
    let (first, rest) = data.split_first()?;
    if *first == b'{' {
        return Some(MutatedCase {
            document: serde_json::from_slice(data).ok()?,
            switches: 0,
        });
    }
    if first % 2 == 1 {
        let document: Value = serde_json::from_slice(rest).ok()?;
        return Some(MutatedCase {
            document,
            switches: u32::from(*first),
        });
    }
    let mut u = Unstructured::new(rest);
    let index: u16 = u.arbitrary().ok()?;
    let switches: u32 = u.arbitrary().unwrap_or(0);
    let cases = golden_cases();
    let case = cases.get(usize::from(index) % cases.len().max(1))?;
    let mut document = json!({
        "vm": case.get("vm").cloned().unwrap_or(Value::Null),
        "instancetype": case.get("instancetype").cloned().unwrap_or(Value::Null),
        "preference": case.get("preference").cloned().unwrap_or(Value::Null),
    });
    let count = u.int_in_range(0..=16u8).unwrap_or(0);
    for _ in 0..count {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        apply(&mut document, &op);
    }
    Some(MutatedCase { document, switches })
}

/// Every distinct instancetype and preference of the golden cases, as one in-memory cluster (their
/// namespaced kinds in `default`).
pub fn golden_cluster() -> &'static kubevirt_instancetype::engine::lookup::InMemorySource {
    static CLUSTER: OnceLock<kubevirt_instancetype::engine::lookup::InMemorySource> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let mut source = kubevirt_instancetype::engine::lookup::InMemorySource::new();
        for case in golden_cases() {
            for key in ["instancetype", "preference"] {
                if let Some(object) = case.get(key).filter(|o| o.is_object()) {
                    let _ = source.insert(object.clone(), Some("default"));
                }
            }
        }
        source
    })
}
