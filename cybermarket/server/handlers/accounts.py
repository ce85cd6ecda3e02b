"""Accounts of both roles: creation, login, logout, renames, passwords.

Customers ("client" accounts) and merchants share the mechanics; a Kind
names the table and the columns that differ.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from cybermarket.errors import (
    BAD_LOGIN,
    BadRequest,
    Conflict,
    Forbidden,
    NotLoggedIn,
    Throttled,
)
from cybermarket.i18n import N_
from cybermarket.server import logs
from cybermarket.server import throttle as throttle_keys
from cybermarket.server.context import Call, Session
from cybermarket.server.handlers import handles, invitations
from cybermarket.server.throttle import Throttle
from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import fold

T = TypeVar("T")
# An account as a login finds it: (id, password hash).
Account = tuple[int, str]


def short(text: str, width: int = 60) -> str:
    """A name from a request, cut to fit in a log line."""
    return text if len(text) <= width else text[: width - 3] + "..."


class Kind:
    """One role's accounts: its table, its login-name column, and the
    statements on them.

    Names are compared by their key, values.fold(name), kept in the
    {name}_key column: "ALICE" is taken when "Alice" is, and finds it.
    Emails are compared by their lower-cased key, email_key."""

    def __init__(self, role: str, table: str, name: str, columns: tuple[str, ...]) -> None:
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


def check_free(
    txn: Txn, kind: Kind, name: str | None = None, email: str | None = None, me: int = 0
) -> None:
    """409 naming the field when another account of this kind has the name
    (compared by fold) or the email (compared case-insensitively)."""
    if name is not None and txn.row(kind.name_taken, fold(name), me):
        raise Conflict(N_("{field}: already taken"), field=kind.name)
    if email is not None and txn.row(kind.email_taken, email.lower(), me):
        raise Conflict(N_("{field}: already taken"), field="email")


def _unique(
    txn: Txn, fields: str, execute: Callable[..., T], statement: Query, *params: object
) -> T:
    """execute(statement, *params) where it may break a unique key: a race
    lost to another connection since check_free gives the same 409."""
    try:
        with txn.savepoint():
            return execute(statement, *params)
    except txn.IntegrityError:
        raise Conflict(N_("{field}: already taken"), field=fields) from None


def insert_account(txn: Txn, kind: Kind, values: dict[str, Any]) -> int:
    check_free(txn, kind, values[kind.name], values["email"])
    params = [values[column] for column in kind.columns]
    params += [fold(values[kind.name]), values["email"].lower(), txn.time(now())]
    return _unique(txn, f"{kind.name} or email", txn.value, kind.insert, *params)


def login_key(login: str) -> str:
    """What a login is looked up (and throttled) by.  A login with '@' is
    an email, else a user/store name (which cannot hold '@')."""
    return login.lower() if "@" in login else fold(login)


def find_login(txn: Txn, kind: Kind, login: str) -> Account | None:
    """(id, password hash) of the account a login names, or None."""
    by = kind.by_email if "@" in login else kind.by_name
    return txn.row(by, login_key(login))


def password_hash(txn: Txn, kind: Kind, me: int) -> str | None:
    return txn.value(kind.hash, me)


def replace_password_hash(txn: Txn, kind: Kind, me: int, old: str, new: str) -> None:
    # Compare-and-set: a change made meanwhile on another connection wins.
    if txn.run(kind.set_hash, new, me, old) != 1:
        raise Forbidden(N_("old_password: the password was changed meanwhile"))


def set_name(txn: Txn, me: int, kind: Kind, value: str) -> None:
    check_free(txn, kind, name=value, me=me)
    _unique(txn, kind.name, txn.run, kind.set_name, value, fold(value), me)


def set_email(txn: Txn, me: int, kind: Kind, value: str) -> None:
    check_free(txn, kind, email=value, me=me)
    _unique(txn, "email", txn.run, kind.set_email, value, value.lower(), me)


@handles("SET_CLIENT_USERNAME")
def set_client_username(txn: Txn, me: int, username: str) -> None:
    set_name(txn, me, CLIENT, username)


@handles("SET_CLIENT_EMAIL")
def set_client_email(txn: Txn, me: int, email: str) -> None:
    set_email(txn, me, CLIENT, email)


@handles("SET_MERCHANT_STORENAME")
def set_merchant_storename(txn: Txn, me: int, storename: str) -> None:
    set_name(txn, me, MERCHANT, storename)


@handles("SET_MERCHANT_EMAIL")
def set_merchant_email(txn: Txn, me: int, email: str) -> None:
    set_email(txn, me, MERCHANT, email)


@handles("SET_MERCHANT_DESCRIPTION")
def set_merchant_description(txn: Txn, me: int, description: str) -> None:
    txn.run(SET_DESCRIPTION, description, me)


def create_merchant(txn: Txn, code: str, inviter: str | None, values: dict[str, Any]) -> None:
    """Use the invitation and create the store in one transaction: if the
    store cannot be created the code stays unused."""
    invitation_id, inviter_id = invitations.check(txn, code, inviter)
    merchant_id = insert_account(txn, MERCHANT, dict(values, profit_cents=0, invited_by=inviter_id))
    invitations.use(txn, invitation_id, merchant_id)


# --- flows ----------------------------------------------------------------


def check_new_store(txn: Txn, code: str, inviter: str | None, storename: str, email: str) -> None:
    invitations.check(txn, code, inviter)  # 406 comes before 409
    check_free(txn, MERCHANT, storename, email)


@handles("CLIENT_CREATE")
async def client_create(call: Call, username: str, email: str, password: str) -> None:
    # A hash costs a core for a quarter of a second: spend none on a
    # request bound to fail.  The transaction that inserts checks again.
    await call.app.db.run("CLIENT_CREATE check", check_free, CLIENT, username, email, write=False)
    hashed = await call.app.hasher.hash(password, call.peer)
    values = {"username": username, "email": email, "password_hash": hashed}
    await call.app.db.run("CLIENT_CREATE", insert_account, CLIENT, values)


@handles("MERCHANT_CREATE")
async def merchant_create(
    call: Call,
    storename: str,
    description: str,
    email: str,
    password: str,
    code: str,
    inviter: str | None = None,
) -> None:
    # Check the code and the names before spending a password hash on the
    # request, and again (for real) in the transaction that uses the code.
    await call.app.db.run(
        "MERCHANT_CREATE check", check_new_store, code, inviter, storename, email, write=False
    )
    hashed = await call.app.hasher.hash(password, call.peer)
    values = {
        "storename": storename,
        "description": description,
        "email": email,
        "password_hash": hashed,
    }
    await call.app.db.run("MERCHANT_CREATE", create_merchant, code, inviter, values)
    logs.invitation_used(storename, inviter, call.peer)


def reserve_login(
    txn: Txn, throttle: Throttle, now: int, kind: Kind, login: str, peer: str
) -> tuple[Account | None, list[int]]:
    """The account a login names (or None) and the attempt reserved for it
    (429 when the account, or the name, or the peer is at its limit).  The
    account is counted as one however it is named: by name or by email."""
    account = find_login(txn, kind, login)
    if account is None:
        keys = {"login name": throttle_keys.name_key(kind.role, login)}
    else:
        keys = {"account": throttle_keys.account_key(kind.role, account[0])}
    keys["address"] = throttle_keys.peer_key(peer)
    return account, throttle.reserve(txn, now, keys)


def reserve_password_check(
    txn: Txn, throttle: Throttle, now: int, kind: Kind, me: int, peer: str
) -> tuple[str | None, list[int]]:
    """The account's password hash, and an attempt reserved for checking
    the old password against it: a guess at it is a guess at a login."""
    keys = {
        "account": throttle_keys.account_key(kind.role, me),
        "address": throttle_keys.peer_key(peer),
    }
    return password_hash(txn, kind, me), throttle.reserve(txn, now, keys)


async def checked(call: Call, stored: str | None, password: str, tries: list[int]) -> bool:
    """Check a password for which an attempt is reserved, then settle the
    attempt: a failure if wrong, forgotten if right or never checked."""
    throttle = call.app.throttle
    try:
        ok = await call.app.hasher.verify(stored, password, call.peer)
    except Exception:
        # Not checked at all (the hashing queue was full, say): not a
        # failure of the owner's, so it must not count as one.
        await throttle.release(tries)
        raise
    if ok:
        await throttle.release(tries)
    else:
        await throttle.fail(tries)
    return ok


def log_refused(call: Call, error: Throttled, what: str, kind: str) -> None:
    # Through the throttle's Bite: a 429 costs the client nothing, so one
    # line per 429 would let it write the log as fast as it can send.
    logs.throttled(call.app, kind)
    call.app.throttle.refused(
        what=what,
        peer=call.peer,
        blocked=" and the ".join(getattr(error, "blocked", ())),
        message=error.message,
    )


async def log_in(call: Call, kind: Kind, login: str, password: str) -> None:
    if call.session is not None:
        raise BadRequest(N_("login: this connection is already logged in; log out first"))
    throttle = call.app.throttle
    try:
        account, tries = await call.app.db.run(
            f"{kind.role} login", reserve_login, throttle, throttle.now(), kind, login, call.peer
        )
    except Throttled as e:
        log_refused(call, e, f"{kind.role} login {short(login)!r}", f"{kind.role}_login")
        raise
    if not await checked(call, account[1] if account else None, password, tries):
        why = "wrong_password" if account else "no_such_account"
        logs.login_failed(call.app, kind.role, why, call.peer, login=login)
        raise NotLoggedIn(BAD_LOGIN)
    assert account is not None  # no account: the dummy hash never matches
    call.session = Session(kind.role, account[0])


async def set_password(call: Call, kind: Kind, old_password: str, new_password: str) -> None:
    db, hasher, throttle = call.app.db, call.app.hasher, call.app.throttle
    try:
        old, tries = await db.run(
            f"{kind.role} password",
            reserve_password_check,
            throttle,
            throttle.now(),
            kind,
            call.me,
            call.peer,
        )
    except Throttled as e:
        log_refused(
            call, e, f"{kind.role} password change for account {call.me}", f"{kind.role}_password"
        )
        raise
    if not await checked(call, old, old_password, tries):
        logs.login_failed(call.app, kind.role, "wrong_old_password", call.peer, account=call.me)
        raise Forbidden(N_("old_password: wrong password"))
    new = await hasher.hash(new_password, call.peer)
    await db.run(f"{kind.role} password", replace_password_hash, kind, call.me, old, new)


@handles("CLIENT_LOGOUT", "MERCHANT_LOGOUT")
async def logout(call: Call) -> None:
    call.session = None


@handles("CLIENT_LOGIN")
async def client_login(call: Call, login: str, password: str) -> None:
    await log_in(call, CLIENT, login, password)


@handles("MERCHANT_LOGIN")
async def merchant_login(call: Call, login: str, password: str) -> None:
    await log_in(call, MERCHANT, login, password)


@handles("SET_CLIENT_PASSWORD")
async def set_client_password(call: Call, old_password: str, new_password: str) -> None:
    await set_password(call, CLIENT, old_password, new_password)


@handles("SET_MERCHANT_PASSWORD")
async def set_merchant_password(call: Call, old_password: str, new_password: str) -> None:
    await set_password(call, MERCHANT, old_password, new_password)
