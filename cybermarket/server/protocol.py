"""TCP: 4-byte big-endian length frames (Int32StringReceiver) carrying
MessagePack maps, and the factory that admits connections, of TCP, HTTP
(--web, --metrics: httpchannel.py) and WebSocket alike, within the
connection caps.

The frames' bodies go to a MarketConnection (connection.py), which queues,
orders and answers them; this module only frames them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IPushProducer
from twisted.internet.protocol import Factory
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure

from cybermarket.codec import encode  # noqa: F401 (the tests' encoder)
from cybermarket.server import limits
from cybermarket.server.bodies import MSGPACK
from cybermarket.server.connection import (  # noqa: F401 (imported from here too)
    BURST,
    HIGH_WATER,
    LOW_WATER,
    MarketConnection,
    decode,
)
from cybermarket.server.connection import log as connection_log

if TYPE_CHECKING:
    from cybermarket.server.context import App


class MarketProtocol(Int32StringReceiver):
    """Carries one MarketConnection's bodies in length-prefixed frames."""

    # A TCP, TLS or PROXY transport (ITCPTransport and IConsumer) once
    # connected, None before.
    transport: Any

    def __init__(self, connection: MarketConnection) -> None:
        self.connection = connection

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.connection.app.settings.max_frame
        self.connection.start(self)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.connection.lost()

    def dataReceived(self, data: bytes) -> None:
        connection = self.connection
        if not connection.reading:
            return  # after a 413 nothing more is read
        if connection.peer is None and not self._learn_peer():
            return
        connection.data_arrived()
        # The base class named, not super(): mypy lets this one untyped
        # Twisted method be called by its name (pyproject.toml).
        Int32StringReceiver.dataReceived(self, data)
        connection.watch_frame()

    def _learn_peer(self) -> bool:
        """Behind a balancer: the address the PROXY header named (parsed by
        the transport before any of our bytes arrive), held to its cap."""
        connection = self.connection
        host = getattr(self.transport.getPeer(), "host", None)
        if host is None:
            connection.peer = "local"  # a UNIX socket: no address to tell apart
            return True
        connection.peer = host
        if not connection.factory.admit(host):
            connection.abort()
            return False
        connection.admitted = True
        return True

    def stringReceived(self, body: bytes) -> None:
        self.connection.received(body, MSGPACK)

    def lengthLimitExceeded(self, length: int) -> None:
        self.connection.too_large(MSGPACK)

    # --- the Carrier ------------------------------------------------------------

    def register_producer(self, producer: IPushProducer) -> None:
        self.transport.registerProducer(producer, True)

    def write_body(self, body: bytes | str) -> None:
        self.sendString(body)

    def pause_reading(self) -> None:
        # Int32StringReceiver's own pause: frames already read stay unparsed.
        self.pauseProducing()

    def resume_reading(self) -> None:
        # Parses what was held back.
        self.resumeProducing()

    def partial(self) -> bool:
        return bool(self._unprocessed)

    def close(self, too_large: bool = False) -> None:
        self.transport.loseConnection()

    def abort(self) -> None:
        self.transport.abortConnection()


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
    (
        "photo-max-bytes",
        "refused a photo upload of {bytes} bytes from {peer} before its body"
        " (--photo-max-bytes); {count} refused since the last report",
    ),
    (
        "photo-min-rate",
        "closed the connection of {peer}: a photo upload's body came slower than"
        " --photo-min-rate; {count} closed since the last report",
    ),
]


class MarketFactory(Factory):
    """Builds a protocol per connection, within the connection caps, and
    knows them all, for shutdown."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[MarketConnection] = set()
        self.stopping = False
        self._idle_waiters: list[defer.Deferred[None]] = []
        self._closed_waiters: list[defer.Deferred[None]] = []
        self._open = 0  # built and not yet lost: counted before connectionMade
        # Connections open from each address (admitted in its cap).
        self._per_address: dict[str, int] = {}
        self.bites = {reason: limits.Bite(app.clock, reason, text) for reason, text in BITES}
        for bite in self.bites.values():
            bite.security = "connection_refused"
        # Every connection's unexpected failures, logged within one bound.
        self.tracebacks = limits.Tracebacks(
            app.clock, app.settings.tracebacks_per_second, connection_log
        )

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
        connection = self.open_connection(peer)
        return None if connection is None else MarketProtocol(connection)

    def open_connection(
        self, peer: str | None, admit: bool = False, counted: bool = False
    ) -> MarketConnection | None:
        """A new connection from `peer` (None: not known yet), counted in
        the caps; None when the caps are reached.  buildProtocol has checked
        them already; `admit` checks them here.  `counted`: the connection
        has its place already, taken over from the HTTP connection it was
        upgraded from (a WebSocket), and gives it back when it is gone."""
        if counted:
            return MarketConnection(self.app, self, peer)
        if admit:
            if not self.take(peer):
                return None
            connection = MarketConnection(self.app, self, peer)
            connection.counted = True
            return connection
        self._open += 1
        connection = MarketConnection(self.app, self, peer)
        connection.counted = True
        return connection

    def take(self, peer: str | None, shown: str | None = None) -> bool:
        """Count one more connection from `peer` (None: an address not known
        yet) in the caps, unless one is reached (then False, logged with
        `shown` or `peer` as the address).  release() gives it back."""
        settings = self.app.settings
        if settings.max_connections is not None and self._open >= settings.max_connections:
            self.bites["max-connections"](peer=shown or peer or "local", open=self._open)
            return False
        if peer is not None and not self.admit(peer):
            return False
        self._open += 1
        return True

    def release(self, peer: str | None, admitted: bool) -> None:
        """Give back the place of a connection from `peer`; `admitted`: it
        was counted in its address's cap."""
        self._open -= 1
        if peer is None or not admitted:
            return  # never counted in an address's cap
        count = self._per_address.get(peer)
        if count is not None:
            if count > 1:
                self._per_address[peer] = count - 1
            else:
                del self._per_address[peer]

    def admit(self, peer: str) -> bool:
        """Count one more connection from the IP address `peer`, unless its
        cap is reached (then False, logged)."""
        count = self._per_address.get(peer, 0)
        if count >= self.app.settings.max_connections_per_address:
            self.bites["max-connections-per-address"](peer=peer, open=count)
            return False
        self._per_address[peer] = count + 1
        return True

    def connection_gone(self, protocol: MarketConnection) -> None:
        """`protocol` (a MarketConnection) is closed, or never opened: its
        place in the caps goes back, if it holds one.  A failed upgrade can
        reach here twice (its own cleanup, then the lost connection), so a
        place is given back only once."""
        self.connections.discard(protocol)
        if protocol.counted:
            protocol.counted = False
            self.release(protocol.peer, protocol.admitted)
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
