//! Policy metadata: which Kubernetes kinds `--allow-context-aware` grants.
//!
//! kwctl's `--allow-context-aware` trusts the `contextAwareResources` of the metadata that `kwctl annotate`
//! embeds in the module (the `io.kubewarden.metadata` custom section, JSON). An unannotated module gets no
//! access at all ("Policy is not annotated, access to Kubernetes resources is not allowed"). kwrun reads the
//! same section; `--metadata-path policy-metadata.yml` (a kwrun extension) supplies the metadata of an
//! unannotated module instead.

use std::collections::BTreeSet;

use serde::Deserialize;

/// Name of the custom section `kwctl annotate` writes.
pub const KUBEWARDEN_CUSTOM_SECTION_METADATA: &str = "io.kubewarden.metadata";

/// One `{apiVersion, kind}` entry of `contextAwareResources`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    /// apiVersion (`v1`, `apps/v1`, `instancetype.kubevirt.io/v1beta1`, ...).
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
}

/// The parts of Kubewarden policy metadata the harness uses; other keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyMetadata {
    /// Kinds the policy may read.
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// `kubewarden-wapc`, `opa`, `gatekeeper`, `wasi` (absent means `kubewarden-wapc`).
    #[serde(default)]
    pub execution_mode: Option<String>,
    /// Whether the policy declares itself mutating.
    #[serde(default)]
    pub mutating: Option<bool>,
}

impl PolicyMetadata {
    /// Parses metadata from YAML or JSON text.
    pub fn from_yaml_or_json(text: &str) -> Result<Self, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }
}

fn read_leb_u32(bytes: &[u8]) -> Result<(usize, &[u8]), String> {
    let mut result: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(5) {
        result |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = usize::try_from(result).map_err(|_| "LEB128 value too large".to_owned())?;
            return Ok((value, bytes.get(i + 1..).unwrap_or_default()));
        }
    }
    Err("truncated or oversized LEB128 number".to_owned())
}

/// Returns the payload of the first custom section called `name` of a binary WebAssembly module; `Ok(None)`
/// when there is none or when `wasm` is not a binary module (e.g. WAT text).
pub fn custom_section<'a>(wasm: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, String> {
    let Some(rest) = wasm.strip_prefix(b"\0asm") else {
        return Ok(None);
    };
    let mut rest = rest.get(4..).ok_or_else(|| "truncated WebAssembly header".to_owned())?;
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, after_size) = read_leb_u32(after_id)?;
        let body = after_size
            .get(..size)
            .ok_or_else(|| format!("section {id} runs past the end of the module"))?;
        rest = after_size.get(size..).unwrap_or_default();
        if id == 0 {
            let (name_len, after_name_len) = read_leb_u32(body)?;
            let section_name = after_name_len
                .get(..name_len)
                .ok_or_else(|| "custom section name runs past its section".to_owned())?;
            if section_name == name.as_bytes() {
                return Ok(Some(after_name_len.get(name_len..).unwrap_or_default()));
            }
        }
    }
    Ok(None)
}

/// The metadata embedded by `kwctl annotate`, if any.
pub fn embedded_metadata(wasm: &[u8]) -> Result<Option<PolicyMetadata>, String> {
    match custom_section(wasm, KUBEWARDEN_CUSTOM_SECTION_METADATA)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| format!("section {KUBEWARDEN_CUSTOM_SECTION_METADATA}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn module_with_custom(name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = leb(name.len());
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        // an empty type section first, then the custom section
        wasm.extend_from_slice(&[1, 1, 0]);
        wasm.push(0);
        wasm.extend(leb(body.len()));
        wasm.extend(body);
        wasm
    }

    #[test]
    fn finds_the_kubewarden_metadata_section() {
        let json = br#"{"contextAwareResources":[{"apiVersion":"apps/v1","kind":"ControllerRevision"}],"mutating":true,"executionMode":"kubewarden-wapc","rules":[]}"#;
        let wasm = module_with_custom(KUBEWARDEN_CUSTOM_SECTION_METADATA, json);
        assert_eq!(
            custom_section(&wasm, KUBEWARDEN_CUSTOM_SECTION_METADATA),
            Ok(Some(&json[..]))
        );
        let metadata = embedded_metadata(&wasm).expect("parses").expect("present");
        assert_eq!(
            metadata.context_aware_resources,
            BTreeSet::from([ContextAwareResource {
                api_version: "apps/v1".to_owned(),
                kind: "ControllerRevision".to_owned()
            }])
        );
        assert_eq!(metadata.mutating, Some(true));
    }

    #[test]
    fn absent_section_text_modules_and_broken_modules() {
        let wasm = module_with_custom("name", b"x");
        assert_eq!(embedded_metadata(&wasm), Ok(None));
        assert_eq!(embedded_metadata(b"(module)"), Ok(None));
        let mut truncated = module_with_custom(KUBEWARDEN_CUSTOM_SECTION_METADATA, b"{}");
        truncated.truncate(truncated.len() - 1);
        assert!(custom_section(&truncated, KUBEWARDEN_CUSTOM_SECTION_METADATA).is_err());
        assert!(custom_section(b"\0asm\x01", "x").is_err());
        let bad_json = module_with_custom(KUBEWARDEN_CUSTOM_SECTION_METADATA, b"{not json");
        assert!(
            embedded_metadata(&bad_json)
                .expect_err("bad")
                .starts_with("section io.kubewarden.metadata:")
        );
    }

    #[test]
    fn reads_a_metadata_yaml_file() {
        let m = PolicyMetadata::from_yaml_or_json(
            "rules: []\nmutating: true\ncontextAwareResources:\n- apiVersion: instancetype.kubevirt.io/v1beta1\n  kind: VirtualMachineInstancetype\nannotations:\n  io.kubewarden.policy.title: x\n",
        )
        .expect("parses");
        assert_eq!(m.context_aware_resources.len(), 1);
        assert!(PolicyMetadata::from_yaml_or_json("contextAwareResources: [{apiVersion: v1}]").is_err());
    }
}
