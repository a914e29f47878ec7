# scinas developer tasks (GNU make). `make help` lists the targets.
#
# The environment is built from poetry.lock: Poetry (in its own tools venv, .tools/) exports the
# locked versions to a requirements file with hashes and pip installs exactly those into .venv/.
# Poetry itself never installs anything, so pip's own configuration (index, certificates) applies.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
TOOLS := .tools
POETRY := $(TOOLS)/bin/poetry
# Pinned so every machine exports the lock the same way (bump together with scripts/relock tests).
POETRY_VERSION := 2.5.1
POETRY_EXPORT_VERSION := 1.10.1

# Extras to install on top of main + dev, comma or space separated (mlflow,neptune,slurm,timeseries,tfds,nasbench)
# or "all". Changing EXTRAS re-installs.
EXTRAS ?=
# Experiments for `make run`, e.g. `make run CONFIGS="E A"`.
CONFIGS ?= E A
# Marker expression for `make test`; `make test-all` adds the slow tests.
MARKERS ?= not slow and not slurm and not gpu
MARKERS_ALL ?= not slurm and not gpu
PYTEST_ARGS ?=
# Extra arguments for scripts/relock, e.g. LOCK_ARGS=--regenerate.
LOCK_ARGS ?=

comma := ,
extras_list := $(strip $(subst $(comma), ,$(EXTRAS)))
ifeq ($(extras_list),all)
export_extras := --all-extras
else
export_extras := $(foreach extra,$(extras_list),--extras $(extra))
endif

STAMP := $(VENV)/.installed
EXTRAS_RECORD := $(VENV)/.extras
REQUIREMENTS := $(VENV)/requirements-locked.txt
TOOLS_STAMP := $(TOOLS)/.installed
LINT_PATHS := $(wildcard src tests benchmarks)
HADOLINT := $(VENV)/bin/hadolint docker/Dockerfile docker/Dockerfile.gpu

.PHONY: help install tools run test test-all lint lint-docker bench lock check-lock clean distclean FORCE

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 16

install: $(STAMP) ## create .venv with the locked dependencies (EXTRAS=mlflow,timeseries adds extras)

tools: $(TOOLS_STAMP) ## create .tools with pinned Poetry + export plugin

$(TOOLS_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: scinas needs Python >= 3.11, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "       Install Python 3.11+ and run: make install PYTHON=python3.11" >&2; exit 1; }
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet \
	  "poetry==$(POETRY_VERSION)" "poetry-plugin-export==$(POETRY_EXPORT_VERSION)"
	touch $@

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: scinas needs Python >= 3.11, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "       Install Python 3.11+ and run: make install PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Rewritten only when EXTRAS changes, so the install stamp below goes stale exactly then.
$(EXTRAS_RECORD): FORCE | $(VENV)/bin/python
	@echo '$(extras_list)' | cmp -s - $@ || echo '$(extras_list)' > $@

$(STAMP): poetry.lock pyproject.toml $(EXTRAS_RECORD) $(TOOLS_STAMP) | $(VENV)/bin/python
	@$(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(VENV) uses $$($(VENV)/bin/python --version 2>&1); scinas needs >= 3.11." >&2; \
	  echo "       Remove it (make distclean) and run make install PYTHON=python3.11" >&2; exit 1; }
	$(POETRY) export --no-interaction --format requirements.txt --with dev $(export_extras) \
	  --output $(REQUIREMENTS) \
	  || { echo "error: could not export poetry.lock; if pyproject.toml changed, run: make lock" >&2; exit 1; }
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --requirement $(REQUIREMENTS)
	$(VENV)/bin/python -m pip install --quiet --no-deps --editable .
	$(VENV)/bin/python -m pip check
	touch $@
	@echo "installed: $(VENV) (extras: $(or $(extras_list),none))"

run: install ## run experiments: make run CONFIGS="E A"
	$(VENV)/bin/scinas run $(CONFIGS)

test: install ## fast tests (no slow/slurm/gpu); PYTEST_ARGS="-k name" to narrow
	$(VENV)/bin/python -m pytest -m "$(MARKERS)" $(PYTEST_ARGS)

test-all: install ## all tests runnable here, slow ones included
	$(VENV)/bin/python -m pytest -m "$(MARKERS_ALL)" $(PYTEST_ARGS)

lint: install ## ruff check + mypy (strict) + hadolint (lint-docker)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(HADOLINT)

lint-docker: install ## hadolint on docker/Dockerfile and docker/Dockerfile.gpu
	$(HADOLINT)

bench: install ## run every benchmarks/*.py (each prints JSON)
	@shopt -s nullglob; scripts=(benchmarks/[!_]*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks in benchmarks/"; exit 0; fi; \
	for script in "$${scripts[@]}"; do echo "== $$script" >&2; $(VENV)/bin/python "$$script"; done

lock: tools ## re-create poetry.lock through pip's index (LOCK_ARGS=--regenerate)
	$(TOOLS)/bin/python scripts/relock $(LOCK_ARGS)

check-lock: tools ## poetry check --lock (pyproject.toml and poetry.lock agree)
	$(POETRY) check --lock --no-interaction

clean: ## remove caches and build outputs (keeps .venv and .tools)
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
	find . -path ./$(VENV) -prune -o -path ./$(TOOLS) -prune -o -name __pycache__ -type d -print0 \
	  | xargs -0 rm -rf

distclean: clean ## also remove .venv and .tools
	rm -rf $(VENV) $(TOOLS)

FORCE:
