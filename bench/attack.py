"""Attacks on a real server, with its memory and PING latency before and
during each one.

    .venv/bin/python bench/attack.py [--database URL] [--seconds 8] [ATTACK ...]

ATTACK is any of: slow-readers, slow-readers-100, flood-one, flood-many, logins, old-password,
hashes, web-flood, unread-pipelines, token-race, cart-race, order-race, office, upgrades,
accept-language, accept-language-novel, norwegian, nuls, surrogates, rare-words, many-words,
photo-flood, photo-tokens (default: all; upgrades and nuls are the controls of the attacks
after them).
Each attack gets a fresh `twistd cybermarket` on a free loopback port, with
the web endpoint (--web) on another.  While it runs, another connection (from its own
loopback address) sends a PING every 10 ms; the line printed per attack
gives the server's RSS before and at its peak during the attack, PING p50
and p99 before and during, and what the attack achieved.  Traffic goes only
to 127.0.0.0/8, and every attack stops by itself.
"""

import argparse
import json
import os
import random
import resource
import socket
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

import msgpack
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    RejectConnection,
    Request,
    TextMessage,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import Servers, fresh_database

PASSWORD = "attack-bench-password"
HEADER = struct.Struct(">I")


class Conn:
    """A blocking connection from a chosen loopback address."""

    def __init__(self, port, source="127.0.0.1", timeout=60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout, (source, 0))
        self.next_id = 0

    def send(self, op, **args):
        self.next_id += 1
        body = msgpack.packb({"id": self.next_id, "op": op, "args": args})
        self.sock.sendall(HEADER.pack(len(body)) + body)

    def receive(self):
        (length,) = HEADER.unpack(self._exactly(4))
        return msgpack.unpackb(self._exactly(length), raw=False)

    def _exactly(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return bytes(data)

    def call(self, op, **args):
        self.send(op, **args)
        return self.receive()

    def close(self):
        self.sock.close()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Watch:
    """PINGs every 10 ms from 127.0.0.250 and RSS samples, in a thread."""

    def __init__(self, port, pid):
        self.port, self.pid = port, pid
        self.pings, self.peak, self.failed = [], 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        conn = Conn(self.port, "127.0.0.250", timeout=5.0)
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                conn.call("PING")
                self.pings.append(time.perf_counter() - started)
            except OSError:
                self.failed += 1
                conn = Conn(self.port, "127.0.0.250", timeout=5.0)
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)
        conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def figures(self):
        if not self.pings:
            return float("nan"), float("nan")
        ms = sorted(p * 1000 for p in self.pings)
        return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


# --- setting the scene ---------------------------------------------------------


def merchant(servers, storename="shop"):
    conn = Conn(servers.port)
    answer = conn.call(
        "MERCHANT_CREATE",
        storename=storename,
        description="",
        email=f"{storename}@example.com",
        password=PASSWORD,
        inviter=None,
        code=servers.invite(),
    )
    assert answer["status"] == 201, answer
    assert conn.call("MERCHANT_LOGIN", login=storename, password=PASSWORD)["status"] == 200
    return conn


def big_store(servers, products=1000):
    """A store whose LIST_PRODUCT is about 2 MB."""
    conn = merchant(servers, "big")
    for i in range(products):
        conn.send(
            "MERCHANT_ADD_PRODUCT",
            productname=f"product {i}",
            price="9.99",
            description="d" * 2000,
            stock=10,
        )
    for _ in range(products):
        assert conn.receive()["status"] == 200
    conn.close()


def customer(servers, name="victim"):
    conn = Conn(servers.port)
    answer = conn.call(
        "CLIENT_CREATE", username=name, email=f"{name}@example.com", password=PASSWORD
    )
    assert answer["status"] == 201, answer
    conn.close()


# --- the attacks: each returns what it achieved, as text -----------------------


def _slow_readers(servers, seconds, readers, requests):
    socks = []
    for i in range(readers):
        conn = Conn(servers.port, f"127.0.1.{i % 200 + 1}")
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for _ in range(requests):
            conn.send("LIST_PRODUCT", storename="big")
        socks.append(conn)
    time.sleep(seconds)
    for conn in socks:
        conn.close()
    return f"{readers} readers x {requests} listings of a store with 2 MB of text, never read"


def slow_readers(servers, seconds):
    """6 connections pipeline 64 LIST_PRODUCT of a 1,000-product store each
    and never read."""
    return _slow_readers(servers, seconds, 6, 64)


def slow_readers_100(servers, seconds):
    """100 connections pipeline 2 such listings each and never read."""
    return _slow_readers(servers, seconds, 100, 2)


