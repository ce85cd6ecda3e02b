"""Prometheus metrics of one server process (--metrics).

Every metric lives in the app's own CollectorRegistry, not prometheus_client's
global one, so that several apps in one process (the tests) keep apart.

Label values come only from the op table and from fixed reasons: a request
for an op the table does not have counts under UNKNOWN, so no client can
make new series.

What every request touches is counted without prometheus_client's metric
objects (a lock per addition, three per observation, and the calls around
them: about 5 us a request on a loaded 2-core machine, a few per cent of a
PING): in plain ints and floats, each kept by the one thread that writes it
(the reactor's for requests and open connections; each database thread its
own for transactions), and a histogram observation is one bisect and two
additions.  A scrape (on a thread of the reactor's pool) copies them and
sums the threads' parts into the same families prometheus_client's Counter,
Histogram and Gauge would export.  A copy of a list or a dict is one step
for Python, so a scrape never sees half of an addition; the _sum of a
histogram may lag its _count by the observation under way.

What is cheap to read when scraped (queue depths, page-cache counts) is read
then, by a collector, instead of being counted as it happens.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from cybermarket.instruments import Instruments
from cybermarket.ops import OPS

if TYPE_CHECKING:
    from cybermarket.server.context import App
    from cybermarket.server.pages import PageCache
    from cybermarket.server.photos import HotCache

T = TypeVar("T")

UNKNOWN = "unknown"  # the op label of a request whose op is not in the table
TRANSPORTS = ("tcp", "websocket", "http")
# Why a connection was refused or closed by a limit: the limits' own names.
REFUSALS = ("max-connections", "max-connections-per-address", "frame-timeout")
# 429s: what was refused.  Failed logins: why they failed.
THROTTLED = ("client_login", "merchant_login", "client_password", "merchant_password", "resume")
FAILURES = ("wrong_password", "no_such_account", "wrong_old_password")
ROLES = ("client", "merchant")

# Request latencies: from a PING's tens of microseconds to a login's hash.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # group commit: requests per COMMIT


class Metrics(Instruments):
    """The metrics, and the hooks the server's parts call (handed to them
    as their Instruments when built)."""

    active = True

    def __init__(self) -> None:
        # No *_created series beside each counter: they double a scrape's
        # size, and Prometheus notices restarts without them.  (A setting of
        # prometheus_client's for the whole process.)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        # Counted in plain numbers, exported by _Counts at a scrape: requests
        # by op (the reactor's), transactions by what ran (per database
        # thread), open connections by transport (the reactor's).
        self._answers: dict[str, _Answers] = {op: _Answers() for op in OPS}
        self._unknown = self._answers[UNKNOWN] = _Answers()
        self._transactions = _PerThread()
        self._open = dict.fromkeys(TRANSPORTS, 0)
        r.register(_Counts(self))
        self.refused = Counter(
            "cybermarket_connections_refused",
            "Connections refused or closed by a limit, by the limit's option.",
            ["reason"],
            registry=r,
        )
        self.group_size = Histogram(
            "cybermarket_database_group_size",
            "Requests committed together by one SQLite COMMIT (group commit).",
            buckets=GROUP_BUCKETS,
            registry=r,
        )
        self.hash_time = Histogram(
            "cybermarket_hash_duration_seconds",
            "Time a password hash or check took on the hashing pool.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.failed_logins = Counter(
            "cybermarket_failed_logins",
            "Failed logins and password changes, by role and why.",
            ["role", "kind"],
            registry=r,
        )
        self.throttled = Counter(
            "cybermarket_throttled",
            "Requests refused with 429 by the failed-login throttle, by kind.",
            ["kind"],
            registry=r,
        )
        for reason in REFUSALS:
            self.refused.labels(reason)
        for kind in THROTTLED:
            self.throttled.labels(kind)
        for role in ROLES:
            for failure in FAILURES:
                self.failed_logins.labels(role, failure)
        # A failed RESUME has no role: the token named no account.
        self.failed_logins.labels("session", "bad_token")
        self._pages: list[PageCache] = []
        self._photos: list[HotCache] = []

    # --- requests (reactor thread) ------------------------------------------------

    def answered(
        self,
        op: str | None,
        status: int,
        seconds: float,
        peer: str | None = None,
        account: int | None = None,
    ) -> None:
        """Count one answer (on the reactor thread).  Its signature is
        App.answered's, so that without --access-log the hook is this
        method itself."""
        tally = self._answers.get(op) if op is not None else None
        if tally is None:
            tally = self._unknown
        statuses = tally.statuses
        statuses[status] = statuses.get(status, 0) + 1
        tally.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        tally.sum += seconds

    def opened(self, transport: str) -> None:
        self._open[transport] += 1

    def closed(self, transport: str) -> None:
        self._open[transport] -= 1

    def refusal(self, reason: str) -> Callable[[], None]:
        """What a limits.Bite calls for each refusal of `reason`."""
        return self.refused.labels(reason).inc

    # --- database and hashing threads ----------------------------------------------

    def timed_transaction(self, desc: str, func: Callable[..., T]) -> Callable[..., T]:
        """`func`, timed into the database histogram under `desc` (a name
        the server's code gives, never a client)."""
        observe = self._transactions.observe

        def timed(*args: Any, **kwargs: Any) -> T:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                observe(desc, time.perf_counter() - start)

        return timed

    def group_committed(self, size: int) -> None:
        self.group_size.observe(size)

    def timed_hash(self, func: Callable[..., T]) -> Callable[..., T]:
        observe = self.hash_time.observe

        def timed(*args: Any) -> T:
            start = time.perf_counter()
            try:
                return func(*args)
            finally:
                observe(time.perf_counter() - start)

        return timed

    def page_cache(self, cache: PageCache) -> PageCache:
        """Count `cache`'s hits and misses (read when scraped)."""
        self._pages.append(cache)
        return cache

    def photo_cache(self, cache: HotCache) -> HotCache:
        """Count the photos `cache` served and those read from the
        database (read when scraped)."""
        self._photos.append(cache)
        return cache

    # --- read when scraped ------------------------------------------------------

    def watch(self, app: App) -> None:
        """Queue depths of `app`, read at each scrape."""
        self.registry.register(_Queues(app, self._pages, self._photos))


class _Histogram:
    """One label value's histogram, kept by one thread without a lock:
    observations per bucket (LATENCY_BUCKETS, then +Inf) and their sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds


class _Answers(_Histogram):
    """One op's answers: how many of each status, and how long they took."""

    __slots__ = ("statuses",)

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[int, int] = {}


class _PerThread:
    """A histogram by label that every thread writing to it keeps its own
    part of, so that no addition needs a lock; a scrape sums the parts.  A
    part outlives its thread (counts never go down)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._parts: list[dict[str, _Histogram]] = []
        self._lock = threading.Lock()  # only to add a thread's part

    def observe(self, label: str, seconds: float) -> None:
        try:
            mine: dict[str, _Histogram] = self._local.part
        except AttributeError:
            mine = self._local.part = {}
            with self._lock:
                self._parts.append(mine)
        histogram = mine.get(label)
        if histogram is None:
            histogram = mine[label] = _Histogram()
        histogram.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.sum += seconds

    def totals(self) -> dict[str, tuple[list[int], float]]:
        """{label: (counts per bucket, sum)}, summed over the threads."""
        with self._lock:
            parts = list(self._parts)
        totals: dict[str, tuple[list[int], float]] = {}
        for part in parts:
            for label, histogram in dict(part).items():
                counts, total = list(histogram.counts), histogram.sum
                if label in totals:
                    before, before_sum = totals[label]
                    counts = [a + b for a, b in zip(before, counts, strict=True)]
                    total += before_sum
                totals[label] = (counts, total)
        return totals


LE = [floatToGoString(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]


def _buckets(counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts as a histogram's cumulative (le, count) pairs."""
    cumulative = 0
    pairs = []
    for le, count in zip(LE, counts, strict=True):
        cumulative += count
        pairs.append((le, float(cumulative)))
    return pairs


class _Counts(Collector):
    """The request, transaction and connection counts, as the families
    prometheus_client's Counter, Histogram and Gauge would export.  Only
    what has been counted is exported: all ops times all statuses would be
    hundreds of series that stay at zero.  The label values stay bounded
    all the same: op names from the table, statuses from the server's
    code."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # no fixed description: collected fresh at each scrape

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "cybermarket_requests", "Requests answered, by op and status.", labels=["op", "status"]
        )
        latency = HistogramMetricFamily(
            "cybermarket_request_duration_seconds",
            "Time from handling a request to its answer, by op.",
            labels=["op"],
        )
        for op, tally in list(m._answers.items()):
            statuses, counts, total = dict(tally.statuses), list(tally.counts), tally.sum
            if not statuses:
                continue
            for status, count in sorted(statuses.items()):
                requests.add_metric([op, str(status)], count)
            latency.add_metric([op], _buckets(counts), total)
        yield requests
        yield latency
        database = HistogramMetricFamily(
            "cybermarket_database_duration_seconds",
            "Time spent in database transactions, by what ran (an op, or the"
            " server's own work such as a login check).",
            labels=["op"],
        )
        for desc, (counts, total) in sorted(m._transactions.totals().items()):
            database.add_metric([desc], _buckets(counts), total)
        yield database
        connections = GaugeMetricFamily(
            "cybermarket_connections", "Open connections, by transport.", labels=["transport"]
        )
        for transport, count in dict(m._open).items():
            connections.add_metric([transport], count)
        yield connections


class _Queues(Collector):
    def __init__(self, app: App, pages: list[PageCache], photos: list[HotCache]) -> None:
        self.app = app
        self.pages = pages
        self.photos = photos

    def describe(self) -> Iterable[Metric]:
        return []  # no fixed description: collected fresh at each scrape

    def collect(self) -> Iterator[Metric]:
        db = self.app.db
        yield GaugeMetricFamily(
            "cybermarket_database_queue_depth",
            "Database requests waiting for a thread.",
            db.jobs.depth(),
        )
        yield GaugeMetricFamily(
            "cybermarket_hash_queue_depth",
            "Password hashes waiting for a hashing thread.",
            self.app.hasher.waiting(),
        )
        yield GaugeMetricFamily(
            "cybermarket_search_queue_depth",
            "Searches waiting for a search thread.",
            self.app.searches.waiting(),
        )
        # Summed over a copy: database threads may add a cache meanwhile.
        caches = list(self.pages)
        family = CounterMetricFamily(
            "cybermarket_page_cache",
            "Public pages (LIST_PRODUCT, LIST_MERCHANT) served from the page cache"
            " (hit) or read from the database (miss).",
            labels=["result"],
        )
        family.add_metric(["hit"], sum(c.hits for c in caches))
        family.add_metric(["miss"], sum(c.misses for c in caches))
        yield family
        # Every photo served is looked up in the hot cache first, and each
        # one not found there is one read on a database thread.
        photos = list(self.photos)
        family = CounterMetricFamily(
            "cybermarket_photo_reads",
            "Photos served (GET and HEAD /photos/, 304s too) from the hot-thumbnail"
            " cache (cache) or read from the database (database).",
            labels=["source"],
        )
        family.add_metric(["cache"], sum(c.hits for c in photos))
        family.add_metric(["database"], sum(c.misses for c in photos))
        yield family
