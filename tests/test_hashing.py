"""Password hashing as a shared resource: nobody gets a hash they cannot
use, and one address cannot queue so much hashing that another address's
login waits behind it."""

import pytest

from tests.harness import FAST_HASHER, InlineHasher, held_hasher, texts
from tests.shop import store_args
from tests.wire import frame, request

PASSWORD = "right-password"
WRONG = "wrong-password"
FLOODER = "10.6.6.6"
BUSY = "server busy hashing passwords; try again"


class CountingHasher:
    """FAST_HASHER, counting the hashes it makes."""

    def __init__(self):
        self.hashes = 0

    def hash(self, password):
        self.hashes += 1
        return FAST_HASHER.hash(password)

    def verify(self, stored, password):
        return FAST_HASHER.verify(stored, password)


@pytest.fixture
def counting(market):
    counter = CountingHasher()
    market.app.hasher.hasher = counter
    return counter


def send(market, op, host, **args):
    """One request on a new connection from `host`; the connection."""
    peer = market.peer(host=host)
    peer.feed(frame(request(op, 1, **args)))
    return peer


def answer(peer):
    """The one response of a connection, or None while there is none."""
    responses = peer.responses()
    assert len(responses) <= 1
    return responses[0] if responses else None


def create_args(i):
    return {"username": f"user{i}", "email": f"user{i}@example.com", "password": PASSWORD}


# --- no hash for a request that cannot succeed -----------------------------------


@pytest.mark.parametrize(
    "taken", [{"username": "alice"}, {"email": "ALICE@example.com"}], ids=["name", "email"]
)
def test_client_create_with_a_taken_name_hashes_nothing(market, counting, taken):
    market.client("alice", password=PASSWORD)
    counting.hashes = 0
    args = dict(create_args(1), **taken)
    assert market.peer().call("CLIENT_CREATE", **args)["status"] == 409
    assert counting.hashes == 0


@pytest.mark.parametrize(
    "taken", [{"storename": "shop"}, {"email": "SHOP@example.com"}], ids=["name", "email"]
)
def test_merchant_create_with_a_taken_name_hashes_nothing(market, counting, taken):
    market.merchant("shop", password=PASSWORD)
    counting.hashes = 0
    code = market.invite()
    args = dict(store_args("newshop", PASSWORD, code), **taken)
    assert market.peer().call("MERCHANT_CREATE", **args)["status"] == 409
    assert counting.hashes == 0
    # The code is still unused.
    market.peer().ok("MERCHANT_CREATE", **store_args("newshop", PASSWORD, code))


# --- fair shares ------------------------------------------------------------------


def test_one_address_cannot_starve_another(market):
    market.client("bob", password=PASSWORD)
    pool = held_hasher(market)
    flood = [send(market, "CLIENT_CREATE", FLOODER, **create_args(i)) for i in range(60)]
    login = send(market, "CLIENT_LOGIN", "10.7.7.7", login="bob", password=PASSWORD)
    hashes_before = 0
    while answer(login) is None:
        pool.finish()
        hashes_before += 1
    # Bob's login waited for at most the hash already running, then ran.
    assert hashes_before <= 2
    pool.finish_all()
    statuses = [answer(peer)["status"] for peer in flood]
    assert set(statuses) <= {201, 503}


def test_addresses_take_turns(market):
    pool = held_hasher(market)
    send(market, "CLIENT_CREATE", "10.7.0.1", **create_args(0))  # running
    first = [send(market, "CLIENT_CREATE", "10.7.0.1", **create_args(i)) for i in range(1, 4)]
    second = [send(market, "CLIENT_CREATE", "10.7.0.2", **create_args(i)) for i in range(4, 7)]
    order = []
    while pool.jobs:
        pool.finish()
        for name, peers in (("first", first), ("second", second)):
            for peer in peers:
                if peer not in [p for _, p in order] and answer(peer) is not None:
                    order.append((name, peer))
    assert [name for name, _ in order] == ["second", "first"] * 3


def test_one_address_uses_at_most_two_hashing_threads(market):
    pool = held_hasher(market, threads=4)
    for i in range(6):
        send(market, "CLIENT_CREATE", FLOODER, **create_args(i))
    assert len(pool.jobs) == 2
    send(market, "CLIENT_CREATE", "10.7.7.7", **create_args(9))
    assert len(pool.jobs) == 3
    pool.finish_all()


# --- bounded queues -------------------------------------------------------------------