def _flood(servers, seconds, sources, per_source):
    socks, refused = [], 0
    for source in sources:
        for _ in range(per_source):
            try:
                sock = socket.socket()
                sock.bind((source, 0))
                sock.settimeout(5)
                sock.connect(("127.0.0.1", servers.port))
                socks.append(sock)
            except OSError:
                refused += 1
    time.sleep(seconds)
    # A newcomer from another address, while the flood holds its connections.
    try:
        victim = Conn(servers.port, "127.0.0.251", timeout=5.0)
        status = victim.call("PING")["status"]
        victim.close()
    except OSError as e:
        status = type(e).__name__
    held = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            held += sock.recv(1) != b""
        except BlockingIOError:
            held += 1  # still open: nothing to read, no end of file
        except OSError:
            pass
        sock.close()
    return f"{len(socks) + refused} opened, {held} held by the server; newcomer's PING {status}"


def flood_one(servers, seconds):
    """1,100 idle connections from one address, server limited to 1,024 files."""
    return _flood(servers, seconds, ["127.0.2.1"], 1100)


def flood_many(servers, seconds):
    """300 idle connections from each of 8 addresses."""
    return _flood(servers, seconds, [f"127.0.3.{i}" for i in range(1, 9)], 300)


def logins(servers, seconds):
    """40 wrong logins for one account sent at once from one address."""
    customer(servers)
    conns = [Conn(servers.port, "127.0.4.1") for _ in range(40)]
    for conn in conns:
        conn.send("CLIENT_LOGIN", login="victim", password="wrong password")
    statuses = [conn.receive()["status"] for conn in conns]
    for conn in conns:
        conn.close()
    return f"answers that were not 429: {sum(s != 429 for s in statuses)} of 40"


def old_password(servers, seconds):
    """20 wrong old passwords on one logged-in connection."""
    customer(servers)
    conn = Conn(servers.port, "127.0.5.1")
    assert conn.call("CLIENT_LOGIN", login="victim", password=PASSWORD)["status"] == 200
    statuses = [
        conn.call("SET_CLIENT_PASSWORD", old_password=f"guess {i}", new_password="new password 1")[
            "status"
        ]
        for i in range(20)
    ]
    conn.close()
    return f"guesses checked (403): {statuses.count(403)} of 20, then 429: {statuses.count(429)}"


def hashes(servers, seconds):
    """One address queues 60 account creations with fresh names (each a
    password hash) while another logs in."""
    customer(servers)
    floods = [Conn(servers.port, "127.0.6.1") for _ in range(6)]
    for i, conn in enumerate(floods):
        for j in range(10):
            conn.send(
                "CLIENT_CREATE",
                username=f"flood{i}x{j}",
                email=f"flood{i}x{j}@example.com",
                password=PASSWORD,
            )
    time.sleep(0.2)
    victim = Conn(servers.port, "127.0.6.2")
    started = time.perf_counter()
    status = victim.call("CLIENT_LOGIN", login="victim", password=PASSWORD)["status"]
    waited = time.perf_counter() - started
    statuses = [conn.receive()["status"] for conn in floods for _ in range(10)]
    for conn in floods + [victim]:
        conn.close()
    return (
        f"victim's login {status} in {waited:.2f} s; flood: {statuses.count(201)} created, "
        f"{statuses.count(503)} refused busy"
    )


