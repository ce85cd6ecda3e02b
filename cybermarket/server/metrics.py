"""Prometheus metrics of one server process (--metrics).

Every metric lives in the app's own CollectorRegistry, not prometheus_client's
global one, so that several apps in one process (the tests) keep apart.

Label values come only from the op table and from fixed reasons: a request
for an op the table does not have counts under UNKNOWN, so no client can
make new series.  The children of the labelled metrics that every request
touches are bound once, here, so that counting a request is a dict lookup
and two additions under prometheus_client's locks.

What is cheap to read when scraped (queue depths, page-cache counts) is read
then, by a collector, instead of being counted as it happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cybermarket.server.optable import SERVED

if TYPE_CHECKING:
    from cybermarket.server.context import App
    from cybermarket.server.pages import PageCache

T = TypeVar("T")

UNKNOWN = "unknown"  # the op label of a request whose op is not in the table
TRANSPORTS = ("tcp", "websocket")
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


class Metrics:
    """The metrics, and the hooks the server's parts call."""

    def __init__(self) -> None:
        # No *_created series beside each counter: they double a scrape's
        # size, and Prometheus notices restarts without them.  (A setting of
        # prometheus_client's for the whole process.)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter(
            "cybermarket_requests",
            "Requests answered, by op and status.",
            ["op", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cybermarket_request_duration_seconds",
            "Time from handling a request to its answer, by op.",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.database = Histogram(
            "cybermarket_database_duration_seconds",
            "Time spent in database transactions, by what ran (an op, or the"
            " server's own work such as a login check).",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "cybermarket_connections", "Open connections, by transport.", ["transport"], registry=r
        )
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
        # Children bound on first use and kept: then counting a request is a
        # dict lookup.  Not all bound up front: ops times statuses would
        # export hundreds of series that stay at zero.  The label values
        # stay bounded all the same: op names from the table, statuses
        # from the server's code.
        self._requests: dict[tuple[str, int], Any] = {}
        self._latency: dict[str, Any] = {}
        self._ops = frozenset(SERVED)
        self._database: dict[str, Any] = {}
        self._connections = {t: self.connections.labels(t) for t in TRANSPORTS}
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

    # --- requests (reactor thread) ------------------------------------------------

    def answered(self, op: str | None, status: int, seconds: float) -> None:
        name = op if op is not None and op in self._ops else UNKNOWN
        child = self._requests.get((name, status))
        if child is None:
            child = self._requests[name, status] = self.requests.labels(name, str(status))
        child.inc()
        timer = self._latency.get(name)
        if timer is None:
            timer = self._latency[name] = self.latency.labels(name)
        timer.observe(seconds)

    def opened(self, transport: str) -> None:
        self._connections[transport].inc()

    def closed(self, transport: str) -> None:
        self._connections[transport].dec()

    def refusal(self, reason: str) -> Callable[[], None]:
        """What a limits.Bite calls for each refusal of `reason`."""
        return self.refused.labels(reason).inc

    # --- database and hashing threads ----------------------------------------------

    def timed_transaction(self, desc: str, func: Callable[..., T]) -> Callable[..., T]:
        """`func`, timed into the database histogram under `desc` (a name
        the server's code gives, never a client)."""
        child = self._database.get(desc)
        if child is None:
            child = self._database[desc] = self.database.labels(desc)
        observe = child.observe

        def timed(*args: Any, **kwargs: Any) -> T:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        return timed

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

    # --- read when scraped ------------------------------------------------------

    def watch(self, app: App) -> None:
        """Queue depths of `app`, read at each scrape."""
        self.registry.register(_Queues(app, self._pages))


class _Queues(Collector):
    def __init__(self, app: App, pages: list[PageCache]) -> None:
        self.app = app
        self.pages = pages

    def describe(self) -> Iterable[Metric]:
        return []  # no fixed description: collected fresh at each scrape

    def collect(self) -> Iterator[Metric]:
        db = self.app.db
        if db.group is not None:
            depth = db.group.depth()
        else:
            depth = db.pool.depth() if db.pool is not None else 0
        yield GaugeMetricFamily(
            "cybermarket_database_queue_depth", "Database requests waiting for a thread.", depth
        )
        yield GaugeMetricFamily(
            "cybermarket_hash_queue_depth",
            "Password hashes waiting for a hashing thread.",
            self.app.hasher.waiting(),
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
