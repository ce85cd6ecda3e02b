"""The parts are given their instruments when built (a do-nothing default),
and the metrics take the op names from the declarations."""

import ast
import inspect

import pytest

from cybermarket.instruments import NOTHING, Instruments
from cybermarket.server import metrics
from cybermarket.server.passwords import Hasher
from cybermarket.storage.database import Database
from tests.databases import on_postgresql
from tests.harness import FAST_HASHER, Immediately, InlinePool


class Recording(Instruments):
    active = True

    def __init__(self):
        self.transactions, self.groups, self.hashes = [], [], 0

    def timed_transaction(self, desc, func):
        self.transactions.append(desc)
        return func

    def group_committed(self, size):
        self.groups.append(size)

    def timed_hash(self, func):
        def timed(*args):
            self.hashes += 1
            return func(*args)

        return timed


def test_a_database_reports_to_the_instruments_it_was_built_with(migrated_url):
    from twisted.internet import task

    recording = Recording()
    db = Database(migrated_url, reactor=Immediately(task.Clock()), instruments=recording)
    try:
        d = db.run("PING", lambda txn: 1, write=False)
        db.jobs.drain()
        assert d.result == 1
    finally:
        db.stop()
    assert recording.transactions == ["PING"]
    assert recording.groups == ([] if on_postgresql() else [1])


def test_a_hasher_reports_to_the_instruments_it_was_built_with():
    from twisted.internet import task

    recording = Recording()
    hasher = Hasher(reactor=Immediately(task.Clock()), hasher=FAST_HASHER, instruments=recording)
    hasher.pool = InlinePool()
    hasher.hash("a password", "10.0.0.1")
    assert recording.hashes == 1


def test_by_default_nothing_is_wrapped():
    assert NOTHING.active is False
    assert Hasher(hasher=FAST_HASHER).timed is None


@pytest.mark.parametrize("name", ["cybermarket.server.optable", "cybermarket.server.handlers"])
def test_the_metrics_name_ops_from_the_declarations_not_the_handlers(name):
    tree = ast.parse(inspect.getsource(metrics))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(module.startswith(name) for module in imported if module), imported


def test_nothing_is_attached_after_construction():
    from cybermarket.server import logs

    assert not hasattr(logs, "wire")