HALF_SENT = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # the blank line never comes
APP_JS = b"GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def http_status(port, source):
    """The status of GET / on `port` from `source`, or the error's name."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        conn.close()


def web_flood(servers, seconds):
    """1,100 half-sent HTTP requests to --web from one address, server
    limited to 1,024 files."""
    socks, refused = [], 0
    for _ in range(1100):
        sock = socket.socket()
        try:
            sock.bind(("127.0.8.1", 0))
            sock.settimeout(5)
            sock.connect(("127.0.0.1", servers.web_port))
        except OSError:
            refused += 1
            sock.close()
            continue
        socks.append(sock)
        try:
            sock.send(HALF_SENT)
        except OSError:
            pass  # answered 503 and closed already
    time.sleep(seconds)
    try:
        victim = Conn(servers.port, "127.0.0.251", timeout=5.0)
        status = victim.call("PING")["status"]
        victim.close()
    except OSError as e:
        status = type(e).__name__
    page = http_status(servers.web_port, "127.0.0.252")
    held = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            sock.recv(1)  # the 503, or the end of file: not held
        except BlockingIOError:
            held += 1
        except OSError:
            pass
        sock.close()
    return (
        f"{len(socks) + refused} opened, {held} held by the server; "
        f"newcomer's PING {status}, its GET / {page}"
    )


def unread_pipelines(servers, seconds):
    """20 connections pipeline 90 KB each of GET /app.js (1.8 MB, 45,000
    requests, 760 MB of answers) and never read."""
    socks, sent = [], 0
    for i in range(20):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind((f"127.0.9.{i + 1}", 0))
        sock.connect(("127.0.0.1", servers.web_port))
        sock.setblocking(False)
        socks.append([sock, memoryview(APP_JS * 2250)])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for entry in socks:
            sock, pending = entry
            try:
                done = sock.send(pending) if pending else 0
            except (BlockingIOError, OSError):
                continue
            entry[1] = pending[done:]
            sent += done
        time.sleep(0.05)
    for sock, _ in socks:
        sock.close()
    return f"20 connections x 90 KB of GET /app.js, never read: {sent // 1024} KB sent"


def token_race(servers, seconds):
    """Logins with the old password sent at moments spread over password
    changes; afterwards, how many of their tokens still resume."""
    customer(servers)
    owner = Conn(servers.port, "127.0.7.1")
    assert owner.call("CLIENT_LOGIN", login="victim", password=PASSWORD)["status"] == 200
    started = time.perf_counter()
    password = PASSWORD
    end = started + seconds
    logins = kept = changes = 0
    change = None  # how long a change takes here: the pace of the race
    while time.perf_counter() < end:
        new = f"new password {changes}"
        racers = [Conn(servers.port, "127.0.7.2") for _ in range(6)]
        began = time.perf_counter()
        owner.send("SET_CLIENT_PASSWORD", old_password=password, new_password=new)
        for racer in racers:
            time.sleep((change or 0.5) / (len(racers) + 1))
            racer.send("CLIENT_LOGIN", login="victim", password=password)
        assert owner.receive()["status"] == 200
        change = time.perf_counter() - began
        changes += 1
        password = new
        for racer in racers:
            answer = racer.receive()
            if answer["status"] == 200:
                logins += 1
                later = Conn(servers.port, "127.0.7.3")
                kept += later.call("RESUME", token=answer["data"]["token"])["status"] == 200
                later.close()
            racer.close()
    owner.close()
    return (
        f"password changes: {changes}; racing logins answered 200: {logins}, "
        f"their tokens that still resume: {kept}"
    )


CART_BOUGHT = (
    "SELECT c.username, l.product_id, sum(l.quantity) FROM order_lines l"
    " JOIN orders o ON o.id = l.order_id JOIN clients c ON c.id = o.client_id"
    " GROUP BY c.username, l.product_id"
)
CART_KEPT = (
    "SELECT c.username, l.product_id, l.quantity FROM cart_lines l"
    " JOIN clients c ON c.id = l.client_id"
)


def cart_race(servers, seconds):
    """4 customers each add and remove cart lines on one connection (4
    rounds written at a time) while another connection of theirs checks
    out the same cart; afterwards, units added and not removed that are
    not bought exactly once or still in the cart."""
    from collections import Counter

    from sqlalchemy import create_engine, text

    shop = merchant(servers)
    kept_id, passing_id = (
        shop.call(
            "MERCHANT_ADD_PRODUCT", productname=name, price="1.00", description="", stock=10**9
        )["data"]["product_id"]
        for name in ("kept", "passing")
    )
    shop.close()
    names = [f"racer{i}" for i in range(4)]
    conns = {}
    for i, name in enumerate(names):
        customer(servers, name)
        conns[name] = [Conn(servers.port, f"127.0.8.{i + 1}") for _ in range(2)]
        for conn in conns[name]:
            assert conn.call("CLIENT_LOGIN", login=name, password=PASSWORD)["status"] == 200
    net = Counter()  # (name, product): units added less units removed, by the answers
    answered = {name: Counter() for name in names}  # op: answers 200, per customer
    stop = time.perf_counter() + seconds

    def check_out(conn, counts):
        while time.perf_counter() < stop:
            counts["checkout"] += conn.call("CLIENT_CHECKOUT_ITEM")["status"] == 200

    def shopper(name):
        adder, *checkers = conns[name]
        counts = [Counter() for _ in checkers]
        threads = [
            threading.Thread(target=check_out, args=(c, n))
            for c, n in zip(checkers, counts, strict=True)
        ]
        for thread in threads:
            thread.start()
        mine = answered[name]
        while time.perf_counter() < stop:
            for _ in range(4):
                adder.send("CLIENT_ADD_ITEM", product_id=kept_id, quantity=2)
                adder.send("CLIENT_ADD_ITEM", product_id=passing_id, quantity=3)
                adder.send("CLIENT_REMOVE_ITEM", product_id=passing_id)
            for _ in range(4):
                statuses = [adder.receive()["status"] == 200 for _ in range(3)]
                net[name, kept_id] += 2 * statuses[0]
                net[name, passing_id] += 3 * statuses[1] - 3 * statuses[2]
                mine["add"] += statuses[0] + statuses[1]
                mine["remove"] += statuses[2]
        for thread in threads:
            thread.join()
        for n in counts:
            mine.update(n)

    threads = [threading.Thread(target=shopper, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in (conn for mine in conns.values() for conn in mine):
        conn.close()
    engine = create_engine(servers.database)
    with engine.connect() as db:
        held = Counter()
        for query in (CART_BOUGHT, CART_KEPT):
            for name, product_id, quantity in db.execute(text(query)):
                held[name, product_id] += int(quantity)
    engine.dispose()
    total = sum(answered.values(), Counter())
    lost = sum(max(0, net[k] - held[k]) for k in set(net) | set(held))
    extra = sum(max(0, held[k] - net[k]) for k in set(net) | set(held))
    return (
        f"{total['add']} adds, {total['remove']} removes, {total['checkout']} checkouts; "
        f"units neither bought nor in the cart: {lost}, bought after their removal: {extra}"
    )


ORDER_BOOKS = (
    "SELECT p.merchant_id, p.status, count(*), sum(p.total_cents) FROM order_parts p"
    " GROUP BY p.merchant_id, p.status"
)
ORDER_UNITS = (
    "SELECT l.product_id, sum(l.quantity) FROM order_lines l JOIN order_parts p"
    " ON p.order_id = l.order_id AND p.merchant_id = l.merchant_id"
    " WHERE p.status <> 'cancelled' GROUP BY l.product_id"
)
SHELF = "SELECT id, stock FROM products"
PROFITS = "SELECT id, profit_cents FROM merchants"


def order_race(servers, seconds):
    """Two stores each ship, and the customer cancels from two connections,
    the same orders at once (8 requests written at a time per connection),
    round after round; afterwards, parts that more than one request
    changed, and the stock and profit that do not match the parts that are
    not cancelled."""
    from collections import Counter

    from sqlalchemy import create_engine, text

    stock = 10**6
    stores = {name: merchant(servers, name) for name in ("north", "south")}
    products = {
        name: conn.call(
            "MERCHANT_ADD_PRODUCT", productname=name, price="1.25", description="", stock=stock
        )["data"]["product_id"]
        for name, conn in stores.items()
    }
    customer(servers, "buyer")
    cancellers = [Conn(servers.port, f"127.0.9.{i + 1}") for i in range(2)]
    for conn in cancellers:
        assert conn.call("CLIENT_LOGIN", login="buyer", password=PASSWORD)["status"] == 200
    buyer = cancellers[0]
    stop = time.perf_counter() + seconds
    won = Counter()  # (order, store): requests that changed the part
    tally = Counter()

    def pipelined(conn, op, ids):
        answers = {}
        for start in range(0, len(ids), 8):
            batch = ids[start : start + 8]
            for order_id in batch:
                conn.send(op, order_id=order_id)
            for order_id in batch:
                answers[order_id] = conn.receive()
        return answers

    while time.perf_counter() < stop:
        ids = []
        for _ in range(16):
            for product_id in products.values():
                buyer.send("CLIENT_ADD_ITEM", product_id=product_id, quantity=1)
            buyer.send("CLIENT_CHECKOUT_ITEM")
            for _ in products:
                buyer.receive()
            ids.append(buyer.receive()["data"]["order_id"])
        tally["orders"] += len(ids)
        results = {}

        def ship(name, ids=ids, results=results):
            results[name] = pipelined(stores[name], "MERCHANT_SHIP_ORDER", ids)

        def cancel(i, ids=ids, results=results):
            results[i] = pipelined(cancellers[i], "CLIENT_CANCEL_ORDER", ids[:: 1 - 2 * i])

        threads = [threading.Thread(target=ship, args=(name,)) for name in stores]
        threads += [threading.Thread(target=cancel, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for order_id in ids:
            for name in stores:
                if results[name][order_id]["status"] == 200:
                    won[order_id, name] += 1
                    tally["ships"] += 1
            for i in range(2):
                answer = results[i][order_id]
                if answer["status"] == 200:
                    tally["cancels"] += 1
                    for name in answer["data"]["cancelled"]:
                        won[order_id, name] += 1
    for conn in (*stores.values(), *cancellers):
        conn.close()
    engine = create_engine(servers.database)
    with engine.connect() as db:
        parts = list(db.execute(text(ORDER_BOOKS)))
        units = {pid: int(n) for pid, n in db.execute(text(ORDER_UNITS))}
        shelf = {pid: int(n) for pid, n in db.execute(text(SHELF))}
        profit = {mid: int(c) for mid, c in db.execute(text(PROFITS))}
    engine.dispose()
    kept = Counter()
    for merchant_id, status, _count, cents in parts:
        if status != "cancelled":
            kept[merchant_id] += int(cents)
    stock_off = sum(abs(shelf[p] + units.get(p, 0) - stock) for p in products.values())
    profit_off = sum(abs(profit[m] - kept[m]) for m in profit)
    twice = sum(n > 1 for n in won.values())
    never = 2 * tally["orders"] - len(won)
    return (
        f"{tally['orders']} orders, {tally['ships']} ships and {tally['cancels']} cancels"
        f" answered 200; parts changed twice: {twice}, by none: {never};"
        f" stock off by {stock_off} units, profit off by {profit_off} cents"
    )


def office(servers, seconds):
    """One address (an office): 10 wrong passwords by one person there, then
    another person there logs in and an open page there RESUMEs; then a
    token guesser there sends wrong RESUMEs until refused."""
    customer(servers, "careless")
    customer(servers, "colleague")
    page = Conn(servers.port, "127.0.10.2")
    token = page.call("CLIENT_LOGIN", login="colleague", password=PASSWORD)["data"]["token"]
    page.close()
    wrong = 0
    for _ in range(10):
        conn = Conn(servers.port, "127.0.10.1")
        wrong += conn.call("CLIENT_LOGIN", login="careless", password="mistyped")["status"] == 401
        conn.close()
    other = Conn(servers.port, "127.0.10.1")
    login = other.call("CLIENT_LOGIN", login="colleague", password=PASSWORD)["status"]
    other.close()
    reopened = Conn(servers.port, "127.0.10.1")
    resumed = reopened.call("RESUME", token=token)["status"]
    reopened.close()
    guesser = Conn(servers.port, "127.0.10.1")
    guesses = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        status = guesser.call("RESUME", token="guess-" + os.urandom(16).hex())["status"]
        if status == 429:
            break
        guesses += 1
    guesser.close()
    good = Conn(servers.port, "127.0.10.1")
    resumed_after = good.call("RESUME", token=token)["status"]
    good.close()
    return (
        f"after {wrong} wrong passwords from the address: another account's login {login},"
        f" a page's RESUME {resumed}; token guesses answered before 429: {guesses},"
        f" then a valid RESUME from there: {resumed_after}"
    )


# --- WebSocket: the upgrade's Accept-Language, and text messages ---------------

# What Chromium sends with Norwegian Bokmål first: "no" and "nn" are
# languages Babel has no locale for.
NORWEGIAN = "nb-NO,nb;q=0.9,no;q=0.8,nn;q=0.7,en-US;q=0.6,en;q=0.5"
# 16,000 characters of tags of languages the server does not have, each of
# which Babel knows (the costliest to look up).
LONG_ACCEPT_LANGUAGE = (
    ",".join(
        f"{language}-{region}"
        for region in ("CA", "AT", "MX", "CH", "BR", "JP", "KR", "EG", "BE", "SE", "FI", "IN")
        for language in ("fr", "de", "es", "it", "pt", "ja", "ko", "ar", "nl", "sv", "fi", "hi")
    )
    * 12
)
LONG_ACCEPT_LANGUAGE = LONG_ACCEPT_LANGUAGE[: LONG_ACCEPT_LANGUAGE.rfind(",", 0, 16000)]


def novel_accept_language():
    """16,000 characters of tags no cache has seen: three random letters and
    a random region each."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    tags, size = [], 0
    while size < 15990:
        tag = "".join(random.choices(letters, k=3)) + "-" + "".join(random.choices(letters, k=2))
        tags.append(tag)
        size += len(tag) + 1
    return ",".join(tags)[:15999].rstrip(",-")


