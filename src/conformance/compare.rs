//! Comparison of this project's conformance results with KubeVirt's reference output, following the
//! rules of the golden data's README:
//!
//! - values are compared as parsed JSON: key order carries no meaning and numbers compare by value;
//! - inside an expanded VirtualMachine (the `expanded` key of a result), the Go side is
//!   `encoding/json` output, so
//!   - a key we write but Go omits is equivalent only when our value is a Go zero value
//!     (`null`, `""`, `0`, `false`): Go drops those from `omitempty` fields;
//!   - a key Go writes but we omit (or write as `null`) is equivalent only when Go's value is `null`, or
//!     an empty object at one of the non-pointer struct paths Go always writes ([`ALWAYS_PRESENT_STRUCTS`]);
//!     any other present `{}` means something (`disk: {}`, `bridge: {}`, `rng: {}`) and must be there;
//! - arrays compare element by element and must have the same length (array elements are never
//!   "absent");
//! - quantities are plain strings here: the engine must write Kubernetes' canonical form itself;
//! - everything else (`id`, `error`, the admission causes) compares exactly, causes in order; the
//!   expected side's `admission.conflicts` and `admission.error` are not part of this project's output
//!   format and are ignored unless our result has them too.

use std::fmt;

use serde_json::{Map, Number, Value};

/// Non-pointer struct fields of a VirtualMachine that Go's `encoding/json` writes even when empty,
/// as paths from the VirtualMachine's root. Omitting one of them when it is `{}` changes nothing.
/// (`features.acpi` is written whenever `features` exists; it is only ever reached inside `features`.)
pub const ALWAYS_PRESENT_STRUCTS: &[&[&str]] = &[
    &["metadata"],
    &["status"],
    &["spec", "template", "metadata"],
    &["spec", "template", "spec", "domain", "resources"],
    &["spec", "template", "spec", "domain", "devices"],
    &["spec", "template", "spec", "domain", "features", "acpi"],
];

/// Keys of the expected side's `admission` object that are not part of this project's output format:
/// ignored when our `admission` does not have them.
pub const IGNORED_EXPECTED_ADMISSION_KEYS: &[&str] = &["conflicts", "error"];

/// The longest rendering of one value in a [`Difference`]'s `Display`, in characters.
const DISPLAY_LIMIT: usize = 240;

/// One real difference between the expected (KubeVirt) and the actual (this project's) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where: a JSON pointer (RFC 6901) from the root of the compared documents (`""` is the root).
    pub path: String,
    /// The value on the expected side; `None` when the key or element is absent there.
    pub expected: Option<Value>,
    /// The value on our side; `None` when the key or element is absent there.
    pub actual: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            self.path.as_str()
        };
        write!(
            f,
            "{path}: expected {}, got {}",
            render(self.expected.as_ref()),
            render(self.actual.as_ref())
        )
    }
}

/// A value as compact JSON, shortened for display; `(absent)` for a missing one.
fn render(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    let length = text.chars().count();
    if length <= DISPLAY_LIMIT {
        text
    } else {
        let shown: String = text.chars().take(DISPLAY_LIMIT).collect();
        format!("{shown}… ({length} characters)")
    }
}

/// Compares one result line (`{"id", "expanded", "error", "admission"}`) with the expected line for
/// the same case. `expanded` is compared with the VirtualMachine rules ([`compare_vm`]); everything else
/// exactly ([`compare_exact`]), except that the expected `admission.conflicts` and `admission.error`
/// are skipped when our `admission` lacks them. Returns no differences when the two are equivalent.
pub fn compare_results(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut walker = Walker::default();
    let (Value::Object(expected_fields), Value::Object(actual_fields)) = (expected, actual) else {
        walker.walk(Mode::Exact, "", &mut Vec::new(), expected, actual);
        return walker.differences;
    };
    for (key, expected_value, actual_value) in union(expected_fields, actual_fields) {
        let pointer = format!("/{}", escape(key));
        match (key, expected_value, actual_value) {
            ("expanded", Some(expected_vm), Some(actual_vm)) => {
                walker.walk(Mode::Vm, &pointer, &mut Vec::new(), expected_vm, actual_vm);
            }
            ("admission", Some(Value::Object(expected_admission)), Some(Value::Object(actual_admission))) => {
                for (inner, expected_inner, actual_inner) in union(expected_admission, actual_admission) {
                    let inner_pointer = format!("{pointer}/{}", escape(inner));
                    match (expected_inner, actual_inner) {
                        (Some(_), None) if IGNORED_EXPECTED_ADMISSION_KEYS.contains(&inner) => {}
                        (Some(e), Some(a)) => walker.walk(Mode::Exact, &inner_pointer, &mut Vec::new(), e, a),
                        (e, a) => walker.push(inner_pointer, e, a),
                    }
                }
            }
            (_, Some(e), Some(a)) => walker.walk(Mode::Exact, &pointer, &mut Vec::new(), e, a),
            (_, e, a) => walker.push(pointer, e, a),
        }
    }
    walker.differences
}

/// Compares two VirtualMachines (or any two values) with the Go `encoding/json` equivalence rules
/// described in the module documentation; paths in the result are JSON pointers from the VM's root.
pub fn compare_vm(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut walker = Walker::default();
    walker.walk(Mode::Vm, "", &mut Vec::new(), expected, actual);
    walker.differences
}

/// Compares two values exactly, as parsed JSON: same keys, same array lengths, equal scalars (numbers
/// by value), key order ignored.
pub fn compare_exact(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut walker = Walker::default();
    walker.walk(Mode::Exact, "", &mut Vec::new(), expected, actual);
    walker.differences
}

/// Which equivalence rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Go `encoding/json` rules for a VirtualMachine.
    Vm,
    /// Plain JSON equality.
    Exact,
}

/// Collects differences while walking two documents side by side.
#[derive(Debug, Default)]
struct Walker {
    differences: Vec<Difference>,
}

impl Walker {
    fn push(&mut self, path: String, expected: Option<&Value>, actual: Option<&Value>) {
        self.differences.push(Difference {
            path,
            expected: expected.cloned(),
            actual: actual.cloned(),
        });
    }

    /// Compares `expected` with `actual`, found at `base` + `path` (`path` being relative to the root
    /// the mode's rules are written for).
    fn walk(&mut self, mode: Mode, base: &str, path: &mut Vec<String>, expected: &Value, actual: &Value) {
        match (expected, actual) {
            (Value::Object(expected_fields), Value::Object(actual_fields)) => {
                for (key, expected_value, actual_value) in union(expected_fields, actual_fields) {
                    path.push(key.to_owned());
                    self.walk_field(mode, base, path, expected_value, actual_value);
                    path.pop();
                }
            }
            (Value::Array(expected_items), Value::Array(actual_items)) => {
                let longest = expected_items.len().max(actual_items.len());
                for index in 0..longest {
                    path.push(index.to_string());
                    match (expected_items.get(index), actual_items.get(index)) {
                        (Some(e), Some(a)) => self.walk(mode, base, path, e, a),
                        (e, a) => self.push(pointer(base, path), e, a),
                    }
                    path.pop();
                }
            }
            (Value::Number(e), Value::Number(a)) => {
                if !numbers_equal(e, a) {
                    self.push(pointer(base, path), Some(expected), Some(actual));
                }
            }
            _ => {
                if expected != actual {
                    self.push(pointer(base, path), Some(expected), Some(actual));
                }
            }
        }
    }

