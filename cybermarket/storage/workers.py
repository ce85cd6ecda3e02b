"""The database threads where more than one runs (PostgreSQL): plain threads
taking jobs from one queue, each with its own connection, each job one
transaction (Database.run_sync), its outcome handed back to the reactor.

Why not Twisted's ThreadPool: on PostgreSQL every request hops to a database
thread and back, and the pool's coordination and context tracking cost
measurably more per hop (about +0.1 of the bench's ceiling on LIST_PRODUCT
and the cart, docs/performance.md).  A plain queue is what the SQLite
thread (groupcommit.py) already uses.
"""

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from cybermarket.storage.database import Database

T = TypeVar("T")
# (Deferred, desc, func, args, kwargs, write, autocommit): one request, as
# submitted.
Job = tuple[defer.Deferred[Any], str, Callable[..., Any], Sequence[Any], dict[str, Any], bool, bool]


class JobQueue:
    """What the reactor hands database work to: one queue of jobs, taken by
    the database thread(s) of a subclass (Workers here, GroupCommitter on
    SQLite); None on the queue ends a thread."""

    def __init__(self, db: "Database", reactor: IReactorFromThreads) -> None:
        self.db = db
        self.reactor = reactor
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()

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
        self._queue.put((d, desc, func, args, kwargs, write, autocommit))
        return d

    def depth(self) -> int:
        """Requests waiting for a database thread, about."""
        return self._queue.qsize()


class Workers(JobQueue):
    def __init__(self, db: "Database", reactor: IReactorFromThreads, count: int) -> None:
        super().__init__(db, reactor)
        self.count = count
        self._threads: list[threading.Thread] = []

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
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._serve(job)

    def drain(self) -> None:
        """Run, on the calling thread, one after another, what is queued
        now (the in-process tests' fake clock calls this)."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is None:
                return
            self._serve(job)

    def _serve(self, job: Job) -> None:
        d, desc, func, args, kwargs, write, autocommit = job
        try:
            result = self.db.run_sync(desc, func, args, kwargs, write, autocommit)
        except BaseException:
            self.reactor.callFromThread(d.errback, Failure())
        else:
            self.reactor.callFromThread(d.callback, result)
