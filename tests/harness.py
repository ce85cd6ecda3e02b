"""An in-process server for fast tests: the real protocol, op table and
handlers on a real database, but with the thread pools replaced by inline
calls, so that every response is ready as soon as the request is written
to a StringTransport.  No reactor runs."""

import msgpack
from argon2 import PasswordHasher
from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.python.failure import Failure

from cybermarket.errors import CODES
from cybermarket.ops import OPS
from cybermarket.server.context import App, Settings
from cybermarket.server.pages import shared
from cybermarket.server.passwords import Hasher
from cybermarket.server.protocol import MarketFactory
from cybermarket.server.searches import Searches
from cybermarket.server.throttle import Throttle
from cybermarket.storage.database import Database
from tests.shop import store_args
from tests.wire import frame, request

# Argon2id still, but cheap: the tests create many accounts.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class InlineDatabase(Database):
    def run(self, desc, func, *args, write=True, **kwargs):
        return defer.maybeDeferred(self.run_sync, desc, func, args, kwargs, write)


class Immediately:
    """A reactor stand-in for deferToThreadPool: what a worker thread hands
    back to the reactor runs at once.  Its time is the test's clock."""

    def __init__(self, clock=None):
        self.clock = clock or task.Clock()

    @staticmethod
    def callFromThread(function, *args, **kwargs):
        function(*args, **kwargs)

    def seconds(self):
        return self.clock.seconds()

    def callLater(self, delay, function, *args, **kwargs):
        return self.clock.callLater(delay, function, *args, **kwargs)


def run_job(onResult, function, args, kwargs):
    """Run a thread pool's job here and now, reporting as the pool would."""
    try:
        result = function(*args, **kwargs)
    except BaseException:
        onResult(False, Failure())
    else:
        onResult(True, result)


class HeldPool:
    """A hashing thread pool that runs nothing until the test says so: jobs
    wait in the order they were handed in, as on a real pool's queue, and
    finish() runs the oldest, as its one thread would."""

    def __init__(self):
        self.jobs = []  # (onResult, function, args, kwargs)
        self.finished = []  # the functions run, in order

    def start(self):
        pass

    def stop(self):
        pass

    def callInThreadWithCallback(self, onResult, function, *args, **kwargs):
        self.jobs.append((onResult, function, args, kwargs))

    def finish(self, index=0):
        onResult, function, args, kwargs = self.jobs.pop(index)
        self.finished.append(function)
        run_job(onResult, function, args, kwargs)

    def finish_all(self):
        """Run jobs until none is left (finishing one may hand in more)."""
        while self.jobs:
            self.finish()


class InlinePool(HeldPool):
    """A hashing thread pool that runs each job at once, on the caller's
    thread."""

    def callInThreadWithCallback(self, onResult, function, *args, **kwargs):
        run_job(onResult, function, args, kwargs)


class InlineHasher(Hasher):
    """The real Hasher, queues and all, on a pool that runs jobs inline."""

    def __init__(self, hasher=FAST_HASHER, clock=None, **kwargs):
        super().__init__(reactor=Immediately(clock), hasher=hasher, **kwargs)
        self.pool = InlinePool()


def held_hasher(market, threads=1, **limits):
    """Give `market` a real Hasher (threads, limits) whose jobs wait on a
    HeldPool; the pool."""
    pool = HeldPool()
    hasher = Hasher(threads, reactor=Immediately(market.clock), hasher=FAST_HASHER, **limits)
    hasher.pool = pool
    market.app.hasher = hasher
    return pool


def inline_searches(url, clock, threads=1, **limits):
    """The real Searches, shares and all, on a database of their own whose
    transactions run inline."""
    return Searches(InlineDatabase(url, threads=threads, reactor=clock), clock, **limits)


