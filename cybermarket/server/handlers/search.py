"""SEARCH_PRODUCT (protocol 1.1): products on the shelf by the words of
their name and description.

The words are compared as cybermarket.values.search_words gives them (NFKC,
case folded, without accents), on both sides: the server keeps each
product's words in products.name_words and products.description_words,
and indexes those (migration 0004):

- SQLite: the FTS5 table product_search, with a prefix query per word,
  "word"*;
- PostgreSQL: a GIN index on their tsvector ('simple' configuration), with
  a prefix query per word, 'word':*.

The query language is fed nothing but the query's words, each quoted
(words are runs of letters and digits, so they hold no quote to escape):
quotes, stars, colons, parentheses, NEAR, OR, NOT, & and ! in a query are
separators between words, nothing more.

Order: first the products whose productname alone holds every word (tier
0), then the others (tier 1); within a tier by score (SQLite's bm25, with
the name weighing more; PostgreSQL's ts_rank, negated; lower is better on
both), then product_id.  Each tier is one statement that finds its products
through the index and sorts them; `after` (values.SearchAfter) is the last
row's (tier, score, product_id), from which the next page goes on.
"""

from collections.abc import Sequence

from cybermarket.errors import NotFound
from cybermarket.server.handlers import fit, handles
from cybermarket.server.handlers.catalog import PRODUCT_COLUMNS
from cybermarket.storage.txn import Query
from cybermarket.values import After, fold, from_cents

NAME_TIER = 0
DESCRIPTION_TIER = 1
# Where a tier starts: below every score and every id.
START = (float("-inf"), 0)

STORE = Query("SELECT id FROM merchants WHERE storename_key = ?")

# SQLite: the FTS5 query is the statement's first parameter; the store, if
# any, its second.  bm25 weighs a hit in the name ten times one in the
# description.
_SQLITE = (
    "SELECT p.id, m.storename, p.productname, p.description, p.price_cents, p.stock, f.score"
    " FROM (SELECT rowid AS id, bm25(product_search, 10.0, 1.0) AS score"
    " FROM product_search WHERE product_search MATCH ?) AS f"
    " JOIN products p ON p.id = f.id"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE p.on_shelf{store} AND (f.score > ? OR (f.score = ? AND f.id > ?))"
    " ORDER BY f.score, f.id LIMIT ?"
)
SQLITE_SEARCH = Query(_SQLITE.format(store=""), backend="sqlite")
SQLITE_SEARCH_STORE = Query(_SQLITE.format(store=" AND p.merchant_id = ?"), backend="sqlite")

# PostgreSQL: the tsquery, then whether the name alone matches (the tier),
# then the store, if any.  The vector is the index's expression, word for
# word (models.SEARCH_VECTOR), so that the planner uses the index; the
# score is made double precision so that it comes back exactly in `after`.
_VECTOR = "to_tsvector('simple', p.name_words || ' ' || p.description_words)"
_POSTGRESQL = (
    "SELECT id, storename, productname, description, price_cents, stock, score FROM ("
    "SELECT p.id, m.storename, p.productname, p.description, p.price_cents, p.stock,"
    f" -CAST(ts_rank({_VECTOR}, q) AS double precision) AS score"
    " FROM to_tsquery('simple', ?) AS q"
    f" JOIN products p ON {_VECTOR} @@ q"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE p.on_shelf AND (to_tsvector('simple', p.name_words) @@ q) = ?{store}"
    ") AS found WHERE score > ? OR (score = ? AND id > ?)"
    " ORDER BY score, id LIMIT ?"
)
POSTGRESQL_SEARCH = Query(_POSTGRESQL.format(store=""), backend="postgresql")
POSTGRESQL_SEARCH_STORE = Query(
    _POSTGRESQL.format(store=" AND p.merchant_id = ?"), backend="postgresql"
)


def fts5_queries(words: Sequence[str]) -> tuple[str, str]:
    """SQLite's MATCH expressions for the two tiers: every word in the name;
    every word in the name or the description, but not all in the name."""
    every = " AND ".join(f'"{word}"*' for word in words)
    in_name = f"{{name_words}} : ({every})"
    return in_name, f"({every}) NOT {in_name}"


def tsquery(words: Sequence[str]) -> str:
    """PostgreSQL's query: every word as a prefix."""
    return " & ".join(f"'{word}':*" for word in words)


def _tier(txn, words, tier, store_id, after, count):
    """Up to `count` rows of one tier after (score, id) `after`:
    (product_id, storename, productname, description, price_cents, stock,
    score)."""
    score, last_id = after
    if txn.postgres:
        params = [tsquery(words), tier == NAME_TIER]
        query = POSTGRESQL_SEARCH if store_id is None else POSTGRESQL_SEARCH_STORE
    else:
        params = [fts5_queries(words)[tier]]
        query = SQLITE_SEARCH if store_id is None else SQLITE_SEARCH_STORE
    if store_id is not None:
        params.append(store_id)
    return [(tier, *row) for row in txn.rows(query, *params, score, score, last_id, count)]


@handles("SEARCH_PRODUCT", write=False)
def search_product(txn, me, query, limit, storename=None, after=None):
    # `query` is already its words (values.SearchQuery).
    store_id = None
    if storename is not None:
        store_id = txn.value(STORE, fold(storename))
        if store_id is None:
            raise NotFound(f"storename: no store named {storename!r}")
    tier, score, last_id = (NAME_TIER, *START) if after is None else after
    found = []
    if tier == NAME_TIER:
        found = _tier(txn, query, NAME_TIER, store_id, (score, last_id), limit + 1)
    if len(found) <= limit:
        start = (score, last_id) if tier == DESCRIPTION_TIER else START
        found += _tier(txn, query, DESCRIPTION_TIER, store_id, start, limit + 1 - len(found))
    rows, more = fit(
        [
            (pid, store, name, text, from_cents(price), stock)
            for _, pid, store, name, text, price, stock, _ in found
        ],
        limit,
    )
    last = found[len(rows) - 1] if more else None
    return {
        "columns": PRODUCT_COLUMNS,
        "rows": rows,
        "next": None if last is None else After.encode(last[0], last[7], last[1]),
    }
