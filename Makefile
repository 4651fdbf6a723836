# Two commands for everything: `make serve` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Quarry needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

## Start the server on the embedded default (SQLite + local files in ~/.local/share/quarry, or QUARRY_DATA_DIR).
serve: install
	$(BIN)/quarry serve --host $(HOST) --port $(PORT)

## Check the layers (docs/architecture.md), then run the whole test suite, on SQLite and on PostgreSQL (QUARRY_TEST_POSTGRES_URL).
test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
