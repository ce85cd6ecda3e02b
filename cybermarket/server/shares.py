"""A few threads shared out fairly between peer addresses: the one scheduler
of password hashing (passwords.py), searches (searches.py) and photo
decoding (photos.py).

Each job comes with the peer address it is for and waits in that address's
own queue; jobs are started only as threads come free, taking the next job
from the address served longest ago (round robin), and never more than
`per_address` jobs of one address at once.  So an address that queues many
jobs delays another's by the job already running, not by all of its own.
The queues are bounded, per address and in all: beyond that a job is
refused at once (503, or the error its owner chose: photos answer 429 with
a retry_after), which is cheaper for everyone than an answer minutes
later.  When the whole queue is full, the address with the most
jobs waiting gives up its newest to make room for an address with fewer,
so a few busy addresses cannot shut everyone else out.  All of this runs on
the reactor thread, so it needs no lock.
"""

import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from cybermarket.errors import MarketError, Unavailable
from cybermarket.i18n import Template
from cybermarket.server import limits

# One job waiting for a thread: its Deferred, the function and its arguments.
Job = tuple[defer.Deferred[Any], Callable[..., Any], tuple[Any, ...]]


class FairShare:
    """`threads` jobs at most running at once, started by `start(function,
    args)` (a Deferred of the result), shared out between peer addresses as
    the module says.  A refusal answers `refusal()` (by default 503 with
    the message `busy`) and is logged through a Bite named `reason` with
    the text `refused` (fields: what, peer, why, count)."""

    def __init__(
        self,
        clock: IReactorTime,
        start: Callable[[Callable[..., Any], tuple[Any, ...]], defer.Deferred[Any]],
        threads: int,
        per_address: int,
        queue: int,
        queue_per_address: int,
        busy: Template,
        reason: str,
        refused: str,
        refusal: Callable[[], MarketError] | None = None,
    ) -> None:
        self.start = start
        self.threads = threads
        self.per_address = per_address
        self.queue = queue
        self.queue_per_address = queue_per_address
        self.busy = busy
        self.refusal = refusal or (lambda: Unavailable(busy))
        self._waiting: dict[str | None, deque[Job]] = {}  # peer -> jobs waiting
        self._waiting_total = 0
        self._running: dict[str | None, int] = {}  # peer -> jobs of that peer running
        self._running_total = 0
        # peer -> when it was last given a thread, for peers with jobs
        # waiting or running; the smallest goes next.
        self._served: dict[str | None, int] = {}
        self._ticks = itertools.count()
        self._dispatching = False
        # Logged through a Bite: a refusal is cheap to cause, and one line
        # each would let a client flood the log.
        self.refused = limits.Bite(clock, reason, refused)

    def submit(
        self, peer: str | None, what: str, function: Callable[..., Any], *args: Any
    ) -> defer.Deferred[Any]:
        """A Deferred of function(*args)'s result, run as the share allows;
        `what` names the work in the log line of a refusal."""
        jobs = self._waiting.get(peer)
        waiting = len(jobs) if jobs else 0
        # The bounds are on jobs that would wait; one that starts at once
        # is never refused.
        if not self._can_start(peer):
            if waiting >= self.queue_per_address:
                return self._refuse(peer, what, f"{waiting} jobs of this address waiting")
            if self._waiting_total >= self.queue and not self._shed_for(waiting):
                return self._refuse(peer, what, f"{self._waiting_total} jobs waiting in all")
        d: defer.Deferred[Any] = defer.Deferred()
        if jobs is None:
            jobs = self._waiting[peer] = deque()
        jobs.append((d, function, args))
        self._waiting_total += 1
        self._dispatch()
        return d

    def waiting(self) -> int:
        """Jobs waiting for a thread."""
        return self._waiting_total

    def stop(self) -> None:
        """Answer the jobs still waiting, which will never run, rather than
        leave their requests hanging."""
        waiting, self._waiting = self._waiting, {}
        self._waiting_total = 0
        for jobs in waiting.values():
            for d, _, _ in jobs:
                d.errback(Unavailable("the server is shutting down"))

    # --- the queues -------------------------------------------------------------

    def _can_start(self, peer: str | None) -> bool:
        return (
            self._running_total < self.threads
            and self._running.get(peer, 0) < self.per_address
            and peer not in self._waiting
        )

    def _shed_for(self, waiting: int) -> bool:
        """Make room in a full queue for a job of an address with `waiting`
        jobs waiting: refuse the newest job of the address with the most,
        if it has more.  So a few busy addresses cannot fill the queue for
        everyone else; they share it down to equal shares."""
        hog = max(self._waiting, key=lambda p: len(self._waiting[p]), default=None)
        if hog is None or len(self._waiting[hog]) <= waiting + 1:
            return False
        jobs = self._waiting[hog]
        d, _, _ = jobs.pop()
        self._waiting_total -= 1
        self.refused(what="job", peer=hog, why="shed for another address")
        d.errback(self.refusal())
        return True

    def _refuse(self, peer: str | None, what: str, reason: str) -> defer.Deferred[Any]:
        self.refused(what=what, peer=peer, why=reason)
        return defer.fail(self.refusal())

    def _next_peer(self) -> tuple[int, str | None] | None:
        """(when it was last given a thread, peer) of the waiting peer to
        run next: of those under their share of threads, the one given a
        thread longest ago (never: first).  None when no peer can run (a
        peer may itself be None: a job for no address in particular)."""
        best: tuple[int, str | None] | None = None
        for peer in self._waiting:
            if self._running.get(peer, 0) >= self.per_address:
                continue
            served = self._served.get(peer, -1)
            if best is None or served < best[0]:
                best = (served, peer)
        return best

    def _dispatch(self) -> None:
        # Re-entered when a job finishes at once (a start that runs inline);
        # the loop below carries on, so there is no recursion.
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._running_total < self.threads:
                best = self._next_peer()
                if best is None:
                    break
                peer = best[1]
                jobs = self._waiting[peer]
                d, function, args = jobs.popleft()
                if not jobs:
                    del self._waiting[peer]
                self._waiting_total -= 1
                self._running[peer] = self._running.get(peer, 0) + 1
                self._running_total += 1
                self._served[peer] = next(self._ticks)
                try:
                    done = self.start(function, args)
                except Exception:
                    done = defer.fail()
                done.addBoth(self._finished, peer, d)
        finally:
            self._dispatching = False

    def _finished(self, result: object, peer: str | None, d: defer.Deferred[Any]) -> None:
        self._running_total -= 1
        self._running[peer] -= 1
        if not self._running[peer]:
            del self._running[peer]
            if peer not in self._waiting:
                del self._served[peer]  # forget addresses that are done
        # Start the next job before handing the result on: the answer may
        # queue this peer's next job, which must not jump ahead of the
        # others.
        self._dispatch()
        if isinstance(result, Failure):
            d.errback(result)
        else:
            d.callback(result)
