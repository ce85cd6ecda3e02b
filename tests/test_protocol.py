"""The protocol layer, in process: framing, request validation, statuses,
ordering, limits, timeouts, shutdown and backpressure."""

import re
import struct
from decimal import Decimal

import msgpack
import pytest
from twisted.internet import defer
from twisted.logger import eventAsText

from cybermarket.ops import CLIENT, EITHER, MERCHANT, OPS
from cybermarket.server import limits, protocol
from cybermarket.server.context import Settings
from cybermarket.server.handlers import accounts
from cybermarket.server.optable import SERVED
from cybermarket.server.protocol import HIGH_WATER, LOW_WATER
from tests.wire import frame, request

MONEY = re.compile(r"[0-9]+\.[0-9]{2}")
# A bare 500's `error` (protocol 1.2): its code, nothing of the failure.
INTERNAL = {"error": {"code": "internal"}}


def raw(message):
    """A frame holding any MessagePack value, well-formed request or not."""
    return frame(msgpack.packb(message))


def send(peer, message):
    """Send one frame and return its one response."""
    peer.feed(raw(message))
    (response,) = peer.responses()
    return response


def call(peer, op, request_id=1, **args):
    return send(peer, {"id": request_id, "op": op, "args": args})


def assert_bad(response, field, request_id=1):
    assert response["status"] == 400, response
    assert response["id"] == request_id
    assert response["message"].startswith(f"{field}:"), response


# What PING answers (protocol 1.1).
PONG = {"protocol": "1.3"}


def pong(request_id):
    return {"id": request_id, "status": 200, "message": "ok", "data": PONG}


def assert_money(value, expected):
    assert type(value) is str
    assert MONEY.fullmatch(value), value
    assert value == expected


def assert_alive(peer):
    assert not peer.closed
    assert call(peer, "PING", 999) == pong(999)


# --- framing ----------------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_frame_split_byte_by_byte(market):
    peer = market.peer()
    data = frame(request("PING", 7))
    for i in range(len(data) - 1):
        peer.feed(data[i : i + 1])
        assert peer.responses() == []
    peer.feed(data[-1:])
    assert peer.responses() == [pong(7)]


@pytest.mark.backend_free("the protocol layer")
def test_several_frames_in_one_chunk(market):
    peer = market.peer()
    peer.feed(b"".join(frame(request("PING", i)) for i in range(1, 11)))
    assert peer.responses() == [pong(i) for i in range(1, 11)]


@pytest.mark.backend_free("the protocol layer")
def test_chunks_cut_across_frame_boundaries(market):
    peer = market.peer()
    one = len(frame(request("PING", 1)))
    data = frame(request("PING", 1)) + frame(request("PING", 2)) + frame(request("PING", 3))
    peer.feed(data[:5])
    assert peer.responses() == []
    peer.feed(data[5 : one + 2])  # the first frame and half of the next prefix
    assert [r["id"] for r in peer.responses()] == [1]
    peer.feed(data[one + 2 :])
    assert [r["id"] for r in peer.responses()] == [2, 3]


@pytest.mark.backend_free("the protocol layer")
def test_pipelined_mixed_ops_answer_in_request_order(market):
    peer = market.peer()
    peer.feed(
        frame(request("PING", 1))
        + raw({"id": 2, "op": "NO_SUCH_OP"})
        + frame(request("LIST_MERCHANT", 3, limit=5))
        + frame(
            request(
                "CLIENT_CREATE", 4, username="ann", email="ann@example.com", password="secret-pass"
            )
        )
        + frame(request("CLIENT_ADD_ITEM", 5, product_id=1, quantity=0))
        + frame(b"\xc1")
        + frame(request("CLIENT_GET_PRICE", 6))
        + frame(request("CLIENT_LOGIN", 7, login="ann", password="secret-pass"))
        + frame(request("CLIENT_GET_PRICE", 8))
    )
    responses = peer.responses()
    assert [(r["id"], r["status"]) for r in responses] == [
        (1, 200),
        (2, 400),
        (3, 200),
        (4, 201),
        (5, 400),
        (None, 400),
        (6, 401),
        (7, 200),
        (8, 200),
    ]


# --- unreadable bodies ------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",  # never used in MessagePack
        b"not msgpack at all",
        b"\x81\xa2id",  # a map cut short
        msgpack.packb({"id": 1, "op": "PING"}) + b"\x00",  # a trailing value
        b"\x81\xa2id\xa2\xff\xfe",  # a string that is not UTF-8
    ],
)
def test_garbage_body(market, body):
    peer = market.peer()
    peer.feed(frame(body))
    (response,) = peer.responses()
    assert response["id"] is None
    assert response["status"] == 400
    assert response["message"].startswith("body:")
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_empty_frame(market):
    peer = market.peer()
    peer.feed(b"\x00\x00\x00\x00")
    (response,) = peer.responses()
    assert response["id"] is None
    assert response["status"] == 400
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize("message", [[1, "PING", {}], 5, "PING", None, True, 1.5, b"PING"])
def test_body_not_a_map(market, message):
    peer = market.peer()
    response = send(peer, message)
    assert response["id"] is None
    assert response["status"] == 400
    assert response["message"].startswith("body:")
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize(
    "message",
    [
        {"op": "PING"},
        {"id": None, "op": "PING"},
        {"id": -1, "op": "PING"},
        {"id": 1.0, "op": "PING"},
        {"id": "1", "op": "PING"},
        {"id": True, "op": "PING"},
        {"id": False, "op": "PING"},
        {"id": [1], "op": "PING"},
    ],
)
def test_bad_id(market, message):
    peer = market.peer()
    response = send(peer, message)
    assert response["id"] is None
    assert response["status"] == 400
    assert response["message"].startswith("id:")
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_largest_id_is_echoed(market):
    peer = market.peer()
    biggest = 2**64 - 1
    assert send(peer, {"id": biggest, "op": "PING"})["id"] == biggest
    assert send(peer, {"id": 0, "op": "PING"})["id"] == 0


