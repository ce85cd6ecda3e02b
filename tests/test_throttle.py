"""Failed-login throttling (status 429): by default 10 failures for one
login name, or from one peer address, within 300 seconds."""

import pytest

from tests.harness import Market

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
    """A server configured for 3 failures within 60 seconds."""
    m = Market(migrated_url, login_failures=3, login_window=60)
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
    fail_from_peer(market, op, PEER, 10)


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


def test_ten_failures_from_a_peer_block_a_new_name_from_that_peer(market, login_op):
    block_by_peer(market, login_op)
    assert attempt(market, login_op, "alice", host=PEER) == 429


def test_ten_failures_from_a_peer_leave_other_peers_alone(market, login_op):
    block_by_peer(market, login_op)
    assert attempt(market, login_op, "alice", host="10.0.0.2") == 200


def test_nine_failures_from_a_peer_do_not_block(market, login_op):
    fail_from_peer(market, login_op, PEER, 9)
    assert attempt(market, login_op, "alice", host=PEER) == 200


def test_failures_from_a_peer_count_across_roles(market):
    market.client("alice", password=PASSWORD)
    fail_from_peer(market, "CLIENT_LOGIN", PEER, 5)
    fail_from_peer(market, "MERCHANT_LOGIN", PEER, 5)
    assert attempt(market, "CLIENT_LOGIN", "alice", host=PEER) == 429


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
