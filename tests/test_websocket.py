"""The protocol over WebSocket (wire contract 1.1, "WebSocket transport"),
spoken to a real `twistd cybermarket --web` by the small wsproto client in
tests/wsclient.py; and the web endpoint's HTTP side: its headers, types,
ETags and the Origin rule."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgpack
import pytest

from cybermarket.errors import BadRequest
from cybermarket.server.bodies import JSON
from cybermarket.server.connection import decode
from cybermarket.server.origins import origin_of
from tests.live import FAST, PASSWORD, rows, running
from tests.seed import seed_customers
from tests.server import Server
from tests.shop import store_args
from tests.wire import Client
from tests.wsclient import Closed, Rejected, WSClient, http_get

EXTRA_ORIGIN = "https://shop.example.com"


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory) -> Iterator[Server]:
    with running(
        databases, tmp_path_factory, f"--web-origin={EXTRA_ORIGIN}", "--max-frame=4096"
    ) as s:
        yield s


@pytest.fixture
def ws(server) -> Iterator[WSClient]:
    with WSClient(server.web_port) as client:
        yield client


_stores = iter(range(10**6))


def new_store(server: Server, ws: WSClient, json_text: bool = False) -> str:
    """A new store with a product "lamp" at 19.99, opened over `ws`; its
    name.  `ws` stays logged in as its merchant."""
    name = f"store{next(_stores)}"
    args = store_args(name, PASSWORD, server.invite())
    assert ws.call("MERCHANT_CREATE", json_text, **args)["status"] == 201
    ws.ok("MERCHANT_LOGIN", json_text, login=name, password=PASSWORD)
    ws.ok(
        "MERCHANT_ADD_PRODUCT",
        json_text,
        productname="lamp",
        price="19.99",
        description="bright",
        stock=3,
    )
    return name


# --- bodies ---------------------------------------------------------------------


@pytest.mark.backend_free("the WebSocket transport")
def test_binary_messages_carry_messagepack(ws):
    assert ws.call("PING") == {"id": 1, "status": 200, "message": "ok", "data": {"protocol": "1.3"}}
    ws.send_bytes(msgpack.packb({"id": 7, "op": "LIST_MERCHANT", "args": {"limit": 1}}))
    message = ws.receive_message()
    assert isinstance(message, bytes)
    answer = msgpack.unpackb(message)
    assert answer["id"] == 7 and answer["status"] == 200
    assert answer["data"]["columns"][:3] == ["storename", "description", "email"]


@pytest.mark.backend_free("the WebSocket transport")
def test_text_messages_carry_json_and_are_answered_in_json(server, ws):
    name = new_store(server, ws, json_text=True)
    ws.send_text(json.dumps({"id": 5, "op": "LIST_PRODUCT", "args": {"storename": name}}))
    message = ws.receive_message()
    assert isinstance(message, str)
    answer = json.loads(message)
    assert answer["id"] == 5 and answer["status"] == 200
    (product,) = rows(answer["data"])
    assert product["price"] == "19.99" and product["productname"] == "lamp"
    # The same page again comes from the page cache, packed for TCP: JSON
    # all the same.
    again = ws.call("LIST_PRODUCT", json_text=True, storename=name)
    assert rows(again["data"]) == [product]


@pytest.mark.backend_free("the WebSocket transport")
def test_a_json_number_with_a_fraction_is_a_float_and_no_price(server, ws):
    new_store(server, ws, json_text=True)
    ws.send_text(
        '{"id": 9, "op": "MERCHANT_ADD_PRODUCT", "args": '
        '{"productname": "x", "price": 19.99, "description": ""}}'
    )
    answer = ws.receive()
    assert answer["id"] == 9 and answer["status"] == 400 and "price" in answer["message"]
    ws.send_text(
        '{"id": 10, "op": "MERCHANT_ADD_PRODUCT", "args": '
        '{"productname": "x", "price": 1e3, "description": ""}}'
    )
    assert ws.receive()["status"] == 400
    assert (
        ws.call("MERCHANT_ADD_PRODUCT", json_text=True, productname="x", price=19, description="")[
            "status"
        ]
        == 200
    )


@pytest.mark.backend_free("the WebSocket transport")
@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"PING"', "NaN", '{"id": NaN}', "{"])
def test_text_that_is_not_a_json_map_is_400_with_id_nil(ws, text):
    ws.send_text(text)
    answer = ws.receive()
    assert answer["id"] is None and answer["status"] == 400
    assert ws.call("PING", json_text=True)["status"] == 200  # still open


@pytest.mark.backend_free("the WebSocket transport")
def test_binary_that_is_not_messagepack_is_400_with_id_nil(ws):
    ws.send_bytes(b"\xc1")
    assert ws.receive() == {
        "id": None,
        "status": 400,
        "message": "body: not a MessagePack value",
        "error": {"code": "malformed"},
    }


@pytest.mark.backend_free("the WebSocket transport")
def test_pipelined_requests_are_answered_in_order_each_in_its_encoding(ws):
    sent = [ws.send("PING", json_text=i % 2 == 1) for i in range(40)]
    messages = [ws.receive_message() for _ in sent]
    assert [isinstance(m, str) for m in messages] == [i % 2 == 1 for i in range(40)]
    ids = [
        json.loads(m)["id"] if isinstance(m, str) else msgpack.unpackb(m)["id"] for m in messages
    ]
    assert ids == sent


@pytest.mark.backend_free("the WebSocket transport")
@pytest.mark.parametrize("text", [False, True])
def test_a_message_over_the_frame_limit_is_413_then_close_1009(server, text):
    with WSClient(server.web_port) as ws:
        first = ws.send("PING")
        if text:
            ws.send_text(json.dumps({"id": 2, "op": "PING", "pad": "x" * 5000}))
        else:
            ws.send_bytes(msgpack.packb({"id": 2, "op": "PING", "pad": b"x" * 5000}))
        assert ws.receive()["id"] == first  # what came before is answered
        message = ws.receive_message()
        assert isinstance(message, str) is text  # in the big message's encoding
        answer = json.loads(message) if text else msgpack.unpackb(message)
        assert answer == {
            "id": None,
            "status": 413,
            "message": "request frame too large",
            "error": {"code": "frame_too_large"},
        }
        with pytest.raises(Closed) as closed:
            ws.receive()
        assert closed.value.code == 1009


@pytest.mark.backend_free("the WebSocket transport")
def test_a_message_at_the_frame_limit_is_served(ws):
    pad = 4000
    while len(body := msgpack.packb({"id": 1, "op": "PING", "pad": "x" * pad})) < 4096:
        pad += 1
    assert len(body) == 4096
    ws.send_bytes(body)
    assert ws.receive()["status"] == 200  # unknown keys beside args are ignored; not 413


SURROGATE_REQUESTS = [
    ("CLIENT_LOGIN", {"login": "ann\ud800", "password": "whatever-it-is"}, "login"),
    ("CLIENT_LOGIN", {"login": "ann", "password": "pass\udfffword"}, "password"),
    ("LIST_PRODUCT", {"storename": "\udc80"}, "storename"),
    ("SEARCH_PRODUCT", {"query": "lamp \ud83d"}, "query"),
    ("CLIENT_CREATE", {"username": "u", "email": "a\ud800@b.c", "password": "p" * 8}, "email"),
    ("SET_LANGUAGE", {"language": "\ud800"}, "language"),
]


def test_lone_surrogates_in_json_are_400_naming_the_field_and_log_nothing(server, ws):
    before = len(server.log)
    for _ in range(20):
        for op, args, field in SURROGATE_REQUESTS:
            answer = ws.call(op, json_text=True, **args)
            assert answer["status"] == 400 and answer["message"].startswith(f"{field}:"), answer
            assert answer["error"] == {"code": "invalid_argument", "field": field}, answer
    assert ws.call("PING")["status"] == 200
    assert "Traceback" not in server.log[before:]


# --- login state -------------------------------------------------------------------


@pytest.mark.backend_free("the WebSocket transport")
def test_login_belongs_to_the_websocket_connection(server):
    tcp = Client(server.port)
    seed_customers(server.database_url, ["wsann"], PASSWORD)
    with WSClient(server.web_port) as one, WSClient(server.web_port) as other:
        one.ok("CLIENT_LOGIN", login="wsann", password=PASSWORD)
        assert one.call("CLIENT_GET_ITEMS")["status"] == 200
        assert other.call("CLIENT_GET_ITEMS")["status"] == 401
        assert one.call("CLIENT_LOGIN", login="wsann", password=PASSWORD)["status"] == 400
    with WSClient(server.web_port) as again:  # closing logged out
        assert again.call("CLIENT_GET_ITEMS")["status"] == 401
    tcp.close()


def test_tcp_and_websocket_share_one_market(server, ws):
    name = new_store(server, ws)
    (product,) = rows(ws.ok("LIST_PRODUCT", storename=name))
    tcp = Client(server.port)
    seed_customers(server.database_url, ["tcpbob"], PASSWORD)
    tcp.ok("CLIENT_LOGIN", login="tcpbob", password=PASSWORD)
    tcp.ok("CLIENT_ADD_ITEM", product_id=product["product_id"], quantity=2)
    assert tcp.ok("CLIENT_CHECKOUT_ITEM")["total"] == "39.98"
    assert ws.ok("MERCHANT_GET_PROFIT") == "39.98"
    tcp.close()


def test_resume_over_websocket_with_a_token_from_tcp(server):
    tcp = Client(server.port)
    seed_customers(server.database_url, ["wscarl"], PASSWORD)
    token = tcp.ok("CLIENT_LOGIN", login="wscarl", password=PASSWORD)["token"]
    tcp.close()
    with WSClient(server.web_port) as ws:
        assert ws.ok("RESUME", json_text=True, token=token) == {"role": "client", "name": "wscarl"}
        assert ws.call("CLIENT_GET_ITEMS")["status"] == 200


# --- the Origin rule -------------------------------------------------------------------


@pytest.mark.backend_free("the WebSocket transport")
def test_no_origin_is_accepted(server):
    with WSClient(server.web_port) as ws:
        assert ws.call("PING")["status"] == 200


@pytest.mark.backend_free("the WebSocket transport")
def test_the_servers_own_origin_is_accepted(server):
    with WSClient(server.web_port, origin=f"http://127.0.0.1:{server.web_port}") as ws:
        assert ws.call("PING")["status"] == 200


@pytest.mark.backend_free("the WebSocket transport")
def test_an_origin_given_with_web_origin_is_accepted(server):
    with WSClient(server.web_port, origin=EXTRA_ORIGIN) as ws:
        assert ws.call("PING")["status"] == 200
    with WSClient(server.web_port, origin=EXTRA_ORIGIN + ":443") as ws:  # the same origin
        assert ws.call("PING")["status"] == 200


@pytest.mark.backend_free("the WebSocket transport")
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://127.0.0.1:{port}",  # another scheme
        "http://127.0.0.1:1",  # another port
        "http://localhost:{port}",  # another host than the request was sent to
        "http://shop.example.com",  # the allowed origin is https
        "null",
    ],
)
def test_other_origins_are_refused_with_403(server, origin):
    with pytest.raises(Rejected) as refused:
        WSClient(server.web_port, origin=origin.format(port=server.web_port))
    assert refused.value.status == 403


# --- the web endpoint's HTTP side ----------------------------------------------------


@pytest.mark.backend_free("the web endpoint's HTTP side")
def test_the_pages_carry_a_strict_policy_and_the_security_headers(server):
    for path in ["/", "/app.js", "/style.css", "/missing", "/ws"]:
        status, headers, _ = http_get(server.web_port, path)
        assert status == {"/missing": 404, "/ws": 400}.get(path, 200), path
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.backend_free("the web endpoint's HTTP side")
def test_files_have_their_types_and_etags(server):
    types = {
        "/": "text/html; charset=utf-8",
        "/app.js": "text/javascript; charset=utf-8",
        "/style.css": "text/css; charset=utf-8",
    }
    for path, kind in types.items():
        status, headers, body = http_get(server.web_port, path)
        assert status == 200 and headers["content-type"] == kind and body
        etag = headers["etag"]
        status, _, body = http_get(server.web_port, path, {"If-None-Match": etag})
        assert status == 304 and body == b""


@pytest.mark.backend_free("the web endpoint's HTTP side")
def test_the_page_has_no_inline_script_or_style(server):
    _, _, body = http_get(server.web_port, "/")
    page = body.decode()
    assert "<script>" not in page and "style=" not in page and "onclick" not in page
    assert '<script type="module" src="/app.js"></script>' in page


@pytest.mark.backend_free("the web endpoint's HTTP side")
def test_only_get_and_head_are_served(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.web_port, timeout=30)
    conn.request("POST", "/", body=b"x")
    assert conn.getresponse().status == 405
    conn.close()


# --- connection caps ---------------------------------------------------------------------


@pytest.mark.backend_free("the network layer")
def test_websocket_connections_count_in_the_caps(launch, migrated_url):
    server = launch(migrated_url, *FAST, "--max-connections-per-address=2", web=True).server
    tcp = Client(server.port)
    first = WSClient(server.web_port)
    with pytest.raises(Rejected) as refused:
        WSClient(server.web_port)
    assert refused.value.status == 503
    first.close()
    tcp.close()

    def second_opens():
        try:
            WSClient(server.web_port).close()
            return True
        except Rejected:
            return False

    from tests.server import wait_until

    wait_until(second_opens, 10, what="a place freed by closing")
    assert "max-connections-per-address" in server.log


NORWEGIAN = "nb-NO,nb,no,nn,en-US,en"  # Chromium set to Norwegian


@pytest.mark.backend_free("the network layer")
def test_upgrades_in_a_language_babel_has_no_locale_for_give_back_their_places(
    launch, migrated_url
):
    """Each such upgrade once answered 500 and kept its place in the caps:
    after a few, its address could open nothing more."""
    server = launch(migrated_url, *FAST, "--max-connections-per-address=2", web=True).server
    for _ in range(6):
        with WSClient(server.web_port, accept_language=NORWEGIAN) as ws:
            assert ws.call("PING")["message"] == "ok"  # in English
        with WSClient(server.web_port, accept_language="no") as ws:
            assert ws.call("SET_LANGUAGE", language="hmn")["data"] == "en"
    # Closed upgrades give back their places (the server sees each close a
    # moment later).
    from tests.server import wait_until

    def two_open():
        try:
            with WSClient(server.web_port), WSClient(server.web_port, accept_language="sm"):
                return True
        except Rejected:
            return False

    wait_until(two_open, 10, what="both places of the address free again")
    assert "Traceback" not in server.log


UPGRADE_WITHOUT_HOST = (
    b"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.mark.backend_free("the network layer")
def test_an_upgrade_without_a_host_header_is_400_and_gives_back_its_place(launch, migrated_url):
    """h11, which reads the upgrade again, wants a Host header: its error
    was a 500 with a traceback, and the upgrade kept its place."""
    import socket

    server = launch(migrated_url, *FAST, "--max-connections-per-address=2", web=True).server
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", server.web_port), timeout=30) as sock:
            sock.sendall(UPGRADE_WITHOUT_HOST)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.0 400 "), answer
    from tests.server import wait_until

    def two_open():
        try:
            with WSClient(server.web_port), WSClient(server.web_port):
                return True
        except Rejected:
            return False

    wait_until(two_open, 10, what="both places of the address free again")
    assert "Traceback" not in server.log


# --- in-process: the pieces ---------------------------------------------------------------


def test_origins_compare_by_scheme_host_and_port():
    assert origin_of("http://Shop.Example:80") == origin_of("http://shop.example")
    assert origin_of("https://shop.example") == "https://shop.example:443"
    assert origin_of("http://[::1]:8080") == "http://[::1]:8080"
    for bad in ["null", "ftp://x", "http://", "http://x/path", "http://u@x", "x"]:
        assert origin_of(bad) is None, bad


def test_json_bodies_decode_like_messagepack():
    request_id, op, args = decode('{"id": 3, "op": "LIST_MERCHANT", "args": {"limit": 2}}', JSON)
    assert (request_id, op.name, args["limit"]) == (3, "LIST_MERCHANT", 2)
    with pytest.raises(BadRequest) as bad:
        decode('{"id": 1.0, "op": "PING"}', JSON)
    assert getattr(bad.value, "request_id", None) is None
    with pytest.raises(BadRequest):
        decode('{"id": 18446744073709551616, "op": "PING"}', JSON)


def upgrade_request(accept_language: str | None = None, host: bool = True):
    """A request for /ws as twisted.web hands it to the resource, from
    10.0.0.7, without the headers of an upgrade."""
    from twisted.internet.address import IPv4Address
    from twisted.web.test.requesthelper import DummyRequest

    request = DummyRequest([b"ws"])
    request.path = b"/ws"
    request.client = IPv4Address("TCP", "10.0.0.7", 5555)
    if host:
        request.requestHeaders.setRawHeaders(b"host", [b"127.0.0.1:8080"])
    if accept_language is not None:
        request.requestHeaders.setRawHeaders(b"accept-language", [accept_language.encode()])
    return request


def places_taken(factory) -> tuple:
    return factory._open, dict(factory._per_address)


def raw_upgrade(accept_language: str | None, host: bool, handshake: bool = False) -> bytes:
    """An upgrade request as a browser sends it, with or without the
    headers of a handshake (without them Twisted answers 400)."""
    lines = [b"GET /ws HTTP/1.1"]
    if host:
        lines.append(b"Host: 127.0.0.1:8080")
    if accept_language is not None:
        lines.append(b"Accept-Language: " + accept_language.encode())
    if handshake:
        lines += [
            b"Connection: Upgrade",
            b"Upgrade: websocket",
            b"Sec-WebSocket-Version: 13",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@pytest.mark.backend_free("the network layer")
@pytest.mark.parametrize(
    ("header", "host"),
    [(None, True), ("no", True), (NORWEGIAN, True), ("x" * 20000, True), (None, False)],
)
def test_a_refused_handshake_gives_back_its_place(market, header, host):
    """No Upgrade header: Twisted answers 400.  No Host header either: h11
    refuses the request, answered 400 too.  The place stays with the HTTP
    connection, counted once, and goes back when it closes."""
    from cybermarket.server.web import make_site
    from tests.test_web_limits import HTTPPeer

    peer = HTTPPeer(make_site(market.factory, []), "10.0.0.7")
    peer.feed(raw_upgrade(header, host))
    # A header line longer than twisted.web reads closes the connection
    # unanswered; every other refusal is a 400.
    assert peer.transport.value().startswith(b"HTTP/1.1 400 ") or (
        len(header or "") > 16384 and peer.closed
    )
    assert places_taken(market.factory) == (1, {"10.0.0.7": 1})
    assert market.factory.connections == set()
    peer.lose()
    assert places_taken(market.factory) == (0, {})


@pytest.mark.backend_free("the network layer")
def test_an_upgrade_that_fails_midway_gives_back_its_place(market, monkeypatch):
    from twisted.web.websocket import WebSocketResource

    from cybermarket.server.web import make_site
    from tests.test_web_limits import HTTPPeer

    def fails(self, request):
        raise RuntimeError("the handshake broke")

    monkeypatch.setattr(WebSocketResource, "render_GET", fails)
    site = make_site(market.factory, [])
    peer = HTTPPeer(site, "10.0.0.7")
    peer.feed(raw_upgrade("ru", True, handshake=True))
    assert peer.transport.value().startswith(b"HTTP/1.1 500 ")
    assert market.factory.connections == set()
    peer.lose()
    assert places_taken(market.factory) == (0, {})
    assert site.resource.websocket._opening == {}


@pytest.mark.backend_free("the network layer")
def test_an_open_websocket_counts_once_and_gives_its_place_back(market):
    from cybermarket.server.web import make_site
    from tests.test_web_limits import HTTPPeer

    peer = HTTPPeer(make_site(market.factory, []), "10.0.0.7")
    peer.feed(raw_upgrade(NORWEGIAN, True, handshake=True))
    assert peer.transport.value().startswith(b"HTTP/1.1 101 ")
    assert places_taken(market.factory) == (1, {"10.0.0.7": 1})
    (connection,) = market.factory.connections
    assert connection.language == "en"
    peer.lose()
    assert places_taken(market.factory) == (0, {})


@pytest.mark.backend_free("the network layer")
def test_only_the_first_ranges_of_accept_language_are_read_and_that_is_logged(make_market, logged):
    from cybermarket.server.websocket import MarketWebSocketResource

    market = make_market(accept_language_ranges=2)
    resource = MarketWebSocketResource(market.factory, [])
    assert resource._language(upgrade_request("fr, ru"), "10.0.0.7") == "ru"
    assert not [e for e in logged if e.get("reason") == "accept-language-ranges"]
    assert resource._language(upgrade_request("fr, de, ru"), "10.0.0.7") == "en"
    (event,) = [e for e in logged if e.get("reason") == "accept-language-ranges"]
    assert event["peer"] == "10.0.0.7" and event["ranges"] == 2


@pytest.mark.backend_free("the web endpoint's HTTP side")
def test_failed_web_requests_log_their_tracebacks_within_the_bound(make_market, logged):
    from twisted.python.failure import Failure
    from twisted.web.test.requesthelper import DummyChannel

    from cybermarket.server.web import WebRequest, make_site

    market = make_market(tracebacks_per_second=2)
    site = make_site(market.factory, [])
    for _ in range(10):
        request = WebRequest(DummyChannel())
        request.site, request.method, request.path = site, b"GET", b"/ws"
        request.processingFailed(Failure(RuntimeError("the render broke")))
        assert request.code == 500
    assert len([e for e in logged if "log_failure" in e]) == 2
    market.clock.advance(10)
    left_out = [e for e in logged if e.get("reason") == "tracebacks-per-second"]
    assert sum(e["count"] for e in left_out) == 8


@pytest.mark.backend_free("the network layer")
def test_a_connection_gives_back_its_place_once(market):
    factory = market.factory
    connection = factory.open_connection("10.0.0.8", admit=True)
    other = factory.open_connection("10.0.0.8", admit=True)
    assert places_taken(factory) == (2, {"10.0.0.8": 2})
    factory.connection_gone(connection)
    factory.connection_gone(connection)  # a second path to the same end
    assert places_taken(factory) == (1, {"10.0.0.8": 1})
    factory.connection_gone(other)
    assert places_taken(factory) == (0, {})


# --- in-process: the WebSocket carrier's backpressure -------------------------------------


class FakeWire:
    """Stands for twisted.web.websocket's wire protocol: the WebSocket
    transport over a StringTransport."""

    def __init__(self) -> None:
        from twisted.internet.testing import StringTransport

        self.transport = StringTransport()
        self.transport.registerProducer(object(), True)  # the HTTP channel's
        self._textBuffer = self._bytesBuffer = None
        self._sent: list = []
        self.closed: int | None = None
        self.db = None  # the market's, drained before the test looks

    @property
    def sent(self) -> list:
        """The answers sent; what the database had queued runs first, as the
        reactor would run it before the client reads (tests/harness.py)."""
        if self.db is not None:
            self.db.drain()
        return self._sent

    def sendBytesMessage(self, data: bytes) -> None:
        self._sent.append(msgpack.unpackb(data))

    def sendTextMessage(self, text: str) -> None:
        self._sent.append(json.loads(text))

    def attachProducer(self, producer) -> None:
        self.transport.registerProducer(producer, True)

    def loseConnection(self, code: int = 1000) -> None:
        self.closed = code

    def message(self, carrier, body: bytes) -> None:
        """One binary message arriving, in two pieces."""
        self._bytesBuffer.add(body[:3])
        self._bytesBuffer.add(body[3:])
        carrier.bytesMessageReceived(self._bytesBuffer.done())

    def dataReceived(self, messages: list) -> None:
        """One read: whole messages, the last one maybe only begun."""
        for body in messages:
            if isinstance(body, tuple):  # (begun,): the start of a message
                self._bytesBuffer.add(body[0])
            else:
                self.message(self.carrier, body)
                if self.db is not None:
                    self.db.drain()  # within the read, as the inline database was


class FakeChannel:
    """The HTTP channel, whose reads Twisted's upgrade hands to the wire."""

    def __init__(self, wire: FakeWire) -> None:
        self.dataReceived = wire.dataReceived


