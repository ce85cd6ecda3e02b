"""Hostile clients against the real server process: connection floods,
dribbled frames and clients that send but never read.  Each test is an
attack that took the server down, or made it hold memory without bound,
before the defence it checks.  Nothing waits a fixed time: every wait polls
with a deadline."""

import errno
import http.client
import os
import resource
import select
import socket
import time

import pytest
from sqlalchemy import create_engine, text

from tests.live import PASSWORD
from tests.seed import invitation, seed_stores
from tests.server import (
    HOST,
    free_port,
    holds_connection_from,
    unaccepted,
    unread_bytes,
    wait_until,
)
from tests.shop import store_args
from tests.wire import Client, frame, request


@pytest.fixture
def serve(launch, migrated_url):
    """serve(*options, descriptors=None, haproxy=False, web=False) -> a
    started Server of its own on a migrated database, killed at the end
    (conftest's launch)."""

    def start(*options, descriptors=None, haproxy=False, web=False):
        return launch(
            migrated_url, *options, descriptors=descriptors, haproxy=haproxy, web=web
        ).server

    return start


def closed_by_server(sock, timeout=10.0):
    """True once the server has closed `sock` (end of file or a reset)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def ping_from(server, source):
    with Client(server.port, HOST, timeout=10.0, source=source) as client:
        return client.call("PING")["status"]


def open_many(port, count, source="127.0.0.1", timeout=60.0):
    """`count` connections from `source`, all connected when this returns.
    Their handshakes are started at once, as a flood's are: one at a time,
    each one the server's full accept queue holds back waits out a SYN
    retransmission before the next can start."""
    socks, waiting = [], {}
    poller = select.poll()
    try:
        for _ in range(count):
            sock = socket.socket()
            socks.append(sock)
            sock.bind((source, 0))
            sock.setblocking(False)
            error = sock.connect_ex((HOST, port))
            if error not in (0, errno.EINPROGRESS):
                raise OSError(error, os.strerror(error))
            waiting[sock.fileno()] = sock
            poller.register(sock, select.POLLOUT)
        deadline = time.monotonic() + timeout
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(waiting)} connections not made within {timeout:g} s")
            for fd, _ in poller.poll(left * 1000):
                sock = waiting.pop(fd)
                poller.unregister(fd)
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
                sock.setblocking(True)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


# --- connection floods ---------------------------------------------------------


@pytest.mark.backend_free("the network layer")
def test_connections_over_the_per_address_cap_are_closed(serve):
    server = serve("--max-connections-per-address", "3")
    socks = open_many(server.port, 5)
    try:
        closed = [closed_by_server(s, timeout=0.5 if i < 3 else 10.0) for i, s in enumerate(socks)]
        assert closed == [False, False, False, True, True]
        assert ping_from(server, "127.0.0.2") == 200
        wait_until(lambda: "--max-connections-per-address" in server.log, 10, what="a log line")
    finally:
        for sock in socks:
            sock.close()
    # The address's count goes down as its connections close.
    wait_until(lambda: _pings(server, "127.0.0.1"), 10, what="127.0.0.1 served again")


def _pings(server, source):
    try:
        return ping_from(server, source) == 200
    except (ConnectionError, OSError):
        return False


@pytest.mark.backend_free("the network layer")
def test_a_flood_from_one_address_cannot_exhaust_the_descriptors(serve):
    """1,100 idle connections from one address under a 1,024 open-file
    limit used to take every descriptor, after which nobody was answered.
    The flood must reach the per-address cap, be refused there and be
    logged: with Twisted's listen backlog of 50 the kernel dropped most of
    its handshakes while the reactor was busy accepting (the client is told
    it is connected; the server never hears of it), so the cap was reached
    only when the server happened to accept fast enough, and Twisted 26.10
    rarely did; --listen-backlog (1,024) queues the burst instead."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    server = serve(descriptors=1024)
    socks = open_many(server.port, 1100)
    try:
        assert ping_from(server, "127.0.0.2") == 200
        assert server.running
        wait_until(
            lambda: "refused a connection from 127.0.0.1" in server.log, 10, what="a log line"
        )
    finally:
        for sock in socks:
            sock.close()


# --- frames dribbled ---------------------------------------------------------------


@pytest.mark.backend_free("the network layer")
def test_a_frame_not_finished_in_time_closes_the_connection(serve):
    server = serve("--frame-timeout", "1")
    with Client(server.port, HOST, timeout=10.0) as client:
        client.send_raw(frame(request("PING"))[:3])
        started = time.monotonic()
        assert closed_by_server(client.sock, timeout=15.0)
        assert time.monotonic() - started < 10  # long before the idle timeout
    wait_until(lambda: "--frame-timeout" in server.log, 10, what="a log line")