# --- op and args ------------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_unknown_op(market):
    peer = market.peer()
    response = send(peer, {"id": 12, "op": "SELL_EVERYTHING"})
    assert_bad(response, "op", 12)
    assert "SELL_EVERYTHING" in response["message"]
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_op_names_are_exact(market):
    assert_bad(send(market.peer(), {"id": 3, "op": "ping"}), "op", 3)


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize("op", [None, 5, ["PING"], {"name": "PING"}, b"PING", True])
def test_op_not_a_string(market, op):
    peer = market.peer()
    assert_bad(send(peer, {"id": 4, "op": op}), "op", 4)
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_op_missing(market):
    assert_bad(send(market.peer(), {"id": 4}), "op", 4)


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize("args", [[], ["limit", 5], "limit=5", 5, True])
def test_args_not_a_map(market, args):
    peer = market.peer()
    assert_bad(send(peer, {"id": 5, "op": "LIST_MERCHANT", "args": args}), "args", 5)
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_args_may_be_omitted_or_nil(market):
    peer = market.peer()
    assert send(peer, {"id": 1, "op": "PING"})["status"] == 200
    assert send(peer, {"id": 2, "op": "PING", "args": None})["status"] == 200
    assert send(peer, {"id": 3, "op": "LIST_MERCHANT"})["status"] == 200


@pytest.mark.backend_free("the protocol layer")
def test_unknown_arg(market):
    peer = market.peer()
    response = call(peer, "LIST_MERCHANT", 6, limit=5, colour="red")
    assert_bad(response, "colour", 6)
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_unknown_arg_of_an_op_without_args(market):
    assert_bad(call(market.peer(), "PING", 6, verbose=True), "verbose", 6)


@pytest.mark.backend_free("the protocol layer")
@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_missing_arg(market, missing):
    args = {"username": "ann", "email": "ann@example.com", "password": "secret-pass"}
    del args[missing]
    response = call(market.peer(), "CLIENT_CREATE", 8, **args)
    assert_bad(response, missing, 8)
    assert "missing" in response["message"]


def test_missing_arg_creates_nothing(market):
    peer = market.peer()
    call(peer, "CLIENT_CREATE", 1, username="ann", password="secret-pass")
    response = call(
        peer, "CLIENT_CREATE", 2, username="ann", email="ann@example.com", password="secret-pass"
    )
    assert response["status"] == 201


@pytest.mark.parametrize(
    "op, args, field",
    [
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": True}, "quantity"),
        ("CLIENT_ADD_ITEM", {"product_id": True, "quantity": 1}, "product_id"),
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": "3"}, "quantity"),
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": 3.0}, "quantity"),
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": None}, "quantity"),
        ("MERCHANT_ADD_PRODUCT", {"productname": "p", "price": 19.99, "description": ""}, "price"),
        ("MERCHANT_ADD_PRODUCT", {"productname": "p", "price": True, "description": ""}, "price"),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "p", "price": "1", "description": 5},
            "description",
        ),
        ("MERCHANT_RESTOCK_PRODUCT", {"product_id": 1, "quantity": "3"}, "quantity"),
        (
            "CLIENT_CREATE",
            {"username": 5, "email": "a@b.co", "password": "secret-pass"},
            "username",
        ),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": ["a@b.co"], "password": "secret-pass"},
            "email",
        ),
        ("CLIENT_CREATE", {"username": "ann", "email": "a@b.co", "password": 12345678}, "password"),
        ("CLIENT_LOGIN", {"login": b"ann", "password": "secret-pass"}, "login"),
        ("LIST_MERCHANT", {"limit": "10"}, "limit"),
        ("LIST_MERCHANT", {"limit": False}, "limit"),
        ("LIST_PRODUCT", {"storename": "shop", "after": 1.0}, "after"),
    ],
)
def test_mistyped_arg(market, op, args, field):
    peer = market.peer()
    assert_bad(call(peer, op, 9, **args), field, 9)
    assert_alive(peer)


LONG = "x" * 5000


