"""Accounts of both roles: creation, login, logout, renames, passwords.

Customers ("client" accounts) and merchants share the mechanics; a Kind
names the table and the columns that differ.
"""

from cybermarket.context import Session
from cybermarket.errors import (
    BAD_LOGIN,
    BadRequest,
    Conflict,
    Forbidden,
    NotLoggedIn,
    Throttled,
)
from cybermarket.handlers import invitations, now
from cybermarket.sql import Query
from cybermarket.values import fold


class Kind:
    """One role's accounts: its table, its login-name column, and the
    statements on them.

    Names are compared by their key, values.fold(name), kept in the
    {name}_key column: "ALICE" is taken when "Alice" is, and finds it.
    Emails are compared by their lower-cased key, email_key."""

    def __init__(self, role, table, name, columns):
        self.role = role
        self.name = name  # the login name column: username or storename
        key = f"{name}_key"
        # What an insert gives, besides the two keys and created_at.
        self.columns = columns
        names = ", ".join(columns + (key, "email_key", "created_at"))
        marks = ", ".join("?" * (len(columns) + 3))
        self.insert = Query(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id")
        self.name_taken = Query(f"SELECT 1 FROM {table} WHERE {key} = ? AND id <> ?")
        self.email_taken = Query(f"SELECT 1 FROM {table} WHERE email_key = ? AND id <> ?")
        self.by_name = Query(f"SELECT id, password_hash FROM {table} WHERE {key} = ?")
        self.by_email = Query(f"SELECT id, password_hash FROM {table} WHERE email_key = ?")
        self.hash = Query(f"SELECT password_hash FROM {table} WHERE id = ?")
        self.set_hash = Query(
            f"UPDATE {table} SET password_hash = ? WHERE id = ? AND password_hash = ?"
        )
        self.set_name = Query(f"UPDATE {table} SET {name} = ?, {key} = ? WHERE id = ?")
        self.set_email = Query(f"UPDATE {table} SET email = ?, email_key = ? WHERE id = ?")


CLIENT = Kind("client", "clients", "username", ("username", "email", "password_hash"))
MERCHANT = Kind(
    "merchant",
    "merchants",
    "storename",
    ("storename", "description", "email", "password_hash", "profit_cents", "invited_by"),
)
SET_DESCRIPTION = Query("UPDATE merchants SET description = ? WHERE id = ?")


# --- transactions ------------------------------------------------------------


def check_free(txn, kind, name=None, email=None, me=0):
    """409 naming the field when another account of this kind has the name
    (compared by fold) or the email (compared case-insensitively)."""
    if name is not None and txn.row(kind.name_taken, fold(name), me):
        raise Conflict(f"{kind.name}: already taken")
    if email is not None and txn.row(kind.email_taken, email.lower(), me):
        raise Conflict("email: already taken")


def _unique(txn, fields, execute, statement, *params):
    """execute(statement, *params) where it may break a unique key: a race
    lost to another connection since check_free gives the same 409."""
    try:
        with txn.savepoint():
            return execute(statement, *params)
    except txn.IntegrityError:
        raise Conflict(f"{fields}: already taken")


def insert_account(txn, kind, values):
    check_free(txn, kind, values[kind.name], values["email"])
    params = [values[column] for column in kind.columns]
    params += [fold(values[kind.name]), values["email"].lower(), txn.time(now())]
    return _unique(txn, f"{kind.name} or email", txn.value, kind.insert, *params)


def login_key(login):
    """What a login is looked up (and throttled) by.  A login with '@' is
    an email, else a user/store name (which cannot hold '@')."""
    return login.lower() if "@" in login else fold(login)


def find_login(txn, kind, login):
    """(id, password hash) of the account a login names, or None."""
    by = kind.by_email if "@" in login else kind.by_name
    return txn.row(by, login_key(login))


def password_hash(txn, kind, me):
    return txn.value(kind.hash, me)


def replace_password_hash(txn, kind, me, old, new):
    # Compare-and-set: a change made meanwhile on another connection wins.
    if txn.run(kind.set_hash, new, me, old) != 1:
        raise Forbidden("old_password: the password was changed meanwhile")


def set_name(txn, me, kind, value):
    check_free(txn, kind, name=value, me=me)
    _unique(txn, kind.name, txn.run, kind.set_name, value, fold(value), me)


def set_email(txn, me, kind, value):
    check_free(txn, kind, email=value, me=me)
    _unique(txn, "email", txn.run, kind.set_email, value, value.lower(), me)


def set_client_username(txn, me, username):
    set_name(txn, me, CLIENT, username)


def set_client_email(txn, me, email):
    set_email(txn, me, CLIENT, email)


def set_merchant_storename(txn, me, storename):
    set_name(txn, me, MERCHANT, storename)


def set_merchant_email(txn, me, email):
    set_email(txn, me, MERCHANT, email)


def set_merchant_description(txn, me, description):
    txn.run(SET_DESCRIPTION, description, me)


def create_merchant(txn, code, inviter, values):
    """Use the invitation and create the store in one transaction: if the
    store cannot be created the code stays unused."""
    invitation_id, inviter_id = invitations.check(txn, code, inviter)
    merchant_id = insert_account(
        txn, MERCHANT, dict(values, profit_cents=0, invited_by=inviter_id)
    )
    invitations.use(txn, invitation_id, merchant_id)


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
    # Every spelling of one name counts toward one limit.
    name_key = (kind.role, login_key(login))
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
