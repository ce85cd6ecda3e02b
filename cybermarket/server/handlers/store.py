"""A merchant's shelf: products, stock, profit and sales.  The statements
are in cybermarket/storage/products.py."""

from decimal import Decimal
from typing import Any

from cybermarket.errors import BadRequest, Conflict, Forbidden, NotFound, What
from cybermarket.i18n import N_
from cybermarket.server.handlers import NO_ID, handles, page, table
from cybermarket.storage import products
from cybermarket.storage.txn import Txn, now
from cybermarket.values import MAX_CENTS, MAX_STOCK, cents, from_cents, money

# Past this, an amount read back was not written by a checkout that kept
# within the limit: only SQLite could have stored it, before the limit was
# checked, as a float or an overflowing sum.
MOST = money(from_cents(MAX_CENTS))


def own_product(txn: Txn, me: int, product_id: int) -> None:
    """404 for a product that does not exist, 403 for another store's."""
    owner = products.owner_txn(txn, product_id)
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
    product_id = products.add_txn(txn, me, productname, description, cents(price), stock, now())
    return {"product_id": product_id}


@handles("MERCHANT_DEL_PRODUCT")
def del_product(txn: Txn, me: int, product_id: int) -> None:
    own_product(txn, me, product_id)
    products.shelve_txn(txn, product_id, False)


@handles("MERCHANT_PUT_ON_SHELF")
def put_on_shelf(txn: Txn, me: int, product_id: int) -> None:
    own_product(txn, me, product_id)
    products.shelve_txn(txn, product_id, True)


@handles("MERCHANT_RESTOCK_PRODUCT")
def restock(txn: Txn, me: int, product_id: int, quantity: int) -> None:
    own_product(txn, me, product_id)
    if not products.restock_txn(txn, product_id, quantity, MAX_STOCK):
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
    products.edit_txn(
        txn, product_id, productname, description, None if price is None else cents(price)
    )


@handles("MERCHANT_LIST_PRODUCTS", write=False, paged=True)
def list_products(
    txn: Txn, me: int, limit: int, page_bytes: int, after: int | None = None
) -> dict[str, Any]:
    rows = [
        (pid, name, text, from_cents(price), stock, bool(on_shelf), photo)
        for pid, name, text, price, stock, on_shelf, photo in products.store_products_txn(
            txn, me, NO_ID if after is None else after, limit + 1
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
    profit = products.profit_txn(txn, me)
    if profit is None:  # SQLite's float for a sum that overflowed
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
    rows = products.sales_txn(txn, me)
    if rows is None:  # past what the database counts exactly
        raise Conflict(SALES_PAST, most=MOST)
    return table(
        SALES_COLUMNS,
        [(pid, name, sold, from_cents(revenue)) for pid, name, sold, revenue in rows],
    )
