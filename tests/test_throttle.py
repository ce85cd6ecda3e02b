"""Failed-login throttling (status 429): by default 10 failures for one
login name, or 100 from one peer address (protocol 1.2), within 300
seconds."""

import threading

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool
from twisted.internet import defer, task

from cybermarket.errors import Throttled, Unavailable
from cybermarket.server import limits
from cybermarket.server.throttle import Throttle
from cybermarket.storage.database import Database
from cybermarket.storage.models import login_attempts
from tests.harness import Market, held_hasher, make_app, texts
from tests.wire import frame, request

PASSWORD = "right-password"
WRONG = "wrong-password"
# The address attempts come from unless a test says otherwise, and the one
# the per-address tests block.
PEER = "10.9.9.9"
LOGIN_OPS = {"client": "CLIENT_LOGIN", "merchant": "MERCHANT_LOGIN"}


@pytest.fixture(params=sorted(LOGIN_OPS))
def login_op(request, market):
    """The login op of a role that has an account "alice" (PASSWORD)."""
    getattr(market, request.param)("alice", password=PASSWORD)
    return LOGIN_OPS[request.param]


@pytest.fixture
def small_market(migrated_url):
    """A server configured for 3 failures (per name and per address) within
    60 seconds."""
    m = Market(migrated_url, login_failures=3, login_failures_per_address=3, login_window=60)
    m.client("alice", password=PASSWORD)
    yield m
    m.close()


def attempt(market, op, login, password=PASSWORD, host=PEER):
    """One login on a new connection from `host`; the status."""
    return market.peer(host=host).call(op, login=login, password=password)["status"]


def fail_by_name(market, op, login, times, first_host=1):
    """`times` wrong passwords for one login, each from its own address, so
    that only the login name's count grows."""
    for i in range(first_host, first_host + times):
        assert attempt(market, op, login, WRONG, host=f"10.1.0.{i}") == 401


def fail_from_peer(market, op, host, times):
    """`times` wrong logins from one address, each for another name."""
    for i in range(times):
        assert attempt(market, op, f"user{i}", WRONG, host=host) == 401


def block_by_name(market, op):
    fail_by_name(market, op, "alice", 10)


def block_by_peer(market, op):
    fail_from_peer(market, op, PEER, 100)


BLOCKS = [block_by_name, block_by_peer]


# --- one login name -------------------------------------------------------------


def test_ten_failures_for_a_name_block_even_the_right_password(market, login_op):
    block_by_name(market, login_op)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429


def test_nine_failures_for_a_name_do_not_block(market, login_op):
    fail_by_name(market, login_op, "alice", 9)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 200


def test_a_blocked_name_leaves_other_names_alone(market, login_op):
    block_by_name(market, login_op)
    assert attempt(market, login_op, "nobody", WRONG, host="10.2.0.1") == 401


def test_an_unknown_name_is_blocked_like_a_known_one(market, login_op):
    fail_by_name(market, login_op, "nobody", 10)
    assert attempt(market, login_op, "nobody", WRONG, host="10.2.0.1") == 429


def test_failures_by_email_count_for_one_login_whatever_the_case(market, login_op):
    fail_by_name(market, login_op, "alice@example.com", 5)
    fail_by_name(market, login_op, "ALICE@Example.com", 5, first_host=6)
    assert attempt(market, login_op, "Alice@example.COM", host="10.2.0.1") == 429


def test_failures_by_name_count_for_one_login_whatever_the_spelling(market, login_op):
    # Names that fold alike are one name, so they share one limit.
    fail_by_name(market, login_op, "alice", 4)
    fail_by_name(market, login_op, "ALICE", 3, first_host=5)
    fail_by_name(market, login_op, "ａｌｉｃｅ", 3, first_host=8)
    assert attempt(market, login_op, "Alice", host="10.2.0.1") == 429


# --- one peer address --------------------------------------------------------------


def test_a_hundred_failures_from_a_peer_block_a_new_name_from_that_peer(market, login_op):
    block_by_peer(market, login_op)
    assert attempt(market, login_op, "alice", host=PEER) == 429


def test_a_hundred_failures_from_a_peer_leave_other_peers_alone(market, login_op):
    block_by_peer(market, login_op)
    assert attempt(market, login_op, "alice", host="10.0.0.2") == 200


def test_ninety_nine_failures_from_a_peer_do_not_block(market, login_op):
    fail_from_peer(market, login_op, PEER, 99)
    assert attempt(market, login_op, "alice", host=PEER) == 200


