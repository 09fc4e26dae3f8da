# kubevirt-instancetype — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

CASES ?= tests/data/golden/cases.jsonl
OUT ?= target/conformance-results.jsonl
# Compare only when asked, except for the bundled cases, whose expectations are bundled too.
ifeq ($(origin CASES),file)
EXPECTED ?= tests/data/golden/expected.jsonl
endif

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

.PHONY: run
run: ## Main job: expand the flavor-era demo VM with the bundled example data
	$(CARGO) run --quiet --release --bin kubevirt-instancetype -- expand \
		--vm data/examples/flavor-demo/vm.json --objects data/examples/flavor-demo/objects.json

.PHONY: test
test: ## All tests: unit, property, conformance (447 golden cases), CLI
	$(CARGO) test --workspace --all-targets

.PHONY: conformance
conformance: ## Run golden cases: make conformance CASES=... OUT=... [EXPECTED=...]
	$(CARGO) build --quiet --release --bin kubevirt-instancetype
	./target/release/kubevirt-instancetype conformance --cases $(CASES) --out $(OUT) $(if $(EXPECTED),--expected $(EXPECTED))

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: lint
lint: ## Clippy with warnings denied, and a format check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: clean
clean: ## Remove build output
	$(CARGO) clean
