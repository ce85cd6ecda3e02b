"""Page versions: what the page cache (cybermarket/server/pages.py) checks
before it serves a kept page, on every backend and across processes.

- merchants.page_version: moves whenever what the store's LIST_PRODUCT page
  shows changes: a product of the store added, edited, restocked, sold,
  taken off or put back on the shelf, or the store's own fields changed.
- store_list_version: one row, whose version moves whenever what
  LIST_MERCHANT shows changes: a store created, or its name, description or
  email changed.

Triggers move them, in the same transaction as the change, whoever makes
it (the server, an operator's SQL): no handler can forget one.

PostgreSQL: the products trigger is a deferred constraint trigger, so the
store's row is bumped at commit, after everything else the transaction
locks.  A checkout locks its products in id order and then its stores in id
order (cart.py); a bump at each product's update would lock a store between
two products, and two checkouts over the same two stores could then
deadlock.  SQLite has one writer at a time: plain triggers.

A later migration that rebuilds products or merchants on SQLite (Alembic's
batch mode: copy, drop, rename) drops these triggers with the table, and
must make them again.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The columns of products that a store's page shows (or that move a
# product to another store).
PAGE_COLUMNS = "productname, description, price_cents, stock, on_shelf, merchant_id"
# The columns of merchants that the store list shows.
LIST_COLUMNS = "storename, description, email"

SQLITE = [
    "CREATE TRIGGER products_page_insert AFTER INSERT ON products BEGIN"
    " UPDATE merchants SET page_version = page_version + 1 WHERE id = new.merchant_id;"
    " END",
    f"CREATE TRIGGER products_page_update AFTER UPDATE OF {PAGE_COLUMNS} ON products BEGIN"
    " UPDATE merchants SET page_version = page_version + 1"
    " WHERE id IN (old.merchant_id, new.merchant_id);"
    " END",
    "CREATE TRIGGER products_page_delete AFTER DELETE ON products BEGIN"
    " UPDATE merchants SET page_version = page_version + 1 WHERE id = old.merchant_id;"
    " END",
    # SQLite's recursive triggers are off: the inner UPDATE does not fire
    # this trigger again (nor would it: page_version is not in the list).
    f"CREATE TRIGGER merchants_page_update AFTER UPDATE OF {LIST_COLUMNS} ON merchants BEGIN"
    " UPDATE merchants SET page_version = page_version + 1 WHERE id = new.id;"
    " UPDATE store_list_version SET version = version + 1;"
    " END",
    "CREATE TRIGGER merchants_list_insert AFTER INSERT ON merchants BEGIN"
    " UPDATE store_list_version SET version = version + 1;"
    " END",
    "CREATE TRIGGER merchants_list_delete AFTER DELETE ON merchants BEGIN"
    " UPDATE store_list_version SET version = version + 1;"
    " END",
]
SQLITE_TRIGGERS = [
    "products_page_insert",
    "products_page_update",
    "products_page_delete",
    "merchants_page_update",
    "merchants_list_insert",
    "merchants_list_delete",
]

POSTGRESQL = [
    "CREATE FUNCTION bump_store_page() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP <> 'INSERT' THEN"
    "   UPDATE merchants SET page_version = page_version + 1 WHERE id = OLD.merchant_id;"
    "  END IF;"
    "  IF TG_OP = 'INSERT'"
    "     OR (TG_OP = 'UPDATE' AND NEW.merchant_id IS DISTINCT FROM OLD.merchant_id) THEN"
    "   UPDATE merchants SET page_version = page_version + 1 WHERE id = NEW.merchant_id;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$",
    "CREATE CONSTRAINT TRIGGER products_page_version"
    f" AFTER INSERT OR DELETE OR UPDATE OF {PAGE_COLUMNS} ON products"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_store_page()",
    # The store's own fields: the row being written gets its bump in place.
    "CREATE FUNCTION bump_own_page() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN NEW.page_version := OLD.page_version + 1; RETURN NEW; END $$",
    f"CREATE TRIGGER merchants_page_version BEFORE UPDATE OF {LIST_COLUMNS} ON merchants"
    " FOR EACH ROW EXECUTE FUNCTION bump_own_page()",
    "CREATE FUNCTION bump_store_list() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN UPDATE store_list_version SET version = version + 1; RETURN NULL; END $$",
    "CREATE TRIGGER merchants_list_version"
    f" AFTER INSERT OR DELETE OR UPDATE OF {LIST_COLUMNS} ON merchants"
    " FOR EACH ROW EXECUTE FUNCTION bump_store_list()",
]


def upgrade() -> None:
    op.add_column(
        "merchants",
        sa.Column("page_version", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "store_list_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_list_version")),
    )
    op.execute("INSERT INTO store_list_version (id, version) VALUES (1, 0)")
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.drop_table("store_list_version")
        with op.batch_alter_table("merchants") as batch:
            batch.drop_column("page_version")
        return
    op.execute("DROP TRIGGER merchants_list_version ON merchants")
    op.execute("DROP TRIGGER merchants_page_version ON merchants")
    op.execute("DROP TRIGGER products_page_version ON products")
    for name in ("bump_store_list", "bump_own_page", "bump_store_page"):
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("store_list_version")
    op.drop_column("merchants", "page_version")
