"""Orders as stored: the checkout that places them, the parts each store
ships and the customer cancels (protocol 1.2), and what the customer and
the stores read of them.

An order's lines are grouped by store, and each store's group is a part
(order_parts, cybermarket/storage/models.py) with a status: `placed` at
checkout, then `shipped` by the store or `cancelled` by the customer.  A
store's profit is always the total of its parts that are not cancelled:
the checkout credits each part's total, a cancel takes it off again.

Ship and cancel race for a part with one conditional UPDATE ... WHERE
status = 'placed' on its row: under any concurrency, in any process,
exactly one of them changes it, and the other finds it no longer placed.
On PostgreSQL the row is locked by whichever comes first and the other
waits, then reads the row as committed; SQLite runs one writer at a time
(and its group commit runs a group's requests one after another, each in
a savepoint of its own), so there they simply come one after the other.

The checkout and the cancel are each all or nothing.  SQLite runs the
Python below in one write transaction.  PostgreSQL runs each as one
function (cybermarket/storage/sql/checkout_v3.sql, cancel_v1.sql, created
by migration 0010), in one statement in autocommit: one round trip, the
statement its own transaction.  The Python here and the function of each
are twins: the same steps in the same order, the same locks in the same
order (the function's header says which).  tests/test_checkout_equivalence.py
holds them together: it plays the same random market (stock, prices and
profits at their limits, shelves, carts, totals, ships and cancels) on a
database of each backend and compares every answer and every row.

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; money in whole cents.  A
refusal that must undo what the function has written raises a Refusal,
which rolls the transaction back; the handlers decide which error a
client sees.
"""

import json
from datetime import datetime
from typing import Any

from cybermarket.storage.txn import Query, Txn
from cybermarket.values import CANCELLED, MAX_CENTS, MAX_TOTAL_CENTS, PLACED, SHIPPED

# --- refusals -------------------------------------------------------------


class Refusal(Exception):
    """Checkout or cancel refused: nothing of it happens."""


class ShortOfStock(Refusal):
    def __init__(self, products: list[tuple[int, str | None, int, bool]]) -> None:
        super().__init__(products)
        # (product_id, productname, stock on hand, on the shelf) of each
        # short line; a product gone is (None, 0, False).
        self.products = products


class TotalChanged(Refusal):
    def __init__(self, total_cents: int) -> None:
        super().__init__(total_cents)
        self.total_cents = total_cents  # the cart's total now


class OrderTooLarge(Refusal):
    pass


class ProfitTooLarge(Refusal):
    def __init__(self, store: str) -> None:
        super().__init__(store)
        self.store = store


class NoSuchOrder(Refusal):
    """No such order of this customer (or with a part of this store)."""


class NotPlaced(Refusal):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status  # the order's (or the part's) status now


# --- checkout ---------------------------------------------------------------

