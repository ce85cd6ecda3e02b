"""Shared fixtures.

Every test that needs a database gets a fresh one: a temporary SQLite file
by default, or, when CYBERMARKET_TEST_DATABASE names a PostgreSQL server
(postgresql+psycopg://user@host:port/postgres), a new database created on
it for the test and dropped afterwards.
"""

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from twisted.internet import defer
from twisted.logger import formatEvent, globalLogPublisher

from cybermarket.server.optable import SERVED
from cybermarket.storage import database
from tests.harness import Market

TEST_DATABASE = os.environ.get("CYBERMARKET_TEST_DATABASE", "")


def on_postgresql():
    return TEST_DATABASE.startswith("postgresql")


@contextmanager
def fresh_postgresql_database(before_drop=None):
    """A new database on the PostgreSQL server of CYBERMARKET_TEST_DATABASE,
    dropped afterwards (before_drop runs first)."""
    # No pool: a test may restart the server, which breaks kept connections.
    admin = create_engine(TEST_DATABASE, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"cm_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE).set(database=name).render_as_string(False)
    finally:
        if before_drop is not None:
            before_drop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path):
    """The URL of a fresh, empty database."""
    if not on_postgresql():
        yield f"sqlite:///{tmp_path / 'market.sqlite3'}"
        return
    with fresh_postgresql_database() as url:
        yield url


@pytest.fixture
def migrated_url(database_url):
    """A fresh database with the schema at the newest revision."""
    database.upgrade(database_url)
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


@pytest.fixture
def logged():
    """Every log event from now on (texts() gives them as text)."""
    events = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


def texts(events):
    return [formatEvent(event) for event in events]
