"""Framing and the protocol: 4-byte big-endian length frames
(Int32StringReceiver) carrying MessagePack maps.

One connection's requests run one at a time, in the order received, and are
answered in that order; pipelined requests wait in a queue.  Validation runs
here, on the reactor thread, against the op table; handlers run on the
database or hashing pools.  Errors become responses in one place, _answer.
"""

from collections import deque
from collections.abc import Callable
from typing import Any, cast

import msgpack
from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IDelayedCall, IPushProducer
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from cybermarket.codec import encode
from cybermarket.errors import (
    BadRequest,
    MarketError,
    NotLoggedIn,
    TooLarge,
    Unavailable,
)
from cybermarket.server import limits
from cybermarket.server.context import App, Call, Session
from cybermarket.server.optable import SERVED, Served

log = Logger()

# Reading pauses while this many requests wait on one connection, and
# resumes below LOW_WATER: a client pipelining without end costs bounded
# memory.  Their bytes are bounded too (Settings.connection_buffer): reading
# resumes once they are below a quarter of it.
HIGH_WATER = 64
LOW_WATER = 16
# Requests one read may have answered before the connection waits for the
# reactor's next turn: a read of 64 KiB can hold 13,000 tiny requests, and
# answering them all at once would stall every other connection.
BURST = 100

MESSAGES = {200: "ok", 201: "created"}

_TOO_LARGE = object()  # queue marker: answer 413, then close


def short(value: object, width: int = 60) -> str:
    """A client's value, cut to fit in an error message."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def decode(body: bytes) -> tuple[int, Served, dict[str, Any]]:
    """(id, op, args) of a request body, args validated.  BadRequest carries
    the request's id once it is known (request_id attribute)."""
    try:
        message = msgpack.unpackb(body, raw=False)
    except Exception:
        raise BadRequest("body: not a MessagePack value") from None
    if not isinstance(message, dict):
        raise BadRequest("body: must be a map with id, op and args")
    request_id = message.get("id")
    if type(request_id) is not int or request_id < 0:
        raise BadRequest("id: must be a non-negative integer")
    try:
        name = message.get("op")
        if type(name) is not str:
            raise BadRequest("op: must be a string")
        op = SERVED.get(name)
        if op is None:
            raise BadRequest(f"op: unknown op {short(name)!r}")
        return request_id, op, op.check_args(message.get("args"))
    except BadRequest as e:
        e.request_id = request_id
        raise


@implementer(IPushProducer)
class _WriteBuffer:
    """Registered with the transport so that a client which pipelines but
    does not read makes us stop reading, instead of buffering answers."""

    def __init__(self, protocol: "MarketProtocol") -> None:
        self.protocol = protocol

    def pauseProducing(self) -> None:
        self.protocol._set_pause("writes", True)

    def resumeProducing(self) -> None:
        self.protocol._set_pause("writes", False)

    def stopProducing(self) -> None:
        pass