@pytest.mark.parametrize(
    "op, args, field",
    [
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": 0}, "quantity"),
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": 1_000_001}, "quantity"),
        ("CLIENT_ADD_ITEM", {"product_id": 0, "quantity": 1}, "product_id"),
        ("CLIENT_ADD_ITEM", {"product_id": -1, "quantity": 1}, "product_id"),
        ("MERCHANT_RESTOCK_PRODUCT", {"product_id": 1, "quantity": 0}, "quantity"),
        ("MERCHANT_RESTOCK_PRODUCT", {"product_id": 1, "quantity": 1_000_001}, "quantity"),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "p", "price": "1", "description": "", "stock": -1},
            "stock",
        ),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "p", "price": "1", "description": "", "stock": 10**9 + 1},
            "stock",
        ),
        ("MERCHANT_ADD_PRODUCT", {"productname": "p", "price": "0", "description": ""}, "price"),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "p", "price": "19.999", "description": ""},
            "price",
        ),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "", "price": "1", "description": ""},
            "productname",
        ),
        (
            "MERCHANT_ADD_PRODUCT",
            {"productname": "p" * 201, "price": "1", "description": ""},
            "productname",
        ),
        ("LIST_MERCHANT", {"limit": 0}, "limit"),
        ("LIST_MERCHANT", {"limit": 1001}, "limit"),
        ("LIST_PRODUCT", {"storename": "shop", "limit": 1001}, "limit"),
        ("CLIENT_LIST_ORDERS", {"limit": 0}, "limit"),
        (
            "CLIENT_CREATE",
            {"username": "u" * 65, "email": "a@b.co", "password": "secret-pass"},
            "username",
        ),
        (
            "CLIENT_CREATE",
            {"username": "", "email": "a@b.co", "password": "secret-pass"},
            "username",
        ),
        (
            "CLIENT_CREATE",
            {"username": "ann@home", "email": "a@b.co", "password": "secret-pass"},
            "username",
        ),
        (
            "CLIENT_CREATE",
            {"username": LONG, "email": "a@b.co", "password": "secret-pass"},
            "username",
        ),
        ("CLIENT_CREATE", {"username": "ann", "email": "ann", "password": "secret-pass"}, "email"),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": "ann@example", "password": "secret-pass"},
            "email",
        ),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": "@example.com", "password": "secret-pass"},
            "email",
        ),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": "a@b@c.co", "password": "secret-pass"},
            "email",
        ),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": "a@" + "b" * 250 + ".co", "password": "secret-pass"},
            "email",
        ),
        ("CLIENT_CREATE", {"username": "ann", "email": "a@b.co", "password": "p" * 7}, "password"),
        (
            "CLIENT_CREATE",
            {"username": "ann", "email": "a@b.co", "password": "p" * 129},
            "password",
        ),
        ("CLIENT_LOGIN", {"login": "ann", "password": "p" * 129}, "password"),
        (
            "SET_CLIENT_PASSWORD",
            {"old_password": "secret-pass", "new_password": "p" * 7},
            "new_password",
        ),
        ("SET_MERCHANT_DESCRIPTION", {"description": "d" * 2001}, "description"),
        ("SET_MERCHANT_STORENAME", {"storename": "s" * 65}, "storename"),
        (
            "MERCHANT_CREATE",
            {
                "storename": "shop",
                "description": "d" * 2001,
                "email": "shop@example.com",
                "password": "secret-pass",
                "code": "abc",
            },
            "description",
        ),
    ],
)
def test_out_of_range_arg(market, op, args, field):
    peer = market.peer()
    response = call(peer, op, 10, **args)
    assert_bad(response, field, 10)
    # The message names the field; it does not echo a long value back.
    assert len(response["message"]) < 200
    assert_alive(peer)


@pytest.mark.parametrize(
    "op, args",
    [
        ("LIST_MERCHANT", {"limit": 1}),
        ("LIST_MERCHANT", {"limit": 1000}),
        ("CLIENT_CREATE", {"username": "u" * 64, "email": "u@example.com", "password": "p" * 8}),
        ("CLIENT_CREATE", {"username": "ann", "email": "ann@example.com", "password": "p" * 128}),
    ],
)
def test_values_at_the_limits_are_accepted(market, op, args):
    assert call(market.peer(), op, 11, **args)["status"] in (200, 201)


def test_login_password_shorter_than_the_rules_is_a_wrong_password(market):
    market.client("ann", password="secret-pass", peer=market.peer())
    response = call(market.peer(), "CLIENT_LOGIN", 1, login="ann", password="short")
    assert response["status"] == 401


# --- frame size -------------------------------------------------------------


def sized_request(size):
    """A valid LIST_MERCHANT request body of exactly `size` bytes."""
    for request_id in range(1, 70000):
        for n in range(1, 65):
            body = msgpack.packb(
                {"id": request_id, "op": "LIST_MERCHANT", "args": {"after": "a" * n}}
            )
            if len(body) == size:
                return body
    raise AssertionError(f"no request of {size} bytes")


def assert_refused_as_too_large(peer):
    (response,) = peer.responses()
    assert response["id"] is None
    assert response["status"] == 413
    assert peer.closed


@pytest.mark.backend_free("the protocol layer")
def test_oversized_frame_default_limit(market):
    peer = market.peer()
    peer.feed(struct.pack(">I", 65537))
    assert_refused_as_too_large(peer)


@pytest.mark.backend_free("the protocol layer")
def test_oversized_frame_is_refused_before_its_body_arrives(market):
    peer = market.peer()
    peer.feed(struct.pack(">I", 2**32 - 1))
    assert_refused_as_too_large(peer)


@pytest.mark.backend_free("the protocol layer")
def test_nothing_is_read_after_an_oversized_frame(market):
    peer = market.peer()
    peer.feed(struct.pack(">I", 65537) + frame(request("PING", 2)))
    assert_refused_as_too_large(peer)
    peer.feed(frame(request("PING", 3)))
    assert peer.responses() == []


@pytest.mark.backend_free("the protocol layer")
def test_frame_of_exactly_the_default_limit_is_read(market):
    peer = market.peer()
    peer.feed(frame(b"\xc1" * 65536))
    (response,) = peer.responses()
    assert response["status"] == 400  # read and judged, not refused as too large
    assert_alive(peer)


@pytest.mark.backend_free("the protocol layer")
def test_configured_frame_limit(make_market):
    market = make_market(max_frame=100)
    peer = market.peer()
    assert call(peer, "PING", 1)["status"] == 200
    peer.feed(frame(sized_request(100)))
    (response,) = peer.responses()
    assert response["status"] == 200
    assert "data" in response
    peer.feed(frame(sized_request(101)))
    assert_refused_as_too_large(peer)
    peer.feed(frame(request("PING", 5)))
    assert peer.responses() == []


@pytest.mark.backend_free("the protocol layer")
def test_oversized_frame_after_pipelined_requests(market):
    peer = market.peer()
    peer.feed(
        frame(request("PING", 1))
        + frame(request("LIST_MERCHANT", 2))
        + frame(request("NO_SUCH_OP", 3))
        + struct.pack(">I", 65537)
        + frame(request("PING", 4))
    )
    responses = peer.responses()
    assert [(r["id"], r["status"]) for r in responses] == [
        (1, 200),
        (2, 200),
        (3, 400),
        (None, 413),
    ]
    assert peer.closed


