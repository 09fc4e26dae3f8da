//! The pure engine: KubeVirt's instancetype & preference expansion and validation.
//!
//! No host IO and nothing wasm-specific lives here. Objects come in through
//! [`lookup::ObjectSource`]; results are plain values and typed errors.
//!
//! Pipeline of [`expand::expand`]: [`infer`] (matchers from volume labels) → [`find`]
//! (matchers → specs, via [`revision`] and [`model::legacy`]) → [`defaults`] (default disks and
//! interface) → [`apply`] (instancetype, then preference) → [`defaults`] (VMI defaults); the VM's own
//! quantities are written as KubeVirt writes them ([`vm_quantities`]).
//! [`admission`] runs KubeVirt's webhook checks; [`object_validation`] checks the instancetype
//! and preference objects themselves.

pub mod admission;
pub mod apply;
pub mod cause;
pub mod defaults;
pub mod expand;
pub mod find;
pub mod governance;
pub mod infer;
pub mod json;
pub mod json_text;
pub mod lookup;
pub mod model;
pub mod object_validation;
pub mod options;
pub mod quantity;
pub mod requirements;
pub mod review;
pub mod revision;
pub mod vm_quantities;
