"""A customer's cart, checkout and orders."""

import json
from decimal import Decimal
from typing import Any

from cybermarket.errors import (
    BadRequest,
    Conflict,
    EmptyCart,
    NotFound,
    ShortOfStock,
    What,
)
from cybermarket.i18n import N_, Nn_
from cybermarket.server.handlers import LAST_ID, handles, page, table
from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import MAX_CENTS, MAX_STOCK, from_cents, money

# An order's total must fit a BIGINT of cents with room to spare for the
# merchants' running profit (which CREDIT keeps within MAX_CENTS).
MAX_TOTAL_CENTS = 10**17

# One statement adds to the line or creates it, and only for a product on
# the shelf, and only within the line's cap; 0 rows changed means one of
# those failed, and DIAGNOSE tells which.
ADD = Query(
    "INSERT INTO cart_lines (client_id, product_id, quantity)"
    " SELECT ?, id, ? FROM products WHERE id = ? AND on_shelf"
    " ON CONFLICT (client_id, product_id) DO UPDATE"
    " SET quantity = cart_lines.quantity + excluded.quantity"
    " WHERE cart_lines.quantity + excluded.quantity <= ?"
)
DIAGNOSE = Query("SELECT on_shelf FROM products WHERE id = ?")
REMOVE = Query("DELETE FROM cart_lines WHERE client_id = ? AND product_id = ?")
ITEMS = Query(
    "SELECT m.storename, p.id, p.productname, p.price_cents, c.quantity, p.on_shelf,"
    f" {photos.path_of('p.id')}"
    " FROM cart_lines c JOIN products p ON p.id = c.product_id"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE c.client_id = ? ORDER BY p.id"
)
PRICES = Query(
    "SELECT p.price_cents, c.quantity FROM cart_lines c"
    " JOIN products p ON p.id = c.product_id WHERE c.client_id = ?"
)
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
    "INSERT INTO orders (client_id, created_at, total_cents) VALUES (?, ?, ?) RETURNING id"
)
ORDER_LINE = Query(
    "INSERT INTO order_lines"
    " (order_id, product_id, merchant_id, storename, productname, price_cents, quantity)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
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
# PostgreSQL: the whole checkout in one statement, one round trip (the
# function of migrations 0006 and 0008, the same steps as checkout()
# below, with the cart lines it reads locked).  Its refusals come back as
# these SQLSTATEs.
CHECKOUT = Query(
    "SELECT new_order, order_total FROM cybermarket_checkout(?, ?, ?, ?)", backend="postgresql"
)
SHORT, TOO_LARGE, PROFIT_TOO_LARGE = "CM001", "CM002", "CM003"
ORDERS = Query(
    "SELECT id, created_at, total_cents FROM orders"
    " WHERE client_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
)
MY_ORDER = Query("SELECT 1 FROM orders WHERE id = ? AND client_id = ?")
ORDER_LINES = Query(
    "SELECT storename, product_id, productname, price_cents, quantity"
    " FROM order_lines WHERE order_id = ? ORDER BY product_id"
)


@handles("CLIENT_ADD_ITEM")
def add_item(txn: Txn, me: int, product_id: int, quantity: int) -> None:
    txn.one_statement()  # ADD alone writes, all-or-nothing; DIAGNOSE only reads
    if txn.run(ADD, me, quantity, product_id, MAX_STOCK) == 1:
        return
    if not txn.value(DIAGNOSE, product_id):  # None (no such product) or off the shelf
        raise NotFound(
            N_("product_id: no product {product_id} on sale"),
            what=What.PRODUCT,
            product_id=product_id,
        )
    raise BadRequest(
        Nn_(
            "quantity: a cart line holds at most {n} unit",
            "quantity: a cart line holds at most {n} units",
        ),
        n=MAX_STOCK,
    )


@handles("CLIENT_REMOVE_ITEM")
def remove_item(txn: Txn, me: int, product_id: int) -> None:
    if txn.run(REMOVE, me, product_id) != 1:
        raise NotFound(
            N_("product_id: product {product_id} is not in the cart"),
            what=What.CART_LINE,
            product_id=product_id,
        )


@handles("CLIENT_GET_ITEMS", write=False)
def get_items(txn: Txn, me: int) -> dict[str, Any]:
    rows = [
        (store, pid, name, from_cents(price), quantity, bool(on_shelf), photo)
        for store, pid, name, price, quantity, on_shelf, photo in txn.rows(ITEMS, me)
    ]
    return table(
        ["storename", "product_id", "productname", "price", "quantity", "on_shelf", "photo"], rows
    )


@handles("CLIENT_GET_PRICE", write=False)
def get_price(txn: Txn, me: int) -> Decimal:
    # Summed in Python: exact whatever the sizes, where SQL would overflow.
    return from_cents(sum(price * quantity for price, quantity in txn.rows(PRICES, me)))


@handles("CLIENT_CHECKOUT_ITEM")
def checkout(txn: Txn, me: int) -> dict[str, Any]:
    """All or nothing.  Each line takes its stock with one conditional
    UPDATE, in product order, and then each store is credited, in store
    order, so that concurrent checkouts on PostgreSQL lock rows in one
    order and do not deadlock.  Any short line raises, and the transaction
    rolls back.  Only the lines read are deleted, at the quantities bought.
    SQLite runs this in one write transaction, which no other writer
    interleaves.  PostgreSQL runs the same steps in one statement
    (checkout_in_one), with the cart lines it reads locked FOR UPDATE."""
    if txn.postgres:
        return checkout_in_one(txn, me)
    wanted = txn.rows(WANTED, me)
    if not wanted:
        raise EmptyCart(N_("cart: the cart is empty"))
    taken: list[tuple[Any, ...]] = []
    short: list[int] = []
    for product_id, quantity in wanted:
        row = txn.row(TAKE, quantity, product_id, quantity)
        if row is None:
            short.append(product_id)
        else:
            taken.append((product_id, quantity, *row))
    if short:
        raise short_of_stock(txn, short)
    total = sum(quantity * price for _, quantity, _, _, price, _ in taken)
    if total > MAX_TOTAL_CENTS:
        raise order_too_large()
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
            raise profit_too_large(stores[merchant_id])
    created = now()
    order_id = txn.value(NEW_ORDER, me, txn.time(created), total)
    txn.run_many(
        ORDER_LINE,
        [
            (order_id, product_id, merchant_id, store, name, price, quantity)
            for product_id, quantity, merchant_id, name, price, store in taken
        ],
    )
    txn.run_many(BOUGHT, [(me, product_id, quantity) for product_id, quantity, *_ in taken])
    return {"order_id": order_id, "total": from_cents(total), "created_at": created}


def checkout_in_one(txn: Txn, me: int) -> dict[str, Any]:
    """PostgreSQL: checkout() in one statement (CHECKOUT), which is its own
    transaction; its refusals mapped to the same errors."""
    txn.one_statement()
    created = now()
    try:
        row = txn.row(CHECKOUT, me, created, MAX_TOTAL_CENTS, MAX_CENTS)
    except txn.Error as e:
        state = getattr(e, "sqlstate", None)
        detail = getattr(getattr(e, "diag", None), "message_detail", None) or ""
        if state == SHORT:
            # In autocommit the failed statement has rolled back by now:
            # what is read next is the stock on hand.
            raise short_of_stock(txn, [p for p, _ in json.loads(detail)]) from None
        if state == TOO_LARGE:
            raise order_too_large() from None
        if state == PROFIT_TOO_LARGE:
            raise profit_too_large(detail) from None
        raise
    if row is None:
        raise EmptyCart(N_("cart: the cart is empty"))
    order_id, total = row
    return {"order_id": order_id, "total": from_cents(total), "created_at": created}


def short_of_stock(txn: Txn, short: list[int]) -> ShortOfStock:
    """409 short_of_stock naming each short line, with its stock on hand
    and whether it is on the shelf (a product gone counts as 0, off)."""
    names: list[str] = []
    products: list[dict[str, Any]] = []
    for product_id in short:
        name, stock, on_shelf = txn.row(SHORT_LINE, product_id) or (None, 0, False)
        names.append(f"{name} (product_id {product_id})")
        products.append({"product_id": product_id, "stock": stock, "on_shelf": bool(on_shelf)})
    return ShortOfStock(
        N_("short of stock or off the shelf: {products}"),
        short=products,
        products=", ".join(names),
    )


def order_too_large() -> Conflict:
    return Conflict(N_("cart: the order total is too large"))


def profit_too_large(store: str) -> Conflict:
    return Conflict(
        N_(
            "cart: store {store} cannot take this order: its profit"
            " would pass {most}, the most this server holds"
        ),
        store=repr(store),
        most=money(from_cents(MAX_CENTS)),
    )


@handles("CLIENT_LIST_ORDERS", write=False, paged=True)
def list_orders(
    txn: Txn, me: int, limit: int, page_bytes: int, after: int | None = None
) -> dict[str, Any]:
    rows = txn.rows(ORDERS, me, LAST_ID if after is None else after, limit + 1)
    rows = [(oid, txn.read_time(created), from_cents(total)) for oid, created, total in rows]
    return page(["order_id", "created_at", "total"], rows, limit, page_bytes)


@handles("CLIENT_GET_ORDER", write=False)
def get_order(txn: Txn, me: int, order_id: int) -> dict[str, Any]:
    if txn.row(MY_ORDER, order_id, me) is None:
        raise NotFound(
            N_("order_id: no order {order_id} of yours"), what=What.ORDER, order_id=order_id
        )
    rows = [
        (store, pid, name, from_cents(price), quantity)
        for store, pid, name, price, quantity in txn.rows(ORDER_LINES, order_id)
    ]
    return table(["storename", "product_id", "productname", "price", "quantity"], rows)
