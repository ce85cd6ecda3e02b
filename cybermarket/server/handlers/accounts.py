"""Accounts of both roles: creation, login, logout, renames, passwords,
and the session tokens that carry a login over to a new connection
(RESUME; the tokens as stored are cybermarket/storage/sessions.py).

Customers ("client" accounts) and merchants share the mechanics; a Kind
(cybermarket/storage/accounts.py, where the statements are) names the
table and the columns that differ.
"""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from cybermarket.errors import (
    BAD_LOGIN,
    BAD_TOKEN,
    AlreadyLoggedIn,
    BadCredentials,
    NameTaken,
    NotLoggedIn,
    Throttled,
    WrongPassword,
)
from cybermarket.i18n import N_
from cybermarket.server import logs
from cybermarket.server import throttle as throttle_keys
from cybermarket.server.context import App, Call, Session
from cybermarket.server.handlers import handles, invitations
from cybermarket.server.throttle import Throttle
from cybermarket.storage import accounts, sessions
from cybermarket.storage.accounts import Account, Kind
from cybermarket.storage.txn import Txn
from cybermarket.values import shown

log = Logger()

# The statements on the accounts are in cybermarket/storage/accounts.py;
# a Kind names one role's table and columns.
CLIENT, MERCHANT, KINDS = accounts.CLIENT, accounts.MERCHANT, accounts.KINDS


# --- transactions ------------------------------------------------------------


def check_free(
    txn: Txn, kind: Kind, name: str | None = None, email: str | None = None, me: int = 0
) -> None:
    """409 naming the field when another account of this kind has the name
    (compared by fold) or the email (compared case-insensitively)."""
    if name is not None and accounts.name_taken_txn(txn, kind, name, me):
        raise NameTaken(N_("{field}: already taken"), field=kind.name)
    if email is not None and accounts.email_taken_txn(txn, kind, email, me):
        raise NameTaken(N_("{field}: already taken"), field="email")


def race_lost(
    txn: Txn,
    kind: Kind,
    field: str,
    name: str | None = None,
    email: str | None = None,
    me: int = 0,
) -> NameTaken:
    """A write broke a unique key: a race lost to another connection since
    check_free, which gives the same 409.  The winner is committed by now,
    so check_free again names which field it took; `field` if it cannot
    tell."""
    check_free(txn, kind, name, email, me)
    return NameTaken(N_("{field}: already taken"), field=field)


def insert_account(txn: Txn, kind: Kind, values: dict[str, Any]) -> int:
    check_free(txn, kind, values[kind.name], values["email"])
    account_id = accounts.insert_txn(txn, kind, values)
    if account_id is None:
        raise race_lost(txn, kind, kind.name, values[kind.name], values["email"])
    return account_id


def replace_password_hash(txn: Txn, kind: Kind, me: int, old: str, new: str, now_ms: int) -> str:
    """Set the new hash (a new password generation), revoke every session
    token of the account and issue the connection a new one, all in one
    transaction."""
    # Compare-and-set: a change made meanwhile on another connection wins.
    generation = accounts.set_password_hash_txn(txn, kind, me, old, new)
    if generation is None:
        raise WrongPassword(N_("old_password: the password was changed meanwhile"))
    return sessions.replace_all(txn, now_ms, kind.role, me, generation)


def set_name(txn: Txn, me: int, kind: Kind, value: str) -> None:
    check_free(txn, kind, name=value, me=me)
    if not accounts.set_name_txn(txn, kind, me, value):
        raise race_lost(txn, kind, kind.name, name=value, me=me)


def set_email(txn: Txn, me: int, kind: Kind, value: str) -> None:
    check_free(txn, kind, email=value, me=me)
    if not accounts.set_email_txn(txn, kind, me, value):
        raise race_lost(txn, kind, "email", email=value, me=me)


