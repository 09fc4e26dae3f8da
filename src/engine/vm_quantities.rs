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
//! - `spec.template.spec.volumes[].emptyDisk.capacity`, `.hostDisk.capacity` and
//!   `.downwardAPI.fields[].resourceFieldRef.divisor`;
//! - `spec.dataVolumeTemplates[].spec.pvc.resources` and `.spec.storage.resources`: `requests.*`, `limits.*`.
//!
//! Go also decodes a `null` *value inside a map* as the value type's zero, not as an absent key:
//! a `null` in one of those `requests`/`limits` lists becomes the quantity `"0"`, and a `null` in a
//! string map of the VM (`metadata.labels` and `.annotations` of the VM, of its template and of its
//! DataVolume templates, and `spec.template.spec.nodeSelector`) becomes `""`. The key is then
//! present for everything the expansion decides (an annotation the VM "has", a memory request that
//! conflicts with an instancetype), as it is in KubeVirt. The admission checks read the VM the same
//! way (`engine::admission::checks_with_specs`).
//!
//! A value that is not a quantity (a text Kubernetes would not parse, an object) is left as it is:
//! rewriting is never a reason to fail. `expand` rewrites every VM it returns, as KubeVirt's `Expand`
//! encodes every VM it returns, with or without matchers; the policy's and the npm module's review
//! rewrite only the VMs they expand (a VM without matchers is admitted untouched).

use serde_json::Value;

use crate::engine::json;
use crate::engine::quantity::Quantity;

/// What a listed field holds.
#[derive(Clone, Copy)]
enum Field {
    /// A string map (`map[string]string`): its `null` values are `""`.
    Strings,
    /// A resource list: its values are quantities, its `null` values `"0"`.
    Quantities,
    /// One quantity (a pointer field in Go: its `null` stays, read as absent).
    Quantity,
}

/// The fields to rewrite, as a tree of member names below the VM (`*`: every element of an array),
/// so that each object on the way is looked up once.
enum Node {
    /// The field itself.
    Leaf(Field),
    /// Members of an object (or, under `*`, of each element of an array).
    Branch(&'static [(&'static str, Node)]),
}

use Node::{Branch, Leaf};

/// `metadata.labels` and `metadata.annotations`.
const METADATA: (&str, Node) = (
    "metadata",
    Branch(&[("labels", Leaf(Field::Strings)), ("annotations", Leaf(Field::Strings))]),
);

/// `resources.requests` and `resources.limits`.
const RESOURCES: (&str, Node) = (
    "resources",
    Branch(&[
        ("requests", Leaf(Field::Quantities)),
        ("limits", Leaf(Field::Quantities)),
    ]),
);

/// Every field of the module documentation.
const VM: Node = Branch(&[
    METADATA,
    (
        "spec",
        Branch(&[
            (
                "template",
                Branch(&[
                    METADATA,
                    (
                        "spec",
                        Branch(&[
                            ("nodeSelector", Leaf(Field::Strings)),
                            (
                                "domain",
                                Branch(&[
                                    RESOURCES,
                                    (
                                        "memory",
                                        Branch(&[
                                            ("guest", Leaf(Field::Quantity)),
                                            ("maxGuest", Leaf(Field::Quantity)),
                                        ]),
                                    ),
                                ]),
                            ),
                            (
                                "volumes",
                                Branch(&[(
                                    "*",
                                    Branch(&[
                                        ("emptyDisk", Branch(&[("capacity", Leaf(Field::Quantity))])),
                                        ("hostDisk", Branch(&[("capacity", Leaf(Field::Quantity))])),
                                        (
                                            "downwardAPI",
                                            Branch(&[(
                                                "fields",
                                                Branch(&[(
                                                    "*",
                                                    Branch(&[(
                                                        "resourceFieldRef",
                                                        Branch(&[("divisor", Leaf(Field::Quantity))]),
                                                    )]),
                                                )]),
                                            )]),
                                        ),
                                    ]),
                                )]),
                            ),
                        ]),
                    ),
                ]),
            ),
            (
                "dataVolumeTemplates",
                Branch(&[(
                    "*",
                    Branch(&[
                        METADATA,
                        (
                            "spec",
                            Branch(&[("pvc", Branch(&[RESOURCES])), ("storage", Branch(&[RESOURCES]))]),
                        ),
                    ]),
                )]),
            ),
        ]),
    ),
]);

/// Rewrites the VM's fields listed in the module documentation as KubeVirt's encoding writes them.
pub fn canonicalize(vm: &mut Value) {
    visit(vm, &VM);
}

/// The fields of `node` in `value`; wrong shapes on the way are left alone.
fn visit(value: &mut Value, node: &Node) {
    match node {
        Leaf(field) => rewrite(value, *field),
        Branch([("*", each)]) => {
            for item in value.as_array_mut().into_iter().flatten() {
                visit(item, each);
            }
        }
        Branch(members) => {
            if let Some(object) = value.as_object_mut() {
                for (key, child) in *members {
                    if let Some(member) = json::find_mut(object, key) {
                        visit(member, child);
                    }
                }
            }
        }
    }
}

fn rewrite(value: &mut Value, field: Field) {
    match field {
        Field::Quantity => canonicalize_value(value),
        Field::Strings => json::null_strings_to_empty(value),
        Field::Quantities => {
            for (_, entry) in value.as_object_mut().into_iter().flatten() {
                if entry.is_null() {
                    // Go's zero `Quantity`, as `Quantity.UnmarshalJSON` reads a `null`.
                    *entry = Value::String("0".to_owned());
                } else {
                    canonicalize_value(entry);
                }
            }
        }
    }
}

/// One quantity, as Kubernetes' `UnmarshalJSON` then `MarshalJSON` turn it: surrounding whitespace
/// trimmed, a number read from its text, the result written as a string.
fn canonicalize_value(value: &mut Value) {
    let Some(written) = canonical_text(value) else {
        return;
    };
    if value.as_str() != Some(written.as_str()) {
        *value = Value::String(written);
    }
}

/// A quantity value (a string, or a JSON number read from its text) as Kubernetes' `MarshalJSON`
/// writes it; `None` for anything that is not a quantity.
pub(crate) fn canonical_text(value: &Value) -> Option<String> {
    let quantity = match value {
        Value::String(text) => Quantity::parse(text.trim()),
        Value::Number(number) => Quantity::parse(&number.to_string()),
        _ => return None,
    };
    quantity.ok().map(|quantity| quantity.to_canonical_string())
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
                    {"name": "c", "containerDisk": {"image": "i:1"}},
                    {"name": "d", "downwardAPI": {"fields": [
                        {"path": "mem", "resourceFieldRef": {"resource": "limits.memory", "divisor": "1024Ki"}},
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
                    ]}}
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
        assert_eq!(
            spec["volumes"][3]["downwardAPI"]["fields"],
            json!([{"path": "mem", "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
                   {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}])
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
