"""What the operator report (cybermarket/tools/report.py) reads: the sold
order lines, the stores' and products' names, the parts waiting to ship and
two counts, each as plain values (ints and strings); the report computes
its tables from them.

These run on a SQLAlchemy Connection, not on a Txn: the report opens the
database on its own, read-only and in one snapshot (snapshot below), in a
process of its own.  They are SQLAlchemy Core statements built from
models.py's tables, so SQLAlchemy writes each backend's SQL and a column
renamed there is renamed here too; tests/test_statements.py, which
EXPLAINs the hand-written Query statements, has nothing to collect here.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.engine import URL, Connection

from cybermarket import values
from cybermarket.storage import database
from cybermarket.storage.models import (
    clients,
    merchants,
    order_lines,
    order_parts,
    orders,
    products,
)

# One sold line: order_id, the order's UTC day (YYYY-MM-DD), merchant_id,
# product_id, quantity, price_cents.
Line = tuple[int, str, int, int, int, int]


@contextmanager
def snapshot(url: str | URL) -> Iterator[Connection]:
    """A connection that reads the database at `url` and writes nothing:
    the file opened read-only (a backup stays a backup), every statement
    in one snapshot, and a schema as new as the migrations.  NoDatabase
    when a SQLite file is not there (SQLite would create it)."""
    database.check_exists(url)
    engine = database.read_only_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for every statement of the report.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.info["write"] = False  # SQLite: a plain BEGIN, no write lock
            database.check_schema(conn, url)
            yield conn
    finally:
        engine.dispose()


def sold_lines(conn: Connection, since: date | None) -> list[Line]:
    """Every order line (of orders from `since` on, a UTC day) of a part
    that is not cancelled."""
    query = select(
        orders.c.id,
        orders.c.created_at,
        order_lines.c.merchant_id,
        order_lines.c.product_id,
        order_lines.c.quantity,
        order_lines.c.price_cents,
    ).join_from(order_lines, orders, order_lines.c.order_id == orders.c.id)
    query = query.join(
        order_parts,
        and_(
            order_parts.c.order_id == order_lines.c.order_id,
            order_parts.c.merchant_id == order_lines.c.merchant_id,
        ),
    ).where(order_parts.c.status != values.CANCELLED)
    if since is not None:
        start = datetime.combine(since, datetime.min.time())
        query = query.where(orders.c.created_at >= start)
    return [
        (int(order), day(created), int(merchant), int(product), int(quantity), int(price))
        for order, created, merchant, product, quantity, price in conn.execute(query)
    ]


def day(created_at: datetime) -> str:
    """An order's day: created_at is naive UTC."""
    return created_at.date().isoformat()


def storenames(conn: Connection) -> dict[int, str]:
    """merchant_id -> the store's current name, for every store."""
    rows = conn.execute(select(merchants.c.id, merchants.c.storename))
    return {int(merchant_id): str(storename) for merchant_id, storename in rows}


def productnames(conn: Connection, product_ids: Sequence[int]) -> dict[int, str]:
    """product_id -> the product's current name, for those ids."""
    rows = conn.execute(
        select(products.c.id, products.c.productname).where(products.c.id.in_(product_ids))
    )
    return {int(product_id): str(name) for product_id, name in rows}


def waiting_to_ship(conn: Connection) -> list[tuple[int, int, int]]:
    """(merchant_id, parts, total_cents) for each store with parts placed
    and not yet shipped, in no particular order."""
    query = (
        select(
            order_parts.c.merchant_id,
            func.count(),
            func.sum(order_parts.c.total_cents),
        )
        .where(order_parts.c.status == values.PLACED)
        .group_by(order_parts.c.merchant_id)
    )
    return [(int(m), int(n), int(cents)) for m, n, cents in conn.execute(query)]


def customers(conn: Connection) -> int:
    """How many customer accounts there are."""
    return int(conn.execute(select(func.count()).select_from(clients)).scalar_one())


def products_on_shelf(conn: Connection) -> int:
    """How many products are on shelf now."""
    query = select(func.count()).select_from(products).where(products.c.on_shelf)
    return int(conn.execute(query).scalar_one())
