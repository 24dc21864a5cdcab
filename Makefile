# medledger — every target sets itself up first (tools/bootstrap.sh is idempotent).
SHELL := /bin/bash
ROOT := $(abspath .)
export PATH := $(ROOT)/.venv/bin:$(ROOT)/node_modules/.bin:$(PATH)
export SOLCX_BINARY_PATH := $(ROOT)/.solcx
export APE_DATA_FOLDER := $(ROOT)/.ape
PY := $(ROOT)/.venv/bin/python

.PHONY: setup setup-ipfs demo test lint typecheck compile artifacts slither test-contracts test-sdk \
	test-sdk-flows test-sdk-rest test-services bench clean

setup:
	@tools/bootstrap.sh

setup-ipfs:
	@tools/bootstrap.sh --ipfs

## The main job on the embedded default: in-process chain + embedded store, nothing to start.
demo: setup
	@medledger demo

## Everything: lint, types, compile, artifact freshness, slither, contract tests (py-evm and
## Anvil), SDK/storage/CLI tests (Anvil, Hardhat and js-ipfs started by fixtures), the services. The four
## test suites run side by side (each spends much of its time waiting on nodes); each suite's
## output is printed whole when it ends.
test: setup-ipfs lint typecheck compile slither
	$(MAKE) -j4 --output-sync=target test-contracts test-sdk-flows test-sdk-rest test-services

lint:
	ruff check --no-cache src tests scripts benchmarks examples tools
	ruff format --no-cache --check src tests scripts benchmarks examples tools
	$(PY) tools/check_sizes.py src

typecheck:
	mypy

compile:
	ape compile --force
	$(PY) tools/export_artifacts.py --check

artifacts:
	ape compile --force
	$(PY) tools/export_artifacts.py

slither:
	$(PY) tools/run_slither.py

test-contracts:
	ape test tests/contracts -q -p no:cacheprovider
	ape test tests/contracts -q -p no:cacheprovider --network ethereum:local:foundry

test-sdk: test-sdk-flows test-sdk-rest test-services

# the multi-step flow suites (fault injection, recovery, governance): about half the SDK time
SDK_FLOWS := tests/faults tests/recovery tests/governance
PYTEST := pytest -p no:ape_test -p no:cacheprovider -q

test-sdk-flows:
	@mkdir -p $(ROOT)/.pytest-tmp
	$(PYTEST) --basetemp=$(ROOT)/.pytest-tmp/flows $(SDK_FLOWS)

# the services (custodians on SQLite and a real PostgreSQL, FHIR import and API, the portal in
# Chromium): real processes on loopback, about a quarter of the SDK time
SERVICES := tests/custodian tests/custodian_flows tests/fhir_import tests/fhir_api tests/portal

test-sdk-rest:
	@mkdir -p $(ROOT)/.pytest-tmp
	$(PYTEST) --basetemp=$(ROOT)/.pytest-tmp/rest tests --ignore=tests/contracts \
		$(addprefix --ignore=,$(SDK_FLOWS) $(SERVICES))

test-services:
	@mkdir -p $(ROOT)/.pytest-tmp
	$(PYTEST) --basetemp=$(ROOT)/.pytest-tmp/services $(SERVICES)

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf .build contracts/.cache .stamps .pytest_cache .pytest-tmp .mypy_cache .ruff_cache