def upgrade(port, source, accept_language):
    """One WebSocket upgrade from `source`: (HTTP status, 101 when open;
    the socket and wsproto connection while open, else None, None)."""
    sock = socket.create_connection(("127.0.0.1", port), 10, (source, 0))
    ws = WSConnection(ConnectionType.CLIENT)
    headers = [(b"accept-language", accept_language.encode())]
    sock.sendall(ws.send(Request(host=f"127.0.0.1:{port}", target="/ws", extra_headers=headers)))
    while True:
        data = sock.recv(65536)
        ws.receive_data(data or None)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return 101, sock, ws
            if isinstance(event, RejectConnection):
                sock.close()
                return event.status_code, None, None
        if not data:
            sock.close()
            return "closed", None, None


def cpu_seconds(pid):
    """The server process's CPU time so far (user and system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _upgrades(servers, seconds, sources, header):
    """Each source loops WebSocket upgrades with the header (a function
    giving one per upgrade), closing each one opened; afterwards a TCP
    connection from the first source PINGs."""
    pid = servers.pids()[0]
    statuses, lock = {}, threading.Lock()
    stop = time.monotonic() + seconds

    def loop(source):
        while time.monotonic() < stop:
            try:
                status, sock, ws = upgrade(servers.web_port, source, header())
            except OSError as e:
                status, sock = type(e).__name__, None
            if sock is not None:
                sock.sendall(ws.send(CloseConnection(code=1000)))
                sock.close()
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    cpu = cpu_seconds(pid)
    threads = [threading.Thread(target=loop, args=(source,)) for source in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = cpu_seconds(pid) - cpu
    total = sum(statuses.values())
    time.sleep(0.5)  # the last closes reach the server
    try:
        after = Conn(servers.port, sources[0], timeout=5.0).call("PING")["status"]
    except OSError as e:
        after = type(e).__name__
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items(), key=str))
    return (
        f"{total} upgrades ({shown}); server CPU {cpu * 1000 / max(total, 1):.2f} ms per upgrade;"
        f" then a TCP PING from the same address: {after}"
    )


def matching_cost(headers):
    """What choosing the language of these headers costs the reactor, as
    measured here with the server's own code: microseconds per header,
    (never seen, seen before)."""
    from cybermarket import i18n

    def per_header():
        started = time.perf_counter()
        for header in headers:
            i18n.from_accept_language(header)
        return (time.perf_counter() - started) * 1e6 / len(headers)

    if hasattr(i18n, "accept_language"):
        i18n.accept_language.cache_clear()
    if hasattr(i18n.best, "cache_clear"):
        i18n.best.cache_clear()
    try:
        return per_header(), per_header()
    except Exception as e:  # a server whose matching raises
        return type(e).__name__, type(e).__name__


def _with_matching(outcome, headers):
    cold, warm = matching_cost(headers)
    if isinstance(cold, str):
        return f"{outcome}; matching a header raises {cold}"
    return f"{outcome}; matching a header {cold:.0f} us, again {warm:.1f} us"


def upgrades(servers, seconds):
    """The control: 4 connections loop upgrades with Accept-Language: en."""
    sources = [f"127.0.11.{i}" for i in range(1, 5)]
    return _upgrades(servers, seconds, sources, lambda: "en")


def accept_language(servers, seconds):
    """4 connections loop upgrades whose Accept-Language is 16,000
    characters of tags the server has no language for."""
    sources = [f"127.0.7.{i}" for i in range(1, 5)]
    outcome = _upgrades(servers, seconds, sources, lambda: LONG_ACCEPT_LANGUAGE)
    return _with_matching(outcome, [LONG_ACCEPT_LANGUAGE])


def accept_language_novel(servers, seconds):
    """As accept-language, each upgrade's tags new (no cache helps)."""
    headers = [novel_accept_language() for _ in range(200)]
    sources = [f"127.0.8.{i}" for i in range(1, 5)]
    outcome = _upgrades(servers, seconds, sources, lambda: random.choice(headers))
    return _with_matching(outcome, headers)


