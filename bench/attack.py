"""Attacks on a real server, with its memory and PING latency before and
during each one.

    .venv/bin/python bench/attack.py [--database URL] [--seconds 8] [ATTACK ...]

ATTACK is any of: slow-readers, slow-readers-100, flood-one, flood-many, logins, old-password,
hashes, rare-words, many-words (default: all).  Each attack gets a fresh `twistd cybermarket` on a
free loopback port.  While it runs, another connection (from its own
loopback address) sends a PING every 10 ms; the line printed per attack
gives the server's RSS before and at its peak during the attack, PING p50
and p99 before and during, and what the attack achieved.  Traffic goes only
to 127.0.0.0/8, and every attack stops by itself.
"""

import argparse
import os
import resource
import socket
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

import msgpack

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


# name: (function, setup, server options, open-file limit)
ATTACKS = {
    "slow-readers": (slow_readers, big_store, (), None),
    "slow-readers-100": (slow_readers_100, big_store, (), None),
    "flood-one": (flood_one, None, (), 1024),
    "flood-many": (flood_many, None, (), None),
    "logins": (logins, None, (), None),
    "old-password": (old_password, None, (), None),
    "hashes": (hashes, None, (), None),
    "rare-words": (rare_words, search_catalog, (), None),
    "many-words": (many_words, search_catalog, (), None),
}


def run(name, database, seconds):
    attack, setup, options, descriptors = ATTACKS[name]
    database = fresh_database(database, f"attack_{name.replace('-', '_')}_{os.getpid()}")
    servers = Servers(database, extra=options, descriptors=descriptors)
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
