//! The npm package `kubevirt-instancetype`: the engine for web consoles and Node, through
//! `wasm-bindgen` (built only for `wasm32-unknown-unknown`; nothing of waPC or Kubewarden here).
//!
//! Exports `expand`, `validate`, `validateObject`, `version` and the class `PreparedObjects` (the
//! objects read once for many `expand`/`validate` calls). Arguments are plain JS values read
//! as JSON; results are plain objects (never `Map`). Domain outcomes are returned as tagged
//! results (`{ok: true, ...}` / `{ok: false, message, code, causes, warnings}`); only misuse (a VM
//! that is not an object, `objects` that is not an array, unknown or invalid options) throws a
//! `TypeError`. `expand` and `validate` run [`crate::engine::review::review_vm`], the decision the
//! Kubewarden policy makes, with the policy's settings as `options`.
//!
//! The TypeScript declarations are hand-written in [`types`] (the exports skip the generated ones).

mod api;
mod convert;
mod types;

use wasm_bindgen::prelude::*;

use crate::js::convert::{from_js, from_js_text, to_js};

/// `expand(vm, objects, options?)`: the VM as the policy (expand mode) would admit it,
/// `{ok: true, vm, changed, warnings}`, or why it would reject it,
/// `{ok: false, message, code, causes, warnings}`.
#[wasm_bindgen(skip_typescript)]
pub fn expand(vm: JsValue, objects: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let (vm, objects, options) = read_review_args(vm, objects, options)?;
    let result = api::expand(&vm, objects.as_deref(), &options).map_err(convert::Misuse::into_js)?;
    to_js(&result)
}

/// `validate(vm, objects, options?)`: the policy's validate mode, `{ok: true, warnings}` or
/// `{ok: false, message, code, causes, warnings}`.
#[wasm_bindgen(skip_typescript)]
pub fn validate(vm: JsValue, objects: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let (vm, objects, options) = read_review_args(vm, objects, options)?;
    let result = api::validate(&vm, objects.as_deref(), &options).map_err(convert::Misuse::into_js)?;
    to_js(&result)
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
    objects: api::Objects<'static>,
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

fn read_review_args(
    vm: JsValue,
    objects: JsValue,
    options: JsValue,
) -> Result<(serde_json::Value, Option<String>, serde_json::Value), JsValue> {
    let read = || -> Result<_, convert::Misuse> {
        Ok((
            from_js(vm, "vm")?,
            from_js_text(objects, "objects")?,
            from_js(options, "options")?,
        ))
    };
    read().map_err(convert::Misuse::into_js)
}

fn read_vm_and_options(vm: JsValue, options: JsValue) -> Result<(serde_json::Value, serde_json::Value), JsValue> {
    let read = || -> Result<_, convert::Misuse> { Ok((from_js(vm, "vm")?, from_js(options, "options")?)) };
    read().map_err(convert::Misuse::into_js)
}
