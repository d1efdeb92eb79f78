# anime-vector-service: `make run` runs the whole system on the embedded stack, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := shared/pyproject.toml $(wildcard services/*/pyproject.toml) cli/pyproject.toml requirements-dev.txt \
  infra/policy/requirements.txt
PYTEST_ARGS ?=

.PHONY: run test lint bench system-deps venv clean e2e-docker e2e-localstack

$(STAMP): $(PACKAGES)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build; a bare `torch` requirement would pull CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e 'shared[qdrant,embed,local]' -e services/api -e services/sync \
	  -e services/enricher -e services/image_ingestor -e services/indexer -e cli -r requirements-dev.txt
	# The policy pack's SDK for its unit tests: pulumi-policy pins protobuf~=5.29 (it ships no
	# generated code) while onnx needs protobuf>=6.31, so it goes in without its dependencies
	# (pulumi and grpcio, already installed by requirements-dev.txt).
	$(BIN)/pip install -q --no-deps -r infra/policy/requirements.txt
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

run: system-deps $(STAMP)
	$(BIN)/avs run

test: system-deps $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: system-deps $(STAMP)
	$(BIN)/python -m bench

# The end-to-end suite against LocalStack and Redis from docker-compose.local.yml instead of
# the embedded moto server and redis-server: the same tests, switched by environment only
# (AVS_TEST_EXTERNAL_AWS=1 + AWS_ENDPOINT_URL, AVS_REDIS_URL; see tests/conftest.py). Only
# the emulators start: the suite runs the services in-process, and service containers
# would compete with it for the same queues.
E2E_TESTS ?= tests/e2e
E2E_COMPOSE := docker compose -f docker-compose.local.yml
E2E_ENV := AVS_TEST_EXTERNAL_AWS=1 AWS_ENDPOINT_URL=http://127.0.0.1:4566 AVS_REDIS_URL=redis://127.0.0.1:6380/0
e2e-docker:
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
	  echo "make e2e-localstack: needs a running Docker daemon (docker info failed)." >&2; \
	  echo "  Without Docker, 'make test' runs the same suite on the embedded moto server." >&2; \
	  exit 2; \
	fi

e2e-localstack: e2e-docker $(STAMP)
	$(E2E_COMPOSE) up -d --wait localstack redis
	status=0; $(E2E_ENV) $(BIN)/python -m pytest $(E2E_TESTS) $(PYTEST_ARGS) || status=$$?; \
	  $(E2E_COMPOSE) down -v; exit $$status

clean:
	rm -rf $(VENV) .data test-output
