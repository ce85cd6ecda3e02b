"""Session tokens as stored (protocol 1.1, RESUME).

A token is 43 URL-safe characters from `secrets` (256 random bits); only
its SHA-256 is kept, so a copy of the database logs nobody in.  A hash
this fast is right for a random token of this size: there is no dictionary
to try, and RESUME must cost one indexed lookup, not a password hash.

Each token carries the password generation of its account at its issue
(migration 0007): every password change moves the account's generation
on, and a token of another generation than the account's is never
issued and never resumes.  Revoking every token at a password change is
not enough on its own: a login that checked the old password before the
change committed could issue its token after the change had revoked the
others, and that token would resume for ever (issue 23).  The generation
is checked in the statement that issues a token and in the one that
renews it, against the account's row as it is then.

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

# The table of each role's accounts.
ACCOUNTS = {"client": "clients", "merchant": "merchants"}
# A token only while the account's password generation is the one given
# (the one whose password was checked): no row otherwise.
INSERT = {
    role: Query(
        "INSERT INTO sessions"
        " (role, account_id, token_hash, created_at, last_used_at, password_generation)"
        f" SELECT ?, id, ?, ?, ?, password_generation FROM {table}"
        " WHERE id = ? AND password_generation = ?"
    )
    for role, table in ACCOUNTS.items()
}
# One indexed step: the token is found, checked (its account's password
# generation included, by primary key) and renewed at once.
RENEW = Query(
    "UPDATE sessions SET last_used_at = ?"
    " WHERE token_hash = ? AND revoked_at IS NULL AND last_used_at > ?"
    " AND password_generation = CASE role"
    " WHEN 'client' THEN (SELECT c.password_generation FROM clients c"
    " WHERE c.id = sessions.account_id)"
    " WHEN 'merchant' THEN (SELECT m.password_generation FROM merchants m"
    " WHERE m.id = sessions.account_id) END"
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


def issue(txn: Txn, now: int, role: str, account_id: int, generation: int) -> str | None:
    """A new token for the account, if its password generation is still
    `generation`; None if the password has changed since."""
    token = secrets.token_urlsafe(32)
    if txn.run(INSERT[role], role, digest(token), now, now, account_id, generation) != 1:
        return None
    return token


def renew(txn: Txn, now: int, token_hash: str, period: int) -> tuple[str, int] | None:
    """(role, account id) of a token that is neither revoked nor expired
    and is of its account's password generation, now renewed; None for
    any other."""
    row = txn.row(RENEW, now, token_hash, now - period)
    return None if row is None else (row[0], row[1])


def revoke(txn: Txn, now: int, token_hash: str) -> None:
    txn.run(REVOKE, now, token_hash)


def replace_all(txn: Txn, now: int, role: str, account_id: int, generation: int) -> str:
    """Revoke every token of the account; a new one, of the password
    generation the caller has just set in this transaction."""
    txn.run(REVOKE_ALL, now, role, account_id)
    token = issue(txn, now, role, account_id, generation)
    assert token is not None  # this transaction set the generation
    return token


def sweep(txn: Txn, now: int, period: int) -> int:
    """Delete revoked and expired tokens; how many."""
    return txn.run(SWEEP, now - period)
