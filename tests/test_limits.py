"""What one peer may cost the server, in process: requests handled while
the client does not read, bytes held per connection, connection caps and
the frame timeout.  Each test is an attack a hostile client can make."""

import msgpack
import pytest

from cybermarket.server import limits
from tests.harness import Refused
from tests.wire import frame, request

PAD = "x" * 500  # a request of about 520 bytes: PING ignores envelope keys


def padded_ping(request_id):
    return frame(msgpack.packb({"id": request_id, "op": "PING", "pad": PAD}))


def refusals(events, reason):
    return [e for e in events if e.get("reason") == reason]


# --- a client that does not read ------------------------------------------------


def test_no_request_is_handled_while_the_client_does_not_read(market, gates):
    """Answers nobody reads are not made: a client pipelining big listings
    without reading would otherwise hold every answer in server memory."""
    peer = market.peer()
    peer.feed(frame(request("SLOW", 0)) + b"".join(frame(request("PING", i)) for i in range(1, 11)))
    peer.transport.producer.pauseProducing()  # the write buffer is full
    gates[0].callback(None)
    # The request in flight is answered; nothing queued behind it is run.
    assert [r["id"] for r in peer.responses()] == [0]
    assert len(peer.protocol.connection._queue) == 10
    peer.transport.producer.resumeProducing()
    assert [r["id"] for r in peer.responses()] == list(range(1, 11))


def test_handling_stops_as_soon_as_an_answer_fills_the_write_buffer(market):
    peer = market.peer()
    transport = peer.transport
    written = []

    def write(data):
        written.append(data)
        if len(written) == 2:  # the second answer fills the buffer
            peer.protocol.connection._write_buffer.pauseProducing()

    transport.write = write
    peer.feed(b"".join(frame(request("PING", i)) for i in range(1, 6)))
    assert len(written) == 2
    peer.protocol.connection._write_buffer.resumeProducing()
    market.settle()
    assert len(written) == 5


def test_queued_requests_are_bounded_in_bytes(make_market, gates):
    market = make_market(connection_buffer=2048)
    peer = market.peer()
    peer.feed(frame(request("SLOW", 0)))
    for i in range(1, 4):
        peer.feed(padded_ping(i))
    assert peer.transport.producerState == "producing"  # about 1,560 bytes queued
    peer.feed(padded_ping(4))
    assert peer.transport.producerState == "paused"  # over 2,048: stop reading
    # Frames that arrive anyway stay unparsed: the queue does not grow.
    peer.feed(b"".join(padded_ping(i) for i in range(5, 20)))
    assert len(peer.protocol.connection._queue) == 4
    gates[0].callback(None)
    assert [r["id"] for r in peer.responses()] == list(range(20))
    assert peer.transport.producerState == "producing"


def test_default_connection_buffer_holds_several_largest_frames(market):
    assert market.app.settings.connection_buffer >= 4 * market.app.settings.max_frame


# --- connection caps -------------------------------------------------------------


def test_connections_over_the_cap_are_refused_and_logged(make_market, logged):
    market = make_market(max_connections=3)
    peers = [market.peer(host=f"10.0.0.{i}") for i in range(3)]
    with pytest.raises(Refused):
        market.peer(host="10.0.0.9")
    assert refusals(logged, "max-connections")
    peers[0].lose()
    assert market.peer(host="10.0.0.9").ok("PING") == {"protocol": "1.3"}


def test_connections_per_address_are_capped(make_market, logged):
    market = make_market(max_connections_per_address=2)
    first = [market.peer(host="10.0.0.1") for _ in range(2)]
    with pytest.raises(Refused):
        market.peer(host="10.0.0.1")
    assert refusals(logged, "max-connections-per-address")
    # Another address is not held to the first one's count.
    assert market.peer(host="10.0.0.2").ok("PING") == {"protocol": "1.3"}
    first[1].lose()
    assert market.peer(host="10.0.0.1").ok("PING") == {"protocol": "1.3"}


def test_refusals_are_logged_without_flooding_the_log(make_market, logged):
    market = make_market(max_connections_per_address=1)
    market.peer(host="10.0.0.1")
    for _ in range(50):
        with pytest.raises(Refused):
            market.peer(host="10.0.0.1")
    assert 1 <= len(refusals(logged, "max-connections-per-address")) <= 2
    market.clock.advance(limits.LOG_EVERY)
    with pytest.raises(Refused):
        market.peer(host="10.0.0.1")
    last = refusals(logged, "max-connections-per-address")[-1]
    assert last["count"] >= 49  # the refusals not logged one by one are counted


def test_default_per_address_cap(market):
    assert market.app.settings.max_connections_per_address == 256