@pytest.mark.backend_free("the protocol layer")
def test_oversized_frame_waits_for_the_request_in_flight(market, gates):
    peer = market.peer()
    peer.feed(frame(request("SLOW", 1)) + frame(request("PING", 2)) + struct.pack(">I", 65537))
    assert peer.responses() == []
    assert not peer.closed
    gates[0].callback("slow")
    responses = peer.responses()
    assert [(r["id"], r["status"]) for r in responses] == [(1, 200), (2, 200), (None, 413)]
    assert responses[0]["data"] == "slow"
    assert peer.closed


# --- failures in handlers ---------------------------------------------------


def logged_text(events):
    return "\n".join(eventAsText(e, includeTimestamp=False) for e in events)


def failures(events):
    return [e for e in events if "log_failure" in e]


@pytest.mark.backend_free("the protocol layer")
def test_handler_exception_is_a_bare_500(market, monkeypatch, logged):
    def broken(conn, me, limit, after=None):
        raise RuntimeError("storage layer exploded at /var/lib/secret")

    monkeypatch.setitem(SERVED, "LIST_MERCHANT", SERVED["LIST_MERCHANT"].with_function(broken))
    peer = market.peer()
    response = call(peer, "LIST_MERCHANT", 21)
    assert response == {"id": 21, "status": 500, "message": "internal error", **INTERNAL}
    assert_alive(peer)
    (event,) = failures(logged)
    assert event["log_failure"].check(RuntimeError)
    text = logged_text([event])
    assert "LIST_MERCHANT" in text
    assert "exploded" in text  # the log, unlike the client, gets the details


@pytest.mark.backend_free("the protocol layer")
def test_flow_exception_is_a_bare_500(market, monkeypatch, logged):
    async def broken(call, login, password):
        raise KeyError("session table")

    monkeypatch.setitem(SERVED, "CLIENT_LOGIN", SERVED["CLIENT_LOGIN"].with_function(broken))
    peer = market.peer()
    response = call(peer, "CLIENT_LOGIN", 22, login="ann", password="hunter2-and-more")
    assert response == {"id": 22, "status": 500, "message": "internal error", **INTERNAL}
    assert_alive(peer)
    (event,) = failures(logged)
    assert event["log_failure"].check(KeyError)
    text = logged_text(logged)
    assert "CLIENT_LOGIN" in text
    assert "hunter2-and-more" not in text
    assert "hunter2-and-more" not in repr(logged)


def test_failed_login_flow_is_not_logged_in(market, monkeypatch):
    market.client("ann", password="secret-pass", peer=market.peer())

    async def fails_after_login(call, login, password):
        await accounts.client_login(call, login, password)
        raise RuntimeError("after the session was set")

    monkeypatch.setitem(
        SERVED, "CLIENT_LOGIN", SERVED["CLIENT_LOGIN"].with_function(fails_after_login)
    )
    peer = market.peer()
    assert call(peer, "CLIENT_LOGIN", 1, login="ann", password="secret-pass")["status"] == 500
    # A failed op changes nothing: the connection did not adopt the login.
    assert call(peer, "CLIENT_GET_PRICE", 2)["status"] == 401


@pytest.mark.backend_free("the protocol layer")
def test_unencodable_answer_is_a_bare_500(market, monkeypatch, logged):
    def odd(conn, me):
        return {"value": object()}

    monkeypatch.setitem(SERVED, "PING", SERVED["PING"].with_function(odd))
    peer = market.peer()
    assert call(peer, "PING", 23) == {
        "id": 23,
        "status": 500,
        "message": "internal error",
        **INTERNAL,
    }
    assert call(peer, "LIST_MERCHANT", 24)["status"] == 200
    assert len(failures(logged)) == 1


@pytest.mark.backend_free("the protocol layer")
def test_handler_failing_when_called_is_a_bare_500(market, monkeypatch, logged):
    async def wrong_signature(call):  # LIST_MERCHANT passes limit and after
        return None

    monkeypatch.setitem(
        SERVED, "LIST_MERCHANT", SERVED["LIST_MERCHANT"].with_function(wrong_signature)
    )
    peer = market.peer()
    peer.feed(frame(request("LIST_MERCHANT", 25)))
    assert peer.responses() == [{"id": 25, "status": 500, "message": "internal error", **INTERNAL}]
    assert_alive(peer)
    (event,) = failures(logged)
    assert event["log_failure"].check(TypeError)


def broken_listing(monkeypatch):
    def broken(conn, me, limit, after=None):
        raise RuntimeError("storage layer exploded")

    monkeypatch.setitem(SERVED, "LIST_MERCHANT", SERVED["LIST_MERCHANT"].with_function(broken))


def left_out(events):
    """The tracebacks counted but not written, as the log says."""
    return sum(e["count"] for e in events if e.get("reason") == "tracebacks-per-second")


@pytest.mark.backend_free("the protocol layer")
def test_tracebacks_are_bounded_per_second_and_the_rest_counted(make_market, monkeypatch, logged):
    """A failure a client can cause once, it can cause thousands of times a
    second: a traceback each would flood the log."""
    market = make_market(tracebacks_per_second=2)
    broken_listing(monkeypatch)
    peer = market.peer()
    for i in range(20):
        assert call(peer, "LIST_MERCHANT", i)["status"] == 500
    assert len(failures(logged)) == 2
    market.clock.advance(1)  # the next second
    for i in range(5):
        assert call(peer, "LIST_MERCHANT", i)["status"] == 500
    assert len(failures(logged)) == 4
    market.clock.advance(limits.LOG_EVERY)
    assert left_out(logged) == 18 + 3  # every failure is in the log, one way or the other
    text = logged_text(e for e in logged if e.get("reason") == "tracebacks-per-second")
    assert "--tracebacks-per-second" in text and "LIST_MERCHANT" in text
    assert "exploded" not in text  # the counted ones say what failed, not why


