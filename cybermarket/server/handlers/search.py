"""SEARCH_PRODUCT (protocol 1.1): products on the shelf by the words of
their name and description.

The words are compared as cybermarket.values.search_words gives them (NFKC,
case folded, without accents), on both sides: the server keeps each
product's words in products.name_words and products.description_words,
and indexes those (migration 0004):

- SQLite: the FTS5 table product_search, with "word" for a whole word and
  "word"* for a word's beginning;
- PostgreSQL: GIN indexes on the tsvector of the name's words and of all
  the words ('simple' configuration), with 'word' and 'word':*.

The query language is fed nothing but the query's words, each quoted
(words are runs of letters and digits, so they hold no quote to escape):
quotes, stars, colons, parentheses, NEAR, OR, NOT, & and ! in a query are
separators between words, or words, nothing more.

Order, by rank, then product_id:
  0  the productname holds every word, whole;
  1  the productname holds every word, some only as a word's beginning;
  2  the name and description hold every word, whole (the name alone does
     not hold them all);
  3  the rest: the name and description hold every word, some only as a
     beginning.
Ranks 0 and 1 are the contract's products "whose productname alone
matches"; within them and within 2 and 3, a whole word is the better match.
Each rank is one statement that walks its products in product_id order
through the index and stops at the page's end (SQLite's FTS5 hands its
rows over in rowid order; PostgreSQL sorts the rank's matches), so a page
costs about the same however large the catalog.  `after` is the last row's
(rank, product_id) (values.SearchAfter).
"""

from collections.abc import Sequence
from typing import Any

from cybermarket.errors import NotFound
from cybermarket.i18n import N_
from cybermarket.server.handlers import fit, handles
from cybermarket.server.handlers.catalog import PRODUCT_COLUMNS
from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn
from cybermarket.values import After, fold, from_cents

RANKS = 4

STORE = Query("SELECT id FROM merchants WHERE storename_key = ?")

_COLUMNS = (
    "p.id, m.storename, p.productname, p.description, p.price_cents, p.stock,"
    f" {photos.path_of('p.id')}"
)
_STORE = " AND p.merchant_id = ?"

# SQLite: the rank's FTS5 expression, then the store (if any), then where
# the page starts, then how many rows.
_SQLITE = (
    f"SELECT {_COLUMNS} FROM product_search f"
    " JOIN products p ON p.id = f.rowid"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE product_search MATCH ? AND p.on_shelf{store} AND f.rowid > ?"
    " ORDER BY f.rowid LIMIT ?"
)
SQLITE_SEARCH = Query(_SQLITE.format(store=""), backend="sqlite")
SQLITE_SEARCH_STORE = Query(_SQLITE.format(store=_STORE), backend="sqlite")

# PostgreSQL: the vectors are the indexes' expressions, word for word
# (models.py), so that the planner uses the indexes.  Each rank's condition
# takes its tsqueries in the order given beside it: "whole" (every word,
# whole) or "begins" (every word, as a beginning).
_NAME = "to_tsvector('simple', p.name_words)"
_ALL = "to_tsvector('simple', p.name_words || ' ' || p.description_words)"
_MATCHES = "@@ to_tsquery('simple', ?)"
_RANKS_POSTGRESQL = [
    (f"{_NAME} {_MATCHES}", ("whole",)),
    (f"{_NAME} {_MATCHES} AND NOT {_NAME} {_MATCHES}", ("begins", "whole")),
    (f"{_ALL} {_MATCHES} AND NOT {_NAME} {_MATCHES}", ("whole", "begins")),
    (
        # The whole-word matches (rank 2) are left out by their ids, found
        # through the index, rather than by a vector rebuilt for each row.
        f"{_ALL} {_MATCHES} AND NOT {_NAME} {_MATCHES} AND p.id NOT IN ("
        "SELECT id FROM products WHERE on_shelf AND"
        f" to_tsvector('simple', name_words || ' ' || description_words) {_MATCHES})",
        ("begins", "begins", "whole"),
    ),
]
_POSTGRESQL = (
    f"SELECT {_COLUMNS} FROM products p"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE p.on_shelf AND {condition}{store} AND p.id > ?"
    " ORDER BY p.id LIMIT ?"
)


