"""What anyone may see without logging in."""

from typing import Any

from cybermarket.codec import Packed
from cybermarket.errors import NotFound, What
from cybermarket.i18n import N_
from cybermarket.server.handlers import FIRST_NAME, NO_ID, handles, page
from cybermarket.server.pages import cached, list_version, store_version
from cybermarket.storage.txn import Query, Txn
from cybermarket.values import fold, from_cents

LIST_MERCHANT = Query(
    "SELECT storename, description, email FROM merchants"
    " WHERE storename{C} > ? ORDER BY storename{C} LIMIT ?"
)
# One statement: the store and its page of products.  A store without
# products (on this page) still yields one row, with NULLs.  The store is
# found by its name's fold, whatever the spelling asked for.
LIST_PRODUCT = Query(
    "SELECT p.id, m.storename, p.productname, p.description, p.price_cents, p.stock"
    " FROM merchants m LEFT JOIN products p"
    " ON p.merchant_id = m.id AND p.on_shelf AND p.id > ?"
    " WHERE m.storename_key = ? ORDER BY p.id LIMIT ?"
)
PRODUCT_COLUMNS = ["product_id", "storename", "productname", "description", "price", "stock"]


# What PING answers: the protocol version this server speaks.
PROTOCOL: dict[str, str] = {"protocol": "1.2"}


@handles("PING", write=False)
def ping(txn: Txn, me: int | None) -> dict[str, str]:
    return PROTOCOL


@handles("LIST_MERCHANT", write=False, paged=True)
def list_merchant(
    txn: Txn, me: int | None, limit: int, page_bytes: int, after: str | None = None
) -> dict[str, Any] | Packed:
    return cached(
        txn, ("LIST_MERCHANT", limit, after), list_version, _list_merchant, limit, page_bytes, after
    )


@handles("LIST_PRODUCT", write=False, paged=True)
def list_product(
    txn: Txn, me: int | None, storename: str, limit: int, page_bytes: int, after: int | None = None
) -> dict[str, Any] | Packed:
    # Cached by the key: every spelling of the name gets the same page.
    key = fold(storename)
    return cached(
        txn,
        ("LIST_PRODUCT", key, limit, after),
        lambda txn: store_version(txn, key),
        _list_product,
        storename,
        key,
        limit,
        page_bytes,
        after,
    )


def _list_merchant(txn: Txn, limit: int, page_bytes: int, after: str | None) -> dict[str, Any]:
    rows = txn.rows(LIST_MERCHANT, FIRST_NAME if after is None else after, limit + 1)
    return page(["storename", "description", "email"], rows, limit, page_bytes)


def _list_product(
    txn: Txn, storename: str, key: str, limit: int, page_bytes: int, after: int | None
) -> dict[str, Any]:
    rows = txn.rows(LIST_PRODUCT, NO_ID if after is None else after, key, limit + 1)
    if not rows:
        raise NotFound(
            N_("storename: no store named {storename}"), what=What.STORE, storename=repr(storename)
        )
    if rows[0][0] is None:
        rows = []
    return page(
        PRODUCT_COLUMNS,
        [
            (pid, store, name, text, from_cents(price), stock)
            for pid, store, name, text, price, stock in rows
        ],
        limit,
        page_bytes,
    )
