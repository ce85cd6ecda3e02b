# Two commands on a machine with only python3 (and make):
#   make run    set up .venv and serve on 127.0.0.1:22333 with ./cybermarket.sqlite3,
#               and the storefront on http://127.0.0.1:8080/
#   make test   set up .venv, run `make lint` and, beside it, the whole test suite
#               twice: on SQLite, then on a throwaway PostgreSQL cluster
#               (installed from Debian's packages when missing, which
#               needs root); the browser tests run in Debian's Chromium
#               (installed likewise)
#   make screenshots
#               the pictures of the pages (docs/screenshots/, which the
#               README shows, and artifacts/screenshots/): the browser
#               tests that take them, on SQLite in Debian's Chromium, with
#               CYBERMARKET_SCREENSHOTS=1; no other run takes pictures, so
#               `make test` leaves docs/ as it is
#   make lint   ruff's checks, ruff's formatting (checked, not applied) and
#               mypy; `.venv/bin/ruff format .` applies the formatting; then
#               ESLint and TypeScript's checker over the pages' JavaScript
#               (from npm, at package-lock.json's versions, in node_modules)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Three workers (pytest-xdist) on a two-core machine: a test often waits
# (for a server process, the browser, a socket), and a third worker fills
# that time (the SQLite run: 214 s with two, 183-191 s with three).  Each
# test file runs on one of them (its module fixtures are made once); the
# slowest tests are listed at the end.
#
# The suite's processes (its workers, and the servers and commands they
# start) share what they compile through __pycache__ (ignored by git):
# under a PYTHONDONTWRITEBYTECODE from the environment, each of them would
# compile the package, and each worker rewrite every test module, again.
PYTEST ?= env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 3 --dist loadfile --durations=15

.PHONY: run lint test test-sqlite test-postgres test-newest venv lock clean messages screenshots

# Installs come from the locks in requirements/, exact versions with their
# hashes, so that a new release of anything changes no run by itself:
# server.txt for `make run`, test.txt (the extras too) for `make test`.
# pyproject.toml keeps ranges, for `pip install cybermarket`.  `make lock`
# refreshes both locks from pyproject.toml's ranges (after `make
# test-newest` has passed); `make test-newest` runs the suite on the newest
# releases those ranges allow, in a throwaway venv.
SERVER_LOCK := requirements/server.txt
TEST_LOCK := requirements/test.txt
# The locks' own tool, at one version, so that a refresh is repeatable too.
UV_VERSION := 0.13.9

# `make venv`: everything, the test suite's extras included (what `make
# test` needs); `make run` installs only the server and its clients.
venv: $(VENV)/.installed-test

# The venv's own pip (from the Python it is made with): upgrading it would
# bring whatever pip is newest that day.
$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	touch $@

