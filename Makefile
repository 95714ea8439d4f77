# The two commands a newcomer needs (see README.md):
#   make demo   set up and run the bot against a local Synapse, to talk to it
#   make test   set up and run the whole test suite (lint included)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

ELEMENT := tests/element

.PHONY: demo test lint install element clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,synapse]'
	touch $@

install: $(VENV)/.installed

# Element's crypto stack (matrix-js-sdk) for the encryption tests; npm registry, lockfile.
$(ELEMENT)/node_modules/.installed: $(ELEMENT)/package-lock.json
	cd $(ELEMENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

element: $(ELEMENT)/node_modules/.installed

demo: $(VENV)/.installed
	$(BIN)/helpdesk-bot demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint element
	$(BIN)/python -m pytest -p no:cacheprovider

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .import_linter_cache $(ELEMENT)/node_modules
