# kubevirt-instancetype — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

GOLDEN_CASES := tests/data/golden/cases.jsonl
CASES ?= $(GOLDEN_CASES)
OUT ?= target/conformance-results.jsonl
# Compare only when asked, except for the bundled cases, whose expectations are bundled too.
ifeq ($(CASES),$(GOLDEN_CASES))
EXPECTED ?= tests/data/golden/expected.jsonl
endif
TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

.PHONY: run
run: run-policy ## Main job: the flavor-era demo VM through the policy (built, run in the kwrun harness)

.PHONY: run-cli
run-cli: ## The flavor-era demo VM expanded by the native CLI (no wasm)
	$(CARGO) run --quiet --release --bin kubevirt-instancetype -- expand \
		--vm data/examples/flavor-demo/vm.json --objects data/examples/flavor-demo/objects.json

.PHONY: test
test: policy.wasm ## All tests: unit, property, conformance (447 golden cases), CLI, policy e2e (policy.wasm), npm
	python3 scripts/sync-readme.py --check
	POLICY_WASM="$(CURDIR)/policy.wasm" $(CARGO) test --workspace --all-targets
	$(MAKE) test-npm

.PHONY: conformance
conformance: ## Run golden cases: make conformance CASES=... OUT=... [EXPECTED=...]
	$(CARGO) build --quiet --release --bin kubevirt-instancetype
	@mkdir -p "$(dir $(OUT))"
	"$(TARGET_DIR)/release/kubevirt-instancetype" conformance --cases "$(CASES)" --out "$(OUT)" $(if $(EXPECTED),--expected "$(EXPECTED)")

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: readme
readme: ## Copy docs/policy.md, docs/performance.md, docs/hardening.md into README.md (make test checks it)
	python3 scripts/sync-readme.py

.PHONY: lint
lint: ## Clippy with warnings denied, and a format check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-unknown-unknown --lib --test wasm -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 --lib -- -D warnings

# --- The Kubewarden policy (src/policy, policy-metadata.yml, artifacthub-pkg.yml, e2e-tests/; docs/policy.md) ---
POLICY_BUILD = $(TARGET_DIR)/wasm32-wasip1/release/kubevirt_instancetype.wasm
KWCTL ?= kwctl
DEMO_FIXTURE := e2e-tests/fixtures/flavor-demo

# Always asks cargo (quick when nothing changed), so policy.wasm never lags behind the sources.
.PHONY: policy.wasm
policy.wasm: ## Kubewarden policy: the release module (wasm32-wasip1) as ./policy.wasm
	$(CARGO) build --target wasm32-wasip1 --release --lib
	cp "$(POLICY_BUILD)" policy.wasm

.PHONY: annotated-policy.wasm
annotated-policy.wasm: policy.wasm ## policy.wasm with policy-metadata.yml and README.md embedded (needs kwctl)
	$(KWCTL) annotate -m policy-metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

.PHONY: e2e-tests
e2e-tests: policy.wasm ## Policy e2e: policy.wasm through the kwrun harness on e2e-tests/fixtures, metadata checks
	POLICY_WASM="$(CURDIR)/policy.wasm" $(CARGO) test -p kubevirt-instancetype-e2e

.PHONY: e2e-tests-kwctl
e2e-tests-kwctl: annotated-policy.wasm ## The same fixtures through a real kwctl (needs kwctl, bats, jq; not part of make test)
	bats e2e-tests/kwctl.bats

.PHONY: run-policy
run-policy: policy.wasm ## The flavor-era demo through the policy (kwrun harness): the AdmissionResponse, then the expanded VM
	$(CARGO) run --quiet -p kubevirt-instancetype-e2e --bin kwrun -- run \
		-r $(DEMO_FIXTURE)/request.json --settings-path $(DEMO_FIXTURE)/settings.json --allow-context-aware \
		--replay-host-capabilities-interactions $(DEMO_FIXTURE)/session.yml -m policy-metadata.yml \
		--print-mutated-object policy.wasm

# --- The npm package (src/js, npm/, e2e-tests/preview/; docs/npm.md) ---
NPM_OUT := target/npm
PREVIEW_PORT ?= 8080
WASM_TEST_ENV = CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	WASM_BINDGEN_TEST_WEBDRIVER_JSON=$(CURDIR)/npm/webdriver.json CHROMEDRIVER=/usr/bin/chromedriver

.PHONY: npm
npm: ## npm package: target/npm/kubevirt-instancetype/ and target/npm/kubevirt-instancetype-<version>.tgz
	NPM_OUT="$(CURDIR)/$(NPM_OUT)" scripts/build-npm.sh

.PHONY: test-npm
test-npm: npm ## npm package: wasm-bindgen-test (Node, Chromium), the packed tarball (import, require, golden cases, tsc), preview page (Playwright)
	$(WASM_TEST_ENV) $(CARGO) test --target wasm32-unknown-unknown --test wasm
	$(WASM_TEST_ENV) WASM_BINDGEN_USE_BROWSER=1 $(CARGO) test --target wasm32-unknown-unknown --test wasm
	NPM_OUT="$(CURDIR)/$(NPM_OUT)" node --test npm/test/package.test.mjs
	NPM_OUT="$(CURDIR)/$(NPM_OUT)" node --test npm/test/hostile.test.mjs
	NPM_OUT="$(CURDIR)/$(NPM_OUT)" node --test e2e-tests/preview/preview.test.mjs

.PHONY: preview
preview: npm ## Serve the preview page on http://localhost:$(PREVIEW_PORT)/ (PREVIEW_PORT=...)
	NPM_OUT="$(CURDIR)/$(NPM_OUT)" node e2e-tests/preview/server.mjs --port $(PREVIEW_PORT)

# --- Benchmarks (benches/, e2e-tests/benches/, bench/, scripts/bench.sh; docs/performance.md). Not part of `make test`. ---
.PHONY: bench
bench: policy.wasm npm ## Benchmarks of every face, one report: target/bench/report.md (first run builds wasmtime optimized: minutes)
	BENCH_OUT_DIR="$(abspath $(TARGET_DIR))/bench" POLICY_WASM="$(CURDIR)/policy.wasm" \
		NPM_PKG="$(CURDIR)/$(NPM_OUT)/kubevirt-instancetype" scripts/bench.sh

# --- Fuzzing (fuzz/, scripts/fuzz.sh; docs/hardening.md). Nightly + cargo-fuzz; not part of `make test` or CI
# (its findings' regression tests are). FUZZ_SECONDS per target, FUZZ_TARGETS to pick (default: all six).
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=

.PHONY: fuzz
fuzz: ## Fuzz every cargo-fuzz target for FUZZ_SECONDS (default 300) s each, one at a time (installs nightly and cargo-fuzz if missing)
	@rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

.PHONY: clean
clean: ## Remove build output
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
