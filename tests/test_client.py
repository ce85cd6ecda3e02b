"""The client library: cybermarket.client (blocking) against the real
`twistd -n cybermarket` process, and cybermarket.client.twisted_client both over a
StringTransport (frames fed by hand) and, in a child process, against the
real server.

Every server (conftest's launch and shared_live) and fake server started
here is stopped by a fixture, whatever the test's outcome; every wait has a
deadline.
"""

import dataclasses
import datetime
import json
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import msgpack
import pandas as pd
import pytest
from twisted.internet import defer, task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from cybermarket.client.blocking import (
    CODE_ERRORS,
    ERRORS,
    BadCredentials,
    BadInvitation,
    BadRequest,
    Client,
    ClientError,
    Conflict,
    Forbidden,
    NameTaken,
    NotFound,
    NotLoggedIn,
    NotPlaced,
    ProtocolError,
    Response,
    ShortOfStock,
    Throttled,
    TooLarge,
    TotalChanged,
    error_for,
    money,
)
from cybermarket.client.twisted_client import MarketClientProtocol
from cybermarket.errors import CODES
from tests.live import FAST, PASSWORD, unique
from tests.seed import seed_customers, seed_stores
from tests.server import HOST, Server, TLSServer, child_env, self_signed

SUBPROCESS_TIMEOUT = 120


class LiveMarket:
    """A running server and the clients a test opened to it."""

    def __init__(self, server):
        self.server = server
        self.clients = []

    def connect(self, **options):
        client = Client(HOST, self.server.port, **options)
        self.clients.append(client)
        return client

    def close(self):
        for client in self.clients:
            client.close()

    def merchant(self, storename):
        """A new store, logged in on a new connection.  The store is written
        into the database (tests/seed.py): signing up is tested over the
        wire elsewhere, and costs two full password hashes."""
        seed_stores(self.server.database_url, [storename], PASSWORD)
        conn = self.connect()
        conn.call("MERCHANT_LOGIN", check=True, login=storename, password=PASSWORD)
        return conn

    def customer(self, username):
        """A new customer account (written into the database, as a store
        is), logged in on a new connection."""
        seed_customers(self.server.database_url, [username], PASSWORD)
        conn = self.connect()
        conn.call("CLIENT_LOGIN", check=True, login=username, password=PASSWORD)
        return conn


@pytest.fixture
def start(launch, database_url):
    """start(*options, server_class=Server) -> LiveMarket: a server process
    of its own on a free loopback port (conftest's launch), stopped at the
    end of the test."""
    markets = []

    def start_server(*options, server_class=Server, **kwargs):
        market = LiveMarket(
            launch(database_url, *options, server_class=server_class, **kwargs).server
        )
        markets.append(market)
        return market

    yield start_server
    for market in markets:
        market.close()


@pytest.fixture
def shared_market(shared_live):
    """A LiveMarket on the session's shared server (conftest's shared_live:
    names of the test's own, no claim about the whole market)."""
    market = LiveMarket(shared_live.server)
    yield market
    market.close()


def add_products(shop, count, price="1.25"):
    return [
        shop.call(
            "MERCHANT_ADD_PRODUCT",
            check=True,
            productname=f"item{i}",
            price=price,
            description="",
            stock=100,
        ).data["product_id"]
        for i in range(count)
    ]


# --- call(), Response and the typed errors -----------------------------------------


@pytest.mark.backend_free("the client library")
def test_call_returns_a_response(start):
    market = start()
    conn = market.connect()
    ping = conn.call("PING")
    assert ping == Response(id=ping.id, status=200, message="ok", data={"protocol": "1.3"})
    assert ping.ok and ping.frame is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        ping.status = 500

    unknown = conn.call("NO_SUCH_OP")
    assert (unknown.id, unknown.status, unknown.ok) == (ping.id + 1, 400, False)
    assert unknown.message.startswith("op:")
    # An error status is only a response without check=True, and the
    # connection carries on.
    assert conn.call("PING", check=True).id == ping.id + 2

    listing = conn.call("LIST_MERCHANT")
    assert listing.ok and listing.data["rows"] == [] and listing.data["next"] is None
    assert list(listing.frame.columns) == ["storename", "description", "email"]
    assert listing.frame.empty


def test_get_account_answers_the_account_as_stored(shared_market):
    market = shared_market
    store = unique("Corner")
    shop = market.merchant(store)
    by_email = market.connect()
    by_email.call(
        "MERCHANT_LOGIN", check=True, login=f"{store.upper()}@EXAMPLE.COM", password=PASSWORD
    )
    expected = {
        "role": "merchant",
        "name": store,
        "email": f"{store}@example.com",
        "description": f"the {store} store",
    }
    assert by_email.get_account() == shop.get_account() == expected
    with pytest.raises(NotLoggedIn):
        market.connect().get_account()