def norwegian(servers, seconds):
    """One address loops upgrades with Chromium's Norwegian header, as a
    storefront retrying its connection does."""
    return _upgrades(servers, seconds, ["127.0.9.1"], lambda: NORWEGIAN)


def surrogates(servers, seconds):
    """One WebSocket sends CLIENT_LOGIN as JSON with a lone surrogate in the
    login, 50 at a time, for the whole attack."""
    login = {"login": "x\ud800", "password": "p"}
    return _json_flood(servers, seconds, {"id": 1, "op": "CLIENT_LOGIN", "args": login})


def nuls(servers, seconds):
    """The control: the same flood with a NUL character where the surrogate
    is, a 400 of long standing."""
    login = {"login": "x\x00", "password": "p"}
    return _json_flood(servers, seconds, {"id": 1, "op": "CLIENT_LOGIN", "args": login})


def _json_flood(servers, seconds, request):
    pid = servers.pids()[0]
    log_before = len(servers.log())
    status, sock, ws = upgrade(servers.web_port, "127.0.10.1", "en")
    assert status == 101, status
    body = json.dumps(request)
    statuses, parts = {}, []
    stop = time.monotonic() + seconds
    started, cpu = time.monotonic(), cpu_seconds(pid)
    while time.monotonic() < stop:
        sock.sendall(b"".join(ws.send(TextMessage(data=body)) for _ in range(50)))
        answered = 0
        while answered < 50:
            ws.receive_data(sock.recv(65536) or None)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        answer = json.loads("".join(parts))
                        parts.clear()
                        statuses[answer["status"]] = statuses.get(answer["status"], 0) + 1
                        answered += 1
    elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu
    sock.close()
    time.sleep(0.5)
    log = servers.log()[log_before:]
    total = sum(statuses.values())
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return (
        f"{total} requests ({shown}), {total / elapsed:.0f}/s; log written:"
        f" {len(log.encode()) / elapsed / 1024:.1f} KiB/s, {log.count('Traceback')} tracebacks;"
        f" server CPU {cpu * 1e6 / max(total, 1):.0f} us per request"
    )