def account_of(txn: Txn, kind: Kind, me: int) -> dict[str, str]:
    """GET_ACCOUNT's answer: the role, the name as stored, and the rest of
    kind.shown."""
    found = accounts.account_txn(txn, kind, me)
    if found is None:  # no op deletes an account; should one, its logins end
        raise NotLoggedIn()
    return {"role": kind.role, **found}


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
    accounts.set_description_txn(txn, me, description)


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
    account = accounts.find_login_txn(txn, kind, login)
    if account is None:
        keys = {"login name": throttle_keys.name_key(kind.role, login)}
    else:
        keys = {"account": throttle_keys.account_key(kind.role, account[0])}
    keys[throttle_keys.ADDRESS] = throttle_keys.peer_key(peer)
    return account, throttle.reserve(txn, now, keys)


def reserve_password_check(
    txn: Txn, throttle: Throttle, now: int, kind: Kind, me: int, peer: str
) -> tuple[str | None, list[int]]:
    """The account's password hash, and an attempt reserved for checking
    the old password against it: a guess at it is a guess at a login."""
    keys = {
        "account": throttle_keys.account_key(kind.role, me),
        throttle_keys.ADDRESS: throttle_keys.peer_key(peer),
    }
    return accounts.password_hash_txn(txn, kind, me), throttle.reserve(txn, now, keys)


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


def clock_ms(call: Call) -> int:
    """Milliseconds by the app's clock (the reactor's; a task.Clock in
    tests), for the session tokens' times."""
    return int(call.app.clock.seconds() * 1000)


async def log_in(call: Call, kind: Kind, login: str, password: str) -> dict[str, str]:
    if call.session is not None:
        raise AlreadyLoggedIn(N_("login: this connection is already logged in; log out first"))
    throttle = call.app.throttle
    try:
        account, tries = await call.app.db.run(
            f"{kind.role} login", reserve_login, throttle, throttle.now(), kind, login, call.peer
        )
    except Throttled as e:
        log_refused(call, e, f"{kind.role} login '{shown(login)}'", f"{kind.role}_login")
        raise
    if not await checked(call, account[1] if account else None, password, tries):
        why = "wrong_password" if account else "no_such_account"
        logs.login_failed(call.app, kind.role, why, call.peer, login=login)
        raise BadCredentials(BAD_LOGIN)
    assert account is not None  # no account: the dummy hash never matches
    account_id, _, generation = account
    token = await call.app.db.run(
        f"{kind.role} login token",
        sessions.issue,
        clock_ms(call),
        kind.role,
        account_id,
        generation,
    )
    if token is None:
        # The password was changed while this one was being checked: it is
        # no longer the account's, and a token issued from it would outlive
        # the change's revocation of every token.  Not counted as a failed
        # guess (the attempt is settled): it was right a moment ago.
        logs.login_failed(call.app, kind.role, "wrong_password", call.peer, login=login)
        raise BadCredentials(BAD_LOGIN)
    call.session = Session(kind.role, account_id, sessions.digest(token))
    return {"token": token}


async def set_password(
    call: Call, kind: Kind, old_password: str, new_password: str
) -> dict[str, str]:
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
        raise WrongPassword(N_("old_password: wrong password"))
    new = await hasher.hash(new_password, call.peer)
    token = await db.run(
        f"{kind.role} password",
        replace_password_hash,
        kind,
        call.me,
        old,
        new,
        clock_ms(call),
    )
    assert call.me is not None  # the op's role was checked first
    call.session = Session(kind.role, call.me, sessions.digest(token))
    return {"token": token}


@handles("CLIENT_LOGOUT", "MERCHANT_LOGOUT")
async def logout(call: Call) -> None:
    # Only this connection's token: the account's other logins, on other
    # connections and devices, stay.
    assert call.session is not None  # the op's role was checked first
    token_hash = call.session.token_hash
    if token_hash is not None:
        await call.app.db.run("logout", sessions.revoke, clock_ms(call), token_hash)
    call.session = None


