"""Shared fixtures.

Every test that needs a database gets a fresh one (tests/databases.py): a
temporary SQLite file by default, or, when CYBERMARKET_TEST_DATABASE names a
PostgreSQL server (postgresql+psycopg://user@host:port/postgres), a new
database of its own on it.  A migrated one starts as a copy of a database
migrated once per session.

The PostgreSQL run (scripts/with-postgres) runs only the tests whose
outcome can depend on the backend: those that use a database (they ask for
`database_url` or `databases`, directly or through another fixture such as
migrated_url, market or shared_live, or are marked `database`), less those
marked `backend_free("what the test is about")`.  The others do the same on
either backend, and the SQLite run has run them.

`backend_free` is for a test whose subject is not the database, though it
needs a server and so a database to run: the network layer (frames,
timeouts, connection caps, slow readers, half-sent web requests), the
command line's options, the clients (the shell, the Python client
library), the WebSocket transport and the web endpoint's HTTP side, or
the pages alone (a browser test of what the pages do with answers whose
every rule is tested on both backends below them; one walk through the
same pages runs on both).  Its argument says which, in a few words.
Whatever involves what the database stores or how it locks, orders or
compares (races, two processes on one database, restarts, throttle counts,
tokens, search, money, names) stays unmarked and runs on both.
"""

import compileall
from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from cybermarket.server.connection import UNDECLARED
from cybermarket.server.optable import SERVED
from tests import storm as storm_module
from tests.databases import (
    SessionDatabases,
    can_stop_the_cluster,
    on_postgresql,
    outage_database,
)
from tests.harness import Market
from tests.live import FAST, Live
from tests.server import Server, ServerGroup

# The fixtures every test database comes from.
DATABASE_FIXTURES = {"database_url", "databases"}


def uses_database(item):
    """True for a test that reads or writes a database, and whose outcome
    could depend on which (not one marked `backend_free`)."""
    if item.get_closest_marker("backend_free"):
        return False
    return not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())) or bool(
        item.get_closest_marker("database")
    )


def check_backend_free(item):
    """A `backend_free` mark must say what the test is about instead."""
    mark = item.get_closest_marker("backend_free")
    if mark is None:
        return
    reason = mark.args[0] if len(mark.args) == 1 and not mark.kwargs else None
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(
            f"{item.nodeid}: backend_free takes one argument, what the test is about"
            ' (for example backend_free("the network layer"))'
        )


