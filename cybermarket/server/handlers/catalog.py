"""What anyone may see without logging in.  The statements are in
cybermarket/storage/catalog.py; the cache of pages in server/pages.py."""

from typing import Any

from cybermarket.codec import Packed
from cybermarket.errors import NotFound, What
from cybermarket.i18n import N_
from cybermarket.server.handlers import FIRST_NAME, NO_ID, handles, page
from cybermarket.server.pages import cached
from cybermarket.storage import catalog
from cybermarket.storage.txn import Txn
from cybermarket.values import fold, from_cents

# The photo's path, or None (protocol 1.3).
PRODUCT_COLUMNS = [
    "product_id",
    "storename",
    "productname",
    "description",
    "price",
    "stock",
    "photo",
]
# What PING answers: the protocol version this server speaks.
PROTOCOL: dict[str, str] = {"protocol": "1.3"}


@handles("PING", write=False)
def ping(txn: Txn, me: int | None) -> dict[str, str]:
    return PROTOCOL


@handles("LIST_MERCHANT", write=False, paged=True)
def list_merchant(
    txn: Txn, me: int | None, limit: int, page_bytes: int, after: str | None = None
) -> dict[str, Any] | Packed:
    return cached(
        txn,
        ("LIST_MERCHANT", limit, after),
        catalog.list_version_txn,
        _list_merchant,
        limit,
        page_bytes,
        after,
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
        lambda txn: catalog.store_version_txn(txn, key),
        _list_product,
        storename,
        key,
        limit,
        page_bytes,
        after,
    )


@handles("GET_PRODUCT", write=False)
def get_product(txn: Txn, me: int | None, product_id: int) -> dict[str, Any]:
    """A product page: the LIST_PRODUCT columns as a map, for a product on
    the shelf (one taken off is not found, as in the listing)."""
    row = catalog.product_txn(txn, product_id)
    if row is None:
        raise NotFound(
            N_("product_id: no product {product_id}"), what=What.PRODUCT, product_id=product_id
        )
    pid, store, name, text, price, stock, photo = row
    values = (pid, store, name, text, from_cents(price), stock, photo)
    return dict(zip(PRODUCT_COLUMNS, values, strict=True))


def _list_merchant(txn: Txn, limit: int, page_bytes: int, after: str | None) -> dict[str, Any]:
    rows = catalog.merchants_txn(txn, FIRST_NAME if after is None else after, limit + 1)
    return page(["storename", "description", "email"], rows, limit, page_bytes)


def _list_product(
    txn: Txn, storename: str, key: str, limit: int, page_bytes: int, after: int | None
) -> dict[str, Any]:
    rows = catalog.store_products_txn(txn, key, NO_ID if after is None else after, limit + 1)
    if not rows:
        raise NotFound(
            N_("storename: no store named {storename}"), what=What.STORE, storename=repr(storename)
        )
    if rows[0][0] is None:
        rows = []
    return page(
        PRODUCT_COLUMNS,
        [
            (pid, store, name, text, from_cents(price), stock, photo)
            for pid, store, name, text, price, stock, photo in rows
        ],
        limit,
        page_bytes,
    )
