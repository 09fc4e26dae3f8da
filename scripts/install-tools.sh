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

log "tools ready"
