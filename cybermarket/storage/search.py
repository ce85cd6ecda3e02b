"""Search as stored (SEARCH_PRODUCT, protocol 1.1, with 1.2's "Search
cost"): products on the shelf by the words of their name and description.

The words are compared as cybermarket.values.search_words gives them (NFKC,
case folded, without accents), on both sides.  The server keeps each
product's index terms (values.search_terms: its words, with a run of CJK
characters given as its characters and their pairs) in products.name_words
and products.description_words, and indexes those (migrations 0004, 0009):

- SQLite: the FTS5 table product_search, with "term" for a whole word and
  "term"* for a word's beginning (prefix indexes of one and two characters
  keep short words cheap);
- PostgreSQL: GIN indexes on cybermarket_search_vector() of the name's
  terms and of all the terms, which holds each term and, marked with a
  star, its first one and two characters ('a*', 'ap*'): a one- or
  two-letter word is one lookup, not a walk over every term that begins
  with it.

A query is its terms (values.query_terms, at most 16 of at most 8 words),
each quoted, and nothing else: quotes, stars, colons, parentheses, NEAR,
OR, NOT, & and ! in a query are separators between words, or words,
nothing more.  CJK terms match as they are, never as beginnings.

Order, by rank, then product_id:
  0  the productname holds every term, whole;
  1  the productname holds every term, some only as a word's beginning;
  2  the name and description hold every term, whole (the name alone does
     not hold them all);
  3  the rest: the name and description hold every term, some only as a
     beginning.
Ranks 0 and 1 are the contract's products "whose productname alone
matches"; within them and within 2 and 3, a whole word is the better match.
A page reads the ranks in turn until it is full; `after` is the last row's
(rank, product_id) (values.SearchAfter).

What a rank costs.  SQLite's FTS5 hands its rows over in rowid order, so a
rank's one statement walks its matches through the index and stops at the
page's end.  PostgreSQL's GIN index cannot give them in order: it finds
them all, and they are sorted.  That is cheap for a rare word and dear for
a common one, and left to choose, the planner took the other road when its
statistics were behind the table (a rare word after 1,500 new products:
every product read, 400 to 860 ms), so the plan is not left to it
(_postgresql_rank): each rank first reads the next WALK products in id
order and keeps those that match (a common word fills the page there);
when the matches it saw promise to fill the page within WALK_MOST more
products it reads those too; and only then asks the index, in a statement
whose only way to products without reading them all is the index.  So a
rank reads at most WALK + WALK_MOST products in order, and from the index
only the matches of a word that fewer than about one product in a hundred
holds.

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; the handler
(cybermarket/server/handlers/search.py) makes the page of them.
"""

from collections.abc import Sequence
from typing import Any

from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn
from cybermarket.values import Term

RANKS = 4
# PostgreSQL (see the module's docstring): the products a rank reads in id
# order before anything else; the most a second walk reads; and what a
# product found through the index costs, in products walked (measured on
# 100,000 products: about 20 us a match, with the sort, against 5).
WALK = 64
WALK_MOST = 8192
INDEX_COST = 4

STORE = Query("SELECT id FROM merchants WHERE storename_key = ?")


def store_id_txn(txn: Txn, key: str) -> int | None:
    """The id of the store whose name folds to `key`; None for none."""
    store_id: int | None = txn.value(STORE, key)
    return store_id


_COLUMNS = (
    "p.id, m.storename, p.productname, p.description, p.price_cents, p.stock,"
    f" {photos.path_of('p.id')}"
)
# How many of them: the walk's own two columns come after.
_COUNT = 7

# --- SQLite ---------------------------------------------------------------------

# The rank's FTS5 expression, then the store (if any), then where the page
# starts, then how many rows.
_SQLITE = (
    f"SELECT {_COLUMNS} FROM product_search f"
    " JOIN products p ON p.id = f.rowid"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE product_search MATCH ? AND p.on_shelf{store} AND f.rowid > ?"
    " ORDER BY f.rowid LIMIT ?"
)
SQLITE_SEARCH = Query(_SQLITE.format(store=""), backend="sqlite")
SQLITE_SEARCH_STORE = Query(_SQLITE.format(store=" AND p.merchant_id = ?"), backend="sqlite")


