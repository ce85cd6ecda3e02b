"""SEARCH_PRODUCT (protocol 1.1, with 1.2's "Search cost"): products on the
shelf by the words of their name and description, a page at a time, rank
by rank.  How the words are compared, what each rank holds and what a rank
costs on each backend: cybermarket/storage/search.py, where the statements
are.
"""

from typing import Any

from cybermarket.errors import NotFound, What
from cybermarket.i18n import N_
from cybermarket.server.context import Call
from cybermarket.server.handlers import fit, handles
from cybermarket.server.handlers.catalog import PRODUCT_COLUMNS
from cybermarket.storage import search
from cybermarket.storage.txn import Txn
from cybermarket.values import After, Term, fold, from_cents


def find(
    txn: Txn,
    query: tuple[Term, ...],
    limit: int,
    page_bytes: int,
    storename: str | None = None,
    after: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One page of a search, in one read transaction.  `query` is already
    its terms (values.SearchQuery)."""
    store_id = None
    if storename is not None:
        store_id = search.store_id_txn(txn, fold(storename))
        if store_id is None:
            raise NotFound(
                N_("storename: no store named {storename}"),
                what=What.STORE,
                storename=repr(storename),
            )
    rank, after_id = (0, 0) if after is None else after
    found: list[search.Found] = []
    while rank < search.RANKS and len(found) <= limit:
        found += search.rank_txn(txn, query, rank, store_id, after_id, limit + 1 - len(found))
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


@handles("SEARCH_PRODUCT")
async def search_product(
    call: Call,
    query: tuple[Term, ...],
    limit: int,
    storename: str | None = None,
    after: tuple[int, int] | None = None,
) -> dict[str, Any]:
    # On the search threads, shared out between peer addresses
    # (cybermarket/server/searches.py), never in the queue of the other
    # requests.
    page: dict[str, Any] = await call.app.searches.run(
        call.peer, find, query, limit, call.app.settings.page_bytes, storename, after
    )
    return page