WANTED = Query(
    "SELECT product_id, quantity FROM cart_lines WHERE client_id = ? ORDER BY product_id"
)
# The checkout's core: check and take in one step, so that no concurrent
# checkout, in any process, can take the same units.  The store's name comes
# back with the product, for the order line (the product's row is locked by
# now, and a store's row is only read).
TAKE = Query(
    "UPDATE products SET stock = stock - ?"
    " WHERE id = ? AND stock >= ? AND on_shelf"
    " RETURNING merchant_id, productname, price_cents,"
    " (SELECT storename FROM merchants m WHERE m.id = products.merchant_id)"
)
# A short line as short_of_stock tells it: the stock on hand now.
SHORT_LINE = Query("SELECT productname, stock, on_shelf FROM products WHERE id = ?")
NEW_ORDER = Query(
    "INSERT INTO orders (client_id, created_at, total_cents, username, address)"
    " VALUES (?, ?, ?, (SELECT username FROM clients WHERE id = ?), ?) RETURNING id"
)
ORDER_LINE = Query(
    "INSERT INTO order_lines"
    " (order_id, product_id, merchant_id, storename, productname, price_cents, quantity)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
NEW_PART = Query(
    "INSERT INTO order_parts (order_id, merchant_id, storename, total_cents, status)"
    " VALUES (?, ?, ?, ?, 'placed')"
)
# Conditional, like TAKE: the sum is checked against what the column holds in
# the same step that adds to it.  Unchecked, SQLite turns an overflowing
# sum into a float and PostgreSQL stops with an error.
CREDIT = Query(
    "UPDATE merchants SET profit_cents = profit_cents + ? WHERE id = ? AND profit_cents <= ?"
    " RETURNING id"
)
# Exactly the lines bought, at the quantities bought: never a line the
# checkout did not read (nor one that changed since), so that a line added
# while a checkout runs is either in the order or still in the cart.
BOUGHT = Query("DELETE FROM cart_lines WHERE client_id = ? AND product_id = ? AND quantity = ?")
# PostgreSQL: the whole checkout in one statement (checkout_v3.sql).  Its
# refusals come back as these SQLSTATEs.
CHECKOUT = Query(
    "SELECT new_order, order_total FROM cybermarket_checkout(?, ?, ?, ?, ?, ?)",
    backend="postgresql",
)
SHORT, TOO_LARGE, PROFIT_TOO_LARGE, TOTAL_CHANGED = "CM001", "CM002", "CM003", "CM004"


def checkout_txn(
    txn: Txn, customer: int, created: datetime, expected: int | None, address: str | None
) -> tuple[int, int] | None:
    """Buy the customer's cart: (order id, total in cents), or None for an
    empty cart.  `expected`: the total the customer saw, in cents, or None.

    All or nothing.  Each line takes its stock with one conditional UPDATE,
    in product order, and then each store is credited, in store order, so
    that concurrent checkouts on PostgreSQL lock rows in one order and do
    not deadlock.  Refusals, the first that applies: ShortOfStock (every
    short line), TotalChanged, OrderTooLarge, ProfitTooLarge.  Only the
    lines read are deleted, at the quantities bought."""
    if txn.postgres:
        return _checkout_in_one(txn, customer, created, expected, address)
    wanted = txn.rows(WANTED, customer)
    if not wanted:
        return None
    taken: list[tuple[Any, ...]] = []
    short: list[int] = []
    for product_id, quantity in wanted:
        row = txn.row(TAKE, quantity, product_id, quantity)
        if row is None:
            short.append(product_id)
        else:
            taken.append((product_id, quantity, *row))
    if short:
        raise ShortOfStock(_short_lines(txn, short))
    total = sum(quantity * price for _, quantity, _, _, price, _ in taken)
    if expected is not None and total != expected:
        raise TotalChanged(total)
    if total > MAX_TOTAL_CENTS:
        raise OrderTooLarge()
    credit: dict[int, int] = {}
    stores: dict[int, str] = {}
    for _, quantity, merchant_id, _, price, store in taken:
        credit[merchant_id] = credit.get(merchant_id, 0) + quantity * price
        stores[merchant_id] = store
    for merchant_id in sorted(credit):
        if (
            txn.row(CREDIT, credit[merchant_id], merchant_id, MAX_CENTS - credit[merchant_id])
            is None
        ):
            raise ProfitTooLarge(stores[merchant_id])
    order_id: int = txn.value(NEW_ORDER, customer, txn.time(created), total, customer, address)
    txn.run_many(
        ORDER_LINE,
        [
            (order_id, product_id, merchant_id, store, name, price, quantity)
            for product_id, quantity, merchant_id, name, price, store in taken
        ],
    )
    txn.run_many(NEW_PART, [(order_id, m, stores[m], credit[m]) for m in sorted(credit)])
    txn.run_many(BOUGHT, [(customer, product_id, quantity) for product_id, quantity, *_ in taken])
    return order_id, total


def _short_lines(txn: Txn, short: list[int]) -> list[tuple[int, str | None, int, bool]]:
    found = []
    for product_id in short:
        name, stock, on_shelf = txn.row(SHORT_LINE, product_id) or (None, 0, False)
        found.append((product_id, name, int(stock), bool(on_shelf)))
    return found


def _checkout_in_one(
    txn: Txn, customer: int, created: datetime, expected: int | None, address: str | None
) -> tuple[int, int] | None:
    """PostgreSQL: checkout_txn in one statement (CHECKOUT), which is its
    own transaction; its refusals mapped to the same Refusals."""
    txn.one_statement()
    try:
        row = txn.row(CHECKOUT, customer, created, MAX_TOTAL_CENTS, MAX_CENTS, expected, address)
    except txn.Error as e:
        state = getattr(e, "sqlstate", None)
        detail = getattr(getattr(e, "diag", None), "message_detail", None) or ""
        if state == SHORT:
            # In autocommit the failed statement has rolled back by now:
            # what is read next is the stock on hand.
            raise ShortOfStock(_short_lines(txn, [p for p, _ in json.loads(detail)])) from None
        if state == TOTAL_CHANGED:
            raise TotalChanged(int(detail)) from None
        if state == TOO_LARGE:
            raise OrderTooLarge() from None
        if state == PROFIT_TOO_LARGE:
            raise ProfitTooLarge(detail) from None
        raise
    if row is None:
        return None
    return row[0], row[1]


# --- cancel -------------------------------------------------------------------

MY_ORDER = Query("SELECT 1 FROM orders WHERE id = ? AND client_id = ?")
# Every part still placed, at once: what comes back is what this cancel
# changed, and nothing else can change those rows any more.
CANCEL_PARTS = Query(
    "UPDATE order_parts SET status = 'cancelled', changed_at = ?"
    " WHERE order_id = ? AND status = 'placed'"
    " RETURNING merchant_id, total_cents, storename"
)
# The order's status as CLIENT_LIST_ORDERS gives it: its parts' when they
# all have one, else partial.
ORDER_STATUS = Query(
    "SELECT CASE WHEN MIN(status) = MAX(status) THEN MIN(status) ELSE 'partial' END"
    " FROM order_parts WHERE order_id = ?"
)
PART_LINES = Query(
    "SELECT product_id, quantity FROM order_lines WHERE order_id = ? AND merchant_id = ?"
)
# Back on the shelf's count, on or off the shelf, past the restock limit
# if it must: a cancel is never refused for that.
STOCK_BACK = Query("UPDATE products SET stock = stock + ? WHERE id = ?")
# Never below zero while profit is the total of the parts not cancelled,
# of which this part is one (and the CHECK of profit_cents holds anyway).
DEBIT = Query("UPDATE merchants SET profit_cents = profit_cents - ? WHERE id = ?")
CANCEL = Query("SELECT refunded, stores FROM cybermarket_cancel(?, ?, ?)", backend="postgresql")
NO_ORDER, NOTHING_PLACED = "CM005", "CM006"


def cancel_txn(txn: Txn, customer: int, order_id: int, changed: datetime) -> tuple[int, list[str]]:
    """Cancel every part of the customer's order that is still placed:
    (the cancelled parts' total in cents, their stores' names at purchase,
    in store order).  Each line of those parts gives its units back to its
    product's stock (in product order), and each store's profit goes down
    by its part's total (in store order).  NoSuchOrder for an order that is
    not the customer's; NotPlaced (the order's status) when no part is
    placed."""
    if txn.postgres:
        return _cancel_in_one(txn, customer, order_id, changed)
    if txn.row(MY_ORDER, order_id, customer) is None:
        raise NoSuchOrder()
    parts = sorted(txn.rows(CANCEL_PARTS, txn.time(changed), order_id))
    if not parts:
        raise NotPlaced(txn.value(ORDER_STATUS, order_id))
    lines: list[tuple[int, int]] = []
    for merchant_id, _, _ in parts:
        lines.extend(txn.rows(PART_LINES, order_id, merchant_id))
    txn.run_many(STOCK_BACK, [(quantity, pid) for pid, quantity in sorted(lines)])
    txn.run_many(DEBIT, [(total, merchant_id) for merchant_id, total, _ in parts])
    return sum(total for _, total, _ in parts), [store for _, _, store in parts]


def _cancel_in_one(
    txn: Txn, customer: int, order_id: int, changed: datetime
) -> tuple[int, list[str]]:
    """PostgreSQL: cancel_txn in one statement (CANCEL, cancel_v1.sql)."""
    txn.one_statement()
    try:
        row = txn.row(CANCEL, customer, order_id, changed)
    except txn.Error as e:
        state = getattr(e, "sqlstate", None)
        if state == NO_ORDER:
            raise NoSuchOrder() from None
        if state == NOTHING_PLACED:
            detail = getattr(getattr(e, "diag", None), "message_detail", None) or ""
            raise NotPlaced(detail) from None
        raise
    assert row is not None  # the function returns a row or raises
    return row[0], list(row[1])


# --- ship ---------------------------------------------------------------------

# The part's one step from placed to shipped: 0 rows when it is not placed
# (any more), whoever changed it first.
SHIP = Query(
    "UPDATE order_parts SET status = 'shipped', note = ?, changed_at = ?"
    " WHERE order_id = ? AND merchant_id = ? AND status = 'placed'"
)
PART_STATUS = Query("SELECT status FROM order_parts WHERE order_id = ? AND merchant_id = ?")


def ship_txn(txn: Txn, merchant: int, order_id: int, note: str | None, changed: datetime) -> None:
    """Mark the store's part of the order shipped, with its note.
    NoSuchOrder when the order has no part of this store; NotPlaced (the
    part's status) when it is shipped or cancelled already."""
    txn.one_statement()  # SHIP alone writes, all-or-nothing; PART_STATUS only reads
    if txn.run(SHIP, note, txn.time(changed), order_id, merchant) == 1:
        return
    status = txn.value(PART_STATUS, order_id, merchant)
    if status is None:
        raise NoSuchOrder()
    raise NotPlaced(status)


# --- what the customer reads ---------------------------------------------------

# A page of the customer's orders, each with its parts' status summed up:
# the one status when all parts have it, else partial; cancellable while
# some part is placed.
CLIENT_ORDERS = Query(
    "SELECT o.id, o.created_at, o.total_cents, MIN(p.status), MAX(p.status),"
    " MAX(CASE WHEN p.status = 'placed' THEN 1 ELSE 0 END), o.address"
    " FROM orders o JOIN order_parts p ON p.order_id = o.id"
    " WHERE o.client_id = ? AND o.id < ?"
    " GROUP BY o.id, o.created_at, o.total_cents, o.address"
    " ORDER BY o.id DESC LIMIT ?"
)
CLIENT_ORDER_LINES = Query(
    "SELECT l.storename, l.product_id, l.productname, l.price_cents, l.quantity,"
    " p.status, p.note"
    " FROM order_lines l JOIN order_parts p"
    " ON p.order_id = l.order_id AND p.merchant_id = l.merchant_id"
    " WHERE l.order_id = ? ORDER BY l.product_id"
)


def client_orders_txn(
    txn: Txn, customer: int, before: int, count: int
) -> list[tuple[int, datetime, int, str, bool, str | None]]:
    """Up to `count` of the customer's orders with ids below `before`,
    newest first: (order_id, created_at, total_cents, status, cancellable,
    address)."""
    return [
        (
            oid,
            txn.read_time(created),
            total,
            low if low == high else "partial",
            bool(placed),
            address,
        )
        for oid, created, total, low, high, placed, address in txn.rows(
            CLIENT_ORDERS, customer, before, count
        )
    ]


def client_order_lines_txn(
    txn: Txn, customer: int, order_id: int
) -> list[tuple[str, int, str, int, int, str, str | None]] | None:
    """The lines of the customer's order, by product_id: (storename,
    product_id, productname, price_cents, quantity, the part's status, the
    part's note); None when it is not the customer's order."""
    if txn.row(MY_ORDER, order_id, customer) is None:
        return None
    return [tuple(row) for row in txn.rows(CLIENT_ORDER_LINES, order_id)]


# --- what a store reads ---------------------------------------------------------

_STORE_ORDERS = (
    "SELECT p.order_id, o.created_at, o.username, o.address, p.total_cents, p.status, p.note"
    " FROM order_parts p JOIN orders o ON o.id = p.order_id"
    " WHERE p.merchant_id = ? {status}AND p.order_id < ?"
    " ORDER BY p.order_id DESC LIMIT ?"
)
# One statement each, with and without the status filter, so that each
# walks its own index (ix_order_parts_merchant_status, ix_order_parts_merchant)
# and the filter applies before the LIMIT.
STORE_ORDERS = Query(_STORE_ORDERS.format(status=""))
STORE_ORDERS_OF_STATUS = Query(_STORE_ORDERS.format(status="AND p.status = ? "))
STORE_ORDER_LINES = Query(
    "SELECT product_id, productname, price_cents, quantity FROM order_lines"
    " WHERE order_id = ? AND merchant_id = ? ORDER BY product_id"
)


def store_orders_txn(
    txn: Txn, merchant: int, status: str | None, before: int, count: int
) -> list[tuple[int, datetime, str, str | None, int, str, str | None]]:
    """Up to `count` of the store's parts of orders with ids below `before`
    (of the status given, if any), newest first: (order_id, created_at,
    the customer's username at purchase, address, the part's total_cents,
    status, note)."""
    if status is None:
        rows = txn.rows(STORE_ORDERS, merchant, before, count)
    else:
        rows = txn.rows(STORE_ORDERS_OF_STATUS, merchant, status, before, count)
    return [
        (oid, txn.read_time(created), user, address, total, status_, note)
        for oid, created, user, address, total, status_, note in rows
    ]


def store_order_lines_txn(
    txn: Txn, merchant: int, order_id: int
) -> list[tuple[int, str, int, int]]:
    """The store's lines of the order, by product_id: (product_id,
    productname, price_cents, quantity); none for an order without a line
    of this store."""
    return [tuple(row) for row in txn.rows(STORE_ORDER_LINES, order_id, merchant)]


# The statuses a part can have (models.OrderPart), for those who list them.
STATUSES = (PLACED, SHIPPED, CANCELLED)
