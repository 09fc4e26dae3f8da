#!/usr/bin/env bash
# Installs what the tests need on a fresh machine. Idempotent, and quick when everything is present.
# Usage: scripts/install-tools.sh            (everything `make test` needs)
set -euo pipefail

log() { printf '[install-tools] %s\n' "$*" >&2; }

need_cmd() { command -v "$1" >/dev/null 2>&1; }

if ! need_cmd cargo; then
    log "cargo is missing: install Rust with rustup first (https://rustup.rs)"
    exit 1
fi

# rustfmt and clippy are used by `make lint`; install them when rustup can.
if need_cmd rustup; then
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
            log "adding rustup component ${component}"
            rustup component add "${component}" >/dev/null
        fi
    done
fi

# --- The Kubewarden policy (make policy.wasm, make e2e-tests): the wasm32-wasip1 target ---
if need_cmd rustup; then
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
        log "adding rustup target wasm32-wasip1"
        rustup target add wasm32-wasip1 >/dev/null
    fi
else
    log "warning: no rustup: make sure the wasm32-wasip1 target is installed (make policy.wasm needs it)"
fi

# --- The npm package (make npm, make test-npm): wasm target, wasm-bindgen CLI, Chromium, node packages ---
cd "$(dirname "$0")/.."
if need_cmd rustup && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown >/dev/null
fi

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate (Cargo.lock).
BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock 2>/dev/null || true)"
if [[ -n "${BINDGEN_VERSION}" ]]; then
    installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
    if [[ "${installed}" != "${BINDGEN_VERSION}" ]]; then
        log "installing wasm-bindgen-cli ${BINDGEN_VERSION} (found: ${installed:-none}); this takes a few minutes"
        # --locked first; its lock file may name a crate version the registry no longer serves.
        if ! cargo install wasm-bindgen-cli --version "${BINDGEN_VERSION}" --locked --quiet; then
            log "wasm-bindgen-cli ${BINDGEN_VERSION} does not install --locked; resolving its dependencies afresh"
            cargo install wasm-bindgen-cli --version "${BINDGEN_VERSION}" --quiet
        fi
    fi
fi

# Debian's Chromium and its driver, for the browser tests (never a downloaded browser).
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
if ((${#missing[@]})); then
    if need_cmd apt-get; then
        sudo=()
        [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
        log "installing ${missing[*]} with apt-get"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        log "warning: ${missing[*]} missing and no apt-get: the browser tests of make test-npm will fail"
    fi
fi

# Node packages, pinned by the committed lock files: npm/ (binaryen's wasm-opt, TypeScript) and
# e2e-tests/preview/ (playwright-core). `npm ci` only when node_modules is missing or older than the lock.
if need_cmd npm; then
    for dir in npm e2e-tests/preview; do
        stamp="${dir}/node_modules/.package-lock.json"
        if [[ ! -f "${stamp}" || "${dir}/package-lock.json" -nt "${stamp}" ]]; then
            log "npm ci in ${dir}"
            (cd "${dir}" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        fi
    done
else
    log "warning: node and npm are missing: make npm and make test-npm need them"
fi

log "tools ready"
