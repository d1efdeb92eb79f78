# anime-vector-service: `make run` runs the whole system on the embedded stack, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := shared/pyproject.toml $(wildcard services/*/pyproject.toml) cli/pyproject.toml requirements-dev.txt
PYTEST_ARGS ?=

.PHONY: run test lint bench system-deps venv clean

$(STAMP): $(PACKAGES)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build; a bare `torch` requirement would pull CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e 'shared[qdrant,embed,local]' -e services/api -e services/sync \
	  -e services/enricher -e services/image_ingestor -e services/indexer -e cli -r requirements-dev.txt
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

clean:
	rm -rf $(VENV) .data test-output
