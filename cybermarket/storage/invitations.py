"""Invitation codes as stored: a code is 24 URL-safe characters from
`secrets` (144 random bits), and only its SHA-256 is kept, so a copy of the
database hands out no usable codes.  Issuing one is storage work shared by
the server (MERCHANT_CREATE_INVITATION) and the operator's
`cybermarket invite`.  Which code is usable, and the error for one that is
not, is the server's (cybermarket/server/handlers/invitations.py).

These run inside a transaction on a database thread (txn: storage.txn.Txn).
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from cybermarket.storage.txn import Query, Txn, now

INSERT = Query(
    "INSERT INTO invitations (code_hash, inviter_id, created_at, expires_at) VALUES (?, ?, ?, ?)"
)
FIND = Query(
    "SELECT i.id, i.inviter_id, i.expires_at, i.used_at, m.storename_key"
    " FROM invitations i LEFT JOIN merchants m ON m.id = i.inviter_id"
    " WHERE i.code_hash = ?"
)
USE = Query("UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL")


class Invitation(NamedTuple):
    id: int
    inviter_id: int | None  # None: the operator's
    expires_at: datetime
    used: bool
    inviter_key: str | None  # the inviter's storename_key


def digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def create(txn: Txn, inviter_id: int | None, days: float) -> str:
    """A new code from `inviter_id` (None: the operator), good for `days`."""
    code = secrets.token_urlsafe(18)
    created = now()
    txn.run(
        INSERT,
        digest(code),
        inviter_id,
        txn.time(created),
        txn.time(created + timedelta(days=days)),
    )
    return code


def find_txn(txn: Txn, code: str) -> Invitation | None:
    """The invitation of a code as given; None for an unknown code."""
    row = txn.row(FIND, digest(code))
    if row is None:
        return None
    invitation_id, inviter_id, expires_at, used_at, storename_key = row
    return Invitation(
        invitation_id, inviter_id, txn.read_time(expires_at), used_at is not None, storename_key
    )


def use_txn(txn: Txn, invitation_id: int, merchant_id: int, at: datetime) -> bool:
    """Mark the code used by the new store; False when it was used already.
    Conditional, so that two joins racing on one code cannot both win."""
    return txn.run(USE, txn.time(at), merchant_id, invitation_id) == 1
