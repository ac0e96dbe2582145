# Every target sets itself up: a fresh machine needs only python3.13 (pyenv's is found too) and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
BIN     := $(VENV)/bin
PY      := $(BIN)/python
# The Lambda runtime is python3.13, so the venv (and `sam build`, which uses the python3.13 on PATH) is too.
PYTHON313 ?= $(shell for p in python3.13 $$(ls -d /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13 2>/dev/null); do \
               "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
STAMP   := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export AWS_DEFAULT_REGION ?= ap-southeast-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv tools bench-tools test unit integration contract server-test image container-tools image-test lint docs demo bench \
        bench-quick build validate sam-local clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it (the Lambda runtime is python3.13)" >&2; exit 1; }
	@echo "creating .venv (python3.13) and installing pinned dependencies (about 2 minutes the first time)..."
	"$(PYTHON313)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)  ## create .venv with the pinned dependencies

# checkov pins boto3 1.35 and networkx < 2.7, which the project's lock cannot hold: a venv of its own, inside .venv.
CHECKOV_VENV  := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_FILES := -f template.yaml -f server/template.yaml -f server/repository.yaml -f server/Dockerfile

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it (the Lambda runtime is python3.13)" >&2; exit 1; }
	@echo "installing checkov (pinned, in $(CHECKOV_VENV); about 20 s)..."
	"$(PYTHON313)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

tools:  ## install the system linters the tests run (shellcheck, from Debian's packages)
	@command -v shellcheck >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq shellcheck >/dev/null; }

test: venv tools  ## every test: lint, unit, integration (emulator over HTTP), contract (template <-> code), server, docs, image
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory image-test

# The edit-test loop (< 15 s here): hypothesis' fast profile (a twentieth of each property's examples, see
# tests/property_budget.py), cached bytecode of the rewritten test modules (an empty PYTHONDONTWRITEBYTECODE lets
# Python write it where the environment turned it off), and no heap teardown after the report (FAST_EXIT, see
# tests/conftest.py). `make test` runs the full counts.
unit: venv  ## unit tests only (no network, fast hypothesis profile)
	PYTHONDONTWRITEBYTECODE= HYPOTHESIS_PROFILE=fast FAST_EXIT=1 $(BIN)/pytest -q tests/unit

integration: venv  ## integration tests against the embedded emulator
	$(BIN)/pytest -q tests/integration

contract: venv  ## template.yaml <-> code, sam validate --lint, sam build
	$(BIN)/pytest -q tests/contract

# Without a Docker engine: buildah and podman from Debian's packages, the python3.13 base made with debootstrap and
# cached in ~/.cache/ecr-governance (see cli/ecr_governance_cli/containers.py).
image: venv  ## the retail API image, tagged with its model version (docker build, or buildah where no Docker engine runs)
	$(PY) -m ecr_governance_cli.containers image

container-tools: venv  ## install buildah, podman, runc, docker-registry, debootstrap (Debian) when missing
	$(PY) -m ecr_governance_cli.containers tools

image-test: container-tools  ## run the image for real: container checks, Lambda under the RIE, sam build, push to a local registry
	$(BIN)/pytest -v -m container tests/server

# checkov: the security scan a security team runs on the templates and the Dockerfile (about 5 s here); every skip
# is written beside its resource with the reason (Metadata: checkov: skip), so their scan reads clean too.
lint: venv $(CHECKOV_STAMP)  ## ruff (style, complexity), mypy --strict on functions/, checkov on the templates
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation dockerfile $(CHECKOV_FILES)

# The site's home page is the README, its links made relative to docs/ (one text, not two).
docs: venv  ## the documentation site (MkDocs, strict: a broken link fails) into site/; regenerates docs/parameters.md
	$(PY) -m ecr_governance_cli.parameter_reference
	sed -e 's|](docs/|](|g' -e 's|](server/README.md)|](retail-api.md)|g' README.md > docs/index.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

demo: venv  ## the main job on the embedded emulator: seed a registry, enforce it, alert on a scan, sweep untagged images
	$(PY) -m ecr_governance_cli.demo

bench-tools:  ## install wrk (Debian), the load generator bench_retail_api.py needs for meaningful figures
	@command -v wrk >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; }

# Durations measured on a 2-core machine (docs/benchmarks.md): bench about 12 minutes (the 10,000-repository reconcile
# alone 6), bench-quick about 65 s - the same benchmarks at a smaller scale, for a first look (noisier ratios).
BENCH_QUICK := "bench_cold_start.py --venv-only --runs 5" "bench_enforce_api_calls.py --repositories 200" \
	"bench_enforce_scale.py --repositories 1000 --latency-ms 5" "bench_findings_alert.py" \
	"bench_lifecycle_preview.py --images 2000 --repeat 3" "bench_retail_api.py --seconds 1 --rounds 3" \
	"bench_sweep_api_calls.py --repositories 10" "bench_sweep_plan.py --images 20000 --repeat 3"

bench: venv bench-tools  ## benchmarks as ratios against a named baseline: about 12 minutes (bench-quick: about 1 minute)
	@echo "make bench: 8 benchmarks at full scale, about 12 minutes on a 2-core machine (make bench-quick: about 65 s)"
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

bench-quick: venv bench-tools  ## the same benchmarks at a smaller scale, for a first look: about 65 s
	@echo "make bench-quick: 8 benchmarks at a smaller scale, about 65 s (ratios noisier than make bench's)"
	@for b in $(BENCH_QUICK); do echo "== bench/$$b"; $(PY) bench/$$b || exit 1; done

validate: venv  ## sam validate --lint of the governance stack
	$(BIN)/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)

build: venv  ## sam build of the governance stack (no Docker needed)
	$(BIN)/sam build --template template.yaml

sam-local: venv  ## prepare the real `sam local invoke` with podman (socket, Lambda base image, build, env file)
	scripts/sam_local.sh

clean:  ## remove the venv, build output, caches, egg-info and __pycache__
	-scripts/sam_local.sh stop
	rm -rf $(VENV) .aws-sam .local .pytest_cache .ruff_cache .hypothesis site docs/index.md
	find . -path ./.venv -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +
