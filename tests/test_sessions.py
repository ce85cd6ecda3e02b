"""Session tokens (protocol 1.1): what logins answer, RESUME, revocation by
logout and by a password change, expiry, the failed-login limit, the sweep;
on the in-process server with a real database (SQLite or PostgreSQL)."""

import hashlib
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cybermarket.errors import BAD_LOGIN, BAD_TOKEN
from cybermarket.server.handlers.accounts import sweep_sessions
from tests.harness import held_hasher, texts
from tests.shop import expect
from tests.wire import frame, request

PASSWORD = "client-pass"  # what Market.client and Market.merchant use
MERCHANT_PASSWORD = "merchant-pass"
DAY = 86400.0
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")


def log_in(peer, op="CLIENT_LOGIN", login="alice", password=PASSWORD):
    data = peer.ok(op, login=login, password=password)
    assert set(data) == {"token"}, data
    return data["token"]


def resumed(market, token, host="10.0.0.1"):
    """A new connection, logged in by RESUME with `token`."""
    peer = market.peer(host)
    assert peer.ok("RESUME", token=token)["role"] in ("client", "merchant")
    return peer


def refused(market, token, host="10.0.0.1"):
    """The message of a RESUME that must fail with 401."""
    return expect(market.peer(host), 401, "RESUME", token=token)


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def live_tokens(url):
    """The stored tokens that are not revoked."""
    return [row for row in session_rows(url) if row["revoked_at"] is None]


def session_rows(url):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [
                dict(row._mapping)
                for row in conn.execute(text("SELECT * FROM sessions ORDER BY id"))
            ]
    finally:
        engine.dispose()


# --- tokens from logins ----------------------------------------------------


def test_a_client_login_answers_a_token(market):
    market.client("alice")
    tokens = {log_in(market.peer()) for _ in range(3)}
    assert len(tokens) == 3  # one per login
    for token in tokens:
        assert TOKEN.fullmatch(token), token
        assert len(token) >= 22  # at least 128 bits, in base64


def test_a_merchant_login_answers_a_token(market):
    market.merchant("shop")
    token = log_in(market.peer(), "MERCHANT_LOGIN", "shop", MERCHANT_PASSWORD)
    assert TOKEN.fullmatch(token)


def test_a_failed_login_answers_no_token(market):
    market.client("alice")
    response = market.peer().call("CLIENT_LOGIN", login="alice", password="wrong password")
    assert response["status"] == 401 and "data" not in response


# --- RESUME ------------------------------------------------------------------


def test_resume_logs_a_new_connection_in(market, shop):
    product = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="pen", price="2", description="", stock=5
    )["product_id"]
    market.client("alice")
    token = log_in(market.peer())
    peer = market.peer()
    assert peer.ok("RESUME", token=token) == {"role": "client", "name": "alice"}
    peer.ok("CLIENT_ADD_ITEM", product_id=product, quantity=2)
    assert [row[1] for row in peer.ok("CLIENT_GET_ITEMS")["rows"]] == [product]
    expect(peer, 401, "MERCHANT_GET_PROFIT")


def test_resume_a_merchant(market):
    market.merchant("Corner Shop")
    token = log_in(market.peer(), "MERCHANT_LOGIN", "corner shop", MERCHANT_PASSWORD)
    peer = market.peer()
    assert peer.ok("RESUME", token=token) == {"role": "merchant", "name": "Corner Shop"}
    assert peer.ok("MERCHANT_GET_PROFIT") == "0.00"
    expect(peer, 401, "CLIENT_GET_ITEMS")


def test_resume_names_the_account_as_it_is_now(market):
    alice = market.peer()
    market.client("alice", peer=alice)
    token = log_in(market.peer())
    alice.ok("SET_CLIENT_USERNAME", username="Alice Liddell")
    assert market.peer().ok("RESUME", token=token)["name"] == "Alice Liddell"


def test_a_token_resumes_again_and_again(market):
    market.client("alice")
    token = log_in(market.peer())
    for _ in range(3):
        peer = resumed(market, token)
        peer.lose()  # closing does not revoke


def test_resume_on_a_logged_in_connection_is_400_whatever_the_token(market):
    market.client("alice")
    token = log_in(market.peer())
    for peer in (market.client("bob"), market.merchant("shop")):
        for given in (token, "no such token"):
            message = expect(peer, 400, "RESUME", token=given)
            assert message.startswith("token:"), message
    # A resumed connection too.
    message = expect(resumed(market, token), 400, "RESUME", token=token)
    assert message.startswith("token:")


@pytest.mark.parametrize("token", ["", "x" * 129, None, 12, b"bytes", ["a"]])
def test_a_malformed_token_is_400(market, token):
    message = expect(market.peer(), 400, "RESUME", token=token)
    assert message.startswith("token:"), message


