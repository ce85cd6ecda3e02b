"""Invitation codes: how a merchant joins.

A code is single use, expiring, and bound to the store that issued it (or
to nobody, for a code the operator issued from the command line).  Codes
are made, stored and read by cybermarket/storage/invitations.py.
"""

from cybermarket.errors import BadInvitation
from cybermarket.i18n import N_
from cybermarket.server import logs
from cybermarket.server.context import Call
from cybermarket.server.handlers import handles
from cybermarket.storage import invitations
from cybermarket.storage.txn import Txn, now
from cybermarket.values import fold


def check(txn: Txn, code: str, inviter: str | None) -> tuple[int, int | None]:
    """(invitation id, inviter id) for a usable code whose inviter matches
    `inviter` (a storename, in any spelling that folds alike, or None for an
    operator's code); else 406."""
    found = invitations.find_txn(txn, code)
    if found is None:
        raise BadInvitation(N_("code: unknown invitation code"))
    if found.used:
        raise BadInvitation(N_("code: invitation code already used"))
    if found.expires_at <= now():
        raise BadInvitation(N_("code: invitation code expired"))
    if found.inviter_key != (None if inviter is None else fold(inviter)):
        raise BadInvitation(N_("inviter: the invitation code was not issued by this inviter"))
    return found.id, found.inviter_id


def use(txn: Txn, invitation_id: int, merchant_id: int) -> None:
    if not invitations.use_txn(txn, invitation_id, merchant_id, now()):
        raise BadInvitation(N_("code: invitation code already used"))


@handles("MERCHANT_CREATE_INVITATION")
async def merchant_create_invitation(call: Call) -> str:
    days = call.app.settings.invitation_days
    code: str = await call.app.db.run(
        "MERCHANT_CREATE_INVITATION", invitations.create, call.me, days
    )
    logs.invitation_created(call.me, call.peer)
    return code