def test_ten_wrong_passwords_from_one_office_leave_the_others_behind_it_alone(market, login_op):
    """Ten failures from one address no longer lock everyone behind that
    address out (protocol 1.2): the address's limit is 100 by default."""
    fail_from_peer(market, login_op, PEER, 10)
    assert attempt(market, login_op, "alice", host=PEER) == 200


def test_failures_from_a_peer_count_across_roles(market):
    market.client("alice", password=PASSWORD)
    fail_from_peer(market, "CLIENT_LOGIN", PEER, 50)
    fail_from_peer(market, "MERCHANT_LOGIN", PEER, 50)
    assert attempt(market, "CLIENT_LOGIN", "alice", host=PEER) == 429


def test_the_per_address_limit_has_an_option_of_its_own(make_market):
    market = make_market(login_failures=5, login_failures_per_address=2)
    market.client("alice", password=PASSWORD)
    fail_from_peer(market, "CLIENT_LOGIN", PEER, 2)
    assert attempt(market, "CLIENT_LOGIN", "alice", host=PEER) == 429
    fail_by_name(market, "CLIENT_LOGIN", "alice", 4)
    assert attempt(market, "CLIENT_LOGIN", "alice", host="10.2.0.1") == 200
    fail_by_name(market, "CLIENT_LOGIN", "alice", 1, first_host=20)
    assert attempt(market, "CLIENT_LOGIN", "alice", host="10.2.0.2") == 429


# --- the window ------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS)
def test_block_lasts_the_whole_window(market, login_op, block):
    block(market, login_op)
    market.clock.advance(299)
    assert attempt(market, login_op, "alice") == 429


@pytest.mark.parametrize("block", BLOCKS)
def test_block_lifts_after_the_window(market, login_op, block):
    block(market, login_op)
    market.clock.advance(301)
    assert attempt(market, login_op, "alice") == 200


@pytest.mark.parametrize("block", BLOCKS)
def test_refused_attempts_do_not_extend_the_window(market, login_op, block):
    block(market, login_op)
    # As many refused attempts as the limit, spread over the window: were
    # they counted, they alone would keep the block up.
    for _ in range(10):
        market.clock.advance(29)
        assert attempt(market, login_op, "alice", WRONG) == 429
    market.clock.advance(11)  # 301 s after the failures
    assert attempt(market, login_op, "alice") == 200


def test_failures_older_than_the_window_stop_counting(market, login_op):
    fail_by_name(market, login_op, "alice", 5)
    market.clock.advance(200)
    fail_by_name(market, login_op, "alice", 5, first_host=6)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429
    market.clock.advance(101)  # the first five are now older than 300 s
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 200


# --- successes -----------------------------------------------------------------


def test_a_successful_login_is_not_counted(market, login_op):
    for _ in range(9):
        assert attempt(market, login_op, "alice", WRONG, host=PEER) == 401
    # Were successes counted, the second would be the tenth attempt.
    assert attempt(market, login_op, "alice", host=PEER) == 200
    assert attempt(market, login_op, "alice", host=PEER) == 200


def test_a_successful_login_does_not_forgive_earlier_failures(market, login_op):
    fail_by_name(market, login_op, "alice", 9)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 200
    fail_by_name(market, login_op, "alice", 1, first_host=10)
    # Ten failures for "alice" within the window.
    assert attempt(market, login_op, "alice", host="10.2.0.2") == 429


# --- settings ------------------------------------------------------------------


def test_login_failures_setting_sets_the_limit(small_market):
    # The limit is 3 here: two failures still let the right password in,
    # the third failure closes the door for the right password too.
    fail_by_name(small_market, "CLIENT_LOGIN", "alice", 2)
    assert attempt(small_market, "CLIENT_LOGIN", "alice", host="10.2.0.1") == 200
    fail_by_name(small_market, "CLIENT_LOGIN", "alice", 1, first_host=3)
    assert attempt(small_market, "CLIENT_LOGIN", "alice", host="10.2.0.2") == 429


def test_login_window_setting_sets_the_window(small_market):
    fail_from_peer(small_market, "CLIENT_LOGIN", PEER, 3)
    small_market.clock.advance(59)
    assert attempt(small_market, "CLIENT_LOGIN", "alice", host=PEER) == 429
    small_market.clock.advance(2)
    assert attempt(small_market, "CLIENT_LOGIN", "alice", host=PEER) == 200


