//! Cluster lookups through the Kubewarden host (`kubewarden/kubernetes/get_resource`), behind a
//! small trait so the mapping of requests and errors is tested natively with a fake host.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::sync::Arc;

use crate::engine::lookup::{Fetched, LookupError, ObjectRef, ObjectSource};

/// The payload of a `get_resource` host call, field for field the SDK's `GetResourceRequest`
/// (and what kwctl records as `!KubernetesGetResource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetResource {
    /// `v1` for the core group, `group/version` otherwise.
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// The namespace of a namespaced kind, `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Always `false`: the host's short-lived cache is fine for admission.
    pub disable_cache: bool,
}

impl GetResource {
    /// The host request for one object.
    pub fn for_object(object: &ObjectRef) -> Self {
        Self {
            api_version: object.kind.api_version().to_owned(),
            kind: object.kind.kind().to_owned(),
            name: object.name.clone(),
            namespace: if object.kind.is_namespaced() {
                object.namespace.clone()
            } else {
                None
            },
            disable_cache: false,
        }
    }
}

/// The host's `get_resource` capability: the object's JSON text, or the host's error text.
pub trait Host {
    /// Performs one `get_resource` call.
    fn get_resource(&self, request: &GetResource) -> Result<String, String>;
}

/// The error text of a host answer that is not JSON, worded as the SDK's `get_resource` words it.
pub fn unreadable_answer(error: &serde_json::Error) -> String {
    format!("error deserializing get resource response: {error}")
}

/// The text by which a Kubewarden host (policy-evaluator) reports a missing object:
/// `Cannot find <apiVersion>/<kind> named '<name>' inside of namespace '<Some("ns") or None>'`,
/// recognised by its start and by [`HOST_NOT_FOUND_NAMED`]. (Its `Cannot find resource
/// <apiVersion>/<kind>`, for a kind the cluster does not serve, is not a missing object.)
pub const HOST_NOT_FOUND_MARKER: &str = "Cannot find ";

/// The part of the host's missing-object text that names the object.
pub const HOST_NOT_FOUND_NAMED: &str = " named '";

/// Maps a host error to a lookup error: the host's "Cannot find ... named ..." becomes
/// [`LookupError::NotFound`] (so the rejection reads like KubeVirt's NotFound), anything else
/// [`LookupError::Failed`] carrying the host's text.
pub fn lookup_error(object: &ObjectRef, host_message: &str) -> LookupError {
    let missing = host_message
        .split_once(HOST_NOT_FOUND_MARKER)
        .is_some_and(|(_, rest)| rest.contains(HOST_NOT_FOUND_NAMED));
    if missing {
        LookupError::NotFound(object.clone())
    } else {
        LookupError::Failed {
            object: object.clone(),
            message: host_message.trim().to_owned(),
        }
    }
}

/// An [`ObjectSource`] answering from a [`Host`]. A `v1beta1` instancetype or preference is kept
/// as the text the host sent ([`Fetched::from_text`]): wrapped in a `RecordingSource`, as the
/// policy does, its spec is decoded from the text without building the object's JSON tree (its
/// metadata, annotations included, is most of it).
#[derive(Debug, Clone)]
pub struct HostSource<H> {
    host: H,
}

impl<H: Host> HostSource<H> {
    /// Wraps a host.
    pub fn new(host: H) -> Self {
        Self { host }
    }
}

impl<H: Host> ObjectSource for HostSource<H> {
    fn get(&self, object: &ObjectRef) -> Result<Value, LookupError> {
        self.fetch(object)?.shared(object).map(|found| Value::clone(&found))
    }

    fn get_shared(&self, object: &ObjectRef) -> Result<Arc<Value>, LookupError> {
        self.fetch(object)?.shared(object)
    }

    fn fetch(&self, object: &ObjectRef) -> Result<Fetched, LookupError> {
        let request = GetResource::for_object(object);
        let text = self
            .host
            .get_resource(&request)
            .map_err(|message| lookup_error(object, &message))?;
        let text = match Fetched::from_text(text, object.kind) {
            Ok(fetched) => return Ok(fetched),
            Err(text) => text,
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|error| lookup_error(object, &unreadable_answer(&error)))?;
        if value.is_object() {
            Ok(Fetched::value(Arc::new(value)))
        } else {
            Err(LookupError::Failed {
                object: object.clone(),
                message: "the host answered with something that is not a JSON object".to_owned(),
            })
        }
    }
}
