"""Invitation codes as stored: a code is 24 URL-safe characters from
`secrets` (144 random bits), and only its SHA-256 is kept, so a copy of the
database hands out no usable codes.  Issuing one is storage work shared by
the server (MERCHANT_CREATE_INVITATION) and the operator's
`cybermarket invite`; checking and using one is the server's
(cybermarket/server/handlers/invitations.py)."""

import hashlib
import secrets
from datetime import timedelta

from cybermarket.storage.txn import Query, Txn, now

INSERT = Query(
    "INSERT INTO invitations (code_hash, inviter_id, created_at, expires_at) VALUES (?, ?, ?, ?)"
)


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