# --- logins in flight ------------------------------------------------------------
#
# The budget must hold however many logins arrive at once: a login takes its
# place in the count before its password is checked, not after.

SPREADS = {
    # (address of attempt i, login name of attempt i)
    "one name from one address": (lambda i: PEER, lambda i: "alice"),
    "one name from many addresses": (lambda i: f"10.3.0.{i + 1}", lambda i: "alice"),
    "many names from one address": (lambda i: PEER, lambda i: f"user{i}"),
}


def send_at_once(market, op, count, host_of, args_of):
    """`count` requests on as many new connections, all sent before any
    password check finishes; the connections."""
    peers = []
    for i in range(count):
        peer = market.peer(host=host_of(i))
        peer.feed(frame(request(op, 1, **args_of(i))))
        peers.append(peer)
    return peers


def statuses(peers):
    out = []
    for peer in peers:
        (response,) = peer.responses()
        out.append(response["status"])
    return out


@pytest.mark.parametrize("spread", sorted(SPREADS))
def test_simultaneous_wrong_logins_stay_within_the_budget(market, login_op, spread):
    host_of, name_of = SPREADS[spread]
    # One budget of 10 for every spread: the address's limit brought down
    # to the account's.
    market.app.throttle.address_limit = 10
    pool = held_hasher(market)
    peers = send_at_once(
        market, login_op, 40, host_of, lambda i: {"login": name_of(i), "password": WRONG}
    )
    pool.finish_all()
    answered = [status for status in statuses(peers) if status != 429]
    assert len(answered) <= 10, answered
    assert set(answered) <= {401}
    assert len(pool.finished) <= 10


def test_simultaneous_wrong_logins_leave_the_account_blocked(market, login_op):
    pool = held_hasher(market)
    send_at_once(
        market,
        login_op,
        40,
        lambda i: f"10.3.0.{i + 1}",
        lambda i: {"login": "alice", "password": WRONG},
    )
    pool.finish_all()
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429


# --- wrong old passwords -------------------------------------------------------------

PASSWORD_OPS = {"client": "SET_CLIENT_PASSWORD", "merchant": "SET_MERCHANT_PASSWORD"}


@pytest.mark.parametrize("role", sorted(PASSWORD_OPS))
def test_wrong_old_passwords_count_as_failed_logins(market, role):
    owner = getattr(market, role)("alice", password=PASSWORD, peer=market.peer(host=PEER))
    op = PASSWORD_OPS[role]
    for _ in range(10):
        assert owner.call(op, old_password=WRONG, new_password="new-password")["status"] == 403
    # The budget is spent: the right old password is refused too, and so
    # is a login to the account from anywhere.
    refused = owner.call(op, old_password=PASSWORD, new_password="new-password")
    assert refused["status"] == 429
    assert attempt(market, LOGIN_OPS[role], "alice", host="10.2.0.1") == 429


@pytest.mark.parametrize("role", sorted(PASSWORD_OPS))
def test_failed_logins_throttle_password_changes(market, role):
    owner = getattr(market, role)("alice", password=PASSWORD, peer=market.peer(host=PEER))
    fail_by_name(market, LOGIN_OPS[role], "alice", 10)
    refused = owner.call(PASSWORD_OPS[role], old_password=PASSWORD, new_password="new-password")
    assert refused["status"] == 429


@pytest.mark.parametrize("role", sorted(PASSWORD_OPS))
def test_simultaneous_wrong_old_passwords_stay_within_the_budget(market, role):
    owners = [getattr(market, role)("alice", password=PASSWORD, peer=market.peer("10.4.0.1"))]
    for i in range(2, 41):
        owner = market.peer(host=f"10.4.0.{i}")
        owner.ok(LOGIN_OPS[role], login="alice", password=PASSWORD)
        owners.append(owner)
    pool = held_hasher(market)
    for owner in owners:
        owner.feed(frame(request(PASSWORD_OPS[role], 99, old_password=WRONG, new_password="x" * 8)))
    pool.finish_all()
    answered = [status for status in statuses(owners) if status != 429]
    assert len(answered) <= 10, answered
    assert set(answered) <= {403}


# --- one budget per account ---------------------------------------------------------


def test_a_name_and_its_email_share_one_budget(market, login_op):
    fail_by_name(market, login_op, "alice", 5)
    fail_by_name(market, login_op, "alice@example.com", 5, first_host=6)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429
    assert attempt(market, login_op, "ALICE@example.com", host="10.2.0.2") == 429


