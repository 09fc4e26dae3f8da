//! The npm package `kubevirt-instancetype`: the engine for web consoles and Node, through
//! `wasm-bindgen` (built only for `wasm32-unknown-unknown`; nothing of waPC or Kubewarden here).
//!
//! Exports `expand`, `validate`, `validateObject`, `version` and the class `PreparedObjects` (the
//! objects read once for many `expand`/`validate` calls); `expand` and `validate` also keep the
//! objects of their last call (`LastObjects`). Arguments are plain JS values read
//! as JSON; results are plain objects (never `Map`). Domain outcomes are returned as tagged
//! results (`{ok: true, ...}` / `{ok: false, message, code, causes, warnings}`); only misuse (a VM
//! that is not an object, `objects` that is not an array, unknown or invalid options) throws a
//! `TypeError`. `expand` and `validate` run [`crate::engine::review::review_vm`], the decision the
//! Kubewarden policy makes, with the policy's settings as `options`.
//!
//! The TypeScript declarations are hand-written in `types` (the exports skip the generated ones).

mod api;
mod convert;
mod types;

use wasm_bindgen::prelude::*;

use std::cell::RefCell;

use crate::js::convert::{Misuse, check_depth, from_js, from_js_text, json_string, to_js};

/// The objects of the last `expand`/`validate` call, kept read for the next one. A console previewing
/// on every keystroke passes the same objects again and again: objects whose JSON text is the same,
/// character for character, are not copied into the module and read again (as `PreparedObjects`
/// does on request), and the answer is the one reading them anew gives. One set is kept; a call with
/// other objects replaces it.
struct LastObjects {
    /// `JSON.stringify(objects)`, a JS string (`None` for `undefined`).
    json: Option<js_sys::JsString>,
    objects: api::Objects,
}

thread_local! {
    static LAST_OBJECTS: RefCell<Option<LastObjects>> = const { RefCell::new(None) };
}

/// Whether the kept objects are the ones of this JSON (`false` while they are in use).
fn objects_kept(json: Option<&js_sys::JsString>) -> bool {
    LAST_OBJECTS.with(|last| {
        last.try_borrow()
            .is_ok_and(|last| last.as_ref().is_some_and(|last| last.json.as_ref() == json))
    })
}

/// `expand(vm, objects, options?)`: the VM as the policy (expand mode) would admit it,
/// `{ok: true, vm, changed, warnings}`, or why it would reject it,
/// `{ok: false, message, code, causes, warnings}`.
#[wasm_bindgen(skip_typescript)]
pub fn expand(vm: JsValue, objects: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    to_js(&review(vm, objects, options, api::Objects::expand)?)
}

/// `validate(vm, objects, options?)`: the policy's validate mode, `{ok: true, warnings}` or
/// `{ok: false, message, code, causes, warnings}`.
#[wasm_bindgen(skip_typescript)]
pub fn validate(vm: JsValue, objects: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    to_js(&review(vm, objects, options, api::Objects::validate)?)
}

/// A review of the objects: `expand` or `validate`.
type Review = fn(&mut api::Objects, &serde_json::Value, &serde_json::Value) -> Result<serde_json::Value, Misuse>;

/// One `expand` or `validate` call: the arguments read in order (misuse reported in that order),
/// the objects those of the last call when their JSON is the same ([`LastObjects`]).
fn review(vm: JsValue, objects: JsValue, options: JsValue, run: Review) -> Result<serde_json::Value, JsValue> {
    let read = || -> Result<_, Misuse> {
        let vm = from_js(vm, "vm")?;
        let json = json_string(objects, "objects")?;
        // Kept objects passed the depth check when they were read.
        let text = if objects_kept(json.as_ref()) {
            None
        } else {
            let text = json.as_ref().and_then(|json| json.as_string());
            check_depth(text.as_deref(), "objects")?;
            Some(text)
        };
        Ok((vm, json, text, from_js(options, "options")?))
    };
    let (vm, json, text, options) = read().map_err(Misuse::into_js)?;
    // Reading the options may have run JS (a `toJSON`) that called in with other objects: the kept
    // ones are looked at again now, and are only borrowed from here on, when no JS runs.
    let text = |json: Option<&js_sys::JsString>| text.unwrap_or_else(|| json.and_then(|json| json.as_string()));
    LAST_OBJECTS
        .with(|last| match last.try_borrow_mut() {
            Ok(mut last) => {
                let kept = match last.take() {
                    Some(kept) if kept.json == json => kept,
                    _ => LastObjects {
                        objects: api::Objects::owned(text(json.as_ref())),
                        json,
                    },
                };
                run(&mut last.insert(kept).objects, &vm, &options)
            }
            // (Only while a call runs, which never calls JS.)
            Err(_) => run(&mut api::Objects::owned(text(json.as_ref())), &vm, &options),
        })
        .map_err(Misuse::into_js)
}

/// `validateObject(obj)`: admission of an instancetype or preference object (any supported
/// version), `{ok: true, warnings}` or `{ok: false, message, code, causes, warnings}`.
#[wasm_bindgen(js_name = validateObject, skip_typescript)]
pub fn validate_object(object: JsValue) -> Result<JsValue, JsValue> {
    let object = from_js(object, "obj").map_err(convert::Misuse::into_js)?;
    let result = api::validate_object_api(&object).map_err(convert::Misuse::into_js)?;
    to_js(&result)
}

/// `new PreparedObjects(objects)`: `objects` read once, for a console that reviews VM after VM (a
/// preview on every keystroke) against the same objects. `prepared.expand(vm, options?)` and
/// `prepared.validate(vm, options?)` answer exactly as `expand(vm, objects, options?)` and
/// `validate(vm, objects, options?)` do, without converting and reading the objects on every call.
/// The objects are copied at construction (changing them afterwards changes nothing); `free()`
/// releases the copy.
#[wasm_bindgen(skip_typescript)]
pub struct PreparedObjects {
    objects: api::Objects,
}

#[wasm_bindgen]
impl PreparedObjects {
    /// Reads `objects`; misuse (not an array, an element that is not an object) throws here.
    #[wasm_bindgen(constructor)]
    pub fn new(objects: JsValue) -> Result<PreparedObjects, JsValue> {
        let text = from_js_text(objects, "objects").map_err(convert::Misuse::into_js)?;
        let objects = api::Objects::prepare(text).map_err(convert::Misuse::into_js)?;
        Ok(PreparedObjects { objects })
    }

    /// `expand(vm, objects, options?)` with the prepared objects.
    pub fn expand(&mut self, vm: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let (vm, options) = read_vm_and_options(vm, options)?;
        let result = self.objects.expand(&vm, &options).map_err(convert::Misuse::into_js)?;
        to_js(&result)
    }

    /// `validate(vm, objects, options?)` with the prepared objects.
    pub fn validate(&mut self, vm: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let (vm, options) = read_vm_and_options(vm, options)?;
        let result = self.objects.validate(&vm, &options).map_err(convert::Misuse::into_js)?;
        to_js(&result)
    }
}

/// `version()`: the package version (the crate's).
#[wasm_bindgen(skip_typescript)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

fn read_vm_and_options(vm: JsValue, options: JsValue) -> Result<(serde_json::Value, serde_json::Value), JsValue> {
    let read = || -> Result<_, convert::Misuse> { Ok((from_js(vm, "vm")?, from_js(options, "options")?)) };
    read().map_err(convert::Misuse::into_js)
}