@handles("GET_ACCOUNT")
async def get_account(call: Call) -> dict[str, str]:
    # A flow for the connection's role, which a transaction handler is not
    # given (only the account id): either role may ask.
    assert call.session is not None  # the op's role was checked first
    kind, me = KINDS[call.session.role], call.session.account_id
    return await call.app.db.run("GET_ACCOUNT", account_of, kind, me, write=False)


@handles("CLIENT_LOGIN")
async def client_login(call: Call, login: str, password: str) -> dict[str, str]:
    return await log_in(call, CLIENT, login, password)


@handles("MERCHANT_LOGIN")
async def merchant_login(call: Call, login: str, password: str) -> dict[str, str]:
    return await log_in(call, MERCHANT, login, password)


@handles("SET_CLIENT_PASSWORD")
async def set_client_password(call: Call, old_password: str, new_password: str) -> dict[str, str]:
    return await set_password(call, CLIENT, old_password, new_password)


@handles("SET_MERCHANT_PASSWORD")
async def set_merchant_password(call: Call, old_password: str, new_password: str) -> dict[str, str]:
    return await set_password(call, MERCHANT, old_password, new_password)


# --- RESUME ---------------------------------------------------------------


def sweep_sessions(app: App) -> Deferred[int | None]:
    """Delete revoked and expired session tokens, on a database thread (a
    TimerService of the server calls this every few minutes).  Never
    fails: a database that cannot be reached now is swept next time."""
    d: Deferred[int | None] = app.db.run(
        "sessions sweep",
        sessions.sweep,
        int(app.clock.seconds() * 1000),
        sessions.period_ms(app.settings.session_days),
    )
    d.addErrback(
        lambda failure: log.warn("could not sweep old session tokens: {error}", error=failure.value)
    )
    return d


def resume_session(
    txn: Txn,
    throttle: throttle_keys.Throttle,
    now_ms: int,
    period_ms: int,
    peer: str,
    token_hash: str,
) -> tuple[str, int, str] | None:
    """(role, account id, current name) for a good token, renewed; None for
    an unknown, expired or revoked one, counted as a failed login of the
    peer address.  One transaction: the token found and renewed, or the
    address's count checked (429 at the limit) and a failure counted.

    A valid token is never refused for its address's failures (protocol
    1.2): its 256 bits cannot be guessed, so the count guards nothing
    there, and refusing it logged out every open page behind an address
    where someone had mistyped a password, and after a restart every page
    at once.  So the token comes first, and only a RESUME that fails is
    checked against the count.  The check runs under the throttle's lock
    (PostgreSQL; on SQLite the write transaction holds the one write lock
    anyway), so that concurrent failed RESUMEs cannot pass the limit; good
    RESUMEs from one address do not wait for each other."""
    keys = {throttle_keys.ADDRESS: throttle_keys.peer_key(peer)}
    found = sessions.renew(txn, now_ms, token_hash, period_ms)
    if found is None:
        throttle.check(txn, now_ms, keys)
        throttle.failed(txn, now_ms, keys)
        return None
    role, account_id = found
    return role, account_id, accounts.name_of_txn(txn, role, account_id)


@handles("RESUME")
async def resume(call: Call, token: str) -> dict[str, str]:
    if call.session is not None:
        raise AlreadyLoggedIn(N_("token: this connection is already logged in; log out first"))
    token_hash = sessions.digest(token)
    period = sessions.period_ms(call.app.settings.session_days)
    try:
        found = await call.app.db.run(
            "RESUME",
            resume_session,
            call.app.throttle,
            clock_ms(call),
            period,
            call.peer,
            token_hash,
        )
    except Throttled as e:
        log_refused(call, e, "RESUME", "resume")
        raise
    if found is None:
        # Never the token, nor its hash: the log is not a place for either.
        logs.resume_failed(call.app, call.peer)
        raise BadCredentials(BAD_TOKEN)
    role, account_id, name = found
    call.session = Session(role, account_id, token_hash)
    return {"role": role, "name": name}
