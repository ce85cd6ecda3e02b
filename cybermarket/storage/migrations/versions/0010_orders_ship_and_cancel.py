"""Orders a store ships and a customer cancels (protocol 1.2).

- order_parts: one row per order and store, that store's part of the
  order, with its status (`placed`, `shipped` or `cancelled`), its total,
  the store's name at purchase, the store's shipping note and when the
  status changed (cybermarket/storage/models.py says why a row per part
  rather than a status per line).
- orders.username: the customer's username at purchase, which the stores
  see; orders.address: where the order goes (NULL: none given).
- PostgreSQL: the checkout function's third version, which takes the
  expected total and the address and writes the parts
  (cybermarket/storage/sql/checkout_v3.sql), and the cancel function
  (cancel_v1.sql); the Python twins, which SQLite runs, are in
  cybermarket/storage/orders.py.

Orders made before 1.2 get a part per store of their lines, `shipped`
(nobody cancels a months-old order; the contract says so), no note and no
address, and the account's username now (the one at purchase was not
kept).  The downgrade drops the parts; profits stay as they are, and a
cancelled part's stock stays back on the shelf.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from cybermarket.storage.sql import source

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# SQLite auto-increments only an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Every order made before: a part per store of its lines, shipped.
PARTS_OF_OLD_ORDERS = (
    "INSERT INTO order_parts (order_id, merchant_id, storename, total_cents, status)"
    " SELECT order_id, merchant_id, MIN(storename), SUM(price_cents * quantity), 'shipped'"
    " FROM order_lines GROUP BY order_id, merchant_id"
)
NAMES_OF_OLD_ORDERS = (
    "UPDATE orders SET username = (SELECT c.username FROM clients c WHERE c.id = orders.client_id)"
)


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("username", sa.String(length=64), server_default="", nullable=False)
    )
    op.add_column("orders", sa.Column("address", sa.String(length=500), nullable=True))
    op.create_table(
        "order_parts",
        sa.Column("order_id", ID, nullable=False),
        sa.Column("merchant_id", ID, nullable=False),
        sa.Column("storename", sa.String(length=64), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('placed', 'shipped', 'cancelled')", name=op.f("ck_order_parts_status")
        ),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_order_parts_total")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_order_parts_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_parts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "merchant_id", name=op.f("pk_order_parts")),
    )
    op.create_index("ix_order_parts_merchant", "order_parts", ["merchant_id", "order_id"])
    op.create_index(
        "ix_order_parts_merchant_status", "order_parts", ["merchant_id", "status", "order_id"]
    )
    op.execute(PARTS_OF_OLD_ORDERS)
    op.execute(NAMES_OF_OLD_ORDERS)
    if op.get_bind().dialect.name == "postgresql":
        # A new signature: the old one goes, so that no caller can reach
        # a checkout that writes no parts.
        op.execute("DROP FUNCTION cybermarket_checkout(bigint, timestamp, numeric, numeric)")
        op.execute(source("checkout", 3))
        op.execute(source("cancel", 1))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cybermarket_cancel(bigint, bigint, timestamp)")
        op.execute(
            "DROP FUNCTION cybermarket_checkout(bigint, timestamp, numeric, numeric, numeric, text)"
        )
        op.execute(source("checkout", 2))
    op.drop_index("ix_order_parts_merchant_status", table_name="order_parts")
    op.drop_index("ix_order_parts_merchant", table_name="order_parts")
    op.drop_table("order_parts")
    op.drop_column("orders", "address")
    op.drop_column("orders", "username")
