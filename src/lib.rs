//! kubevirt-instancetype: KubeVirt's instancetype & preference logic in Rust.
//!
//! [`engine`] is the pure implementation (no host IO). The Kubewarden policy and the npm package are
//! thin faces over it, compiled for `wasm32-wasip1` and `wasm32-unknown-unknown` respectively.

#[cfg(not(target_arch = "wasm32"))]
pub mod conformance;
pub mod engine;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod js;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod policy;
