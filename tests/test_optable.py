"""The op table's declarations (wire vocabulary) and the server's handlers
agree: every op has exactly one handler and every handler an op."""

import pytest

from cybermarket.ops import OPS, Op
from cybermarket.server import handlers
from cybermarket.server.handlers import HANDLERS, Handler
from cybermarket.server.optable import SERVED, bind, unmatched


def test_every_op_has_a_handler_and_every_handler_an_op():
    assert unmatched(OPS, HANDLERS) == ([], [])
    assert set(SERVED) == set(OPS)


def test_an_op_without_a_handler_stops_the_server():
    ops = dict(OPS, NEW_OP=Op("NEW_OP", None))
    with pytest.raises(RuntimeError, match=r"no handler for \['NEW_OP'\]"):
        bind(ops, HANDLERS)


def test_a_handler_without_an_op_stops_the_server():
    extra = dict(HANDLERS, GONE_OP=Handler(lambda txn, me: None))
    with pytest.raises(RuntimeError, match=r"no op for the handlers of \['GONE_OP'\]"):
        bind(OPS, extra)


def test_an_op_cannot_have_two_handlers(monkeypatch):
    monkeypatch.setattr(handlers, "HANDLERS", dict(HANDLERS))
    with pytest.raises(ValueError, match="PING: a second handler"):
        handlers.handles("PING")(lambda txn, me: None)


def test_reads_and_flows_are_told_apart():
    assert SERVED["LIST_PRODUCT"].write is False
    assert SERVED["CLIENT_CHECKOUT_ITEM"].write is True
    assert SERVED["CLIENT_LOGIN"].flow is True
    assert SERVED["PING"].flow is False


def test_the_declarations_know_nothing_of_the_server():
    import ast
    import inspect

    from cybermarket import ops

    tree = ast.parse(inspect.getsource(ops))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(name.startswith("cybermarket.server") for name in imported), imported
