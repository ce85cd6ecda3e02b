"""Failed-login throttling (429), counted in the database.

What is counted: an account (per role), or for a login that names no
account the name as given (case-folded; an email lower-cased), so that
unknown names are throttled too; and the peer address, across both roles.
Once a key has its limit of attempts inside `window` seconds, logins for it
are refused until the oldest of those leaves the window.  The limits
differ (protocol 1.2): 10 per account or name by default, 100 per address,
since one address is often a whole office or a carrier's NAT, and ten
wrong passwords from one person there must not lock everyone else out.  A successful login
forgives nothing: otherwise the owner's own logins would hand a guesser
fresh tries.

The counts live in the login_attempts table (its statements are
cybermarket/storage/throttle.py), so that every server process
on the database sees every other's: with N processes an attacker still gets
one budget, not N.  And an attempt takes its place in the count *before*
its password is checked (a pending row), in the same transaction that
counts, so that logins sent all at once cannot all pass the count while
their slow checks run: the budget holds under any concurrency.  Afterwards
the pending rows become failures, or are deleted on success.  Rows left
pending by a process that died just age out with the window.

Counting and reserving must be one step across processes.  On SQLite the
transaction is a write transaction (BEGIN IMMEDIATE), which already
serialises every writer of the file.  On PostgreSQL the transaction takes an
advisory lock per key first, in a fixed order (no deadlock), and then
counts; at READ COMMITTED, PostgreSQL's default and this server's, the
count sees every reservation committed before the lock was granted.

Keys are stored as SHA-256 digests: a login name is sometimes a password
typed in the wrong field, and the table need not keep it.
"""

import hashlib
import math
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from cybermarket.errors import Throttled
from cybermarket.i18n import Nn_
from cybermarket.server import limits
from cybermarket.storage import throttle as attempts
from cybermarket.storage.txn import Txn
from cybermarket.values import fold

if TYPE_CHECKING:
    from cybermarket.storage.database import Database

log = Logger()


def account_key(role: str, account_id: int) -> str:
    return f"{role} account {account_id}"


def name_key(role: str, login: str) -> str:
    """The key of a login that names no account."""
    if "@" in login:
        return f"{role} email {login.lower()}"
    # As names compare (values.fold): "Bob" and "BOB" share their count.
    return f"{role} name {fold(login)}"


# What the peer address's key is counted as, in the keys handed to
# reserve(), check() and failed(): the one with a limit of its own.
ADDRESS = "address"


def peer_key(peer: str) -> str:
    return f"peer {peer}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# While logins are being checked their attempts count (pending), so a burst
# of more logins than the limit at one moment, from one address or for one
# account, is refused even if they are right.  Those checks end within
# moments, so such a refusal says to try again soon, not after the window.
IN_FLIGHT_WAIT = 1
IN_FLIGHT = Nn_(
    "too many logins at once; try again in {n} second",
    "too many logins at once; try again in {n} seconds",
)


class Throttle:
    def __init__(
        self,
        db: "Database",
        clock: IReactorTime,
        limit: int = 10,
        window: float = 300.0,
        address_limit: int = 100,
    ) -> None:
        self.db = db
        self.clock = clock
        # Attempts per account or login name (--login-failures) ...
        self.limit = limit
        # ... and per peer address (--login-failures-per-address).
        self.address_limit = address_limit
        self.window = window
        self.window_ms = int(window * 1000)
        self.refused = limits.Bite(
            clock,
            "login-throttle",
            "{what} from {peer} refused (429), limit reached for the {blocked}:"
            " {message}; {count} refused since the last report",
        )
        self.refused.security = "throttled"

    def now(self) -> int:
        """Milliseconds by the app's clock (the reactor's wall clock, which
        processes share; a task.Clock in tests).  Read on the reactor
        thread and handed to the transactions."""
        return int(self.clock.seconds() * 1000)

    # --- inside a write transaction, on a database thread --------------

    def reserve(self, txn: Txn, now: int, keys: dict[str, str]) -> list[int]:
        """Count the recent attempts of each key of `keys` (what is counted
        -> key, such as {"account": ..., "address": ...}); raise Throttled
        if any is at the limit, else reserve an attempt (a pending row) for
        each.  The row ids, for fail() or release() once the password has
        been checked."""
        digests = self.check(txn, now, keys)
        return [attempts.add_txn(txn, key_digest, now, True) for key_digest in digests.values()]

    def failed(self, txn: Txn, now: int, keys: dict[str, str]) -> None:
        """Count a failure for each key of `keys` at once, for a check made
        within the transaction that called check() (a RESUME's token)."""
        for key in keys.values():
            attempts.add_txn(txn, digest(key), now, False)

    def check(self, txn: Txn, now: int, keys: dict[str, str], lock: bool = True) -> dict[str, str]:
        """Raise Throttled if any key of `keys` is at the limit; else
        {what: key digest}.  On PostgreSQL, with `lock`, the keys stay
        locked until the transaction ends, so that what it then counts is
        counted by the next check; without, the check only reads (for a
        check that counts nothing when it passes)."""
        digests = {what: digest(key) for what, key in keys.items()}
        if lock:
            attempts.lock_txn(txn, digests.values())
        cutoff = now - self.window_ms
        wait: int | None = None
        blocked: list[str] = []
        for what, key_digest in digests.items():
            limit = self.address_limit if what == ADDRESS else self.limit
            recent = attempts.recent_txn(txn, key_digest, cutoff, limit)
            if len(recent) < limit:
                continue
            blocked.append(what)
            if not any(pending for _, pending in recent):
                # Failures only: the block lifts when the oldest of the
                # newest `limit` leaves the window.
                wait = max(wait or 0, recent[-1][0] + self.window_ms - now)
        if blocked:
            if wait is None:
                error = Throttled(IN_FLIGHT, n=IN_FLIGHT_WAIT)
            else:
                n = max(1, math.ceil(wait / 1000))
                error = Throttled(
                    Nn_(
                        "too many failed logins; try again in {n} second",
                        "too many failed logins; try again in {n} seconds",
                    ),
                    n=n,
                )
            error.blocked = blocked
            raise error
        return digests

    # --- on the reactor thread ------------------------------------------

    def fail(self, tries: list[int]) -> defer.Deferred[None]:
        """The password was wrong: the reserved attempts become failures."""
        return self.db.run("login failed", attempts.fail_txn, tries)

    def release(self, tries: list[int]) -> defer.Deferred[None]:
        """The password was right, or never checked: the attempts do not
        count."""
        return self.db.run("login settled", attempts.release_txn, tries)

    def sweep(self) -> defer.Deferred[int | None]:
        """Delete attempts that have left the window (a TimerService calls
        this every minute).  Never fails: a database that cannot be reached
        now is swept next time."""
        d: defer.Deferred[int | None]
        d = self.db.run("login attempts sweep", attempts.sweep_txn, self.now() - self.window_ms)
        d.addErrback(
            lambda failure: log.warn(
                "could not sweep old login attempts: {error}", error=failure.value
            )
        )
        return d
