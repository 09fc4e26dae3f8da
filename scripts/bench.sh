#!/usr/bin/env bash
# `make bench`: every face measured, one report (docs/performance.md). Needs policy.wasm and the npm package
# built (make bench builds them first). Output: $BENCH_OUT_DIR (default target/bench/): native.json, divan.txt,
# policy.json, npm.json, machine.json, and report.md, which is also printed.
#   1. native engine: benches/engine.rs (divan) and benches/engine_report.rs (per-iteration p99s), `bench` profile
#      (the release settings);
#   2. policy: e2e-tests/benches/policy.rs, host built with the `bench-host` profile (release without LTO: the
#      first build compiles wasmtime optimized, several minutes), running ./policy.wasm;
#   3. npm: bench/npm.mjs on target/npm/kubevirt-instancetype;
#   4. sizes, and the report: bench/report.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
CARGO="${CARGO:-cargo}"
OUT="${BENCH_OUT_DIR:-$ROOT/target/bench}"
export BENCH_OUT_DIR="$OUT"
POLICY_WASM="${POLICY_WASM:-$ROOT/policy.wasm}"
NPM_PKG="${NPM_PKG:-$ROOT/target/npm/kubevirt-instancetype}"

log() { printf '[bench] %s\n' "$*" >&2; }
[[ -f "$POLICY_WASM" ]] || { log "error: $POLICY_WASM is missing (make policy.wasm)"; exit 1; }
[[ -d "$NPM_PKG" ]] || { log "error: $NPM_PKG is missing (make npm)"; exit 1; }
mkdir -p "$OUT"
load() { cut -d' ' -f1 /proc/loadavg; }
LOAD_BEFORE="$(load)"

log "building the bench binaries (the first policy host build compiles wasmtime: several minutes)"
"$CARGO" bench --quiet --bench engine --bench engine_report --no-run
"$CARGO" bench --quiet -p kubevirt-instancetype-e2e --profile bench-host --bench policy --no-run

log "1/4 native engine: divan"
"$CARGO" bench --quiet --bench engine >"$OUT/divan.txt"
log "1/4 native engine: per-iteration timings"
"$CARGO" bench --quiet --bench engine_report
log "2/4 policy in wasmtime"
"$CARGO" bench --quiet -p kubevirt-instancetype-e2e --profile bench-host --bench policy -- --policy "$POLICY_WASM"
log "3/4 npm package in Node"
node bench/npm.mjs --package "$NPM_PKG"

lock_version() { awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock; }
node -e '
    const [file, ...fields] = process.argv.slice(1);
    const machine = {};
    for (let i = 0; i < fields.length; i += 2) machine[fields[i]] = fields[i + 1];
    require("fs").writeFileSync(file, JSON.stringify(machine, null, 2) + "\n");
' "$OUT/machine.json" \
    date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)$(lscpu | grep -q '^Hypervisor vendor' && echo " ($(lscpu | sed -n 's/^Hypervisor vendor: *//p') guest)")" \
    cores "$(nproc)" \
    memory "$(free -g | awk '/^Mem:/ { print $2 " GiB" }')" \
    kernel "$(uname -sr)" \
    rustc "$(rustc --version)" \
    wasmtime "$(lock_version wasmtime)" \
    wasmtime_provider "$(lock_version wasmtime-provider)" \
    wapc "$(lock_version wapc)" \
    load_before "$LOAD_BEFORE" \
    load_after "$(load)"

log "4/4 sizes and the report"
node bench/report.mjs --dir "$OUT" --policy "$POLICY_WASM" --npm-wasm "$NPM_PKG/node/kubevirt_instancetype_bg.wasm"
