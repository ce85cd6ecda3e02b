"""Group commit for SQLite: the one database thread runs the transactions
waiting at the same moment as one SQLite transaction, so that they share one
COMMIT and one fsync.

Each request keeps its own all-or-nothing: it runs inside a SAVEPOINT of its
own, and a request that fails is rolled back to its savepoint without
touching the others.  Answers go out only after the shared COMMIT, so no
client hears of work that was not durably committed; if that COMMIT fails,
every request of the group gets 503 and none of them happened.  The reads
of a group run first, in a read transaction of their own (no savepoints,
no fsync), and are answered at once.  Running the
group's requests one after another inside one transaction is the same as
running them one after another, which is what one SQLite thread did anyway.

A group is whatever is queued when the thread comes back for more work:
nothing ever waits to fill a group, so a lone request is not slowed down.
The fsync of a commit is most of what a write costs on SQLite (see
docs/performance.md); with N connections writing, up to N requests share it.
"""

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from cybermarket.errors import Unavailable
from cybermarket.storage.workers import Job, JobQueue

if TYPE_CHECKING:
    from cybermarket.storage.database import Database

log = Logger()

MOST = 64  # requests in one group at most


class GroupCommitter(JobQueue):
    def __init__(self, db: "Database", reactor: IReactorFromThreads) -> None:
        super().__init__(db, reactor)
        self._thread: threading.Thread | None = None
        # Told each group's size, on the database thread (--metrics).
        self.observe_size: Callable[[int], None] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cybermarket-db-0", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # --- the database thread ----------------------------------------------

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._serve(job):
                return

    def drain(self) -> None:
        """Run, on the calling thread, in groups, what is queued now: the
        in-process tests' fake clock calls this where the thread would
        come back for work, so that they run the same path."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is None or self._serve(job):
                return

    def _serve(self, job: Job) -> bool:
        """Run `job` and whatever is queued behind it as one group; whether
        a stop came with them."""
        group = [job]
        stopping = False
        while len(group) < MOST:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is None:
                stopping = True
                break
            group.append(queued)
        if self.observe_size is not None:
            self.observe_size(len(group))
        reads = [job for job in group if not job[5]]
        if reads and len(reads) < len(group):
            # The reads first, in a transaction of their own, answered
            # at once: they need not wait for the writes' COMMIT and
            # fsync.  Running them before writes queued earlier is
            # right: one connection's requests run one at a time
            # (server/connection.py), so the jobs of a group come from
            # different connections, and any order of them is one the
            # clients could have seen.
            self._run(reads)
            self._run([job for job in group if job[5]])
        else:
            self._run(group)
        return stopping

    def _run(self, group: list[Job]) -> None:
        if len(group) == 1:
            self._deliver(group[0][0], self._alone(group[0]))
        else:
            for (d, *_), outcome in zip(group, self._together(group), strict=True):
                self._deliver(d, outcome)

    def _alone(self, job: Job) -> object:
        """The job's result, or its Failure."""
        _, desc, func, args, kwargs, write, _ = job
        try:
            return self.db.run_sync(desc, func, args, kwargs, write)
        except BaseException:
            return Failure()

    def _together(self, group: list[Job]) -> list[object]:
        """Each job's result, or its Failure, in the group's order."""
        db = self.db
        writes = any(job[5] for job in group)
        try:
            fairy, txn = db._connection()
            txn.begin(writes)
        except Exception as e:
            # The write lock stayed taken for the whole busy timeout (another
            # process), or the file cannot be opened: nothing ran.
            db._rollback_quietly()
            log.warn("group begin failed: {error}", error=e)
            return [Failure(Unavailable("database busy; try again"))] * len(group)
        outcomes: list[object] = []
        for job in group:
            _, desc, func, args, kwargs, write, _ = job
            # Per request: a read-only one may use the page cache (pages.py).
            txn.writing = write
            if writes:
                txn.cursor.execute("SAVEPOINT request")
            try:
                outcome = func(txn, *args, **kwargs)
            except Exception as e:
                outcome = Failure()
                try:
                    if writes:
                        txn.cursor.execute("ROLLBACK TO SAVEPOINT request")
                        txn.cursor.execute("RELEASE SAVEPOINT request")
                    elif isinstance(e, db.dbapi.Error):
                        raise  # a group of reads: nothing to undo, but
                        # the transaction may be gone; as below
                except db.dbapi.Error:
                    # The transaction itself is gone (SQLite rolled it
                    # back): nothing of the group happened; run each again
                    # on its own, where its error is mapped as usual.
                    db._rollback(txn)
                    return [self._alone(job) for job in group]
            else:
                if writes:
                    txn.cursor.execute("RELEASE SAVEPOINT request")
            outcomes.append(outcome)
        try:
            txn.commit()
        except db.dbapi.Error as e:
            db._rollback(txn)
            log.warn("group commit failed: {error}", error=e)
            failure = Failure(Unavailable("database failed during commit"))
            return [failure] * len(group)
        return outcomes

    def _deliver(self, d: defer.Deferred[Any], outcome: object) -> None:
        if isinstance(outcome, Failure):
            self.reactor.callFromThread(d.errback, outcome)
        else:
            self.reactor.callFromThread(d.callback, outcome)