def test_default_connection_cap_leaves_room_for_the_database_and_logs():
    assert limits.connection_cap(1024) == 1024 - limits.RESERVED_DESCRIPTORS
    assert limits.connection_cap(100) >= 1  # never nothing at all


def test_descriptor_limit_is_raised_to_the_hard_limit():
    calls = []

    def setrlimit(which, values):
        calls.append(values)

    soft = limits.raise_descriptor_limit(getrlimit=lambda which: (1024, 4096), setrlimit=setrlimit)
    assert soft == 4096
    assert calls == [(4096, 4096)]


def test_unlimited_hard_descriptor_limit_is_not_taken_literally():
    import resource

    calls = []
    soft = limits.raise_descriptor_limit(
        getrlimit=lambda which: (1024, resource.RLIM_INFINITY),
        setrlimit=lambda which, values: calls.append(values),
    )
    assert soft == limits.MOST_DESCRIPTORS
    assert calls == [(limits.MOST_DESCRIPTORS, resource.RLIM_INFINITY)]


def test_descriptor_limit_stays_when_it_cannot_be_raised():
    def refuse(which, values):
        raise ValueError("not allowed")

    soft = limits.raise_descriptor_limit(getrlimit=lambda which: (1024, 4096), setrlimit=refuse)
    assert soft == 1024


# --- frame timeout ---------------------------------------------------------------


def test_a_frame_must_be_complete_within_the_frame_timeout(make_market, logged):
    market = make_market(frame_timeout=5, idle_timeout=100)
    peer = market.peer()
    data = frame(request("PING", 1))
    # A byte every second keeps the idle timer from firing, but not this one.
    for i in range(5):
        peer.feed(data[i : i + 1])
        assert not peer.closed
        market.clock.advance(1)
    assert peer.closed
    assert refusals(logged, "frame-timeout")


def test_frames_completed_in_time_keep_the_connection(make_market):
    market = make_market(frame_timeout=5, idle_timeout=100)
    peer = market.peer()
    for i in range(1, 4):
        data = frame(request("PING", i))
        peer.feed(data[:3])
        market.clock.advance(4)
        peer.feed(data[3:])
        assert peer.responses()[0]["id"] == i
        market.clock.advance(4)  # between frames the frame timer does not run
    assert not peer.closed


def test_frame_timer_waits_while_the_server_does_not_read(make_market, gates):
    """Bytes held back because the server paused reading are not the
    client's delay."""
    market = make_market(frame_timeout=5, idle_timeout=100)
    peer = market.peer()
    peer.transport.producer.pauseProducing()
    peer.feed(frame(request("PING", 1)) + frame(request("PING", 2))[:3])
    market.clock.advance(10)
    assert not peer.closed
    peer.transport.producer.resumeProducing()
    assert [r["id"] for r in peer.responses()] == [1]
    market.clock.advance(5)  # now the half frame is the client's to finish
    assert peer.closed


# --- behind a balancer (haproxy: endpoints) -----------------------------------------


