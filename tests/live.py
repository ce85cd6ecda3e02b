"""What the end-to-end tests share about a live server: the password and
options they use, a running server with the connections a test opened to
it (Live), and small readers of its answers."""

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from tests.seed import invitation, seed_customers, seed_stores
from tests.shop import store_args

PASSWORD = "correct horse battery"
# Hashing is Argon2id at full cost in the real server: two threads make the
# many account creations and logins of a test go faster on two cores.
FAST = ("--hash-threads", "2")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


_serial = itertools.count(1)


def unique(name):
    """`name` with a number no other call in this process gives: the names
    of a test on the shared server (conftest's shared_live).  `name` ends
    with a letter, or unique("buyer4") and unique("buyer") could both give
    "buyer46"."""
    assert not name[-1:].isdigit(), f"{name!r} ends with a digit"
    return f"{name}{next(_serial)}"


def rows(data):
    """A table as a list of dicts, by column name."""
    return [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]


def money(text):
    assert re.fullmatch(r"\d+\.\d\d", text), text
    return Decimal(text)


def cents(text):
    return int(money(text) * 100)


class Live:
    """A running server and the connections a test opened to it."""

    def __init__(self, server):
        self.server = server
        self.connections = []

    @property
    def port(self):
        return self.server.port

    def connect(self, timeout=30.0):
        client = self.server.client(timeout)
        self.connections.append(client)
        return client

    def close_connections(self):
        for client in self.connections:
            client.close()
        self.connections.clear()

    @property
    def database_url(self):
        return self.server.database_url

    def merchant(self, storename, code=None, inviter=None, password=PASSWORD):
        """A new store, signed up (MERCHANT_CREATE) and logged in on a new
        connection.  Without a code, the code is one from the operator (as
        `cybermarket invite` makes them: tests/seed.py)."""
        if code is None:
            code = invitation(self.database_url)
        conn = self.connect()
        created = conn.call(
            "MERCHANT_CREATE", **store_args(storename, password, code, inviter=inviter)
        )
        assert created["status"] == 201, created
        conn.ok("MERCHANT_LOGIN", login=storename, password=password)
        return conn

    def store(self, storename, password=PASSWORD):
        """A new store written into the database (tests/seed.py), logged in
        on a new connection: for tests not about signing up."""
        seed_stores(self.database_url, [storename], password)
        conn = self.connect()
        conn.ok("MERCHANT_LOGIN", login=storename, password=password)
        return conn

    def customers(self, names, password=PASSWORD):
        """New customer accounts written into the database (tests/seed.py),
        each logged in on its own connection, the logins written before any
        answer is read: for tests not about signing up."""
        seed_customers(self.database_url, names, password)
        conns = [self.connect() for _ in names]
        sent = [
            conn.send("CLIENT_LOGIN", login=name, password=password)
            for conn, name in zip(conns, names, strict=True)
        ]
        for conn, request_id in zip(conns, sent, strict=True):
            response = conn.receive()
            assert (response["id"], response["status"]) == (request_id, 200), response
        return conns

    def clients(self, names, password=PASSWORD):
        """New customer accounts, signed up (CLIENT_CREATE) and logged in,
        each on its own connection; the accounts are created and logged in
        concurrently."""
        conns = [self.connect() for _ in names]
        for op, status in (("CLIENT_CREATE", 201), ("CLIENT_LOGIN", 200)):
            sent = []
            for conn, name in zip(conns, names, strict=True):
                if op == "CLIENT_CREATE":
                    args = {"username": name, "email": f"{name}@example.com", "password": password}
                else:
                    args = {"login": name, "password": password}
                sent.append(conn.send(op, **args))
            for conn, request_id in zip(conns, sent, strict=True):
                response = conn.receive()
                assert response["id"] == request_id, response
                assert response["status"] == status, (op, response)
        return conns


def send_all_then_read_all(conns, op, **args):
    """Send one request on every connection first, then read every answer."""
    ids = [conn.send(op, **args) for conn in conns]
    responses = []
    for conn, request_id in zip(conns, ids, strict=True):
        response = conn.receive()
        assert response["id"] == request_id, response
        responses.append(response)
    return responses


@contextmanager
def running(databases, tmp_path_factory, *options) -> Iterator:
    """A server process with the web endpoint (--web) on, for a module's
    tests, on a migrated database of its own (conftest's `databases`);
    stopped afterwards."""
    from tests.server import Server

    workdir = tmp_path_factory.mktemp("web")
    with databases.migrated(workdir / "market.sqlite3") as url:
        server = Server(url, *FAST, *options, workdir=workdir, web=True)
        try:
            yield server.start()
        finally:
            server.kill()
