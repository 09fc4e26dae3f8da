//! Hostile and broken input (tests/data/hostile/cases.json), natively: every case through
//! `policy::validate` with a fake Kubewarden host, checked against the outcome the table states
//! (the same table runs through policy.wasm in e2e-tests/tests/hostile.rs and through the npm package
//! in npm/test/hostile.test.mjs). Also: the host calls each case makes, counted and bounded.
//!
//! The table format is described in docs/hardening.md. `HOSTILE_PRINT=1 cargo test --test hostile --
//! --nocapture` prints every outcome as JSON (and how long it took), to review a new case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod hostile_table;

use std::cell::RefCell;
use std::time::Instant;

use hostile_table::{Case, HostAnswer, Outcome, table};
use kubevirt_instancetype::policy::host::{GetResource, Host, HostSource};
use kubevirt_instancetype::policy::validate;

/// A fake Kubewarden host: the case's objects, its scripted answers, and a log of calls.
struct FakeHost<'a> {
    case: &'a Case,
    calls: RefCell<Vec<GetResource>>,
}

impl Host for &FakeHost<'_> {
    fn get_resource(&self, request: &GetResource) -> Result<String, String> {
        self.calls.borrow_mut().push(request.clone());
        match self
            .case
            .answer(&request.kind, request.namespace.as_deref(), &request.name)
        {
            HostAnswer::Object(object) => Ok(object.to_string()),
            HostAnswer::Error(message) => Err(message),
            // The bytes as the host sent them: `HostSource` parses them (see src/policy/guest.rs).
            HostAnswer::Payload(text) => Ok(text),
        }
    }
}

fn run(case: &Case) -> Outcome {
    let host = FakeHost {
        case,
        calls: RefCell::new(Vec::new()),
    };
    let payload = case.payload();
    let started = Instant::now();
    let response = validate(&payload, &HostSource::new(&host));
    let elapsed = started.elapsed();
    let lookups = host.calls.borrow().len();
    Outcome::from_policy_response(&response, &case.request_object(), lookups, elapsed)
}

#[test]
fn hostile_table_natively() {
    let table = table();
    let print = std::env::var_os("HOSTILE_PRINT").is_some();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in table.cases.iter().filter(|case| case.runs_on("native")) {
        ran += 1;
        let outcome = run(case);
        if print {
            println!("{}", outcome.report(&case.name));
        }
        if let Err(problem) = case.check(&outcome, "native") {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    assert!(ran > 100, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The bound on host calls: no case makes more lookups than the request needs, and no object is
/// asked for twice (the table states the exact count of each case; this is the overall bound).
#[test]
fn no_case_needs_more_than_four_lookups() {
    for case in table().cases.iter().filter(|case| case.runs_on("native")) {
        let host = FakeHost {
            case,
            calls: RefCell::new(Vec::new()),
        };
        let _ = validate(&case.payload(), &HostSource::new(&host));
        let calls = host.calls.borrow();
        assert!(calls.len() <= 4, "{}: {} lookups: {calls:#?}", case.name, calls.len());
        for (index, call) in calls.iter().enumerate() {
            assert!(!calls[..index].contains(call), "{}: {call:?} asked twice", case.name);
        }
    }
}