def pytest_configure(config):
    # The suite starts a few hundred server and command processes.  Where
    # PYTHONDONTWRITEBYTECODE is set (as on some CI machines), each would
    # compile the package's sources again; compiled once here (the first
    # process of a run, not each xdist worker), every child reads them.
    if not hasattr(config, "workerinput"):
        root = Path(__file__).resolve().parent.parent
        for folder in ("cybermarket", "twisted/plugins"):
            compileall.compile_dir(root / folder, quiet=1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        check_backend_free(item)
    if not on_postgresql():
        return
    kept, left_out = [], []
    for item in items:
        (kept if uses_database(item) else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_report_header(config):
    if on_postgresql():
        return "database: PostgreSQL; the tests that use a database, less backend_free ones"
    return "database: SQLite"


@pytest.fixture(scope="session")
def shared_chromium():
    """One Chromium for all the browser tests a process runs
    (tests/test_browser.py's `browser`), launched when the first needs it."""
    from tests.test_browser import launched

    with launched() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """Where every test database comes from (tests/databases.py)."""
    made = SessionDatabases(tmp_path_factory.mktemp("databases"))
    yield made
    made.close()


@pytest.fixture
def database_url(request, databases, tmp_path):
    """The URL of a fresh, empty database (migrated, when the test also
    asks for migrated_url)."""
    path = tmp_path / "market.sqlite3"
    if "migrated_url" in request.fixturenames:
        made = databases.migrated(path)
    else:
        made = databases.empty(path)
    with made as url:
        yield url


@pytest.fixture
def outage_database_url():
    """A fresh, empty PostgreSQL database on the cluster a test may stop and
    start (scripts/with-postgres's second one; tests/databases.py's
    outage_database), for a test marked outage.  Created and dropped over a
    new connection each time: the restart breaks every connection a pool
    would keep."""
    if not can_stop_the_cluster():
        pytest.skip(
            "needs a PostgreSQL cluster the test may stop and start: run under "
            "scripts/with-postgres (CYBERMARKET_TEST_OUTAGE_DATABASE not set)"
        )
    with outage_database() as url:
        yield url


@pytest.fixture
def migrated_sqlite(request):
    """migrated_sqlite(path) -> path: a SQLite file at the newest revision,
    copied from the session's template, where a test needs a migrated file
    but does not test `cybermarket db upgrade` itself.  The session's
    databases are looked up only when the test runs, so that the test does
    not count as one that uses the run's database (it would run again on
    PostgreSQL, with SQLite files all the same)."""
    return request.getfixturevalue("databases").sqlite_copy


@pytest.fixture
def migrated_url(database_url):
    """A fresh database with the schema at the newest revision: a copy of
    the one migrated for the session."""
    return database_url


@pytest.fixture
def market(migrated_url):
    """The in-process server (see tests/harness.py)."""
    m = Market(migrated_url)
    yield m
    m.close()


@pytest.fixture
def shop(market):
    """A logged-in merchant connection of a new store "shop"."""
    return market.merchant("shop")


@pytest.fixture
def alice(market):
    """A logged-in customer connection of a new account "alice"."""
    return market.client("alice")


@pytest.fixture
def make_market(migrated_url):
    """Markets with settings of the test's choosing, on one database."""
    made = []

    def make(**settings):
        market = Market(migrated_url, **settings)
        made.append(market)
        return market

    yield make
    for market in made:
        market.close()


# --- live servers: real `twistd cybermarket` processes ----------------------------------


@pytest.fixture
def launch(tmp_path):
    """launch(database_url, *options, processes=1, server_class=Server,
    **kwargs) -> Live: a server process of its own on a free loopback port
    (or `processes` of them sharing one port with --reuse-port), stopped at
    the end of the test, whatever its outcome; kwargs go to the Server
    (port=, descriptors=, haproxy=, ...).  For the tests that need a server
    alone: special options, a whole market to themselves, or a server to
    stop; the others use shared_live."""
    lives = []

    def launch_servers(database_url, *options, processes=1, server_class=Server, **kwargs):
        if processes == 1:
            server = server_class(database_url, *options, workdir=tmp_path, **kwargs)
        else:
            server = ServerGroup(database_url, processes, *options, workdir=tmp_path, **kwargs)
        live = Live(server)
        lives.append(live)
        server.start()
        return live

    yield launch_servers
    for live in lives:
        live.close_connections()
        live.server.kill()


# The tests on the shared server all connect from 127.0.0.1, and some log in
# with a wrong password on purpose: the per-address budget must hold them all.
SHARED_OPTIONS = (*FAST, "--login-failures", "100")


@pytest.fixture(scope="session")
def shared_server_process(databases, tmp_path_factory):
    """One server process for the whole session (per worker), on a migrated
    database of its own, with SHARED_OPTIONS; see shared_live."""
    folder = tmp_path_factory.mktemp("shared-server")
    with databases.migrated(folder / "market.sqlite3") as url:
        server = Server(url, *SHARED_OPTIONS, workdir=folder)
        try:
            yield server.start()
        finally:
            server.kill()


@pytest.fixture
def shared_server(shared_server_process):
    """The session's shared server (a Server): starting a server costs more
    than most of the tests on it.  A test on it must leave the others
    alone: names of its own (tests.live.unique), no claim about the market
    as a whole (every store, every account), no option of its own, and the
    server left running."""
    if not shared_server_process.running:  # stopped by a test that should not have
        shared_server_process.start()
    return shared_server_process


@pytest.fixture
def shared_live(shared_server):
    """A Live on the session's shared server (see shared_server); the
    connections the test opened are closed at the end."""
    live = Live(shared_server)
    yield live
    live.close_connections()


@pytest.fixture
def gates(monkeypatch):
    """An op SLOW (no args) whose every call waits for a Deferred the test
    fires; the list holds them in call order."""
    waiting = []

    async def slow(call):
        gate = defer.Deferred()
        waiting.append(gate)
        return await gate

    monkeypatch.setitem(SERVED, "SLOW", SERVED["PING"].with_function(slow, name="SLOW"))
    return waiting


@pytest.fixture(autouse=True)
def undeclared():
    """Every answer an op gives in process has a code the op declares
    (ops.Op.codes): the connection logs any other (connection.UNDECLARED),
    and the test fails.  A test that means to answer one empties the list."""
    events = []

    def observer(event):
        if event.get("log_format") == UNDECLARED:
            events.append(event)

    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)
    assert not events, [(event["op"], event["code"]) for event in events]


@pytest.fixture
def logged():
    """Every log event from now on (texts() gives them as text)."""
    events = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


@pytest.fixture
def storm(launch):
    """storm(port, shoppers, ...) -> Storm, started; every storm is stopped
    (threads joined, connections closed) before the servers are."""
    storms = []

    def start_storm(*args, **kwargs):
        s = storm_module.Storm(*args, **kwargs)
        storms.append(s)
        s.start()
        return s

    yield start_storm
    for s in storms:
        s.stop(raise_on_error=False)
