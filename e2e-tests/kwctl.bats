#!/usr/bin/env bats
# The policy e2e fixtures (e2e-tests/fixtures/<case>/) through a real kwctl, for machines that have it.
# CI runs the same fixtures through the kwrun harness instead (e2e-tests/tests/policy.rs, `make e2e-tests`).
#
# Needs: kwctl (https://github.com/kubewarden/kwctl), bats, jq, and annotated-policy.wasm (kwctl only grants
# the contextAwareResources embedded by `kwctl annotate`):
#     make e2e-tests-kwctl            # = make annotated-policy.wasm && bats e2e-tests/kwctl.bats
# Each case runs
#     kwctl run -r request.json --settings-path settings.json --allow-context-aware \
#         --replay-host-capabilities-interactions session.yml annotated-policy.wasm
# and checks what expected.json says about the AdmissionResponse: allowed, status.code, status.message (exact or
# contained), whether a JSONPatch comes back, the warnings; for refused settings, kwctl's error. (The patched
# object's fields are checked by the Rust tests.)
#
# Environment: KWCTL (default kwctl), POLICY (default annotated-policy.wasm at the repository root), CASES (space
# separated case names, default all).

setup_file() {
    ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
    export ROOT
    export KWCTL="${KWCTL:-kwctl}"
    export POLICY="${POLICY:-${ROOT}/annotated-policy.wasm}"
    export FIXTURES="${ROOT}/e2e-tests/fixtures"
}

# Runs one case; prints what is wrong and returns 1 on a mismatch.
check_case() {
    local name="$1" dir="${FIXTURES}/$1" expected out status
    expected="${dir}/expected.json"
    set +e
    out="$("${KWCTL}" run -r "${dir}/request.json" --settings-path "${dir}/settings.json" --allow-context-aware \
        --replay-host-capabilities-interactions "${dir}/session.yml" "${POLICY}" 2>"${BATS_TEST_TMPDIR}/${name}.stderr")"
    status=$?
    set -e

    if [[ "$(jq -r 'if has("settingsValid") then .settingsValid else true end' "${expected}")" == "false" ]]; then
        local wanted
        wanted="$(jq -r '.settingsMessageContains' "${expected}")"
        if [[ ${status} -eq 0 ]]; then
            echo "${name}: kwctl accepted settings that should be refused"
            return 1
        fi
        if ! cat "${BATS_TEST_TMPDIR}/${name}.stderr" - <<<"${out}" | grep -qF -- "${wanted}"; then
            echo "${name}: the settings error lacks: ${wanted}"
            cat "${BATS_TEST_TMPDIR}/${name}.stderr"
            return 1
        fi
        return 0
    fi

    if [[ ${status} -ne 0 ]]; then
        echo "${name}: kwctl exited ${status}"
        cat "${BATS_TEST_TMPDIR}/${name}.stderr"
        return 1
    fi
    # kwctl prints the AdmissionResponse as the last line of stdout
    local response
    response="$(tail -n 1 <<<"${out}")"
    local failures=()
    [[ "$(jq -r '.allowed' <<<"${response}")" == "$(jq -r '.allowed' "${expected}")" ]] ||
        failures+=("allowed is $(jq -r '.allowed' <<<"${response}")")
    if jq -e 'has("code")' "${expected}" >/dev/null; then
        [[ "$(jq -r '.status.code' <<<"${response}")" == "$(jq -r '.code' "${expected}")" ]] ||
            failures+=("code is $(jq -r '.status.code' <<<"${response}")")
    fi
    if jq -e 'has("message")' "${expected}" >/dev/null; then
        [[ "$(jq -r '.status.message' <<<"${response}")" == "$(jq -r '.message' "${expected}")" ]] ||
            failures+=("message is $(jq -r '.status.message' <<<"${response}")")
    fi
    if jq -e 'has("messageContains")' "${expected}" >/dev/null; then
        grep -qF -- "$(jq -r '.messageContains' "${expected}")" <<<"$(jq -r '.status.message' <<<"${response}")" ||
            failures+=("message lacks $(jq -r '.messageContains' "${expected}")")
    fi
    local has_patch
    has_patch="$(jq -r 'if .patchType == "JSONPatch" and (.patch // "") != "" then "true" else "false" end' <<<"${response}")"
    [[ "${has_patch}" == "$(jq -r '.patched' "${expected}")" ]] || failures+=("patch present: ${has_patch}")
    while IFS= read -r warning; do
        [[ -z "${warning}" ]] && continue
        jq -e --arg w "${warning}" '(.warnings // []) | any(contains($w))' <<<"${response}" >/dev/null ||
            failures+=("no warning containing: ${warning}")
    done < <(jq -r '(.warningsContain // [])[]' "${expected}")
    # kwctl warns about exchanges left over; every case consumes its whole session
    if grep -qi "leftover\|not consumed\|unexpected request" "${BATS_TEST_TMPDIR}/${name}.stderr"; then
        failures+=("session not replayed exactly: $(cat "${BATS_TEST_TMPDIR}/${name}.stderr")")
    fi

    if ((${#failures[@]})); then
        echo "${name}: $(jq -r '.description' "${expected}")"
        printf '  - %s\n' "${failures[@]}"
        echo "  response: ${response}"
        return 1
    fi
}

@test "kwctl is installed and the policy is annotated" {
    command -v "${KWCTL}"
    command -v jq
    [ -f "${POLICY}" ] || { echo "missing ${POLICY}: run make annotated-policy.wasm"; false; }
}

@test "every fixture gives the expected AdmissionResponse under kwctl" {
    local cases failed=0
    if [[ -n "${CASES:-}" ]]; then
        read -r -a cases <<<"${CASES}"
    else
        mapfile -t cases < <(find "${FIXTURES}" -mindepth 2 -maxdepth 2 -name expected.json -printf '%h\n' |
            xargs -n1 basename | sort)
    fi
    [ "${#cases[@]}" -gt 0 ]
    for name in "${cases[@]}"; do
        check_case "${name}" || failed=$((failed + 1))
    done
    echo "${failed} of ${#cases[@]} cases failed"
    [ "${failed}" -eq 0 ]
}

@test "the flavor-era demo is expanded (kwctl run, printed response)" {
    run "${KWCTL}" run -r "${FIXTURES}/flavor-demo/request.json" --allow-context-aware \
        --replay-host-capabilities-interactions "${FIXTURES}/flavor-demo/session.yml" "${POLICY}"
    [ "${status}" -eq 0 ]
    [[ "${output}" == *'"allowed":true'* ]]
    [[ "${output}" == *'"patchType":"JSONPatch"'* ]]
}

@test "refused settings stop kwctl with the key named" {
    run "${KWCTL}" run -r "${FIXTURES}/no-matchers/request.json" --settings-json '{"mood": "expand"}' "${POLICY}"
    [ "${status}" -ne 0 ]
    [[ "${output}" == *'unknown field `mood`'* ]]
}
