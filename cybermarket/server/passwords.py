"""Password hashing on a small thread pool of its own, shared out fairly
between peer addresses.

Argon2id is deliberately slow and memory-hungry: 64 MiB and 3 passes
(argon2-cffi's defaults, RFC 9106's second recommended option), but one
lane instead of four.  Four lanes run on four threads, so one hash would
take every core of a small machine and stall the reactor; one lane keeps a
hash on one core.  Hashing releases the GIL, and it gets its own pool
(1 thread by default) apart from the database's: a login storm queues behind
itself and cannot starve database work or the reactor.  Hashes made with
other parameters still verify: each PHC string carries its own.

A hash is the one thing a client can make the server spend a quarter of a
second of a core on, so it is rationed.  Each job comes with the peer
address it is for and waits in that address's own queue; the pool is fed
only as threads come free, taking the next job from the address served
longest ago (round robin), and never running more than `per_address` jobs of
one address at once.  So an address that queues sixty hashes delays
another's login by the hash already running, not by sixty.  The queues are
bounded, per address and in all: beyond that a job is refused at once with
503, which is cheaper for everyone than an answer minutes later.  When the
whole queue is full, the address with the most jobs waiting gives up its
newest to make room for an address with fewer, so a few busy addresses
cannot shut everyone else out.  All of
this runs on the reactor thread, so it needs no lock.
"""

import itertools
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from cybermarket.errors import Unavailable
from cybermarket.server import limits

BUSY = "server busy hashing passwords; try again"

# Defaults of the options --hash-threads-per-address, --hash-queue and
# --hash-queue-per-address.
PER_ADDRESS = 2
QUEUE = 64
# Above the default failed-login limit (10): a burst of logins from one
# address is answered by the throttle (429) rather than by a full queue.
QUEUE_PER_ADDRESS = 16


# One job waiting for a thread: its Deferred, the function and its arguments.
Job = tuple[defer.Deferred[Any], Callable[..., Any], tuple[Any, ...]]


class Hasher:
    def __init__(
        self,
        threads: int = 1,
        reactor: IReactorFromThreads | None = None,
        hasher: PasswordHasher | None = None,
        per_address: int = PER_ADDRESS,
        queue: int = QUEUE,
        queue_per_address: int = QUEUE_PER_ADDRESS,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = cast(IReactorFromThreads, default)  # every reactor provides it
        self.reactor = reactor
        self.hasher = hasher or PasswordHasher(parallelism=1)
        self.threads = threads
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="cybermarket-hash")
        self.per_address = per_address
        self.queue = queue
        self.queue_per_address = queue_per_address
        self._dummy: str | None = None
        self._waiting: dict[str | None, deque[Job]] = {}  # peer -> jobs waiting
        self._waiting_total = 0
        self._running: dict[str | None, int] = {}  # peer -> jobs of that peer on the pool
        self._running_total = 0
        # peer -> when it was last given a thread, for peers with jobs
        # waiting or running; the smallest goes next.
        self._served: dict[str | None, int] = {}
        self._ticks = itertools.count()
        self._dispatching = False
        # Wraps each job's function to time it on its thread (--metrics).
        self.timed: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
        # Logged through a Bite: a refusal is cheap to cause, and one line
        # each would let a client flood the log.
        self._refused = limits.Bite(
            cast(IReactorTime, self.reactor),
            "hash-queue",
            "refused a password {what} for {peer}: hashing queue full ({why});"
            " {count} refused since the last report",
        )

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        # Jobs still waiting will never run: answer them rather than leave
        # their requests hanging.
        waiting, self._waiting = self._waiting, {}
        self._waiting_total = 0
        for jobs in waiting.values():
            for d, _, _ in jobs:
                d.errback(Unavailable("the server is shutting down"))
        self.pool.stop()

    def hash(self, password: str, peer: str | None = None) -> defer.Deferred[str]:
        """Deferred firing with the PHC string ($argon2id$...).  `peer`: the
        address the work is done for."""
        return self._submit(peer, "hash", self.hasher.hash, password)

    def verify(
        self, stored: str | None, password: str, peer: str | None = None
    ) -> defer.Deferred[bool]:
        """Deferred firing with True or False.  With stored None (no such
        account) a dummy hash is checked, so that an unknown login costs as
        long as a wrong password and timing reveals nothing."""
        return self._submit(peer, "verify", self.verify_sync, stored, password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("not a password of anyone")
            stored = self._dummy
            password = password + "\0"  # never matches
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def waiting(self) -> int:
        """Jobs waiting for a thread."""
        return self._waiting_total

    # --- the queues (reactor thread) -------------------------------------

    def _can_start(self, peer: str | None) -> bool:
        return (
            self._running_total < self.threads
            and self._running.get(peer, 0) < self.per_address
            and peer not in self._waiting
        )

    def _submit(
        self, peer: str | None, what: str, function: Callable[..., Any], *args: Any
    ) -> defer.Deferred[Any]:
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
        self._refused(what="job", peer=hog, why="shed for another address")
        d.errback(Unavailable(BUSY))
        return True

    def _refuse(self, peer: str | None, what: str, reason: str) -> defer.Deferred[Any]:
        self._refused(what=what, peer=peer, why=reason)
        return defer.fail(Unavailable(BUSY))

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
        # Re-entered when a job finishes at once (a pool that runs inline);
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
                if self.timed is not None:
                    function = self.timed(function)
                done = deferToThreadPool(self.reactor, self.pool, function, *args)
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
        # Feed the pool before handing the result on: the answer may queue
        # this peer's next job, which must not jump ahead of the others.
        self._dispatch()
        if isinstance(result, Failure):
            d.errback(result)
        else:
            d.callback(result)