def proxied_peer(market, client_host):
    """A connection accepted from the balancer (127.0.0.1) whose PROXY
    header named `client_host`: what the transport's getPeer() then says."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    protocol = market.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", client_host, 4321))
    protocol.makeConnection(transport)
    return protocol, transport


def test_behind_a_balancer_the_cap_counts_the_clients_address(make_market, logged):
    market = make_market(proxied=True, max_connections_per_address=1)
    first, _ = proxied_peer(market, "10.0.0.1")
    other, other_transport = proxied_peer(market, "10.0.0.2")
    first.dataReceived(frame(request("PING", 1)))
    other.dataReceived(frame(request("PING", 1)))
    assert other.connection.peer == "10.0.0.2" and not other_transport.disconnecting
    again, again_transport = proxied_peer(market, "10.0.0.1")
    again.dataReceived(frame(request("PING", 1)))
    assert again_transport.disconnecting
    assert refusals(logged, "max-connections-per-address")[-1]["peer"] == "10.0.0.1"


def test_a_client_that_stops_reading_is_dropped_at_the_idle_timeout(make_market):
    """Closing gently waits for the answers to be written, which a client
    that does not read never allows: the connection (and the answer it
    holds) would stay for ever."""
    market = make_market(idle_timeout=5)
    peer = market.peer()
    peer.feed(frame(request("PING", 1)) + frame(request("PING", 2)))
    peer.transport.producer.pauseProducing()  # nothing drains any more
    market.clock.advance(5)
    assert peer.transport.disconnected  # aborted, not just asked to close


def test_an_idle_client_that_reads_is_closed_gently(make_market):
    market = make_market(idle_timeout=5)
    peer = market.peer()
    peer.ok("PING")
    market.clock.advance(5)
    assert peer.closed and not peer.transport.disconnected


# --- big pages ----------------------------------------------------------------


def test_a_page_of_long_rows_ends_early_and_paging_still_finds_every_row(make_market):
    """An answer is what a client that does not read leaves in the server's
    memory: a page of 1,000 products with 2,000-character descriptions (up
    to 8 MB) is cut to about --max-page-bytes, with `next` to go on."""
    market = make_market(page_bytes=10_000)
    shop = market.merchant("shop")
    ids = [
        shop.ok("MERCHANT_ADD_PRODUCT", productname=f"p{i}", price="1", description="é" * 2000)[
            "product_id"
        ]
        for i in range(12)
    ]
    seen, after, pages = [], None, 0
    while True:
        data = market.peer().ok("LIST_PRODUCT", storename="shop", after=after)
        pages += 1
        assert 1 <= len(data["rows"]) <= 3  # 4,000 bytes a row
        seen += [row[0] for row in data["rows"]]
        after = data["next"]
        if after is None:
            break
    assert seen == ids and pages >= 4


def test_a_single_row_bigger_than_the_budget_still_comes(make_market):
    market = make_market(page_bytes=100)
    shop = market.merchant("shop")
    shop.ok("MERCHANT_ADD_PRODUCT", productname="p", price="1", description="x" * 500)
    data = market.peer().ok("LIST_PRODUCT", storename="shop")
    assert len(data["rows"]) == 1 and data["next"] is None


def test_the_default_page_budget_is_a_mebibyte(market):
    assert market.app.settings.page_bytes == 1 << 20


def test_every_paged_op_keeps_to_the_page_budget(make_market):
    """Each listing that pages is cut by the budget of its own server: two
    servers on one database, with budgets of 120 and 10 bytes."""
    market, tiny = make_market(page_bytes=120), make_market(page_bytes=10)
    shop = market.merchant("shop")
    market.merchant("s" * 60, email="s@example.com")
    alice = market.client("alice", password="client-pass")
    for i in range(2):
        product_id = shop.ok(
            "MERCHANT_ADD_PRODUCT", productname=f"p{i}", price="1", description="x" * 200, stock=5
        )["product_id"]
        alice.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=1)
        alice.ok("CLIENT_CHECKOUT_ITEM")
    ann = tiny.peer()
    ann.ok("CLIENT_LOGIN", login="alice", password="client-pass")
    tiny_shop = tiny.peer()
    tiny_shop.ok("MERCHANT_LOGIN", login="shop", password="merchant-pass")
    for peer, op, args in (
        (market.peer(), "LIST_PRODUCT", {"storename": "shop"}),
        (shop, "MERCHANT_LIST_PRODUCTS", {}),
        (market.peer(), "LIST_MERCHANT", {}),
        (ann, "CLIENT_LIST_ORDERS", {}),
        (tiny_shop, "MERCHANT_LIST_ORDERS", {}),
    ):
        data = peer.ok(op, **args)
        assert len(data["rows"]) == 1 and data["next"] is not None, op
    # The same orders, under the larger budget, come in one page.
    data = alice.ok("CLIENT_LIST_ORDERS")
    assert len(data["rows"]) == 2 and data["next"] is None
    data = shop.ok("MERCHANT_LIST_ORDERS")
    assert len(data["rows"]) == 2 and data["next"] is None


# --- floods of tiny requests ---------------------------------------------------------


def test_one_read_answers_at_most_a_burst_before_others_get_a_turn(market):
    """A 64 KiB read can hold 13,000 tiny requests; answering them all in
    one go stalled every other connection for a quarter of a second."""
    from cybermarket.server.protocol import BURST

    peer = market.peer()
    count = 3 * BURST + 7
    peer.feed(b"".join(frame(b"\xc1") for _ in range(count)))  # each a 400
    assert len(peer.responses()) == BURST
    assert peer.transport.producerState == "paused"
    other = market.peer(host="10.0.0.2")
    assert other.call("PING")["status"] == 200  # served meanwhile
    # The rest comes at the reactor's next turns.
    market.clock.advance(0)
    assert len(peer.responses()) == count - BURST
    assert peer.transport.producerState == "producing"


def test_refusals_after_the_last_log_line_are_reported_later(make_market, logged):
    market = make_market(max_connections_per_address=1)
    market.peer(host="10.0.0.1")
    for _ in range(30):
        with pytest.raises(Refused):
            market.peer(host="10.0.0.1")
    assert len(refusals(logged, "max-connections-per-address")) == 1
    market.clock.advance(limits.LOG_EVERY)  # no further refusal comes
    late = refusals(logged, "max-connections-per-address")
    assert len(late) == 2 and late[-1]["count"] == 29