# --- clients that do not read ---------------------------------------------------


def _seed_big_store(database_url, storename, count=1000):
    """`count` products with long descriptions: a LIST_PRODUCT of this store
    is about 2 MB."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        merchant_id = conn.execute(
            text("SELECT id FROM merchants WHERE storename = :s"), {"s": storename}
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO products (merchant_id, productname, description, price_cents,"
                " stock, on_shelf, created_at)"
                " VALUES (:m, :n, :d, 100, 5, :t, '2026-01-01 00:00:00')"
            ),
            [
                {"m": merchant_id, "n": f"product {i}", "d": "d" * 2000, "t": True}
                for i in range(count)
            ],
        )
    engine.dispose()


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in ticks of 1/100 s


def _until_quiet(pid, quiet=0.5, timeout=60.0):
    """Wait until the process has used no CPU for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = _cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("the server kept working")


@pytest.mark.backend_free("the network layer")
def test_requests_of_a_client_that_does_not_read_wait_for_it(serve, database_url):
    """A client pipelining big listings without reading used to have every
    one of them built and kept in memory.  Now requests wait until the
    client reads: the answers it finally reads are built after a change made
    while it stalled."""
    server = serve()
    seed_stores(database_url, ["big"], PASSWORD)
    with server.client() as merchant:
        merchant.ok("MERCHANT_LOGIN", login="big", password=PASSWORD)
        product_id = merchant.ok(
            "MERCHANT_ADD_PRODUCT", productname="marker", price="1.00", description=""
        )["product_id"]
        _seed_big_store(database_url, "big")

        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((HOST, server.port))
        try:
            slow.sendall(
                b"".join(frame(request("LIST_PRODUCT", i, storename="big")) for i in range(1, 41))
            )
            _until_quiet(server.pid)
            # Meanwhile other connections are served.
            assert ping_from(server, "127.0.0.3") == 200
            merchant.ok("SET_PRODUCT", product_id=product_id, price="2.00")

            reader = Client.__new__(Client)
            reader.sock, reader.next_id = slow, 0
            slow.settimeout(60)
            prices = []
            for _ in range(40):
                page = reader.receive()["data"]
                first = dict(zip(page["columns"], page["rows"][0], strict=True))
                assert first["product_id"] == product_id
                prices.append(first["price"])
        finally:
            slow.close()
    # A few answers were made before the client's buffers filled; the rest
    # waited for it and show the new price.
    assert prices.count("2.00") >= 30, prices


# --- the web endpoint's HTTP connections ----------------------------------------

HALF_SENT = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # the blank line never comes
APP_JS = b"GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def http_status_from(port, path, source):
    """The status of GET `path` on `port` from the address `source`, or the
    name of the error that stopped it."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        conn.close()


def held_by_server(socks):
    """How many of `socks` the server still holds open."""
    held = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            sock.recv(1)  # an answer (the 503) or the end of file: refused
        except BlockingIOError:
            held += 1  # nothing to read, no end of file
        except OSError:
            pass
    return held


@pytest.mark.backend_free("the network layer")
def test_half_sent_web_requests_from_one_address_cannot_take_the_descriptors(serve):
    """1,083 half-sent requests to --web from one address under a 1,100
    open-file limit used to take the descriptors (plain HTTP connections
    were not counted): other addresses' TCP connections were reset and
    /metrics went down.  Now they count in the same caps as TCP."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    metrics = free_port()
    server = serve(
        "--metrics",
        f"tcp:{metrics}:interface={HOST}",
        "--frame-timeout=300",  # the half-sent requests stay while the test runs
        descriptors=1024,
        web=True,
    )
    socks = []
    try:
        # In batches that the listen queue holds, each accepted before the
        # next: a server that has run out of descriptors accepts no more.
        while len(socks) < 1100:
            batch = open_many(server.web_port, 40)
            socks += batch
            for sock in batch:
                try:
                    sock.send(HALF_SENT)
                except OSError:
                    pass  # refused already
            wait_until(lambda: not unaccepted(server.web_port), 10, what="the server to accept")
        assert ping_from(server, "127.0.0.2") == 200
        assert http_status_from(metrics, "/metrics", "127.0.0.2") == 200
        assert http_status_from(server.web_port, "/", "127.0.0.2") == 200
        # The address's cap is full, for TCP as for HTTP.
        assert not _pings(server, "127.0.0.1")
        assert http_status_from(server.web_port, "/", "127.0.0.1") == 503
        assert held_by_server(socks) == 256
        wait_until(lambda: "--max-connections-per-address" in server.log, 10, what="a log line")
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: _pings(server, "127.0.0.1"), 10, what="127.0.0.1 served again")


