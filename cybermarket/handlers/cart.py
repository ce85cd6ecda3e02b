"""A customer's cart, checkout and orders."""

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cybermarket.errors import BadRequest, Conflict, NotFound
from cybermarket.handlers import now, page, table
from cybermarket.models import cart_lines, merchants, order_lines, orders, products
from cybermarket.values import MAX_STOCK, from_cents

# An order's total must fit a BIGINT of cents with room to spare for the
# merchants' running profit.
MAX_TOTAL_CENTS = 10**17


def _upsert(conn):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def add_item(conn, me, product_id, quantity):
    on_shelf = conn.execute(
        select(products.c.on_shelf).where(products.c.id == product_id)
    ).scalar()
    if not on_shelf:  # None (no such product) or False (off the shelf)
        raise NotFound(f"product_id: no product {product_id} on sale")
    line = cart_lines.c
    have = conn.execute(
        select(line.quantity).where(line.client_id == me, line.product_id == product_id)
    ).scalar() or 0
    if have + quantity > MAX_STOCK:
        raise BadRequest(f"quantity: a cart line holds at most {MAX_STOCK} units")
    statement = _upsert(conn)(cart_lines).values(
        client_id=me, product_id=product_id, quantity=quantity
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[line.client_id, line.product_id],
            set_={"quantity": line.quantity + statement.excluded.quantity},
        )
    )


def remove_item(conn, me, product_id):
    result = conn.execute(
        delete(cart_lines).where(
            cart_lines.c.client_id == me, cart_lines.c.product_id == product_id
        )
    )
    if result.rowcount != 1:
        raise NotFound(f"product_id: product {product_id} is not in the cart")


def _lines(conn, me):
    return conn.execute(
        select(
            merchants.c.storename,
            products.c.id,
            products.c.productname,
            products.c.price_cents,
            cart_lines.c.quantity,
            products.c.on_shelf,
        )
        .select_from(
            cart_lines.join(products, products.c.id == cart_lines.c.product_id).join(
                merchants, merchants.c.id == products.c.merchant_id
            )
        )
        .where(cart_lines.c.client_id == me)
        .order_by(products.c.id)
    ).all()


def get_items(conn, me):
    rows = [
        (store, pid, name, from_cents(price), quantity, bool(on_shelf))
        for store, pid, name, price, quantity, on_shelf in _lines(conn, me)
    ]
    return table(
        ["storename", "product_id", "productname", "price", "quantity", "on_shelf"], rows
    )


def get_price(conn, me):
    # Summed in Python: exact whatever the sizes, where SQL would overflow.
    return from_cents(sum(row.price_cents * row.quantity for row in _lines(conn, me)))


def checkout(conn, me):
    """All or nothing.  Each line takes its stock with one conditional
    UPDATE (the database checks and takes in one step, so no concurrent
    checkout in any process can push stock below zero), in product order so
    that concurrent checkouts on PostgreSQL lock rows in one order and do
    not deadlock.  Any short line raises, and the transaction rolls back."""
    wanted = conn.execute(
        select(cart_lines.c.product_id, cart_lines.c.quantity)
        .where(cart_lines.c.client_id == me)
        .order_by(cart_lines.c.product_id)
    ).all()
    if not wanted:
        raise BadRequest("cart: the cart is empty")
    taken, short = [], []
    for product_id, quantity in wanted:
        row = conn.execute(
            update(products)
            .where(
                products.c.id == product_id,
                products.c.stock >= quantity,
                products.c.on_shelf.is_(True),
            )
            .values(stock=products.c.stock - quantity)
            .returning(products.c.merchant_id, products.c.productname, products.c.price_cents)
        ).first()
        if row is None:
            short.append(product_id)
        else:
            taken.append((product_id, quantity, *row))
    if short:
        names = dict(
            conn.execute(
                select(products.c.id, products.c.productname).where(products.c.id.in_(short))
            ).all()
        )
        raise Conflict(
            "short of stock or off the shelf: "
            + ", ".join(f"{names[p]} (product_id {p})" for p in short)
        )
    total = sum(quantity * price for _, quantity, _, _, price in taken)
    if total > MAX_TOTAL_CENTS:
        raise BadRequest("cart: the order total is too large")
    stores = dict(
        conn.execute(
            select(merchants.c.id, merchants.c.storename).where(
                merchants.c.id.in_({m for _, _, m, _, _ in taken})
            )
        ).all()
    )
    created = now()
    order_id = conn.execute(
        insert(orders).values(client_id=me, created_at=created, total_cents=total)
    ).inserted_primary_key[0]
    conn.execute(
        insert(order_lines),
        [
            {
                "order_id": order_id,
                "product_id": product_id,
                "merchant_id": merchant_id,
                "storename": stores[merchant_id],
                "productname": name,
                "price_cents": price,
                "quantity": quantity,
            }
            for product_id, quantity, merchant_id, name, price in taken
        ],
    )
    credit = {}
    for _, quantity, merchant_id, _, price in taken:
        credit[merchant_id] = credit.get(merchant_id, 0) + quantity * price
    for merchant_id in sorted(credit):
        conn.execute(
            update(merchants)
            .where(merchants.c.id == merchant_id)
            .values(profit_cents=merchants.c.profit_cents + credit[merchant_id])
        )
    conn.execute(delete(cart_lines).where(cart_lines.c.client_id == me))
    return {"order_id": order_id, "total": from_cents(total), "created_at": created}


def list_orders(conn, me, limit, after=None):
    query = select(orders.c.id, orders.c.created_at, orders.c.total_cents).where(
        orders.c.client_id == me
    )
    if after is not None:
        query = query.where(orders.c.id < after)
    rows = conn.execute(query.order_by(orders.c.id.desc()).limit(limit + 1)).all()
    rows = [(oid, created, from_cents(total)) for oid, created, total in rows]
    return page(["order_id", "created_at", "total"], rows, limit)


def get_order(conn, me, order_id):
    found = conn.execute(
        select(orders.c.id).where(orders.c.id == order_id, orders.c.client_id == me)
    ).first()
    if found is None:
        raise NotFound(f"order_id: no order {order_id} of yours")
    rows = conn.execute(
        select(
            order_lines.c.storename,
            order_lines.c.product_id,
            order_lines.c.productname,
            order_lines.c.price_cents,
            order_lines.c.quantity,
        )
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.product_id)
    ).all()
    rows = [(s, p, n, from_cents(price), q) for s, p, n, price, q in rows]
    return table(["storename", "product_id", "productname", "price", "quantity"], rows)
