"""A merchant's shelf: products, stock, profit and sales."""

from cybermarket.errors import BadRequest, Forbidden, NotFound
from cybermarket.handlers import NO_ID, now, page, table
from cybermarket.sql import Query
from cybermarket.values import MAX_STOCK, cents, from_cents

OWNER = Query("SELECT merchant_id FROM products WHERE id = ?")
ADD = Query(
    "INSERT INTO products"
    " (merchant_id, productname, description, price_cents, stock, on_shelf, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
SHELVE = Query("UPDATE products SET on_shelf = ? WHERE id = ?")
# Conditional, like checkout's: the cap holds under concurrent restocks.
RESTOCK = Query("UPDATE products SET stock = stock + ? WHERE id = ? AND stock <= ?")
# Each field is set to itself when not given: one statement for every mix.
EDIT = Query(
    "UPDATE products SET productname = COALESCE(?, productname),"
    " description = COALESCE(?, description), price_cents = COALESCE(?, price_cents)"
    " WHERE id = ?"
)
MINE = Query(
    "SELECT id, productname, description, price_cents, stock, on_shelf FROM products"
    " WHERE merchant_id = ? AND id > ? ORDER BY id LIMIT ?"
)
PROFIT = Query("SELECT profit_cents FROM merchants WHERE id = ?")
SOLD = Query("SELECT product_id, quantity, price_cents FROM order_lines WHERE merchant_id = ?")
NAMES = Query("SELECT id, productname FROM products WHERE merchant_id = ?")


def own_product(txn, me, product_id):
    """404 for a product that does not exist, 403 for another store's."""
    owner = txn.value(OWNER, product_id)
    if owner is None:
        raise NotFound(f"product_id: no product {product_id}")
    if owner != me:
        raise Forbidden(f"product_id: product {product_id} belongs to another store")


def add_product(txn, me, productname, price, description, stock=0):
    product_id = txn.value(
        ADD, me, productname, description, cents(price), stock, True, txn.time(now())
    )
    return {"product_id": product_id}


def del_product(txn, me, product_id):
    own_product(txn, me, product_id)
    txn.run(SHELVE, False, product_id)


def put_on_shelf(txn, me, product_id):
    own_product(txn, me, product_id)
    txn.run(SHELVE, True, product_id)


def restock(txn, me, product_id, quantity):
    own_product(txn, me, product_id)
    if txn.run(RESTOCK, quantity, product_id, MAX_STOCK - quantity) != 1:
        raise BadRequest(f"quantity: stock would exceed {MAX_STOCK}")


def set_product(txn, me, product_id, productname=None, description=None, price=None):
    # Op.one_of has made sure at least one field is given.
    own_product(txn, me, product_id)
    txn.run(EDIT, productname, description, None if price is None else cents(price), product_id)


def list_products(txn, me, limit, after=None):
    rows = [
        (pid, name, text, from_cents(price), stock, bool(on_shelf))
        for pid, name, text, price, stock, on_shelf in txn.rows(
            MINE, me, NO_ID if after is None else after, limit + 1
        )
    ]
    return page(
        ["product_id", "productname", "description", "price", "stock", "on_shelf"],
        rows,
        limit,
    )


def get_profit(txn, me):
    return from_cents(txn.value(PROFIT, me))


SALES_COLUMNS = ["product_id", "productname", "quantity_sold", "revenue"]


def get_sales(txn, me):
    """One row per product ever sold, revenue descending (product_id breaks
    ties).  The grouping is pandas' job; amounts stay whole cents (int64)
    until the end."""
    import pandas as pd  # here, not at start: it is big, and only reports need it

    lines = pd.DataFrame(
        txn.rows(SOLD, me), columns=["product_id", "quantity", "price_cents"], dtype="int64"
    )
    if lines.empty:
        return table(SALES_COLUMNS, [])
    lines["revenue_cents"] = lines["quantity"] * lines["price_cents"]
    sales = lines.groupby("product_id", as_index=False).agg(
        quantity_sold=("quantity", "sum"), revenue_cents=("revenue_cents", "sum")
    )
    sales = sales.sort_values(["revenue_cents", "product_id"], ascending=[False, True])
    names = dict(txn.rows(NAMES, me))
    return table(
        SALES_COLUMNS,
        [
            (int(pid), names[int(pid)], int(sold), from_cents(int(revenue)))
            for pid, sold, revenue in sales[
                ["product_id", "quantity_sold", "revenue_cents"]
            ].itertuples(index=False)
        ],
    )
