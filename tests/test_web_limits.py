"""The web endpoint's HTTP connections (--web, and --metrics's) held to the
limits a protocol connection is held to, in process: the connection caps,
the frame timeout for a request, an idle timeout between requests, the
frame limit for a body, and no next request read while an answer waits
for the client to read it.  Each test plays an attack that took the
server's descriptors or memory before these limits."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from cybermarket.server import health
from cybermarket.server.metrics import Metrics
from cybermarket.server.web import load_files, make_site
from tests.harness import Refused

APP_JS = b"GET /app.js HTTP/1.1\r\nHost: shop.example\r\n\r\n"
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
# What a TCP transport holds before it tells its producer to pause
# (twisted.internet.abstract.FileDescriptor.bufferSize).
WRITE_BUFFER = 65536


def refusals(events, reason):
    return [e for e in events if e.get("reason") == reason]


class Unread(StringTransport):
    """A transport whose client reads only when the test says so: past
    WRITE_BUFFER unsent bytes it tells its producer to pause, as a TCP
    transport does once the kernel takes no more, and read() takes what
    was written and lets the producer go on."""

    def __init__(self, peer: IPv4Address) -> None:
        super().__init__(peerAddress=peer, lenient=True)
        self.full = False

    def write(self, data: bytes) -> None:
        super().write(data)
        if not self.full and self.producer is not None and len(self.value()) > WRITE_BUFFER:
            self.full = True
            self.producer.pauseProducing()

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def read(self) -> bytes:
        data = self.value()
        self.clear()
        if self.full and self.producer is not None:
            self.full = False
            self.producer.resumeProducing()
        return data


class HTTPPeer:
    """One HTTP connection to a site, from `host`."""

    def __init__(self, site, host: str = "10.0.0.1", via: str | None = None) -> None:
        address = IPv4Address("TCP", host, 4321)
        # Behind a balancer the port accepts the balancer's connection; the
        # transport then tells the client's address.
        accepted = IPv4Address("TCP", via, 5000) if via else address
        self.protocol = site.buildProtocol(accepted)
        if self.protocol is None:
            raise Refused(host)  # a real port closes the socket
        self.transport = Unread(address)
        self.protocol.makeConnection(self.transport)

    def feed(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def lose(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting or self.transport.disconnected


def web_site(market, **kwargs):
    return make_site(market.factory, [], **kwargs)


def metrics_site(market):
    return health.make_site(market.app, market.factory, Metrics())


SITES = {"web": web_site, "metrics": metrics_site}


# --- the connection caps ------------------------------------------------------------


@pytest.mark.parametrize("site", SITES)
def test_http_connections_count_in_the_per_address_cap(make_market, logged, site):
    """1,083 half-sent requests from one address used to hold as many
    descriptors, past the per-address cap, until other addresses' TCP
    connections were reset."""
    market = make_market(max_connections_per_address=2)
    made = SITES[site](market)
    first = HTTPPeer(made)
    first.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half sent
    HTTPPeer(made)
    with pytest.raises(Refused):
        market.peer("10.0.0.1")  # TCP from that address is over its cap now
    over = HTTPPeer(made)
    assert over.transport.value().startswith(b"HTTP/1.1 503 ")
    assert over.closed
    assert refusals(logged, "max-connections-per-address")
    assert market.peer("10.0.0.2").ok("PING") == {"protocol": "1.3"}  # another address
    first.lose()
    assert market.peer("10.0.0.1").ok("PING") == {"protocol": "1.3"}  # its place came back


@pytest.mark.parametrize("site", SITES)
def test_http_connections_count_in_the_total_cap(make_market, site):
    market = make_market(max_connections=2)
    made = SITES[site](market)
    first = HTTPPeer(made, "10.0.0.1")
    market.peer("10.0.0.2")
    over = HTTPPeer(made, "10.0.0.3")
    assert over.transport.value().startswith(b"HTTP/1.1 503 ") and over.closed
    with pytest.raises(Refused):
        market.peer("10.0.0.4")
    first.lose()
    market.peer("10.0.0.4")


def test_an_upgrade_takes_over_the_place_of_its_http_connection(make_market):
    """A WebSocket counts once: the place its HTTP connection took when it
    was accepted, given back when the WebSocket closes."""
    market = make_market(max_connections_per_address=2)
    site = web_site(market)
    ws = HTTPPeer(site)
    ws.feed(UPGRADE)
    assert ws.transport.value().startswith(b"HTTP/1.1 101 ")
    other = HTTPPeer(site)
    with pytest.raises(Refused):
        market.peer("10.0.0.1")
    other.lose()
    market.peer("10.0.0.1")  # the WebSocket and this one: two places
    ws.lose()
    assert market.factory._per_address == {"10.0.0.1": 1}
    assert market.factory._open == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        UPGRADE.replace(b"Sec-WebSocket-Version: 13\r\n", b""),  # refused by the handshake: 400
        UPGRADE.replace(b"\r\n\r\n", b"\r\nOrigin: http://evil.example\r\n\r\n"),  # 403
    ],
)
def test_a_refused_upgrade_keeps_one_place_and_gives_it_back(make_market, request_bytes):
    market = make_market(max_connections_per_address=2)
    site = web_site(market)
    peer = HTTPPeer(site)
    peer.feed(request_bytes)
    assert peer.transport.value()[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 403")
    assert market.factory._per_address == {"10.0.0.1": 1} and market.factory._open == 1
    peer.lose()
    assert market.factory._per_address == {} and market.factory._open == 0


def test_behind_a_balancer_the_caps_count_the_clients_address(make_market, logged):
    market = make_market(max_connections_per_address=1)
    site = web_site(market, proxied=True)
    first = HTTPPeer(site, "10.0.0.1", via="127.0.0.1")
    first.feed(APP_JS)
    other = HTTPPeer(site, "10.0.0.2", via="127.0.0.1")
    other.feed(APP_JS)
    assert not other.closed and b" 200 " in other.transport.value()
    again = HTTPPeer(site, "10.0.0.1", via="127.0.0.1")
    again.feed(APP_JS)
    assert again.transport.value().startswith(b"HTTP/1.1 503 ") and again.closed
    assert refusals(logged, "max-connections-per-address")[-1]["peer"] == "10.0.0.1"
    again.lose()
    first.lose()
    other.lose()
    assert market.factory._per_address == {} and market.factory._open == 0


# --- timeouts -------------------------------------------------------------------------


def test_a_request_must_be_whole_within_the_frame_timeout(make_market, logged):
    """A header byte every 25 s used to keep a connection for ever: each
    byte put off the idle timeout."""
    market = make_market(frame_timeout=5)
    peer = HTTPPeer(web_site(market))
    peer.feed(b"GET / HTTP/1.1\r\n")
    for _ in range(4):
        market.clock.advance(1)
        peer.feed(b"X")
    assert not peer.closed
    market.clock.advance(1)
    assert peer.transport.disconnected  # aborted
    assert refusals(logged, "frame-timeout")


def test_the_frame_timeout_does_not_run_between_requests(make_market):
    market = make_market(frame_timeout=5, idle_timeout=100)
    peer = HTTPPeer(web_site(market))
    answered = b""
    for _ in range(3):
        peer.feed(APP_JS)
        market.clock.advance(4)
        # Read as a browser does: two unread copies of app.js would fill the
        # write buffer, and then the next request is rightly not read.
        answered += peer.transport.read()
    assert answered.count(b"HTTP/1.1 200 ") == 3
    market.clock.advance(10)
    assert not peer.closed


@pytest.mark.parametrize("site", SITES)
def test_an_idle_keep_alive_connection_is_closed(make_market, site):
    market = make_market(idle_timeout=3)
    peer = HTTPPeer(SITES[site](market))
    peer.feed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert peer.transport.value().startswith(b"HTTP/1.1 ")
    market.clock.advance(2.9)
    assert not peer.closed
    market.clock.advance(0.1)
    assert peer.closed


def test_an_http_connection_never_used_is_closed(make_market):
    market = make_market(http_idle_timeout=2)
    peer = HTTPPeer(web_site(market))
    market.clock.advance(2)
    assert peer.closed


# --- bodies -----------------------------------------------------------------------------


def test_a_body_over_the_frame_limit_is_413_before_it_is_read(make_market):
    market = make_market(max_frame=1000)
    peer = HTTPPeer(web_site(market))
    peer.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n" + b"x" * 5000)
    assert peer.transport.value().startswith(b"HTTP/1.1 413 ")
    assert peer.closed


def test_a_chunked_body_over_the_frame_limit_is_413(make_market):
    market = make_market(max_frame=1000)
    peer = HTTPPeer(web_site(market))
    peer.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(20):
        if peer.closed:
            break
        peer.feed(b"100\r\n" + b"x" * 256 + b"\r\n")
    assert peer.transport.value().startswith(b"HTTP/1.1 413 ")
    assert peer.closed


def test_a_body_within_the_frame_limit_is_read_and_answered(make_market):
    market = make_market(max_frame=1000)
    peer = HTTPPeer(web_site(market))
    peer.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000 + APP_JS)
    answers = peer.transport.value()
    assert answers.startswith(b"HTTP/1.1 405 ") and answers.count(b"HTTP/1.1 200 ") == 1


# --- pipelined requests nobody reads ----------------------------------------------------


def test_pipelined_requests_wait_while_an_answer_is_unread(make_market):
    """20 connections pipelining GET /app.js without reading used to have
    every answer made and kept: 700 MB.  Now no request is read while the
    answers before it wait for the client, and the connection stops
    reading."""
    market = make_market()
    peer = HTTPPeer(web_site(market))
    size = len(load_files()["/app.js"].body)
    sent = 400
    peer.feed(APP_JS * sent)  # one read's worth
    held = peer.transport.value()
    assert held.count(b"HTTP/1.1 200 ") <= WRITE_BUFFER // size + 1
    assert peer.transport.producerState == "paused"  # reads no more
    peer.feed(APP_JS * sent)  # what a read in flight still brings
    assert peer.transport.value() == held
    answered = 0
    for _ in range(10 * sent):  # the client reads, a buffer at a time
        answered += peer.transport.read().count(b"HTTP/1.1 200 ")
        if answered == 2 * sent:
            break
    assert answered == 2 * sent  # in the end every request is answered
    assert peer.transport.producerState == "producing"


def test_an_unread_client_is_dropped_at_the_idle_timeout(make_market):
    market = make_market(http_idle_timeout=5)
    peer = HTTPPeer(web_site(market))
    peer.feed(APP_JS * 100)
    assert peer.transport.producerState == "paused"
    market.clock.advance(5)
    assert peer.transport.disconnected  # aborted: a gentle close would wait for ever


def test_a_client_gone_while_its_requests_wait_gives_its_place_back(make_market):
    market = make_market()
    peer = HTTPPeer(web_site(market))
    peer.feed(APP_JS * 100)
    assert peer.transport.producerState == "paused"
    peer.lose()
    assert market.factory._open == 0 and market.factory._per_address == {}
