"""The database threads: each a Worker that owns one connection for its
whole life and runs transactions on it, all taking jobs from one queue
(Jobs), each job's outcome handed back to the reactor.

How a thread turns jobs into transactions is its strategy: OneAtATime (a
transaction per job: PostgreSQL's threads) or GroupCommit (groupcommit.py:
SQLite's one thread, the jobs queued at one moment in one transaction).
Both use only the Worker's own methods.

Why not Twisted's ThreadPool: on PostgreSQL every request hops to a database
thread and back, and the pool's coordination and context tracking cost
measurably more per hop (about +0.1 of the bench's ceiling on LIST_PRODUCT
and the cart, docs/performance.md).
"""

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast

from sqlalchemy.engine.interfaces import DBAPICursor, DBAPIModule
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from cybermarket.errors import MarketError, Unavailable
from cybermarket.i18n import N_
from cybermarket.storage.txn import Txn

if TYPE_CHECKING:
    from cybermarket.storage.database import Database

T = TypeVar("T")

log = Logger()

RETRIES = 3  # attempts for a transaction that lost a deadlock or serialization


class Job(NamedTuple):
    """One request, as submitted."""

    d: defer.Deferred[Any]
    desc: str
    func: Callable[..., Any]
    args: Sequence[Any]
    kwargs: dict[str, Any]
    write: bool
    autocommit: bool


def _retryable(error: BaseException) -> bool:
    """A transaction PostgreSQL aborted to break a deadlock or a
    serialization conflict: running it again is the documented remedy."""
    return getattr(error, "sqlstate", None) in ("40001", "40P01")


class Worker:
    """One thread's connection, opened on first use and kept for the
    thread's life (checking one out of the pool per request costs more than
    most queries do), and the running of transactions on it."""

    def __init__(self, db: "Database") -> None:
        self.db = db
        self.fairy: PoolProxiedConnection | None = None
        self.txn: Txn | None = None

    def connection(self) -> Txn:
        """This worker's transaction handle, connecting if need be."""
        if self.txn is None:
            db = self.db
            try:
                fairy = db.engine.raw_connection()
            except (DBAPIError, db.dbapi.Error) as e:
                # raw_connection() does not wrap the driver's own errors.
                raise Unavailable(N_("database unreachable")) from e
            self.fairy = fairy
            cache = db.connection_cache() if db.connection_cache else None
            self.txn = Txn(fairy.dbapi_connection, not db.sqlite, db.dbapi, cache)
        return self.txn

    def transact(
        self,
        desc: str,
        func: Callable[..., T],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        write: bool = True,
        autocommit: bool = False,
    ) -> T:
        """func(txn, *args, **kwargs) in one transaction: retried on a stale
        connection or a lost deadlock, its driver errors mapped to 503."""
        kwargs = kwargs or {}
        Error = self.db.dbapi.Error
        for attempt in range(1, RETRIES + 1):
            txn = self.connection()
            try:
                txn.begin(write, autocommit)
                result = func(txn, *args, **kwargs)
            except MarketError:
                self.rollback()
                raise
            except Error as e:
                self.rollback()
                if self.disconnected(e):
                    self.forget(e)
                    if attempt < RETRIES:
                        continue  # a stale connection: try on a new one
                    raise Unavailable(N_("database unreachable")) from e
                if _retryable(e) and attempt < RETRIES:
                    log.info("{desc}: retrying after {error}", desc=desc, error=e)
                    time.sleep(0.01 * attempt)
                    continue
                if self.db.sqlite and "locked" in str(e):
                    raise Unavailable(N_("database busy; try again")) from e
                raise
            except BaseException:
                self.rollback()
                raise
            try:
                txn.commit()
            except Error as e:
                # Never retried: the commit may have happened.
                self.forget(e)
                raise Unavailable(N_("database unreachable during commit")) from e
            return result
        raise AssertionError("the last attempt returns or raises")

    def outcome(self, job: Job) -> object:
        """The job run in a transaction of its own: its result, or its
        Failure."""
        try:
            return self.transact(
                job.desc, job.func, job.args, job.kwargs, job.write, job.autocommit
            )
        except BaseException:
            return Failure()

    def rollback(self) -> None:
        """Roll back what is open, if anything; quietly: a connection that
        is gone has been rolled back by the server."""
        if self.txn is not None:
            try:
                self.txn.rollback()
            except Exception:
                pass

    def disconnected(self, error: DBAPIModule.Error) -> bool:
        fairy, txn = self.fairy, self.txn
        if fairy is None or txn is None:
            return True
        if getattr(fairy.dbapi_connection, "closed", False):
            return True
        return self.db.engine.dialect.is_disconnect(
            error, fairy.dbapi_connection, cast(DBAPICursor, txn.cursor)
        )

    def forget(self, error: Exception) -> None:
        """Drop a broken connection; the next transaction opens another."""
        log.warn("database connection lost: {error}", error=error)
        fairy, self.fairy, self.txn = self.fairy, None, None
        if fairy is not None:
            try:
                fairy.invalidate()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        fairy, self.fairy, self.txn = self.fairy, None, None
        if fairy is not None:
            try:
                fairy.close()
            except Exception:  # already broken; nothing to give back
                pass