@pytest.mark.backend_free("the protocol layer")
def test_an_unencodable_answer_counts_in_the_same_bound(make_market, monkeypatch, logged):
    market = make_market(tracebacks_per_second=1)

    def odd(conn, me):
        return {"value": object()}

    monkeypatch.setitem(SERVED, "PING", SERVED["PING"].with_function(odd))
    peer = market.peer()
    for i in range(10):
        assert call(peer, "PING", i)["status"] == 500
    assert len(failures(logged)) == 1
    market.clock.advance(limits.LOG_EVERY)
    assert left_out(logged) == 9


@pytest.mark.backend_free("the protocol layer")
def test_a_flood_of_failures_writes_a_bounded_number_of_tracebacks(market, monkeypatch, logged):
    broken_listing(monkeypatch)
    peer = market.peer()
    for i in range(200):
        assert call(peer, "LIST_MERCHANT", i)["status"] == 500
    assert len(failures(logged)) == 10
    assert Settings().tracebacks_per_second == 10  # the default
    market.clock.advance(limits.LOG_EVERY)
    assert left_out(logged) == 190


# --- roles ------------------------------------------------------------------

# Valid arguments for every op that needs a login, so that only the role
# decides the answer.
ROLE_ARGS = {
    "CLIENT_LOGOUT": {},
    "SET_CLIENT_USERNAME": {"username": "bob"},
    "SET_CLIENT_EMAIL": {"email": "bob@example.com"},
    "SET_CLIENT_PASSWORD": {"old_password": "client-pass", "new_password": "other-pass"},
    "CLIENT_ADD_ITEM": {"product_id": 1, "quantity": 1},
    "CLIENT_REMOVE_ITEM": {"product_id": 1},
    "CLIENT_GET_ITEMS": {},
    "CLIENT_GET_PRICE": {},
    "CLIENT_CHECKOUT_ITEM": {},
    "CLIENT_LIST_ORDERS": {},
    "CLIENT_GET_ORDER": {"order_id": 1},
    "CLIENT_CANCEL_ORDER": {"order_id": 1},
    "MERCHANT_CREATE_INVITATION": {},
    "MERCHANT_LOGOUT": {},
    "SET_MERCHANT_STORENAME": {"storename": "other"},
    "SET_MERCHANT_EMAIL": {"email": "other@example.com"},
    "SET_MERCHANT_DESCRIPTION": {"description": "changed"},
    "SET_MERCHANT_PASSWORD": {"old_password": "merchant-pass", "new_password": "other-pass"},
    "MERCHANT_ADD_PRODUCT": {"productname": "p", "price": "1", "description": ""},
    "MERCHANT_DEL_PRODUCT": {"product_id": 1},
    "MERCHANT_PUT_ON_SHELF": {"product_id": 1},
    "MERCHANT_RESTOCK_PRODUCT": {"product_id": 1, "quantity": 1},
    "MERCHANT_GET_PROFIT": {},
    "MERCHANT_GET_SALES": {},
    "MERCHANT_LIST_ORDERS": {"status": "placed"},
    "MERCHANT_GET_ORDER": {"order_id": 1},
    "MERCHANT_SHIP_ORDER": {"order_id": 1, "note": "DHL"},
    "MERCHANT_LIST_PRODUCTS": {},
    "SET_PRODUCT": {"product_id": 1, "price": "2"},
    "GET_ACCOUNT": {},
}
CLIENT_OPS = sorted(name for name in ROLE_ARGS if OPS[name].role == CLIENT)
MERCHANT_OPS = sorted(name for name in ROLE_ARGS if OPS[name].role == MERCHANT)
# Ops for a connection logged in as either role.
EITHER_OPS = sorted(name for name in ROLE_ARGS if OPS[name].role == EITHER)


def test_role_args_cover_every_role_op():
    assert set(ROLE_ARGS) == {name for name, op in OPS.items() if op.role is not None}


def assert_not_logged_in(response, request_id):
    assert response["id"] == request_id
    assert response["status"] == 401, response
    assert isinstance(response["message"], str)
    assert "data" not in response


@pytest.mark.parametrize("op", CLIENT_OPS + MERCHANT_OPS + EITHER_OPS)
def test_role_op_without_login(market, op):
    assert_not_logged_in(call(market.peer(), op, 31, **ROLE_ARGS[op]), 31)


@pytest.mark.parametrize("op", MERCHANT_OPS)
def test_merchant_op_as_a_client(market, op):
    peer = market.client("ann")
    assert_not_logged_in(call(peer, op, 32, **ROLE_ARGS[op]), 32)


@pytest.mark.parametrize("op", CLIENT_OPS)
def test_client_op_as_a_merchant(market, op):
    peer = market.merchant("shop")
    assert_not_logged_in(call(peer, op, 33, **ROLE_ARGS[op]), 33)


def test_role_op_as_the_wrong_role_changes_nothing(market):
    market.merchant("shop")
    peer = market.client("ann")
    assert call(peer, "SET_MERCHANT_DESCRIPTION", 1, description="hijacked")["status"] == 401
    listing = call(peer, "LIST_MERCHANT", 2)["data"]
    assert listing["rows"] == [["shop", "the shop store", "shop@example.com"]]


@pytest.mark.parametrize(
    "op, args, field",
    [
        ("CLIENT_ADD_ITEM", {"product_id": 1, "quantity": 0}, "quantity"),
        ("CLIENT_GET_ORDER", {}, "order_id"),
        ("CLIENT_GET_PRICE", {"verbose": True}, "verbose"),
        ("MERCHANT_ADD_PRODUCT", {"productname": "p", "price": 19.99, "description": ""}, "price"),
        ("SET_PRODUCT", {"product_id": "1", "price": "2"}, "product_id"),
    ],
)
def test_malformed_beats_not_logged_in(market, op, args, field):
    assert_bad(call(market.peer(), op, 34, **args), field, 34)