def test_the_order_methods_of_protocol_1_2(shared_market):
    market = shared_market
    store = unique("Orders")
    shop = market.merchant(store)
    (apple,) = add_products(shop, 1, price="1.25")
    alice = market.customer(unique("alice"))
    alice.call("CLIENT_ADD_ITEM", check=True, product_id=apple, quantity=2)
    with pytest.raises(TotalChanged) as changed:
        alice.checkout(expected_total="2.00")
    assert changed.value.total == "2.50"
    first = alice.checkout(expected_total=Decimal("2.50"), address="1 Long Road")
    assert first["total"] == Decimal("2.50")
    alice.call("CLIENT_ADD_ITEM", check=True, product_id=apple, quantity=1)
    second = alice.checkout()
    assert [o["order_id"] for o in shop.list_store_orders(status="placed", limit=1)] == [
        second["order_id"],
        first["order_id"],
    ]
    assert shop.get_store_order(first["order_id"]) == [
        {"product_id": apple, "productname": "item0", "price": Decimal("1.25"), "quantity": 2}
    ]
    assert shop.ship_order(first["order_id"], note="DHL 1234") is None
    with pytest.raises(NotPlaced) as shipped_already:
        shop.ship_order(first["order_id"])
    assert shipped_already.value.order_status == "shipped"
    (shipped,) = shop.list_store_orders(status="shipped")
    assert (shipped["address"], shipped["note"], shipped["total"]) == (
        "1 Long Road",
        "DHL 1234",
        Decimal("2.50"),
    )
    assert alice.cancel_order(second["order_id"]) == {
        "refunded": Decimal("1.25"),
        "cancelled": [store],
    }
    with pytest.raises(NotPlaced) as not_placed:
        alice.cancel_order(first["order_id"])
    assert not_placed.value.order_status == "shipped"
    with pytest.raises(NotFound):
        alice.cancel_order(second["order_id"] + 10**9)


def test_the_client_keeps_its_session_token_and_resumes_with_it(shared_market):
    market = shared_market
    alice = unique("alice")
    conn = market.customer(alice)
    token = conn.token
    assert isinstance(token, str) and len(token) >= 22
    conn.close()  # the connection is lost; the token is not

    again = market.connect()
    assert again.token is None
    with pytest.raises(ValueError):
        again.resume()
    assert again.resume(token) == {"role": "client", "name": alice}
    assert again.token == token
    assert again.call("CLIENT_GET_PRICE", check=True).data == "0.00"

    # A password change hands the connection a new token; the old one is
    # revoked, and a failed RESUME raises.
    changed = again.call(
        "SET_CLIENT_PASSWORD", check=True, old_password=PASSWORD, new_password="a new password"
    )
    assert again.token == changed.data["token"] != token
    with pytest.raises(NotLoggedIn):
        market.connect().resume(token)
    with market.connect() as third:
        assert third.resume(again.token)["name"] == alice
    # A logout forgets it; a login in a pipeline is kept too.
    again.call("CLIENT_LOGOUT", check=True)
    assert again.token is None
    with again.pipeline(check=True) as p:
        p.call("PING")
        p.call("CLIENT_LOGIN", login=alice, password="a new password")
    assert again.token == p.responses[1].data["token"]
    # A failed op leaves the token as it was.
    kept = again.token
    assert again.call("CLIENT_LOGIN", login=alice, password="wrong!").status == 400
    assert again.token == kept


@pytest.mark.backend_free("the client library")
def test_check_raises_one_exception_class_per_status(shared_market):
    market = shared_market
    north = market.merchant(unique("north"))
    south = market.merchant(unique("south"))
    (lamp,) = add_products(north, 1)
    visitor = market.connect()
    taken = unique("taken")
    market.customer(taken)

    cases = [
        (BadRequest, 400, visitor, "LIST_PRODUCT", {"storename": "x", "extra": 1}),
        (NotLoggedIn, 401, visitor, "CLIENT_GET_ITEMS", {}),
        (NotLoggedIn, 401, visitor, "CLIENT_LOGIN", {"login": taken, "password": "wrong pw"}),
        (Forbidden, 403, south, "MERCHANT_DEL_PRODUCT", {"product_id": lamp}),
        (NotFound, 404, visitor, "LIST_PRODUCT", {"storename": "nowhere"}),
        (
            BadInvitation,
            406,
            visitor,
            "MERCHANT_CREATE",
            {
                "storename": "late",
                "description": "",
                "email": "late@example.com",
                "password": PASSWORD,
                "inviter": None,
                "code": "not-a-code",
            },
        ),
        (
            Conflict,
            409,
            visitor,
            "CLIENT_CREATE",
            {
                "username": taken,
                "email": f"other-{taken}@example.com",
                "password": PASSWORD,
            },
        ),
    ]
    for error, status, conn, op, args in cases:
        unchecked = conn.call(op, **args)
        assert unchecked.status == status, (op, unchecked)
        with pytest.raises(error) as caught:
            conn.call(op, check=True, **args)
        raised = caught.value
        assert isinstance(raised, ClientError)
        assert raised.status == status == raised.response.status
        assert raised.message == raised.response.message == unchecked.message
        assert raised.response.id == unchecked.id + 1
        with pytest.raises(error):
            unchecked.raise_for_status()
        # A failed call never breaks the connection.
        assert conn.call("PING", check=True).ok


# Example extra keys for each code that has some.
EXTRA = {
    "field": "username",
    "what": "store",
    "products": [{"product_id": 3, "stock": 1, "on_shelf": True}],
    "total": "12.50",
    "status": "shipped",
    "retry_after": 7,
}


def test_one_exception_class_per_code_with_its_extra_keys():
    assert set(CODE_ERRORS) == set(CODES)
    for name, code in CODES.items():
        error = {"code": name, **{key: EXTRA[key] for key in code.keys}}
        raised = error_for(Response(5, code.status, "a message", None, error))
        cls = CODE_ERRORS[name]
        assert type(raised) is cls and raised.status == code.status, name
        assert isinstance(raised, ERRORS.get(code.status, ClientError)), name
        assert (raised.code, raised.error, raised.message) == (name, error, "a message")
        for key, attribute in cls.keys.items():
            assert getattr(raised, attribute) == EXTRA[key], name
    assert {key for cls in CODE_ERRORS.values() for key in cls.keys} == set(EXTRA)
    # The order's status does not hide the answer's.
    raised = error_for(Response(5, 409, "m", None, {"code": "not_placed", "status": "cancelled"}))
    assert isinstance(raised, NotPlaced) and (raised.status, raised.order_status) == (
        409,
        "cancelled",
    )


@pytest.mark.parametrize(
    "error",
    [
        None,
        {"code": "a_code_of_a_later_version"},
        {"code": "not_found"},
        {"what": "x"},
        {"code": 7},
    ],
    ids=["protocol-1.1", "unknown-code", "code-of-another-status", "no-code", "code-not-a-string"],
)
def test_an_answer_without_a_known_code_raises_its_status_class(error):
    raised = error_for(Response(5, 409, "username: already taken", None, error))
    assert type(raised) is Conflict and raised.status == 409
    assert raised.error == (error or {})
    code = (error or {}).get("code")
    assert raised.code == (code if isinstance(code, str) else None)


@pytest.mark.backend_free("the client library")
def test_check_raises_the_code_s_class_with_its_keys(shared_market):
    market = shared_market
    shop = market.merchant(unique("codes"))
    (lamp,) = add_products(shop, 1)
    taken = unique("taken")
    market.customer(taken)
    visitor = market.connect()
    with pytest.raises(NameTaken) as caught:
        visitor.call(
            "CLIENT_CREATE", check=True, username=taken, email=f"o-{taken}@x.com", password=PASSWORD
        )
    assert (caught.value.code, caught.value.field, caught.value.status) == (
        "name_taken",
        "username",
        409,
    )
    with pytest.raises(BadCredentials) as caught:
        visitor.call("CLIENT_LOGIN", check=True, login=taken, password="wrong password")
    assert isinstance(caught.value, NotLoggedIn)
    with pytest.raises(NotFound) as caught:
        visitor.call("LIST_PRODUCT", check=True, storename="nowhere")
    assert caught.value.what == "store"
    buyer = market.customer(unique("buyer"))
    buyer.call("CLIENT_ADD_ITEM", check=True, product_id=lamp, quantity=101)
    with pytest.raises(ShortOfStock) as caught:
        buyer.call("CLIENT_CHECKOUT_ITEM", check=True)
    assert caught.value.products == [{"product_id": lamp, "stock": 100, "on_shelf": True}]


def test_throttled_and_too_large(start):
    market = start(*FAST, "--login-failures", "2", "--max-frame", "1024")
    market.customer("carol")
    conn = market.connect()
    for _ in range(2):
        with pytest.raises(NotLoggedIn):
            conn.call("CLIENT_LOGIN", check=True, login="carol", password="wrong password")
    with pytest.raises(Throttled) as caught:
        conn.call("CLIENT_LOGIN", check=True, login="carol", password=PASSWORD)
    assert caught.value.status == 429

    # A request over --max-frame: 413 with id nil, and the connection is gone.
    big = "x" * 2000
    with pytest.raises(TooLarge) as caught:
        conn.call("SET_MERCHANT_DESCRIPTION", check=True, description=big)
    assert (caught.value.status, caught.value.response.id) == (413, None)
    assert conn.closed
    with pytest.raises(ConnectionError):
        conn.call("PING")

    # In a pipeline the requests before it are answered; then the
    # connection breaks, and the answers read so far are kept.
    conn = market.connect()
    pipeline = conn.pipeline()
    with pytest.raises(ConnectionError), pipeline as p:
        p.call("PING")
        p.call("SET_MERCHANT_DESCRIPTION", description=big)
        p.call("PING")
    assert [(r.status, r.id is None) for r in pipeline.responses] == [(200, False), (413, True)]
    assert market.connect().call("PING").ok


# --- money, times and tables -----------------------------------------------------


def test_money():
    assert money("19.99") == Decimal("19.99")
    assert money("0.00") == Decimal("0.00")
    assert money(7) == Decimal(7)
    assert money(Decimal("1.5")) == Decimal("1.5")
    for bad in ("19.9", "1e3", "-1.00", " 1.00", "", 1.5, True, None):
        with pytest.raises(ValueError):
            money(bad)


def test_frame_has_decimal_money_and_utc_timestamps(shared_market):
    market = shared_market
    shop = market.merchant(unique("corner"))
    # A Decimal argument travels as a decimal string.
    lamp = shop.call(
        "MERCHANT_ADD_PRODUCT",
        check=True,
        productname="lamp",
        price=Decimal("19.99"),
        description="",
        stock=10,
    ).data["product_id"]
    (bulb,) = add_products(shop, 1, price="0.10")
    alice = market.customer(unique("alice"))
    alice.call("CLIENT_ADD_ITEM", check=True, product_id=lamp, quantity=2)
    alice.call("CLIENT_ADD_ITEM", check=True, product_id=bulb, quantity=3)

    items = alice.call("CLIENT_GET_ITEMS", check=True).frame
    assert list(items["price"]) == [Decimal("19.99"), Decimal("0.10")]
    assert all(type(p) is Decimal for p in items["price"])
    assert list(items["quantity"]) == [2, 3]
    price = alice.call("CLIENT_GET_PRICE", check=True)
    assert price.data == "40.28" and price.frame is None
    assert money(price.data) == Decimal("40.28")

    before = pd.Timestamp.now(tz="UTC").floor("s")
    checkout = alice.call("CLIENT_CHECKOUT_ITEM", check=True)
    assert checkout.data["total"] == "40.28" and checkout.frame is None

    orders = alice.call("CLIENT_LIST_ORDERS", check=True).frame
    assert list(orders.columns[:3]) == ["order_id", "created_at", "total"]
    assert list(orders["order_id"]) == [checkout.data["order_id"]]
    assert list(orders["total"]) == [Decimal("40.28")]
    (created,) = orders["created_at"]
    assert isinstance(created, pd.Timestamp)
    assert created.utcoffset() == datetime.timedelta(0)
    assert before <= created <= pd.Timestamp.now(tz="UTC")

    lines = alice.call("CLIENT_GET_ORDER", check=True, order_id=checkout.data["order_id"]).frame
    assert sum(lines["price"] * lines["quantity"]) == Decimal("40.28")
    sales = shop.call("MERCHANT_GET_SALES", check=True).frame
    assert list(sales["revenue"]) == [Decimal("39.98"), Decimal("0.30")]
    assert money(shop.call("MERCHANT_GET_PROFIT", check=True).data) == Decimal("40.28")


def requests_made(conn, action):
    """How many requests `action()` sent on `conn`, by the ids of a PING
    before and after; and its result."""
    first = conn.call("PING").id
    result = action()
    return conn.call("PING").id - first - 1, result


def test_table_follows_the_pages(start):
    market = start(*FAST)
    shop = market.merchant("corner")
    market.merchant("another")
    ids = add_products(shop, 5)
    visitor = market.connect()

    sent, frame = requests_made(
        visitor, lambda: visitor.table("LIST_PRODUCT", storename="corner", limit=2)
    )
    assert list(frame["product_id"]) == ids
    assert sent == 3  # pages of 2, 2 and 1
    assert list(frame["price"]) == [Decimal("1.25")] * 5
    sent, whole = requests_made(visitor, lambda: visitor.table("LIST_PRODUCT", storename="corner"))
    assert sent == 1
    pd.testing.assert_frame_equal(frame, whole)
    # Starting after a key reads the rest.
    assert (
        list(visitor.table("LIST_PRODUCT", storename="corner", limit=2, after=ids[1])["product_id"])
        == ids[2:]
    )

    shop.call("MERCHANT_DEL_PRODUCT", check=True, product_id=ids[0])
    mine = shop.table("MERCHANT_LIST_PRODUCTS", limit=2)
    assert list(mine["product_id"]) == ids
    assert list(mine["on_shelf"]) == [False, True, True, True, True]
    assert list(visitor.table("LIST_MERCHANT", limit=1)["storename"]) == ["another", "corner"]

    bob = market.customer("bob")
    orders = []
    for product_id in ids[1:4]:
        bob.call("CLIENT_ADD_ITEM", check=True, product_id=product_id, quantity=1)
        orders.append(bob.call("CLIENT_CHECKOUT_ITEM", check=True).data["order_id"])
    assert list(bob.table("CLIENT_LIST_ORDERS", limit=1)["order_id"]) == orders[::-1]

    # A table that does not page, an empty one, and errors.
    assert list(bob.table("CLIENT_GET_ITEMS").columns[:5]) == [
        "storename",
        "product_id",
        "productname",
        "price",
        "quantity",
    ]
    assert len(bob.table("CLIENT_GET_ITEMS")) == 0
    with pytest.raises(NotFound):
        visitor.table("LIST_PRODUCT", storename="nowhere", limit=2)
    with pytest.raises(ValueError):
        bob.table("CLIENT_GET_PRICE")


# --- pipelines ------------------------------------------------------------------


@pytest.mark.backend_free("the client library")
def test_pipeline_answers_in_order(shared_market):
    market = shared_market
    dora = unique("dora")
    market.customer(dora)
    conn = market.connect()
    plan = [
        ("PING", {}, 200),
        ("LIST_PRODUCT", {"storename": "nowhere"}, 404),
        ("CLIENT_LOGIN", {"login": dora, "password": PASSWORD}, 200),
        ("CLIENT_GET_PRICE", {}, 200),  # needs the login just before it
        ("NO_SUCH_OP", {}, 400),
        ("CLIENT_LOGOUT", {}, 200),
        ("CLIENT_GET_ITEMS", {}, 401),
    ]
    with conn.pipeline() as p:
        indexes = [p.call(op, **args) for op, args, _ in plan]
    assert indexes == list(range(len(plan)))
    assert [r.status for r in p.responses] == [status for _, _, status in plan]
    first = p.responses[0].id
    assert [r.id for r in p.responses] == list(range(first, first + len(plan)))
    assert p.responses[3].data == "0.00"

    # check=True raises the first error once every answer is read, so the
    # connection stays in step.
    pipeline = conn.pipeline(check=True)
    with pytest.raises(NotFound), pipeline as p:
        p.call("PING")
        p.call("LIST_PRODUCT", storename="nowhere")
        p.call("CLIENT_GET_ITEMS")
    assert [r.status for r in pipeline.responses] == [200, 404, 401]
    assert conn.call("PING").id == pipeline.responses[-1].id + 1

    # A block that raises sends nothing.
    with pytest.raises(RuntimeError), conn.pipeline() as p:
        p.call("CLIENT_LOGIN", login=dora, password=PASSWORD)
        raise RuntimeError("changed my mind")
    assert p.responses is None
    assert conn.call("CLIENT_GET_ITEMS").status == 401


@pytest.mark.backend_free("the client library")
def test_a_long_pipeline(shared_market):
    conn = shared_market.connect()
    count = 5 * Client.WINDOW + 3
    padding = "y" * 3000  # long requests too: more than the window's bytes
    with conn.pipeline() as p:
        for i in range(count):
            if i % 2:
                p.call("PING")
            else:
                p.call("LIST_PRODUCT", storename="nowhere", after=i + 1)
                p.call("NO_SUCH_OP", padding=padding)
    statuses = [r.status for r in p.responses]
    assert len(statuses) == count + (count + 1) // 2
    assert statuses[:5] == [404, 400, 200, 404, 400]
    assert [r.id for r in p.responses] == sorted(r.id for r in p.responses)
    assert conn.call("PING").ok


# --- a misbehaving server ----------------------------------------------------------


class FakeServer:
    """A one-connection server on the loopback interface that reads one
    request frame and then runs `reply(sock, request)`."""

    def __init__(self, reply):
        self.reply = reply
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []
        self.errors = []
        self.done = threading.Event()  # set to let a silent server go
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.listener.settimeout(30)
            sock, _ = self.listener.accept()
            with sock:
                sock.settimeout(30)
                stream = sock.makefile("rb")
                (length,) = struct.unpack(">I", stream.read(4))
                request = msgpack.unpackb(stream.read(length), raw=False)
                self.requests.append(request)
                self.reply(sock, request)
                self.done.wait(30)
        except Exception as e:  # reported by the test
            self.errors.append(e)

    def stop(self):
        self.done.set()
        self.listener.close()
        self.thread.join(35)
        assert not self.thread.is_alive()


@pytest.fixture
def fake_server():
    servers = []

    def make(reply):
        server = FakeServer(reply)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def framed(message):
    body = msgpack.packb(message)
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize(
    "reply, error",
    [
        (
            lambda sock, req: sock.sendall(
                framed({"id": req["id"] + 7, "status": 200, "message": "ok"})
            ),
            ProtocolError,
        ),
        (lambda sock, req: sock.sendall(framed({"id": req["id"], "status": "200"})), ProtocolError),
        (lambda sock, req: sock.sendall(framed([1, 2, 3])), ProtocolError),
        (lambda sock, req: sock.sendall(struct.pack(">I", 2) + b"\xc1\xc1"), ProtocolError),
        (
            lambda sock, req: sock.sendall(framed({"id": None, "status": 200, "message": "ok"})),
            ProtocolError,
        ),
        (lambda sock, req: None, ConnectionError),  # closes without a word
        (lambda sock, req: sock.sendall(struct.pack(">I", 100) + b"\x83"), ConnectionError),
    ],
    ids=[
        "other-id",
        "no-status",
        "not-a-map",
        "not-msgpack",
        "nil-id-success",
        "closed",
        "closed-mid-frame",
    ],
)
def test_a_broken_answer_raises_and_closes_the_client(fake_server, reply, error):
    def reply_and_close(sock, request):
        reply(sock, request)
        sock.shutdown(socket.SHUT_WR)

    server = fake_server(reply_and_close)
    conn = Client(HOST, server.port, timeout=30)
    try:
        with pytest.raises(error):
            conn.call("PING", note=Decimal("2.50"))
        assert conn.closed
        with pytest.raises(ConnectionError):
            conn.call("PING")
    finally:
        conn.close()
    assert not server.errors, server.errors
    assert server.requests == [{"id": 1, "op": "PING", "args": {"note": "2.50"}}]


def test_a_silent_server_times_out(fake_server):
    server = fake_server(lambda sock, request: None)  # keeps the connection open
    with Client(HOST, server.port, timeout=0.5) as conn:
        with pytest.raises(TimeoutError):
            conn.call("PING")
        assert conn.closed
    server.done.set()


# --- TLS --------------------------------------------------------------------------


@pytest.mark.backend_free("the client library")
def test_tls(start, tmp_path):
    cert, key = self_signed(tmp_path)
    market = start(server_class=TLSServer, cert=cert, key=key)
    with Client(HOST, market.server.port, tls=True, cafile=str(cert)) as conn:
        assert conn.call("PING").ok
        assert conn._sock.version().startswith("TLS")
    with Client(HOST, market.server.port, tls=True, tls_verify=False) as conn:
        assert conn.call("LIST_MERCHANT", check=True).data["rows"] == []
    with pytest.raises(ssl.SSLCertVerificationError):
        Client(HOST, market.server.port, tls=True)  # the system's trust store
    result = run_twisted_script(TLS_SCRIPT, market.server.port, str(cert))
    assert result == {"verified": 200, "unverified": 200, "untrusted": "failed"}


# --- the Twisted client over a StringTransport --------------------------------------


def connected():
    protocol = MarketClientProtocol()
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def sent_requests(transport):
    """The request maps written so far (and clear the transport)."""
    data, requests = transport.value(), []
    transport.clear()
    while data:
        (length,) = struct.unpack(">I", data[:4])
        requests.append(msgpack.unpackb(data[4 : 4 + length], raw=False))
        data = data[4 + length :]
    return requests


def outcome(d):
    """[] while `d` has not fired, else [result or Failure]."""
    results = []
    d.addBoth(results.append)
    return results


def test_twisted_client_pipelines_and_matches_by_id():
    protocol, transport = connected()
    ping = outcome(protocol.call("PING"))
    listing = outcome(protocol.call("LIST_PRODUCT", storename="corner", limit=2))
    missing = outcome(protocol.call("LIST_PRODUCT", check=True, storename="nowhere"))
    unchecked = outcome(protocol.call("LIST_PRODUCT", storename="nowhere"))
    # Every request is written at once, before any answer.
    assert sent_requests(transport) == [
        {"id": 1, "op": "PING"},
        {"id": 2, "op": "LIST_PRODUCT", "args": {"storename": "corner", "limit": 2}},
        {"id": 3, "op": "LIST_PRODUCT", "args": {"storename": "nowhere"}},
        {"id": 4, "op": "LIST_PRODUCT", "args": {"storename": "nowhere"}},
    ]
    assert protocol.pending == 4
    assert ping == listing == missing == unchecked == []

    protocol.dataReceived(framed({"id": 1, "status": 200, "message": "ok"}))
    assert ping == [Response(1, 200, "ok")] and listing == []
    table = {"columns": ["product_id", "price"], "rows": [[9, "2.50"]], "next": None}
    gone = {"id": 3, "status": 404, "message": "storename: no store named 'nowhere'"}
    data = (
        framed({"id": 2, "status": 200, "message": "ok", "data": table})
        + framed(gone)
        + framed(dict(gone, id=4))
    )
    for i in range(len(data)):  # one byte at a time
        protocol.dataReceived(data[i : i + 1])
    assert listing == [Response(2, 200, "ok", table)]
    assert list(listing[0].frame["price"]) == [Decimal("2.50")]
    (failure,) = missing
    assert failure.check(NotFound) and failure.value.status == 404
    assert failure.value.response == Response(3, 404, gone["message"])
    assert unchecked == [Response(4, 404, gone["message"])]
    assert protocol.pending == 0 and not transport.disconnecting


def test_twisted_client_takes_large_responses():
    protocol, _transport = connected()
    result = outcome(protocol.call("LIST_MERCHANT"))
    rows = [[f"store{i}", "d" * 200, f"s{i}@example.com"] for i in range(2000)]
    data = {"columns": ["storename", "description", "email"], "rows": rows, "next": None}
    body = framed({"id": 1, "status": 200, "message": "ok", "data": data})
    assert len(body) > 400_000
    protocol.dataReceived(body)
    assert len(result[0].frame) == 2000


def test_twisted_client_drops_the_connection_on_a_wrong_id():
    protocol, transport = connected()
    first = outcome(protocol.call("PING"))
    second = outcome(protocol.call("PING"))
    protocol.dataReceived(
        framed({"id": 2, "status": 200, "message": "ok"})
        + framed({"id": 1, "status": 200, "message": "ok"})
    )
    (failure,) = first
    assert failure.check(ProtocolError)
    assert transport.disconnecting
    assert second == []  # the next frame is not trusted either
    assert outcome(protocol.call("PING"))[0].check(ConnectionError)
    protocol.connectionLost(Failure(ConnectionDone()))
    (failure,) = second
    assert failure.check(ConnectionError)


def test_twisted_client_fails_waiting_calls_on_connection_loss():
    protocol, transport = connected()
    waiting = [outcome(protocol.call("PING")) for _ in range(3)]
    protocol.dataReceived(framed({"id": 1, "status": 200, "message": "ok"}))
    closed = outcome(protocol.close())
    assert transport.disconnecting and closed == []
    protocol.connectionLost(Failure(ConnectionDone()))
    assert closed == [None]
    assert waiting[0] == [Response(1, 200, "ok")]
    for result in waiting[1:]:
        (failure,) = result
        assert failure.check(ConnectionError)
    assert protocol.pending == 0
    transport.clear()
    (failure,) = outcome(protocol.call("PING"))
    assert failure.check(ConnectionError)
    assert transport.value() == b""  # nothing written on a lost connection


def test_twisted_client_on_a_413():
    protocol, transport = connected()
    before = outcome(protocol.call("PING"))
    too_large = outcome(protocol.call("SET_MERCHANT_DESCRIPTION", check=True, description="x"))
    protocol.dataReceived(
        framed({"id": 1, "status": 200, "message": "ok"})
        + framed({"id": None, "status": 413, "message": "request frame too large"})
    )
    assert before == [Response(1, 200, "ok")]
    (failure,) = too_large
    assert failure.check(TooLarge) and failure.value.response.id is None
    assert transport.disconnecting


def test_twisted_client_raises_the_code_s_class():
    protocol, transport = connected()
    taken = outcome(protocol.call("CLIENT_CREATE", check=True, username="ann"))
    old = outcome(protocol.call("CLIENT_CREATE", check=True, username="ann"))
    error = {"code": "name_taken", "field": "username"}
    protocol.dataReceived(
        framed({"id": 1, "status": 409, "message": "username: already taken", "error": error})
        + framed({"id": 2, "status": 409, "message": "username: already taken"})  # 1.1
    )
    (failure,) = taken
    assert failure.check(NameTaken) and failure.value.field == "username"
    (failure,) = old
    assert type(failure.value) is Conflict and failure.value.code is None
    assert not transport.disconnecting


def test_twisted_client_closes_on_frame_too_large_by_its_code():
    protocol, transport = connected()
    too_large = outcome(protocol.call("PING", check=True))
    error = {"code": "frame_too_large"}
    protocol.dataReceived(
        framed({"id": None, "status": 413, "message": "request frame too large", "error": error})
    )
    (failure,) = too_large
    assert failure.check(TooLarge) and failure.value.code == "frame_too_large"
    assert transport.disconnecting


def test_twisted_client_get_account():
    protocol, transport = connected()
    account = outcome(protocol.get_account())
    assert sent_requests(transport) == [{"id": 1, "op": "GET_ACCOUNT"}]
    data = {"role": "client", "name": "Zoë", "email": "zoe@example.com"}
    protocol.dataReceived(framed({"id": 1, "status": 200, "message": "ok", "data": data}))
    assert account == [data]
    refused = outcome(protocol.get_account())
    protocol.dataReceived(framed({"id": 2, "status": 401, "message": "GET_ACCOUNT: log in first"}))
    assert refused[0].check(NotLoggedIn)


def test_twisted_client_order_methods():
    protocol, transport = connected()
    placed = outcome(protocol.checkout(expected_total="2.50", address="home"))
    cancelled = outcome(protocol.cancel_order(7))
    shipped = outcome(protocol.ship_order(7, note="DHL"))
    lines = outcome(protocol.get_store_order(7))
    assert sent_requests(transport) == [
        {
            "id": 1,
            "op": "CLIENT_CHECKOUT_ITEM",
            "args": {"expected_total": "2.50", "address": "home"},
        },
        {"id": 2, "op": "CLIENT_CANCEL_ORDER", "args": {"order_id": 7}},
        {"id": 3, "op": "MERCHANT_SHIP_ORDER", "args": {"order_id": 7, "note": "DHL"}},
        {"id": 4, "op": "MERCHANT_GET_ORDER", "args": {"order_id": 7}},
    ]
    answers = [
        {"order_id": 7, "total": "2.50"},
        {"refunded": "2.50", "cancelled": ["shop"]},
        None,
        {"columns": ["product_id", "price"], "rows": [[3, "1.25"]]},
    ]
    for i, data in enumerate(answers, 1):
        answer = {"id": i, "status": 200, "message": "ok"}
        if data is not None:
            answer["data"] = data
        protocol.dataReceived(framed(answer))
    assert placed == [{"order_id": 7, "total": Decimal("2.50")}]
    assert cancelled == [{"refunded": Decimal("2.50"), "cancelled": ["shop"]}]
    assert shipped == [None]
    assert lines == [[{"product_id": 3, "price": Decimal("1.25")}]]
    # Every page of MERCHANT_LIST_ORDERS.
    listed = outcome(protocol.list_store_orders(status="placed"))
    columns = ["order_id", "total"]
    protocol.dataReceived(
        framed(
            {
                "id": 5,
                "status": 200,
                "message": "ok",
                "data": {"columns": columns, "rows": [[9, "1.00"]], "next": 9},
            }
        )
    )
    protocol.dataReceived(
        framed(
            {
                "id": 6,
                "status": 200,
                "message": "ok",
                "data": {"columns": columns, "rows": [[8, "2.00"]], "next": None},
            }
        )
    )
    assert [r["args"] for r in sent_requests(transport)] == [
        {"status": "placed"},
        {"status": "placed", "after": 9},
    ]
    assert listed == [
        [{"order_id": 9, "total": Decimal("1.00")}, {"order_id": 8, "total": Decimal("2.00")}]
    ]