def fts5_queries(terms: Sequence[Term]) -> list[str]:
    """SQLite's MATCH expression for each rank."""
    whole = " AND ".join(f'"{term.text}"' for term in terms)
    begins = " AND ".join(f'"{term.text}"*' if term.grows else f'"{term.text}"' for term in terms)
    name_whole = f"{{name_words}} : ({whole})"
    name_begins = f"{{name_words}} : ({begins})"
    return [
        name_whole,
        f"{name_begins} NOT {name_whole}",
        f"({whole}) NOT {name_begins}",
        f"({begins}) NOT {name_begins} NOT ({whole})",
    ]


# --- PostgreSQL -----------------------------------------------------------------

# A rank's condition, read from the terms themselves: each row's words with
# a space on either side, and LIKE patterns '% term %' (whole) or '% term%'
# (a beginning); terms are letters and digits, nothing LIKE would read.
# About a microsecond a row, where building a search vector costs thirty.
_NAME = "(' ' || p.name_words || ' ')"
_ALL = "(' ' || p.name_words || ' ' || p.description_words || ' ')"
_HOLDS = "LIKE ALL (?)"
# The indexes' expressions, word for word (models.py), so that the planner
# matches them.
_NAME_VECTOR = "cybermarket_search_vector(p.name_words)"
_ALL_VECTOR = "cybermarket_search_vector(p.name_words || ' ' || p.description_words)"
# Each rank: its condition, the kinds of patterns it takes in order, the
# index that finds its products, and the kind of tsquery it asks that
# index.
_RANKS_POSTGRESQL = [
    (f"{_NAME} {_HOLDS}", ("whole",), _NAME_VECTOR, "whole"),
    (
        f"{_NAME} {_HOLDS} AND NOT {_NAME} {_HOLDS}",
        ("begins", "whole"),
        _NAME_VECTOR,
        "begins",
    ),
    (f"{_ALL} {_HOLDS} AND NOT {_NAME} {_HOLDS}", ("whole", "begins"), _ALL_VECTOR, "whole"),
    (
        f"{_ALL} {_HOLDS} AND NOT {_NAME} {_HOLDS} AND NOT {_ALL} {_HOLDS}",
        ("begins", "begins", "whole"),
        _ALL_VECTOR,
        "begins",
    ),
]
# The walk: the next products in id order (of one store: its index on
# (merchant_id, id)), read once, those that match kept.  Each row also says
# how far the walk went (walked_to) and how many it read (walked).
# Parameters: [store], after, how many to read; the condition's patterns;
# how many rows.
_WALK = (
    f"SELECT {_COLUMNS}, p.walked_to, p.walked FROM ("
    " SELECT w.*, max(w.id) OVER () AS walked_to, count(*) OVER () AS walked FROM ("
    "  SELECT id, merchant_id, productname, description, price_cents, stock, on_shelf,"
    "  name_words, description_words FROM products"
    "  WHERE {store}id > ? ORDER BY id LIMIT ?) w) p"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE p.on_shelf AND {condition}"
    " ORDER BY p.id LIMIT ?"
)
# The index: every product of the rank, found through its GIN index (the
# CTE is materialized, and asks nothing else a plan could walk in order),
# then the page's ids sorted.  Parameters: the tsquery; the condition's
# patterns; [store]; after; how many rows.
_FOUND = (
    "WITH found AS MATERIALIZED ("
    " SELECT p.id FROM products p"
    " WHERE p.on_shelf AND {index} @@ ?::tsquery AND {condition}{store})"
    f" SELECT {_COLUMNS} FROM (SELECT id FROM found WHERE id > ? ORDER BY id LIMIT ?) f"
    " JOIN products p ON p.id = f.id JOIN merchants m ON m.id = p.merchant_id"
    " ORDER BY p.id"
)


class _Statements:
    """PostgreSQL's statements of each rank, as attributes (where
    tests/test_statements.py finds them): walk0 to walk3 and found0 to
    found3; and `last`, the last product's id (of the store), which tells
    how many products a walk has still before it."""

    def __init__(self, store: bool) -> None:
        where = " WHERE merchant_id = ?" if store else ""
        self.last = Query(f"SELECT max(id) FROM products{where}", backend="postgresql")
        for rank, (condition, _, index, _) in enumerate(_RANKS_POSTGRESQL):
            walk = _WALK.format(store="merchant_id = ? AND " if store else "", condition=condition)
            found = _FOUND.format(
                index=index, condition=condition, store=" AND p.merchant_id = ?" if store else ""
            )
            setattr(self, f"walk{rank}", Query(walk, backend="postgresql"))
            setattr(self, f"found{rank}", Query(found, backend="postgresql"))

    def walk(self, rank: int) -> Query:
        query: Query = getattr(self, f"walk{rank}")
        return query

    def found(self, rank: int) -> Query:
        query: Query = getattr(self, f"found{rank}")
        return query