def test_malformed_beats_wrong_role(market):
    peer = market.client("ann")
    assert_bad(call(peer, "MERCHANT_RESTOCK_PRODUCT", 35, product_id=1, quantity=0), "quantity", 35)


def test_logging_in_twice(market):
    peer = market.client("ann", password="client-pass")
    response = call(peer, "CLIENT_LOGIN", 41, login="ann", password="client-pass")
    assert_bad(response, "login", 41)
    assert call(peer, "CLIENT_GET_PRICE", 42)["status"] == 200


def test_logging_in_twice_as_the_other_role(market):
    market.merchant("shop", password="merchant-pass")
    peer = market.client("ann")
    assert_bad(
        call(peer, "MERCHANT_LOGIN", 43, login="shop", password="merchant-pass"), "login", 43
    )
    # Still the customer, not the merchant.
    assert call(peer, "CLIENT_GET_PRICE", 44)["status"] == 200
    assert call(peer, "MERCHANT_GET_PROFIT", 45)["status"] == 401


def test_merchant_logging_in_as_a_client(market):
    market.client("ann", password="client-pass", peer=market.peer())
    peer = market.merchant("shop")
    assert_bad(call(peer, "CLIENT_LOGIN", 46, login="ann", password="client-pass"), "login", 46)
    assert call(peer, "MERCHANT_GET_PROFIT", 47)["status"] == 200


def test_login_after_logout(market):
    market.merchant("shop", password="merchant-pass", peer=market.peer())
    peer = market.client("ann")
    assert call(peer, "CLIENT_LOGOUT", 1)["status"] == 200
    assert call(peer, "CLIENT_GET_PRICE", 2)["status"] == 401
    assert call(peer, "MERCHANT_LOGIN", 3, login="shop", password="merchant-pass")["status"] == 200
    assert call(peer, "MERCHANT_GET_PROFIT", 4)["status"] == 200


def test_login_belongs_to_the_connection(market):
    market.client("ann")
    assert call(market.peer(), "CLIENT_GET_PRICE", 1)["status"] == 401


# --- idle timeout -----------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_idle_connection_is_closed(make_market):
    market = make_market(idle_timeout=5)
    peer = market.peer()
    market.clock.advance(4)
    assert not peer.closed
    assert call(peer, "PING", 1)["status"] == 200
    market.clock.advance(4)
    assert not peer.closed  # 8 s since connecting, 4 since the last request
    market.clock.advance(1.5)
    assert peer.closed


@pytest.mark.backend_free("the protocol layer")
def test_partial_frame_counts_as_activity(make_market):
    market = make_market(idle_timeout=5)
    peer = market.peer()
    data = frame(request("PING", 1))
    market.clock.advance(4)
    peer.feed(data[:3])
    market.clock.advance(4)
    assert not peer.closed
    peer.feed(data[3:])
    assert peer.responses() == [pong(1)]
    market.clock.advance(5.5)
    assert peer.closed


@pytest.mark.backend_free("the protocol layer")
def test_default_idle_timeout(market):
    peer = market.peer()
    market.clock.advance(899)
    assert not peer.closed
    market.clock.advance(2)
    assert peer.closed


@pytest.mark.backend_free("the protocol layer")
def test_idle_timeout_is_per_connection(make_market):
    market = make_market(idle_timeout=5)
    quiet, busy = market.peer(), market.peer()
    for i in range(3):
        market.clock.advance(3)
        assert call(busy, "PING", i)["status"] == 200
    assert quiet.closed
    assert not busy.closed


# --- shutdown -----------------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_shutdown_when_idle(market):
    peer = market.peer()
    assert call(peer, "PING", 1)["status"] == 200
    drained = []
    d = market.factory.begin_shutdown()
    assert isinstance(d, defer.Deferred)
    d.addCallback(drained.append)
    assert drained == [None]
    response = call(peer, "LIST_MERCHANT", 2)
    assert response["id"] == 2
    assert response["status"] == 503
    assert "data" not in response
    assert call(market.peer(), "PING", 3)["status"] == 503


@pytest.mark.backend_free("the protocol layer")
def test_shutdown_answers_what_was_read_first(market, gates):
    peer = market.peer()
    peer.feed(frame(request("SLOW", 1)) + frame(request("PING", 2)))
    drained = []
    market.factory.begin_shutdown().addCallback(drained.append)
    peer.feed(
        frame(request("PING", 3))
        + frame(request("CLIENT_LOGIN", 4, login="ann", password="secret-pass"))
    )
    assert peer.responses() == []
    assert drained == []
    gates[0].callback("done")
    responses = peer.responses()
    assert [(r["id"], r["status"]) for r in responses] == [(1, 200), (2, 200), (3, 503), (4, 503)]
    assert drained == [None]


@pytest.mark.backend_free("the protocol layer")
def test_shutdown_waits_for_every_connection(market, gates):
    slow, idle = market.peer(), market.peer()
    slow.feed(frame(request("SLOW", 1)))
    drained = []
    market.factory.begin_shutdown().addCallback(drained.append)
    assert call(idle, "PING", 2)["status"] == 503
    assert drained == []
    gates[0].callback(None)
    assert [r["status"] for r in slow.responses()] == [200]
    assert drained == [None]


@pytest.mark.backend_free("the protocol layer")
def test_shutdown_is_not_held_up_by_a_closed_connection(market, gates):
    peer = market.peer()
    peer.feed(frame(request("SLOW", 1)) + frame(request("PING", 2)))
    drained = []
    market.factory.begin_shutdown().addCallback(drained.append)
    assert drained == []
    peer.protocol.connectionLost(None)
    assert drained == [None]


