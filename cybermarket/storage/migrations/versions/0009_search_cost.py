"""Search at a bounded cost (wire contract 1.2, "Search cost").

- Every backend: products.name_words and description_words hold the
  products' search terms (values.search_terms): their words, as before,
  except that a run of CJK characters gives its characters and each pair of
  neighbours, so that "茶" finds "绿茶".  Recomputed here for the products
  whose terms differ from their words (those with CJK text); SQLite's FTS5
  table follows by its triggers (migration 0004).
- PostgreSQL: the search indexes are rebuilt on cybermarket_search_vector(),
  the terms as a tsvector, each term as it is (no parser, so the same
  terms as SQLite's) and, marked with a star, its first one and two
  characters: a query for a word of one or two letters is then one lookup
  of 'a*' instead of a walk over every term that begins with "a".  Terms of
  2,047 bytes or more are left out, as to_tsvector left them out (a GIN
  entry has a size limit).  The indexes keep no pending list (fastupdate
  off): a search never reads through the entries added since the last
  vacuum, nor does the planner charge them.  And they keep no statistics:
  the search statements (server/handlers/search.py) are shaped so that the
  index is their only way to products beyond a bounded walk, whatever the
  planner knows.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from cybermarket.values import search_terms, search_words

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 1000  # products read and updated at a time

# IMMUTABLE, as an index expression must be: the same words always give
# the same vector.  Not inlined into the statements (it reads from a
# FROM), so that the planner matches their calls with the indexes'.
SEARCH_VECTOR = """
CREATE FUNCTION cybermarket_search_vector(words text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(coalesce(array_agg(term), '{}'))
    FROM unnest(string_to_array(words, ' ')) AS word,
         LATERAL (VALUES (word), (left(word, 1) || '*'),
                  (CASE WHEN length(word) > 1 THEN left(word, 2) || '*' END)) AS t(term)
    WHERE word <> '' AND term IS NOT NULL AND octet_length(term) < 2047
$$
"""
INDEXES = {
    "ix_products_search": "cybermarket_search_vector(name_words || ' ' || description_words)",
    "ix_products_search_name": "cybermarket_search_vector(name_words)",
}
OLD_INDEXES = {
    "ix_products_search": "to_tsvector('simple', name_words || ' ' || description_words)",
    "ix_products_search_name": "to_tsvector('simple', name_words)",
}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Dropped first: the rewrite below then updates no index.
        for name in INDEXES:
            op.drop_index(name, table_name="products")
    rewrite_terms(search_terms)
    if postgresql:
        op.execute(SEARCH_VECTOR)
        for name, expression in INDEXES.items():
            op.execute(
                f"CREATE INDEX {name} ON products USING gin ({expression})"
                " WITH (fastupdate = off) WHERE on_shelf"
            )
            op.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS 0")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name in INDEXES:
            op.drop_index(name, table_name="products")
        op.execute("DROP FUNCTION cybermarket_search_vector(text)")
    rewrite_terms(search_words)
    if postgresql:
        for name, expression in OLD_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON products USING gin ({expression}) WHERE on_shelf")


def rewrite_terms(terms: Callable[[str], list[str]]) -> None:
    """Each product's name_words and description_words as `terms` gives
    them, joined by spaces, written where they differ, a batch at a time
    by id."""
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
            sa.select(
                products.c.id,
                products.c.productname,
                products.c.description,
                products.c.name_words,
                products.c.description_words,
            )
            .where(products.c.id > last)
            .order_by(products.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for product_id, name, description, names, texts in rows:
            new_names = " ".join(terms(name))
            new_texts = " ".join(terms(description))
            if (new_names, new_texts) != (names, texts):
                changed.append({"product_id": product_id, "names": new_names, "texts": new_texts})
        if changed:
            conn.execute(update, changed)
        last = rows[-1][0]
