# Two commands on a machine with only python3 (and make):
#   make run    set up .venv and serve on 127.0.0.1:22333 with ./cybermarket.sqlite3
#   make test   set up .venv and run the whole test suite twice: on SQLite,
#               then on a throwaway PostgreSQL cluster (installed from
#               Debian's packages when missing, which needs root)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two workers (pytest-xdist), each test file on one of them (its module
# fixtures are made once); the slowest tests listed at the end.
PYTEST ?= $(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

.PHONY: run test test-sqlite test-postgres venv clean

# `make venv`: everything, the test suite's extras included (what `make
# test` needs); `make run` installs only the server and its clients.
venv: $(VENV)/.installed-test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(BIN)/pip install --quiet -e .
	touch $@

# The [test] extra brings the report's pandas and matplotlib too.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/twistd -n --pidfile= cybermarket

test: test-sqlite test-postgres

test-sqlite: $(VENV)/.installed-test
	$(PYTEST)

# Only the tests that use a database run again on PostgreSQL (tests/conftest.py);
# the one that stops the cluster runs after the others, alone.
test-postgres: $(VENV)/.installed-test
	scripts/with-postgres sh -c '$(PYTEST) -m "not outage" && $(BIN)/python -m pytest -m outage'

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis _trial_temp
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name dropin.cache -delete