# --- ordering, concurrency and backpressure -----------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_requests_wait_for_a_slow_one(market, gates):
    peer = market.peer()
    peer.feed(
        b"".join(frame(request(op, i)) for i, op in enumerate(["SLOW", "PING", "SLOW", "PING"], 1))
    )
    assert peer.responses() == []
    assert len(gates) == 1  # the second SLOW has not started
    gates[0].callback("first")
    assert [(r["id"], r.get("data")) for r in peer.responses()] == [(1, "first"), (2, PONG)]
    assert len(gates) == 2
    gates[1].callback("second")
    assert [(r["id"], r.get("data")) for r in peer.responses()] == [(3, "second"), (4, PONG)]


@pytest.mark.backend_free("the protocol layer")
def test_error_while_a_request_is_in_flight_keeps_its_place(market, gates):
    peer = market.peer()
    peer.feed(
        frame(request("SLOW", 1))
        + frame(b"\xc1")
        + raw({"id": 3, "op": "NOPE"})
        + frame(request("PING", 4))
    )
    assert peer.responses() == []
    gates[0].callback(None)
    assert [(r["id"], r["status"]) for r in peer.responses()] == [
        (1, 200),
        (None, 400),
        (3, 400),
        (4, 200),
    ]


@pytest.mark.backend_free("the protocol layer")
def test_connections_do_not_wait_for_each_other(market, gates):
    slow, other = market.peer(), market.peer()
    slow.feed(frame(request("SLOW", 1)))
    assert call(other, "PING", 2)["status"] == 200
    assert slow.responses() == []
    gates[0].callback(None)
    assert [r["id"] for r in slow.responses()] == [1]


@pytest.mark.backend_free("the protocol layer")
def test_slow_handler_failure_is_answered_in_order(market, gates, logged):
    peer = market.peer()
    peer.feed(frame(request("SLOW", 1)) + frame(request("PING", 2)))
    gates[0].errback(RuntimeError("late failure"))
    assert peer.responses() == [
        {"id": 1, "status": 500, "message": "internal error", **INTERNAL},
        pong(2),
    ]
    assert len(failures(logged)) == 1


@pytest.mark.backend_free("the protocol layer")
def test_reading_pauses_at_the_high_water_mark(market, gates):
    peer = market.peer()
    assert peer.transport.producerState == "producing"
    peer.feed(frame(request("SLOW", 0)))
    for i in range(1, HIGH_WATER):
        peer.feed(frame(request("PING", i)))
    assert peer.transport.producerState == "producing"  # HIGH_WATER - 1 waiting
    peer.feed(frame(request("PING", HIGH_WATER)))
    assert peer.transport.producerState == "paused"
    assert peer.responses() == []
    gates[0].callback(None)
    assert [r["id"] for r in peer.responses()] == list(range(HIGH_WATER + 1))
    assert peer.transport.producerState == "producing"


@pytest.mark.backend_free("the protocol layer")
def test_reading_resumes_below_the_low_water_mark(market, gates):
    # Waiting behind SLOW 0: PINGs, SLOW 1, SLOW 2, then LOW_WATER - 1 PINGs,
    # HIGH_WATER requests in all.
    head = HIGH_WATER - LOW_WATER - 1
    ops = ["SLOW"] + ["PING"] * head + ["SLOW", "SLOW"] + ["PING"] * (LOW_WATER - 1)
    assert len(ops) == HIGH_WATER + 1
    peer = market.peer()
    peer.feed(b"".join(frame(request(op, i)) for i, op in enumerate(ops)))
    assert peer.transport.producerState == "paused"

    gates[0].callback(None)  # SLOW 1 starts; LOW_WATER wait behind it
    assert [r["id"] for r in peer.responses()] == list(range(head + 1))
    assert peer.transport.producerState == "paused"

    gates[1].callback(None)  # SLOW 2 starts; LOW_WATER - 1 wait behind it
    assert [r["id"] for r in peer.responses()] == [head + 1]
    assert peer.transport.producerState == "producing"

    gates[2].callback(None)
    assert [r["id"] for r in peer.responses()] == list(range(head + 2, len(ops)))


@pytest.mark.backend_free("the protocol layer")
def test_flood_in_one_chunk_is_parsed_only_up_to_the_high_water_mark(market, gates):
    peer = market.peer()
    count = 3 * HIGH_WATER
    peer.feed(
        frame(request("SLOW", 0)) + b"".join(frame(request("PING", i)) for i in range(1, count + 1))
    )
    assert peer.transport.producerState == "paused"
    assert len(peer.protocol.connection._queue) == HIGH_WATER  # the rest stays unparsed
    gates[0].callback(None)
    assert [r["id"] for r in peer.responses()] == list(range(count + 1))
    assert peer.transport.producerState == "producing"


@pytest.mark.backend_free("the protocol layer")
def test_nothing_is_read_while_the_client_does_not_read(market):
    peer = market.peer()
    # The transport tells its producer that its write buffer is full.
    peer.transport.producer.pauseProducing()
    assert peer.transport.producerState == "paused"
    peer.feed(frame(request("PING", 1)) + frame(request("PING", 2)))
    assert peer.responses() == []
    peer.transport.producer.resumeProducing()
    assert peer.transport.producerState == "producing"
    assert [r["id"] for r in peer.responses()] == [1, 2]


@pytest.mark.backend_free("the protocol layer")
def test_reading_stays_paused_while_the_client_does_not_read(market, gates):
    peer = market.peer()
    peer.feed(
        frame(request("SLOW", 0))
        + b"".join(frame(request("PING", i)) for i in range(1, HIGH_WATER + 1))
    )
    assert peer.transport.producerState == "paused"
    peer.transport.producer.pauseProducing()
    gates[0].callback(None)
    # Only the request in flight is answered while the client does not read
    # (tests/test_limits.py); the queue stays full, and reading paused.
    assert [r["id"] for r in peer.responses()] == [0]
    assert peer.transport.producerState == "paused"
    peer.transport.producer.resumeProducing()
    assert len(peer.responses()) == HIGH_WATER
    assert peer.transport.producerState == "producing"


# --- responses ----------------------------------------------------------------