# --- searches --------------------------------------------------------------------

# The costliest query the contract allows: eight one-letter words, each the
# beginning of about one word in fourteen of the catalog (bench/search.py).
MANY_WORDS = "b d f g k l m n"
ALPHABET = " ".join("abcdefghijklmnopqrstuvwxyz")


def search_catalog(servers, products=20000, unseen=1500):
    """bench/search.py's catalog of 100 stores, straight into the database:
    `products` that the planner has seen (analysed, as autovacuum leaves
    them), then `unseen` more, fewer than autovacuum waits for."""
    from bench.search import catalog, seed_database

    everything, _ = catalog(products + unseen)
    seed_database(servers.database, everything[:products], everything[products:])


class Loop:
    """A connection from `source` sending one request after another in a
    thread, until stopped: each answer's status and how long it took."""

    def __init__(self, port, source, op, **args):
        self.conn = Conn(port, source)
        self.op, self.args = op, args
        self.times, self.statuses = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            started = time.perf_counter()
            status = self.conn.call(self.op, **self.args)["status"]
            self.times.append(time.perf_counter() - started)
            self.statuses.append(status)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.conn.close()


def p50_p99(times):
    ms = sorted(t * 1000 for t in times)
    if not ms:
        return "-"
    return f"{statistics.median(ms):.2f} / {ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.2f}"