def ws_peer(market, reads=False):
    """A carrier on a fake wire; with `reads`, one whose reads it can tell
    apart (wire.read(...) then is one read)."""
    from cybermarket.server.websocket import WebSocketCarrier

    connection = market.factory.open_connection("10.0.0.9", admit=True)
    wire = FakeWire()
    wire.db = market.app.db
    channel = FakeChannel(wire) if reads else None
    carrier = WebSocketCarrier(connection, channel)
    wire.carrier = carrier
    carrier.negotiationStarted(wire)
    carrier.negotiationFinished()
    wire.read = channel.dataReceived if reads else wire.dataReceived
    return carrier, wire


def ping(request_id: int, op: str = "PING") -> bytes:
    return msgpack.packb({"id": request_id, "op": op})


@pytest.mark.backend_free("the WebSocket transport")
def test_a_flood_pauses_reading_and_what_arrives_meanwhile_waits(market, gates):
    from cybermarket.server.connection import HIGH_WATER

    carrier, wire = ws_peer(market)
    wire.message(carrier, ping(0, "SLOW"))
    for i in range(1, HIGH_WATER + 30):  # one read's worth, past the high water mark
        wire.message(carrier, ping(i))
    assert wire.transport.producerState == "paused"
    assert len(carrier.connection._queue) == HIGH_WATER  # the rest is held
    gates[0].callback(None)
    assert [r["id"] for r in wire.sent] == list(range(HIGH_WATER + 30))
    assert wire.transport.producerState == "producing"


