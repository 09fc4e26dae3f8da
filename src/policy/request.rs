//! The parts of Kubewarden's `ValidationRequest` the policy reads, as plain serde structs (no SDK
//! types, so the policy logic builds and tests natively).
//!
//! The payload of a `validate` call is `{"request": <AdmissionRequest>, "settings": {...}}`. Fields
//! the policy does not use (`userInfo`, `options`, `dryRun`, ...) are ignored.

use serde::Deserialize;
use serde_json::Value;

/// The `validate` payload.
#[derive(Debug, Clone, Deserialize)]
pub struct ValidationRequest {
    /// The Kubernetes AdmissionRequest.
    pub request: AdmissionRequest,
    /// The policy settings, as configured (`null` or absent means the defaults).
    #[serde(default)]
    pub settings: Value,
}

/// `group`, `version` and `kind` of the object under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupVersionKind {
    /// API group (`""` for the core group).
    #[serde(default)]
    pub group: String,
    /// API version within the group.
    #[serde(default)]
    pub version: String,
    /// Singular PascalCase kind.
    pub kind: String,
}

impl GroupVersionKind {
    /// The `apiVersion` spelling: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// A Kubernetes `AdmissionRequest` (admission.k8s.io/v1), reduced to what the policy uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Request identifier.
    #[serde(default)]
    pub uid: String,
    /// Kind of the object under review.
    pub kind: GroupVersionKind,
    /// Subresource (`status`, `scale`, ...), if the request targets one.
    #[serde(default)]
    pub sub_resource: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(default)]
    pub operation: String,
    /// Name of the object (may be empty on CREATE with `generateName`).
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace of the request (empty or absent for cluster-scoped objects).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object as it will be stored (`null` on DELETE).
    #[serde(default)]
    pub object: Value,
    /// The stored object (UPDATE and DELETE), `null` otherwise.
    #[serde(default)]
    pub old_object: Value,
}

impl AdmissionRequest {
    /// The namespace lookups use: the request's `namespace`, else the object's
    /// `metadata.namespace` (objects often carry none on CREATE, the request always does).
    pub fn effective_namespace(&self) -> Option<&str> {
        let from_object = self
            .object
            .get("metadata")
            .and_then(|metadata| metadata.get("namespace"))
            .and_then(Value::as_str);
        self.namespace
            .as_deref()
            .filter(|namespace| !namespace.is_empty())
            .or(from_object.filter(|namespace| !namespace.is_empty()))
    }
}

/// Parses a `validate` payload; the error names the offending path
/// (`request.kind: missing field `kind``).
pub fn parse_validation_request(payload: &[u8]) -> Result<ValidationRequest, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let parsed: ValidationRequest = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            format!("malformed ValidationRequest: {inner}")
        } else {
            format!("malformed ValidationRequest: {path}: {inner}")
        }
    })?;
    deserializer
        .end()
        .map_err(|error| format!("malformed ValidationRequest: {error}"))?;
    Ok(parsed)
}
