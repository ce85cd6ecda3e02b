"""HTTP connections (--web, --metrics) held to the limits a protocol
connection is held to.

Every HTTP connection takes a place in the connection caps when it is
accepted, as a TCP connection does (MarketFactory.take), and gives it back
when it closes; a WebSocket takes over the place of the connection it was
upgraded from.  A connection over a cap is answered 503 and closed at once.

A request (its line, headers and body) must arrive whole within
--frame-timeout of its first byte; a connection idle between requests is
closed after --http-idle-timeout; a body over --max-frame is answered 413
before it is read.

A photo upload (PUT /photos/..., protocol 1.3) is larger than a frame and
may come over a phone's slow link, so it has rules of its own: a declared
size over --photo-max-bytes is answered 413 from its headers, before the
body is read (twisted.web reads a whole body before a resource sees it; a
client that sends `Expect: 100-continue` never sends it), and a chunked
body is counted as it comes.  Its line and headers must come within
--frame-timeout as any request's; then its body must keep up
--photo-min-rate bytes a second on average after a grace of
--frame-timeout: t seconds after the headers, at least
(t - frame_timeout) x rate bytes must have come, or the connection is cut
off.  So 8 MiB gets through at 8 KiB/s, and a trickle holds its place for
no longer than its bytes are worth.  And the next request of a connection is not read while
the answers before it wait in the write buffer for a client that does not
read them: twisted.web answers pipelined requests as fast as it parses them
and would keep every answer in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.interfaces import IAddress, IDelayedCall
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web import http, server
from twisted.web.resource import Resource

from cybermarket.server import photos

if TYPE_CHECKING:
    from cybermarket.server.protocol import MarketFactory

# A whole answer, sent as the connection is closed; no request needed.
TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"content-length: 21\r\n"
    b"connection: close\r\n\r\n"
    b"too many connections\n"
)
TOO_LARGE = (
    b"HTTP/1.1 413 Content Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 23\r\n"
    b"connection: close\r\n\r\n"
    b"request body too large\n"
)


def is_proxied(description: str) -> bool:
    """True for an endpoint behind a balancer that sends the PROXY
    protocol (haproxy:...)."""
    return description.strip().lower().startswith("haproxy:")


class Refusal(Protocol):
    """A connection over a cap: 503, then closed.  It counts in no cap and
    lives only until its answer is written."""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(TOO_MANY)
        self.transport.loseConnection()


class MarketChannel(http.HTTPChannel):
    """twisted.web's HTTP/1.1 channel, counted in the caps and within the
    limits (see the module's docstring).  MarketSite sets `market`, `peer`
    and `admitted` as it accepts the connection.

    The base class's methods are called by its name, not super(): mypy
    lets these untyped Twisted methods be called by their names
    (pyproject.toml's untyped_calls_exclude)."""

    market: MarketFactory
    peer: str | None = None  # the client's IP address; None until known
    admitted = False  # counted in its address's cap
    counted = False  # holding a place in the caps
    learn_peer = False  # behind a balancer: the address comes with the first bytes

    def __init__(self) -> None:
        http.HTTPChannel.__init__(self)
        self._request_timer: IDelayedCall | None = None
        # A request answered while its answer waits unsent.
        self._held: http.Request | None = None
        self._body = 0  # bytes of a chunked body so far
        self._refused = False
        self._most = 0  # the most bytes the body of the request being read may have
        # A photo upload's body: when its headers were whole (None when the
        # request being read is not an upload), and its bytes so far.
        self._upload_since: float | None = None
        self._upload_bytes = 0

    # --- the caps ---------------------------------------------------------------------

    def hold(self) -> None:
        """The connection takes its place in the caps (MarketSite, as it
        accepts it), and shows in the gauge of open connections."""
        self.counted = True
        self._metrics("opened")

    def hand_over(self) -> None:
        """The connection became a WebSocket, whose MarketConnection now
        holds this connection's place in the caps and its timers."""
        self.counted = False
        self._metrics("closed")
        self.setTimeout(None)
        self._stop_request_timer()

    def _give_back(self) -> None:
        if self.counted:
            self.counted = False
            self._metrics("closed")
            self.market.release(self.peer, self.admitted)

    def _metrics(self, event: str) -> None:
        metrics = self.market.app.metrics
        if metrics is not None:
            getattr(metrics, event)("http")

    def _admit(self) -> bool:
        """Behind a balancer: hold the address the PROXY header named to
        its cap, before its first request is read."""
        self.learn_peer = False
        assert self.transport is not None
        host = getattr(self.transport.getPeer(), "host", None)
        self.peer = host
        if host is None:
            return True
        if not self.market.admit(host):
            self._refuse(TOO_MANY)
            return False
        self.admitted = True
        return True

    def _refuse(self, answer: bytes) -> None:
        self._refused = True
        self._stop_request_timer()
        assert self.transport is not None
        self.transport.write(answer)
        self.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_request_timer()
        self._give_back()
        http.HTTPChannel.connectionLost(self, reason)

    # --- what arrives --------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        if self.learn_peer and not self._admit():
            return
        http.HTTPChannel.dataReceived(self, data)
        self._watch_request()

    def allHeadersReceived(self) -> None:
        settings = self.market.app.settings
        upload = photos.is_upload(getattr(self, "_command", b""), getattr(self, "_path", b""))
        self._most = settings.photo_max_bytes if upload else settings.max_frame
        # Known to be over before the body is read, or stored: answered now.
        if self.length is not None and self.length > self._most:
            self._too_large(upload, self.length)
            return
        self._body = 0
        if upload:
            self._start_upload()
        http.HTTPChannel.allHeadersReceived(self)

    def _too_large(self, upload: bool, size: int) -> None:
        if upload:
            self.market.bites["photo-max-bytes"](peer=self.peer or "local", bytes=size)
            self._refuse(photos.too_large_answer(self._most))
        else:
            self._refuse(TOO_LARGE)

    def rawDataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._handlingRequest:
            if self._upload_since is not None:
                self._upload_bytes += len(data)
            if self.length is None:
                # A chunked body, whose length nothing announced: counted as
                # it comes (its chunks' framing too).
                self._body += len(data)
                if self._body > self._most:
                    self._too_large(self._upload_since is not None, self._body)
                    return
        super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        self._stop_request_timer()
        self._upload_since = None
        http.HTTPChannel.allContentReceived(self)

    # --- a photo upload's body ------------------------------------------------------------

    def _start_upload(self) -> None:
        """The headers are whole: from now on the body's rate is watched
        instead of the request's time."""
        self._stop_request_timer()
        self._upload_since = self.market.app.clock.seconds()
        self._upload_bytes = 0
        self._request_timer = self.callLater(
            self.market.app.settings.frame_timeout, self._check_rate
        )

    def _check_rate(self) -> None:
        self._request_timer = None
        if self._upload_since is None:
            return
        settings = self.market.app.settings
        now = self.market.app.clock.seconds()
        # When the bytes that came would be too few.
        due = (
            self._upload_since
            + settings.frame_timeout
            + self._upload_bytes / settings.photo_min_rate
        )
        if now >= due:
            self._upload_since = None
            self.market.bites["photo-min-rate"](peer=self.peer or "local")
            self._abort()
            return
        self._request_timer = self.callLater(max(due - now, 0.05), self._check_rate)

    # --- the request timer ------------------------------------------------------------------

    def _partial(self) -> bool:
        """True while part of a request has arrived and the rest is the
        client's to send: not while a request is being answered, when what
        follows waits on the server."""
        if self._handlingRequest or self._refused:
            return False
        return bool(self.requests) or bool(self._buffer)

    def _watch_request(self) -> None:
        if self._upload_since is not None and self._partial():
            return  # an upload's body: its rate is watched (_check_rate)
        if self._partial():
            if self._request_timer is None:
                settings = self.market.app.settings
                self._request_timer = self.callLater(settings.frame_timeout, self._too_slow)
        else:
            self._stop_request_timer()

    def _stop_request_timer(self) -> None:
        if self._request_timer is not None:
            if self._request_timer.active():
                self._request_timer.cancel()
            self._request_timer = None

    def _too_slow(self) -> None:
        self._request_timer = None
        self.market.bites["frame-timeout"](peer=self.peer or "local")
        self._abort()

    # --- answers the client does not read -------------------------------------------------

    def requestDone(self, request: http.Request) -> None:
        if self.persistent and self._waitingForTransport:
            # The answer is still in the write buffer: the next request
            # waits, unparsed, and nothing more is read, until the client
            # reads.  The idle timer runs meanwhile.
            self._held = request
            self._networkProducer.pauseProducing()
            if self._savedTimeOut:
                self.setTimeout(self._savedTimeOut)
            return
        http.HTTPChannel.requestDone(self, request)
        self._watch_request()

    def resumeProducing(self) -> None:
        http.HTTPChannel.resumeProducing(self)
        held, self._held = self._held, None
        if held is not None:
            http.HTTPChannel.requestDone(self, held)  # reads on, and parses what waited
            self._watch_request()

    def _abort(self) -> None:
        transport: Any = self.transport  # TCP or TLS: both can abort
        transport.abortConnection()

    def timeoutConnection(self) -> None:
        # Idle (twisted.web's own logs a line for each, which a flood of
        # idle connections would make many).  A gentle close waits for the
        # written answers to be sent, which a client that does not read
        # never lets happen: such a client is dropped now, any other after
        # abortTimeout if it does not close.
        if self._waitingForTransport:
            self._abort()
            return
        if self.abortTimeout is not None:
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()


class MarketSite(server.Site):
    """A Site whose connections are MarketChannels, counted in the caps of
    `market` (the MarketFactory); `proxied`: behind a balancer that sends
    the PROXY protocol (a haproxy: endpoint), where each client's address
    comes in its connection's header."""

    # HTTP/1.1 only, with no HTTP/2 to get past these limits.
    protocol = MarketChannel  # type: ignore[assignment]  # a channel, not twisted.web's wrapper of one

    def __init__(
        self,
        resource: Resource,
        market: MarketFactory,
        proxied: bool = False,
        requestFactory: Callable[..., server.Request] | None = None,
    ) -> None:
        settings = market.app.settings
        server.Site.__init__(
            self,
            resource,
            requestFactory,
            # An idle HTTP connection is never kept longer than an idle
            # protocol connection.
            timeout=min(settings.http_idle_timeout, settings.idle_timeout),
            reactor=market.app.clock,
        )
        self.market = market
        self.proxied = proxied

    # A bare channel (the `protocol` above) or a Refusal, not twisted.web's
    # wrapper of a channel that the base class is declared to build.
    def buildProtocol(self, addr: IAddress | None) -> Refusal | MarketChannel:  # type: ignore[override]
        host = getattr(addr, "host", None)
        # Behind a balancer every connection comes from the balancer: the
        # client's address is held to its cap once the header has named it.
        peer = None if self.proxied else host
        if not self.market.take(peer, shown=host):
            return Refusal()
        # A MarketChannel: the class's `protocol`.
        channel = cast(MarketChannel, server.Site.buildProtocol(self, addr))
        channel.market = self.market
        channel.hold()
        channel.peer = peer
        channel.admitted = peer is not None
        channel.learn_peer = self.proxied
        return channel
