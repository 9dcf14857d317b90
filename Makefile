# Everything a fresh machine with Python 3.11 and pip needs: `make quickstart` or `make test`.
PYTHON ?= python3
UV := $(PYTHON) -m uv
export HF_HUB_OFFLINE ?= 1
# Byte-compile at install: every later process (tests spawn many) then skips compiling torch & co.
export UV_COMPILE_BYTECODE ?= 1

.PHONY: setup quickstart test test-fast lint

setup:  ## install uv (with pip) if missing, then the locked workspace into .venv
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q uv || $(PYTHON) -m pip install -q --user uv
	$(UV) sync --frozen

quickstart: setup  ## the main job: train a family of tiny CLIPs on the procedural world, fit probit lines
	$(UV) run --frozen vlmrobust quickstart

test: setup  ## the whole test suite (slow tests included), W&B offline, no network
	WANDB_MODE=offline $(UV) run --frozen pytest

test-fast: setup  ## skip tests marked slow
	WANDB_MODE=offline $(UV) run --frozen pytest -m "not slow"

lint: setup
	$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .
