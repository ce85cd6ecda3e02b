"""Errors a program can read (wire contract 1.2, "Errors a program can
read"): every answer with status 400 or more carries `error` with a `code`
of the contract's table and the code's extra keys.  Each code is played
here by a real request, in process (on SQLite or PostgreSQL, as the run
says), and over TCP and WebSocket against a real server (in the SQLite run
only: the transports carry the same answers whatever the backend); every
in-process answer of the suite is also checked by tests/harness.py's
check_error, against the codes its op declares."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import msgpack
import pytest

from cybermarket import errors
from cybermarket.errors import CODES
from cybermarket.ops import OPS
from cybermarket.server.optable import SERVED
from tests.harness import check_error
from tests.live import PASSWORD, running
from tests.seed import MAX_PRICE, ORDER_YACHTS
from tests.server import Server
from tests.shop import add_product, fill_cart, store_args
from tests.wire import Client, frame, request
from tests.wsclient import Closed, WSClient

# The codes of the contract's table, with the extra keys each adds.
CONTRACT = {
    "malformed": (400, ()),
    "invalid_argument": (400, ("field",)),
    "already_logged_in": (400, ()),
    "empty_cart": (400, ()),
    "not_logged_in": (401, ()),
    "bad_credentials": (401, ()),
    "not_yours": (403, ()),
    "wrong_password": (403, ()),
    "not_found": (404, ("what",)),
    "bad_invitation": (406, ()),
    "name_taken": (409, ("field",)),
    "short_of_stock": (409, ("products",)),
    "total_changed": (409, ("total",)),
    "too_large": (409, ()),
    "not_placed": (409, ("status",)),
    "frame_too_large": (413, ()),
    "throttled": (429, ("retry_after",)),
    "internal": (500, ()),
    "unavailable": (503, ()),
}
# The codes played below, each by a real request: every code of the table
# (test_every_code_of_the_table_is_played holds them together).
PLAYED: set[str] = set()


def error_of(response: dict, status: int, code: str) -> dict:
    """The answer's `error`, insisting on its status and code."""
    assert response["status"] == status, response
    assert response["error"]["code"] == code, response
    assert isinstance(response["message"], str) and response["message"]
    PLAYED.add(code)
    return response["error"]


def answer(peer, body: bytes) -> dict:
    peer.feed(frame(body))
    (response,) = peer.responses()
    return response


def test_the_table_is_the_contracts():
    assert {name: (code.status, code.keys) for name, code in CODES.items()} == CONTRACT
    for op in OPS.values():
        assert op.codes == tuple(dict.fromkeys(op.codes)), f"{op.name} declares a code twice"
        assert set(op.codes) <= set(CODES.values())


def test_the_served_ops_check_the_declared_codes():
    for name, served in SERVED.items():
        assert served.codes == frozenset(OPS[name].codes)


# --- each code, by a real request -----------------------------------------------------


def test_malformed(market):
    peer = market.peer()
    for body in (
        b"\xc1",  # not MessagePack
        msgpack.packb([1, "PING"]),  # not a map
        msgpack.packb({"op": "PING"}),  # no id
        msgpack.packb({"id": 1, "op": 7}),
        msgpack.packb({"id": 2, "op": "NO_SUCH_OP"}),
        msgpack.packb({"id": 3, "op": "PING", "args": [1]}),
    ):
        assert error_of(answer(peer, body), 400, "malformed") == {"code": "malformed"}
    assert answer(peer, request("PING", 4))["status"] == 200


@pytest.mark.parametrize(
    "op, args, field",
    [
        ("LIST_PRODUCT", {"storename": "x", "extra": 1}, "extra"),
        ("LIST_PRODUCT", {}, "storename"),
        ("LIST_MERCHANT", {"limit": 0}, "limit"),
        ("SEARCH_PRODUCT", {"query": "lamp", "after": "not a cursor"}, "after"),
        ("CLIENT_CREATE", {"username": "a@b", "email": "a@b.c", "password": PASSWORD}, "username"),
        ("SET_LANGUAGE", {"language": "-"}, "language"),
    ],
)
def test_invalid_argument_names_the_field(market, op, args, field):
    response = market.peer().call(op, **args)
    assert error_of(response, 400, "invalid_argument") == {
        "code": "invalid_argument",
        "field": field,
    }


def test_invalid_argument_of_the_handlers(shop):
    lamp = add_product(shop, "lamp", stock=999_999_999)
    response = shop.call("MERCHANT_RESTOCK_PRODUCT", product_id=lamp, quantity=2)
    assert error_of(response, 400, "invalid_argument")["field"] == "quantity"
    response = shop.call("SET_PRODUCT", product_id=lamp)
    assert error_of(response, 400, "invalid_argument")["field"] == "productname"


def test_already_logged_in(market, alice):
    response = alice.call("CLIENT_LOGIN", login="alice", password="client-pass")
    assert error_of(response, 400, "already_logged_in") == {"code": "already_logged_in"}
    response = alice.call("RESUME", token="x" * 40)
    assert error_of(response, 400, "already_logged_in") == {"code": "already_logged_in"}


def test_empty_cart(alice):
    response = alice.call("CLIENT_CHECKOUT_ITEM")
    assert error_of(response, 400, "empty_cart") == {"code": "empty_cart"}


def test_not_logged_in(market, shop):
    response = market.peer().call("CLIENT_GET_ITEMS")
    assert error_of(response, 401, "not_logged_in") == {"code": "not_logged_in"}
    response = shop.call("CLIENT_GET_ITEMS")  # a merchant is not a client
    error_of(response, 401, "not_logged_in")
    response = market.peer().call("GET_ACCOUNT")
    error_of(response, 401, "not_logged_in")


def test_bad_credentials(market):
    market.client("bob")
    peer = market.peer()
    for login in ("bob", "nobody"):
        response = peer.call("CLIENT_LOGIN", login=login, password="wrong password")
        assert error_of(response, 401, "bad_credentials") == {"code": "bad_credentials"}
    response = peer.call("RESUME", token="y" * 40)
    assert error_of(response, 401, "bad_credentials") == {"code": "bad_credentials"}


def test_not_yours_and_wrong_password(market, shop):
    lamp = add_product(shop, "lamp")
    other = market.merchant("other")
    for op, args in [
        ("MERCHANT_DEL_PRODUCT", {}),
        ("MERCHANT_PUT_ON_SHELF", {}),
        ("MERCHANT_RESTOCK_PRODUCT", {"quantity": 1}),
        ("SET_PRODUCT", {"price": "1.00"}),
    ]:
        response = other.call(op, product_id=lamp, **args)
        assert error_of(response, 403, "not_yours") == {"code": "not_yours"}
    response = shop.call(
        "SET_MERCHANT_PASSWORD", old_password="not it at all", new_password="x" * 9
    )
    assert error_of(response, 403, "wrong_password") == {"code": "wrong_password"}


def test_not_found_says_what(market, shop, alice):
    lamp = add_product(shop, "lamp")
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=lamp)
    cases = [
        (market.peer(), "LIST_PRODUCT", {"storename": "nowhere"}, "store"),
        (market.peer(), "SEARCH_PRODUCT", {"query": "lamp", "storename": "nowhere"}, "store"),
        (alice, "CLIENT_ADD_ITEM", {"product_id": 999_999, "quantity": 1}, "product"),
        (alice, "CLIENT_ADD_ITEM", {"product_id": lamp, "quantity": 1}, "product"),  # off the shelf
        (alice, "CLIENT_REMOVE_ITEM", {"product_id": lamp}, "cart_line"),
        (alice, "CLIENT_GET_ORDER", {"order_id": 999_999}, "order"),
        (shop, "MERCHANT_DEL_PRODUCT", {"product_id": 999_999}, "product"),
        (shop, "SET_PRODUCT", {"product_id": 999_999, "price": "1.00"}, "product"),
    ]
    for peer, op, args, what in cases:
        response = peer.call(op, **args)
        assert error_of(response, 404, "not_found") == {"code": "not_found", "what": what}, op


def test_bad_invitation(market):
    response = market.peer().call("MERCHANT_CREATE", **store_args("newstore", PASSWORD, "nope"))
    assert error_of(response, 406, "bad_invitation") == {"code": "bad_invitation"}


def test_name_taken_names_the_field(market, alice, shop):
    peer = market.peer()
    create = {"password": PASSWORD}
    response = peer.call("CLIENT_CREATE", username="ALICE", email="new@example.com", **create)
    assert error_of(response, 409, "name_taken") == {"code": "name_taken", "field": "username"}
    response = peer.call("CLIENT_CREATE", username="carol", email="Alice@example.com", **create)
    assert error_of(response, 409, "name_taken")["field"] == "email"
    market.client("dave")
    response = alice.call("SET_CLIENT_USERNAME", username="dave")
    assert error_of(response, 409, "name_taken")["field"] == "username"
    response = alice.call("SET_CLIENT_EMAIL", email="dave@example.com")
    assert error_of(response, 409, "name_taken")["field"] == "email"
    response = peer.call("MERCHANT_CREATE", **store_args("Shop", PASSWORD, market.invite()))
    assert error_of(response, 409, "name_taken")["field"] == "storename"
    market.merchant("other")
    response = shop.call("SET_MERCHANT_STORENAME", storename="other")
    assert error_of(response, 409, "name_taken")["field"] == "storename"