def test_a_renamed_account_keeps_its_failures(market):
    owner = market.client("alice", password=PASSWORD)
    fail_by_name(market, "CLIENT_LOGIN", "alice", 10)
    owner.ok("SET_CLIENT_USERNAME", username="alicia")
    assert attempt(market, "CLIENT_LOGIN", "alicia", host="10.2.0.1") == 429


def test_unknown_names_are_counted_case_folded(market, login_op):
    fail_by_name(market, login_op, "Nobody", 5)
    fail_by_name(market, login_op, "NOBODY", 5, first_host=6)
    assert attempt(market, login_op, "nobody", WRONG, host="10.2.0.1") == 429


# --- what a 429 says -------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS)
def test_the_429_says_how_many_seconds_to_wait(market, login_op, block):
    block(market, login_op)
    market.clock.advance(100)
    refused = market.peer(host=PEER).call(login_op, login="alice", password=PASSWORD)
    assert refused["status"] == 429
    assert refused["message"] == "too many failed logins; try again in 200 seconds"
    market.clock.advance(199.5)
    refused = market.peer(host=PEER).call(login_op, login="alice", password=PASSWORD)
    assert refused["message"] == "too many failed logins; try again in 1 second"
    market.clock.advance(0.5)
    assert attempt(market, login_op, "alice") == 200


# --- several server processes ----------------------------------------------------------


@pytest.fixture
def twin(migrated_url):
    """A second in-process server on the same database: another process."""
    m = Market(migrated_url)
    yield m
    m.close()


def test_failures_through_two_servers_share_one_budget(market, twin, login_op):
    for i in range(10):
        server = (market, twin)[i % 2]
        assert attempt(server, login_op, "alice", WRONG, host=f"10.1.0.{i}") == 401
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429
    assert attempt(twin, login_op, "alice", host="10.2.0.1") == 429


def test_failures_from_a_peer_through_two_servers_share_one_budget(market, twin, login_op):
    fail_from_peer(market, login_op, PEER, 50)
    fail_from_peer(twin, login_op, PEER, 50)
    assert attempt(market, login_op, "alice", host=PEER) == 429
    assert attempt(twin, login_op, "alice", host=PEER) == 429


def test_simultaneous_wrong_logins_through_two_servers(market, twin, login_op):
    pools = [held_hasher(market), held_hasher(twin)]
    peers = []
    for server in (market, twin):
        peers += send_at_once(
            server,
            login_op,
            20,
            lambda i: f"10.3.0.{i + 1}",
            lambda i: {"login": "alice", "password": WRONG},
        )
    for pool in pools:
        pool.finish_all()
    answered = [status for status in statuses(peers) if status != 429]
    assert len(answered) <= 10, answered


# --- what is logged -----------------------------------------------------------------


def test_failed_logins_and_429s_are_logged_without_secrets(market, logged):
    owner = market.client("alice", password=PASSWORD, peer=market.peer(host="10.8.8.8"))
    for _ in range(5):
        assert attempt(market, "CLIENT_LOGIN", "alice", WRONG, host="10.8.8.8") == 401
    for _ in range(5):
        changed = owner.call("SET_CLIENT_PASSWORD", old_password=WRONG, new_password=WRONG)
        assert changed["status"] == 403
    assert attempt(market, "CLIENT_LOGIN", "alice", host="10.8.8.8") == 429
    lines = texts(logged)
    mine = [line for line in lines if "10.8.8.8" in line and "client" in line]
    assert any("alice" in line and "wrong password" in line for line in mine), lines
    assert any("wrong old password" in line for line in mine), lines
    assert any("alice" in line and "429" in line for line in mine), lines
    everything = " ".join(lines + [repr(event) for event in logged])
    for secret in (WRONG, PASSWORD, "$argon2"):
        assert secret not in everything


def test_a_login_name_is_logged_cut_short_and_escaped(market, logged):
    hostile = "\x1b[2J\u202e" + "n" * 200
    assert attempt(market, "CLIENT_LOGIN", hostile, WRONG, host="10.8.8.9") == 401
    (line,) = [line for line in texts(logged) if "10.8.8.9" in line]
    assert "failed client login '\\x1b[2J\\u202e" in line and "n" * 50 + "...'" in line
    assert "\x1b" not in line and "\u202e" not in line and "n" * 60 not in line


# --- the table ---------------------------------------------------------------------


