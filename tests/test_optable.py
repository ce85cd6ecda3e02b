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


def _with_handler(name, function, **how):
    return dict(HANDLERS, **{name: Handler(function, **how)})


def test_a_handler_whose_argument_is_renamed_is_refused():
    # SET_CLIENT_EMAIL's argument is `email`; a handler that still says
    # `mail` would fail at request time with a TypeError, a 500.
    def set_client_email(txn, me, mail):
        return None

    with pytest.raises(RuntimeError, match=r"SET_CLIENT_EMAIL.*'mail'.*'email'"):
        bind(OPS, _with_handler("SET_CLIENT_EMAIL", set_client_email))


def test_a_handler_missing_an_argument_is_refused():
    def restock(txn, me, product_id):
        return None

    with pytest.raises(RuntimeError, match=r"MERCHANT_RESTOCK_PRODUCT.*'quantity'"):
        bind(OPS, _with_handler("MERCHANT_RESTOCK_PRODUCT", restock))


def test_a_flow_with_an_argument_its_op_does_not_declare_is_refused():
    async def client_login(call, login, password, remember):
        return None

    with pytest.raises(RuntimeError, match=r"CLIENT_LOGIN.*'remember'"):
        bind(OPS, _with_handler("CLIENT_LOGIN", client_login))


def test_a_default_for_a_required_argument_is_refused():
    # The op always gives `quantity`: a default in the handler says it may
    # not, and hides which of the two is right.
    def add_item(txn, me, product_id, quantity=1):
        return None

    with pytest.raises(RuntimeError, match=r"CLIENT_ADD_ITEM.*'quantity'.*required"):
        bind(OPS, _with_handler("CLIENT_ADD_ITEM", add_item))


def test_a_default_other_than_the_ops_is_refused():
    def add_product(txn, me, productname, price, description, stock=5):
        return None

    with pytest.raises(RuntimeError, match=r"MERCHANT_ADD_PRODUCT.*'stock'.*0"):
        bind(OPS, _with_handler("MERCHANT_ADD_PRODUCT", add_product))


def test_a_paged_handler_must_take_page_bytes_and_only_it():
    def list_orders(txn, me, limit, after=None):
        return None

    with pytest.raises(RuntimeError, match=r"CLIENT_LIST_ORDERS.*'page_bytes'"):
        bind(OPS, _with_handler("CLIENT_LIST_ORDERS", list_orders, write=False, paged=True))

    def get_order(txn, me, order_id, page_bytes):
        return None

    with pytest.raises(RuntimeError, match=r"CLIENT_GET_ORDER.*'page_bytes'"):
        bind(OPS, _with_handler("CLIENT_GET_ORDER", get_order, write=False))


def test_a_transaction_handler_takes_txn_and_me_first_and_a_flow_call():
    def ping(me):
        return None

    with pytest.raises(RuntimeError, match=r"PING.*\(txn, me\)"):
        bind(OPS, _with_handler("PING", ping))

    async def logout(txn, me):
        return None

    with pytest.raises(RuntimeError, match=r"CLIENT_LOGOUT.*\(call\)"):
        bind(OPS, _with_handler("CLIENT_LOGOUT", logout))


def test_a_handler_taking_anything_is_refused():
    # **kwargs would take a renamed argument silently.
    def set_client_email(txn, me, **args):
        return None

    with pytest.raises(RuntimeError, match=r"SET_CLIENT_EMAIL.*\*\*args"):
        bind(OPS, _with_handler("SET_CLIENT_EMAIL", set_client_email))
