//! Governance rules a cluster admin can add on top of KubeVirt's own checks: require an
//! instancetype, allow-list instancetypes and preferences, forbid inline CPU/memory on VMs that
//! use no instancetype. Every rejection names the rule and the field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::cause::Cause;
use crate::engine::find::{self, Matcher, MatcherRole};
use crate::engine::json::{self, ShapeError};
use crate::engine::lookup::ResourceKind;
use crate::engine::vm_quantities;

/// One allow-list entry: a kind (`VirtualMachineClusterInstancetype`, ..., case-insensitive,
/// singular or plural; empty = any kind of the role) and a name pattern (`*` and `?` wildcards).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameRule {
    /// Kind the rule applies to (empty = any).
    #[serde(default)]
    pub kind: String,
    /// Name pattern, e.g. `u1.*`.
    pub name: String,
}

/// The governance rules (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GovernanceRules {
    /// Every VM must reference an instancetype.
    pub require_instancetype: bool,
    /// When non-empty, a VM's instancetype must match one entry.
    pub allowed_instancetypes: Vec<NameRule>,
    /// When non-empty, a VM's preference must match one entry.
    pub allowed_preferences: Vec<NameRule>,
    /// A VM without an instancetype may not size itself inline (CPU topology, CPU/memory
    /// requests and limits, guest memory).
    pub forbid_inline_resources_without_instancetype: bool,
}

/// `FieldValueForbidden`, the reason of governance rejections.
pub const FIELD_VALUE_FORBIDDEN: &str = "FieldValueForbidden";