def attempts_left(market):
    with create_engine(market.url, poolclass=NullPool).connect() as conn:
        return conn.execute(select(func.count()).select_from(login_attempts)).scalar_one()


def test_sweep_deletes_what_left_the_window(market, login_op):
    fail_by_name(market, login_op, "alice", 3)
    market.clock.advance(200)
    fail_by_name(market, login_op, "alice", 2, first_host=4)
    assert attempts_left(market) == 10  # each failure: the name and the address
    market.clock.advance(100)
    market.app.throttle.sweep()
    assert attempts_left(market) == 4
    market.clock.advance(200)
    market.app.throttle.sweep()
    assert attempts_left(market) == 0


def test_a_successful_login_leaves_no_row(market, login_op):
    assert attempt(market, login_op, "alice") == 200
    assert attempts_left(market) == 0


def test_a_login_whose_check_never_ends_ages_out(market, login_op):
    """A process that dies in the middle of a check leaves its reservation
    pending: it counts until it leaves the window, then no more."""
    pool = held_hasher(market)
    send_at_once(
        market, login_op, 10, lambda i: PEER, lambda i: {"login": "alice", "password": WRONG}
    )
    assert len(pool.jobs) == 1  # one check running, nine waiting; none ends
    market.app.hasher = make_app(market.url, market.clock).hasher
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 429
    market.clock.advance(300)
    assert attempt(market, login_op, "alice", host="10.2.0.1") == 200


def test_a_sweep_that_fails_is_logged_and_tried_again(market, logged, monkeypatch):
    monkeypatch.setattr(
        market.app.db,
        "run",
        lambda *args, **kwargs: defer.fail(Unavailable("database unreachable")),
    )
    # The failure does not reach the TimerService, which would stop.
    outcome = []
    market.app.throttle.sweep().addBoth(outcome.append)
    assert outcome == [None]
    assert any("sweep" in line and "unreachable" in line for line in texts(logged))


def test_reservations_from_many_threads_keep_the_limit(migrated_url):
    """The count and the reservation are one step, whoever else reserves
    at the same moment: threads with their own database connections, as
    several processes would have."""
    db = Database(migrated_url, threads=8)
    throttle = Throttle(db, task.Clock(), limit=10, address_limit=10)
    barrier = threading.Barrier(8)
    outcomes = []

    def worker():
        barrier.wait()
        for _ in range(5):
            try:
                db.run_sync("reserve", throttle.reserve, (1000, {"address": "peer 10.5.5.5"}))
            except Throttled:
                outcomes.append(429)
            else:
                outcomes.append(200)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        db.stop()
    assert sorted(outcomes) == [200] * 10 + [429] * 30


def test_more_logins_at_once_than_the_limit_are_told_to_retry_soon(market, login_op):
    """Right or wrong cannot be known before the check: a burst of more
    logins than the limit from one address has the excess refused, with a
    short wait, and they get in when they try again."""
    pool = held_hasher(market)
    peers = send_at_once(
        market, login_op, 12, lambda i: PEER, lambda i: {"login": "alice", "password": PASSWORD}
    )
    refused = [response for peer in peers for response in peer.responses()]
    assert [r["status"] for r in refused] == [429, 429]
    assert {r["message"] for r in refused} == {"too many logins at once; try again in 1 second"}
    pool.finish_all()
    assert statuses(peers[:10]) == [200] * 10
    retry = market.peer(host=PEER)
    retry.feed(frame(request(login_op, 1, login="alice", password=PASSWORD)))
    pool.finish_all()
    assert statuses([retry]) == [200]


def test_a_flood_of_refused_logins_does_not_flood_the_log(market, logged):
    """A 429 costs the attacker nothing; a log line per 429 would let one
    client write the log as fast as it can send."""
    market.client("alice", password=PASSWORD)
    fail_by_name(market, "CLIENT_LOGIN", "alice", 10)
    for _ in range(200):
        assert attempt(market, "CLIENT_LOGIN", "alice", WRONG, host="10.3.3.3") == 429
    refused = [line for line in texts(logged) if "429" in line]
    assert 1 <= len(refused) <= 2, refused
    market.clock.advance(limits.LOG_EVERY)
    assert attempt(market, "CLIENT_LOGIN", "alice", WRONG, host="10.3.3.3") == 429
    last = [line for line in texts(logged) if "429" in line][-1]
    assert "200 refused" in last or "199 refused" in last, last
