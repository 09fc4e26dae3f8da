//! The native engine under divan (`make bench`, or `cargo bench --bench engine`).
//!
//! - `expand_matrix`: one iteration = one cell of the common-instancetypes matrix (the cells taken in
//!   turn), the caller's whole job: parse the VM, instancetype and preference from bytes, expand, serialize.
//! - `floor_matrix`: the same VMs parsed and serialized only.
//! - `expand_disks`: u1.medium + fedora with 2 and 50 disks (cost must grow linearly).
//!
//! divan reports per-iteration medians of its samples; `benches/engine_report.rs` times every iteration
//! for the p99. Under `cargo test` divan runs each bench once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::cell::Cell;

use divan::{Bencher, black_box};
use kubevirt_instancetype::engine::options::ExpandOptions;

fn main() {
    divan::main();
}

/// Runs `job` on each case in turn, one case per iteration.
fn rotate(bencher: Bencher, cases: &[common::Case], job: fn(&common::Case) -> Result<Vec<u8>, String>) {
    let next = Cell::new(0usize);
    bencher.bench_local(|| {
        let index = next.get();
        next.set((index + 1) % cases.len());
        job(black_box(&cases[index]))
    });
}

fn expand_default(case: &common::Case) -> Result<Vec<u8>, String> {
    common::expand_job(case, &ExpandOptions::default())
}

#[divan::bench(sample_count = 500)]
fn expand_matrix(bencher: Bencher) {
    let cases = common::matrix();
    rotate(bencher, &cases, expand_default);
}

#[divan::bench(sample_count = 500)]
fn floor_matrix(bencher: Bencher) {
    let cases = common::matrix();
    rotate(bencher, &cases, common::floor_job);
}

#[divan::bench(args = [2, 50], sample_count = 300)]
fn expand_disks(bencher: Bencher, disks: usize) {
    let case = [common::fedora_case(disks)];
    rotate(bencher, &case, expand_default);
}

#[divan::bench(args = [2, 50], sample_count = 300)]
fn floor_disks(bencher: Bencher, disks: usize) {
    let case = [common::fedora_case(disks)];
    rotate(bencher, &case, common::floor_job);
}