@pytest.mark.backend_free("the WebSocket transport")
def test_nothing_runs_while_the_client_does_not_read(market, gates):
    carrier, wire = ws_peer(market)
    wire.message(carrier, ping(0, "SLOW"))
    for i in range(1, 5):
        wire.message(carrier, ping(i))
    wire.transport.producer.pauseProducing()  # the write buffer is full
    gates[0].callback(None)
    assert [r["id"] for r in wire.sent] == [0]
    wire.transport.producer.resumeProducing()
    assert [r["id"] for r in wire.sent] == [0, 1, 2, 3, 4]


@pytest.mark.backend_free("the WebSocket transport")
@pytest.mark.parametrize("reads", [True, False])
def test_a_burst_waits_for_the_next_turn(market, reads):
    from cybermarket.server.connection import BURST

    carrier, wire = ws_peer(market, reads)
    wire.read([ping(i) for i in range(BURST + 20)])  # each a 400
    assert len(wire.sent) == BURST
    assert wire.transport.producerState == "paused"
    market.clock.advance(0)
    assert len(wire.sent) == BURST + 20
    assert wire.transport.producerState == "producing"
    if reads:
        wire.read([ping(i) for i in range(BURST)])  # a new read: a new burst
        assert len(wire.sent) == 2 * BURST + 20


