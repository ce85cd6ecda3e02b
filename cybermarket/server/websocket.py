"""The protocol over WebSocket (RFC 6455), with Twisted's own
twisted.web.websocket: one request body per message, binary for
MessagePack, text for JSON, answered in kind.

WebSocketCarrier does for a WebSocket what protocol.MarketProtocol does for
a TCP connection: it hands whole bodies to a MarketConnection and writes its
answers; the connection does everything else, the same for both.

MarketWebSocketResource serves /ws: it refuses browsers from origins not
allowed (403) before the handshake.  The caps were applied when the HTTP
connection was accepted (httpchannel.MarketSite: 503 over a cap); the
WebSocket takes over that connection's place only once the handshake is
done, so an upgrade that fails on any path leaves the place with the HTTP
connection, which gives it back when it closes.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, cast

import h11
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.websocket import WebSocketResource, WebSocketTransport
from wsproto.utilities import LocalProtocolError

from cybermarket.i18n import cut_short, from_accept_language
from cybermarket.server import limits
from cybermarket.server.bodies import JSON, MSGPACK, Bodies
from cybermarket.server.connection import MarketConnection
from cybermarket.server.origins import origin_of

if TYPE_CHECKING:
    from cybermarket.server.httpchannel import MarketChannel
    from cybermarket.server.protocol import MarketFactory

log = Logger()

# The attributes of twisted.web.websocket's wire protocol (a private class,
# _websocket_impl._WebSocketWireProtocol) where it gathers a message's
# pieces.  Twisted has no hook to bound a message while it arrives, so
# _Bounded stands in for them; tests/test_websocket.py fails loudly when a
# Twisted release moves them, and the server logs it at the first upgrade.
TWISTED_BUFFERS = ("_textBuffer", "_bytesBuffer")

# RFC 6455 close codes.
GOING_AWAY = 1001
MESSAGE_TOO_BIG = 1009

# A message as the connection is handed it: its body (None: over the
# limit, answered 413) and the encoding it came in.
Message = tuple[bytes | str | None, Bodies]


_warned: list[bool] = []


def _unbounded_once() -> None:
    """Say, once per process, that this Twisted's buffers could not be
    bounded: messages over --max-frame are then refused only when whole."""
    if not _warned:
        _warned.append(True)
        import twisted

        log.warn(
            "Twisted {version} has no {names} on its WebSocket wire protocol:"
            " a WebSocket message over --max-frame is refused only once it is whole",
            version=twisted.__version__,
            names=", ".join(TWISTED_BUFFERS),
        )


class _Bounded:
    """Where twisted.web.websocket gathers the pieces of one message,
    counting its bytes: past the frame limit the rest is dropped and the
    carrier told, so that a huge message never sits in memory whole.
    (Twisted keeps no limit of its own; this replaces its buffer object, an
    attribute of its wire protocol with the same add/done methods.)"""

    def __init__(self, carrier: WebSocketCarrier, empty: bytes | str, bodies: Bodies) -> None:
        self.carrier = carrier
        self.empty = empty
        self.bodies = bodies
        # str pieces in the text buffer, bytes in the binary one (Any: each
        # is joined with its own kind of `empty`).
        self.parts: list[Any] = []
        self.size = 0
        self.over = False

    def add(self, data: bytes | bytearray | str) -> None:
        if not self.over:
            self.size += len(data.encode()) if isinstance(data, str) else len(data)
            if self.size > self.carrier.limit:
                # As on TCP, the 413 goes as soon as the size is known to be
                # over, not when (if ever) the message ends.
                self.over = True
                self.parts.clear()
                self.carrier.message_too_large(self.bodies)
            else:
                self.parts.append(data)
        self.carrier.piece_arrived()

    def done(self) -> bytes | str | None:
        """The whole message; None for one over the limit."""
        over = self.over
        body = None if over else self.empty.join(self.parts)
        self.parts.clear()
        self.size = 0
        self.over = False
        return body

    @property
    def partial(self) -> bool:
        return self.size > 0


class WebSocketCarrier:
    """A twisted.web.websocket WebSocketProtocol carrying one
    MarketConnection's bodies."""

    kind = "websocket"  # the transport, as the metrics name it

    def __init__(self, connection: MarketConnection, channel: MarketChannel | None = None) -> None:
        self.connection = connection
        self.channel = channel  # the HTTP channel the upgrade came on
        self.limit = connection.app.settings.max_frame
        self.transport: WebSocketTransport | None = None
        self._paused = False
        self._held: deque[Message] = deque()  # bodies that arrived while paused
        self._in_read = False
        self._bounded = False
        self._text: _Bounded | None = None
        self._bytes: _Bounded | None = None

    # --- twisted.web.websocket's WebSocketProtocol ------------------------------

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        self.transport = transport
        self._text = _Bounded(self, "", JSON)
        self._bytes = _Bounded(self, b"", MSGPACK)
        self._bounded = all(hasattr(transport, name) for name in TWISTED_BUFFERS)
        if self._bounded:
            text, data = TWISTED_BUFFERS
            setattr(transport, text, self._text)
            setattr(transport, data, self._bytes)
        else:
            _unbounded_once()

    def negotiationFinished(self) -> None:
        self._watch_reads(self.channel)
        self.channel = None
        self.connection.start(self)

    def textMessageReceived(self, message: str | None) -> None:
        self._deliver(message, JSON)

    def bytesMessageReceived(self, data: bytes | bytearray | None) -> None:
        self._deliver(bytes(data) if isinstance(data, bytearray) else data, MSGPACK)

    def pongReceived(self, payload: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        self.transport = None
        self.connection.lost()

    # --- what arrives -------------------------------------------------------------

    def read_begins(self) -> None:
        """Bytes came in: the client is not idle, and the burst count
        starts again, as on TCP."""
        self._in_read = True
        self.connection.data_arrived()

    def read_ends(self) -> None:
        self._in_read = False
        self.connection.watch_frame()

    def piece_arrived(self) -> None:
        """Part of a message came in.  Where reads cannot be told apart (see
        _watch_reads), each piece counts as activity, and the frame timer is
        looked at piece by piece; the burst count then starts again only at
        the reactor's next turn."""
        if not self._in_read:
            self.connection.resetTimeout()
            self.connection.watch_frame()

    def _watch_reads(self, channel: Any) -> None:
        """Have read_begins and read_ends called around each read of the
        connection.  Twisted's upgrade hands the HTTP channel's reads to its
        wire protocol by setting the channel's dataReceived to the wire's;
        this wraps that, when it finds it so."""
        wire = self.transport
        deliver = getattr(channel, "dataReceived", None)
        if wire is None or deliver is None or deliver != getattr(wire, "dataReceived", None):
            return

        def dataReceived(data: bytes) -> None:
            self.read_begins()
            try:
                deliver(data)
            finally:
                self.read_ends()

        channel.dataReceived = dataReceived

    def message_too_large(self, bodies: Bodies) -> None:
        self._hold_or_hand((None, bodies))

    def _deliver(self, body: bytes | str | None, bodies: Bodies) -> None:
        if body is None:
            return  # over the limit: answered 413 already
        if not self._bounded and len(body.encode() if isinstance(body, str) else body) > self.limit:
            body = None  # a Twisted whose buffer could not be bounded: late, but 413
        self._hold_or_hand((body, bodies))

    def _hold_or_hand(self, item: Message) -> None:
        # Twisted hands in every message of a read, paused or not; those
        # that come while paused wait here, as unparsed frames wait in a TCP
        # connection's buffer.
        if self._paused or self._held:
            self._held.append(item)
        else:
            self._hand(item)

    def _hand(self, item: Message) -> None:
        body, bodies = item
        if body is None:
            self.connection.too_large(bodies)
        else:
            self.connection.received(body, bodies)

    # --- the Carrier ----------------------------------------------------------------

    def register_producer(self, producer: IPushProducer) -> None:
        # The HTTP channel registered itself with the TCP transport; it is
        # done with the connection, so the write buffer now tells ours.
        tcp = self._tcp()
        if tcp is not None:
            tcp.unregisterProducer()
        assert self.transport is not None  # called once negotiated
        self.transport.attachProducer(producer)

    def write_body(self, body: bytes | str) -> None:
        if self.transport is None:
            return
        try:
            if isinstance(body, str):
                self.transport.sendTextMessage(body)
            else:
                self.transport.sendBytesMessage(body)
        except LocalProtocolError:
            pass  # closing already: the answer has nowhere to go

    def pause_reading(self) -> None:
        self._paused = True
        tcp = self._tcp()
        if tcp is not None:
            tcp.pauseProducing()

    def resume_reading(self) -> None:
        self._paused = False
        while self._held and not self._paused:
            self._hand(self._held.popleft())
        if not self._paused:
            tcp = self._tcp()
            if tcp is not None:
                tcp.resumeProducing()

    def partial(self) -> bool:
        return bool(
            (self._text is not None and self._text.partial)
            or (self._bytes is not None and self._bytes.partial)
        )

    def close(self, too_large: bool = False) -> None:
        if self.transport is None:
            return
        try:
            self.transport.loseConnection(MESSAGE_TOO_BIG if too_large else GOING_AWAY)
        except LocalProtocolError:  # a close was sent or received already
            tcp = self._tcp()
            if tcp is not None:
                tcp.loseConnection()

    def abort(self) -> None:
        tcp = self._tcp()
        if tcp is not None:
            tcp.abortConnection()

    def _tcp(self) -> Any:
        """The TCP (or TLS) transport under the WebSocket."""
        return getattr(self.transport, "transport", None)


def own_origin(request: Request) -> str | None:
    """The origin the request was sent to: its scheme and Host header."""
    scheme = "https" if request.isSecure() else "http"
    host = request.getHeader("host")
    if not host:
        address = request.getHost()
        host = f"{getattr(address, 'host', '')}:{getattr(address, 'port', '')}"
    return origin_of(f"{scheme}://{host}")


class MarketWebSocketResource(WebSocketResource):
    """/ws: the upgrade, for allowed origins and within the caps."""

    def __init__(self, market: MarketFactory, origins: list[str]) -> None:
        super().__init__(self)
        self.market = market  # the MarketFactory, shared with TCP
        self.origins = {origin_of(o) for o in origins} - {None}
        # The connection each upgrade in progress opened: Twisted's
        # render_GET calls buildProtocol(request) before it returns.
        self._opening: dict[Request, MarketConnection] = {}
        self.long_header = limits.Bite(
            market.app.clock,
            "accept-language-ranges",
            "read only the first {ranges} ranges of an Accept-Language header from {peer}"
            " (--accept-language-ranges); {count} such headers since the last report",
        )

    def allowed(self, request: Request) -> bool:
        origin = request.getHeader("origin")
        if origin is None:
            return True  # not a browser: nothing for the rule to protect
        found = origin_of(origin)
        return found is not None and (found == own_origin(request) or found in self.origins)

    def render_GET(self, request: Request) -> bytes | int:
        if not self.allowed(request):
            return _refuse(request, 403, b"this origin may not open a WebSocket here\n")
        # The HTTP connection has held a place in the caps since it was
        # accepted (httpchannel.MarketSite): its WebSocket takes that place
        # over once the handshake is done, and gives it back when it closes.
        # A refused or broken handshake leaves it with the HTTP connection.
        channel = cast("MarketChannel", request.channel)  # the web site's channels
        peer = channel.peer or "local"
        # The language before the connection: nothing that could fail runs
        # between making it and the try below.
        language = self._language(request, peer)
        connection = self.market.open_connection(peer, counted=True)
        assert connection is not None  # counted: never refused
        connection.language = language
        self._opening[request] = connection
        try:
            result = super().render_GET(request)
        except h11.LocalProtocolError:
            # wsproto reads the request again with h11, which refuses some
            # that twisted.web took (no Host header, odd header values):
            # the client's mistake, found before anything was written.
            self.market.connection_gone(connection)
            return _refuse(request, 400, b"not a WebSocket upgrade this server can read\n")
        except BaseException:
            # The handshake broke (twisted.web answers 500): the place goes
            # back, and a connection that had begun is dropped.
            connection.abort()
            self.market.connection_gone(connection)
            raise
        finally:
            del self._opening[request]
        if result is NOT_DONE_YET:
            channel.hand_over()
            connection.admitted = channel.admitted
            connection.counted = True
        else:  # the handshake was refused (400)
            self.market.connection_gone(connection)
        return result

    def _language(self, request: Request, peer: str) -> str:
        """The best match for the request's Accept-Language, of which only
        the first --accept-language-ranges ranges are read."""
        header = request.getHeader("accept-language")
        ranges = self.market.app.settings.accept_language_ranges
        if cut_short(header, ranges):
            self.long_header(peer=peer, ranges=ranges)
        return from_accept_language(header, ranges)

    def buildProtocol(self, request: Request) -> WebSocketCarrier:
        """Twisted's WebSocketServerFactory: the carrier of the connection
        render_GET opened."""
        return WebSocketCarrier(self._opening[request], cast("MarketChannel", request.channel))


def _refuse(request: Request, status: int, text: bytes) -> bytes:
    request.setResponseCode(status)
    request.setHeader("content-type", "text/plain; charset=utf-8")
    return text
