"""Autocommit is declared, not ordered: a request whose one write is
all-or-nothing on its own says so (@handles(..., autocommit=True), or
Database.run(..., autocommit=True)), and the database runs it in
autocommit on PostgreSQL wherever its statements sit.  SQLite commits
requests in groups and takes the declaration as a no-op."""

from cybermarket.server.handlers import Handler
from cybermarket.server.optable import SERVED
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql
from tests.test_ops_client import add_product

SHELF = Query("SELECT on_shelf FROM products WHERE id = ?")
ADD = Query("UPDATE products SET stock = stock + 1 WHERE id = ?")
STOCK = Query("SELECT stock FROM products WHERE id = ?")


def read_then_write(txn, product_id):
    """A write whose first statement reads: the order that the old
    `one_statement()` could not take on PostgreSQL."""
    shelved = txn.value(SHELF, product_id)
    txn.run(ADD, product_id)
    return bool(shelved), txn.autocommit


def test_a_declared_autocommit_runs_wherever_its_write_sits(market, shop):
    apple = add_product(shop, "apple", stock=5)
    d = market.app.db.run("read then write", read_then_write, apple, autocommit=True)
    market.settle()
    shelved, autocommit = d.result
    assert shelved is True
    # PostgreSQL: in autocommit, no BEGIN or COMMIT; SQLite: its group's.
    assert autocommit is on_postgresql()
    assert market.app.db.run_sync("stock", lambda txn: txn.value(STOCK, apple), write=False) == 6


def test_without_the_declaration_a_write_is_one_transaction(market, shop):
    apple = add_product(shop, "apple", stock=5)
    d = market.app.db.run("read then write", read_then_write, apple)
    market.settle()
    assert d.result == (True, False)


def test_a_read_after_a_declared_autocommit_is_not_left_in_it(market, shop):
    # The connection's mode is set per request: a write transaction after
    # an autocommit one is a transaction again.
    apple = add_product(shop, "apple", stock=5)
    market.app.db.run("autocommit", read_then_write, apple, autocommit=True)
    market.settle()
    d = market.app.db.run("transaction", read_then_write, apple)
    market.settle()
    assert d.result == (True, False)


def test_handlers_declare_it_and_the_server_applies_it(market, shop, alice, monkeypatch):
    apple = add_product(shop, "apple", stock=5)
    seen = []

    def add_item(txn, me, product_id, quantity):
        # Reads first, then writes: fine once declared.
        seen.append(txn.autocommit)
        return read_then_write(txn, product_id)[0]

    served = SERVED["CLIENT_ADD_ITEM"]
    monkeypatch.setitem(
        SERVED,
        "CLIENT_ADD_ITEM",
        type(served)(served.op, Handler(add_item, autocommit=True)),
    )
    assert alice.ok("CLIENT_ADD_ITEM", product_id=apple, quantity=1) is True
    assert seen == [on_postgresql()]
    assert SERVED["CLIENT_CHECKOUT_ITEM"].autocommit is True
    assert SERVED["CLIENT_REMOVE_ITEM"].autocommit is False


def relies_on_autocommit(txn, product_id):
    """Storage code that relies on running in autocommit says so, after a
    read: fine once the request declared it."""
    txn.value(SHELF, product_id)
    txn.one_statement()
    return txn.run(ADD, product_id)


def test_code_that_relies_on_autocommit_is_refused_in_an_undeclared_request(market, shop):
    # On every backend, so that a handler that forgot the declaration fails
    # its tests on SQLite too, not only in production on PostgreSQL.
    apple = add_product(shop, "apple", stock=5)
    d = market.app.db.run("undeclared", relies_on_autocommit, apple)
    market.settle()
    assert "not declared autocommit" in str(d.result.value)
    d.addErrback(lambda failure: None)
    d = market.app.db.run("declared", relies_on_autocommit, apple, autocommit=True)
    market.settle()
    assert d.result == 1


def test_every_handler_whose_storage_relies_on_autocommit_declares_it(market, shop, alice):
    # The ops whose storage functions call one_statement() (orders.py)
    # answer as usual: their handlers declare autocommit.
    apple = add_product(shop, "apple", stock=5)
    alice.ok("CLIENT_ADD_ITEM", product_id=apple, quantity=1)
    order = alice.ok("CLIENT_CHECKOUT_ITEM")
    alice.ok("CLIENT_CANCEL_ORDER", order_id=order["order_id"])
    for name in ("CLIENT_ADD_ITEM", "CLIENT_CHECKOUT_ITEM", "CLIENT_CANCEL_ORDER"):
        assert SERVED[name].autocommit is True, name
    assert SERVED["MERCHANT_SHIP_ORDER"].autocommit is True
