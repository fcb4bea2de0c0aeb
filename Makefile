# Two commands do all set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Python 3.10: the interpreter pyenv selects through .python-version, else python3.10.
PYTHON ?= $(shell (command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null) || command -v python3.10 || command -v python3)
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test venv model lock system-deps bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) scripts/check_python.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" "setuptools>=64,<71" wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]" --config-settings editable_mode=compat
	$(BIN)/python -m pip check
	@touch $(STAMP)

venv: $(STAMP)

# The chat widget bundle (rasa-webchat) from the npm registry; never committed.
WIDGET := widget/vendor/webchat.js
$(WIDGET): widget/package.json scripts/fetch_widget.sh
	@scripts/fetch_widget.sh

# Debian packages the tests and channels need (Dovecot, Chromium), installed when missing.
system-deps:
	@scripts/install_system_deps.sh

# Train the Rasa model when it is missing or older than its data.
model: $(STAMP)
	$(BIN)/ks1bot train --if-stale

run: model $(WIDGET)
	$(BIN)/ks1bot serve

test: $(STAMP) system-deps $(WIDGET)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: model
	$(BIN)/python bench/route_bench.py

# Re-resolve the dependency set from pyproject.toml and freeze it into constraints.txt.
lock:
	@$(PYTHON) scripts/check_python.py
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip "setuptools>=64,<71" wheel
	.venv-lock/bin/python -m pip install --quiet -e ".[dev]"
	.venv-lock/bin/python -m pip check
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^ks1bot'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock

clean:
	rm -rf $(VENV) models var .pytest_cache