    /// Compares one object member, present on either side or both.
    fn walk_field(
        &mut self,
        mode: Mode,
        base: &str,
        path: &mut Vec<String>,
        expected: Option<&Value>,
        actual: Option<&Value>,
    ) {
        if mode == Mode::Exact {
            match (expected, actual) {
                (Some(e), Some(a)) => self.walk(mode, base, path, e, a),
                (e, a) => self.push(pointer(base, path), e, a),
            }
            return;
        }
        // Our `null` means what Go's absence means: decoding either leaves the field at its zero value.
        let actual = actual.filter(|value| !value.is_null());
        match (expected, actual) {
            (Some(e), Some(a)) => self.walk(mode, base, path, e, a),
            (None, Some(a)) if is_go_zero(a) => {}
            (Some(Value::Null) | None, None) => {}
            (Some(e @ Value::Object(_)), None) if is_always_present_struct(path) => {
                self.walk(mode, base, path, e, &Value::Object(Map::new()));
            }
            (e, a) => self.push(pointer(base, path), e, a),
        }
    }
}

/// The members of two objects: every expected key in its order, then the keys only `actual` has.
fn union<'a>(
    expected: &'a Map<String, Value>,
    actual: &'a Map<String, Value>,
) -> Vec<(&'a str, Option<&'a Value>, Option<&'a Value>)> {
    let mut members: Vec<_> = expected
        .iter()
        .map(|(key, value)| (key.as_str(), Some(value), actual.get(key)))
        .collect();
    members.extend(
        actual
            .iter()
            .filter(|(key, _)| !expected.contains_key(*key))
            .map(|(key, value)| (key.as_str(), None, Some(value))),
    );
    members
}

