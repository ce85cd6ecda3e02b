"""A store's orders (protocol 1.2): its parts of them, listed, read and
shipped.  The statements are in cybermarket/storage/orders.py."""

from typing import Any

from cybermarket.errors import NotFound, NotPlaced, What
from cybermarket.i18n import N_
from cybermarket.server.handlers import LAST_ID, handles, page, table
from cybermarket.storage import orders
from cybermarket.storage.txn import Txn, now
from cybermarket.values import from_cents

NO_ORDER = N_("order_id: no order {order_id} with a line of your store")


@handles("MERCHANT_LIST_ORDERS", write=False, paged=True)
def list_store_orders(
    txn: Txn,
    me: int,
    limit: int,
    page_bytes: int,
    status: str | None = None,
    after: int | None = None,
) -> dict[str, Any]:
    rows = [
        (oid, created, username, address, from_cents(total), status_, note)
        for oid, created, username, address, total, status_, note in orders.store_orders_txn(
            txn, me, status, LAST_ID if after is None else after, limit + 1
        )
    ]
    return page(
        ["order_id", "created_at", "username", "address", "total", "status", "note"],
        rows,
        limit,
        page_bytes,
    )


@handles("MERCHANT_GET_ORDER", write=False)
def get_store_order(txn: Txn, me: int, order_id: int) -> dict[str, Any]:
    lines = orders.store_order_lines_txn(txn, me, order_id)
    if not lines:
        raise NotFound(NO_ORDER, what=What.ORDER, order_id=order_id)
    return table(
        ["product_id", "productname", "price", "quantity"],
        [(pid, name, from_cents(price), quantity) for pid, name, price, quantity in lines],
    )


@handles("MERCHANT_SHIP_ORDER")
def ship_order(txn: Txn, me: int, order_id: int, note: str | None = None) -> None:
    """Exactly one of a ship and a cancel of the part wins (orders.ship_txn)."""
    try:
        orders.ship_txn(txn, me, order_id, note, now())
    except orders.NoSuchOrder:
        raise NotFound(NO_ORDER, what=What.ORDER, order_id=order_id) from None
    except orders.NotPlaced as e:
        raise NotPlaced(e.status) from None
