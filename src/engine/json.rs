//! Small, panic-free helpers over `serde_json::Value` for reading and editing a VM in place.
//!
//! The VM is never converted into typed structs: fields the engine does not own (including ones
//! it does not know) pass through untouched. Reads treat JSON `null` like an absent key, as Go's
//! decoder does for pointers, maps and slices.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A VM (or other input) field that does not have the shape KubeVirt's API requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ShapeError {
    /// Dotted path of the offending field, e.g. `spec.template.spec.domain.cpu`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ShapeError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Where a field is, for an error: a path, or a closure building one. Hot paths pass closures, so
/// that a path is only built when an error names it (a passing expansion builds none).
pub trait FieldPath {
    /// The dotted path, e.g. `spec.template.spec.domain.cpu`.
    fn render(self) -> String;
}

impl FieldPath for &str {
    fn render(self) -> String {
        self.to_owned()
    }
}

impl FieldPath for &String {
    fn render(self) -> String {
        self.clone()
    }
}

impl<F: FnOnce() -> String> FieldPath for F {
    fn render(self) -> String {
        self()
    }
}

/// Dotted path `base.key` (or `key` when `base` is empty).
pub fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        return key.to_owned();
    }
    // Paths are built on the hot path of every expansion: no formatting machinery.
    let mut path = String::with_capacity(base.len() + 1 + key.len());
    path.push_str(base);
    path.push('.');
    path.push_str(key);
    path
}

/// The JSON type name used in error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Maps of at most this many entries are searched key by key instead of through their hash index.
/// `serde_json`'s map (`preserve_order`) hashes every looked-up key with SipHash, which costs more
/// than comparing the few keys of a Kubernetes object (the keys are unique either way, so the answer
/// is the same).
const SCAN_LIMIT: usize = 16;

/// `map[key]`, found without hashing when the map is small.
pub fn find<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= SCAN_LIMIT {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

/// Mutable variant of [`find`].
pub fn find_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    if map.len() <= SCAN_LIMIT {
        map.iter_mut().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get_mut(key)
    }
}

/// Whether `map` has `key` (even with a `null` value).
pub fn contains(map: &Map<String, Value>, key: &str) -> bool {
    find(map, key).is_some()
}

/// Sets `map[key]`: an existing entry's value is replaced where it stands (no key is copied or
/// hashed); a new key is appended, as `insert` does.
pub fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    match find_mut(map, key) {
        Some(slot) => *slot = value,
        None => {
            make_room(map);
            map.insert(key.to_owned(), value);
        }
    }
}

/// Room an empty map gets before its first key. Its first insertion alone would size it for three
/// keys and grow it (rehashing every key) at the fourth; the maps the expansion fills (`cpu`,
/// `memory`, `firmware`, `features`, ...) get up to seven.
const FIRST_ROOM: usize = 7;

/// Gives an empty map (a `{}` the expansion fills, or one it just created) [`FIRST_ROOM`] before
/// a key is added: same keys (none), same order.
fn make_room(map: &mut Map<String, Value>) {
    if map.is_empty() {
        *map = Map::with_capacity(FIRST_ROOM);
    }
}

/// The `null` values of a string map (`map[string]string` in Go) as `""`: Go's `encoding/json` reads
/// a `null` map value as the zero string, the key present. Anything but an object is left alone.
pub fn null_strings_to_empty(map: &mut Value) {
    for (_, value) in map.as_object_mut().into_iter().flatten() {
        if value.is_null() {
            *value = Value::String(String::new());
        }
    }
}

/// `value[key]` when `value` is an object and the entry is present and not `null`.
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()
        .and_then(|map| find(map, key))
        .filter(|v| !v.is_null())
}

/// Mutable `value[key]` when `value` is an object and the entry is present (even `null`).
pub fn get_mut<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    value.as_object_mut().and_then(|map| find_mut(map, key))
}

/// Follows `keys` through nested objects; `None` as soon as one is absent, `null` or not an object.
pub fn get_path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |current, key| get(current, key))
}

/// The string at `value[key]`, or `""` when absent or not a string.
pub fn get_str<'a>(value: &'a Value, key: &str) -> &'a str {
    get(value, key).and_then(Value::as_str).unwrap_or_default()
}

/// Whether `value[key]` is present and not `null`.
pub fn has(value: &Value, key: &str) -> bool {
    get(value, key).is_some()
}

/// Whether a value is what Go's `omitempty` treats as empty for a scalar (`""`, `0`, `false`, `null`).
pub fn is_go_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Views `value` as an object, naming `field` when it is something else.
pub fn as_object(value: &Value, field: impl FieldPath) -> Result<&Map<String, Value>, ShapeError> {
    value
        .as_object()
        .ok_or_else(|| expected(field, "an object", Some(value)))
}

