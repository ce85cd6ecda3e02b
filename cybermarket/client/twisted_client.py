"""A Twisted client for the cybermarket protocol (wire contract version 1).

    from twisted.internet import defer, task
    from cybermarket.client.twisted_client import connect

    async def main(reactor):
        market = await connect(reactor, "127.0.0.1", 22333)
        response = await market.call("PING")
        await market.close()

    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))

call() returns a Deferred that fires with a cybermarket.client.Response (or,
with check=True, fails with the status's ClientError).  Calls may overlap:
each is written at once, and the answers, which come in order, are matched
to them by id.  See docs/client.md.
"""

from collections import deque
from decimal import Decimal
from io import BytesIO
from typing import Any, cast

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorTCP,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import connectionDone
from twisted.internet.ssl import Certificate, CertificateOptions, optionsForClientTLS
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent

from cybermarket.client import photos
from cybermarket.client.blocking import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ProtocolError,
    Response,
    closes,
    decode,
    encode,
    error_for,
    given,
    match,
    money,
    records,
    token_after,
)


class MarketClientProtocol(Int32StringReceiver):
    # Responses have no size limit of their own (a page of products can be
    # megabytes); the 4-byte length is the only bound.
    MAX_LENGTH = 0xFFFFFFFF
    # A TCP or TLS transport (ITCPTransport) once connected, None before.
    transport: Any

    def __init__(self) -> None:
        self._last_id = 0
        # (request_id, Deferred, check, op, args), in sending order
        self._waiting: deque[tuple[int, defer.Deferred[Response], bool, str, dict[str, Any]]] = (
            deque()
        )
        # The session token of this connection's last login (or password
        # change, or RESUME), kept as the blocking client keeps it.
        self.token: str | None = None
        self._closing: str | None = None  # why no call may be made any more
        self._lost = False
        self._trusted = True  # False after a ProtocolError: no frame is read
        self._closed: list[defer.Deferred[None]] = []  # Deferreds for close()
        # The server's web endpoint, for photos (set_photo), such as
        # http://127.0.0.1:8080, and an Agent to reach it: connect()'s web.
        self.web: str | None = None
        self.agent: IAgent | None = None

    def call(self, op: str, check: bool = False, **args: Any) -> defer.Deferred[Response]:
        """Send a request; a Deferred firing with its Response.  With
        check=True an error status fails the Deferred with its ClientError.
        On a lost connection it fails with ConnectionError."""
        if self._closing is not None or self.transport is None:
            return defer.fail(ConnectionError(f"the connection is closed: {self._closing}"))
        self._last_id += 1
        body = encode(self._last_id, op, args)
        d: defer.Deferred[Response] = defer.Deferred()
        self._waiting.append((self._last_id, d, check, op, args))
        self.sendString(body)
        return d

    def resume(self, token: str | None = None) -> defer.Deferred[Any]:
        """Log this connection in with a session token (RESUME): `token`, or
        by default the one this connection's last login returned.  A
        Deferred firing with the answer's data, {"role": ..., "name": ...},
        or failing with the status's ClientError (401 for a token that is
        unknown, expired or revoked)."""
        if token is None:
            token = self.token
        if token is None:
            return defer.fail(ValueError("no session token: log in first, or give one"))
        return self.call("RESUME", check=True, token=token).addCallback(lambda r: r.data)

    def set_photo(self, product_id: int, path: str) -> defer.Deferred[str]:
        """Upload the image file at `path` as the product's photo (protocol
        1.3: HTTP PUT on the web endpoint, `web`), with this connection's
        merchant token: a Deferred firing with the photo's new path, or
        failing with the status's ClientError."""
        with open(path, "rb") as image:
            body = image.read()
        return defer.ensureDeferred(self._photo(b"PUT", product_id, body)).addCallback(
            lambda found: cast(str, found)
        )

    def remove_photo(self, product_id: int) -> defer.Deferred[None]:
        """Remove the product's photo (HTTP DELETE on the web endpoint)."""
        return defer.ensureDeferred(self._photo(b"DELETE", product_id, None)).addCallback(
            lambda _: None
        )

    async def _photo(self, method: bytes, product_id: int, body: bytes | None) -> str | None:
        assert self.web is not None  # set with the agent
        url = photos.photo_url(self.web, product_id)
        if self.agent is None:
            raise ValueError("no web endpoint: connect(..., web='http://HOST:PORT')")
        producer = None
        if body is not None:
            producer = FileBodyProducer(BytesIO(body))  # type: ignore[no-untyped-call]
        raw = Headers({k: [v] for k, v in photos.headers(self.token).items()})
        answer = await self.agent.request(method, url.encode("ascii"), raw, producer)
        response = photos.response_of(answer.code, await readBody(answer))
        return photos.path_of(response.raise_for_status())

    def get_account(self) -> defer.Deferred[Any]:
        """The account this connection is logged in as (GET_ACCOUNT,
        protocol 1.2): a Deferred firing with {"role": ..., "name": ...,
        "email": ...} (and a merchant's "description"), the name as stored,
        or failing with the status's ClientError (401 when not logged in)."""
        return self.call("GET_ACCOUNT", check=True).addCallback(lambda r: r.data)

    # --- orders (protocol 1.2), as the blocking client's -------------------

    def checkout(
        self, expected_total: Decimal | str | None = None, address: str | None = None
    ) -> defer.Deferred[dict[str, Any]]:
        """CLIENT_CHECKOUT_ITEM: a Deferred firing with {"order_id",
        "total", ...} (total a Decimal), or failing with Conflict (409
        total_changed) when `expected_total` is not the cart's total now."""
        if isinstance(expected_total, str):
            expected_total = money(expected_total)
        d = self.call(
            "CLIENT_CHECKOUT_ITEM",
            check=True,
            **given(expected_total=expected_total, address=address),
        )
        return d.addCallback(lambda r: {**r.data, "total": money(r.data["total"])})

    def cancel_order(self, order_id: int) -> defer.Deferred[dict[str, Any]]:
        """CLIENT_CANCEL_ORDER: {"refunded": Decimal, "cancelled": [storenames]}."""
        d = self.call("CLIENT_CANCEL_ORDER", check=True, order_id=order_id)
        return d.addCallback(lambda r: {**r.data, "refunded": money(r.data["refunded"])})

    def ship_order(self, order_id: int, note: str | None = None) -> defer.Deferred[None]:
        """MERCHANT_SHIP_ORDER: fires with None once the part is shipped."""
        d = self.call("MERCHANT_SHIP_ORDER", check=True, **given(order_id=order_id, note=note))
        return d.addCallback(lambda _: None)

    def list_store_orders(
        self, status: str | None = None, limit: int | None = None
    ) -> defer.Deferred[list[dict[str, Any]]]:
        """MERCHANT_LIST_ORDERS, every page: the store's parts of orders as
        dicts, newest first; `status` filters them."""
        return defer.ensureDeferred(self._all_store_orders(given(status=status, limit=limit)))

    async def _all_store_orders(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            data = (await self.call("MERCHANT_LIST_ORDERS", check=True, **args)).data
            out += records(data)
            if data.get("next") is None or data["next"] == args.get("after"):
                return out
            args["after"] = data["next"]

    def get_store_order(self, order_id: int) -> defer.Deferred[list[dict[str, Any]]]:
        """MERCHANT_GET_ORDER: the store's lines of one order, as dicts."""
        d = self.call("MERCHANT_GET_ORDER", check=True, order_id=order_id)
        return d.addCallback(lambda r: records(r.data))

    @property
    def pending(self) -> int:
        """How many calls wait for their answer."""
        return len(self._waiting)

    def close(self) -> defer.Deferred[None]:
        """Close the connection; a Deferred that fires once it is closed.
        Calls still waiting fail with ConnectionError."""
        if self._lost:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._closed.append(d)
        self._closing = self._closing or "closed by the client"
        self.transport.loseConnection()
        return d

    # --- Int32StringReceiver ------------------------------------------------

    def stringReceived(self, body: bytes) -> None:
        if not self._trusted:
            return  # dropping the connection: nothing more is trusted
        if not self._waiting:
            return self._break(ProtocolError("a response to no request"))
        request_id, d, check, op, args = self._waiting.popleft()
        try:
            response = match(decode(body), request_id)
        except ProtocolError as e:
            d.errback(Failure(e))
            return self._break(e)
        self.token = token_after(op, args, response, self.token)
        if check and not response.ok:
            d.errback(Failure(error_for(response)))
        else:
            d.callback(response)
        if closes(response):
            # The server closes the connection after a 413.
            self._closing = "the server refused a request as too large (413)"
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        self._closing = why = self._closing or reason.getErrorMessage()
        waiting, self._waiting = self._waiting, deque()
        for _request_id, d, *_ in waiting:
            d.errback(Failure(ConnectionError(f"connection lost: {why}")))
        closed, self._closed = self._closed, []
        for done in closed:
            done.callback(None)

    def _break(self, error: ProtocolError) -> None:
        """The stream can no longer be followed: drop the connection (every
        call still waiting then fails with ConnectionError)."""
        self._closing = f"protocol error: {error}"
        self._trusted = False
        self.transport.abortConnection()


def connect(
    reactor: IReactorTCP,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tls: bool = False,
    timeout: float = 30,
    tls_verify: bool = True,
    cafile: str | None = None,
    web: str | None = None,
) -> defer.Deferred[MarketClientProtocol]:
    """Connect; a Deferred firing with a connected MarketClientProtocol.
    With tls=True the server's certificate is checked against the system's
    trust store, or against `cafile` (PEM) when given, and must name `host`;
    tls_verify=False checks nothing (only for test certificates)."""
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if tls:
        options: IOpenSSLClientConnectionCreator | CertificateOptions
        if not tls_verify:
            options = CertificateOptions()  # encrypts, verifies nothing
        elif cafile is not None:
            with open(cafile, "rb") as f:
                options = optionsForClientTLS(host, trustRoot=Certificate.loadPEM(f.read()))
        else:
            options = optionsForClientTLS(host)
        endpoint = wrapClientTLS(options, endpoint)
    protocol = MarketClientProtocol()
    if web is not None:
        photos.photo_url(web, 1)  # a bad address is refused now, not at the first photo
        protocol.web = web
        protocol.agent = Agent(reactor)  # type: ignore[no-untyped-call]  # Twisted's, unannotated
    connected: defer.Deferred[MarketClientProtocol] = connectProtocol(endpoint, protocol)
    return connected