def test_short_of_stock_gives_the_stock_on_hand_now(market, shop, alice):
    lamp = add_product(shop, "lamp", stock=5)
    rug = add_product(shop, "rug", stock=3)
    vase = add_product(shop, "vase", stock=9)
    fill_cart(alice, (lamp, 4), (rug, 2), (vase, 1))
    bob = market.client("bob")
    fill_cart(bob, (lamp, 3))
    bob.ok("CLIENT_CHECKOUT_ITEM")  # 2 lamps left
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=rug)  # off the shelf, stock kept
    response = alice.call("CLIENT_CHECKOUT_ITEM")
    error = error_of(response, 409, "short_of_stock")
    assert error == {
        "code": "short_of_stock",
        "products": [
            {"product_id": lamp, "stock": 2, "on_shelf": True},
            {"product_id": rug, "stock": 3, "on_shelf": False},
        ],
    }
    # Nothing was taken: the vase's stock is whole.
    stocks = {row[0]: row[4] for row in shop.ok("MERCHANT_LIST_PRODUCTS")["rows"]}
    assert stocks == {lamp: 2, rug: 3, vase: 9}


def test_too_large(shop, alice):
    yacht = add_product(shop, "yacht", MAX_PRICE, stock=1_000_000_000)
    for _ in range(ORDER_YACHTS // 1_000_000 + 1):  # past 10^17 cents
        alice.ok("CLIENT_ADD_ITEM", product_id=yacht, quantity=1_000_000)
    response = alice.call("CLIENT_CHECKOUT_ITEM")
    assert error_of(response, 409, "too_large") == {"code": "too_large"}


@pytest.mark.backend_free("the network layer")
def test_frame_too_large(make_market):
    peer = make_market(max_frame=100).peer()
    peer.feed(struct.pack(">I", 101) + b"x" * 101)
    (response,) = peer.responses()
    assert response["id"] is None
    assert error_of(response, 413, "frame_too_large") == {"code": "frame_too_large"}
    assert peer.closed


def test_throttled_says_when_to_retry(make_market):
    market = make_market(login_failures=2, login_window=90.0)
    market.client("bob")
    peer = market.peer()
    for _ in range(2):
        assert peer.call("CLIENT_LOGIN", login="bob", password="wrong password")["status"] == 401
    response = peer.call("CLIENT_LOGIN", login="bob", password="wrong password")
    error = error_of(response, 429, "throttled")
    assert set(error) == {"code", "retry_after"}
    assert type(error["retry_after"]) is int and 1 <= error["retry_after"] <= 90
    market.clock.advance(89.5)  # half a second left: rounded up, never 0
    response = peer.call("CLIENT_LOGIN", login="bob", password="wrong password")
    assert error_of(response, 429, "throttled")["retry_after"] == 1


def test_internal(market, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("exploded at /var/lib/secret")

    monkeypatch.setitem(SERVED, "LIST_MERCHANT", SERVED["LIST_MERCHANT"].with_function(broken))
    response = market.peer().call("LIST_MERCHANT")
    assert error_of(response, 500, "internal") == {"code": "internal"}


def test_unavailable(market):
    from tests.harness import held_hasher

    held_hasher(market, queue=1)
    waiting = market.peer()
    waiting.feed(frame(request("CLIENT_CREATE", 1, **creation(0))))
    queued = market.peer("10.0.0.2")
    queued.feed(frame(request("CLIENT_CREATE", 1, **creation(1))))
    refused = market.peer("10.0.0.3")
    response = refused.call("CLIENT_CREATE", **creation(2))
    assert error_of(response, 503, "unavailable") == {"code": "unavailable"}
    market.factory.stopping = True
    response = market.peer().call("PING")
    assert error_of(response, 503, "unavailable") == {"code": "unavailable"}


def test_total_changed_gives_the_total_now(shop, alice):
    lamp = add_product(shop, "lamp", "2.50", stock=5)
    fill_cart(alice, (lamp, 2))
    shop.ok("SET_PRODUCT", product_id=lamp, price="3.00")
    response = alice.call("CLIENT_CHECKOUT_ITEM", expected_total="5.00")
    assert error_of(response, 409, "total_changed") == {"code": "total_changed", "total": "6.00"}
    assert "6.00" in response["message"]
    # Nothing changed: the cart is whole and the stock untouched.
    assert len(alice.ok("CLIENT_GET_ITEMS")["rows"]) == 1


def test_not_placed_gives_the_status_now(shop, alice):
    lamp = add_product(shop, "lamp", stock=5)
    fill_cart(alice, (lamp, 1))
    order_id = alice.ok("CLIENT_CHECKOUT_ITEM")["order_id"]
    shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id)
    response = shop.call("MERCHANT_SHIP_ORDER", order_id=order_id)
    assert error_of(response, 409, "not_placed") == {"code": "not_placed", "status": "shipped"}
    response = alice.call("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert error_of(response, 409, "not_placed") == {"code": "not_placed", "status": "shipped"}


def creation(i: int) -> dict:
    return {"username": f"user{i}", "email": f"user{i}@example.com", "password": PASSWORD}


def test_every_code_of_the_table_is_played():
    """Last of the in-process tests of this file (pytest keeps their
    order): each code but the later ones was answered above."""
    if len(PLAYED) < 5:
        pytest.skip("run with the tests above it")
    assert PLAYED == set(CODES)


# --- messages in other languages ---------------------------------------------------------


def test_messages_in_russian_carry_the_same_codes(market, shop):
    lamp = add_product(shop, "lamp")
    english, russian = market.client("bob"), market.client("dan")
    market.client("eve")
    russian.ok("SET_LANGUAGE", language="ru")
    for op, args in [
        ("LIST_PRODUCT", {"storename": "nowhere"}),
        ("LIST_PRODUCT", {"storename": "x", "extra": 1}),
        ("CLIENT_LOGIN", {"login": "bob", "password": "x" * 9}),
        ("CLIENT_CHECKOUT_ITEM", {}),
        ("CLIENT_REMOVE_ITEM", {"product_id": lamp}),
        ("MERCHANT_GET_PROFIT", {}),
        ("SET_CLIENT_USERNAME", {"username": "eve"}),
        ("NO_SUCH_OP", {}),
    ]:
        a, b = english.call(op, **args), russian.call(op, **args)
        assert a["status"] == b["status"] >= 400, (op, a, b)
        assert a["error"] == b["error"], (op, a, b)
        assert a["message"] != b["message"], (op, a, b)


# --- over TCP and WebSocket, against a real server ----------------------------------------


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory) -> Iterator[Server]:
    with running(databases, tmp_path_factory, "--max-frame=4096") as s:
        yield s


def bad_requests(invitation: str) -> list[dict]:
    """A varied stream of requests, most of them refused: bodies as maps
    (sent as MessagePack on TCP, as JSON text on WebSocket)."""
    return [
        {"id": 1, "op": "PING"},
        {"id": 2, "op": "NO_SUCH_OP"},
        {"id": 3},
        {"id": -1, "op": "PING"},
        {"id": 4, "op": "PING", "args": "x"},
        {"id": 5, "op": "LIST_PRODUCT", "args": {"storename": "nowhere"}},
        {"id": 6, "op": "LIST_PRODUCT", "args": {"storename": ""}},
        {"id": 7, "op": "CLIENT_GET_ITEMS"},
        {"id": 8, "op": "CLIENT_LOGIN", "args": {"login": "nobody", "password": "x" * 9}},
        {"id": 9, "op": "RESUME", "args": {"token": "z" * 40}},
        {"id": 10, "op": "MERCHANT_CREATE", "args": store_args("s", PASSWORD, "bad code")},
        {"id": 11, "op": "MERCHANT_CREATE", "args": store_args("codes", PASSWORD, invitation)},
        {"id": 12, "op": "MERCHANT_LOGIN", "args": {"login": "codes", "password": PASSWORD}},
        {"id": 13, "op": "MERCHANT_DEL_PRODUCT", "args": {"product_id": 999_999}},
        {"id": 14, "op": "MERCHANT_ADD_PRODUCT", "args": {"productname": "x", "price": "0"}},
        {"id": 15, "op": "MERCHANT_LOGIN", "args": {"login": "codes", "password": PASSWORD}},
        {"id": 16, "op": "SET_MERCHANT_PASSWORD", "args": {"old_password": "x" * 9}},
        {
            "id": 17,
            "op": "SET_MERCHANT_PASSWORD",
            "args": {"old_password": "x" * 9, "new_password": "y" * 9},
        },
        {"id": 18, "op": "SEARCH_PRODUCT", "args": {"query": "!!"}},
        {"id": 19, "op": "SET_LANGUAGE", "args": {"language": "zh"}},
        {"id": 20, "op": "MERCHANT_RESTOCK_PRODUCT", "args": {"product_id": 1, "quantity": 0}},
        {"id": 21, "op": "CLIENT_CHECKOUT_ITEM"},
    ]


def check_stream(responses: list[dict]) -> set[int]:
    """Every answer checked; the statuses seen."""
    for response in responses:
        check_error(response)
    return {response["status"] for response in responses}


@pytest.mark.backend_free("the transports, carrying the codes played above")
def test_every_error_over_tcp_carries_its_code(server):
    with Client(server.port) as client:
        for body in bad_requests(server.invite()):
            client.send_raw(frame(msgpack.packb(body)))
        client.send_raw(frame(b"\xc1"))
        responses = [client.receive() for _ in range(len(bad_requests("")) + 1)]
        statuses = check_stream(responses)
        assert {400, 401, 403, 404, 406} <= statuses
        client.send_raw(struct.pack(">I", 5000) + b"x" * 5000)
        response = client.receive()
        check_error(response)
        assert response["error"] == {"code": "frame_too_large"}


@pytest.mark.backend_free("the transports, carrying the codes played above")
def test_every_error_over_websocket_json_carries_its_code(server):
    with WSClient(server.web_port) as ws:
        for body in bad_requests(server.invite()):
            ws.send_text(json.dumps(body))
        ws.send_text("not JSON")
        ws.send_text("[1, 2]")
        ws.send_text('{"id": 30, "op": "MERCHANT_ADD_PRODUCT", "args": {"price": 19.99}}')
        responses = [ws.receive() for _ in range(len(bad_requests("")) + 3)]
        statuses = check_stream(responses)
        assert {400, 401, 403, 404, 406} <= statuses
        assert responses[-3]["id"] is None and responses[-3]["error"] == {"code": "malformed"}
        assert responses[-2]["id"] is None and responses[-2]["error"] == {"code": "malformed"}
        assert responses[-1]["error"]["code"] == "invalid_argument"
        ws.send_text(json.dumps({"id": 40, "op": "PING", "args": {"pad": "x" * 5000}}))
        response = ws.receive()
        check_error(response)
        assert response["error"] == {"code": "frame_too_large"}
        with pytest.raises(Closed):
            ws.receive()


@pytest.mark.backend_free("the transports, carrying the codes played above")
def test_a_client_of_protocol_1_1_keeps_working(server):
    """Nothing of 1.1 is removed or renamed: statuses, messages, ids."""
    with Client(server.port) as client:
        assert client.call("PING")["data"] == {"protocol": "1.3"}
        response = client.call("LIST_PRODUCT", storename="nowhere")
        assert set(response) == {"id", "status", "message", "error"}
        assert (response["status"], response["message"]) == (
            404,
            "storename: no store named 'nowhere'",
        )


def test_the_harness_check_refuses_an_answer_without_its_code():
    with pytest.raises(AssertionError):
        check_error({"id": 1, "status": 404, "message": "no"})
    with pytest.raises(AssertionError):
        check_error({"id": 1, "status": 404, "message": "no", "error": {"code": "not_found"}})
    with pytest.raises(AssertionError):
        check_error({"id": 1, "status": 409, "message": "no", "error": {"code": "not_found"}})
    with pytest.raises(AssertionError, match="does not declare"):
        check_error({"id": 1, "status": 409, "message": "", "error": {"code": "too_large"}}, "PING")
    check_error(
        {"id": 1, "status": 404, "message": "", "error": {"code": "not_found", "what": "x"}}
    )
    assert errors.What.CART_LINE == "cart_line"


# --- a race lost for a name or an email ------------------------------------------------


@pytest.mark.parametrize("field", ["username", "email"])
def test_a_race_lost_names_the_field_the_winner_took(market, monkeypatch, field):
    """Two connections create accounts at once: both pass check_free, the
    loser's insert breaks a unique key.  Its 409 names the field the winner
    took, as check_free would have (played by skipping the checks before
    the insert: the one before hashing and the one in its transaction)."""
    from cybermarket.server.handlers import accounts

    market.client("winner")
    real, calls = accounts.check_free, []

    def late(*args, **kwargs):
        calls.append(args)
        if len(calls) > 2:  # the check after the broken insert
            real(*args, **kwargs)

    monkeypatch.setattr(accounts, "check_free", late)
    taken = {"username": "winner", "email": "loser@example.com"}
    if field == "email":
        taken = {"username": "loser", "email": "winner@example.com"}
    response = market.peer().call("CLIENT_CREATE", password=PASSWORD, **taken)
    assert error_of(response, 409, "name_taken") == {"code": "name_taken", "field": field}
    assert len(calls) == 3
