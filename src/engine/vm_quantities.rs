//! The VM's own fields written as KubeVirt writes an expanded VM.
//!
//! KubeVirt's `Expand` decodes the VM into its typed API and encodes the result, so every
//! `resource.Quantity` of the VM comes out as Kubernetes' `MarshalJSON` writes it: the canonical form
//! (`1.5Gi` → `1536Mi`, `1024Mi` → `1Gi`), or the text as given when Go keeps it (`2Gi`, `500m`), and
//! always as a string (`cpu: 2` → `"2"`). [`canonicalize`] does the same to the quantity fields of
//! the VM that the expansion does not write itself (the ones it writes are canonical already):
//!
//! - `spec.template.spec.domain.resources.requests.*` and `.limits.*`;
//! - `spec.template.spec.domain.memory.guest` and `.maxGuest`;
//! - `spec.template.spec.volumes[].emptyDisk.capacity` and `.hostDisk.capacity`;
//! - `spec.dataVolumeTemplates[].spec.pvc.resources` and `.spec.storage.resources`: `requests.*`, `limits.*`.
//!
//! Go also decodes a `null` *value inside a map* as the value type's zero, not as an absent key:
//! a `null` in one of those `requests`/`limits` lists becomes the quantity `"0"`, and a `null` in a
//! string map of the VM (`metadata.labels` and `.annotations` of the VM, of its template and of its
//! DataVolume templates, and `spec.template.spec.nodeSelector`) becomes `""`. The key is then
//! present for everything the expansion decides (an annotation the VM "has", a memory request that
//! conflicts with an instancetype), as it is in KubeVirt.
//!
//! A value that is not a quantity (a text Kubernetes would not parse, an object) is left as it is:
//! rewriting is never a reason to fail. Only expanded VMs are rewritten; a VM without matchers is
//! returned untouched.

use serde_json::{Map, Value};

use crate::engine::json;
use crate::engine::quantity::Quantity;

/// Rewrites the VM's quantity fields listed in the module documentation in Kubernetes' JSON form.
pub fn canonicalize(vm: &mut Value) {
    null_strings_of_metadata(vm);
    if let Some(template) = json::get_mut(vm, "spec").and_then(|spec| json::get_mut(spec, "template")) {
        null_strings_of_metadata(template);
        if let Some(template_spec) = json::get_mut(template, "spec") {
            canonicalize_vmi_spec(template_spec);
        }
    }
    let templates = json::get_mut(vm, "spec")
        .and_then(|spec| json::get_mut(spec, "dataVolumeTemplates"))
        .and_then(Value::as_array_mut);
    for template in templates.into_iter().flatten() {
        null_strings_of_metadata(template);
        let Some(spec) = json::get_mut(template, "spec") else {
            continue;
        };
        for claim in ["pvc", "storage"] {
            if let Some(resources) = json::get_mut(spec, claim).and_then(|c| json::get_mut(c, "resources")) {
                canonicalize_resource_lists(resources);
            }
        }
    }
}

/// The `null` values of `metadata.labels` and `metadata.annotations` of `object` as `""`.
fn null_strings_of_metadata(object: &mut Value) {
    if let Some(metadata) = json::get_mut(object, "metadata") {
        for map in ["labels", "annotations"] {
            null_strings(json::get_mut(metadata, map));
        }
    }
}

/// The `null` values of a string map as `""`, Go's zero string.
fn null_strings(map: Option<&mut Value>) {
    let Some(map) = map.and_then(Value::as_object_mut) else {
        return;
    };
    for (_, value) in map.iter_mut() {
        if value.is_null() {
            *value = Value::String(String::new());
        }
    }
}

/// The quantities of a VMI spec (a VM's `spec.template.spec`), and its `nodeSelector`'s `null`s.
fn canonicalize_vmi_spec(vmi_spec: &mut Value) {
    null_strings(json::get_mut(vmi_spec, "nodeSelector"));
    if let Some(domain) = json::get_mut(vmi_spec, "domain") {
        if let Some(resources) = json::get_mut(domain, "resources") {
            canonicalize_resource_lists(resources);
        }
        if let Some(memory) = json::get_mut(domain, "memory").and_then(Value::as_object_mut) {
            canonicalize_members(memory, &["guest", "maxGuest"]);
        }
    }
    let volumes = json::get_mut(vmi_spec, "volumes").and_then(Value::as_array_mut);
    for volume in volumes.into_iter().flatten() {
        for source in ["emptyDisk", "hostDisk"] {
            if let Some(disk) = json::get_mut(volume, source).and_then(Value::as_object_mut) {
                canonicalize_members(disk, &["capacity"]);
            }
        }
    }
}

/// Every value of `requests` and `limits` (Kubernetes `ResourceList`s) in `resources`.
fn canonicalize_resource_lists(resources: &mut Value) {
    for list in ["requests", "limits"] {
        if let Some(list) = json::get_mut(resources, list).and_then(Value::as_object_mut) {
            for (_, quantity) in list.iter_mut() {
                if quantity.is_null() {
                    // Go's zero `Quantity`, as `UnmarshalJSON` reads a `null`.
                    *quantity = Value::String("0".to_owned());
                } else {
                    canonicalize_value(quantity);
                }
            }
        }
    }
}

