"""One client connection, whatever carries it.

One connection's requests run one at a time, in the order received, and are
answered in that order; pipelined requests wait in a queue.  Validation runs
here, on the reactor thread, against the op table; handlers run on the
database or hashing pools.  Errors become responses in one place, _answer.

A carrier moves whole bodies between the client and this class: TCP frames
(protocol.MarketProtocol) or WebSocket messages (websocket.WebSocketCarrier).
It hands in each body with the encoding it came in (bodies.MSGPACK or
bodies.JSON), writes out the answers it is given, and stops and resumes
reading when told.  Queueing, ordering, backpressure, limits, the login and
shutdown all live here, once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any, Protocol, cast

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from cybermarket.errors import (
    BadRequest,
    Malformed,
    MarketError,
    NotLoggedIn,
    TooLarge,
    Unavailable,
    internal_error,
)
from cybermarket.i18n import DEFAULT, N_, render
from cybermarket.ops import CLIENT, EITHER, MERCHANT
from cybermarket.server.bodies import MSGPACK, Bodies, Response
from cybermarket.server.context import App, Call, Session
from cybermarket.server.optable import SERVED, Served
from cybermarket.values import shown

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

MESSAGES = {200: N_("ok"), 201: N_("created")}
LOG_IN_FIRST = {
    CLIENT: N_("{op}: log in as a client first"),
    MERCHANT: N_("{op}: log in as a merchant first"),
    EITHER: N_("{op}: log in first"),
}

_LARGEST_ID = 2**64  # what a MessagePack integer can carry; JSON the same


class Carrier(Protocol):
    """What a connection needs of whatever carries its bodies."""

    def register_producer(self, producer: IPushProducer) -> None:
        """Have `producer` paused while the client does not read."""

    def write_body(self, body: bytes | str) -> None:
        """Send one response body (str: JSON text)."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None:
        """Read on; bodies held back while paused may be handed in now."""

    def partial(self) -> bool:
        """True while part of a body has arrived and the rest is awaited."""

    def close(self, too_large: bool = False) -> None:
        """Close once what was written is sent."""

    def abort(self) -> None:
        """Drop the connection now."""


class Factory(Protocol):
    """What a connection needs of the factory that made it
    (protocol.MarketFactory)."""

    @property
    def connections(self) -> set[MarketConnection]:
        """Every connection up, for shutdown."""

    @property
    def stopping(self) -> bool:
        """True once the server shuts down: new requests get 503."""

    @property
    def bites(self) -> Mapping[str, Callable[..., object]]:
        """The loggers of refusals by a limit (limits.Bite), by reason."""

    @property
    def tracebacks(self) -> Callable[..., object]:
        """Logs an unexpected failure within a bound (limits.Tracebacks)."""

    def admit(self, peer: str) -> bool:
        """Count one more connection from the address `peer`, unless its
        cap is reached (then False)."""

    def connection_gone(self, connection: MarketConnection) -> Any: ...

    def check_idle(self) -> Any: ...


# Logged when an op answers a code its declaration (ops.Op.codes) lacks:
# a bug of the server, which tests/conftest.py fails any test on.
UNDECLARED = "{op} answered {code}, which it does not declare"


def decode(body: bytes | str, bodies: Bodies = MSGPACK) -> tuple[int, Served, dict[str, Any]]:
    """(id, op, args) of a request body, args validated.  BadRequest carries
    the request's id once it is known (request_id attribute)."""
    message = bodies.load(body)
    if not isinstance(message, dict):
        raise Malformed(N_("body: must be a map with id, op and args"))
    request_id = message.get("id")
    if type(request_id) is not int or not 0 <= request_id < _LARGEST_ID:
        raise Malformed(N_("id: must be a non-negative integer"))
    try:
        name = message.get("op")
        if type(name) is not str:
            raise Malformed(N_("op: must be a string"))
        op = SERVED.get(name)
        if op is None:
            raise Malformed(N_("op: unknown op {op}"), op=f"'{shown(name)}'")
        return request_id, op, op.check_args(message.get("args"))
    except BadRequest as e:
        e.request_id = request_id
        raise


@implementer(IPushProducer)
class _WriteBuffer:
    """Registered with the transport so that a client which pipelines but
    does not read makes us stop reading, instead of buffering answers."""

    def __init__(self, connection: MarketConnection) -> None:
        self.connection = connection

    def pauseProducing(self) -> None:
        self.connection._set_pause("writes", True)

    def resumeProducing(self) -> None:
        self.connection._set_pause("writes", False)

    def stopProducing(self) -> None:
        pass


