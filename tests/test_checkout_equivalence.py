"""One checkout and one cancel, the same on both backends.

SQLite runs the Python checkout and cancel (cybermarket/storage/orders.py's
checkout_txn and cancel_txn); PostgreSQL runs their PL/pgSQL twins
(cybermarket/storage/sql/checkout_v3.sql, cancel_v1.sql).  Here hypothesis
plays one random market on a database of each backend at once: stores whose
profit may be near the most a store can hold, products of any price (a cent
to the most, so that an order passes the order-total limit) and any stock
(none, a few, about what that limit buys, the most), on the shelf or off,
carts of any quantity up to a line's cap, more than the stock included; then
checkouts with the total the customer saw, a wrong one or none, with an
address or without, cancels of orders whose parts are placed, shipped or
cancelled already, or of orders that are not the customer's, and between
them what changes a checkout's outcome (adds to the cart, shelf changes,
restocks, new prices, ships).

Each step is the op's handler run as a connection runs it (the op table's
argument check, then Database.run with the op's flags, on the database's own
job queue: group commit on SQLite), and after each step the two must agree
on the answer (the data, or the status, the error code with its keys and
the message), on every product's stock, shelf and price, every store's
profit, the orders, their lines and parts, and the carts; at the end on what
each store reads of its profit and sales and each customer of the cart.

It needs both backends at once: it runs on the PostgreSQL pass (make
test-postgres, scripts/with-postgres) and is skipped on the SQLite one.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.python.failure import Failure

from cybermarket.errors import MarketError
from cybermarket.server.optable import SERVED
from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import (
    MAX_CENTS,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_STOCK,
    MAX_TOTAL_CENTS,
    cents,
    from_cents,
    money,
)
from tests.databases import on_postgresql
from tests.harness import InlineDatabase

pytestmark = pytest.mark.skipif(
    not on_postgresql(),
    reason="compares SQLite with PostgreSQL: runs on the PostgreSQL pass (scripts/with-postgres)",
)

MOST_PRICE = cents(MAX_PRICE)
# About the units of the dearest product that an order may hold: carts and
# stocks around it cross the order-total limit.
AT_THE_LIMIT = MAX_TOTAL_CENTS // MOST_PRICE
CUSTOMERS = 2

# --- the scenarios ------------------------------------------------------------

# Each strategy below lists its common case more than once: hypothesis
# picks among one_of's branches alike, and a market of dear products, empty
# shelves and full stores would refuse almost every checkout.
prices = st.one_of(
    st.integers(1, 500),
    st.integers(1, 500),
    st.integers(MOST_PRICE - 100, MOST_PRICE),
    # Prices of which a stock's worth is the order-total limit to the cent.
    st.sampled_from([MAX_TOTAL_CENTS // units for units in (10**9, 5 * 10**8, 10**8, 2 * 10**7)]),
    st.integers(1, MOST_PRICE),
)
stocks = st.one_of(
    st.integers(0, 5),
    st.integers(5, 100),
    st.integers(AT_THE_LIMIT - 2, AT_THE_LIMIT + 2),
    st.just(MAX_STOCK),
    st.integers(0, MAX_STOCK),
)
# A cart line holds up to MAX_STOCK units, whatever the stock.
in_cart = st.one_of(
    st.integers(1, 5),
    st.integers(AT_THE_LIMIT - 2, AT_THE_LIMIT + 2),
    st.integers(MAX_STOCK - MAX_QUANTITY, MAX_STOCK),
    st.integers(1, MAX_STOCK),
)


def within(stock: int, price: int) -> st.SearchStrategy[int]:
    """A quantity that `stock` (at least 1) holds: a few, any, or about
    what the order-total limit buys at `price`."""
    quantities = [st.integers(1, min(stock, 3)), st.integers(1, stock)]
    at_the_limit = MAX_TOTAL_CENTS // price
    if stock >= at_the_limit - 1:
        near = st.integers(at_the_limit - 1, min(stock, at_the_limit + 1))
        quantities += [near, near]
    return st.one_of(quantities)


# What one CLIENT_ADD_ITEM adds (MAX_QUANTITY at most; one past is refused).
added = st.one_of(st.integers(1, 5), st.integers(1, MAX_QUANTITY + 1))
# A store's profit so far: none, or so near the most a store holds that an
# order's credit may pass it (the checkout refuses it then), or (None) the
# most less what the first customer's cart would credit it, give or take a
# cent, set once the carts are drawn.
profits = st.one_of(
    st.just(0),
    st.just(0),
    st.just(0),
    st.integers(MAX_CENTS - 2 * MAX_TOTAL_CENTS, MAX_CENTS),
    st.integers(MAX_CENTS - 1000, MAX_CENTS),
    st.none(),
    st.none(),
)
addresses = st.one_of(st.none(), st.sampled_from(["1 Main St", "Тверская 1\nкв. 2", "北京市"]))
# The total the customer says it saw: none, the cart's total now, a cent off.
EXPECTED = ("none", "right", "right", "off")


@dataclass
class Scenario:
    profits: list[int]  # store i (id i + 1): its profit so far, in cents
    # product i (id i + 1): (store, price in cents, stock, on the shelf)
    products: list[tuple[int, int, int, bool]]
    carts: list[list[tuple[int, int]]]  # customer i (id i + 1): [(product, quantity)]
    steps: list[tuple[Any, ...]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    stores = draw(st.lists(profits, min_size=1, max_size=3))
    store = st.integers(0, len(stores) - 1)
    shelved = st.sampled_from([True, True, True, False])
    products = draw(st.lists(st.tuples(store, prices, stocks, shelved), min_size=1, max_size=6))
    product = st.integers(0, len(products) - 1)
    # Most carts fit what is on the shelves (or a checkout would hardly
    # ever succeed); the others hold anything.
    fit = [i for i, (_, _, stock, shelved) in enumerate(products) if shelved and stock > 0]
    carts = []
    for _ in range(CUSTOMERS):
        if fit and draw(st.sampled_from([True, True, False])):
            chosen = draw(st.lists(st.sampled_from(fit), min_size=1, max_size=4, unique=True))
            carts.append([(p, draw(within(products[p][2], products[p][1]))) for p in chosen])
        else:
            chosen = draw(st.lists(product, max_size=len(products), unique=True))
            carts.append([(p, draw(in_cart)) for p in chosen])
    at_edges = []
    for i, profit in enumerate(stores):
        if profit is None:
            credit = sum(products[p][1] * q for p, q in carts[0] if products[p][0] == i)
            profit = MAX_CENTS - credit + draw(st.sampled_from([0, 0, -1, 1]))
        at_edges.append(min(max(profit, 0), MAX_CENTS))
    customer = st.integers(0, CUSTOMERS - 1)
    # One of the orders placed so far (by its place, modulo their number),
    # or, for 3, one that does not exist.
    order = st.integers(0, 3)

    def checkout(who: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[Any, ...]]:
        return st.tuples(st.just("checkout"), who, st.sampled_from(EXPECTED), addresses)

    # Each customer checks out first, then anything happens, the checkouts
    # and cancels most often (sampled_from takes each entry alike).
    steps = [draw(checkout(st.just(c))) for c in range(CUSTOMERS)]
    # A cancel mostly by the customer whose order it is.
    cancel = st.tuples(st.just("cancel"), order, st.sampled_from([True, True, False]))
    kinds = {
        "checkout": checkout(customer),
        "cancel": cancel,
        "ship": st.tuples(st.just("ship"), store, order),
        "add": st.tuples(st.just("add"), customer, product, added),
        "remove": st.tuples(st.just("remove"), customer, product),
        "shelf": st.tuples(st.just("shelf"), product, st.booleans()),
        "restock": st.tuples(st.just("restock"), product, st.integers(1, MAX_QUANTITY)),
        "price": st.tuples(st.just("price"), product, prices),
    }
    often = ["checkout", "checkout", "cancel", "cancel", "cancel", "ship", "add", *kinds]
    for kind in draw(st.lists(st.sampled_from(often), min_size=3, max_size=12)):
        steps.append(draw(kinds[kind]))
    return Scenario(at_edges, products, carts, steps)


# --- the two databases --------------------------------------------------------

# Children first: the rows of one example go, and the next starts from ids 1.
TABLES = ("order_parts", "order_lines", "orders", "cart_lines", "products", "merchants", "clients")
EMPTY = [Query(f"DELETE FROM {table}") for table in TABLES]
RESTART_ORDER_IDS = Query(
    "SELECT setval(pg_get_serial_sequence('orders', 'id'), 1, false)", backend="postgresql"
)
NEW_STORE = Query(
    "INSERT INTO merchants (id, storename, storename_key, description, email, email_key,"
    " password_hash, profit_cents, created_at) VALUES (?, ?, ?, '', ?, ?, 'x', ?, ?)"
)
NEW_CUSTOMER = Query(
    "INSERT INTO clients (id, username, username_key, email, email_key, password_hash,"
    " created_at) VALUES (?, ?, ?, ?, ?, 'x', ?)"
)
NEW_PRODUCT = Query(
    "INSERT INTO products (id, merchant_id, productname, description, price_cents, stock,"
    " on_shelf, created_at, name_words, description_words) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, '')"
)
NEW_LINE = Query("INSERT INTO cart_lines (client_id, product_id, quantity) VALUES (?, ?, ?)")

# Everything the two must agree on, read straight from each database (the
# times aside: each backend takes its own now()).
STATE = {
    "products": Query(
        "SELECT id, stock, CASE WHEN on_shelf THEN 1 ELSE 0 END, price_cents"
        " FROM products ORDER BY id"
    ),
    "profits": Query("SELECT id, profit_cents FROM merchants ORDER BY id"),
    "orders": Query("SELECT id, client_id, total_cents, username, address FROM orders ORDER BY id"),
    "order lines": Query(
        "SELECT order_id, product_id, merchant_id, storename, productname, price_cents, quantity"
        " FROM order_lines ORDER BY order_id, product_id"
    ),
    "order parts": Query(
        "SELECT order_id, merchant_id, storename, total_cents, status, note"
        " FROM order_parts ORDER BY order_id, merchant_id"
    ),
    "carts": Query(
        "SELECT client_id, product_id, quantity FROM cart_lines ORDER BY client_id, product_id"
    ),
}


def seed(txn: Txn, scenario: Scenario) -> None:
    """Empty the market and set up the scenario's: store i, customer i and
    product i get the id i + 1 on both backends."""
    for query in EMPTY:
        txn.run(query)
    if txn.postgres:
        txn.value(RESTART_ORDER_IDS)
    created = txn.time(now())
    txn.run_many(
        NEW_STORE,
        [
            (i + 1, f"s{i}", f"s{i}", f"s{i}@example.com", f"s{i}@example.com", profit, created)
            for i, profit in enumerate(scenario.profits)
        ],
    )
    txn.run_many(
        NEW_CUSTOMER,
        [
            (i + 1, f"c{i}", f"c{i}", f"c{i}@example.com", f"c{i}@example.com", created)
            for i in range(CUSTOMERS)
        ],
    )
    txn.run_many(
        NEW_PRODUCT,
        [
            (i + 1, store + 1, f"p{i}", price, stock, on_shelf, created, f"p{i}")
            for i, (store, price, stock, on_shelf) in enumerate(scenario.products)
        ],
    )
    txn.run_many(
        NEW_LINE,
        [
            (customer + 1, product + 1, quantity)
            for customer, cart in enumerate(scenario.carts)
            for product, quantity in cart
        ],
    )


def state(txn: Txn) -> dict[str, list[tuple[Any, ...]]]:
    # int(): PostgreSQL may give a Decimal where SQLite gives an int.
    return {
        name: [tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in txn.rows(q)]
        for name, q in STATE.items()
    }


def answer(db: InlineDatabase, name: str, me: int, **wire: Any) -> tuple[Any, ...]:
    """What a connection answers to op `name` with the arguments `wire`
    from account `me`: (status, data), or (status, error, message).  An
    error that is no MarketError (a 500) fails the test."""
    served = SERVED[name]
    try:
        args = served.check_args(wire)
    except MarketError as e:
        return e.status, e.error, e.message
    d = db.run(name, served.function, me, write=served.write, autocommit=served.autocommit, **args)
    db.drain()
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    (result,) = outcome
    if isinstance(result, Failure):
        if not isinstance(result.value, MarketError):
            result.raiseException()
        e = result.value
        assert e.code in served.codes, f"{name} answered {e.code.name}, which it does not declare"
        return e.status, e.error, e.message
    return served.status, result


class Twins:
    """A migrated database of each backend, run as a server runs them."""

    def __init__(self, sqlite_url: str, postgresql_url: str) -> None:
        clock = task.Clock()
        self.dbs = {
            "SQLite": InlineDatabase(sqlite_url, clock, threads=1),
            "PostgreSQL": InlineDatabase(postgresql_url, clock, threads=1),
        }

    def close(self) -> None:
        for db in self.dbs.values():
            db.stop()

    def seed(self, scenario: Scenario) -> None:
        for db in self.dbs.values():
            db.run_sync("seed", seed, (scenario,))

    def same(self, name: str, me: int, **wire: Any) -> tuple[Any, ...]:
        """The answer of both, which must be the same."""
        answers = {}
        for backend, db in self.dbs.items():
            got = answer(db, name, me, **wire)
            if name == "CLIENT_CHECKOUT_ITEM" and got[0] == 200:
                # The one thing each backend has of its own: the time.
                got = (got[0], {k: v for k, v in got[1].items() if k != "created_at"})
            answers[backend] = got
        sqlite, postgresql = answers.values()
        assert sqlite == postgresql, f"{name} {wire}: {answers}"
        # How often each outcome came up: pytest --hypothesis-show-statistics.
        outcome = f"{name} {sqlite[0]}"
        if len(sqlite) == 3:
            outcome += f" {sqlite[1]['code']}"
            if sqlite[1]["code"] == "too_large":
                outcome += " (profit)" if "profit" in sqlite[2] else " (order)"
        event(outcome)
        return sqlite

    def same_state(self, when: str) -> None:
        states = {
            backend: db.run_sync("state", state, write=False) for backend, db in self.dbs.items()
        }
        sqlite, postgresql = states.values()
        for part in STATE:
            assert sqlite[part] == postgresql[part], (
                f"{part} {when}: SQLite {sqlite[part]}, PostgreSQL {postgresql[part]}"
            )


@pytest.fixture
def twins(migrated_url, databases, tmp_path):
    with databases.migrated_sqlite(tmp_path / "twin.sqlite3") as sqlite_url:
        made = Twins(sqlite_url, migrated_url)
        try:
            yield made
        finally:
            made.close()


def expected_total(twins: Twins, me: int, how: str) -> str | None:
    """The expected_total a customer sends: none, the cart's total now (as
    CLIENT_GET_PRICE tells it), or a cent off it."""
    if how == "none":
        return None
    status, total = twins.same("CLIENT_GET_PRICE", me)
    assert status == 200
    most = from_cents(MAX_TOTAL_CENTS)
    if how == "right":
        # Past the limit no total can be sent: the order's refusal shows
        # without it.
        return money(total) if Decimal("0.01") <= total <= most else None
    return money(min(total + Decimal("0.01"), most) if total < most else most - Decimal("0.01"))


# The edges, every run.  First: a line of exactly the stock, an order of
# exactly the order-total limit and one a product's price past it, a store
# whose profit reaches exactly the most a store holds; then ships and
# cancels of them.  Second: a store's profit passing the most by a cent,
# then reaching it exactly.
LIMIT_PRICE = MAX_TOTAL_CENTS // MAX_STOCK
EDGES = [
    Scenario(
        profits=[0, MAX_CENTS - 5 * LIMIT_PRICE],
        products=[(0, LIMIT_PRICE, MAX_STOCK, True), (1, LIMIT_PRICE, 5, True)],
        carts=[[(0, MAX_STOCK), (1, 1)], [(0, 1), (1, 6)]],
        steps=[
            ("checkout", 0, "none", None),  # too large by one unit of product 1
            ("remove", 0, 1),
            ("checkout", 0, "right", "1 Main St"),  # the limit to the cent
            ("checkout", 1, "none", None),  # both lines short
            ("restock", 0, 1),
            ("remove", 1, 1),
            ("add", 1, 1, 5),
            ("checkout", 1, "right", None),  # stock to the unit, profit to the cent
            ("ship", 0, 0),
            ("cancel", 0, True),  # shipped
            ("cancel", 1, True),
            ("cancel", 1, True),  # cancelled already
        ],
    ),
    Scenario(
        profits=[MAX_CENTS - 700],
        products=[(0, 350, 2, True), (0, 1, 1, True)],
        carts=[[(0, 2)], [(0, 2), (1, 1)]],
        steps=[
            ("checkout", 1, "right", None),  # past the most by a cent
            ("checkout", 0, "right", None),  # the most to the cent
            ("cancel", 0, False),  # not the customer's
            ("cancel", 0, True),
            ("remove", 1, 1),
            ("checkout", 1, "none", None),
        ],
    ),
]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenarios())
@example(EDGES[0])
@example(EDGES[1])
def test_checkout_and_cancel_are_the_same_on_sqlite_and_postgresql(twins, scenario):
    twins.seed(scenario)
    twins.same_state("as seeded")
    placed: list[tuple[int, int]] = []  # the orders placed, by both: (id, customer)

    def order(pick: int) -> tuple[int, int]:
        """An order placed and its customer, or an order that does not exist."""
        if pick == 3 or not placed:
            return 1000, 0
        return placed[pick % len(placed)]

    for number, step in enumerate(scenario.steps):
        kind, *what = step
        if kind == "checkout":
            who, how, address = what
            args = {"expected_total": expected_total(twins, who + 1, how), "address": address}
            got = twins.same(
                "CLIENT_CHECKOUT_ITEM",
                who + 1,
                **{name: value for name, value in args.items() if value is not None},
            )
            if got[0] == 200:
                placed.append((got[1]["order_id"], who))
        elif kind == "cancel":
            pick, by_owner = what
            order_id, who = order(pick)
            who = who if by_owner else CUSTOMERS - 1 - who
            twins.same("CLIENT_CANCEL_ORDER", who + 1, order_id=order_id)
        elif kind == "ship":
            store, pick = what
            order_id, _ = order(pick)
            twins.same("MERCHANT_SHIP_ORDER", store + 1, order_id=order_id, note="parcel 7")
        elif kind == "add":
            who, product, quantity = what
            twins.same("CLIENT_ADD_ITEM", who + 1, product_id=product + 1, quantity=quantity)
        elif kind == "remove":
            who, product = what
            twins.same("CLIENT_REMOVE_ITEM", who + 1, product_id=product + 1)
        else:
            product, value = what
            owner = scenario.products[product][0] + 1
            if kind == "shelf":
                op = "MERCHANT_PUT_ON_SHELF" if value else "MERCHANT_DEL_PRODUCT"
                twins.same(op, owner, product_id=product + 1)
            elif kind == "restock":
                twins.same(
                    "MERCHANT_RESTOCK_PRODUCT", owner, product_id=product + 1, quantity=value
                )
            else:
                price = money(from_cents(value))
                twins.same("SET_PRODUCT", owner, product_id=product + 1, price=price)
        twins.same_state(f"after step {number}, {step}")

    # What the stores and the customers read of it.
    for store in range(len(scenario.profits)):
        twins.same("MERCHANT_GET_PROFIT", store + 1)
        twins.same("MERCHANT_GET_SALES", store + 1)
    for customer in range(CUSTOMERS):
        twins.same("CLIENT_GET_ITEMS", customer + 1)