def _searches(servers, seconds, query):
    """Four connections of one address loop SEARCH_PRODUCT `query` while
    another address lists a store: that listing's p50 / p99 (ms) alone and
    during, and the flood's searches."""
    victim = Loop(servers.port, "127.0.10.2", "LIST_PRODUCT", storename="store 0").start()
    time.sleep(1)
    alone = list(victim.times)
    flood = [
        Loop(servers.port, "127.0.10.1", "SEARCH_PRODUCT", query=query).start() for _ in range(4)
    ]
    time.sleep(seconds)
    for loop in flood:
        loop.stop()
    during = victim.times[len(alone) :]
    victim.stop()
    times = [t for loop in flood for t in loop.times]
    statuses = [s for loop in flood for s in loop.statuses]
    return (
        f"another address's LIST_PRODUCT p50 / p99 {p50_p99(alone)} ms alone, "
        f"{p50_p99(during)} ms during; flood: {statuses.count(200)} searches "
        f"(p50 / p99 {p50_p99(times)} ms), {statuses.count(503)} refused busy"
    )


def rare_words(servers, seconds):
    """Four connections of one address search a word no product holds, in
    a catalog of 21,500 products of which 1,500 came after the planner's
    statistics, while another address lists a store."""
    return _searches(servers, seconds, "zzzzq")


def many_words(servers, seconds):
    """Four connections of one address loop the costliest query allowed,
    eight one-letter words, while another address lists a store; then a
    query of the 26 letters."""
    outcome = _searches(servers, seconds, MANY_WORDS)
    conn = Conn(servers.port, "127.0.10.3")
    status = conn.call("SEARCH_PRODUCT", query=ALPHABET)["status"]
    conn.close()
    return f"{outcome}; 26 one-letter words: {status}"


# --- product photos (protocol 1.3) ---------------------------------------------------


def hostile_photos():
    """What the photo flood sends, by name: made once, in memory."""
    import io as _io
    import zlib

    from PIL import Image

    def encoded(image, kind, **options):
        out = _io.BytesIO()
        image.save(out, kind, **options)
        return out.getvalue()

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    big = encoded(Image.new("RGB", (6000, 6000), (90, 120, 30)), "JPEG", quality=90)
    still = encoded(Image.new("RGB", (8, 8)), "WEBP", lossless=True)[12:]
    anmf = bytes(6) + (7).to_bytes(3, "little") * 2 + (100).to_bytes(3, "little") + b"\0" + still
    frame = b"ANMF" + struct.pack("<I", len(anmf)) + anmf + (b"\0" if len(anmf) & 1 else b"")
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([2, 0, 0, 0]) + (7).to_bytes(3, "little") * 2
    webp = b"WEBP" + vp8x + b"ANIM" + struct.pack("<I", 6) + bytes(6) + frame * 20_000
    return {
        "bomb": bomb,
        "truncated": big[: len(big) // 2],
        "frames": b"RIFF" + struct.pack("<I", len(webp)) + webp,
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
        # Honest but costly: 36 megapixels to decode (at 1/4, by draft).
        "36mp": big,
    }


def photo_put(port, source, product_id, token, body, declared=None):
    """The status of one PUT /photos/<id>, or the error's name; `declared`
    claims another Content-Length and sends only the headers."""
    sock = socket.create_connection(("127.0.0.1", port), 30, (source, 0))
    try:
        head = (
            f"PUT /photos/{product_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Length: {len(body) if declared is None else declared}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        sock.sendall(head if declared is not None else head + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return int(answer.split(b" ", 2)[1]) if answer else "closed"
    except OSError as e:
        return type(e).__name__
    finally:
        sock.close()


def photo_shop(servers):
    """A store with a product and its merchant's session token."""
    conn = merchant(servers, "photos")
    login = Conn(servers.port)
    token = login.call("MERCHANT_LOGIN", login="photos", password=PASSWORD)["data"]["token"]
    login.close()
    added = conn.call(
        "MERCHANT_ADD_PRODUCT", productname="lamp", price="9", description="", stock=1
    )
    conn.close()
    return added["data"]["product_id"], token


def photo_flood(servers, seconds):
    """8 connections at a time from one address loop hostile uploads with a
    good token (a 50,000 x 50,000 PNG bomb, a truncated 36-megapixel JPEG,
    a WebP of 20,000 frames, an SVG, a declared 9 MiB, and an honest
    36-megapixel JPEG); meanwhile another address uploads a small photo
    every second."""
    product, token = photo_shop(servers)
    bodies = hostile_photos()
    kinds = [*bodies, "9mib"]
    statuses, victim = {}, []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def flood(n):
        i = n
        while time.monotonic() < stop:
            kind = kinds[i % len(kinds)]
            i += 1
            if kind == "9mib":
                status = photo_put(servers.web_port, "127.0.12.1", product, token, b"", 9 << 20)
            else:
                status = photo_put(servers.web_port, "127.0.12.1", product, token, bodies[kind])
            with lock:
                statuses[(kind, status)] = statuses.get((kind, status), 0) + 1

    import io as _io

    from PIL import Image

    small = _io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(small, "JPEG")
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    while time.monotonic() < stop:
        started = time.perf_counter()
        status = photo_put(servers.web_port, "127.0.12.2", product, token, small.getvalue())
        victim.append((status, time.perf_counter() - started))
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    by_kind = {}
    for (kind, status), n in sorted(statuses.items(), key=str):
        by_kind.setdefault(kind, []).append(f"{status} x{n}")
    shown = "; ".join(f"{kind}: {', '.join(v)}" for kind, v in by_kind.items())
    waits = sorted(t for _, t in victim)
    ok = sum(s == 200 for s, _ in victim)
    return (
        f"flood {shown}; other address's uploads: {ok} of {len(victim)} 200,"
        f" slowest {waits[-1]:.2f} s, median {statistics.median(waits):.2f} s"
    )


def photo_tokens(servers, seconds):
    """One address sends 200 uploads with guessed tokens, 20 at a time."""
    product, token = photo_shop(servers)
    statuses = {}
    lock = threading.Lock()

    def guess(n):
        for i in range(10):
            status = photo_put(
                servers.web_port, "127.0.13.1", product, f"guess-{n}-{i}", b"x" * 100
            )
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items(), key=str))
    return f"guesses answered {shown}"