def test_twisted_client_keeps_its_session_token():
    protocol, transport = connected()
    assert protocol.token is None
    assert outcome(protocol.resume())[0].check(ValueError)
    login = outcome(protocol.call("CLIENT_LOGIN", login="alice", password="secret-pass"))
    protocol.dataReceived(
        framed({"id": 1, "status": 200, "message": "ok", "data": {"token": "tok-1"}})
    )
    assert login[0].data == {"token": "tok-1"} and protocol.token == "tok-1"
    outcome(protocol.call("CLIENT_LOGOUT"))
    protocol.dataReceived(framed({"id": 2, "status": 200, "message": "ok"}))
    assert protocol.token is None

    sent_requests(transport)
    refused = outcome(protocol.resume("old"))
    assert sent_requests(transport) == [{"id": 3, "op": "RESUME", "args": {"token": "old"}}]
    protocol.dataReceived(framed({"id": 3, "status": 401, "message": "token: unknown"}))
    assert refused[0].check(NotLoggedIn) and protocol.token is None
    resumed = outcome(protocol.resume("tok-2"))
    data = {"role": "merchant", "name": "Corner"}
    protocol.dataReceived(framed({"id": 4, "status": 200, "message": "ok", "data": data}))
    assert resumed == [data] and protocol.token == "tok-2"
    outcome(protocol.call("SET_MERCHANT_PASSWORD", old_password="a", new_password="b"))
    protocol.dataReceived(
        framed({"id": 5, "status": 200, "message": "ok", "data": {"token": "tok-3"}})
    )
    assert protocol.token == "tok-3"


def test_twisted_client_call_timed_out_keeps_the_connection_in_step():
    protocol, transport = connected()
    clock = task.Clock()
    slow = outcome(protocol.call("PING").addTimeout(5, clock))
    second = outcome(protocol.call("PING"))
    clock.advance(5)
    (failure,) = slow
    assert failure.check(defer.TimeoutError)
    # The late answer is read and dropped; the next one goes to its call.
    protocol.dataReceived(
        framed({"id": 1, "status": 200, "message": "ok"})
        + framed({"id": 2, "status": 200, "message": "ok"})
    )
    assert second == [Response(2, 200, "ok")]
    assert not transport.disconnecting


# --- the Twisted client against the real server, in a child process ------------------

TWISTED_SCRIPT = """
import json, sys
from twisted.internet import defer, task
from cybermarket.client.blocking import ClientError
from cybermarket.client.twisted_client import connect

async def main(reactor, port, storename):
    market = await connect(reactor, "127.0.0.1", int(port))
    calls = [
        market.call("PING"),
        market.call("LIST_PRODUCT", storename=storename, limit=2),
        market.call("LIST_PRODUCT", storename="nowhere"),
        market.call("NO_SUCH_OP"),
    ]
    pending = market.pending
    responses = [await d for d in calls]
    try:
        await market.call("LIST_PRODUCT", check=True, storename="nowhere")
        raised = None
    except ClientError as e:
        raised = [type(e).__name__, e.status]
    page = responses[1]
    await market.close()
    try:
        await market.call("PING")
        after_close = None
    except ConnectionError:
        after_close = "ConnectionError"
    print(json.dumps({
        "pending": pending,
        "answers": [[r.id, r.status] for r in responses],
        "rows": page.data["rows"],
        "next": page.data["next"],
        "price_type": type(page.frame["price"][0]).__name__,
        "raised": raised,
        "after_close": after_close,
    }))

task.react(lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:])
"""

TLS_SCRIPT = """
import json, sys
from twisted.internet import defer, task
from cybermarket.client.twisted_client import connect

async def main(reactor, port, cafile):
    result = {}
    for name, options in (("verified", {"cafile": cafile}), ("unverified", {"tls_verify": False}),
                          ("untrusted", {})):
        try:
            market = await connect(reactor, "127.0.0.1", int(port), tls=True, **options)
            result[name] = (await market.call("PING")).status
            await market.close()
        except Exception:
            result[name] = "failed"
    print(json.dumps(result))

task.react(lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:])
"""


def run_twisted_script(script, *argv):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, argv)],
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.backend_free("the client library")
def test_twisted_client_against_the_server(shared_market):
    market = shared_market
    corner = unique("corner")
    shop = market.merchant(corner)
    ids = add_products(shop, 3, price="4.20")
    result = run_twisted_script(TWISTED_SCRIPT, market.server.port, corner)
    assert result["pending"] == 4
    assert result["answers"] == [[1, 200], [2, 200], [3, 404], [4, 400]]
    assert [row[0] for row in result["rows"]] == ids[:2]
    assert result["next"] == ids[1]
    assert result["price_type"] == "Decimal"
    assert result["raised"] == ["NotFound", 404]
    assert result["after_close"] == "ConnectionError"
