"""Rows written into a market's database directly.

Sales as checkouts would have left them: bringing a store near the largest
profit through the protocol takes about ninety maximal orders, each a slow
round trip.  And accounts and invitation codes (below)."""

from datetime import datetime

from sqlalchemy import create_engine, insert, select, update
from sqlalchemy.pool import NullPool
from twisted.internet import task

from cybermarket.server.handlers.accounts import CLIENT, create_merchant, insert_account
from cybermarket.storage import invitations
from cybermarket.storage.database import Database
from cybermarket.storage.models import clients, merchants, order_lines, order_parts, orders
from tests.harness import FAST_HASHER

MAX_CENTS = 2**63 - 1  # what a BIGINT holds
MAX_PRICE = "99999999.99"
MAX_PRICE_CENTS = 9_999_999_999
# The largest order the server takes, in yachts at the largest price: the
# order total is capped at 10^17 cents.
ORDER_YACHTS = 10_000_000
MAX_ORDER_CENTS = MAX_PRICE_CENTS * ORDER_YACHTS  # 99,999,999,990,000,000
SEEDED_ORDERS = 92  # the 93rd maximal order would pass MAX_CENTS
SEEDED_CENTS = SEEDED_ORDERS * MAX_ORDER_CENTS
assert SEEDED_CENTS <= MAX_CENTS < SEEDED_CENTS + MAX_ORDER_CENTS


DAY = datetime(2026, 11, 20)


def money_text(cents):
    """Whole cents as the server sends them, by integer arithmetic."""
    return f"{cents // 100}.{cents % 100:02d}"


class Seeder:
    """Direct writes to the market's database."""

    def __init__(self, url):
        self.engine = create_engine(url, poolclass=NullPool)

    def close(self):
        self.engine.dispose()

    def id_of(self, table, column, name):
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.id).where(column == name)).scalar_one()

    def sales(
        self,
        storename,
        username,
        product_id,
        productname,
        price_cents,
        quantity,
        count,
        credit=True,
    ):
        """`count` orders by `username`, each of one line of `quantity` units
        of the product at `price_cents`, credited to the store as checkout
        does (unless `credit` is false)."""
        merchant_id = self.id_of(merchants, merchants.c.storename, storename)
        client_id = self.id_of(clients, clients.c.username, username)
        line_cents = price_cents * quantity
        with self.engine.begin() as conn:
            for _ in range(count):
                order_id = conn.execute(
                    insert(orders)
                    .values(client_id=client_id, created_at=DAY, total_cents=line_cents)
                    .returning(orders.c.id)
                ).scalar_one()
                conn.execute(
                    insert(order_lines).values(
                        order_id=order_id,
                        product_id=product_id,
                        merchant_id=merchant_id,
                        storename=storename,
                        productname=productname,
                        price_cents=price_cents,
                        quantity=quantity,
                    )
                )
                conn.execute(
                    insert(order_parts).values(
                        order_id=order_id,
                        merchant_id=merchant_id,
                        storename=storename,
                        total_cents=line_cents,
                        status="shipped",
                    )
                )
            if not credit:
                return
            conn.execute(
                update(merchants)
                .where(merchants.c.id == merchant_id)
                .values(profit_cents=merchants.c.profit_cents + line_cents * count)
            )

    def set_profit(self, storename, cents):
        with self.engine.begin() as conn:
            conn.execute(
                update(merchants)
                .where(merchants.c.storename == storename)
                .values(profit_cents=cents)
            )


# --- accounts and invitation codes ---------------------------------------------
#
# Signing up over the wire costs two full-cost password hashes per account
# (creation and login) and, for a store, an operator's `cybermarket invite`
# (a new process); the tests about signing up and about that command do
# both, and the others write their accounts here instead: the server's own
# statements in the server's one transaction, with a cheap Argon2id hash
# (the server verifies a hash with the parameters it carries).


def in_transaction(url, func, *args):
    """func(txn, *args) in one transaction on the database at `url`, as the
    server runs a request's; its result."""
    db = Database(url, threads=1, reactor=task.Clock())
    try:
        return db.run_sync("tests", func, args)
    finally:
        db.stop()


def invitation(url, inviter_id=None, days=7):
    """A new invitation code, made as `cybermarket invite` makes one (from
    the operator when `inviter_id` is None)."""
    return in_transaction(url, invitations.create, inviter_id, days)


def _customers(txn, names, hashed):
    for name in names:
        values = {"username": name, "email": f"{name}@example.com", "password_hash": hashed}
        insert_account(txn, CLIENT, values)


def _stores(txn, names, hashed):
    for name in names:
        values = {
            "storename": name,
            "description": f"the {name} store",
            "email": f"{name}@example.com",
            "password_hash": hashed,
        }
        create_merchant(txn, invitations.create(txn, None, 7), None, values)


def seed_customers(url, names, password):
    """Customer accounts `names` (email NAME@example.com), as CLIENT_CREATE
    makes them."""
    in_transaction(url, _customers, list(names), FAST_HASHER.hash(password))


def seed_stores(url, names, password):
    """Stores `names`, each opened with an operator's code, as MERCHANT_CREATE
    makes them (description "the NAME store", email NAME@example.com, as
    tests/shop.py's store_args)."""
    in_transaction(url, _stores, list(names), FAST_HASHER.hash(password))
