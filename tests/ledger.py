"""The books of a market, read with SQLAlchemy straight from its database
(tables in cybermarket/storage/models.py, money in whole cents), and checked for
the invariants every fault must leave intact:

- per product: initial stock + restocks = current stock + units in order lines
  of parts not cancelled (protocol 1.2), and the stock is never below zero;
- per merchant: profit_cents = the sum of its order lines' price x quantity,
  over its parts that are not cancelled;
- every order has lines, and its total_cents is the sum of its lines;
- every checkout a client saw answered 200 is recorded, with that total.

The initial stocks and restocks are what the test itself did and recorded.
"""

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, create_engine, func, select

from cybermarket.storage.models import merchants, order_lines, order_parts, orders, products


@dataclass
class Books:
    stock: dict  # product id -> units on hand
    sold: dict  # product id -> units in order lines of parts not cancelled
    profit: dict  # merchant id -> profit_cents
    earned: dict  # merchant id -> sum of its order lines of parts not cancelled, in cents
    totals: dict  # order id -> total_cents
    line_sums: dict  # order id -> sum of its lines, in cents


def read_books(database_url):
    """One consistent reading of the books."""
    engine = create_engine(database_url)
    try:
        options = {}
        if engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with engine.connect().execution_options(**options) as db, db.begin():
            line_value = order_lines.c.price_cents * order_lines.c.quantity
            # The lines of parts that are not cancelled.
            kept = order_lines.join(
                order_parts,
                and_(
                    order_parts.c.order_id == order_lines.c.order_id,
                    order_parts.c.merchant_id == order_lines.c.merchant_id,
                ),
            )
            not_cancelled = order_parts.c.status != "cancelled"

            def as_dict(query):
                return {key: int(value) for key, value in db.execute(query).all()}

            return Books(
                stock=as_dict(select(products.c.id, products.c.stock)),
                sold=as_dict(
                    select(order_lines.c.product_id, func.sum(order_lines.c.quantity))
                    .select_from(kept)
                    .where(not_cancelled)
                    .group_by(order_lines.c.product_id)
                ),
                profit=as_dict(select(merchants.c.id, merchants.c.profit_cents)),
                earned=as_dict(
                    select(order_lines.c.merchant_id, func.sum(line_value))
                    .select_from(kept)
                    .where(not_cancelled)
                    .group_by(order_lines.c.merchant_id)
                ),
                totals=as_dict(select(orders.c.id, orders.c.total_cents)),
                line_sums=as_dict(
                    select(order_lines.c.order_id, func.sum(line_value)).group_by(
                        order_lines.c.order_id
                    )
                ),
            )
    finally:
        engine.dispose()


def check_ledger(database_url, initial, restocked=(), answered=()):
    """Assert the invariants above; returns the Books.

    initial: {product id: stock at creation} for every product;
    restocked: {product id: units added by restocks answered 200};
    answered: {order id: total in cents} of checkouts answered 200."""
    books = read_books(database_url)
    restocked = Counter(dict(restocked))

    assert set(books.stock) == set(initial), "products the test did not create"
    for product_id, start in initial.items():
        now, sold = books.stock[product_id], books.sold.get(product_id, 0)
        assert now >= 0, f"product {product_id}: stock {now}"
        assert start + restocked[product_id] == now + sold, (
            f"product {product_id}: initial {start} + restocked {restocked[product_id]}"
            f" != stock {now} + sold {sold}"
        )

    assert set(books.earned) <= set(books.profit)
    for merchant_id, profit in books.profit.items():
        assert profit == books.earned.get(merchant_id, 0), (
            f"merchant {merchant_id}: profit {profit} cents, its order lines "
            f"{books.earned.get(merchant_id, 0)}"
        )

    bare = sorted(set(books.totals) - set(books.line_sums))
    assert not bare, f"orders without lines: {bare}"
    assert set(books.line_sums) <= set(books.totals), "order lines without an order"
    wrong = {
        order_id: (total, books.line_sums[order_id])
        for order_id, total in books.totals.items()
        if total != books.line_sums[order_id]
    }
    assert not wrong, f"orders whose total is not the sum of their lines: {wrong}"

    lost = {
        order_id: total
        for order_id, total in dict(answered).items()
        if books.totals.get(order_id) != total
    }
    assert not lost, f"checkouts answered 200 but not recorded as answered: {lost}"
    return books