/// Mutable variant of [`as_object`].
pub fn as_object_mut(value: &mut Value, field: impl FieldPath) -> Result<&mut Map<String, Value>, ShapeError> {
    let found = type_name(value);
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(wrong_shape(field.render(), "an object", found)),
    }
}

/// The object at `map[key]`, created empty when absent or `null` (`field` names `map[key]` in errors).
pub fn object_entry<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    field: impl FieldPath,
) -> Result<&'a mut Map<String, Value>, ShapeError> {
    // The generic part is only the error: one copy of the lookup serves every call site.
    match entry_or_empty(map, key, || Value::Object(Map::new())) {
        Some(Value::Object(object)) => Ok(object),
        found => Err(wrong_shape(field.render(), "an object", found_type(found))),
    }
}

/// `map[key]`, set to `empty()` first when absent or `null` (the key is only allocated then).
fn entry_or_empty<'a>(map: &'a mut Map<String, Value>, key: &str, empty: fn() -> Value) -> Option<&'a mut Value> {
    if !contains(map, key) {
        make_room(map);
        return Some(map.entry(key).or_insert_with(empty));
    }
    let value = find_mut(map, key)?;
    if value.is_null() {
        *value = empty();
    }
    Some(value)
}

/// The type name of what an entry holds, for an error (`null` when there is none).
fn found_type(found: Option<&mut Value>) -> &'static str {
    found.map_or("null", |value| type_name(value))
}

/// Follows (and creates) nested objects along `keys` below `map`, whose own path is `base`.
pub fn object_path<'a>(
    mut map: &'a mut Map<String, Value>,
    base: &str,
    keys: &[&str],
) -> Result<&'a mut Map<String, Value>, ShapeError> {
    for (depth, key) in keys.iter().enumerate() {
        map = object_entry(map, key, || {
            keys.iter()
                .take(depth + 1)
                .fold(base.to_owned(), |field, key| join(&field, key))
        })?;
    }
    Ok(map)
}

/// The array at `map[key]` if present; `None` when absent or `null`, an error when not an array.
pub fn array_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    field: impl FieldPath,
) -> Result<Option<&'a mut Vec<Value>>, ShapeError> {
    match find_mut(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(expected(field, "an array", Some(other))),
    }
}

/// The array at `map[key]`, created empty when absent or `null`.
pub fn array_entry<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    field: impl FieldPath,
) -> Result<&'a mut Vec<Value>, ShapeError> {
    match entry_or_empty(map, key, || Value::Array(Vec::new())) {
        Some(Value::Array(items)) => Ok(items),
        found => Err(wrong_shape(field.render(), "an array", found_type(found))),
    }
}

/// The array at `value[key]` for reading (`[]` when absent or `null`, or when `value` is no object).
pub fn array<'a>(value: &'a Value, key: &str, field: &str) -> Result<&'a [Value], ShapeError> {
    value.as_object().map_or(Ok(&[]), |map| array_in(map, key, field))
}

/// The array at `map[key]` for reading (`[]` when absent or `null`); `field` names `map[key]` in the
/// error and is built only for it.
pub fn array_in<'a>(map: &'a Map<String, Value>, key: &str, field: impl FieldPath) -> Result<&'a [Value], ShapeError> {
    match find(map, key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(expected(field, "an array", Some(other))),
    }
}

/// The error for a field that is not `what` (`an object`, `an array`).
fn expected(field: impl FieldPath, what: &str, found: Option<&Value>) -> ShapeError {
    wrong_shape(field.render(), what, found.map_or("null", type_name))
}

/// `field: expected <what>, found <found>`: the error of every reader of a field's shape.
#[cold]
pub(crate) fn wrong_shape(field: String, what: &str, found: &str) -> ShapeError {
    ShapeError::new(field, format!("expected {what}, found {found}"))
}

/// Whether `map[key]` is absent or holds a Go zero value (so a preference may fill it).
pub fn is_unset(map: &Map<String, Value>, key: &str) -> bool {
    find(map, key).is_none_or(is_go_zero)
}

/// Whether `map[key]` is absent or `null` (pointer semantics: an explicit `false` counts as set).
pub fn is_absent(map: &Map<String, Value>, key: &str) -> bool {
    find(map, key).is_none_or(Value::is_null)
}

/// Writes a scalar the way Go's `omitempty` would leave it: a zero value is not added where the
/// key is absent (an existing key is overwritten), anything else is set.
pub fn set_scalar(map: &mut Map<String, Value>, key: &str, value: Value) {
    match find_mut(map, key) {
        Some(slot) => *slot = value,
        None if is_go_zero(&value) => {}
        None => {
            make_room(map);
            map.insert(key.to_owned(), value);
        }
    }
}

