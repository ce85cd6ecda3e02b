"""A merchant's shelf: products, stock, profit and sales."""

import pandas as pd
from sqlalchemy import insert, select, update

from cybermarket.errors import BadRequest, Forbidden, NotFound
from cybermarket.handlers import now, page, table
from cybermarket.models import merchants, order_lines, products
from cybermarket.values import MAX_STOCK, cents, from_cents


def own_product(conn, me, product_id):
    """404 for a product that does not exist, 403 for another store's."""
    owner = conn.execute(
        select(products.c.merchant_id).where(products.c.id == product_id)
    ).scalar()
    if owner is None:
        raise NotFound(f"product_id: no product {product_id}")
    if owner != me:
        raise Forbidden(f"product_id: product {product_id} belongs to another store")


def _change(conn, me, product_id, **values):
    own_product(conn, me, product_id)
    conn.execute(update(products).where(products.c.id == product_id).values(**values))


def add_product(conn, me, productname, price, description, stock=0):
    product_id = conn.execute(
        insert(products).values(
            merchant_id=me,
            productname=productname,
            description=description,
            price_cents=cents(price),
            stock=stock,
            on_shelf=True,
            created_at=now(),
        )
    ).inserted_primary_key[0]
    return {"product_id": product_id}


def del_product(conn, me, product_id):
    _change(conn, me, product_id, on_shelf=False)


def put_on_shelf(conn, me, product_id):
    _change(conn, me, product_id, on_shelf=True)


def restock(conn, me, product_id, quantity):
    own_product(conn, me, product_id)
    # Conditional, like checkout's: the cap holds under concurrent restocks.
    result = conn.execute(
        update(products)
        .where(products.c.id == product_id, products.c.stock <= MAX_STOCK - quantity)
        .values(stock=products.c.stock + quantity)
    )
    if result.rowcount != 1:
        raise BadRequest(f"quantity: stock would exceed {MAX_STOCK}")


def set_product(conn, me, product_id, productname=None, description=None, price=None):
    values = {
        key: value
        for key, value in (
            ("productname", productname),
            ("description", description),
            ("price_cents", None if price is None else cents(price)),
        )
        if value is not None
    }
    _change(conn, me, product_id, **values)


def list_products(conn, me, limit, after=None):
    query = select(
        products.c.id,
        products.c.productname,
        products.c.description,
        products.c.price_cents,
        products.c.stock,
        products.c.on_shelf,
    ).where(products.c.merchant_id == me)
    if after is not None:
        query = query.where(products.c.id > after)
    rows = conn.execute(query.order_by(products.c.id).limit(limit + 1)).all()
    rows = [
        (pid, name, description, from_cents(price), stock, bool(on_shelf))
        for pid, name, description, price, stock, on_shelf in rows
    ]
    return page(
        ["product_id", "productname", "description", "price", "stock", "on_shelf"],
        rows,
        limit,
    )


def get_profit(conn, me):
    profit = conn.execute(
        select(merchants.c.profit_cents).where(merchants.c.id == me)
    ).scalar_one()
    return from_cents(profit)


SALES_COLUMNS = ["product_id", "productname", "quantity_sold", "revenue"]


def get_sales(conn, me):
    """One row per product ever sold, revenue descending (product_id breaks
    ties).  The grouping is pandas' job; amounts stay whole cents (int64)
    until the end."""
    lines = pd.DataFrame(
        conn.execute(
            select(
                order_lines.c.product_id,
                order_lines.c.quantity,
                order_lines.c.price_cents,
            ).where(order_lines.c.merchant_id == me)
        ).all(),
        columns=["product_id", "quantity", "price_cents"],
    )
    if lines.empty:
        return table(SALES_COLUMNS, [])
    lines["revenue_cents"] = lines["quantity"] * lines["price_cents"]
    sales = lines.groupby("product_id", as_index=False).agg(
        quantity_sold=("quantity", "sum"), revenue_cents=("revenue_cents", "sum")
    )
    names = dict(
        conn.execute(
            select(products.c.id, products.c.productname).where(
                products.c.id.in_(sales["product_id"].tolist())
            )
        ).all()
    )
    sales = sales.sort_values(["revenue_cents", "product_id"], ascending=[False, True])
    rows = [
        (int(pid), names[int(pid)], int(sold), from_cents(int(revenue)))
        for pid, sold, revenue in sales[
            ["product_id", "quantity_sold", "revenue_cents"]
        ].itertuples(index=False)
    ]
    return table(SALES_COLUMNS, rows)
