"""Accounts of both roles: creation, login, logout, renames, passwords.

Customers ("client" accounts) and merchants share the mechanics; a Kind
names the table and the columns that differ.
"""

from dataclasses import dataclass

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from cybermarket.context import Session
from cybermarket.errors import (
    BAD_LOGIN,
    BadRequest,
    Conflict,
    Forbidden,
    NotLoggedIn,
    Throttled,
)
from cybermarket.handlers import now
from cybermarket.handlers import invitations
from cybermarket.models import clients, merchants


@dataclass(frozen=True)
class Kind:
    role: str
    table: Table
    name: str  # the login name column: username or storename

    @property
    def name_column(self):
        return self.table.c[self.name]


CLIENT = Kind("client", clients, "username")
MERCHANT = Kind("merchant", merchants, "storename")


# --- transactions ------------------------------------------------------------


def check_free(conn, kind, name=None, email=None, me=None):
    """409 naming the field when another account of this kind has the name
    or the email (emails compared case-insensitively)."""
    t = kind.table
    for field, column, value in (
        (kind.name, kind.name_column, name),
        ("email", t.c.email_key, email.lower() if email is not None else None),
    ):
        if value is None:
            continue
        query = select(t.c.id).where(column == value)
        if me is not None:
            query = query.where(t.c.id != me)
        if conn.execute(query).first() is not None:
            raise Conflict(f"{field}: already taken")


def insert_account(conn, kind, values):
    """Insert, turning a unique-key race lost to another connection into
    the same 409 the pre-check gives."""
    check_free(conn, kind, values[kind.name], values["email"])
    values = dict(values, email_key=values["email"].lower(), created_at=now())
    try:
        with conn.begin_nested():
            return conn.execute(insert(kind.table).values(**values)).inserted_primary_key[0]
    except IntegrityError:
        raise Conflict(f"{kind.name} or email: already taken")


def find_login(conn, kind, login):
    """(id, password hash) of the account a login names, or None.  A login
    with '@' is an email, else a user/store name (which cannot hold '@')."""
    t = kind.table
    if "@" in login:
        where = t.c.email_key == login.lower()
    else:
        where = kind.name_column == login
    row = conn.execute(select(t.c.id, t.c.password_hash).where(where)).first()
    return tuple(row) if row else None


def password_hash(conn, kind, me):
    return conn.execute(
        select(kind.table.c.password_hash).where(kind.table.c.id == me)
    ).scalar_one()


def replace_password_hash(conn, kind, me, old, new):
    # Compare-and-set: a change made meanwhile on another connection wins.
    t = kind.table
    result = conn.execute(
        update(t).where(t.c.id == me, t.c.password_hash == old).values(password_hash=new)
    )
    if result.rowcount != 1:
        raise Forbidden("old_password: the password was changed meanwhile")


def set_name(conn, me, kind, value):
    check_free(conn, kind, name=value, me=me)
    _update(conn, kind, me, **{kind.name: value})


def set_email(conn, me, kind, value):
    check_free(conn, kind, email=value, me=me)
    _update(conn, kind, me, email=value, email_key=value.lower())


def _update(conn, kind, me, **values):
    try:
        with conn.begin_nested():
            conn.execute(update(kind.table).where(kind.table.c.id == me).values(**values))
    except IntegrityError:
        raise Conflict(f"{' or '.join(values)}: already taken")


def set_client_username(conn, me, username):
    set_name(conn, me, CLIENT, username)


def set_client_email(conn, me, email):
    set_email(conn, me, CLIENT, email)


def set_merchant_storename(conn, me, storename):
    set_name(conn, me, MERCHANT, storename)


def set_merchant_email(conn, me, email):
    set_email(conn, me, MERCHANT, email)


def set_merchant_description(conn, me, description):
    conn.execute(update(merchants).where(merchants.c.id == me).values(description=description))


def create_merchant(conn, code, inviter, values):
    """Use the invitation and create the store in one transaction: if the
    store cannot be created the code stays unused."""
    invitation_id, inviter_id = invitations.check(conn, code, inviter)
    merchant_id = insert_account(conn, MERCHANT, dict(values, invited_by=inviter_id))
    invitations.use(conn, invitation_id, merchant_id)


# --- flows ----------------------------------------------------------------


async def client_create(call, username, email, password):
    hashed = await call.app.hasher.hash(password)
    values = {"username": username, "email": email, "password_hash": hashed}
    await call.app.db.run("CLIENT_CREATE", insert_account, CLIENT, values)


async def merchant_create(call, storename, description, email, password, code, inviter=None):
    # Check the code before spending a password hash on the request, and
    # again (for real) in the transaction that uses it.
    await call.app.db.run("MERCHANT_CREATE check", invitations.check, code, inviter, write=False)
    hashed = await call.app.hasher.hash(password)
    values = {
        "storename": storename,
        "description": description,
        "email": email,
        "password_hash": hashed,
    }
    await call.app.db.run("MERCHANT_CREATE", create_merchant, code, inviter, values)


async def log_in(call, kind, login, password):
    if call.session is not None:
        raise BadRequest("login: this connection is already logged in; log out first")
    throttle = call.app.throttle
    name_key = (kind.role, login.lower() if "@" in login else login)
    peer_key = ("peer", call.peer)
    if throttle.blocked(name_key, peer_key):
        raise Throttled()
    account = await call.app.db.run(f"{kind.role} login", find_login, kind, login, write=False)
    ok = await call.app.hasher.verify(account[1] if account else None, password)
    if not ok:
        throttle.failed(name_key, peer_key)
        raise NotLoggedIn(BAD_LOGIN)
    call.session = Session(kind.role, account[0])


async def set_password(call, kind, old_password, new_password):
    db, hasher = call.app.db, call.app.hasher
    old = await db.run(f"{kind.role} password", password_hash, kind, call.me, write=False)
    if not await hasher.verify(old, old_password):
        raise Forbidden("old_password: wrong password")
    new = await hasher.hash(new_password)
    await db.run(f"{kind.role} password", replace_password_hash, kind, call.me, old, new)


async def logout(call):
    call.session = None


async def client_login(call, login, password):
    await log_in(call, CLIENT, login, password)


async def merchant_login(call, login, password):
    await log_in(call, MERCHANT, login, password)


async def set_client_password(call, old_password, new_password):
    await set_password(call, CLIENT, old_password, new_password)


async def set_merchant_password(call, old_password, new_password):
    await set_password(call, MERCHANT, old_password, new_password)
