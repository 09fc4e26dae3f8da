//! What the tests running `policy.wasm` share: where the module is, and the policy metadata.
// test helpers: failing loudly is the point
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kubevirt_instancetype_e2e::PolicyMetadata;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The policy module: `$POLICY_WASM` (the Makefile sets it to the `policy.wasm` it just built), else a
/// fresh release build of the library for wasm32-wasip1.
pub fn policy_wasm_path() -> PathBuf {
    if let Some(path) = std::env::var_os("POLICY_WASM") {
        return PathBuf::from(path);
    }
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip1",
            "--release",
            "--lib",
            "-p",
            "kubevirt-instancetype",
        ])
        .status()
        .expect("run cargo to build the policy");
    assert!(
        status.success(),
        "building the policy failed (is the wasm32-wasip1 target installed? `rustup target add wasm32-wasip1`, \
         or run `make policy.wasm` and set POLICY_WASM)"
    );
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target_dir = if target_dir.is_absolute() {
        target_dir
    } else {
        root.join(target_dir)
    };
    target_dir.join("wasm32-wasip1/release/kubevirt_instancetype.wasm")
}

/// `policy-metadata.yml`, as kwctl reads it.
pub fn metadata() -> PolicyMetadata {
    let text = std::fs::read_to_string(workspace_root().join("policy-metadata.yml")).unwrap();
    PolicyMetadata::from_yaml_or_json(&text).unwrap()
}