@pytest.mark.backend_free("the protocol layer")
def test_response_shape(market):
    assert call(market.peer(), "PING", 50) == pong(50)


@pytest.mark.parametrize("op", ["CLIENT_LOGOUT", "CLIENT_ADD_ITEM"])
def test_no_data_for_client_ops_that_return_nothing(market, op):
    shop = market.merchant("shop")
    product = shop.ok("MERCHANT_ADD_PRODUCT", productname="pen", price="2", description="", stock=5)
    peer = market.peer()
    assert call(
        peer, "CLIENT_CREATE", 1, username="ann", email="ann@example.com", password="secret-pass"
    ) == {
        "id": 1,
        "status": 201,
        "message": "created",
    }
    args = {
        "CLIENT_LOGIN": {"login": "ann", "password": "secret-pass"},
        "CLIENT_LOGOUT": {},
        "CLIENT_ADD_ITEM": {"product_id": product["product_id"], "quantity": 1},
    }
    if op != "CLIENT_LOGIN":
        call(peer, "CLIENT_LOGIN", 2, **args["CLIENT_LOGIN"])
    response = call(peer, op, 3, **args[op])
    assert response == {"id": 3, "status": 200, "message": "ok"}


def test_no_data_for_merchant_logout(market):
    peer = market.merchant("shop")
    assert call(peer, "MERCHANT_LOGOUT", 1) == {"id": 1, "status": 200, "message": "ok"}


def test_data_present_when_the_op_returns_some(market):
    peer = market.merchant("shop")
    empty = call(market.peer(), "LIST_PRODUCT", 1, storename="shop")
    assert empty["data"] == {
        "columns": [
            "product_id",
            "storename",
            "productname",
            "description",
            "price",
            "stock",
            "photo",
        ],
        "rows": [],
        "next": None,
    }
    code = call(peer, "MERCHANT_CREATE_INVITATION", 2)["data"]
    assert type(code) is str and code
    assert call(peer, "MERCHANT_GET_SALES", 3)["data"]["rows"] == []


def test_money_travels_as_two_decimal_strings(market):
    shop = market.merchant("shop")
    assert_money(shop.ok("MERCHANT_GET_PROFIT"), "0.00")
    ids = [
        shop.ok("MERCHANT_ADD_PRODUCT", productname=name, price=price, description="", stock=10)[
            "product_id"
        ]
        for name, price in [("whole", 19), ("tenths", "19.9"), ("cent", "0.01")]
    ]
    listing = shop.ok("LIST_PRODUCT", storename="shop")
    prices = [row[listing["columns"].index("price")] for row in listing["rows"]]
    for value, expected in zip(prices, ["19.00", "19.90", "0.01"], strict=True):
        assert_money(value, expected)
    mine = shop.ok("MERCHANT_LIST_PRODUCTS")
    for row, expected in zip(mine["rows"], ["19.00", "19.90", "0.01"], strict=True):
        assert_money(row[mine["columns"].index("price")], expected)

    ann = market.client("ann")
    ann.ok("CLIENT_ADD_ITEM", product_id=ids[0], quantity=1)
    ann.ok("CLIENT_ADD_ITEM", product_id=ids[1], quantity=2)
    assert_money(ann.ok("CLIENT_GET_PRICE"), "58.80")
    items = ann.ok("CLIENT_GET_ITEMS")
    for row, expected in zip(items["rows"], ["19.00", "19.90"], strict=True):
        assert_money(row[items["columns"].index("price")], expected)
    order = ann.ok("CLIENT_CHECKOUT_ITEM")
    assert_money(order["total"], "58.80")
    orders = ann.ok("CLIENT_LIST_ORDERS")
    assert_money(orders["rows"][0][orders["columns"].index("total")], "58.80")
    lines = ann.ok("CLIENT_GET_ORDER", order_id=order["order_id"])
    for row, expected in zip(lines["rows"], ["19.00", "19.90"], strict=True):
        assert_money(row[lines["columns"].index("price")], expected)
    assert_money(ann.ok("CLIENT_GET_PRICE"), "0.00")

    assert_money(shop.ok("MERCHANT_GET_PROFIT"), "58.80")
    sales = shop.ok("MERCHANT_GET_SALES")
    revenue = sorted(row[sales["columns"].index("revenue")] for row in sales["rows"])
    assert revenue == ["19.00", "39.80"]
    for value in revenue:
        assert MONEY.fullmatch(value)


def test_encoded_decimal_is_a_money_string():
    body = protocol.encode(
        {"id": 1, "status": 200, "message": "ok", "data": [Decimal("5"), {"x": Decimal("0.1")}]}
    )
    assert msgpack.unpackb(body)["data"] == ["5.00", {"x": "0.10"}]


@pytest.mark.backend_free("the protocol layer")
def test_an_unknown_op_is_named_short_and_escaped(market):
    response = call(market.peer(), "\x1b[2J" + "O" * 60_000, 1)
    assert response["status"] == 400
    assert len(response["message"]) < 120
    assert response["message"].startswith("op: unknown op '\\x1b[2J")
    assert "\x1b" not in response["message"] and response["message"].endswith("...'")
    assert call(market.peer(), "NO_SUCH_OP", 1)["message"] == "op: unknown op 'NO_SUCH_OP'"


@pytest.mark.backend_free("the protocol layer")
def test_an_unknown_argument_is_named_short_and_escaped(market):
    """The name of an unknown argument is the client's text: repeated raw,
    a 60,000-character name with terminal escapes came back whole."""
    response = call(market.peer(), "PING", 1, **{"\x1b[2J" + "k" * 60_000: 1})
    assert response["status"] == 400
    assert len(response["message"]) < 120
    assert "\x1b" not in response["message"] and response["message"].startswith("\\x1b[2J")
    assert_bad(call(market.peer(), "PING", 1, extra=1), "extra")
