//! `policy-metadata.yml` (what `kwctl annotate` embeds) and `artifacthub-pkg.yml` (what Artifact Hub shows)
//! describe the same policy: same rules, mutation, context-aware resources, version (the crate's), names.

// test helpers outside `#[test]` functions: failing loudly is the point
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn metadata() -> Value {
    yaml("policy-metadata.yml")
}

fn artifacthub() -> Value {
    yaml("artifacthub-pkg.yml")
}

fn str_at<'v>(value: &'v Value, key: &str) -> &'v str {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn annotation<'v>(document: &'v Value, key: &str) -> &'v str {
    str_at(&document["annotations"], key)
}

/// A YAML document held in an Artifact Hub annotation string.
fn embedded(document: &Value, key: &str) -> Value {
    serde_yaml::from_str(annotation(document, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The `[package]` version of the policy crate (the workspace root Cargo.toml).
fn crate_version() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let package = text.split("\n[").next().unwrap();
    package
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .expect("version in [package]")
}

fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn rules_agree() {
    let rules = metadata()["rules"].clone();
    assert_eq!(embedded(&artifacthub(), "kubewarden/rules"), rules);
    // VMs and the instancetype/preference kinds, CREATE and UPDATE only.
    let resources: BTreeSet<&str> = rules
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|rule| {
            rule["resources"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
        })
        .collect();
    for resource in [
        "virtualmachines",
        "virtualmachineinstancetypes",
        "virtualmachineclusterinstancetypes",
        "virtualmachinepreferences",
        "virtualmachineclusterpreferences",
    ] {
        assert!(resources.contains(resource), "{resource} missing from the rules");
    }
    // The annotation listing the reviewed kinds names every kind of the rules (plural, lower case).
    let annotated: BTreeSet<String> = comma_list(annotation(&metadata(), "io.artifacthub.resources"))
        .into_iter()
        .map(|kind| format!("{}s", kind.to_lowercase()))
        .collect();
    for resource in &resources {
        assert!(
            annotated.contains(*resource),
            "{resource} missing from io.artifacthub.resources"
        );
    }
    for rule in rules.as_sequence().unwrap() {
        assert_eq!(
            rule["operations"],
            serde_yaml::from_str::<Value>("[CREATE, UPDATE]").unwrap()
        );
    }
}

#[test]
fn mutation_agrees() {
    assert_eq!(metadata()["mutating"], Value::Bool(true));
    assert_eq!(annotation(&artifacthub(), "kubewarden/mutation"), "true");
}

#[test]
fn context_aware_resources_agree() {
    let from_metadata: BTreeSet<(String, String)> = metadata()["contextAwareResources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| (str_at(r, "apiVersion").to_owned(), str_at(r, "kind").to_owned()))
        .collect();
    let from_artifacthub: BTreeSet<(String, String)> = embedded(&artifacthub(), "kubewarden/contextAwareResources")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| (str_at(r, "apiVersion").to_owned(), str_at(r, "kind").to_owned()))
        .collect();
    assert_eq!(from_metadata, from_artifacthub);
    assert_eq!(from_metadata.len(), 13, "{from_metadata:#?}");
}

#[test]
fn versions_are_the_crate_version() {
    let version = crate_version();
    let artifacthub = artifacthub();
    assert_eq!(str_at(&artifacthub, "version"), version);
    assert_eq!(annotation(&metadata(), "io.kubewarden.policy.version"), version);
    let tag = format!(":v{version}");
    let image = str_at(&artifacthub["containersImages"][0], "image");
    assert!(image.ends_with(&tag), "{image}");
    assert_eq!(
        image.strip_suffix(&tag),
        Some(annotation(&metadata(), "io.kubewarden.policy.ociUrl"))
    );
    for link in artifacthub["links"].as_sequence().unwrap() {
        let url = str_at(link, "url");
        if str_at(link, "name") == "policy" {
            assert!(url.contains(&format!("/v{version}/")), "{url}");
        }
    }
    assert!(str_at(&artifacthub, "install").contains(&format!(":v{version}")));
}

#[test]
fn descriptions_agree() {
    let metadata = metadata();
    let artifacthub = artifacthub();
    assert_eq!(
        str_at(&artifacthub, "displayName"),
        annotation(&metadata, "io.artifacthub.displayName")
    );
    assert_eq!(
        str_at(&artifacthub, "name"),
        annotation(&metadata, "io.kubewarden.policy.title")
    );
    assert_eq!(
        str_at(&artifacthub, "description"),
        annotation(&metadata, "io.kubewarden.policy.description")
    );
    assert_eq!(
        str_at(&artifacthub, "license"),
        annotation(&metadata, "io.kubewarden.policy.license")
    );
    assert_eq!(
        str_at(&artifacthub, "homeURL"),
        annotation(&metadata, "io.kubewarden.policy.url")
    );
    let keywords: Vec<String> = artifacthub["keywords"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keywords, comma_list(annotation(&metadata, "io.artifacthub.keywords")));
    assert_eq!(
        comma_list(annotation(&artifacthub, "kubewarden/resources")),
        comma_list(annotation(&metadata, "io.artifacthub.resources"))
    );
    let author = annotation(&metadata, "io.kubewarden.policy.author");
    let maintainer = &artifacthub["maintainers"][0];
    assert_eq!(
        author,
        format!("{} <{}>", str_at(maintainer, "name"), str_at(maintainer, "email"))
    );
}

#[test]
fn metadata_has_what_kubewarden_expects() {
    let metadata = metadata();
    assert_eq!(str_at(&metadata, "executionMode"), "kubewarden-wapc");
    assert!(metadata["backgroundAudit"].is_bool());
    assert_eq!(
        metadata["hostCapabilities"],
        serde_yaml::from_str::<Value>("[kubernetes/get_resource]").unwrap()
    );
    for key in [
        "io.kubewarden.policy.title",
        "io.kubewarden.policy.version",
        "io.kubewarden.policy.description",
        "io.kubewarden.policy.author",
        "io.kubewarden.policy.url",
        "io.kubewarden.policy.source",
        "io.kubewarden.policy.license",
        "io.kubewarden.policy.usage",
        "io.kubewarden.policy.severity",
        "io.kubewarden.policy.category",
        "io.kubewarden.policy.ociUrl",
        "io.artifacthub.displayName",
        "io.artifacthub.resources",
        "io.artifacthub.keywords",
    ] {
        assert!(!annotation(&metadata, key).trim().is_empty(), "{key} is empty");
    }
    // `Name <email>`
    let author = annotation(&metadata, "io.kubewarden.policy.author");
    let (name, email) = author.split_once(" <").expect("Name <email>");
    assert!(
        !name.is_empty() && email.ends_with('>') && email.contains('@'),
        "{author}"
    );
    // semver
    let version = annotation(&metadata, "io.kubewarden.policy.version");
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(parts.len(), 3, "{version}");
    assert!(parts.iter().all(|p| p.parse::<u64>().is_ok()), "{version}");
}

#[test]
fn artifacthub_package_has_the_scaffold_keys() {
    let artifacthub = artifacthub();
    for key in [
        "version",
        "name",
        "displayName",
        "createdAt",
        "description",
        "license",
        "homeURL",
        "containersImages",
        "keywords",
        "links",
        "install",
        "maintainers",
        "provider",
        "recommendations",
        "annotations",
    ] {
        assert!(artifacthub.get(key).is_some(), "artifacthub-pkg.yml lacks {key}");
    }
    for key in [
        "kubewarden/mutation",
        "kubewarden/resources",
        "kubewarden/rules",
        "kubewarden/contextAwareResources",
    ] {
        assert!(!annotation(&artifacthub, key).is_empty(), "{key}");
    }
}
