"""A merchant's shelf as stored: products, their stock, and the store's
profit and sales.

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; money in whole cents.
"""

from datetime import datetime
from typing import Any

from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn
from cybermarket.values import search_terms

OWNER = Query("SELECT merchant_id FROM products WHERE id = ?")
# A product's terms for search (values.search_terms) are written with its
# name and description, and the search index follows in the same
# transaction (PostgreSQL's GIN index; SQLite's FTS5 table by triggers).
ADD = Query(
    "INSERT INTO products"
    " (merchant_id, productname, description, price_cents, stock, on_shelf, created_at,"
    " name_words, description_words)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
SHELVE = Query("UPDATE products SET on_shelf = ? WHERE id = ?")
# Conditional, like checkout's: the cap holds under concurrent restocks.
RESTOCK = Query("UPDATE products SET stock = stock + ? WHERE id = ? AND stock <= ?")
# Each field is set to itself when not given: one statement for every mix.
EDIT = Query(
    "UPDATE products SET productname = COALESCE(?, productname),"
    " description = COALESCE(?, description), price_cents = COALESCE(?, price_cents),"
    " name_words = COALESCE(?, name_words), description_words = COALESCE(?, description_words)"
    " WHERE id = ?"
)
MINE = Query(
    "SELECT p.id, p.productname, p.description, p.price_cents, p.stock, p.on_shelf,"
    f" {photos.path_of('p.id')} FROM products p"
    " WHERE p.merchant_id = ? AND p.id > ? ORDER BY p.id LIMIT ?"
)
PROFIT = Query("SELECT profit_cents FROM merchants WHERE id = ?")
# Only the parts that are not cancelled (protocol 1.2): the sales are what
# the profit counts.  Summed by the database.  PostgreSQL's SUM of a BIGINT is a NUMERIC, exact
# at any size; SQLite's stops with "integer overflow" past 2^63 - 1 rather
# than round (sales_txn).
SALES = Query(
    "SELECT l.product_id, p.productname, SUM(l.quantity) AS sold,"
    " SUM(l.quantity * l.price_cents) AS revenue"
    " FROM order_lines l JOIN products p ON p.id = l.product_id"
    " JOIN order_parts o ON o.order_id = l.order_id AND o.merchant_id = l.merchant_id"
    " WHERE l.merchant_id = ? AND o.status <> 'cancelled'"
    " GROUP BY l.product_id, p.productname"
    " ORDER BY revenue DESC, l.product_id"
)


def words(text: str | None) -> str | None:
    """A productname's or description's search terms (its words as search
    compares them, with CJK text as its characters and their pairs), joined
    by spaces: what products.name_words and description_words hold; None
    for None."""
    return None if text is None else " ".join(search_terms(text))


def owner_txn(txn: Txn, product_id: int) -> int | None:
    """The merchant id of the product; None for no such product."""
    owner: int | None = txn.value(OWNER, product_id)
    return owner


def add_txn(
    txn: Txn,
    merchant: int,
    productname: str,
    description: str,
    price_cents: int,
    stock: int,
    created: datetime,
) -> int:
    """A new product, on the shelf, with its search terms; its id."""
    product_id: int = txn.value(
        ADD,
        merchant,
        productname,
        description,
        price_cents,
        stock,
        True,
        txn.time(created),
        words(productname),
        words(description),
    )
    return product_id


def shelve_txn(txn: Txn, product_id: int, on_shelf: bool) -> None:
    txn.run(SHELVE, on_shelf, product_id)


def restock_txn(txn: Txn, product_id: int, quantity: int, most: int) -> bool:
    """Add to the stock, unless it would pass `most`; whether it did."""
    return txn.run(RESTOCK, quantity, product_id, most - quantity) == 1


def edit_txn(
    txn: Txn,
    product_id: int,
    productname: str | None,
    description: str | None,
    price_cents: int | None,
) -> None:
    """Set the fields given (not None), and the search terms with them."""
    txn.run(
        EDIT,
        productname,
        description,
        price_cents,
        words(productname),
        words(description),
        product_id,
    )


def store_products_txn(txn: Txn, merchant: int, after: int, count: int) -> list[tuple[Any, ...]]:
    """Up to `count` of the store's products after product id `after`, on
    the shelf or not: (product_id, productname, description, price_cents,
    stock, on_shelf, photo path)."""
    return txn.rows(MINE, merchant, after, count)


def profit_txn(txn: Txn, merchant: int) -> int | None:
    """The store's profit in cents; None when what is stored is not an
    exact count (SQLite's float for a sum that overflowed)."""
    profit = txn.value(PROFIT, merchant)
    return profit if type(profit) is int else None


def sales_txn(txn: Txn, merchant: int) -> list[tuple[int, str, int, int]] | None:
    """(product_id, productname, quantity sold, revenue in cents) of each
    product ever sold, revenue descending (product_id breaks ties); None
    when a sum passes what the database counts exactly (only SQLite data
    written before the limits were checked can)."""
    try:
        rows = txn.rows(SALES, merchant)
    except txn.OperationalError as e:
        if txn.postgres or "integer overflow" not in str(e):
            raise
        return None
    # A float is SQLite's product of a quantity and a price that
    # overflowed.
    if any(isinstance(revenue, float) for _, _, _, revenue in rows):
        return None
    # int(): PostgreSQL's SUMs are Decimals.
    return [(pid, name, int(sold), int(revenue)) for pid, name, sold, revenue in rows]
