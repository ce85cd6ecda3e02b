"""A customer's cart, checkout and orders.  The statements are in
cybermarket/storage/cart.py and orders.py."""

from decimal import Decimal
from typing import Any

from cybermarket.errors import (
    BadRequest,
    Conflict,
    EmptyCart,
    NotFound,
    NotPlaced,
    ShortOfStock,
    TotalChanged,
    What,
)
from cybermarket.i18n import N_, Nn_
from cybermarket.server.handlers import LAST_ID, handles, page, table
from cybermarket.storage import cart, orders
from cybermarket.storage.txn import Txn, now
from cybermarket.values import MAX_CENTS, MAX_STOCK, cents, from_cents, money


# The add alone writes, all-or-nothing (cart.add_txn); the diagnosis only
# reads.
@handles("CLIENT_ADD_ITEM", autocommit=True)
def add_item(txn: Txn, me: int, product_id: int, quantity: int) -> None:
    if cart.add_txn(txn, me, product_id, quantity, MAX_STOCK):
        return
    if not cart.on_shelf_txn(txn, product_id):  # no such product, or off the shelf
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
    if not cart.remove_txn(txn, me, product_id):
        raise NotFound(
            N_("product_id: product {product_id} is not in the cart"),
            what=What.CART_LINE,
            product_id=product_id,
        )


@handles("CLIENT_GET_ITEMS", write=False)
def get_items(txn: Txn, me: int) -> dict[str, Any]:
    # stock (protocol 1.2): on hand now, so that a client can warn before
    # checkout.
    rows = [
        (store, pid, name, from_cents(price), quantity, bool(on_shelf), stock, photo)
        for store, pid, name, price, quantity, on_shelf, stock, photo in cart.items_txn(txn, me)
    ]
    return table(
        [
            "storename",
            "product_id",
            "productname",
            "price",
            "quantity",
            "on_shelf",
            "stock",
            "photo",
        ],
        rows,
    )


@handles("CLIENT_GET_PRICE", write=False)
def get_price(txn: Txn, me: int) -> Decimal:
    return from_cents(cart.total_cents_txn(txn, me))


# Autocommit: on PostgreSQL the checkout is one statement (orders.py's
# _checkout_in_one); SQLite commits in groups and takes it as a no-op.
@handles("CLIENT_CHECKOUT_ITEM", autocommit=True)
def checkout(
    txn: Txn, me: int, expected_total: Decimal | None = None, address: str | None = None
) -> dict[str, Any]:
    """All or nothing (cybermarket/storage/orders.py's checkout_txn, which
    says how on each backend); its refusals as the contract's errors."""
    created = now()
    expected = None if expected_total is None else cents(expected_total)
    try:
        placed = orders.checkout_txn(txn, me, created, expected, address)
    except orders.ShortOfStock as e:
        raise short_of_stock(e.products) from None
    except orders.TotalChanged as e:
        raise TotalChanged(from_cents(e.total_cents)) from None
    except orders.OrderTooLarge:
        raise order_too_large() from None
    except orders.ProfitTooLarge as e:
        raise profit_too_large(e.store) from None
    if placed is None:
        raise EmptyCart(N_("cart: the cart is empty"))
    order_id, total = placed
    return {"order_id": order_id, "total": from_cents(total), "created_at": created}


def short_of_stock(products: list[tuple[int, str | None, int, bool]]) -> ShortOfStock:
    """409 short_of_stock naming each short line, with its stock on hand
    and whether it is on the shelf (a product gone counts as 0, off)."""
    return ShortOfStock(
        N_("short of stock or off the shelf: {products}"),
        short=[
            {"product_id": p, "stock": stock, "on_shelf": on_shelf}
            for p, _, stock, on_shelf in products
        ],
        products=", ".join(f"{name} (product_id {p})" for p, name, _, _ in products),
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
    rows = [
        (oid, created, from_cents(total), status, cancellable, address)
        for oid, created, total, status, cancellable, address in orders.client_orders_txn(
            txn, me, LAST_ID if after is None else after, limit + 1
        )
    ]
    return page(
        ["order_id", "created_at", "total", "status", "cancellable", "address"],
        rows,
        limit,
        page_bytes,
    )


@handles("CLIENT_GET_ORDER", write=False)
def get_order(txn: Txn, me: int, order_id: int) -> dict[str, Any]:
    lines = orders.client_order_lines_txn(txn, me, order_id)
    if lines is None:
        raise NotFound(
            N_("order_id: no order {order_id} of yours"), what=What.ORDER, order_id=order_id
        )
    rows = [
        (store, pid, name, from_cents(price), quantity, status, note)
        for store, pid, name, price, quantity, status, note in lines
    ]
    return table(
        ["storename", "product_id", "productname", "price", "quantity", "status", "note"], rows
    )


# Autocommit: on PostgreSQL the cancellation is one statement (orders.py's
# _cancel_in_one).
@handles("CLIENT_CANCEL_ORDER", autocommit=True)
def cancel_order(txn: Txn, me: int, order_id: int) -> dict[str, Any]:
    """Every part still placed, at once (orders.cancel_txn)."""
    try:
        refunded, stores = orders.cancel_txn(txn, me, order_id, now())
    except orders.NoSuchOrder:
        raise NotFound(
            N_("order_id: no order {order_id} of yours"), what=What.ORDER, order_id=order_id
        ) from None
    except orders.NotPlaced as e:
        raise NotPlaced(e.status) from None
    return {"refunded": from_cents(refunded), "cancelled": stores}
