"""Invitation codes: how a merchant joins.

A code is single use, expiring, and bound to the store that issued it (or
to nobody, for a code the operator issued from the command line).  Codes
are made and stored by cybermarket/storage/invitations.py.
"""

from cybermarket.errors import BadInvitation
from cybermarket.i18n import N_
from cybermarket.server import logs
from cybermarket.server.context import Call
from cybermarket.server.handlers import handles
from cybermarket.storage.invitations import create, digest
from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import fold

FIND = Query(
    "SELECT i.id, i.inviter_id, i.expires_at, i.used_at, m.storename_key"
    " FROM invitations i LEFT JOIN merchants m ON m.id = i.inviter_id"
    " WHERE i.code_hash = ?"
)
USE = Query("UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL")


def check(txn: Txn, code: str, inviter: str | None) -> tuple[int, int | None]:
    """(invitation id, inviter id) for a usable code whose inviter matches
    `inviter` (a storename, in any spelling that folds alike, or None for an
    operator's code); else 406."""
    row = txn.row(FIND, digest(code))
    if row is None:
        raise BadInvitation(N_("code: unknown invitation code"))
    invitation_id, inviter_id, expires_at, used_at, storename_key = row
    if used_at is not None:
        raise BadInvitation(N_("code: invitation code already used"))
    if txn.read_time(expires_at) <= now():
        raise BadInvitation(N_("code: invitation code expired"))
    if storename_key != (None if inviter is None else fold(inviter)):
        raise BadInvitation(N_("inviter: the invitation code was not issued by this inviter"))
    return invitation_id, inviter_id


def use(txn: Txn, invitation_id: int, merchant_id: int) -> None:
    # Conditional, so that two joins racing on one code cannot both win.
    if txn.run(USE, txn.time(now()), merchant_id, invitation_id) != 1:
        raise BadInvitation(N_("code: invitation code already used"))


@handles("MERCHANT_CREATE_INVITATION")
async def merchant_create_invitation(call: Call) -> str:
    days = call.app.settings.invitation_days
    code: str = await call.app.db.run("MERCHANT_CREATE_INVITATION", create, call.me, days)
    logs.invitation_created(call.me, call.peer)
    return code
