# LayerLoom: `make run` opens the app on a bundled example, `make test` runs the test suite.
# Both bootstrap a virtual environment in .venv on first use (needs Python 3.11+ and pip).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: setup
	$(BIN)/layerloom

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests

bench: setup
	$(BIN)/python -m bench.under_load

clean:
	rm -rf $(VENV) build *.egg-info