class MarketProtocol(Int32StringReceiver, TimeoutMixin):
    # A TCP, TLS or PROXY transport (ITCPTransport and IConsumer) once
    # connected, None before.
    transport: Any

    def __init__(self, app: App, factory: "MarketFactory", peer: str | None = None) -> None:
        self.app = app
        self.factory = factory
        self.session: Session | None = None
        # The client's IP address, counted against its cap (admitted); None
        # behind a balancer until the PROXY header has named it.
        self.peer = peer
        self.admitted = peer is not None
        self._queue: deque[tuple[Any, bool]] = deque()  # (body or _TOO_LARGE, stopping)
        self._queued_bytes = 0
        self._busy = False
        self._pumping = False
        self._closing = False
        self._pauses: set[str] = set()
        self._write_buffer = _WriteBuffer(self)
        self._frame_timer: IDelayedCall | None = None
        self._burst = 0  # requests started since the last read

    def callLater(self, delay: float, function: Callable[[], object]) -> IDelayedCall:
        # TimeoutMixin's idle timer, on the app's clock rather than the
        # global reactor.
        return self.app.clock.callLater(delay, function)

    # --- connection ---------------------------------------------------------

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.app.settings.max_frame
        self.transport.registerProducer(self._write_buffer, True)
        self.setTimeout(self.app.settings.idle_timeout)
        self.factory.connections.add(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        self._stop_frame_timer()
        self.session = None
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        self.factory.connection_gone(self)

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return  # after a 413 nothing more is read
        if self.peer is None and not self._learn_peer():
            return
        self._burst = 0
        self.resetTimeout()
        super().dataReceived(data)
        self._watch_frame()

    def timeoutConnection(self) -> None:
        # TimeoutMixin's loseConnection waits until the answers already
        # written are sent, which a client that does not read never lets
        # happen: the connection and its answer would stay for ever.
        if "writes" in self._pauses:
            self._closing = True
            self.transport.abortConnection()
        else:
            self.transport.loseConnection()

    def _learn_peer(self) -> bool:
        """Behind a balancer: the address the PROXY header named (parsed by
        the transport before any of our bytes arrive), held to its cap."""
        host = getattr(self.transport.getPeer(), "host", None)
        if host is None:
            self.peer = "local"  # a UNIX socket: no address to tell apart
            return True
        self.peer = host
        if not self.factory.admit(host):
            self._closing = True
            self.transport.abortConnection()
            return False
        self.admitted = True
        return True

    def _watch_frame(self) -> None:
        """Run the frame timer while a frame is partly received and the
        client is the one to send the rest: not while reading is paused, when
        the bytes held back are the server's delay, not the client's."""
        partial = bool(self._unprocessed) and not self._pauses and not self._closing
        if partial and self._frame_timer is None:
            self._frame_timer = self.app.clock.callLater(
                self.app.settings.frame_timeout, self._frame_timed_out
            )
        elif not partial:
            self._stop_frame_timer()

    def _stop_frame_timer(self) -> None:
        if self._frame_timer is not None:
            if self._frame_timer.active():
                self._frame_timer.cancel()
            self._frame_timer = None

    def _frame_timed_out(self) -> None:
        self._frame_timer = None
        self.factory.bites["frame-timeout"](peer=self.peer)
        self._closing = True
        self.transport.abortConnection()

    def lengthLimitExceeded(self, length: int) -> None:
        self._closing = True
        self._queue.append((_TOO_LARGE, False))
        self._pump()

    def stringReceived(self, body: bytes) -> None:
        self._queue.append((body, self.factory.stopping))
        self._queued_bytes += len(body)
        if (
            len(self._queue) >= HIGH_WATER
            or self._queued_bytes >= self.app.settings.connection_buffer
        ):
            self._set_pause("queue", True)
        self._pump()

    def _set_pause(self, why: str, paused: bool) -> None:
        """Stop parsing and reading while any reason holds: the protocol's
        own pause (Int32StringReceiver's paused flag) leaves unparsed frames
        in its buffer, so a flood costs no more than one read's worth."""
        before = bool(self._pauses)
        (self._pauses.add if paused else self._pauses.discard)(why)
        if before != bool(self._pauses) and self.transport is not None:
            if self._pauses:
                self.pauseProducing()
            else:
                # Parses what was held back, which may queue more requests.
                self.resumeProducing()
            self._watch_frame()
        if why == "writes" and not paused:
            # Requests that waited for the client to read can run now.
            self._pump()

    @property
    def idle(self) -> bool:
        return not self._busy and not self._queue

    # --- one request at a time --------------------------------------------

    def _pump(self) -> None:
        # Re-entered from _finished when a request completes synchronously,
        # and from resumeProducing; the loop below then carries on, so
        # pipelined requests never recurse.
        if self._pumping:
            return
        self._pumping = True
        try:
            while True:
                # Nothing more is run while the client does not read what
                # was answered: its answers would pile up in memory.
                while self._queue and not self._busy and "writes" not in self._pauses:
                    body, stopping = self._queue.popleft()
                    if body is _TOO_LARGE:
                        self._send(self._answer(None, None, TooLarge()))
                        self._queue.clear()
                        self._queued_bytes = 0
                        self.transport.loseConnection()
                        return
                    self._queued_bytes -= len(body)
                    self._busy = True
                    self._burst += 1
                    self._handle(body, stopping).addCallback(self._finished)
                    if self._burst >= BURST and "turn" not in self._pauses:
                        # Let other connections have the reactor; read on
                        # at its next turn.
                        self._set_pause("turn", True)
                        self.app.clock.callLater(0, self._next_turn)
                if "queue" in self._pauses and self._below_low_water():
                    self._set_pause("queue", False)  # may queue more: go on
                    continue
                break
        finally:
            self._pumping = False

    def _next_turn(self) -> None:
        self._burst = 0
        if self.transport is not None and not self._closing:
            self._set_pause("turn", False)
            self._pump()

    def _below_low_water(self) -> bool:
        return (
            len(self._queue) < LOW_WATER
            and self._queued_bytes < self.app.settings.connection_buffer // 4
        )

    def _finished(self, response: dict[str, Any]) -> None:
        self._send(response)
        self._busy = False
        if self.idle:
            self.factory.check_idle()
        self._pump()

    def _send(self, response: dict[str, Any]) -> None:
        try:
            body = encode(response)
        except Exception:
            log.failure("cannot encode the answer to request {id}", id=response.get("id"))
            body = encode(self._internal_error(response.get("id")))
        self.sendString(body)
        self.resetTimeout()

    def _handle(self, body: bytes, stopping: bool) -> defer.Deferred[dict[str, Any]]:
        """A Deferred that fires with the response to one request body."""
        request_id: int | None
        op: Served | None
        request_id = op = None
        try:
            request_id, op, args = decode(body)
            if stopping:
                raise Unavailable("the server is shutting down")
            if op.role is not None and (self.session is None or self.session.role != op.role):
                raise NotLoggedIn(f"{op.name}: log in as a {op.role} first")
        except MarketError as e:
            # decode's BadRequest carries the request's id once it was read.
            return defer.succeed(self._answer(getattr(e, "request_id", request_id), op, e))
        except Exception as e:
            return defer.succeed(self._answer(request_id, op, e, failure=Failure()))
        # dataReceived has learned the peer before any request is read.
        call = Call(self.app, self.session, cast(str, self.peer))
        try:
            if op.flow:
                d = defer.ensureDeferred(op.function(call, **args))
            else:
                d = self.app.db.run(op.name, op.function, call.me, write=op.write, **args)
        except Exception:
            d = defer.fail()

        def succeeded(data: object) -> dict[str, Any]:
            if op.flow:
                self.session = call.session
            return self._answer(request_id, op, None, data)

        d.addCallbacks(succeeded, lambda f: self._answer(request_id, op, f.value, failure=f))
        return d

    def _answer(
        self,
        request_id: int | None,
        op: Served | None,
        error: BaseException | None,
        data: object = None,
        failure: Failure | None = None,
    ) -> dict[str, Any]:
        """The response: the one place where errors become statuses."""
        if error is None:
            assert op is not None  # only a request that was read succeeds
            response: dict[str, Any]
            response = {"id": request_id, "status": op.status, "message": MESSAGES[op.status]}
            if data is not None:
                response["data"] = data
            return response
        if isinstance(error, MarketError):
            return {"id": request_id, "status": error.status, "message": error.message}
        # A bug or an unforeseen failure: logged in full, answered bare.
        log.failure(
            "{op} failed (request {id})",
            failure=failure,
            op=op.name if op else "?",
            id=request_id,
        )
        return self._internal_error(request_id)

    @staticmethod
    def _internal_error(request_id: int | None) -> dict[str, Any]:
        return {"id": request_id, "status": 500, "message": "internal error"}


# How each limit that closes connections is logged when it bites.
BITES = [
    (
        "max-connections",
        "refused a connection from {peer}: {open} connections open"
        " (--max-connections); {count} refused since the last report",
    ),
    (
        "max-connections-per-address",
        "refused a connection from {peer}: {open} connections open from there"
        " (--max-connections-per-address); {count} refused since the last report",
    ),
    (
        "frame-timeout",
        "closed the connection of {peer}: a frame took longer than"
        " --frame-timeout; {count} closed since the last report",
    ),
]


class MarketFactory(Factory):
    """Builds a protocol per connection, within the connection caps, and
    knows them all, for shutdown."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[MarketProtocol] = set()
        self.stopping = False
        self._idle_waiters: list[defer.Deferred[None]] = []
        self._closed_waiters: list[defer.Deferred[None]] = []
        self._open = 0  # built and not yet lost: counted before connectionMade
        self._per_address: dict[str | None, int] = {}  # address -> connections open
        self.bites = {reason: limits.Bite(app.clock, reason, text) for reason, text in BITES}

    def buildProtocol(self, addr: IAddress | None) -> MarketProtocol | None:
        """The connection's protocol, or None (the port then closes the
        socket at once) when a cap is reached."""
        settings = self.app.settings
        peer = getattr(addr, "host", None)
        if settings.max_connections is not None and self._open >= settings.max_connections:
            self.bites["max-connections"](peer=peer or "local", open=self._open)
            return None
        if settings.proxied:
            # Behind a balancer every addr is the balancer's; the client's
            # own comes in the PROXY header, before the first request
            # (MarketProtocol.dataReceived admits it then).
            peer = None
        elif peer is not None and not self.admit(peer):
            return None
        self._open += 1
        return MarketProtocol(self.app, self, peer)

    def admit(self, peer: str) -> bool:
        """Count one more connection from the IP address `peer`, unless its
        cap is reached (then False, logged)."""
        count = self._per_address.get(peer, 0)
        if count >= self.app.settings.max_connections_per_address:
            self.bites["max-connections-per-address"](peer=peer, open=count)
            return False
        self._per_address[peer] = count + 1
        return True

    def connection_gone(self, protocol: MarketProtocol) -> None:
        self._open -= 1
        count = self._per_address.get(protocol.peer)
        if count is not None and protocol.admitted:
            if count > 1:
                self._per_address[protocol.peer] = count - 1
            else:
                del self._per_address[protocol.peer]
        self.connections.discard(protocol)
        self.check_idle()

    def begin_shutdown(self) -> defer.Deferred[None]:
        """From now on new requests get 503; the Deferred fires once every
        request already read has been answered."""
        self.stopping = True
        d: defer.Deferred[None] = defer.Deferred()
        self._idle_waiters.append(d)
        self.check_idle()
        return d

    def all_closed(self) -> defer.Deferred[None]:
        """A Deferred that fires once no connection is left open."""
        d: defer.Deferred[None] = defer.Deferred()
        self._closed_waiters.append(d)
        self.check_idle()
        return d

    def check_idle(self) -> None:
        if self._idle_waiters and all(p.idle for p in self.connections):
            waiters, self._idle_waiters = self._idle_waiters, []
            for d in waiters:
                d.callback(None)
        if self._closed_waiters and not self.connections:
            waiters, self._closed_waiters = self._closed_waiters, []
            for d in waiters:
                d.callback(None)
