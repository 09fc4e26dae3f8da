//! Application of an instancetype and a preference to a VMI spec (spec §3.1–§3.5).
//!
//! The VMI spec and its metadata are edited in place as JSON maps, so every field the application
//! does not own stays exactly as it was.

pub mod instancetype;
pub mod preference;
pub mod topology;

use std::fmt;

use serde_json::{Map, Value};

use crate::engine::cause::Cause;
use crate::engine::json::{self, FieldPath, ShapeError};
use crate::engine::model::{InstancetypeSpec, PreferenceSpec};

/// The VM fields that conflict with the selected instancetype, in KubeVirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conflicts {
    /// Dotted field paths, e.g. `spec.template.spec.domain.cpu.sockets`.
    pub paths: Vec<String>,
}

impl Conflicts {
    /// Whether nothing conflicts.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// One `FieldValueInvalid` cause per path, as KubeVirt's VM admission reports them.
    pub fn causes(&self) -> Vec<Cause> {
        self.paths
            .iter()
            .map(|path| {
                Cause::invalid(
                    format!("VM field(s) {path} conflicts with selected instance type"),
                    path.clone(),
                )
            })
            .collect()
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VM field(s) {} conflicts with selected instance type",
            self.paths.join(", ")
        )
    }
}

impl std::error::Error for Conflicts {}

/// Why an instancetype or preference could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The VM sets fields the instancetype owns.
    #[error(transparent)]
    Conflicts(#[from] Conflicts),
    /// A VM field the application reads or writes has the wrong JSON shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The preference asks for a vCPU topology that cannot be computed.
    #[error(transparent)]
    Topology(#[from] topology::TopologyError),
}

/// Applies `instancetype` then `preference` to `vmi_spec` (whose path is `base`, e.g.
/// `spec.template.spec`) and its `metadata`. With any conflict nothing of the preference is applied
/// and every conflict is returned (§3.1).
pub fn apply_to_vmi(
    instancetype: Option<&InstancetypeSpec>,
    preference: Option<&PreferenceSpec>,
    vmi_spec: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    base: &str,
) -> Result<(), ApplyError> {
    if let Some(instancetype) = instancetype {
        let conflicts = instancetype::apply(instancetype, preference, vmi_spec, metadata, base)?;
        if !conflicts.is_empty() {
            return Err(conflicts.into());
        }
    }
    if let Some(preference) = preference {
        preference::apply(preference, vmi_spec, metadata, base)?;
    }
    Ok(())
}

/// Reads an unsigned 32-bit integer field (`0` when absent or `null`), as Go decodes `uint32`;
/// `base` is the path of `map`, rendered only for an error (as for the readers below).
pub(crate) fn read_u32(map: &Map<String, Value>, key: &str, base: impl FieldPath) -> Result<u32, ShapeError> {
    // The generic part is only the error (as below): one copy of each reader serves every caller.
    u32_or_message(json::find(map, key)).map_err(|message| ShapeError::new(json::join(&base.render(), key), message))
}

fn u32_or_message(value: Option<&Value>) -> Result<u32, String> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("expected an unsigned 32-bit integer, found {value}")),
    }
}

/// Reads a boolean field (`false` when absent or `null`).
pub(crate) fn read_bool(map: &Map<String, Value>, key: &str, base: impl FieldPath) -> Result<bool, ShapeError> {
    match json::find(map, key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(json::wrong_shape(
            json::join(&base.render(), key),
            "a boolean",
            json::type_name(other),
        )),
    }
}

/// Reads a string field (`""` when absent or `null`).
pub(crate) fn read_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    base: impl FieldPath,
) -> Result<&'a str, ShapeError> {
    match json::find(map, key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(json::wrong_shape(
            json::join(&base.render(), key),
            "a string",
            json::type_name(other),
        )),
    }
}
