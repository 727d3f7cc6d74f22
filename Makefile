# Device Sessions API. `make dev` runs the local stack, `make test` runs every check CI runs.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Pinned tool versions: the Makefile installs exactly these into .tools/ on first use.
CARGO_LAMBDA_VERSION := 1.9.2
SAM_CLI_VERSION      := 1.170.0
CFN_LINT_VERSION     := 1.58.0
DYNOXIDE_VERSION     := 3.2.0
SCHEMATHESIS_VERSION := 4.32.5
CHECKOV_VERSION      := 3.3.30

TOOLS     := $(CURDIR)/.tools
VENV      := $(TOOLS)/venv
PY_STAMP  := $(VENV)/.installed-cargo-lambda-$(CARGO_LAMBDA_VERSION)-sam-$(SAM_CLI_VERSION)-cfn-lint-$(CFN_LINT_VERSION)
DYNOXIDE  := $(TOOLS)/bin/dynoxide
DYN_STAMP := $(TOOLS)/.installed-dynoxide-$(DYNOXIDE_VERSION)
# schemathesis gets its own virtualenv: its hypothesis pins clash with the SAM CLI's.
ST_VENV   := $(TOOLS)/st-venv
ST_STAMP  := $(ST_VENV)/.installed-schemathesis-$(SCHEMATHESIS_VERSION)
# checkov gets its own virtualenv too (its pins clash with the SAM CLI's).
CK_VENV   := $(TOOLS)/checkov-venv
CK_STAMP  := $(CK_VENV)/.installed-checkov-$(CHECKOV_VERSION)
# The benchmark's Python peer (versions pinned in bench/peer/requirements.txt).
BENCH_VENV  := $(TOOLS)/bench-venv
# Extra flags for the bench, e.g. BENCH_ARGS=--cpu-share (Lambda's CPU share per memory size).
BENCH_ARGS  ?=
BENCH_STAMP := $(BENCH_VENV)/.installed
# An earlier commit whose admin route (and runtime loop) the bench compares by CPU per request,
# e.g. BASELINE=58c925d, the build the performance work on CPU share started from.
BASELINE    ?=

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help dev test smoke contract bench package deploy tools lint fmt token clean-data

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

dev: tools ## Run the local stack: DynamoDB (Dynoxide), tables, demo data, every route on :8000 (DynamoDB on :8100)
	@scripts/dev.sh

test: $(PY_STAMP) $(CK_STAMP) ## Format, clippy -D warnings, unit + integration + event replay tests, template checks
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked
	$(MAKE) --no-print-directory lint

smoke: tools $(ST_STAMP) ## Start the local stack twice, call it over HTTP (walkthrough, contract); BASE=https://... for a running stack
	BASE="$(BASE)" scripts/smoke.sh

contract: $(ST_STAMP) ## schemathesis against the running `make dev` stack (openapi.yaml vs real responses)
	scripts/contract.sh

bench: $(BENCH_STAMP) ## Release-build every function, measure init, warm latency, CPU, RSS, size, cost; write docs/benchmarks.md
	# The functions alone first, as a deploy builds them (without the testkit feature the bench's
	# own crates turn on), then the bench.
	$(if $(BASELINE),scripts/bench-baseline.sh $(BASELINE) >/dev/null)
	cargo build --release --locked $(patsubst functions/%,-p %,$(wildcard functions/*))
	cargo build --release --locked -p bench
	target/release/bench --python $(BENCH_VENV)/bin/python --out docs/benchmarks.md \
	  $(if $(BASELINE),--baseline-bin-dir target/baseline/$$(git rev-parse --short $(BASELINE)) --baseline-label "commit $(BASELINE)") \
	  $(BENCH_ARGS)
	cat bench/notes.md >> docs/benchmarks.md

package: $(PY_STAMP) ## sam build every function for Lambda (arm64, release) and report artifact sizes
	scripts/package.sh $(FUNCTIONS)

deploy: $(PY_STAMP) ## Build every function and deploy the stack, no prompts (samconfig.toml, PARAMS=deploy/parameters.yaml)
	scripts/deploy.sh

lint: $(PY_STAMP) $(CK_STAMP) ## cfn-lint, sam validate --lint, the expanded template, checkov (.checkov.yaml)
	scripts/check-template.sh

fmt: ## Format the code
	cargo fmt --all

token: ## Print a fresh admin token for the running local stack
	@scripts/dev.sh token

tools: $(PY_STAMP) $(DYN_STAMP) ## Install the pinned local tools into .tools/

$(PY_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  cargo-lambda==$(CARGO_LAMBDA_VERSION) aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION)
	touch $@

$(CK_STAMP):
	python3 -m venv $(CK_VENV)
	$(CK_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

$(ST_STAMP):
	python3 -m venv $(ST_VENV)
	$(ST_VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	touch $@

$(BENCH_STAMP): bench/peer/requirements.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/peer/requirements.txt
	touch $@

$(DYN_STAMP):
	cargo install dynoxide-rs --version $(DYNOXIDE_VERSION) --locked --no-default-features \
	  --features native-sqlite,http-server,cli --root $(TOOLS)
	touch $@

clean-data: ## Forget the local stack's data (.data/)
	rm -rf .data