POSTGRESQL_SEARCH = _Statements(store=False)
POSTGRESQL_SEARCH_STORE = _Statements(store=True)


def tsqueries(terms: Sequence[Term]) -> dict[str, str]:
    """PostgreSQL's index queries (tsquery text, taken as it is, not parsed
    again): every term whole, and every term as a beginning: a CJK term as
    it is, a term of one or two characters as its indexed prefix ('a*'),
    a longer one as a prefix match ('app':*)."""

    def begins(term: Term) -> str:
        if not term.grows:
            return f"'{term.text}'"
        if len(term.text) <= 2:
            return f"'{term.text}*'"
        return f"'{term.text}':*"

    return {
        "whole": " & ".join(f"'{term.text}'" for term in terms),
        "begins": " & ".join(begins(term) for term in terms),
    }


def like_patterns(terms: Sequence[Term]) -> dict[str, list[str]]:
    """The LIKE patterns of every term whole, and as a beginning."""
    return {
        "whole": [f"% {term.text} %" for term in terms],
        "begins": [f"% {term.text}{'%' if term.grows else ' %'}" for term in terms],
    }


# A row of a rank: (rank, (product_id, storename, productname, description,
# price_cents, stock, photo)).
Found = tuple[int, tuple[Any, ...]]


def _postgresql_rank(
    txn: Txn, terms: Sequence[Term], rank: int, store_id: int | None, after_id: int, count: int
) -> list[tuple[Any, ...]]:
    """Up to `count` rows of one rank past product_id `after_id`: walked
    to in id order while that is the cheaper road, then found through the
    index (see the module's docstring)."""
    _, kinds, _, kind = _RANKS_POSTGRESQL[rank]
    statements = POSTGRESQL_SEARCH if store_id is None else POSTGRESQL_SEARCH_STORE
    store = [] if store_id is None else [store_id]
    patterns = like_patterns(terms)
    condition = [patterns[k] for k in kinds]

    def walk(after_id: int, window: int, need: int) -> tuple[list[tuple[Any, ...]], int | None]:
        """The matches among the next `window` products, and the id of the
        last product read; None when that was the last one there is (or
        when nothing matched, and so nothing says how far it went)."""
        rows = txn.rows(statements.walk(rank), *store, after_id, window, *condition, need)
        if not rows or rows[0][_COUNT + 1] < window:
            return [row[:_COUNT] for row in rows], None
        return [row[:_COUNT] for row in rows], rows[0][_COUNT]

    start = after_id
    found, walked_to = walk(after_id, WALK, count)
    if len(found) == count or (found and walked_to is None):
        return found
    if found:
        assert walked_to is not None
        after_id = walked_to
        # Another walk, when the matches seen promise to fill the page in
        # fewer products (half as many again, for luck) than the index
        # would spend on the matches after them, all of which it reads.
        last = txn.value(statements.last, *store) or walked_to
        density = len(found) / WALK
        rest = (last - walked_to) * WALK / (walked_to - start)
        window = int(1.5 * (count - len(found)) / density) + 1
        if window <= WALK_MOST and window <= INDEX_COST * density * rest:
            more, walked_to = walk(after_id, window, count - len(found))
            found += more
            if len(found) == count or (more and walked_to is None):
                return found
            if more:
                assert walked_to is not None
                after_id = walked_to
    tsquery = tsqueries(terms)[kind]
    index = statements.found(rank)
    return found + txn.rows(index, tsquery, *condition, *store, after_id, count - len(found))


def rank_txn(
    txn: Txn,
    terms: Sequence[Term],
    rank: int,
    store_id: int | None,
    after_id: int,
    count: int,
) -> list[Found]:
    """Up to `count` rows of one rank, past product_id `after_id`."""
    if txn.postgres:
        rows = _postgresql_rank(txn, terms, rank, store_id, after_id, count)
    else:
        params: list[object] = [fts5_queries(terms)[rank]]
        if store_id is not None:
            params.append(store_id)
        query = SQLITE_SEARCH if store_id is None else SQLITE_SEARCH_STORE
        rows = txn.rows(query, *params, after_id, count)
    return [(rank, row) for row in rows]