/// The members of `map` named in `keys`.
fn canonicalize_members(map: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(quantity) = json::find_mut(map, key) {
            canonicalize_value(quantity);
        }
    }
}

/// One quantity, as Kubernetes' `UnmarshalJSON` then `MarshalJSON` turn it: surrounding whitespace
/// trimmed, a number read from its text, the result written as a string.
fn canonicalize_value(value: &mut Value) {
    let written = match value {
        Value::String(text) => match Quantity::parse(text.trim()) {
            Ok(quantity) => quantity.to_canonical_string(),
            Err(_) => return,
        },
        Value::Number(number) => match Quantity::parse(&number.to_string()) {
            Ok(quantity) => quantity.to_canonical_string(),
            Err(_) => return,
        },
        _ => return,
    };
    if value.as_str() != Some(written.as_str()) {
        *value = Value::String(written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm_with(template_spec: Value, data_volume_templates: Value) -> Value {
        json!({"spec": {"template": {"spec": template_spec}, "dataVolumeTemplates": data_volume_templates}})
    }

    #[test]
    fn rewrites_every_listed_field_as_kubernetes_writes_it() {
        let mut vm = vm_with(
            json!({
                "domain": {
                    "resources": {"requests": {"memory": "1.5Gi", "cpu": 2, "ephemeral-storage": " 2048Mi "},
                                  "limits": {"cpu": "1500m", "memory": "2Gi"}},
                    "memory": {"guest": "1024Mi", "maxGuest": "4096Mi"}
                },
                "volumes": [
                    {"name": "a", "emptyDisk": {"capacity": "1000M"}},
                    {"name": "b", "hostDisk": {"capacity": "0.5Gi", "path": "/x"}},
                    {"name": "c", "containerDisk": {"image": "i:1"}}
                ]
            }),
            json!([{"metadata": {"name": "dv"},
                    "spec": {"pvc": {"resources": {"requests": {"storage": "30720Mi"}}},
                             "storage": {"resources": {"limits": {"storage": "1e3"}}}}}]),
        );
        canonicalize(&mut vm);
        let spec = &vm["spec"]["template"]["spec"];
        assert_eq!(
            spec["domain"]["resources"],
            json!({"requests": {"memory": "1536Mi", "cpu": "2", "ephemeral-storage": "2Gi"},
                   "limits": {"cpu": "1500m", "memory": "2Gi"}})
        );
        assert_eq!(spec["domain"]["memory"], json!({"guest": "1Gi", "maxGuest": "4Gi"}));
        assert_eq!(spec["volumes"][0]["emptyDisk"]["capacity"], "1G");
        assert_eq!(
            spec["volumes"][1]["hostDisk"],
            json!({"capacity": "512Mi", "path": "/x"})
        );
        assert_eq!(
            spec["volumes"][2],
            json!({"name": "c", "containerDisk": {"image": "i:1"}})
        );
        let dv = &vm["spec"]["dataVolumeTemplates"][0]["spec"];
        assert_eq!(dv["pvc"]["resources"]["requests"]["storage"], "30Gi");
        // Go keeps a canonical-looking text as it was given, exponent included.
        assert_eq!(dv["storage"]["resources"]["limits"]["storage"], "1e3");
    }

    #[test]
    fn null_map_values_are_gos_zero_values() {
        let mut vm = json!({
            "metadata": {"labels": {"a": null, "b": "x"}, "annotations": {"c": null}, "name": null},
            "spec": {
                "template": {
                    "metadata": {"annotations": {"d": null}},
                    "spec": {"nodeSelector": {"e": null},
                             "domain": {"resources": {"limits": {"cpu": null}}, "memory": {"guest": null}}}
                },
                "dataVolumeTemplates": [{"metadata": {"labels": {"f": null}}}]
            }
        });
        canonicalize(&mut vm);
        assert_eq!(
            vm,
            json!({
                "metadata": {"labels": {"a": "", "b": "x"}, "annotations": {"c": ""}, "name": null},
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"d": ""}},
                        "spec": {"nodeSelector": {"e": ""},
                                 // A pointer field's `null` stays: Go reads it as absent.
                                 "domain": {"resources": {"limits": {"cpu": "0"}}, "memory": {"guest": null}}}
                    },
                    "dataVolumeTemplates": [{"metadata": {"labels": {"f": ""}}}]
                }
            })
        );
    }

    #[test]
    fn leaves_what_is_not_a_quantity_and_what_is_elsewhere() {
        let template_spec = json!({
            "domain": {"resources": {"requests": {"memory": "lots", "x": {"y": 1}}},
                       "memory": {"guest": true, "hugepages": {"pageSize": "2048Ki"}}},
            "volumes": [{"name": "a", "emptyDisk": {"capacity": "1.5Gi "}}, "not an object"],
            "nodeSelector": {"size": "1024Mi"}
        });
        let mut vm = vm_with(template_spec.clone(), json!("not a list"));
        canonicalize(&mut vm);
        let mut expected = vm_with(template_spec, json!("not a list"));
        expected["spec"]["template"]["spec"]["volumes"][0]["emptyDisk"]["capacity"] = json!("1536Mi");
        assert_eq!(vm, expected);
        // Not an object at all: nothing to do, nothing fails.
        let mut scalar = json!(3);
        canonicalize(&mut scalar);
        assert_eq!(scalar, json!(3));
    }
}
