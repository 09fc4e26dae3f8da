//! Governance rules a cluster admin can add on top of KubeVirt's own checks: require an
//! instancetype, allow-list instancetypes and preferences, forbid inline CPU/memory on VMs that
//! use no instancetype. Every rejection names the rule and the field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::cause::Cause;
use crate::engine::find::{self, Matcher, MatcherRole};
use crate::engine::json::{self, ShapeError};
use crate::engine::lookup::ResourceKind;

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
        let mut causes = Vec::new();
        let instancetype = find::read_matcher(vm, MatcherRole::Instancetype)?;
        let preference = find::read_matcher(vm, MatcherRole::Preference)?;
        if self.require_instancetype && instancetype.is_none() {
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
            let Some(matcher) = matcher.as_ref().filter(|_| !rules.is_empty()) else {
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
            for field in inline_resource_fields(vm) {
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

/// The inline sizing fields a VM sets, as dotted paths.
fn inline_resource_fields(vm: &Value) -> Vec<String> {
    let base = "spec.template.spec.domain";
    let Some(domain) = json::get_path(vm, &["spec", "template", "spec", "domain"]) else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    for key in ["sockets", "cores", "threads"] {
        if json::get_path(domain, &["cpu", key]).is_some_and(|v| !json::is_go_zero(v)) {
            fields.push(format!("{base}.cpu.{key}"));
        }
    }
    if json::get_path(domain, &["memory", "guest"]).is_some() {
        fields.push(format!("{base}.memory.guest"));
    }
    for list in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            if json::get_path(domain, &["resources", list, resource]).is_some() {
                fields.push(format!("{base}.resources.{list}.{resource}"));
            }
        }
    }
    fields
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
