# The two commands a newcomer needs (README.md): `make run` and `make test`.
# Everything else here is what those two need; they set themselves up on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench soak lint clean

run: $(VENV)/.run
	$(BIN)/shelter-signal run

test: $(VENV)/.test node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Not needed by newcomers: the benchmarks (docs/benchmarks.md) and the long fault run
# (docs/reliability.md: a day replayed under faults, the tests of the whole data in ../shared,
# then 100,000 fuzzed messages). Both start their own Mosquitto and PostgreSQL, like the tests.
bench: $(VENV)/.test
	$(BIN)/python -m bench

soak: $(VENV)/.test
	$(BIN)/python -m bench.soak
	$(BIN)/pytest -m long_data
	SIGNAL_FUZZ_EXAMPLES=100000 $(BIN)/pytest tests/server/ingest/test_fuzz.py --timeout=0 -s

lint: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run

# The real MicroPython interpreter (WebAssembly, run by Node) for the firmware tests.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules var shelter-signal.db*