def _closed_while_dribbling(sock, every, timeout):
    """Send a header byte every `every` seconds until the server closes
    `sock`; True once it has, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sock.send(b"X")
        except OSError:
            return True
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            try:
                if sock.recv(1) == b"":
                    return True
            except OSError:
                return True
    return False


@pytest.mark.backend_free("the network layer")
def test_a_web_request_dribbled_a_byte_at_a_time_is_closed_at_the_frame_timeout(serve):
    """A header byte every 25 s used to keep a web connection for ever:
    each byte put off Twisted's idle timeout."""
    server = serve("--frame-timeout", "1", web=True)
    with socket.create_connection((HOST, server.web_port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert _closed_while_dribbling(sock, every=0.2, timeout=10)
    wait_until(lambda: "--frame-timeout" in server.log, 10, what="a log line")


@pytest.mark.backend_free("the network layer")
def test_an_idle_keep_alive_web_connection_is_closed(serve):
    server = serve("--idle-timeout", "1", web=True)
    conn = http.client.HTTPConnection(HOST, server.web_port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        assert not response.will_close  # kept alive
        assert closed_by_server(conn.sock, timeout=10)
    finally:
        conn.close()


def _rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.backend_free("the network layer")
def test_unread_pipelined_web_requests_are_not_read(serve):
    """Connections pipelining GET /app.js without reading used to have all
    their requests read and every answer kept in memory (20 of them: RSS
    144 -> 863 MB).  Now the server stops reading a connection while an
    answer waits for the client: the requests wait in the kernel."""
    server = serve(web=True)
    before = _rss(server.pid)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((HOST, server.web_port))
    try:
        sock.setblocking(False)
        pending = memoryview(APP_JS * 8000)  # 344 KB of requests, 135 MB of answers
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            try:
                pending = pending[sock.send(pending) :]
            except BlockingIOError:
                time.sleep(0.05)
        _until_quiet(server.pid)
        assert unread_bytes(server.web_port, sock.getsockname()[1]) > 0
        assert _rss(server.pid) - before < 32 << 20
    finally:
        sock.close()


# --- behind a balancer that sends the PROXY protocol ----------------------------


def test_behind_a_balancer_each_client_has_its_own_address(serve, database_url):
    """Every connection comes from the balancer's address; the limits must
    count the addresses the PROXY headers name, or a few wrong logins lock
    out every user and a few connections fill the per-address cap."""
    server = serve(
        "--login-failures",
        "3",
        "--login-failures-per-address",
        "3",
        "--max-connections-per-address",
        "20",
        haproxy=True,
    )
    with server.client(claim="10.0.0.1") as owner:
        code = invitation(database_url)
        assert owner.call("MERCHANT_CREATE", **store_args("shop", PASSWORD, code))["status"] == 201
    for i in range(1, 4):
        with server.client(claim=f"10.1.0.{i}") as guesser:
            assert (
                guesser.call("CLIENT_LOGIN", login=f"nobody{i}", password="wrong")["status"] == 401
            )
    with server.client(claim="10.9.9.9") as other:
        assert other.call("MERCHANT_LOGIN", login="shop", password=PASSWORD)["status"] == 200
    # 30 clients, each from its own address, all served.
    clients = [server.client(claim=f"10.2.0.{i}") for i in range(1, 31)]
    try:
        assert [c.call("PING")["status"] for c in clients] == [200] * 30
    finally:
        for client in clients:
            client.close()
    wait_until(lambda: "from 10.1.0.3" in server.log, 10, what="the client's address in the log")


@pytest.mark.backend_free("the network layer")
def test_a_client_that_stops_reading_is_dropped_at_the_idle_timeout(serve, database_url):
    """Closing gently waits for the written answers to go out, which never
    happens while the client does not read: such connections, and the
    answers they hold, used to stay for good."""
    server = serve("--idle-timeout", "2")
    seed_stores(database_url, ["big"], PASSWORD)
    _seed_big_store(database_url, "big")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((HOST, server.port))
    try:
        slow.sendall(b"".join(frame(request("LIST_PRODUCT", i, storename="big")) for i in range(3)))
        client_port = slow.getsockname()[1]
        wait_until(
            lambda: holds_connection_from(server.pid, client_port), 10, what="the connection"
        )
        wait_until(
            lambda: not holds_connection_from(server.pid, client_port),
            30,
            what="the server to drop it",
        )
    finally:
        slow.close()
