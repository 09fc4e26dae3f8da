//! Per-iteration timings of the native engine, for the medians and p99s of `make bench`'s report
//! (divan, in `benches/engine.rs`, reports medians only).
//!
//! Every iteration is timed on its own (`Instant` around one job; the timer costs ~25 ns, under 1 % of a
//! job). Six jobs (benches/common/mod.rs): `expand` (parse, `expand_owned`, serialize), `expand_borrowed`
//! (the same through `expand(&vm)`), `expand_copied` (the objects' texts copied into an `InMemorySource`),
//! `expand_prepared` (the objects read before the loop: the VM's own part of the job), `inputs_floor`
//! (parse everything, serialize the VM) and `floor` (parse and serialize the VM). After one warm-up pass
//! of each, every pass runs each job over the whole common-instancetypes matrix (the matrix figures are
//! also split by preference family: none, Windows, other); then u1.medium + fedora with 2 and with 50
//! disks, the jobs interleaved.
//!
//! `cargo bench --bench engine_report [-- --passes N] [--matrix-only]` writes `$BENCH_OUT_DIR/native.json`
//! (default `target/bench/`); `--matrix-only` skips the disks and only prints (for a profiler). Without
//! `--bench` (as under `cargo test --all-targets`) it only checks that every cell of the matrix expands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use kubevirt_instancetype::engine::options::ExpandOptions;
use serde_json::{Value, json};

/// Nanoseconds of each iteration, summarized.
fn summary(mut samples: Vec<u64>) -> Value {
    samples.sort_unstable();
    let n = samples.len();
    // nearest-rank percentiles
    let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
    let mean = samples.iter().sum::<u64>() as f64 / n as f64 / 1000.0;
    json!({
        "samples": n,
        "min_us": samples[0] as f64 / 1000.0,
        "median_us": rank(0.5),
        "mean_us": mean,
        "p90_us": rank(0.9),
        "p99_us": rank(0.99),
        "p999_us": rank(0.999),
        "max_us": samples[n - 1] as f64 / 1000.0,
    })
}

fn time(samples: &mut Vec<u64>, job: impl Fn() -> Result<Vec<u8>, String>) {
    let start = Instant::now();
    let out = job();
    let elapsed = start.elapsed();
    black_box(out).expect("job failed");
    samples.push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
}

/// One measured job: a case in, the serialized result out.
type Job<'a> = dyn Fn(&common::Case) -> Result<Vec<u8>, String> + 'a;

/// The preference families the matrix is split by ([`preference_family`]).
const FAMILIES: [&str; 3] = ["none", "other", "windows"];

/// The preference family of a matrix cell, from its label (`instancetype/preference`): `none`,
/// `windows` (the Windows preferences, whose specs carry Hyper-V, timer and clock trees), or `other`.
fn preference_family(label: &str) -> &'static str {
    match label.split_once('/').map(|(_, preference)| preference) {
        Some("-") => "none",
        Some(preference) if preference.starts_with("windows") => "windows",
        _ => "other",
    }
}