impl GovernanceRules {
    /// Checks an allow-list entry's kind and pattern; `Err` names the problem.
    pub fn validate(&self) -> Result<(), String> {
        for (setting, role, rules) in [
            (
                "allowedInstancetypes",
                MatcherRole::Instancetype,
                &self.allowed_instancetypes,
            ),
            ("allowedPreferences", MatcherRole::Preference, &self.allowed_preferences),
        ] {
            for (index, rule) in rules.iter().enumerate() {
                if rule.name.is_empty() {
                    return Err(format!("{setting}[{index}].name must not be empty"));
                }
                if !rule.kind.is_empty() && find::resolve_kind(role, &rule.kind, false).is_err() {
                    let article = match role {
                        MatcherRole::Instancetype => "an",
                        MatcherRole::Preference => "a",
                    };
                    return Err(format!(
                        "{setting}[{index}].kind {:?} is not {article} {} kind",
                        rule.kind,
                        role.spec_key()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rule violations of `vm` (matchers already inferred), in rule order.
    pub fn check(&self, vm: &Value) -> Result<Vec<Cause>, ShapeError> {
        self.check_changed(vm, &|_| true)
    }

    /// The rule violations an UPDATE introduces: those of [`GovernanceRules::check`] on `vm` (the new
    /// VM, matchers already inferred) about something the update changes between `old_vm` and
    /// `new_vm` (both as requested, before inference). A matcher rule (`requireInstancetype`, the
    /// allow-lists) counts when the update changes that role's matcher; an inline sizing field, when
    /// it changes that field or the instancetype matcher. What the old VM already had is left alone:
    /// a VM admitted before a rule was added, or expanded by the policy (its sizing inline, its
    /// matchers gone), takes its finalizers, labels and start/stop updates.
    pub fn check_update(&self, vm: &Value, new_vm: &Value, old_vm: &Value) -> Result<Vec<Cause>, ShapeError> {
        let instancetype_changed =
            matcher_changed(new_vm, old_vm, "instancetype") || matcher_changed(new_vm, old_vm, "flavor");
        self.check_changed(vm, &|topic| match topic {
            Topic::Matcher(MatcherRole::Instancetype) => instancetype_changed,
            Topic::Matcher(MatcherRole::Preference) => matcher_changed(new_vm, old_vm, "preference"),
            Topic::Field(path) => {
                instancetype_changed || !same_size(json::get_path(new_vm, path), json::get_path(old_vm, path))
            }
        })
    }

    /// The violations of `vm` about the topics `counts` accepts.
    fn check_changed(&self, vm: &Value, counts: &dyn Fn(Topic<'_>) -> bool) -> Result<Vec<Cause>, ShapeError> {
        let mut causes = Vec::new();
        let instancetype = find::read_matcher(vm, MatcherRole::Instancetype)?;
        let preference = find::read_matcher(vm, MatcherRole::Preference)?;
        if self.require_instancetype && instancetype.is_none() && counts(Topic::Matcher(MatcherRole::Instancetype)) {
            causes.push(Cause::new(
                FIELD_VALUE_FORBIDDEN,
                "the VirtualMachine must reference an instancetype (rule requireInstancetype)",
                "spec.instancetype",
            ));
        }
        let legacy = find::uses_legacy_flavor(vm);
        for (setting, role, matcher, rules) in [
            (
                "allowedInstancetypes",
                MatcherRole::Instancetype,
                &instancetype,
                &self.allowed_instancetypes,
            ),
            (
                "allowedPreferences",
                MatcherRole::Preference,
                &preference,
                &self.allowed_preferences,
            ),
        ] {
            let Some(matcher) = matcher
                .as_ref()
                .filter(|_| !rules.is_empty() && counts(Topic::Matcher(role)))
            else {
                continue;
            };
            if !is_allowed(role, matcher, rules, legacy) {
                let key = if matcher.legacy_flavor {
                    "flavor"
                } else {
                    role.spec_key()
                };
                let kind = find::resolve_kind(role, &matcher.kind, legacy)
                    .map(ResourceKind::kind)
                    .unwrap_or("unknown kind");
                causes.push(Cause::new(
                    FIELD_VALUE_FORBIDDEN,
                    format!("{kind} {:?} is not allowed (rule {setting})", matcher.name),
                    format!("spec.{key}.name"),
                ));
            }
        }
        if self.forbid_inline_resources_without_instancetype && instancetype.is_none() {
            for path in inline_resource_fields(vm) {
                if !counts(Topic::Field(&path)) {
                    continue;
                }
                let field = path.join(".");
                causes.push(Cause::new(
                    FIELD_VALUE_FORBIDDEN,
                    format!(
                        "{field} may not be set on a VirtualMachine without an instancetype (rule forbidInlineResourcesWithoutInstancetype)"
                    ),
                    field,
                ));
            }
        }
        Ok(causes)
    }
}

fn is_allowed(role: MatcherRole, matcher: &Matcher, rules: &[NameRule], legacy: bool) -> bool {
    let Ok(kind) = find::resolve_kind(role, &matcher.kind, legacy) else {
        return false;
    };
    rules.iter().any(|rule| {
        let kind_matches =
            rule.kind.is_empty() || find::resolve_kind(role, &rule.kind, legacy).is_ok_and(|allowed| allowed == kind);
        kind_matches && wildcard_match(&rule.name, &matcher.name)
    })
}

/// Whether an UPDATE changes what the matcher `spec.<key>` names: its `name` or `kind` (not the
/// `revisionName` KubeVirt's controller may write). A matcher inferring from a volume counts as
/// changed, as what it names is read anew from the volume.
fn matcher_changed(new_vm: &Value, old_vm: &Value, key: &str) -> bool {
    let field = |vm, field| json::get_path(vm, &["spec", key, field]);
    field(new_vm, "inferFromVolume").is_some()
        || ["name", "kind"]
            .into_iter()
            .any(|name| field(new_vm, name) != field(old_vm, name))
}

/// Whether two values of an inline sizing field are the same size: equal, or quantities of equal
/// value (`2Gi` and `2048Mi`).
fn same_size(new: Option<&Value>, old: Option<&Value>) -> bool {
    new == old
        || new
            .zip(old)
            .and_then(|(new, old)| Some(vm_quantities::canonical_text(new)? == vm_quantities::canonical_text(old)?))
            .unwrap_or(false)
}

/// What a rule violation is about, to tell whether an UPDATE changes it.
#[derive(Clone, Copy)]
enum Topic<'a> {
    /// The matcher of a role (`spec.instancetype` or the legacy `spec.flavor`; `spec.preference`).
    Matcher(MatcherRole),
    /// An inline sizing field, by its path in the VM.
    Field(&'a [&'static str]),
}

/// The VM's domain.
const DOMAIN: [&str; 4] = ["spec", "template", "spec", "domain"];

/// The inline sizing fields, below the domain; CPU topology counts only when not Go's zero.
const INLINE_FIELDS: [(&[&str], bool); 8] = [
    (&["cpu", "sockets"], true),
    (&["cpu", "cores"], true),
    (&["cpu", "threads"], true),
    (&["memory", "guest"], false),
    (&["resources", "requests", "cpu"], false),
    (&["resources", "requests", "memory"], false),
    (&["resources", "limits", "cpu"], false),
    (&["resources", "limits", "memory"], false),
];

/// The inline sizing fields a VM sets, as paths in the VM, in the order of the rule's causes.
fn inline_resource_fields(vm: &Value) -> Vec<Vec<&'static str>> {
    let Some(domain) = json::get_path(vm, &DOMAIN) else {
        return Vec::new();
    };
    INLINE_FIELDS
        .iter()
        .filter(|(path, nonzero)| json::get_path(domain, path).is_some_and(|v| !nonzero || !json::is_go_zero(v)))
        .map(|(path, _)| DOMAIN.iter().chain(path.iter()).copied().collect())
        .collect()
}

/// Glob matching with `*` (any run) and `?` (one character), over characters, iteratively.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(c) if *c == '?' || Some(c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    n = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_match_like_shell_globs() {
        assert!(wildcard_match("u1.*", "u1.medium"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("?1.m*m", "u1.medium"));
        assert!(!wildcard_match("u1.*", "cx1.medium"));
        assert!(!wildcard_match("u1.?", "u1.xx"));
        assert!(wildcard_match("*.*large", "cx1.2xlarge"));
    }

    #[test]
    fn allow_list_checks_kind_and_name() {
        let rules = GovernanceRules {
            allowed_instancetypes: vec![NameRule {
                kind: "VirtualMachineClusterInstancetype".into(),
                name: "u1.*".into(),
            }],
            ..Default::default()
        };
        let vm = |name: &str, kind: &str| json!({"spec": {"instancetype": {"name": name, "kind": kind}}});
        assert!(rules.check(&vm("u1.small", "")).unwrap().is_empty());
        assert!(
            rules
                .check(&vm("u1.small", "virtualmachineclusterinstancetypes"))
                .unwrap()
                .is_empty()
        );
        let causes = rules.check(&vm("u1.small", "VirtualMachineInstancetype")).unwrap();
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].message,
            "VirtualMachineInstancetype \"u1.small\" is not allowed (rule allowedInstancetypes)"
        );
        assert_eq!(causes[0].field, "spec.instancetype.name");
    }

    #[test]
    fn require_instancetype_and_inline_resources() {
        let rules = GovernanceRules {
            require_instancetype: true,
            forbid_inline_resources_without_instancetype: true,
            ..Default::default()
        };
        let vm = json!({"spec": {"template": {"spec": {"domain": {"cpu": {"sockets": 2}, "resources": {"requests": {"memory": "1Gi"}}}}}}});
        let fields: Vec<String> = rules.check(&vm).unwrap().into_iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                "spec.instancetype",
                "spec.template.spec.domain.cpu.sockets",
                "spec.template.spec.domain.resources.requests.memory"
            ]
        );
    }

    #[test]
    fn updates_are_judged_on_what_they_change() {
        let rules = GovernanceRules {
            require_instancetype: true,
            allowed_instancetypes: vec![NameRule {
                kind: String::new(),
                name: "u1.*".into(),
            }],
            allowed_preferences: vec![NameRule {
                kind: String::new(),
                name: "fedora".into(),
            }],
            forbid_inline_resources_without_instancetype: true,
        };
        let fields = |new: &Value, old: &Value| -> Vec<String> {
            let causes = rules.check_update(new, new, old).unwrap();
            causes.into_iter().map(|c| c.field).collect()
        };
        let sized = |sockets: u32| {
            json!({"spec": {"template": {"spec": {"domain": {
                "cpu": {"sockets": sockets}, "memory": {"guest": "1Gi"}
            }}}}})
        };
        // Violations the old VM already had are left alone; a changed field is judged.
        assert!(fields(&sized(2), &sized(2)).is_empty());
        assert_eq!(fields(&sized(4), &sized(2)), ["spec.template.spec.domain.cpu.sockets"]);
        // Removing the instancetype judges every rule about it, inline fields included.
        let mut with_instancetype = sized(2);
        with_instancetype["spec"]["instancetype"] = json!({"name": "u1.medium"});
        assert_eq!(
            fields(&sized(2), &with_instancetype),
            [
                "spec.instancetype",
                "spec.template.spec.domain.cpu.sockets",
                "spec.template.spec.domain.memory.guest"
            ]
        );
        // An allow-list tightened after the fact: kept names pass, a new name is judged.
        let named = |instancetype: &str, preference: &str| json!({"spec": {"instancetype": {"name": instancetype}, "preference": {"name": preference}}});
        assert!(fields(&named("cx1.large", "rhel.9"), &named("cx1.large", "rhel.9")).is_empty());
        assert_eq!(
            fields(&named("cx1.xlarge", "rhel.9"), &named("cx1.large", "rhel.9")),
            ["spec.instancetype.name"]
        );
        assert_eq!(
            fields(&named("cx1.large", "rhel.10"), &named("cx1.large", "rhel.9")),
            ["spec.preference.name"]
        );
        // On CREATE everything counts.
        assert_eq!(rules.check(&named("cx1.large", "rhel.9")).unwrap().len(), 2);
        // A revisionName written by KubeVirt's controller changes nothing the rules are about.
        let mut pinned = named("cx1.large", "rhel.9");
        pinned["spec"]["instancetype"]["revisionName"] = json!("vm-cx1.large-1");
        assert!(fields(&pinned, &named("cx1.large", "rhel.9")).is_empty());
        // The legacy spec.flavor is the instancetype matcher.
        let flavor = |name: &str| json!({"spec": {"flavor": {"name": name}, "preference": {"name": "fedora"}}});
        assert!(fields(&flavor("cx1.large"), &flavor("cx1.large")).is_empty());
        assert_eq!(
            fields(&flavor("cx1.xlarge"), &flavor("cx1.large")),
            ["spec.flavor.name"]
        );
        // A matcher inferring from a volume is judged anew: the volume may now name another object.
        let inferring = json!({"spec": {"instancetype": {"inferFromVolume": "root"}}});
        let inferred = json!({"spec": {"instancetype": {"name": "cx1.large", "inferFromVolume": "root"}}});
        assert_eq!(fields(&inferred, &inferring), ["spec.instancetype.name"]);
        // The same size written another way is no change.
        let memory = |guest: &str| json!({"spec": {"template": {"spec": {"domain": {"memory": {"guest": guest}}}}}});
        assert!(fields(&memory("2048Mi"), &memory("2Gi")).is_empty());
        assert_eq!(
            fields(&memory("3Gi"), &memory("2Gi")),
            ["spec.template.spec.domain.memory.guest"]
        );
    }

    #[test]
    fn invalid_rules_are_reported_by_setting_name() {
        let rules = GovernanceRules {
            allowed_preferences: vec![NameRule {
                kind: "Pod".into(),
                name: "x".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            rules.validate(),
            Err("allowedPreferences[0].kind \"Pod\" is not a preference kind".into())
        );
    }
}
