"""Login attempts as stored (login_attempts), for the failed-login
throttle: what it counts and why is cybermarket/server/throttle.py.

A row is an attempt under a key's SHA-256 digest, at a time in
milliseconds, pending while its password is being checked.  Counting and
reserving must be one step across processes: on SQLite the transaction is
a write transaction, which already serialises every writer of the file; on
PostgreSQL lock_txn takes an advisory lock per key first, in a fixed order
(no deadlock).

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values.
"""

from collections.abc import Iterable
from typing import Any

from cybermarket.storage.txn import Query, Txn

# The first key of PostgreSQL's two-key advisory locks taken here, apart
# from the one-key lock the migrations take.
LOCK_CLASS = 22333

# PostgreSQL's alone: SQLite needs no lock, its write transactions hold
# the one write lock.
LOCK = Query(
    "SELECT pg_advisory_xact_lock(CAST(? AS integer), CAST(? AS integer))",
    backend="postgresql",
)
RECENT = Query(
    "SELECT at, pending FROM login_attempts WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?"
)
RESERVE = Query("INSERT INTO login_attempts (key, at, pending) VALUES (?, ?, ?) RETURNING id")
FAIL = Query("UPDATE login_attempts SET pending = ? WHERE id = ?")
RELEASE = Query("DELETE FROM login_attempts WHERE id = ?")
SWEEP = Query("DELETE FROM login_attempts WHERE at <= ?")


def lock_id(key_digest: str) -> int:
    """A signed 32-bit number for the key's advisory lock.  Two keys that
    share one only wait for each other now and then."""
    return int.from_bytes(bytes.fromhex(key_digest[:8]), "big", signed=True)


def lock_txn(txn: Txn, digests: Iterable[str]) -> None:
    """PostgreSQL: lock the keys until the transaction ends, so that what
    it then counts is counted by the next check.  SQLite: nothing to do."""
    if txn.postgres:
        for number in sorted({lock_id(d) for d in digests}):
            txn.value(LOCK, LOCK_CLASS, number)


def recent_txn(txn: Txn, key_digest: str, cutoff: int, count: int) -> list[tuple[Any, ...]]:
    """The newest `count` attempts of the key after `cutoff`, newest
    first: (at, pending)."""
    return txn.rows(RECENT, key_digest, cutoff, count)


def add_txn(txn: Txn, key_digest: str, at: int, pending: bool) -> int:
    """Count an attempt of the key: pending (reserved while its password
    is checked) or failed; its row id."""
    attempt: int = txn.value(RESERVE, key_digest, at, pending)
    return attempt


def fail_txn(txn: Txn, attempts: list[int]) -> None:
    """The reserved attempts become failures."""
    txn.run_many(FAIL, [(False, i) for i in attempts])


def release_txn(txn: Txn, attempts: list[int]) -> None:
    """The reserved attempts do not count."""
    txn.run_many(RELEASE, [(i,) for i in attempts])


def sweep_txn(txn: Txn, cutoff: int) -> int:
    """Delete the attempts at or before `cutoff`; how many."""
    return txn.run(SWEEP, cutoff)
