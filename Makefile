# Two commands on a fresh Debian machine with Python 3.11:
#   make demo   crawl -> normalise -> publish -> serve the bundled fictional councils
#   make test   the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint bench clean

$(BIN)/councilspend: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,dask]"
	touch $@

install: $(BIN)/councilspend

demo: install
	$(BIN)/councilspend demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/councilspend bench --rows 1000000

clean:
	rm -rf data build