def test_a_full_address_queue_is_refused_with_503(market, logged):
    pool = held_hasher(market, queue_per_address=4)
    waiting = [send(market, "CLIENT_CREATE", FLOODER, **create_args(i)) for i in range(5)]
    refused = answer(send(market, "CLIENT_CREATE", FLOODER, **create_args(5)))
    assert (refused["status"], refused["message"]) == (503, BUSY)
    assert any(FLOODER in text and "hash" in text for text in texts(logged))
    # Other addresses still get in.
    other = send(market, "CLIENT_CREATE", "10.7.7.7", **create_args(6))
    pool.finish_all()
    assert [answer(peer)["status"] for peer in waiting + [other]] == [201] * 6


def test_the_refusal_for_hashing_is_in_the_persons_language(market):
    pool = held_hasher(market, queue_per_address=1)
    send(market, "CLIENT_CREATE", FLOODER, **create_args(0))  # running
    send(market, "CLIENT_CREATE", FLOODER, **create_args(1))  # fills the queue
    peer = market.peer(host=FLOODER)
    peer.feed(frame(request("SET_LANGUAGE", 1, language="ru")))
    peer.feed(frame(request("CLIENT_CREATE", 2, **create_args(2))))
    refused = peer.responses()[-1]
    assert (refused["status"], refused["message"]) == (
        503,
        "сервер занят проверкой паролей; повторите попытку",
    )
    pool.finish_all()


def test_refusals_for_hashing_do_not_flood_the_log(market, logged):
    held_hasher(market, queue_per_address=1)
    send(market, "CLIENT_CREATE", FLOODER, **create_args(0))  # running
    send(market, "CLIENT_CREATE", FLOODER, **create_args(1))  # fills the queue
    for i in range(2, 102):
        assert answer(send(market, "CLIENT_CREATE", FLOODER, **create_args(i)))["status"] == 503
    lines = [text for text in texts(logged) if "hashing queue full" in text]
    assert len(lines) == 1, lines


def test_a_full_total_queue_is_refused_with_503(market):
    pool = held_hasher(market, queue=4)
    waiting = [send(market, "CLIENT_CREATE", f"10.7.0.{i}", **create_args(i)) for i in range(5)]
    refused = answer(send(market, "CLIENT_CREATE", "10.7.1.1", **create_args(5)))
    assert (refused["status"], refused["message"]) == (503, BUSY)
    pool.finish_all()
    assert [answer(peer)["status"] for peer in waiting] == [201] * 5


def test_a_login_refused_for_hashing_does_not_count_as_a_failure(market):
    market.client("alice", password=PASSWORD)
    pool = held_hasher(market, queue_per_address=1)
    send(market, "CLIENT_CREATE", FLOODER, **create_args(0))  # running
    send(market, "CLIENT_CREATE", FLOODER, **create_args(1))  # fills the queue
    for _ in range(12):
        refused = answer(send(market, "CLIENT_LOGIN", FLOODER, login="alice", password=WRONG))
        assert refused["status"] == 503
    pool.finish_all()
    login = send(market, "CLIENT_LOGIN", FLOODER, login="alice", password=PASSWORD)
    pool.finish_all()
    assert answer(login)["status"] == 200


def test_a_few_busy_addresses_cannot_fill_the_queue_for_everyone(market):
    """Five addresses queueing hashes used to fill the shared queue, after
    which every other address's login was refused 503.  A full queue now
    sheds the newest job of the address with the most waiting instead."""
    market.client("alice", password=PASSWORD)
    pool = held_hasher(market, queue=8, queue_per_address=4)
    floods = [send(market, "CLIENT_CREATE", f"10.7.0.{i % 3}", **create_args(i)) for i in range(12)]
    victim = send(market, "CLIENT_LOGIN", "10.9.9.9", login="alice", password=PASSWORD)
    assert answer(victim) is None  # waiting, not refused
    shed = [a for a in (answer(peer) for peer in floods) if a is not None]
    assert shed and all((a["status"], a["message"]) == (503, BUSY) for a in shed)
    pool.finish_all()
    assert answer(victim)["status"] == 200


def test_a_hash_for_no_peer_in_particular_runs():
    """Hasher.hash and verify take peer=None by default; such a job was
    queued under None, which the share's _next_peer also answered when no peer could
    run, so it never ran and its Deferred never fired."""
    hasher = InlineHasher()
    hashed = []
    hasher.hash(PASSWORD).addCallback(hashed.append)
    assert len(hashed) == 1 and hashed[0].startswith("$argon2id$")
    checked = []
    hasher.verify(hashed[0], PASSWORD).addCallback(checked.append)
    assert checked == [True]
    assert hasher.share._waiting == {} and hasher.share._running == {}
