"""Session tokens as stored (protocol 1.1, RESUME).

A token is 43 URL-safe characters from `secrets` (256 random bits); only
its SHA-256 is kept, so a copy of the database logs nobody in.  A hash
this fast is right for a random token of this size: there is no dictionary
to try, and RESUME must cost one indexed lookup, not a password hash.

Times are milliseconds since the epoch by the server's clock (the
reactor's, faked in tests), handed in by the caller.  A token expires when
it has not been used for the session period (--session-days); RESUME
renews it.  Revoked and expired rows stay until the sweep deletes them;
neither resumes meanwhile.

These run inside a transaction on a database thread (txn: storage.txn.Txn).
"""

import hashlib
import secrets

from cybermarket.storage.txn import Query, Txn

DAY_MS = 86_400_000

INSERT = Query(
    "INSERT INTO sessions (role, account_id, token_hash, created_at, last_used_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
# One indexed step: the token is found, checked and renewed at once.
RENEW = Query(
    "UPDATE sessions SET last_used_at = ?"
    " WHERE token_hash = ? AND revoked_at IS NULL AND last_used_at > ?"
    " RETURNING role, account_id"
)
REVOKE = Query("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
REVOKE_ALL = Query(
    "UPDATE sessions SET revoked_at = ? WHERE role = ? AND account_id = ? AND revoked_at IS NULL"
)
SWEEP = Query("DELETE FROM sessions WHERE revoked_at IS NOT NULL OR last_used_at <= ?")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def period_ms(days: float) -> int:
    return int(days * DAY_MS)


def issue(txn: Txn, now: int, role: str, account_id: int) -> str:
    """A new token for the account."""
    token = secrets.token_urlsafe(32)
    txn.run(INSERT, role, account_id, digest(token), now, now)
    return token


def renew(txn: Txn, now: int, token_hash: str, period: int) -> tuple[str, int] | None:
    """(role, account id) of a token that is neither revoked nor expired,
    now renewed; None for any other."""
    row = txn.row(RENEW, now, token_hash, now - period)
    return None if row is None else (row[0], row[1])


def revoke(txn: Txn, now: int, token_hash: str) -> None:
    txn.run(REVOKE, now, token_hash)


def replace_all(txn: Txn, now: int, role: str, account_id: int) -> str:
    """Revoke every token of the account; a new one."""
    txn.run(REVOKE_ALL, now, role, account_id)
    return issue(txn, now, role, account_id)


def sweep(txn: Txn, now: int, period: int) -> int:
    """Delete revoked and expired tokens; how many."""
    return txn.run(SWEEP, now - period)