class _Statements:
    """PostgreSQL's statement of each rank, as attributes rank0 to rank3
    (where tests/test_statements.py finds them)."""

    def __init__(self, store: str) -> None:
        for rank, (condition, _) in enumerate(_RANKS_POSTGRESQL):
            setattr(
                self,
                f"rank{rank}",
                Query(_POSTGRESQL.format(condition=condition, store=store), backend="postgresql"),
            )

    def __getitem__(self, rank: int) -> Query:
        return getattr(self, f"rank{rank}")


POSTGRESQL_SEARCH = _Statements(store="")
POSTGRESQL_SEARCH_STORE = _Statements(store=_STORE)


def fts5_queries(words: Sequence[str]) -> list[str]:
    """SQLite's MATCH expression for each rank."""
    whole = " AND ".join(f'"{word}"' for word in words)
    begins = " AND ".join(f'"{word}"*' for word in words)
    name_whole = f"{{name_words}} : ({whole})"
    name_begins = f"{{name_words}} : ({begins})"
    return [
        name_whole,
        f"{name_begins} NOT {name_whole}",
        f"({whole}) NOT {name_begins}",
        f"({begins}) NOT {name_begins} NOT ({whole})",
    ]


def tsqueries(words: Sequence[str]) -> dict[str, str]:
    """PostgreSQL's queries: every word whole, and every word as a
    beginning."""
    return {
        "whole": " & ".join(f"'{word}'" for word in words),
        "begins": " & ".join(f"'{word}':*" for word in words),
    }


# A row of a rank: (rank, (product_id, storename, productname, description,
# price_cents, stock)).
Found = tuple[int, tuple[Any, ...]]


def _rank(
    txn: Txn, words: Sequence[str], rank: int, store_id: int | None, after_id: int, count: int
) -> list[Found]:
    """Up to `count` rows of one rank, past product_id `after_id`."""
    params: list[object]
    if txn.postgres:
        queries = tsqueries(words)
        params = [queries[kind] for kind in _RANKS_POSTGRESQL[rank][1]]
        query = (POSTGRESQL_SEARCH if store_id is None else POSTGRESQL_SEARCH_STORE)[rank]
    else:
        params = [fts5_queries(words)[rank]]
        query = SQLITE_SEARCH if store_id is None else SQLITE_SEARCH_STORE
    if store_id is not None:
        params.append(store_id)
    return [(rank, row) for row in txn.rows(query, *params, after_id, count)]


@handles("SEARCH_PRODUCT", write=False, paged=True)
def search_product(
    txn: Txn,
    me: int | None,
    query: tuple[str, ...],
    limit: int,
    page_bytes: int,
    storename: str | None = None,
    after: tuple[int, int] | None = None,
) -> dict[str, Any]:
    # `query` is already its words (values.SearchQuery).
    store_id = None
    if storename is not None:
        store_id = txn.value(STORE, fold(storename))
        if store_id is None:
            raise NotFound(N_("storename: no store named {storename}"), storename=repr(storename))
    rank, after_id = (0, 0) if after is None else after
    found: list[Found] = []
    while rank < RANKS and len(found) <= limit:
        found += _rank(txn, query, rank, store_id, after_id, limit + 1 - len(found))
        rank, after_id = rank + 1, 0
    rows, more = fit(
        [
            (pid, store, name, text, from_cents(price), stock, photo)
            for _, (pid, store, name, text, price, stock, photo) in found
        ],
        limit,
        page_bytes,
    )
    if not more:
        return {"columns": PRODUCT_COLUMNS, "rows": rows, "next": None}
    last_rank, last = found[len(rows) - 1]
    return {"columns": PRODUCT_COLUMNS, "rows": rows, "next": After.encode(last_rank, last[0])}
