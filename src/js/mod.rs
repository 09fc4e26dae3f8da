//! The npm package `kubevirt-instancetype`: the engine for web consoles and Node, through
//! `wasm-bindgen` (built only for `wasm32-unknown-unknown`; nothing of waPC or Kubewarden here).
//!
//! Exports `expand`, `validate`, `validateObject` and `version`. Arguments are plain JS values read
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