def test_an_unknown_token_is_401_and_logs_nothing_in(market):
    peer = market.peer()
    assert expect(peer, 401, "RESUME", token="A" * 43) == BAD_TOKEN
    expect(peer, 401, "CLIENT_GET_ITEMS")


def test_a_token_of_128_characters_is_looked_up(market):
    assert refused(market, "A" * 128) == BAD_TOKEN


# --- revocation --------------------------------------------------------------


def test_logout_revokes_the_connections_token_only(market):
    market.client("alice")
    first, second = market.peer(), market.peer()
    token_one, token_two = log_in(first), log_in(second)
    first.ok("CLIENT_LOGOUT")
    # Seen from other connections: the first is gone, the second stays.
    assert refused(market, token_one) == BAD_TOKEN
    resumed(market, token_two)
    # The other connection logged in with it is not logged out.
    second.ok("CLIENT_GET_ITEMS")


def test_logout_of_a_resumed_connection_revokes_the_token_it_resumed_with(market):
    market.merchant("shop")
    token = log_in(market.peer(), "MERCHANT_LOGIN", "shop", MERCHANT_PASSWORD)
    peer = resumed(market, token)
    peer.ok("MERCHANT_LOGOUT")
    assert refused(market, token) == BAD_TOKEN
    # And that connection may log in again, getting a new token.
    assert log_in(peer, "MERCHANT_LOGIN", "shop", MERCHANT_PASSWORD) != token


def test_closing_does_not_revoke(market):
    market.client("alice")
    peer = market.peer()
    token = log_in(peer)
    peer.lose()
    resumed(market, token).ok("CLIENT_GET_ITEMS")


@pytest.mark.parametrize(
    "op, login_op, login, password, role",
    [
        ("SET_CLIENT_PASSWORD", "CLIENT_LOGIN", "alice", PASSWORD, "client"),
        ("SET_MERCHANT_PASSWORD", "MERCHANT_LOGIN", "shop", MERCHANT_PASSWORD, "merchant"),
    ],
)
def test_a_password_change_revokes_every_token_and_answers_a_new_one(
    market, op, login_op, login, password, role
):
    if role == "client":
        market.client("alice")
    else:
        market.merchant("shop")
    changer, bystander = market.peer(), market.peer()
    mine = log_in(changer, login_op, login, password)
    theirs = log_in(bystander, login_op, login, password)
    data = changer.ok(op, old_password=password, new_password="a brand new one")
    assert set(data) == {"token"} and TOKEN.fullmatch(data["token"])
    new = data["token"]
    assert new not in (mine, theirs)
    for old in (mine, theirs):
        assert refused(market, old) == BAD_TOKEN
    resumed(market, new)
    # The connection that changed it stays logged in, with the new token
    # as its current one: its logout revokes that.
    expect(changer, 200, "PING")
    changer.ok(f"{role.upper()}_LOGOUT")
    assert refused(market, new) == BAD_TOKEN
    # Connections logged in before stay logged in until they close (this
    # server's choice, docs/protocol.md).
    bystander.ok("CLIENT_GET_ITEMS" if role == "client" else "MERCHANT_GET_PROFIT")


