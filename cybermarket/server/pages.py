"""A cache of the public pages (LIST_PRODUCT, LIST_MERCHANT), kept packed,
one cache per server process, each page stored with the version of what it
shows and served again only while that version has not moved.

Why: anyone may list a store without logging in, so browsing is likely the
most frequent request, and every answer is the same until somebody changes
something.
Reading and converting a page of rows and packing it was most of the
server's own work for it (docs/performance.md).

How it stays right, with several threads or server processes on one
database, SQLite or PostgreSQL:
- Each store has a version (merchants.page_version) and the store list has
  one (store_list_version); triggers move them in the same transaction as
  every change to what the page shows, whoever makes it (migration 0005);
  cybermarket/storage/catalog.py reads them.
- Before serving a kept page, the version is read with one indexed read;
  a kept page is served only if it was stored under that same version
  (and, for a store, the same store id: a name can pass to another store).
- The version is read before the page's query, in the same transaction or,
  on PostgreSQL's autocommit reads, in an earlier statement: a commit that
  slips in between can only make the page newer than its version, which
  costs a miss later, never a stale answer.
- Only read-only requests use the cache, and only transactions that write
  nothing fill it: a page is kept only if it shows committed data, so that
  a rollback never leaves anything to undo here, and the cache can be
  shared by the process's database threads.  In a SQLite group
  (groupcommit.py) a read-only request shares a transaction with writes:
  it may be served a kept page (a version its group has moved is newer
  than any version a page was kept under, so it misses), but what it
  reads is not kept.
- A change in one store moves only that store's version: a checkout in one
  store leaves every other store's pages in the cache.

`--page-cache` sets the pages kept; 0 turns the cache off.  The storage
layer only hands the cache to the handlers (Txn.cache) and says whether
the transaction writes (Txn.writing, Txn.uncommitted): it knows nothing of
pages or of the codec.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from cybermarket.codec import Packed, pack
from cybermarket.storage.txn import Txn

MOST_BYTES = 64 * 1024  # a page bigger than this is not kept

T = TypeVar("T")
# What a page is stored under: the version of what it shows, as read.
Stamp = Hashable


def shared(
    most: int, watch: "Callable[[PageCache], PageCache] | None" = None
) -> "Callable[[], PageCache] | None":
    """The Database's connection_cache for --page-cache `most`: one cache
    for all the database threads of the process (a page kept by one is as
    good for the others: it is checked against the database's version, not
    the connection's); `watch` is handed the cache (the metrics read its
    counts)."""
    if not most:
        return None
    cache = PageCache(most)
    if watch is not None:
        watch(cache)
    return lambda: cache


class PageCache:
    __slots__ = ("most", "pages", "hits", "misses", "_lock")

    def __init__(self, most: int) -> None:
        self.most = most  # pages kept at most; 0: none
        # key -> (the version it was read under, the packed page)
        self.pages: OrderedDict[Hashable, tuple[Stamp, Packed]] = OrderedDict()
        # Counts for the metrics, read when scraped.
        self.hits = 0
        self.misses = 0
        # The database threads share the cache: a look-up and its
        # move_to_end must not meet another thread's eviction.
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.pages.clear()

    def get(self, key: Hashable, stamp: Stamp) -> Packed | None:
        with self._lock:
            kept = self.pages.get(key)
            if kept is not None and kept[0] == stamp:
                self.pages.move_to_end(key)
                self.hits += 1
                return kept[1]
            self.misses += 1
            return None

    def put(self, key: Hashable, stamp: Stamp, page: Packed) -> None:
        with self._lock:
            if len(page) > MOST_BYTES:
                self.pages.pop(key, None)
                return
            self.pages[key] = (stamp, page)
            self.pages.move_to_end(key)
            if len(self.pages) > self.most:
                self.pages.popitem(last=False)


def cached(
    txn: Txn,
    key: Hashable,
    version: Callable[[Txn], Stamp | None],
    compute: Callable[..., T],
    *args: Any,
) -> T | Packed:
    """compute(txn, *args), packed and kept while version(txn) stays as it
    is; or, where nothing may be cached, compute's plain value."""
    cache = cast("PageCache | None", txn.cache)
    if cache is None or txn.writing:
        return compute(txn, *args)
    stamp = version(txn)  # before the page: see the module's doc
    if stamp is None:
        return compute(txn, *args)
    page = cache.get(key, stamp)
    if page is None:
        page = Packed(pack(compute(txn, *args)))
        if not txn.uncommitted:
            cache.put(key, stamp, page)
    return page