# The locked packages, then the project itself, editable, with the locked
# build backend (hash-checking mode does not take an editable install).
$(VENV)/.installed: $(SERVER_LOCK) pyproject.toml $(VENV)/.created
	$(BIN)/pip install --quiet --require-hashes -r $(SERVER_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The [test] extra brings the report's pandas and matplotlib too, and the
# [lint] extra's ruff and mypy.  These are not compiled at install
# (--no-compile): pip would compile every module of numpy, pandas,
# matplotlib, Playwright and the type stubs, half of this step's time,
# where the suite imports a few of them and its processes write what they
# compile to __pycache__ (PYTEST below), once.  The server's packages, of
# the step above, are compiled, so that a server started under
# PYTHONDONTWRITEBYTECODE does not compile them at each start.
$(VENV)/.installed-test: $(TEST_LOCK) pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --no-compile --require-hashes -r $(TEST_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The server lock is for Python 3.10 and newer, as the package is; the test
# lock for 3.11 and newer (pandas-stubs, of the lint extra, needs 3.11).
lock: $(VENV)/.created
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile --quiet --universal --generate-hashes --python-version 3.10 \
		pyproject.toml requirements/build.in -o $(SERVER_LOCK)
	$(BIN)/uv pip compile --quiet --universal --generate-hashes --python-version 3.11 \
		pyproject.toml requirements/build.in --extra test -o $(TEST_LOCK)

# The whole of `make test` in a venv of its own, on the newest release of
# every dependency that pyproject.toml's ranges allow: run it before `make
# lock`, and whenever a dependency has a new release, to learn of a break
# before a user does.
NEWEST := .venv-newest
test-newest:
	rm -rf $(NEWEST)
	$(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/pip install --quiet --upgrade pip
	$(NEWEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]'
	touch $(NEWEST)/.created $(NEWEST)/.installed $(NEWEST)/.installed-test
	$(NEWEST)/bin/pip list --format=freeze > $(NEWEST)/versions.txt
	$(MAKE) VENV=$(NEWEST) test

WEB ?= tcp:8080:interface=127.0.0.1

run: $(VENV)/.installed
	$(BIN)/twistd -n --pidfile= cybermarket --web $(WEB)

# The JavaScript checks' tools, exactly as package-lock.json pins them
# (`npm ci`): installed when node_modules is missing, again when the lock
# changes.
NODE_BIN := node_modules/.bin
JS := cybermarket/web/static

node_modules/.installed: package-lock.json package.json
	npm ci --no-audit --no-fund
	touch $@

lint: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(NODE_BIN)/eslint $(JS)
	$(NODE_BIN)/tsc -p jsconfig.json

# Lint beside the SQLite suite (the suite waits on its servers and the
# browser part of the time, which the checks fill), then the PostgreSQL
# suite.  Under make test, the suite leaves out its own runs of the same
# checks over the whole tree (tests/test_lint.py): make lint is them.
test: $(VENV)/.installed-test node_modules/.installed
	$(MAKE) -j2 lint test-sqlite CYBERMARKET_LINTED=1
	$(MAKE) test-postgres CYBERMARKET_LINTED=1

test-sqlite: $(VENV)/.installed-test
	scripts/with-chromium $(PYTEST)

# The pictures, taken only here: the two files that take them (the pages
# are the same on either backend, so SQLite; CI=true makes a missing
# Chromium an error, not a skip).  The desktop variants of
# tests/test_browser_screens.py, there for their pictures alone, run only
# here too.
SCREENSHOT_TESTS := tests/test_browser.py tests/test_browser_screens.py

screenshots: $(VENV)/.installed-test
	CYBERMARKET_SCREENSHOTS=1 CYBERMARKET_TEST_DATABASE= CI=true \
		scripts/with-chromium $(PYTEST) $(SCREENSHOT_TESTS)

# Only the tests whose outcome can depend on the backend run again on PostgreSQL:
# those that use a database, less those marked backend_free (tests/conftest.py).
# The ones that stop a cluster (marked outage) stop a second one of their
# own (scripts/with-postgres), so they run among the others.
test-postgres: $(VENV)/.installed-test
	scripts/with-chromium scripts/with-postgres $(PYTEST)

# `make messages`: the server's and the command line's messages, marked
# with N_, Nn_ (plural) and _ in the code, extracted into the template,
# merged into each language's catalog (new ones empty, for a translator to
# fill in) and compiled; the .mo files are checked in, so an install from
# the tree needs no Babel step.  tests/test_i18n.py fails while an entry is
# missing, empty or fuzzy.  The pages' words likewise, into web.po and from
# there into cybermarket/web/static/catalog.js.
LOCALES := cybermarket/locale
POT := $(LOCALES)/cybermarket.pot
# The pages' words: the same workflow into web.po, from which
# cybermarket/web/static/catalog.js is written (cybermarket/tools/webmessages.py).
WEB_POT := $(LOCALES)/web.pot
STATIC := cybermarket/web/static

messages: $(VENV)/.installed
	$(BIN)/pybabel extract --add-location=file --sort-output -k Nn_:1,2 \
		--project=cybermarket --version=1.1 \
		--copyright-holder="the cybermarket authors" -o $(POT) cybermarket
	$(BIN)/pybabel update -i $(POT) -d $(LOCALES) -D cybermarket -w 100 --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(LOCALES) -D cybermarket --statistics
	$(BIN)/pybabel extract -F $(LOCALES)/web.cfg --add-location=file --sort-output \
		--no-default-keywords -k t -k parts -k tn:1,2 --ignore-dirs=node_modules \
		--project=cybermarket --version=1.1 \
		--copyright-holder="the cybermarket authors" -o $(WEB_POT) $(STATIC)
	for language in ru zh_CN; do \
		test -f $(LOCALES)/$$language/LC_MESSAGES/web.po || \
		$(BIN)/pybabel init -i $(WEB_POT) -d $(LOCALES) -D web -l $$language -w 100; \
	done
	$(BIN)/pybabel update -i $(WEB_POT) -d $(LOCALES) -D web -w 100 --no-fuzzy-matching
	$(BIN)/python -m cybermarket.tools.webmessages

clean:
	rm -rf $(VENV) $(NEWEST) .pytest_cache .hypothesis _trial_temp .mypy_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name dropin.cache -delete