@pytest.mark.backend_free("the WebSocket transport")
def test_too_large_is_known_before_the_message_ends(make_market):
    market = make_market(max_frame=100)
    carrier, wire = ws_peer(market)
    wire._bytesBuffer.add(b"x" * 101)  # the message goes on; the 413 does not wait
    assert wire.sent == [
        {
            "id": None,
            "status": 413,
            "message": "request frame too large",
            "error": {"code": "frame_too_large"},
        }
    ]
    assert wire.closed == 1009
    carrier.bytesMessageReceived(wire._bytesBuffer.done())
    wire.message(carrier, ping(1))
    assert len(wire.sent) == 1  # nothing more is read


@pytest.mark.backend_free("the WebSocket transport")
@pytest.mark.parametrize("reads", [True, False])
def test_a_partial_message_is_held_to_the_frame_timeout(market, reads):
    carrier, wire = ws_peer(market, reads)
    wire.read([ping(1), (b"\x83",)])  # a read that ends inside a message
    assert [r["id"] for r in wire.sent] == [1]
    market.clock.advance(market.app.settings.frame_timeout)
    assert wire.transport.disconnecting  # aborted
    assert carrier.connection._closing


@pytest.mark.backend_free("the WebSocket transport")
def test_whole_messages_start_no_frame_timer(market):
    carrier, wire = ws_peer(market, reads=True)
    wire.read([ping(i) for i in range(5)])
    assert carrier.connection._frame_timer is None