Deliver = Callable[[Job, object], None]


More = Callable[[], Job | None]


class Strategy(Protocol):
    """How a database thread turns the jobs it takes into transactions."""

    def serve(self, worker: Worker, job: Job, more: More, deliver: Deliver) -> None:
        """Run `job`, and any of those more() gives (a job queued behind
        it; None when none is), on `worker`; deliver each outcome (a
        result, or a Failure)."""
        ...


class OneAtATime:
    """Each job its own transaction (PostgreSQL: its threads run side by
    side, and the server batches nothing)."""

    def serve(self, worker: Worker, job: Job, more: More, deliver: Deliver) -> None:
        deliver(job, worker.outcome(job))


class Jobs:
    """What the reactor hands database work to: one queue of jobs, taken by
    `count` threads, each a Worker, each serving jobs by `strategy`; None on
    the queue ends a thread."""

    def __init__(
        self, db: "Database", reactor: IReactorFromThreads, count: int, strategy: Strategy
    ) -> None:
        self.db = db
        self.reactor = reactor
        self.count = count
        self.strategy = strategy
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(
        self,
        desc: str,
        func: Callable[..., T],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        write: bool,
        autocommit: bool = False,
    ) -> defer.Deferred[T]:
        d: defer.Deferred[T] = defer.Deferred()
        self._queue.put(Job(d, desc, func, args, kwargs, write, autocommit))
        return d

    def depth(self) -> int:
        """Requests waiting for a database thread, about."""
        return self._queue.qsize()

    def start(self) -> None:
        for n in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"cybermarket-db-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Finish what is queued, then end the threads."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _loop(self) -> None:
        worker = self.db.worker()
        while True:
            job = self._queue.get()
            if job is None or self._serve(worker, job):
                return

    def drain(self) -> None:
        """Serve, on the calling thread (its own Worker), what is queued
        now: the in-process tests call this where a thread would come back
        for work, so that they run the same path."""
        worker = self.db.worker()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is None or self._serve(worker, job):
                return

    def _serve(self, worker: Worker, job: Job) -> bool:
        """Serve `job` and what the strategy takes behind it; whether a
        stop was taken meanwhile."""
        stopping = False

        def more() -> Job | None:
            nonlocal stopping
            if stopping:
                return None
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                return None
            if queued is None:
                stopping = True
            return queued

        self.strategy.serve(worker, job, more, self._deliver)
        return stopping

    def _deliver(self, job: Job, outcome: object) -> None:
        if isinstance(outcome, Failure):
            self.reactor.callFromThread(job.d.errback, outcome)
        else:
            self.reactor.callFromThread(job.d.callback, outcome)