/// Whether `value` is one that Go's `omitempty` leaves out: `null`, `""`, `0` or `false`.
fn is_go_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::String(text) => text.is_empty(),
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Whether the member at `path` (from the VM's root) is a non-pointer struct Go always writes.
fn is_always_present_struct(path: &[String]) -> bool {
    ALWAYS_PRESENT_STRUCTS
        .iter()
        .any(|candidate| candidate.len() == path.len() && candidate.iter().zip(path).all(|(want, have)| *want == have))
}

/// Numbers compare by value: exactly as integers when both are, otherwise as binary64.
fn numbers_equal(expected: &Number, actual: &Number) -> bool {
    if let (Some(e), Some(a)) = (expected.as_i64(), actual.as_i64()) {
        return e == a;
    }
    if let (Some(e), Some(a)) = (expected.as_u64(), actual.as_u64()) {
        return e == a;
    }
    match (expected.as_f64(), actual.as_f64()) {
        (Some(e), Some(a)) => e == a,
        _ => false,
    }
}

/// The JSON pointer of `path` below the pointer `base`.
fn pointer(base: &str, path: &[String]) -> String {
    let mut out = base.to_owned();
    for segment in path {
        out.push('/');
        out.push_str(&escape(segment));
    }
    out
}

/// One JSON pointer reference token (`~` → `~0`, `/` → `~1`).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(differences: &[Difference]) -> Vec<&str> {
        differences.iter().map(|difference| difference.path.as_str()).collect()
    }

    fn result(expanded: Value) -> Value {
        json!({"id": "x", "expanded": expanded, "error": null,
               "admission": {"applyCauses": null, "requirementsCause": null}})
    }

    #[test]
    fn identical_documents_have_no_difference() {
        let vm = json!({"metadata": {"name": "a"}, "spec": {"template": {"spec": {"domain": {"cpu": {"cores": 1}}}}}});
        assert!(compare_vm(&vm, &vm).is_empty());
        assert!(compare_results(&result(vm.clone()), &result(vm)).is_empty());
    }

    #[test]
    fn key_order_is_ignored() {
        let expected: Value = serde_json::from_str(r#"{"a": 1, "b": {"c": "x", "d": true}}"#).unwrap();
        let actual: Value = serde_json::from_str(r#"{"b": {"d": true, "c": "x"}, "a": 1}"#).unwrap();
        assert!(compare_vm(&expected, &actual).is_empty());
        assert!(compare_exact(&expected, &actual).is_empty());
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(compare_exact(&json!({"n": 1}), &json!({"n": 1.0})).is_empty());
        assert!(compare_exact(&json!({"n": -3}), &json!({"n": -3})).is_empty());
        let differences = compare_exact(&json!({"n": 1}), &json!({"n": 2}));
        assert_eq!(paths(&differences), ["/n"]);
    }

    #[test]
    fn different_scalar_is_reported_with_both_values() {
        let differences = compare_vm(
            &json!({"spec": {"runStrategy": "Halted"}}),
            &json!({"spec": {"runStrategy": "Always"}}),
        );
        assert_eq!(
            differences,
            [Difference {
                path: "/spec/runStrategy".into(),
                expected: Some(json!("Halted")),
                actual: Some(json!("Always"))
            }]
        );
    }

    #[test]
    fn type_mismatch_is_a_difference() {
        assert_eq!(paths(&compare_vm(&json!({"a": {"b": 1}}), &json!({"a": [1]}))), ["/a"]);
        assert_eq!(paths(&compare_vm(&json!({"a": "1"}), &json!({"a": 1}))), ["/a"]);
    }

    #[test]
    fn our_go_zero_value_where_go_omits_is_equivalent() {
        let expected = json!({"cpu": {"cores": 2}});
        let actual = json!({"cpu": {"cores": 2, "sockets": 0, "model": "", "dedicatedCpuPlacement": false, "numa": null, "f": 0.0}});
        assert!(compare_vm(&expected, &actual).is_empty());
    }

    #[test]
    fn our_non_zero_value_where_go_omits_is_a_difference() {
        for extra in [json!(1), json!("x"), json!(true), json!({}), json!([]), json!({"a": 0})] {
            let differences = compare_vm(&json!({"cpu": {}}), &json!({"cpu": {"extra": extra}}));
            assert_eq!(
                differences,
                [Difference {
                    path: "/cpu/extra".into(),
                    expected: None,
                    actual: Some(extra.clone())
                }],
                "{extra}"
            );
        }
    }

    #[test]
    fn go_null_where_we_omit_is_equivalent() {
        assert!(
            compare_vm(
                &json!({"metadata": {"creationTimestamp": null}}),
                &json!({"metadata": {}})
            )
            .is_empty()
        );
    }

    #[test]
    fn go_value_where_we_omit_is_a_difference() {
        let differences = compare_vm(&json!({"spec": {"runStrategy": "Halted"}}), &json!({"spec": {}}));
        assert_eq!(
            differences,
            [Difference {
                path: "/spec/runStrategy".into(),
                expected: Some(json!("Halted")),
                actual: None
            }]
        );
        // Go zero values it writes (non-omitempty fields) must be there too.
        assert_eq!(paths(&compare_vm(&json!({"a": 0}), &json!({}))), ["/a"]);
    }

    #[test]
    fn always_present_empty_structs_may_be_omitted() {
        let expected = json!({
            "metadata": {},
            "spec": {"template": {"metadata": {}, "spec": {"domain": {
                "resources": {}, "devices": {}, "features": {"acpi": {}, "smm": {}}}}}},
            "status": {}
        });
        let actual = json!({"spec": {"template": {"spec": {"domain": {"features": {"smm": {}}}}}}});
        assert_eq!(compare_vm(&expected, &actual), []);
        // ... and written as null.
        let actual_nulls = json!({"metadata": null, "status": null,
            "spec": {"template": {"spec": {"domain": {"resources": null, "features": {"smm": {}}}}}}});
        assert_eq!(compare_vm(&expected, &actual_nulls), []);
    }

    #[test]
    fn omitted_always_present_struct_with_content_reports_its_content() {
        let expected = json!({"metadata": {"name": "vm", "labels": null}});
        let differences = compare_vm(&expected, &json!({}));
        assert_eq!(
            differences,
            [Difference {
                path: "/metadata/name".into(),
                expected: Some(json!("vm")),
                actual: None
            }]
        );
    }

    #[test]
    fn other_empty_objects_are_never_absent() {
        for (expected, actual, path) in [
            (json!({"disk": {}}), json!({}), "/disk"),
            (json!({"bridge": {}}), json!({"bridge": null}), "/bridge"),
            (json!({"devices": {"rng": {}}}), json!({"devices": {}}), "/devices/rng"),
            // `acpi` is only always present inside `spec.template.spec.domain.features`.
            (
                json!({"features": {"acpi": {}}}),
                json!({"features": {}}),
                "/features/acpi",
            ),
            // `features` itself is a pointer: Go writing it means it is set.
            (
                json!({"spec": {"template": {"spec": {"domain": {"features": {"acpi": {}}}}}}}),
                json!({"spec": {"template": {"spec": {"domain": {}}}}}),
                "/spec/template/spec/domain/features",
            ),
        ] {
            assert_eq!(paths(&compare_vm(&expected, &actual)), [path], "{expected} vs {actual}");
        }
    }

    #[test]
    fn our_empty_object_where_go_omits_is_a_difference() {
        assert_eq!(
            paths(&compare_vm(&json!({}), &json!({"bootloader": {}}))),
            ["/bootloader"]
        );
    }

    #[test]
    fn arrays_compare_element_wise() {
        let expected = json!({"disks": [{"name": "a", "disk": {"bus": "virtio"}}, {"name": "b"}]});
        let actual = json!({"disks": [{"name": "a", "disk": {"bus": "sata"}}, {"name": "b", "serial": ""}]});
        let differences = compare_vm(&expected, &actual);
        assert_eq!(paths(&differences), ["/disks/0/disk/bus"]);
    }

    #[test]
    fn array_lengths_must_match() {
        let differences = compare_vm(&json!({"a": [1, 2]}), &json!({"a": [1]}));
        assert_eq!(
            differences,
            [Difference {
                path: "/a/1".into(),
                expected: Some(json!(2)),
                actual: None
            }]
        );
        let differences = compare_vm(&json!({"a": [1]}), &json!({"a": [1, 0]}));
        assert_eq!(
            differences,
            [Difference {
                path: "/a/1".into(),
                expected: None,
                actual: Some(json!(0))
            }]
        );
        // A null element is an element, not an absence.
        assert_eq!(paths(&compare_vm(&json!({"a": [null]}), &json!({"a": []}))), ["/a/0"]);
    }

    #[test]
    fn quantities_are_compared_as_written() {
        let differences = compare_vm(&json!({"guest": "1536Mi"}), &json!({"guest": "1.5Gi"}));
        assert_eq!(paths(&differences), ["/guest"]);
    }

    #[test]
    fn pointer_escapes_slash_and_tilde() {
        let differences = compare_vm(
            &json!({"annotations": {"vm.kubevirt.io/os": "linux", "a~b": "1"}}),
            &json!({"annotations": {"vm.kubevirt.io/os": "windows", "a~b": "2"}}),
        );
        assert_eq!(
            paths(&differences),
            ["/annotations/vm.kubevirt.io~1os", "/annotations/a~0b"]
        );
    }

    #[test]
    fn results_compare_expanded_with_vm_rules() {
        let expected = result(json!({"metadata": {}, "status": {}, "spec": {"running": true}}));
        let actual = result(json!({"spec": {"running": true, "runStrategy": ""}}));
        assert!(compare_results(&expected, &actual).is_empty());
        let actual = result(json!({"spec": {}}));
        assert_eq!(paths(&compare_results(&expected, &actual)), ["/expanded/spec/running"]);
        let actual = result(json!({"spec": {"running": false}}));
        assert_eq!(paths(&compare_results(&expected, &actual)), ["/expanded/spec/running"]);
    }

    #[test]
    fn results_compare_errors_exactly() {
        let expected = json!({"id": "x", "expanded": null, "error": "boom",
            "admission": {"applyCauses": null, "requirementsCause": null}});
        let mut actual = expected.clone();
        actual["error"] = json!("boom ");
        assert_eq!(paths(&compare_results(&expected, &actual)), ["/error"]);
        // An error where a VM was expected, and the other way round.
        let vm_expected = result(json!({"spec": {}}));
        assert_eq!(
            paths(&compare_results(&vm_expected, &expected)),
            ["/expanded", "/error"]
        );
        // A missing error key is not the same as null outside `expanded`.
        let mut without_error = vm_expected.clone();
        without_error.as_object_mut().unwrap().remove("error");
        assert_eq!(paths(&compare_results(&vm_expected, &without_error)), ["/error"]);
    }

    #[test]
    fn results_compare_causes_exactly_and_in_order() {
        let a = json!({"reason": "FieldValueInvalid", "message": "m1", "field": "f1"});
        let b = json!({"reason": "FieldValueInvalid", "message": "m2", "field": "f2"});
        let expected = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": [a, b], "requirementsCause": null, "conflicts": ["f1", "f2"], "error": null}});
        let same = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": [a, b], "requirementsCause": null}});
        assert!(compare_results(&expected, &same).is_empty());
        let swapped = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": [b, a], "requirementsCause": null}});
        assert_eq!(
            paths(&compare_results(&expected, &swapped)),
            [
                "/admission/applyCauses/0/message",
                "/admission/applyCauses/0/field",
                "/admission/applyCauses/1/message",
                "/admission/applyCauses/1/field"
            ]
        );
        // Go zero-value leniency does not apply to causes.
        let with_zero = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": [a, b], "requirementsCause": {"reason": ""}}});
        assert_eq!(
            paths(&compare_results(&expected, &with_zero)),
            ["/admission/requirementsCause"]
        );
        let empty_list = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": [], "requirementsCause": null}});
        assert_eq!(
            paths(&compare_results(&expected, &empty_list)),
            ["/admission/applyCauses/0", "/admission/applyCauses/1"]
        );
    }

    #[test]
    fn ignored_admission_keys_count_when_we_write_them() {
        let expected = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": null, "requirementsCause": null, "conflicts": ["f"], "error": null}});
        let actual = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": null, "requirementsCause": null, "conflicts": ["g"]}});
        assert_eq!(paths(&compare_results(&expected, &actual)), ["/admission/conflicts/0"]);
        // Other admission keys are never ignored.
        let missing = json!({"id": "x", "expanded": null, "error": null, "admission": {"applyCauses": null}});
        assert_eq!(
            paths(&compare_results(&expected, &missing)),
            ["/admission/requirementsCause"]
        );
        // Keys only we write are differences.
        let extra = json!({"id": "x", "expanded": null, "error": null,
            "admission": {"applyCauses": null, "requirementsCause": null, "other": 1}, "note": "n"});
        assert_eq!(
            paths(&compare_results(&expected, &extra)),
            ["/admission/other", "/note"]
        );
    }

    #[test]
    fn results_compare_ids() {
        let mut other = result(json!({}));
        other["id"] = json!("y");
        assert_eq!(paths(&compare_results(&result(json!({})), &other)), ["/id"]);
    }

    #[test]
    fn display_is_readable_and_bounded() {
        let difference = Difference {
            path: "/a~1b".into(),
            expected: Some(json!({"k": 1})),
            actual: None,
        };
        assert_eq!(difference.to_string(), r#"/a~1b: expected {"k":1}, got (absent)"#);
        let long = Difference {
            path: String::new(),
            expected: Some(json!("x".repeat(1000))),
            actual: Some(json!(1)),
        };
        let text = long.to_string();
        assert!(text.starts_with("(root): expected \"xxx"));
        assert!(text.contains("(1002 characters)"), "{text}");
        assert!(text.ends_with("got 1"));
        assert!(text.chars().count() < 400);
    }
}