# --- the Twisted internals the frame limit relies on ----------------------------------


def client_frame(payload: bytes, fin: bool, opcode: int = 0x2) -> bytes:
    """One masked client frame (RFC 6455 5.2); opcode 0 continues a message."""
    head = bytes(((0x80 if fin else 0) | opcode,))
    n = len(payload)
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    else:
        head += bytes((0x80 | 127,)) + n.to_bytes(8, "big")
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_twisteds_message_buffers_are_where_the_frame_limit_bounds_them():
    """websocket.py bounds a message as it arrives by standing its own
    buffers in for two private attributes of Twisted's WebSocket wire
    protocol (Twisted has no hook for it).  If a Twisted release renames
    them, this fails, loudly, rather than the limit silently applying only
    once a message is whole (in memory)."""
    import dataclasses

    from twisted.web import _websocket_impl

    import twisted
    from cybermarket.server.websocket import TWISTED_BUFFERS

    wire = _websocket_impl._WebSocketWireProtocol
    fields = {field.name for field in dataclasses.fields(wire)}
    missing = [name for name in TWISTED_BUFFERS if name not in fields]
    assert not missing, (
        f"Twisted {twisted.__version__} has no {missing} on its WebSocket wire protocol:"
        " cybermarket/server/websocket.py can no longer bound a message while it arrives"
    )


@pytest.mark.backend_free("the WebSocket transport")
def test_a_message_over_the_limit_is_413_before_it_ends_through_twisteds_own_wire(
    make_market,
):
    """The same, end to end through Twisted's real wire protocol: the first
    fragment of a message passes the limit, and the 413 goes before its
    last fragment is sent."""
    from cybermarket.server.web import make_site
    from tests.test_web_limits import HTTPPeer

    market = make_market(max_frame=100)
    peer = HTTPPeer(make_site(market.factory, []), "10.0.0.7")
    peer.feed(raw_upgrade(None, True, handshake=True))
    assert peer.transport.value().startswith(b"HTTP/1.1 101 ")
    peer.transport.clear()
    peer.feed(client_frame(b"x" * 150, fin=False))  # the message is not over
    market.settle()
    out = peer.transport.value()
    assert b"request frame too large" in out, out
