//! Expansion and the VM review over golden cases edited structurally (or raw JSON documents
//! `{"vm", "instancetype", "preference"}`): no panic, deterministic, JSON-serializable output,
//! an expanded VM passes a second review unchanged, and the review's one-application shortcut
//! (`expand_checked`) agrees with the checks and the expansion run separately.
#![no_main]

use kubevirt_instancetype::engine::admission::{checks_with_specs, expand_checked, vm_admission_checks};
use kubevirt_instancetype::engine::expand::{expand, expand_with_specs};
use kubevirt_instancetype::engine::find::{find_instancetype, find_preference, vm_namespace};
use kubevirt_instancetype::engine::lookup::InMemorySource;
use kubevirt_instancetype::engine::object_validation::validate_object;
use kubevirt_instancetype::engine::review::{ReviewMode, ReviewOptions, Verdict, review_vm};
use kubevirt_instancetype_fuzz::read_case;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(case) = read_case(data) else { return };
    let vm = case.document.get("vm").cloned().unwrap_or(Value::Null);
    let namespace = match vm_namespace(&vm) {
        "" => "default".to_owned(),
        other => other.to_owned(),
    };
    let mut source = InMemorySource::new();
    for key in ["instancetype", "preference"] {
        if let Some(object) = case.document.get(key) {
            let _ = validate_object(object);
            let _ = source.insert(object.clone(), Some(&namespace));
        }
    }
    let switches = case.switches;
    let mut options = ReviewOptions::default();
    options.mode = if switches & 1 == 0 {
        ReviewMode::Expand
    } else {
        ReviewMode::Validate
    };
    options.vmi_defaults = switches & 2 == 0;
    options.allow_missing_objects = switches & 4 != 0;
    options.allow_cross_namespace_inference = switches & 8 != 0;
    options.cluster.default_network_interface = if switches & 16 == 0 { "bridge" } else { "masquerade" }.to_owned();
    options.cluster.permit_bridge_interface_on_pod_network = switches & 32 == 0;
    options.cluster.default_architecture =
        ["amd64", "arm64", "s390x", "amd64"][(switches >> 6 & 3) as usize].to_owned();

    let review = review_vm(&vm, None, &namespace, &source, &options);
    let again = review_vm(&vm, None, &namespace, &source, &options);
    assert_eq!(review, again, "the review is not deterministic");
    match &review.verdict {
        Verdict::Mutate(expanded) => {
            assert_eq!(options.mode, ReviewMode::Expand, "validate mode mutated");
            assert!(expanded.is_object());
            assert_ne!(expanded, &vm, "a no-op mutation");
            let text = serde_json::to_string(expanded).expect("serializable");
            let reparsed: Value = serde_json::from_str(&text).expect("reparses");
            assert_eq!(&reparsed, expanded);
            // Idempotent: the expanded VM (no matchers left) is admitted as it is.
            let second = review_vm(expanded, None, &namespace, &source, &options);
            assert_eq!(second.verdict, Verdict::Accept, "expanded VM not accepted unchanged");
        }
        Verdict::Reject(rejection) => {
            assert!(!rejection.message.is_empty(), "empty rejection message");
        }
        Verdict::Accept => {}
    }

    let expand_options = options.expand_options();
    let first = expand(&vm, &source, &expand_options);
    let second = expand(&vm, &source, &expand_options);
    assert_eq!(first, second, "expand is not deterministic");
    if let Ok(expanded) = &first {
        let again = expand(expanded, &source, &expand_options).expect("expanding an expanded VM");
        assert_eq!(&again, expanded, "expand is not idempotent");
    }
    let _ = vm_admission_checks(&vm, &source, &expand_options);

    // The shortcut gives a VM exactly when both passes succeed, and then the same VM.
    let found = (
        find_instancetype(&vm, &namespace, &source),
        find_preference(&vm, &namespace, &source),
    );
    if let (Ok(instancetype), Ok(preference)) = found {
        let (instancetype, preference) = (instancetype.as_deref(), preference.as_deref());
        let shortcut = expand_checked(&vm, instancetype, preference, &expand_options);
        let checks = checks_with_specs(&vm, instancetype, preference, &expand_options);
        let two_passes = expand_with_specs(vm.clone(), instancetype, preference, &expand_options);
        match shortcut {
            Some(expanded) => {
                assert!(checks.is_allowed(), "shortcut expanded a VM the checks refuse: {checks:?}");
                assert_eq!(two_passes.as_ref().ok(), Some(&expanded), "shortcut differs from the expansion");
            }
            None => {
                let applies = expand_options.vmi_defaults && (instancetype.is_some() || preference.is_some());
                assert!(
                    !(applies && checks.is_allowed() && two_passes.is_ok()),
                    "both passes succeed but the shortcut gave nothing"
                );
            }
        }
    }
});
