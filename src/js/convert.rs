//! Crossing the JS boundary: JS values in as `serde_json::Value`, results out as plain
//! JSON-compatible objects (never `Map`), misuse out as a `TypeError`.
//!
//! Both ways go through JSON text: in, `JSON.stringify` on the JS side, one string copied into the
//! module's memory, `serde_json` there; out, `serde_json` then `JSON.parse`. Walking the values
//! field by field across the boundary instead (serde-wasm-bindgen) costs several JS calls per
//! field, most of an `expand` call's time (docs/performance.md).

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

/// A misuse of the API (wrong argument types, bad options): thrown to JS as a `TypeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misuse(pub String);

impl Misuse {
    /// The `TypeError` thrown to JS.
    pub fn into_js(self) -> JsValue {
        js_sys::TypeError::new(&format!("kubevirt-instancetype: {}", self.0)).into()
    }
}

/// The deepest nesting of objects and arrays an argument may have, the argument itself counting as
/// one level. The policy receives a VM inside `{"request": {"object": ...}}` and `serde_json` refuses
/// more than 127 nested levels in a document, so the policy reads VMs of at most 125 levels: the
/// package takes the same VMs (and refuses cyclic objects, which would nest forever).
pub const MAX_DEPTH: usize = 125;

/// Reads a JS argument as JSON, as `JSON.stringify` sees it. `undefined` reads as `null`; an
/// argument JSON cannot hold (a function, a symbol, anything holding a `BigInt`) and values nested
/// more than [`MAX_DEPTH`] levels deep (or cyclic) are misuse, named by `what`. Inside objects,
/// `undefined`, functions and symbols are left out (in arrays they read as `null`), as
/// `JSON.stringify` leaves them out.
pub fn from_js(value: JsValue, what: &str) -> Result<Value, Misuse> {
    match json_text(value, what)? {
        None => Ok(Value::Null),
        Some(text) => parse_text(&text, what),
    }
}

/// The JSON text of a JS argument (`JSON.stringify`), `None` for `undefined`; the misuse of
/// [`from_js`] when JSON cannot hold it.
pub fn json_text(value: JsValue, what: &str) -> Result<Option<String>, Misuse> {
    Ok(json_string(value, what)?.and_then(|text| text.as_string()))
}

/// [`json_text`] left a JS string, not copied into the module.
pub fn json_string(value: JsValue, what: &str) -> Result<Option<js_sys::JsString>, Misuse> {
    if value.is_undefined() {
        return Ok(None);
    }
    let text = js_sys::JSON::stringify(&value).map_err(|error| stringify_error(&error, what))?;
    // `JSON.stringify` gives `undefined` for a function or a symbol.
    if text.is_string() {
        Ok(Some(text))
    } else {
        let kind = value.js_typeof().as_string().unwrap_or_default();
        Err(Misuse(format!("{what} is not a JSON-compatible value: a {kind}")))
    }
}

/// Parses the JSON text of an argument (see [`from_js`]).
pub fn parse_text(text: &str, what: &str) -> Result<Value, Misuse> {
    // Counted on the text, before parsing: a scan without allocations.
    if text_depth(text) > MAX_DEPTH {
        return Err(too_deep(what));
    }
    serde_json::from_str(text).map_err(|error| {
        // (serde_json stops at 128 levels, past MAX_DEPTH: the scan above refused such text already.)
        if error.to_string().starts_with("recursion limit exceeded") {
            too_deep(what)
        } else {
            Misuse(format!("{what} is not a JSON-compatible value: {error}"))
        }
    })
}

/// The JSON text of a JS argument read without parsing it here (see [`json_text`]), with the depth
/// misuse of [`from_js`]: the `objects` argument, whose elements are decoded one by one.
pub fn from_js_text(value: JsValue, what: &str) -> Result<Option<String>, Misuse> {
    let text = json_text(value, what)?;
    check_depth(text.as_deref(), what)?;
    Ok(text)
}

/// The depth misuse of [`from_js`] for the JSON text of an argument read by [`json_text`].
pub fn check_depth(text: Option<&str>, what: &str) -> Result<(), Misuse> {
    match text {
        Some(text) if text_depth(text) > MAX_DEPTH => Err(too_deep(what)),
        _ => Ok(()),
    }
}

/// Levels of objects and arrays in a JSON text (a scalar is 0, the argument itself is level 1);
/// brackets inside strings do not count.
fn text_depth(text: &str) -> usize {
    let (mut level, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                level += 1;
                deepest = deepest.max(level);
            }
            b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn too_deep(what: &str) -> Misuse {
    Misuse(format!(
        "{what} is nested more than {MAX_DEPTH} levels deep (or contains a cycle)"
    ))
}

/// What `JSON.stringify` threw: a cycle, or a nesting deep enough to exhaust the JS stack, is the
/// depth misuse; anything else (a `BigInt`, a throwing `toJSON`) is not JSON-compatible.
fn stringify_error(error: &JsValue, what: &str) -> Misuse {
    let message = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{error:?}"));
    let lowered = message.to_ascii_lowercase();
    if error.is_instance_of::<js_sys::RangeError>() || lowered.contains("circular") || lowered.contains("cyclic") {
        too_deep(what)
    } else {
        Misuse(format!("{what} is not a JSON-compatible value: {message}"))
    }
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The first integer of `value` a JS number cannot hold exactly, if any.
fn inexact_integer(value: &Value) -> Option<String> {
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        match current {
            Value::Number(number) => {
                let exact = match (number.as_u64(), number.as_i64()) {
                    (Some(unsigned), _) => unsigned <= MAX_SAFE_INTEGER,
                    (None, Some(signed)) => signed.unsigned_abs() <= MAX_SAFE_INTEGER,
                    (None, None) => true,
                };
                if !exact {
                    return Some(number.to_string());
                }
            }
            Value::Object(map) => pending.extend(map.values()),
            Value::Array(items) => pending.extend(items.iter()),
            _ => {}
        }
    }
    None
}

/// Writes a result as plain JS objects and arrays (`JSON.parse` of its JSON text). Fails (an
/// `Error`, not a `TypeError`) only for an integer JavaScript cannot hold exactly.
pub fn to_js(value: &Value) -> Result<JsValue, JsValue> {
    let fail = |problem: String| -> JsValue {
        js_sys::Error::new(&format!(
            "kubevirt-instancetype: the result cannot be given to JavaScript: {problem}"
        ))
        .into()
    };
    if let Some(number) = inexact_integer(value) {
        return Err(fail(format!("{number} cannot be held exactly by a JavaScript number")));
    }
    let text = serde_json::to_string(value).map_err(|error| fail(error.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|error| fail(format!("{error:?}")))
}

/// How a value is described in a misuse message: `null`, `an array`, `a string`, ...
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null or undefined",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