# name: (function, setup, server options, open-file limit)
ATTACKS = {
    "slow-readers": (slow_readers, big_store, (), None),
    "slow-readers-100": (slow_readers_100, big_store, (), None),
    "flood-one": (flood_one, None, (), 1024),
    "flood-many": (flood_many, None, (), None),
    "logins": (logins, None, (), None),
    "old-password": (old_password, None, (), None),
    "hashes": (hashes, None, (), None),
    "web-flood": (web_flood, None, (), 1024),
    "unread-pipelines": (unread_pipelines, None, (), None),
    "token-race": (token_race, None, ("--login-failures", "100000"), None),
    "cart-race": (cart_race, None, ("--login-failures", "100000"), None),
    "order-race": (order_race, None, (), None),
    "office": (office, None, (), None),
    "upgrades": (upgrades, None, (), None),
    "accept-language": (accept_language, None, (), None),
    "accept-language-novel": (accept_language_novel, None, (), None),
    "norwegian": (norwegian, None, (), None),
    "nuls": (nuls, None, (), None),
    "surrogates": (surrogates, None, (), None),
    "rare-words": (rare_words, search_catalog, (), None),
    "many-words": (many_words, search_catalog, (), None),
    "photo-flood": (photo_flood, None, (), None),
    "photo-tokens": (photo_tokens, None, (), None),
}


def run(name, database, seconds):
    attack, setup, options, descriptors = ATTACKS[name]
    database = fresh_database(database, f"attack_{name.replace('-', '_')}_{os.getpid()}")
    servers = Servers(database, extra=options, descriptors=descriptors, web=True)
    try:
        if setup:
            setup(servers)
        pid = servers.pids()[0]
        with Watch(servers.port, pid) as before:
            time.sleep(2)
        rss_before = rss_mb(pid)
        with Watch(servers.port, pid) as during:
            outcome = attack(servers, seconds)
        p50a, p99a = before.figures()
        p50b, p99b = during.figures()
        print(
            f"| {name} | {rss_before:.0f} | {during.peak:.0f} | {p50a:.2f} / {p99a:.2f} | "
            f"{p50b:.2f} / {p99b:.2f} | {outcome} |",
            flush=True,
        )
    finally:
        servers.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "attacks", nargs="*", metavar="ATTACK", help=f"any of {', '.join(ATTACKS)} (default: all)"
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("CYBERMARKET_TEST_DATABASE"),
        help="a PostgreSQL server's URL, where each attack gets a fresh "
        "database (default: a fresh SQLite file per attack)",
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each attack holds")
    args = parser.parse_args()
    unknown = [name for name in args.attacks if name not in ATTACKS]
    if unknown:
        parser.error(f"unknown attack {', '.join(unknown)}; choose from {', '.join(ATTACKS)}")
    args.attacks = args.attacks or list(ATTACKS)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    print(
        "| attack | RSS before (MB) | RSS peak during (MB) | PING p50 / p99 before (ms) "
        "| PING p50 / p99 during (ms) | outcome |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.attacks:
        run(name, args.database, args.seconds)


if __name__ == "__main__":
    main()