def make_app(url, clock=None, **settings):
    clock = clock or task.Clock()
    settings = Settings(**settings)
    db = InlineDatabase(url, threads=1, reactor=clock, connection_cache=shared(256))
    return App(
        db=db,
        hasher=InlineHasher(clock=clock),
        throttle=Throttle(
            db,
            clock,
            settings.login_failures,
            settings.login_window,
            settings.login_failures_per_address,
        ),
        clock=clock,
        searches=inline_searches(url, clock),
        settings=settings,
    )


def check_error(response, op=None):
    """Every answer with status 400 or more carries `error` with a code of
    the contract's table, of its status, with the code's extra keys; and a
    code the op declares (ops.Op.codes).  Every in-process answer of the
    test suite goes through this."""
    if response.get("status", 0) < 400:
        assert "error" not in response, response
        return
    error = response.get("error")
    assert isinstance(error, dict), response
    code = CODES.get(error.get("code"))
    assert code is not None and code.status == response["status"], response
    assert set(code.keys) <= set(error), response
    if op in OPS:
        assert code in OPS[op].codes, f"{op} answered {code.name}, which it does not declare"


class Refused(Exception):
    """The factory refused a connection (a connection cap)."""


class Peer:
    """One connection to the in-process server."""

    def __init__(self, factory, host="10.0.0.1"):
        from twisted.internet.address import IPv4Address

        address = IPv4Address("TCP", host, 4321)
        self.protocol = factory.buildProtocol(address)
        if self.protocol is None:
            # Refused by a connection cap: a real port closes the socket.
            raise Refused(host)
        self.transport = StringTransport(peerAddress=address)
        self.protocol.makeConnection(self.transport)
        self.next_id = 0
        self._buffer = b""

    def feed(self, data):
        self.protocol.dataReceived(data)

    def responses(self):
        """Every complete response written since the last call."""
        self._buffer += self.transport.value()
        self.transport.clear()
        out = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[:4], "big")
            if len(self._buffer) < 4 + length:
                break
            out.append(msgpack.unpackb(self._buffer[4 : 4 + length], raw=False))
            check_error(out[-1])
            self._buffer = self._buffer[4 + length :]
        return out

    def call(self, op, **args):
        self.next_id += 1
        self.feed(frame(request(op, self.next_id, **args)))
        (response,) = self.responses()
        assert response["id"] == self.next_id
        check_error(response, op)
        return response

    def ok(self, op, **args):
        response = self.call(op, **args)
        assert response["status"] in (200, 201), (op, response)
        return response.get("data")

    @property
    def closed(self):
        return self.transport.disconnecting

    def lose(self):
        """The client goes away."""
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.protocol.connectionLost(Failure(ConnectionDone()))


class Market:
    """The in-process server plus helpers that set up common situations."""

    def __init__(self, url, **settings):
        self.clock = task.Clock()
        self.url = url
        self.app = make_app(url, self.clock, **settings)
        self.factory = MarketFactory(self.app)

    def close(self):
        self.app.searches.stop()
        self.app.db.stop()

    def peer(self, host="10.0.0.1"):
        return Peer(self.factory, host)

    def invite(self, inviter_id=None, days=7):
        from cybermarket.storage import invitations

        return self.app.db.run_sync("invite", invitations.create, (inviter_id, days))

    def merchant(self, storename="shop", email=None, password="merchant-pass", peer=None):
        """A logged-in merchant connection (a new store)."""
        peer = peer or self.peer()
        args = store_args(storename, password, self.invite())
        if email is not None:
            args["email"] = email
        peer.ok("MERCHANT_CREATE", **args)
        peer.ok("MERCHANT_LOGIN", login=storename, password=password)
        return peer

    def client(self, username="alice", email=None, password="client-pass", peer=None):
        """A logged-in customer connection (a new account)."""
        peer = peer or self.peer()
        peer.ok(
            "CLIENT_CREATE",
            username=username,
            email=email or f"{username}@example.com",
            password=password,
        )
        peer.ok("CLIENT_LOGIN", login=username, password=password)
        return peer


def texts(events):
    """Log events (the `logged` fixture's) as text."""
    return [formatEvent(event) for event in events]
