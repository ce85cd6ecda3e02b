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

from collections.abc import Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

from cybermarket.errors import Unavailable
from cybermarket.storage.workers import Deliver, Job, More, Worker

log = Logger()

MOST = 64  # requests in one group at most


class GroupCommit:
    """The strategy of SQLite's one database thread (workers.Jobs): the job
    it takes and those queued behind it, as one group."""

    def __init__(self, observe_size: Callable[[int], None] | None = None) -> None:
        # Told each group's size, on the database thread (--metrics).
        self.observe_size = observe_size

    def serve(self, worker: Worker, job: Job, more: More, deliver: Deliver) -> None:
        group = [job]
        while len(group) < MOST:
            queued = more()
            if queued is None:
                break
            group.append(queued)
        if self.observe_size is not None:
            self.observe_size(len(group))
        reads = [job for job in group if not job.write]
        if reads and len(reads) < len(group):
            # The reads first, in a transaction of their own, answered
            # at once: they need not wait for the writes' COMMIT and
            # fsync.  Running them before writes queued earlier is
            # right: one connection's requests run one at a time
            # (server/connection.py), so the jobs of a group come from
            # different connections, and any order of them is one the
            # clients could have seen.
            self._run(worker, reads, deliver)
            self._run(worker, [job for job in group if job.write], deliver)
        else:
            self._run(worker, group, deliver)

    def _run(self, worker: Worker, group: list[Job], deliver: Deliver) -> None:
        if len(group) == 1:
            deliver(group[0], worker.outcome(group[0]))
        else:
            for job, outcome in zip(group, self._together(worker, group), strict=True):
                deliver(job, outcome)

    def _together(self, worker: Worker, group: list[Job]) -> list[object]:
        """Each job's result, or its Failure, in the group's order."""
        Error = worker.db.dbapi.Error
        writes = any(job.write for job in group)
        try:
            txn = worker.connection()
            txn.begin(writes)
        except Exception as e:
            # The write lock stayed taken for the whole busy timeout (another
            # process), or the file cannot be opened: nothing ran.
            worker.rollback()
            log.warn("group begin failed: {error}", error=e)
            return [Failure(Unavailable("database busy; try again"))] * len(group)
        outcomes: list[object] = []
        for job in group:
            # Per request: a read-only one may use the page cache (pages.py).
            txn.writing = job.write
            txn.one_write = job.autocommit
            if writes:
                txn.cursor.execute("SAVEPOINT request")
            try:
                outcome = job.func(txn, *job.args, **job.kwargs)
            except Exception as e:
                outcome = Failure()
                try:
                    if writes:
                        txn.cursor.execute("ROLLBACK TO SAVEPOINT request")
                        txn.cursor.execute("RELEASE SAVEPOINT request")
                    elif isinstance(e, Error):
                        raise  # a group of reads: nothing to undo, but
                        # the transaction may be gone; as below
                except Error:
                    # The transaction itself is gone (SQLite rolled it
                    # back): nothing of the group happened; run each again
                    # on its own, where its error is mapped as usual.
                    worker.rollback()
                    return [worker.outcome(job) for job in group]
            else:
                if writes:
                    txn.cursor.execute("RELEASE SAVEPOINT request")
            outcomes.append(outcome)
        try:
            txn.commit()
        except Error as e:
            worker.rollback()
            log.warn("group commit failed: {error}", error=e)
            failure = Failure(Unavailable("database failed during commit"))
            return [failure] * len(group)
        return outcomes
