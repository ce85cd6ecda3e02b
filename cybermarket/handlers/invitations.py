"""Invitation codes: how a merchant joins.

A code is 24 URL-safe characters from `secrets` (144 random bits), single
use, expiring, and bound to the store that issued it (or to nobody, for a
code the operator issued from the command line).  Only its SHA-256 is
stored, so a copy of the database hands out no usable codes.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import insert, select, update

from cybermarket.errors import BadInvitation
from cybermarket.handlers import now
from cybermarket.models import invitations, merchants


def digest(code):
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def create(conn, inviter_id, days):
    code = secrets.token_urlsafe(18)
    created = now()
    conn.execute(
        insert(invitations).values(
            code_hash=digest(code),
            inviter_id=inviter_id,
            created_at=created,
            expires_at=created + timedelta(days=days),
        )
    )
    return code


def check(conn, code, inviter):
    """(invitation id, inviter id) for a usable code whose inviter matches
    `inviter` (a storename, or None for an operator's code); else 406."""
    row = conn.execute(
        select(
            invitations.c.id,
            invitations.c.inviter_id,
            invitations.c.expires_at,
            invitations.c.used_at,
            merchants.c.storename,
        )
        .select_from(invitations.outerjoin(merchants, merchants.c.id == invitations.c.inviter_id))
        .where(invitations.c.code_hash == digest(code))
    ).first()
    if row is None:
        raise BadInvitation("code: unknown invitation code")
    if row.used_at is not None:
        raise BadInvitation("code: invitation code already used")
    if row.expires_at <= now():
        raise BadInvitation("code: invitation code expired")
    if row.storename != inviter:
        raise BadInvitation("inviter: the invitation code was not issued by this inviter")
    return row.id, row.inviter_id


def use(conn, invitation_id, merchant_id):
    # Conditional, so that two joins racing on one code cannot both win.
    result = conn.execute(
        update(invitations)
        .where(invitations.c.id == invitation_id, invitations.c.used_at.is_(None))
        .values(used_at=now(), used_by=merchant_id)
    )
    if result.rowcount != 1:
        raise BadInvitation("code: invitation code already used")


async def merchant_create_invitation(call):
    days = call.app.settings.invitation_days
    return await call.app.db.run("MERCHANT_CREATE_INVITATION", create, call.me, days)
