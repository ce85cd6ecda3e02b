"""A cache of the public pages (LIST_PRODUCT, LIST_MERCHANT), kept packed,
one cache per database connection, and valid only while nothing at all has
changed in the database.

Why: anyone may list a store without logging in, so browsing is likely the
most frequent request, and every answer is the same until somebody changes
something.
Reading and converting a page of rows and packing it was most of the
server's own work for it (docs/performance.md).

How it stays right, with several threads or server processes on one file:
- A page is stored with a stamp: SQLite's `PRAGMA data_version`, which moves
  when any *other* connection (thread or process) commits, and this
  connection's own `total_changes`, which moves when it changes any row.
- The stamp is read before the page's query, in the same read transaction.
  A commit that slips in between can only make the stamp older than the
  page, which costs a miss later, never a stale answer.
- Only read transactions use the cache.  A write transaction (or a group of
  requests with a write in it, see groupcommit.py) may see changes that are
  not committed yet, so it neither reads nor fills the cache; a rollback
  empties it.
- Any change empties the whole cache: no bookkeeping of which change
  touches which page.

PostgreSQL has no stamp this cheap, so there pages are not cached: Txn.stamp
gives None and every request runs its query.  `--page-cache` sets the pages
kept per connection; 0 turns the cache off.  The storage layer only holds
each connection's cache (Txn.cache) and empties it on rollback: it knows
nothing of pages or of the codec.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from cybermarket.codec import Packed, pack
from cybermarket.storage.txn import Txn

MOST_BYTES = 64 * 1024  # a page bigger than this is not kept

T = TypeVar("T")
# What a page is stored under: the stamp of the database it was read from.
Stamp = tuple[int, int]


def per_connection(
    most: int, watch: "Callable[[PageCache], PageCache] | None" = None
) -> "Callable[[], PageCache] | None":
    """The Database's connection_cache for --page-cache `most`; `watch` is
    handed each cache made (the metrics read their counts)."""
    if not most:
        return None
    if watch is None:
        return lambda: PageCache(most)
    return lambda: watch(PageCache(most))


class PageCache:
    __slots__ = ("most", "stamp", "pages", "hits", "misses")

    def __init__(self, most: int) -> None:
        self.most = most  # pages kept at most; 0: none
        self.stamp: Stamp | None = None
        self.pages: OrderedDict[Hashable, Packed] = OrderedDict()
        # Plain counts, by the one thread that owns this cache; the metrics
        # read them when scraped.
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.stamp = None
        self.pages.clear()

    def get(self, stamp: Stamp, key: Hashable) -> Packed | None:
        if stamp != self.stamp:
            self.pages.clear()
            self.stamp = stamp
            self.misses += 1
            return None
        page = self.pages.get(key)
        if page is not None:
            self.pages.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return page

    def put(self, stamp: Stamp, key: Hashable, page: Packed) -> None:
        if stamp != self.stamp or len(page) > MOST_BYTES:
            return
        self.pages[key] = page
        if len(self.pages) > self.most:
            self.pages.popitem(last=False)


def cached(txn: Txn, key: Hashable, compute: Callable[..., T], *args: Any) -> T | Packed:
    """compute(txn, *args), packed and kept while the database stays as it
    is; or, where nothing may be cached, compute's plain value."""
    stamp = txn.stamp()
    if stamp is None:
        return compute(txn, *args)
    cache = cast(PageCache, txn.cache)  # there is a stamp: there is a cache
    page = cache.get(stamp, key)
    if page is None:
        page = Packed(pack(compute(txn, *args)))
        cache.put(stamp, key, page)
    return page
