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
second of a core on, so it is rationed: the pool's threads are shared out
between peer addresses by shares.FairShare (round robin, at most
`per_address` jobs of one address at once, bounded queues, 503 beyond
them).  So an address that queues sixty hashes delays another's login by
the hash already running, not by sixty.
"""

from collections.abc import Callable
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from cybermarket.i18n import N_
from cybermarket.instruments import NOTHING, Instruments
from cybermarket.server.shares import FairShare

BUSY = N_("server busy hashing passwords; try again")

# Defaults of the options --hash-threads-per-address, --hash-queue and
# --hash-queue-per-address.
PER_ADDRESS = 2
QUEUE = 64
# Above the default failed-login limit (10): a burst of logins from one
# address is answered by the throttle (429) rather than by a full queue.
QUEUE_PER_ADDRESS = 16


class Hasher:
    def __init__(
        self,
        threads: int = 1,
        reactor: IReactorFromThreads | None = None,
        hasher: PasswordHasher | None = None,
        per_address: int = PER_ADDRESS,
        queue: int = QUEUE,
        queue_per_address: int = QUEUE_PER_ADDRESS,
        instruments: Instruments = NOTHING,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = cast(IReactorFromThreads, default)  # every reactor provides it
        self.reactor = reactor
        self.hasher = hasher or PasswordHasher(parallelism=1)
        self.threads = threads
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="cybermarket-hash")
        self._dummy: str | None = None
        # Wraps each job's function to time it on its thread (--metrics).
        self.timed: Callable[[Callable[..., Any]], Callable[..., Any]] | None = (
            instruments.timed_hash if instruments.active else None
        )
        self.share = FairShare(
            cast(IReactorTime, self.reactor),
            self._start,
            threads,
            per_address,
            queue,
            queue_per_address,
            BUSY,
            "hash-queue",
            "refused a password {what} for {peer}: hashing queue full ({why});"
            " {count} refused since the last report",
        )

    @property
    def per_address(self) -> int:
        return self.share.per_address

    @property
    def queue(self) -> int:
        return self.share.queue

    @property
    def queue_per_address(self) -> int:
        return self.share.queue_per_address

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.share.stop()  # answers the jobs still waiting
        self.pool.stop()

    def hash(self, password: str, peer: str | None = None) -> defer.Deferred[str]:
        """Deferred firing with the PHC string ($argon2id$...).  `peer`: the
        address the work is done for."""
        return self.share.submit(peer, "hash", self.hasher.hash, password)

    def verify(
        self, stored: str | None, password: str, peer: str | None = None
    ) -> defer.Deferred[bool]:
        """Deferred firing with True or False.  With stored None (no such
        account) a dummy hash is checked, so that an unknown login costs as
        long as a wrong password and timing reveals nothing."""
        return self.share.submit(peer, "verify", self.verify_sync, stored, password)

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
        return self.share.waiting()

    def _start(self, function: Callable[..., Any], args: tuple[Any, ...]) -> defer.Deferred[Any]:
        # self.pool is read here, not bound at construction: the tests put
        # a pool of their own in its place.
        if self.timed is not None:
            function = self.timed(function)
        return deferToThreadPool(self.reactor, self.pool, function, *args)
