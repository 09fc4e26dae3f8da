#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target for FUZZ_SECONDS (default 300) seconds, one at a time,
# single process (one job), on the committed seed corpus (fuzz/corpus/<target>, read only) plus a
# working corpus (fuzz/work/<target>, kept between runs, not committed). A crash stops the run and
# leaves the input in fuzz/artifacts/<target>/; reproduce with
#   cargo +nightly fuzz run -s none <target> fuzz/artifacts/<target>/<file>
# Logs: fuzz/work/logs/<target>.log (final `cov`/`ft` and exec counts at the end of each). An input slower
# than 1 s is saved as fuzz/artifacts/<target>/slow-unit-* (from the main thread: libFuzzer's own timeout
# fires in a signal handler, which can deadlock on the allocator of a Rust target; hence -timeout=30).
# Usage: scripts/fuzz.sh [target...]     (FUZZ_SECONDS=900 scripts/fuzz.sh expand)
# Needs the nightly toolchain and cargo-fuzz (`make fuzz` installs cargo-fuzz when missing).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-300}"
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
    TARGETS=(quantity settings revision insert_json expand policy)
fi

cargo +nightly fuzz build -s none
mkdir -p work/logs
status=0
for target in "${TARGETS[@]}"; do
    mkdir -p "work/${target}"
    printf '[fuzz] %s for %ss\n' "${target}" "${SECONDS_PER_TARGET}" >&2
    if ! cargo +nightly fuzz run -s none "${target}" "work/${target}" "corpus/${target}" -- \
        -max_total_time="${SECONDS_PER_TARGET}" -timeout=30 -report_slow_units=1 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"work/logs/${target}.log" 2>&1; then
        printf '[fuzz] %s FAILED: see fuzz/work/logs/%s.log and fuzz/artifacts/%s/\n' "${target}" "${target}" "${target}" >&2
        status=1
    fi
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse)' "work/logs/${target}.log" | tail -1 >&2 || true
done
exit "${status}"
