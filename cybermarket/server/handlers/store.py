"""A merchant's shelf: products, stock, profit and sales."""

from decimal import Decimal
from typing import Any

from cybermarket.errors import BadRequest, Conflict, Forbidden, NotFound, What
from cybermarket.i18n import N_
from cybermarket.server.handlers import NO_ID, handles, page, table
from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import MAX_CENTS, MAX_STOCK, cents, from_cents, money, search_terms

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
# than round (get_sales).
SALES = Query(
    "SELECT l.product_id, p.productname, SUM(l.quantity) AS sold,"
    " SUM(l.quantity * l.price_cents) AS revenue"
    " FROM order_lines l JOIN products p ON p.id = l.product_id"
    " JOIN order_parts o ON o.order_id = l.order_id AND o.merchant_id = l.merchant_id"
    " WHERE l.merchant_id = ? AND o.status <> 'cancelled'"
    " GROUP BY l.product_id, p.productname"
    " ORDER BY revenue DESC, l.product_id"
)
# Past this, an amount read back was not written by a checkout that kept
# within the limit: only SQLite could have stored it, before the limit was
# checked, as a float or an overflowing sum.
MOST = money(from_cents(MAX_CENTS))


def words(text: str | None) -> str | None:
    """A productname's or description's search terms (its words as search
    compares them, with CJK text as its characters and their pairs), joined
    by spaces: what products.name_words and description_words hold; None
    for None."""
    return None if text is None else " ".join(search_terms(text))


def own_product(txn: Txn, me: int, product_id: int) -> None:
    """404 for a product that does not exist, 403 for another store's."""
    owner = txn.value(OWNER, product_id)
    if owner is None:
        raise NotFound(
            N_("product_id: no product {product_id}"), what=What.PRODUCT, product_id=product_id
        )
    if owner != me:
        raise Forbidden(
            N_("product_id: product {product_id} belongs to another store"), product_id=product_id
        )


@handles("MERCHANT_ADD_PRODUCT")
def add_product(
    txn: Txn, me: int, productname: str, price: Decimal, description: str, stock: int = 0
) -> dict[str, Any]:
    product_id = txn.value(
        ADD,
        me,
        productname,
        description,
        cents(price),
        stock,
        True,
        txn.time(now()),
        words(productname),
        words(description),
    )
    return {"product_id": product_id}


@handles("MERCHANT_DEL_PRODUCT")
def del_product(txn: Txn, me: int, product_id: int) -> None:
    own_product(txn, me, product_id)
    txn.run(SHELVE, False, product_id)


@handles("MERCHANT_PUT_ON_SHELF")
def put_on_shelf(txn: Txn, me: int, product_id: int) -> None:
    own_product(txn, me, product_id)
    txn.run(SHELVE, True, product_id)


@handles("MERCHANT_RESTOCK_PRODUCT")
def restock(txn: Txn, me: int, product_id: int, quantity: int) -> None:
    own_product(txn, me, product_id)
    if txn.run(RESTOCK, quantity, product_id, MAX_STOCK - quantity) != 1:
        raise BadRequest(N_("quantity: stock would exceed {most}"), most=MAX_STOCK)


@handles("SET_PRODUCT")
def set_product(
    txn: Txn,
    me: int,
    product_id: int,
    productname: str | None = None,
    description: str | None = None,
    price: Decimal | None = None,
) -> None:
    # Op.one_of has made sure at least one field is given.
    own_product(txn, me, product_id)
    txn.run(
        EDIT,
        productname,
        description,
        None if price is None else cents(price),
        words(productname),
        words(description),
        product_id,
    )


@handles("MERCHANT_LIST_PRODUCTS", write=False, paged=True)
def list_products(
    txn: Txn, me: int, limit: int, page_bytes: int, after: int | None = None
) -> dict[str, Any]:
    rows = [
        (pid, name, text, from_cents(price), stock, bool(on_shelf), photo)
        for pid, name, text, price, stock, on_shelf, photo in txn.rows(
            MINE, me, NO_ID if after is None else after, limit + 1
        )
    ]
    return page(
        ["product_id", "productname", "description", "price", "stock", "on_shelf", "photo"],
        rows,
        limit,
        page_bytes,
    )


@handles("MERCHANT_GET_PROFIT", write=False)
def get_profit(txn: Txn, me: int) -> Decimal:
    profit = txn.value(PROFIT, me)
    if type(profit) is not int:  # SQLite's float for a sum that overflowed
        raise Conflict(N_("profit: past {most}, the most this server can count exactly"), most=MOST)
    return from_cents(profit)


SALES_PAST = N_("sales: revenue past {most}, the most this server can count exactly")
SALES_COLUMNS = ["product_id", "productname", "quantity_sold", "revenue"]


@handles("MERCHANT_GET_SALES", write=False)
def get_sales(txn: Txn, me: int) -> dict[str, Any]:
    """One row per product ever sold, revenue descending (product_id breaks
    ties).  Sales taken by checkout never sum past the store's profit,
    which stays within MAX_CENTS; older SQLite data may, and is refused
    rather than shown wrong."""
    try:
        rows = txn.rows(SALES, me)
    except txn.OperationalError as e:
        if txn.postgres or "integer overflow" not in str(e):
            raise
        raise Conflict(SALES_PAST, most=MOST) from None
    # int(): PostgreSQL's SUMs are Decimals.  A float is SQLite's product
    # of a quantity and a price that overflowed.
    if any(isinstance(revenue, float) for _, _, _, revenue in rows):
        raise Conflict(SALES_PAST, most=MOST)
    return table(
        SALES_COLUMNS,
        [(pid, name, int(sold), from_cents(int(revenue))) for pid, name, sold, revenue in rows],
    )