class MarketConnection(TimeoutMixin):
    def __init__(self, app: App, factory: Factory, peer: str | None = None) -> None:
        self.app = app
        self.factory = factory
        self.carrier: Carrier | None = None
        self.session: Session | None = None
        # The language of this connection's messages (SET_LANGUAGE; a
        # WebSocket starts from its Accept-Language): one of i18n.LANGUAGES.
        self.language = DEFAULT
        # The client's IP address, counted against its cap (admitted); None
        # behind a balancer until the PROXY header has named it.
        self.peer = peer
        self.admitted = peer is not None
        # Holds a place in the factory's caps (MarketFactory.open_connection),
        # until MarketFactory.connection_gone gives it back.
        self.counted = False
        # (body, its encoding, whether the server was stopping when it
        # came); a body None: one over the frame limit began, answer 413.
        self._queue: deque[tuple[bytes | str | None, Bodies, bool]] = deque()
        self._queued_bytes = 0
        self._busy = False
        self._pumping = False
        self._closing = False
        self._pauses: set[str] = set()
        self._write_buffer = _WriteBuffer(self)
        self._frame_timer: IDelayedCall | None = None
        self._burst = 0  # requests started since the last read
        self._started = 0.0  # when the request being handled began (perf_counter)

    def callLater(self, delay: float, function: Callable[[], object]) -> IDelayedCall:
        # TimeoutMixin's idle timer, on the app's clock rather than the
        # global reactor.
        return self.app.clock.callLater(delay, function)

    # --- what a carrier calls -------------------------------------------------

    def start(self, carrier: Carrier) -> None:
        """The connection is up (a WebSocket: its handshake is done)."""
        self.carrier = carrier
        if self.app.metrics is not None:
            self.app.metrics.opened(getattr(carrier, "kind", "tcp"))
        carrier.register_producer(self._write_buffer)
        self.setTimeout(self.app.settings.idle_timeout)
        self.factory.connections.add(self)

    def lost(self) -> None:
        self.setTimeout(None)
        self._stop_frame_timer()
        self.session = None
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        if self.carrier is not None and self.app.metrics is not None:
            self.app.metrics.closed(getattr(self.carrier, "kind", "tcp"))
        self.carrier = None
        self.factory.connection_gone(self)

    @property
    def reading(self) -> bool:
        """False once nothing more is to be read (after a 413)."""
        return not self._closing

    def data_arrived(self) -> None:
        """Bytes came in: a new read, and the client is not idle."""
        self._burst = 0
        self.resetTimeout()

    def received(self, body: bytes | str, bodies: Bodies = MSGPACK) -> None:
        """One whole request body, in the encoding `bodies`."""
        if self._closing:
            return
        self._queue.append((body, bodies, self.factory.stopping))
        self._queued_bytes += len(body)
        if (
            len(self._queue) >= HIGH_WATER
            or self._queued_bytes >= self.app.settings.connection_buffer
        ):
            self._set_pause("queue", True)
        self._pump()

    def too_large(self, bodies: Bodies = MSGPACK) -> None:
        """A body over the frame limit began (in the encoding `bodies`):
        answer 413 after what came before it, then close; nothing more is
        read."""
        if self._closing:
            return
        self._closing = True
        self._queue.append((None, bodies, False))
        self._pump()

    def watch_frame(self) -> None:
        """Run the frame timer while a body is partly received and the
        client is the one to send the rest: not while reading is paused, when
        the bytes held back are the server's delay, not the client's."""
        partial = (
            self.carrier is not None
            and self.carrier.partial()
            and not self._pauses
            and not self._closing
        )
        if partial and self._frame_timer is None:
            self._frame_timer = self.app.clock.callLater(
                self.app.settings.frame_timeout, self._frame_timed_out
            )
        elif not partial:
            self._stop_frame_timer()

    def close(self) -> None:
        if self.carrier is not None:
            self.carrier.close()

    def abort(self) -> None:
        self._closing = True
        if self.carrier is not None:
            self.carrier.abort()

    # --- timers -----------------------------------------------------------------

    def timeoutConnection(self) -> None:
        # A gentle close waits until the answers already written are sent,
        # which a client that does not read never lets happen: the
        # connection and its answer would stay for ever.
        if "writes" in self._pauses:
            self.abort()
        else:
            self.close()

    def _stop_frame_timer(self) -> None:
        if self._frame_timer is not None:
            if self._frame_timer.active():
                self._frame_timer.cancel()
            self._frame_timer = None

    def _frame_timed_out(self) -> None:
        self._frame_timer = None
        self.factory.bites["frame-timeout"](peer=self.peer)
        self.abort()

    # --- backpressure ---------------------------------------------------------

    def _set_pause(self, why: str, paused: bool) -> None:
        """Stop reading while any reason holds; the carrier keeps what
        arrives meanwhile unparsed (or held), so a flood costs no more than
        one read's worth."""
        before = bool(self._pauses)
        (self._pauses.add if paused else self._pauses.discard)(why)
        if before != bool(self._pauses) and self.carrier is not None:
            if self._pauses:
                self.carrier.pause_reading()
            else:
                # Hands in what was held back, which may queue more requests.
                self.carrier.resume_reading()
            self.watch_frame()
        if why == "writes" and not paused:
            # Requests that waited for the client to read can run now.
            self._pump()

    @property
    def idle(self) -> bool:
        return not self._busy and not self._queue

    # --- one request at a time --------------------------------------------

    def _pump(self) -> None:
        # Re-entered from _finished when a request completes synchronously,
        # and from resume_reading; the loop below then carries on, so
        # pipelined requests never recurse.
        if self._pumping:
            return
        self._pumping = True
        try:
            while True:
                # Nothing more is run while the client does not read what
                # was answered: its answers would pile up in memory.
                while self._queue and not self._busy and "writes" not in self._pauses:
                    body, bodies, stopping = self._queue.popleft()
                    self._started = perf_counter()
                    if body is None:
                        self._send(self._answer(None, None, TooLarge()), bodies)
                        self._queue.clear()
                        self._queued_bytes = 0
                        if self.carrier is not None:
                            self.carrier.close(too_large=True)
                        return
                    self._queued_bytes -= len(body)
                    self._busy = True
                    self._burst += 1
                    self._handle(body, bodies, stopping).addCallback(self._finished, bodies)
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
        if self.carrier is not None and not self._closing:
            self._set_pause("turn", False)
            self._pump()

    def _below_low_water(self) -> bool:
        return (
            len(self._queue) < LOW_WATER
            and self._queued_bytes < self.app.settings.connection_buffer // 4
        )

    def _finished(self, response: Response, bodies: Bodies) -> None:
        self._send(response, bodies)
        self._busy = False
        if self.idle:
            self.factory.check_idle()
        self._pump()

    def _send(self, response: Response, bodies: Bodies) -> None:
        if self.carrier is None:
            return  # gone while the request ran
        try:
            body = bodies.dump(response)
        except Exception:
            self.factory.tracebacks(
                Failure(), "cannot encode the answer to request {id}", id=response.get("id")
            )
            body = bodies.dump(self._internal_error(response.get("id"), self.language))
        self.carrier.write_body(body)
        self.resetTimeout()

    def _handle(
        self, body: bytes | str, bodies: Bodies, stopping: bool
    ) -> defer.Deferred[Response]:
        """A Deferred that fires with the response to one request body."""
        request_id: int | None = None
        op: Served | None = None
        try:
            request_id, op, args = decode(body, bodies)
            if stopping:
                raise Unavailable(N_("the server is shutting down"))
            if op.role is not None and (
                self.session is None or op.role not in (self.session.role, EITHER)
            ):
                raise NotLoggedIn(LOG_IN_FIRST[op.role], op=op.name)
        except MarketError as e:
            # decode's BadRequest carries the request's id once it was read.
            return defer.succeed(self._answer(getattr(e, "request_id", request_id), op, e))
        except Exception as e:
            return defer.succeed(self._answer(request_id, op, e, failure=Failure()))
        # The peer is learnt before any request.
        call = Call(self.app, self.session, cast(str, self.peer), self.language)
        try:
            if op.flow:
                d = defer.ensureDeferred(op.function(call, **args))
            else:
                if op.paged:
                    args["page_bytes"] = self.app.settings.page_bytes
                d = self.app.db.run(
                    op.name, op.function, call.me, write=op.write, autocommit=op.autocommit, **args
                )
        except Exception:
            d = defer.fail()

        def succeeded(data: Any) -> Response:
            if op.flow:
                self.session = call.session
                self.language = call.language
            return self._answer(request_id, op, None, data)

        d.addCallbacks(succeeded, lambda f: self._answer(request_id, op, f.value, failure=f))
        return d

    def _answer(
        self,
        request_id: int | None,
        op: Served | None,
        error: BaseException | None,
        data: Any = None,
        failure: Failure | None = None,
    ) -> Response:
        """The response: the one place where errors become statuses."""
        response: Response
        if error is None:
            assert op is not None  # only a request of a known op succeeds
            message = render(MESSAGES[op.status], {}, self.language)
            response = {"id": request_id, "status": op.status, "message": message}
            if data is not None:
                response["data"] = data
        elif isinstance(error, MarketError):
            message = error.translated(self.language)
            response = {
                "id": request_id,
                "status": error.status,
                "message": message,
                "error": error.error,
            }
            if op is not None and error.code not in op.codes:
                # A code the op does not declare: docs/protocol.md and the
                # clients do not expect it.  Answered all the same.
                log.error(UNDECLARED, op=op.name, code=error.code.name)
        else:
            # A bug or an unforeseen failure: logged in full (within
            # --tracebacks-per-second), answered bare.
            self.factory.tracebacks(
                failure or Failure(error),
                "{op} failed (request {id})",
                op=op.name if op else "?",
                id=request_id,
            )
            response = self._internal_error(request_id, self.language)
        answered = self.app.answered  # --metrics, --access-log
        if answered is not None:
            answered(
                op.name if op else None,
                response["status"],
                perf_counter() - self._started,
                self.peer,
                self.session.account_id if self.session else None,
            )
        return response

    @staticmethod
    def _internal_error(request_id: int | None, language: str = DEFAULT) -> Response:
        message = render(MarketError.default, {}, language)
        return {"id": request_id, "status": 500, "message": message, "error": internal_error()}
