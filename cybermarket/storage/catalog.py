"""What anyone may see without logging in, as stored: the stores, their
products on the shelf, and the versions that say when a kept page of them
is still good (merchants.page_version, store_list_version: migration
0005's triggers move them in the same transaction as every change to what
the page shows).  The cache of packed pages is the server's
(cybermarket/server/pages.py).

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; money in whole cents.
"""

from collections.abc import Hashable
from typing import Any

from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn

LIST_MERCHANT = Query(
    "SELECT storename, description, email FROM merchants"
    " WHERE storename{C} > ? ORDER BY storename{C} LIMIT ?"
)
# One statement: the store and its page of products.  A store without
# products (on this page) still yields one row, with NULLs.  The store is
# found by its name's fold, whatever the spelling asked for.
LIST_PRODUCT = Query(
    "SELECT p.id, m.storename, p.productname, p.description, p.price_cents, p.stock,"
    f" {photos.path_of('p.id')}"
    " FROM merchants m LEFT JOIN products p"
    " ON p.merchant_id = m.id AND p.on_shelf AND p.id > ?"
    " WHERE m.storename_key = ? ORDER BY p.id LIMIT ?"
)
# The photo's path, or None (protocol 1.3): a new upload, or a removal,
# moves the store's page version (migration 0011), so a kept page never
# shows an old path.
PRODUCT = Query(
    "SELECT p.id, m.storename, p.productname, p.description, p.price_cents, p.stock,"
    f" {photos.path_of('p.id')}"
    " FROM products p JOIN merchants m ON m.id = p.merchant_id"
    " WHERE p.id = ? AND p.on_shelf"
)
# The versions, each one indexed read (the unique key of storename_key; the
# one row of store_list_version).
STORE_VERSION = Query("SELECT id, page_version FROM merchants WHERE storename_key = ?")
LIST_VERSION = Query("SELECT version FROM store_list_version WHERE id = 1")


def merchants_txn(txn: Txn, after: str, count: int) -> list[tuple[Any, ...]]:
    """Up to `count` stores after the name `after`, by code point:
    (storename, description, email)."""
    return txn.rows(LIST_MERCHANT, after, count)


def store_products_txn(txn: Txn, key: str, after: int, count: int) -> list[tuple[Any, ...]]:
    """Up to `count` products on the shelf of the store whose name folds to
    `key`, after product id `after`: (product_id, storename, productname,
    description, price_cents, stock, photo path).  No rows: no such store;
    one row of NULLs but the storename: no products on this page."""
    return txn.rows(LIST_PRODUCT, after, key, count)


def product_txn(txn: Txn, product_id: int) -> tuple[Any, ...] | None:
    """A product on the shelf, in store_products_txn's columns; None for
    one that is not (or not on the shelf)."""
    return txn.row(PRODUCT, product_id)


def store_version_txn(txn: Txn, key: str) -> Hashable | None:
    """(store id, page version) of the store whose name folds to `key`
    (a name can pass to another store, so the id counts too); None for no
    such store."""
    return txn.row(STORE_VERSION, key)


def list_version_txn(txn: Txn) -> Hashable | None:
    """The version of the list of stores."""
    version: Hashable | None = txn.value(LIST_VERSION)
    return version