/// Deserializes `value` into `T`, naming the exact failing field below `field` on error.
pub fn decode<T: DeserializeOwned>(value: &Value, field: &str) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let at = if inner == "." {
            field.to_owned()
        } else {
            join(field, &inner)
        };
        ShapeError::new(at, error.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_treats_null_as_absent() {
        let v = json!({"a": null, "b": 1});
        assert!(get(&v, "a").is_none());
        assert_eq!(get(&v, "b"), Some(&json!(1)));
        assert!(get(&json!([1]), "a").is_none());
    }

    #[test]
    fn object_path_creates_and_reports_wrong_types() {
        let mut v = json!({"spec": {"domain": "oops"}});
        let map = v.as_object_mut().unwrap();
        let err = object_path(map, "", &["spec", "domain", "cpu"]).unwrap_err();
        assert_eq!(err.to_string(), "spec.domain: expected an object, found string");
        let mut v = json!({});
        let map = v.as_object_mut().unwrap();
        object_path(map, "", &["a", "b"]).unwrap().insert("c".into(), json!(1));
        assert_eq!(v, json!({"a": {"b": {"c": 1}}}));
    }

    #[test]
    fn set_scalar_skips_new_zero_values_but_overwrites_existing_keys() {
        let mut m = Map::new();
        set_scalar(&mut m, "a", json!(false));
        assert!(!m.contains_key("a"));
        m.insert("b".into(), json!(true));
        set_scalar(&mut m, "b", json!(false));
        assert_eq!(m.get("b"), Some(&json!(false)));
        set_scalar(&mut m, "c", json!("x"));
        assert_eq!(m.get("c"), Some(&json!("x")));
    }

    /// A map of `len` keys `k0`, `k1`, ... with the values `0`, `1`, ...
    fn numbered(len: usize) -> Map<String, Value> {
        (0..len).map(|i| (format!("k{i}"), json!(i))).collect()
    }

    #[test]
    fn find_answers_as_the_index_does_on_both_sides_of_the_scan_limit() {
        for len in [0, 1, SCAN_LIMIT - 1, SCAN_LIMIT, SCAN_LIMIT + 1, 3 * SCAN_LIMIT] {
            let mut map = numbered(len);
            for key in (0..=len)
                .map(|i| format!("k{i}"))
                .chain(["".to_owned(), "k".to_owned()])
            {
                assert_eq!(find(&map, &key), map.get(&key), "{len} keys, {key}");
                assert_eq!(contains(&map, &key), map.contains_key(&key), "{len} keys, {key}");
                let expected = map.get(&key).cloned();
                assert_eq!(
                    find_mut(&mut map, &key).map(|v| v.clone()),
                    expected,
                    "{len} keys, {key}"
                );
            }
        }
    }

    #[test]
    fn put_replaces_in_place_and_appends_new_keys() {
        for len in [3, SCAN_LIMIT + 4] {
            let mut map = numbered(len);
            put(&mut map, "k1", json!("one"));
            put(&mut map, "new", json!(null));
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(keys.len(), len + 1);
            assert_eq!(keys[1], "k1");
            assert_eq!(keys[len], "new");
            assert_eq!(map["k1"], json!("one"));
            assert_eq!(map["new"], json!(null));
        }
    }

    #[test]
    fn the_first_keys_of_an_empty_map_keep_their_order() {
        // An empty map is replaced by a roomier one before its first key (`make_room`).
        let mut map = Map::new();
        for (index, key) in ["z", "a", "m", "b", "y", "c", "x", "d", "w"].into_iter().enumerate() {
            if index % 2 == 0 {
                put(&mut map, key, json!(index));
            } else {
                set_scalar(&mut map, key, json!(index));
            }
        }
        object_entry(&mut map, "nested", "nested")
            .unwrap()
            .insert("k".into(), json!(true));
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m", "b", "y", "c", "x", "d", "w", "nested"]);
        assert_eq!(map["y"], json!(4));
        assert_eq!(map["nested"], json!({"k": true}));
    }

    #[test]
    fn object_entry_replaces_null_and_keeps_the_key_position() {
        let mut v = json!({"a": null, "b": {"x": 1}, "c": 2});
        let map = v.as_object_mut().unwrap();
        object_entry(map, "a", "a").unwrap().insert("y".into(), json!(2));
        object_entry(map, "b", "b").unwrap().insert("z".into(), json!(3));
        object_entry(map, "d", "d").unwrap();
        assert_eq!(
            object_entry(map, "c", "c").unwrap_err().to_string(),
            "c: expected an object, found number"
        );
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":{"y":2},"b":{"x":1,"z":3},"c":2,"d":{}}"#
        );
    }

    #[test]
    fn decode_names_the_nested_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Cpu {
            sockets: u32,
        }
        let err = decode::<Cpu>(&json!({"sockets": "x"}), "spec.template.spec.domain.cpu").unwrap_err();
        assert_eq!(err.field, "spec.template.spec.domain.cpu.sockets");
        assert!(err.message.contains("invalid type: string"), "{}", err.message);
    }
}
