"""What anyone may see without logging in."""

from sqlalchemy import select

from cybermarket.errors import NotFound
from cybermarket.handlers import codepoint_order, page
from cybermarket.models import merchants, products
from cybermarket.values import from_cents


def ping(conn, me):
    return None


def list_merchant(conn, me, limit, after=None):
    name = codepoint_order(conn, merchants.c.storename)
    query = select(merchants.c.storename, merchants.c.description, merchants.c.email)
    if after is not None:
        query = query.where(name > after)
    rows = conn.execute(query.order_by(name).limit(limit + 1)).all()
    return page(["storename", "description", "email"], rows, limit)


def list_product(conn, me, storename, limit, after=None):
    merchant_id = conn.execute(
        select(merchants.c.id).where(merchants.c.storename == storename)
    ).scalar()
    if merchant_id is None:
        raise NotFound(f"storename: no store named {storename!r}")
    query = select(
        products.c.id,
        products.c.productname,
        products.c.description,
        products.c.price_cents,
        products.c.stock,
    ).where(products.c.merchant_id == merchant_id, products.c.on_shelf.is_(True))
    if after is not None:
        query = query.where(products.c.id > after)
    rows = conn.execute(query.order_by(products.c.id).limit(limit + 1)).all()
    rows = [
        (pid, storename, name, description, from_cents(price), stock)
        for pid, name, description, price, stock in rows
    ]
    return page(
        ["product_id", "storename", "productname", "description", "price", "stock"],
        rows,
        limit,
    )