/// Each job's samples split by [`preference_family`]: `{family: {"cells", job: summary, ...}}`.
/// `samples[j]` holds job `j`'s passes over `cases` in order, so sample `i` is of cell `i % cells`.
fn by_preference(cases: &[common::Case], jobs: &[(&str, &Job<'_>)], samples: &[Vec<u64>]) -> Value {
    let families: Vec<&str> = cases.iter().map(|c| preference_family(&c.label)).collect();
    let mut groups = serde_json::Map::new();
    for family in FAMILIES {
        let cells = families.iter().filter(|f| **f == family).count();
        let mut group = serde_json::Map::new();
        group.insert("cells".into(), json!(cells));
        for ((name, _), samples) in jobs.iter().zip(samples) {
            let picked: Vec<u64> = samples
                .iter()
                .enumerate()
                .filter(|(i, _)| families[i % families.len()] == family)
                .map(|(_, ns)| *ns)
                .collect();
            group.insert((*name).into(), summary(picked));
        }
        groups.insert(family.into(), Value::Object(group));
    }
    Value::Object(groups)
}

fn arg_value(args: &[String], flag: &str) -> Option<usize> {
    let position = args.iter().position(|a| a == flag)?;
    args.get(position + 1).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = ExpandOptions::default();
    let cases = common::matrix();

    // Every cell must expand (a failing cell would be timed on its error path), to the same bytes
    // through every variant of the job.
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| match common::expand_job(case, &options) {
            Err(e) => Some(format!("{}: {e}", case.label)),
            Ok(expanded) => {
                let copied = common::expand_copied_job(case, &options);
                let borrowed = common::expand_borrowed_job(case, &options);
                let prepared = common::expand_prepared_job(case, &options);
                (copied.as_ref() != Ok(&expanded)
                    || borrowed.as_ref() != Ok(&expanded)
                    || prepared.as_ref() != Ok(&expanded))
                .then(|| format!("{}: the job variants disagree", case.label))
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "cells that do not expand:\n{}",
        failures.join("\n")
    );
    let expanded = common::expand_job(&common::fedora_case(2), &options).expect("u1.medium/fedora");
    let expanded: Value = serde_json::from_slice(&expanded).expect("expanded JSON");
    assert_eq!(
        expanded["spec"]["template"]["spec"]["domain"]["cpu"]["sockets"],
        json!(1),
        "u1.medium was not applied"
    );
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "engine_report: all {} cells expand (run through `cargo bench` to measure)",
            cases.len()
        );
        return;
    }

    let passes = arg_value(&args, "--passes").unwrap_or(10);
    let expand_owned = |case: &common::Case| common::expand_job(case, &options);
    let expand_borrowed = |case: &common::Case| common::expand_borrowed_job(case, &options);
    let expand_copied = |case: &common::Case| common::expand_copied_job(case, &options);
    let expand_prepared = |case: &common::Case| common::expand_prepared_job(case, &options);
    // name, job: the engine (the caller hands its VM over and lends the objects' texts), the borrowing
    // `expand(&vm)`, the objects' texts copied in, the objects read once before the loop, and two floors
    let jobs: [(&str, &Job<'_>); 6] = [
        ("expand", &expand_owned),
        ("expand_borrowed", &expand_borrowed),
        ("expand_copied", &expand_copied),
        ("expand_prepared", &expand_prepared),
        ("inputs_floor", &common::inputs_job),
        ("floor", &common::floor_job),
    ];
    let mut samples: Vec<Vec<u64>> = jobs.iter().map(|_| Vec::with_capacity(passes * cases.len())).collect();
    for (_, job) in &jobs {
        for case in &cases {
            time(&mut Vec::new(), || job(black_box(case)));
        }
    }
    let started = Instant::now();
    for _ in 0..passes {
        for ((_, job), samples) in jobs.iter().zip(samples.iter_mut()) {
            for case in &cases {
                time(samples, || job(black_box(case)));
            }
        }
    }
    let matrix_seconds = started.elapsed().as_secs_f64();

    // `--matrix-only`: the matrix figures, printed and not written (for a profiler run).
    let matrix_only = args.iter().any(|a| a == "--matrix-only");
    let mut disks = serde_json::Map::new();
    for count in [2usize, 50].into_iter().filter(|_| !matrix_only) {
        let case = common::fedora_case(count);
        let iterations = 20_000 * 2 / count.max(2);
        let mut per_job: Vec<Vec<u64>> = jobs.iter().map(|_| Vec::with_capacity(iterations)).collect();
        for (_, job) in &jobs {
            for _ in 0..iterations / 10 {
                time(&mut Vec::new(), || job(black_box(&case)));
            }
        }
        for _ in 0..iterations {
            for ((_, job), samples) in jobs.iter().zip(per_job.iter_mut()) {
                time(samples, || job(black_box(&case)));
            }
        }
        let mut entry = serde_json::Map::new();
        entry.insert("vm_bytes".into(), json!(case.vm.len()));
        for ((name, _), samples) in jobs.iter().zip(per_job) {
            entry.insert((*name).into(), summary(samples));
        }
        disks.insert(count.to_string(), Value::Object(entry));
    }

    let vm_bytes: Vec<usize> = cases.iter().map(|c| c.vm.len()).collect();
    let object_bytes: Vec<usize> = cases
        .iter()
        .map(|c| c.instancetype.len() + c.preference.as_ref().map_or(0, Vec::len))
        .collect();
    let report = json!({
        "cells": cases.len(),
        "instancetypes": common::instancetypes().len(),
        "preferences": common::preferences().len(),
        "passes": passes,
        "matrix_seconds": matrix_seconds,
        "vm_bytes_mean": vm_bytes.iter().sum::<usize>() as f64 / vm_bytes.len() as f64,
        "object_bytes_mean": object_bytes.iter().sum::<usize>() as f64 / object_bytes.len() as f64,
        "disks": disks,
    });
    let mut report = report;
    report["by_preference"] = by_preference(&cases, &jobs, &samples);
    for ((name, _), samples) in jobs.iter().zip(samples) {
        report[*name] = summary(samples);
    }

    let us = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for (name, _) in &jobs {
        println!(
            "native matrix ({} cells × {passes} passes) {name}: median {:.2} µs, p99 {:.2} µs",
            report["cells"],
            us(&report[*name]["median_us"]),
            us(&report[*name]["p99_us"]),
        );
    }
    for family in FAMILIES {
        let group = &report["by_preference"][family];
        println!(
            "native matrix, preference {family} ({} cells): expand median {:.2} µs, expand_prepared {:.2} µs, floor {:.2} µs",
            group["cells"],
            us(&group["expand"]["median_us"]),
            us(&group["expand_prepared"]["median_us"]),
            us(&group["floor"]["median_us"]),
        );
    }
    if matrix_only {
        return;
    }
    let out_dir = std::env::var_os("BENCH_OUT_DIR").map_or_else(|| common::repo_path("target/bench"), PathBuf::from);
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    let out = out_dir.join("native.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).expect("JSON")).expect("write native.json");
    for count in ["2", "50"] {
        for (name, _) in &jobs {
            println!(
                "native u1.medium/fedora {count} disks {name}: median {:.2} µs",
                us(&report["disks"][count][*name]["median_us"]),
            );
        }
    }
    println!("wrote {}", out.display());
}
