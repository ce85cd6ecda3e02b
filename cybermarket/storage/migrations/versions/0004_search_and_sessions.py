"""Protocol 1.1: product search and session tokens.

Search: every product gets its productname's and description's words as
search compares them (cybermarket.values.search_words, computed here in
Python for the products that exist, by the server for later changes), and
an index over them:

- SQLite: an FTS5 table, product_search, whose content is those two
  columns of products (an external-content table: the words are stored
  once, in products).  Triggers keep it in step with products, in the same
  transaction as every change of the words.  It holds every product; the
  search statements take only those on the shelf.
  Its tokenizer splits at white space only (the words are already split,
  folded and stripped of accents by the server, and the tokenizer's own
  Unicode 6.1 tables must not split them otherwise); remove_diacritics 2
  stays as a second line.  Prefix indexes of one and two characters keep
  short prefixes cheap.
- PostgreSQL: GIN indexes on the tsvector ('simple' configuration: no
  stemming, no stop words) of all the words and of the name's, partial on
  the products on the shelf.

Sessions: the sessions table (cybermarket/storage/sessions.py).

A later migration that rebuilds products on SQLite (Alembic's batch mode:
copy, drop, rename) drops these triggers with the table, and must make them
again.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from cybermarket.values import search_words

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 1000  # products read and updated at a time

FTS_TABLE = (
    "CREATE VIRTUAL TABLE product_search USING fts5("
    "name_words, description_words, content='products', content_rowid='id',"
    " tokenize=\"unicode61 remove_diacritics 2 categories 'L* M* N* P* S* C*'\","
    " prefix='1 2')"
)
# The standard triggers of an external-content table: the delete command
# must be given the values that were indexed, which are the old row's.  An
# update that leaves the words alone (stock, price, the shelf) leaves the
# index alone; search takes the shelf from products.
FTS_TRIGGERS = [
    "CREATE TRIGGER product_search_insert AFTER INSERT ON products BEGIN"
    " INSERT INTO product_search (rowid, name_words, description_words)"
    " VALUES (new.id, new.name_words, new.description_words);"
    " END",
    "CREATE TRIGGER product_search_delete AFTER DELETE ON products BEGIN"
    " INSERT INTO product_search (product_search, rowid, name_words, description_words)"
    " VALUES ('delete', old.id, old.name_words, old.description_words);"
    " END",
    "CREATE TRIGGER product_search_update"
    " AFTER UPDATE OF name_words, description_words ON products BEGIN"
    " INSERT INTO product_search (product_search, rowid, name_words, description_words)"
    " VALUES ('delete', old.id, old.name_words, old.description_words);"
    " INSERT INTO product_search (rowid, name_words, description_words)"
    " VALUES (new.id, new.name_words, new.description_words);"
    " END",
]
FTS_FILL = "INSERT INTO product_search (product_search) VALUES ('rebuild')"
PG_INDEXES = [
    "CREATE INDEX ix_products_search ON products USING gin"
    " (to_tsvector('simple', name_words || ' ' || description_words)) WHERE on_shelf",
    "CREATE INDEX ix_products_search_name ON products USING gin"
    " (to_tsvector('simple', name_words)) WHERE on_shelf",
]


def upgrade() -> None:
    op.add_column("products", sa.Column("name_words", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "products", sa.Column("description_words", sa.Text(), server_default="", nullable=False)
    )
    fill_words()
    if op.get_bind().dialect.name == "sqlite":
        op.execute(FTS_TABLE)
        for trigger in FTS_TRIGGERS:
            op.execute(trigger)
        op.execute(FTS_FILL)
    else:
        for index in PG_INDEXES:
            op.execute(index)

    op.create_table(
        "sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index("ix_sessions_account", "sessions", ["role", "account_id"])
    op.create_index("ix_sessions_last_used_at", "sessions", ["last_used_at"])
    op.create_index("ix_sessions_revoked_at", "sessions", ["revoked_at"])


def fill_words() -> None:
    """Each existing product's words, a batch at a time by id."""
    conn = op.get_bind()
    products = sa.table(
        "products",
        sa.column("id"),
        sa.column("productname"),
        sa.column("description"),
        sa.column("name_words"),
        sa.column("description_words"),
    )
    update = (
        products.update()
        .where(products.c.id == sa.bindparam("product_id"))
        .values(name_words=sa.bindparam("names"), description_words=sa.bindparam("texts"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(products.c.id, products.c.productname, products.c.description)
            .where(products.c.id > last)
            .order_by(products.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {
                    "product_id": product_id,
                    "names": " ".join(search_words(name)),
                    "texts": " ".join(search_words(description)),
                }
                for product_id, name, description in rows
            ],
        )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_sessions_revoked_at", table_name="sessions")
    op.drop_index("ix_sessions_last_used_at", table_name="sessions")
    op.drop_index("ix_sessions_account", table_name="sessions")
    op.drop_table("sessions")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER product_search_{name}")
        op.execute("DROP TABLE product_search")
        # Dropping a column on SQLite rebuilds the table: batch mode.
        with op.batch_alter_table("products") as batch:
            batch.drop_column("description_words")
            batch.drop_column("name_words")
    else:
        op.drop_index("ix_products_search_name", table_name="products")
        op.drop_index("ix_products_search", table_name="products")
        op.drop_column("products", "description_words")
        op.drop_column("products", "name_words")
