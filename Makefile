# Two commands on a machine with only python3 (and make):
#   make run    set up .venv and serve on 127.0.0.1:22333 with ./cybermarket.sqlite3,
#               and the storefront on http://127.0.0.1:8080/
#   make test   set up .venv, run `make lint`, then the whole test suite
#               twice: on SQLite, then on a throwaway PostgreSQL cluster
#               (installed from Debian's packages when missing, which
#               needs root); the browser tests run in Debian's Chromium
#               (installed likewise)
#   make lint   ruff's checks, ruff's formatting (checked, not applied) and
#               mypy; `.venv/bin/ruff format .` applies the formatting
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two workers (pytest-xdist), each test file on one of them (its module
# fixtures are made once); the slowest tests listed at the end.
PYTEST ?= $(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

.PHONY: run lint test test-sqlite test-postgres venv clean messages

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

# The [test] extra brings the report's pandas and matplotlib too, and the
# [lint] extra's ruff and mypy.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

WEB ?= tcp:8080:interface=127.0.0.1

run: $(VENV)/.installed
	$(BIN)/twistd -n --pidfile= cybermarket --web $(WEB)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Lint first, then the two suites one after the other (also under make -j).
test: lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

test-sqlite: $(VENV)/.installed-test
	scripts/with-chromium $(PYTEST)

# Only the tests that use a database run again on PostgreSQL (tests/conftest.py);
# the one that stops the cluster runs after the others, alone.
test-postgres: $(VENV)/.installed-test
	scripts/with-chromium scripts/with-postgres sh -c '$(PYTEST) -m "not outage" && $(BIN)/python -m pytest -m outage'

# `make messages`: the server's and the command line's messages, marked
# with N_, Nn_ (plural) and _ in the code, extracted into the template,
# merged into each language's catalog (new ones empty, for a translator to
# fill in) and compiled; the .mo files are checked in, so an install from
# the tree needs no Babel step.  tests/test_i18n.py fails while an entry is
# missing, empty or fuzzy.
LOCALES := cybermarket/locale
POT := $(LOCALES)/cybermarket.pot

messages: $(VENV)/.installed
	$(BIN)/pybabel extract --add-location=file --sort-output -k Nn_:1,2 \
		--project=cybermarket --version=1.1 \
		--copyright-holder="the cybermarket authors" -o $(POT) cybermarket
	$(BIN)/pybabel update -i $(POT) -d $(LOCALES) -D cybermarket -w 100 --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(LOCALES) -D cybermarket --statistics

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis _trial_temp .mypy_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name dropin.cache -delete