ROLES = {
    "client": ("CLIENT_LOGIN", "SET_CLIENT_PASSWORD", "alice", PASSWORD, "CLIENT_GET_ITEMS"),
    "merchant": (
        "MERCHANT_LOGIN",
        "SET_MERCHANT_PASSWORD",
        "shop",
        MERCHANT_PASSWORD,
        "MERCHANT_GET_PROFIT",
    ),
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_login_that_read_the_old_password_gets_no_token_after_the_change(market, role):
    """The race of issue 23, item 5, step by step: a login reads the old
    hash; the password change commits (revoking every token) while that
    login's password is being checked; the login then must not issue a
    token, which the revocation has not seen and which would resume for
    ever."""
    login_op, password_op, name, password, role_op = ROLES[role]
    owner = getattr(market, role)(name)
    pool = held_hasher(market, threads=4)
    late = market.peer("10.0.0.2")
    late.feed(frame(request(login_op, 1, login=name, password=password)))
    owner.feed(frame(request(password_op, 1, old_password=password, new_password="the new one")))
    assert len(pool.jobs) == 2  # the login's check, then the change's
    pool.finish(1)  # the change's check of the old password
    pool.finish(1)  # the change's hash of the new one; the change commits
    (changed,) = owner.responses()
    assert changed["status"] == 200, changed
    pool.finish(0)  # only now the login's check, against the hash it read
    (answer,) = late.responses()
    # The password it gave is no longer the account's: a wrong password.
    assert answer["status"] == 401 and answer["message"] == BAD_LOGIN, answer
    assert "data" not in answer
    expect(late, 401, role_op)
    # The change's own token is the account's only good one; the new
    # password logs in.
    live = {row["token_hash"] for row in live_tokens(market.url)}
    assert live == {digest(changed["data"]["token"])}
    again = market.peer("10.0.0.2")
    again.feed(frame(request(login_op, 1, login=name, password="the new one")))
    pool.finish_all()
    (answer,) = again.responses()
    assert answer["status"] == 200 and set(answer["data"]) == {"token"}, answer


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_token_the_revocation_did_not_see_does_not_resume(market, migrated_url, role):
    """A token stored from the old password that the change's revocation
    did not see (on PostgreSQL, a token inserted by a transaction whose
    snapshot predates the change) is refused by RESUME all the same."""
    login_op, password_op, name, password, _ = ROLES[role]
    owner = getattr(market, role)(name)
    token = log_in(market.peer(), login_op, name, password)
    owner.ok(password_op, old_password=password, new_password="the new one")
    # Put it back as the change found it: not revoked.
    engine = create_engine(migrated_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE sessions SET revoked_at = NULL WHERE token_hash = :h"),
                {"h": digest(token)},
            )
    finally:
        engine.dispose()
    assert refused(market, token) == BAD_TOKEN


def test_the_new_token_of_a_password_change_resumes(market):
    market.client("alice")
    peer = market.peer()
    log_in(peer)
    new = peer.ok("SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="another-pass")
    assert resumed(market, new["token"]).ok("CLIENT_GET_PRICE") == "0.00"


def test_a_failed_password_change_revokes_nothing(market):
    market.client("alice")
    peer, other = market.peer(), market.peer()
    token = log_in(peer)
    other_token = log_in(other)
    expect(peer, 403, "SET_CLIENT_PASSWORD", old_password="not it at all", new_password="xxxxxxxx")
    resumed(market, token)
    resumed(market, other_token)
    # And the connection keeps its token: its logout still revokes it.
    peer.ok("CLIENT_LOGOUT")
    assert refused(market, token) == BAD_TOKEN
    resumed(market, other_token)


def test_a_password_change_touches_only_that_account(market):
    market.client("alice")
    market.client("bob")
    market.merchant("alice")  # the same name in the other role
    alice = market.peer()
    log_in(alice)
    bob = log_in(market.peer(), login="bob")
    shop = log_in(market.peer(), "MERCHANT_LOGIN", "alice", MERCHANT_PASSWORD)
    alice.ok("SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="alice-new-pass")
    resumed(market, bob)
    resumed(market, shop)


def test_tokens_work_across_servers_on_one_database(market, make_market):
    """Two servers (here two apps in one process) on one database: a token
    from one resumes on the other, and a revocation on one holds on the
    other."""
    other = make_market()
    market.client("alice")
    token = log_in(market.peer())
    there = other.peer()
    assert there.ok("RESUME", token=token) == {"role": "client", "name": "alice"}
    there.ok("CLIENT_LOGOUT")
    assert refused(market, token) == BAD_TOKEN


# --- expiry ------------------------------------------------------------------


def test_a_token_expires_after_the_session_days_without_use(make_market):
    market = make_market(session_days=2)
    market.client("alice")
    token = log_in(market.peer())
    market.clock.advance(2 * DAY - 1)
    resumed(market, token)  # and renewed
    market.clock.advance(2 * DAY - 1)
    resumed(market, token)
    market.clock.advance(2 * DAY)
    assert refused(market, token) == BAD_TOKEN


def test_the_default_is_30_days(market):
    market.client("alice")
    token, unused = log_in(market.peer()), log_in(market.peer())
    market.clock.advance(29 * DAY)
    resumed(market, token)
    market.clock.advance(2 * DAY)
    resumed(market, token)  # renewed a day and a half ago
    assert refused(market, unused) == BAD_TOKEN  # 31 days without use


def test_using_a_logged_in_connection_does_not_renew_its_token(make_market):
    market = make_market(session_days=1)
    market.client("alice")
    peer = market.peer()
    token = log_in(peer)
    market.clock.advance(DAY)
    peer.ok("CLIENT_GET_ITEMS")  # still logged in: the login is the connection's
    assert refused(market, token) == BAD_TOKEN


# --- what is stored and logged ---------------------------------------------


def test_only_a_hash_of_the_token_is_stored(market, migrated_url):
    market.client("alice")
    token = log_in(market.peer())
    digest = hashlib.sha256(token.encode()).hexdigest()
    rows = session_rows(migrated_url)
    assert len(rows) == 2  # Market.client's login, and this one
    assert digest in [row["token_hash"] for row in rows]
    assert not any(token in str(value) for row in rows for value in row.values())
    url = make_url(migrated_url)
    if url.get_backend_name() == "sqlite":
        # Every byte SQLite wrote: the file and its write-ahead log.
        stored = b"".join(
            path.read_bytes()
            for path in Path(url.database).parent.iterdir()
            if path.name.startswith(Path(url.database).name)
        )
        assert digest.encode() in stored  # the scan reads what was written
        assert token.encode() not in stored


def test_the_log_holds_neither_token_nor_hash(market, logged):
    market.client("alice")
    peer = market.peer()
    token = log_in(peer)
    resumed(market, token)
    refused(market, token + "x")
    peer.ok("SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="changed-pass")
    digest = hashlib.sha256(token.encode()).hexdigest()
    lines = "\n".join(texts(logged))
    assert "failed RESUME" in lines
    assert token not in lines and digest not in lines


# --- the failed-login limit ----------------------------------------------


def test_failed_resumes_count_toward_the_addresss_login_limit(make_market):
    market = make_market(login_failures_per_address=3)
    market.client("alice")
    token = log_in(market.peer())
    for _ in range(3):
        assert refused(market, "wrong-token", host="10.9.9.9") == BAD_TOKEN
    # The next failed RESUME from that address is refused, and so is a
    # login from there ...
    message = expect(market.peer("10.9.9.9"), 429, "RESUME", token="wrong-token")
    assert "try again" in message
    expect(market.peer("10.9.9.9"), 429, "CLIENT_LOGIN", login="alice", password=PASSWORD)
    # ... but never a RESUME with a valid token (protocol 1.2): its secret
    # cannot be guessed.
    resumed(market, token, host="10.9.9.9")
    # Other addresses are not affected.
    resumed(market, token, host="10.0.0.2")
    # The window passes.
    market.clock.advance(301)
    assert refused(market, "wrong-token", host="10.9.9.9") == BAD_TOKEN


def test_failed_logins_count_toward_resume_too(make_market):
    market = make_market(login_failures_per_address=2)
    market.client("alice")
    token = log_in(market.peer())
    for _ in range(2):
        expect(market.peer("10.8.8.8"), 401, "CLIENT_LOGIN", login="alice", password="bad-one")
    expect(market.peer("10.8.8.8"), 429, "RESUME", token="not-" + token)
    resumed(market, token, host="10.8.8.8")


def test_a_neighbours_wrong_passwords_never_log_a_page_out(make_market):
    """Ten wrong passwords from one office's address (the default limit
    per address is 100, and a valid token is never refused for the
    address's failures): every open page behind it resumes after a
    restart, and the others log in."""
    market = make_market()
    market.client("alice")
    market.client("bob")
    token = log_in(market.peer())
    for _ in range(10):
        expect(market.peer("10.5.5.5"), 401, "CLIENT_LOGIN", login="bob", password="bad-one")
    resumed(market, token, host="10.5.5.5")
    expect(market.peer("10.5.5.5"), 200, "CLIENT_LOGIN", login="alice", password=PASSWORD)


def test_400_comes_before_429(make_market):
    market = make_market(login_failures_per_address=1)
    market.client("alice")
    token = log_in(market.peer())
    peer = resumed(market, token, host="10.7.7.7")
    refused(market, "wrong", host="10.7.7.7")
    expect(market.peer("10.7.7.7"), 429, "RESUME", token="wrong")
    assert expect(peer, 400, "RESUME", token=token).startswith("token:")


def test_good_resumes_do_not_count(make_market):
    market = make_market(login_failures=2)
    market.client("alice")
    token = log_in(market.peer())
    for _ in range(5):
        resumed(market, token, host="10.6.6.6")


# --- the sweep ---------------------------------------------------------------


def test_the_sweep_deletes_expired_and_revoked_tokens(make_market, migrated_url):
    market = make_market(session_days=10)
    market.client("alice")  # its login's token goes stale too
    out = market.peer()
    revoked = log_in(out)
    out.ok("CLIENT_LOGOUT")
    stale = log_in(market.peer())
    market.clock.advance(5 * DAY)
    fresh = log_in(market.peer())
    renewed = log_in(market.peer())
    market.clock.advance(5 * DAY)
    resumed(market, renewed)
    assert len(session_rows(migrated_url)) == 5

    deleted = []
    sweep_sessions(market.app).addCallback(deleted.append)
    assert deleted == [3]  # the revoked one and the two stale ones
    remaining = {row["token_hash"] for row in session_rows(migrated_url)}
    assert remaining == {hashlib.sha256(t.encode()).hexdigest() for t in (fresh, renewed)}
    for token in (fresh, renewed):
        resumed(market, token)
    assert refused(market, stale) == refused(market, revoked) == BAD_TOKEN


def test_a_failed_sweep_is_logged_and_tried_again_later(market, logged, monkeypatch):
    from cybermarket.storage import sessions

    def broken(txn, now, period):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sessions, "sweep", broken)
    outcomes = []
    sweep_sessions(market.app).addBoth(outcomes.append)
    assert outcomes == [None]
    assert any("could not sweep old session tokens" in line for line in texts(logged))
