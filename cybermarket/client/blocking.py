"""A blocking client for the cybermarket protocol (wire contract version 1,
with the additions of 1.1 and 1.2).

    from cybermarket.client.blocking import Client

    with Client("127.0.0.1", 22333) as market:
        market.call("PING", check=True)
        stores = market.table("LIST_MERCHANT")   # a pandas DataFrame, every page

call() returns a Response; with check=True an error status raises the
ClientError subclass for its error code (protocol 1.2), or for its status
from a 1.1 server.  A few ops have methods of their own: resume(),
get_account(), and the orders of protocol 1.2 (checkout(), cancel_order(),
ship_order(), list_store_orders(), get_store_order()).  pipeline() sends
several requests before reading their answers.  The encoding, decoding and
error helpers here are shared with the Twisted client in
cybermarket/client/twisted_client.py.

See docs/client.md.
"""

import re
import socket
import ssl
import struct
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import msgpack

if TYPE_CHECKING:
    import pandas

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 22333

# Table columns that hold money strings, and the one that holds times.
MONEY_COLUMNS = ("price", "total", "revenue")
TIME_COLUMNS = ("created_at",)

_MONEY = re.compile(r"\d+\.\d\d")
_HEADER = struct.Struct(">I")


# --- errors -------------------------------------------------------------------


class ProtocolError(Exception):
    """The server's answer broke the protocol: not a response map, or the id
    of another request.  The connection can no longer be trusted."""


class ClientError(Exception):
    """An error status (4xx, 5xx) from the server: `status`, `message` (for
    people), `code` (for programs: protocol 1.2's error code, None from a
    1.1 server) and `error`, the answer's whole `error` map.  Each code has
    its subclass (CODE_ERRORS), a subclass of its status's class, with the
    code's extra keys as attributes (None when the server did not send
    them)."""

    status: int | None = None
    # The code's extra keys -> the attribute each is kept in.
    keys: dict[str, str] = {}

    def __init__(self, response: "Response") -> None:
        super().__init__(f"{response.status} {response.message}")
        self.status = response.status
        self.message = response.message
        self.response = response
        self.error: dict[str, Any] = response.error or {}
        code = self.error.get("code")
        self.code: str | None = code if isinstance(code, str) else None
        for key, attribute in self.keys.items():
            setattr(self, attribute, self.error.get(key))


class BadRequest(ClientError):
    status = 400


class Malformed(BadRequest):
    """The server could not read the request (malformed)."""


class InvalidArgument(BadRequest):
    """An argument is missing, unknown, mistyped or out of range
    (invalid_argument); `field` names it."""

    keys = {"field": "field"}
    field: str | None


class AlreadyLoggedIn(BadRequest):
    pass


class EmptyCart(BadRequest):
    pass


class NotLoggedIn(ClientError):
    status = 401


class LoginRequired(NotLoggedIn):
    """The op needs a role the connection is not logged in as
    (not_logged_in)."""


class BadCredentials(NotLoggedIn):
    """A wrong login or password, or an unknown, expired or revoked token."""


class Forbidden(ClientError):
    status = 403


class NotYours(Forbidden):
    """Another merchant's product."""


class WrongPassword(Forbidden):
    """The `old_password` is wrong."""


class NotFound(ClientError):
    """not_found; `what` is store, product, order or cart_line."""

    status = 404
    keys = {"what": "what"}
    what: str | None


class BadInvitation(ClientError):
    status = 406


class Conflict(ClientError):
    status = 409


class NameTaken(Conflict):
    """`field` is username, storename or email."""

    keys = {"field": "field"}
    field: str | None


class ShortOfStock(Conflict):
    """`products`: a map {product_id, stock, on_shelf} per short line."""

    keys = {"products": "products"}
    products: list[dict[str, Any]] | None


class TotalChanged(Conflict):
    """`total`: the cart's total now (a money string)."""

    keys = {"total": "total"}
    total: str | None


class TotalTooLarge(Conflict):
    """An order total or a store's profit past the server's limit
    (too_large)."""


class NotPlaced(Conflict):
    """The order, or the store's part, is shipped or cancelled; its status
    now is `order_status` (the answer's `status` key: `status` is the
    answer's status here)."""

    keys = {"status": "order_status"}
    order_status: str | None


class TooLarge(ClientError):
    status = 413


class Throttled(ClientError):
    """`retry_after`: whole seconds before trying again."""

    status = 429
    keys = {"retry_after": "retry_after"}
    retry_after: int | None


class ServerError(ClientError):
    status = 500


class Unavailable(ClientError):
    status = 503


ERRORS = {
    cls.status: cls
    for cls in (
        BadRequest,
        NotLoggedIn,
        Forbidden,
        NotFound,
        BadInvitation,
        Conflict,
        TooLarge,
        Throttled,
        ServerError,
        Unavailable,
    )
}

# The exception of each error code of the wire contract (the codes of
# cybermarket/errors.py's CODES, which tests/test_client.py holds them to).
CODE_ERRORS: dict[str, type[ClientError]] = {
    "malformed": Malformed,
    "invalid_argument": InvalidArgument,
    "already_logged_in": AlreadyLoggedIn,
    "empty_cart": EmptyCart,
    "not_logged_in": LoginRequired,
    "bad_credentials": BadCredentials,
    "not_yours": NotYours,
    "wrong_password": WrongPassword,
    "not_found": NotFound,
    "bad_invitation": BadInvitation,
    "name_taken": NameTaken,
    "short_of_stock": ShortOfStock,
    "total_changed": TotalChanged,
    "too_large": TotalTooLarge,
    "not_placed": NotPlaced,
    "frame_too_large": TooLarge,
    "throttled": Throttled,
    "internal": ServerError,
    "unavailable": Unavailable,
}


def error_for(response: "Response") -> ClientError:
    """The exception for an error response: its code's class; for an
    answer without a code this client knows (a 1.1 server's, or a newer
    code), its status's class; ClientError itself for a status without a
    class of its own."""
    cls = CODE_ERRORS.get(str(response.code))
    if cls is None or cls.status != response.status:
        cls = ERRORS.get(response.status, ClientError)
    return cls(response)


# --- values -------------------------------------------------------------------


def money(value: object) -> Decimal:
    """A money value as a Decimal: a server money string such as "19.99"
    (exactly two fraction digits), an int or a Decimal.  Never a float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _MONEY.fullmatch(value):
        return Decimal(value)
    raise ValueError(f"not a money value: {value!r}")


# pandas is the report's extra (pyproject.toml), not a dependency of the
# client: only DataFrames need it, and call() works without.
NEEDS_PANDAS = "tables as DataFrames need pandas: pip install 'cybermarket[report]'"


def _pandas() -> ModuleType:
    """The pandas module, or ImportError saying what to install."""
    try:
        import pandas
    except ImportError as e:
        if (e.name or "").split(".")[0] != "pandas":
            raise
        raise ImportError(NEEDS_PANDAS, name="pandas") from None
    return pandas


def _frame_of(data: dict[str, Any]) -> "pandas.DataFrame":
    """A table's DataFrame, money as Decimal and times as UTC Timestamps."""
    pd = _pandas()
    frame: pandas.DataFrame = pd.DataFrame(data["rows"], columns=data["columns"])
    for name in MONEY_COLUMNS:
        if name in frame.columns:
            frame[name] = frame[name].map(money).astype(object)
    for name in TIME_COLUMNS:
        if name in frame.columns:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame


def records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A table's rows as dicts by column name, money as Decimal (the
    order helpers' answers; no pandas needed)."""
    out = [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]
    for record in out:
        for name in MONEY_COLUMNS:
            if record.get(name) is not None:
                record[name] = money(record[name])
    return out


def given(**args: Any) -> dict[str, Any]:
    """The arguments that are not None: an optional argument left out."""
    return {name: value for name, value in args.items() if value is not None}


def is_table(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("columns"), list)
        and isinstance(data.get("rows"), list)
    )


@dataclass(frozen=True)
class Response:
    id: Any
    status: int
    message: str
    data: Any = None
    # Protocol 1.2: an error answer's {"code": ..., extra keys}; None from
    # a 1.1 server.
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        """The error code (protocol 1.2), None for a success or a 1.1
        server's error."""
        code = (self.error or {}).get("code")
        return code if isinstance(code, str) else None

    @property
    def frame(self) -> "pandas.DataFrame | None":
        """`data` as a pandas DataFrame when it is a table, else None."""
        return _frame_of(self.data) if is_table(self.data) else None

    def raise_for_status(self) -> "Response":
        """Raise the status's ClientError unless ok; return self."""
        if not self.ok:
            raise error_for(self)
        return self


# --- encoding, shared with the Twisted client ---------------------------------


def _encode_value(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # a price: "19.99", never a float
    raise TypeError(f"cannot send a {type(value).__name__}")


def encode(request_id: int, op: str, args: dict[str, Any]) -> bytes:
    """A request body (without its length prefix)."""
    message: dict[str, Any] = {"id": request_id, "op": op}
    if args:
        message["args"] = args
    return msgpack.packb(message, default=_encode_value, use_bin_type=True)


def decode(body: bytes) -> Response:
    """A Response from a response body; ProtocolError if it is not one."""
    try:
        message = msgpack.unpackb(body, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ProtocolError(f"response is not MessagePack: {e}") from None
    if not (
        isinstance(message, dict)
        and type(message.get("status")) is int
        and isinstance(message.get("message"), str)
    ):
        raise ProtocolError(f"not a response: {message!r:.200}")
    error = message.get("error")
    return Response(
        message.get("id"),
        message["status"],
        message["message"],
        message.get("data"),
        error if isinstance(error, dict) else None,
    )


# --- session tokens (protocol 1.1), shared with the Twisted client ------------

# Ops whose success answers {"token": ...}: the connection's new token.
TOKEN_OPS = frozenset(
    {"CLIENT_LOGIN", "MERCHANT_LOGIN", "SET_CLIENT_PASSWORD", "SET_MERCHANT_PASSWORD"}
)
LOGOUT_OPS = frozenset({"CLIENT_LOGOUT", "MERCHANT_LOGOUT"})


def token_after(
    op: str, args: dict[str, Any], response: "Response", token: str | None
) -> str | None:
    """The session token a connection holds once `response` answered `op`
    (with `args`), given the one it held before: a login's or a password
    change's, the one RESUME logged in with, none after a logout (the server
    revoked it).  A failed op changes nothing."""
    if not response.ok:
        return token
    if op in TOKEN_OPS:
        data = response.data
        if isinstance(data, dict):
            new = data.get("token")
            if isinstance(new, str):
                return new
        return token
    if op == "RESUME":
        return args.get("token")
    if op in LOGOUT_OPS:
        return None
    return token


def closes(response: Response) -> bool:
    """True for the answer after which the server closes the connection: a
    frame too large (by its code; by its status from a 1.1 server)."""
    if response.code is not None:
        return response.code == "frame_too_large"
    return response.status == TooLarge.status


def match(response: Response, request_id: int) -> Response:
    """Check that `response` answers `request_id`.  An error answered with
    id nil (a request the server could not read, or 413) matches too."""
    if response.id == request_id or (response.id is None and not response.ok):
        return response
    raise ProtocolError(f"response id {response.id!r} does not match request id {request_id}")


# --- the blocking client ------------------------------------------------------


class Client:
    """One connection to a cybermarket server.  Login state belongs to the
    connection, as in the protocol.  Not thread-safe: one thread at a time.

    After a ConnectionError, ProtocolError or timeout the client is closed,
    since the stream can no longer be followed; make a new one.
    """

    # Requests in flight in a pipeline before reading answers, and their bytes.
    # The server reads up to 64 waiting requests, and stops reading while we
    # do not read its answers: staying under both keeps a long pipeline from
    # stalling.
    WINDOW = 64
    WINDOW_BYTES = 64 * 1024

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        tls: bool = False,
        timeout: float | None = 30.0,
        tls_verify: bool = True,
        cafile: str | None = None,
        web: str | None = None,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls:
                context = ssl.create_default_context(cafile=cafile)
                if not tls_verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self._sock: socket.socket | None = sock
        self._buffer = bytearray()
        self._last_id = 0
        # The session token of this connection's last login (or password
        # change, or RESUME): what resume() uses by default, and what a
        # program keeps to log a new connection in after this one is lost.
        self.token: str | None = None
        # The server's web endpoint, for photos (set_photo): an http or
        # https address such as http://127.0.0.1:8080.
        self.web = web
        self._timeout = timeout
        self._tls_verify = tls_verify
        self._cafile = cafile

    # --- life ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._sock is None

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls --------------------------------------------------------------

    def call(self, op: str, check: bool = False, **args: Any) -> Response:
        """Send one request and return its Response.  With check=True an
        error status raises its ClientError subclass."""
        request_id, data = self._request(op, args)
        self._write(data)
        response = self._receive(request_id)
        self.token = token_after(op, args, response, self.token)
        return response.raise_for_status() if check else response

    def resume(self, token: str | None = None) -> Any:
        """Log this connection in with a session token (RESUME): `token`, or
        by default the one this client's last login returned.  The answer's
        data, {"role": ..., "name": ...}; an error status raises (401 for a
        token that is unknown, expired or revoked)."""
        if token is None:
            token = self.token
        if token is None:
            raise ValueError("no session token: log in first, or give the token to resume")
        return self.call("RESUME", check=True, token=token).data

    def get_account(self) -> Any:
        """The account this connection is logged in as (GET_ACCOUNT,
        protocol 1.2): {"role": ..., "name": ..., "email": ...}, and a
        merchant's "description"; the name as stored, whatever the login
        was typed as.  An error status raises (401 when not logged in)."""
        return self.call("GET_ACCOUNT", check=True).data

    def set_photo(self, product_id: int, path: str) -> str:
        """Upload the image file at `path` as the product's photo (protocol
        1.3: HTTP PUT on the web endpoint, `web`), with this connection's
        merchant token; the photo's new path, such as /photos/17/3f9a...
        An error status raises its ClientError (400 for a file that is not
        a JPEG, PNG or WebP image, 413 past the server's size limit)."""
        with open(path, "rb") as image:
            body = image.read()
        return cast(str, self._photo("PUT", product_id, body))

    def remove_photo(self, product_id: int) -> None:
        """Remove the product's photo (HTTP DELETE on the web endpoint)."""
        self._photo("DELETE", product_id, None)

    def _photo(self, method: str, product_id: int, body: bytes | None) -> str | None:
        """The request on the web endpoint; the photo's path it answers."""
        import http.client

        from cybermarket.client import photos  # which imports this module

        if self.web is None:
            raise ValueError("no web endpoint: give Client(..., web='http://HOST:PORT')")
        url = urlsplit(photos.photo_url(self.web, product_id))
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            context = ssl.create_default_context(cafile=self._cafile)
            if not self._tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                url.netloc, timeout=self._timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(url.netloc, timeout=self._timeout)
        try:
            connection.request(method, url.path, body=body, headers=photos.headers(self.token))
            answer = connection.getresponse()
            response = photos.response_of(answer.status, answer.read())
        finally:
            connection.close()
        return photos.path_of(response.raise_for_status())

    # --- orders (protocol 1.2) ----------------------------------------------

    def checkout(
        self, expected_total: Decimal | str | None = None, address: str | None = None
    ) -> dict[str, Any]:
        """Buy the cart (CLIENT_CHECKOUT_ITEM): {"order_id", "total", ...},
        the total a Decimal.  With `expected_total` (the total the customer
        saw), a cart whose total is now another raises Conflict (409
        total_changed, the total now in the message) and changes nothing;
        `address`: where the order goes."""
        if isinstance(expected_total, str):
            expected_total = money(expected_total)
        data = self.call(
            "CLIENT_CHECKOUT_ITEM",
            check=True,
            **given(expected_total=expected_total, address=address),
        ).data
        return {**data, "total": money(data["total"])}

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """Cancel every part of one of your orders still placed
        (CLIENT_CANCEL_ORDER): {"refunded": Decimal, "cancelled":
        [storenames]}.  Conflict (409 not_placed) when none is placed."""
        data = self.call("CLIENT_CANCEL_ORDER", check=True, order_id=order_id).data
        return {**data, "refunded": money(data["refunded"])}

    def ship_order(self, order_id: int, note: str | None = None) -> None:
        """Mark your store's part of an order shipped (MERCHANT_SHIP_ORDER),
        with a note (a carrier and tracking number).  Conflict (409
        not_placed) when it is shipped or cancelled already."""
        self.call("MERCHANT_SHIP_ORDER", check=True, **given(order_id=order_id, note=note))

    def list_store_orders(
        self, status: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Your store's parts of orders (MERCHANT_LIST_ORDERS), newest
        first, every page, as dicts (money as Decimal); `status`: only
        "placed", "shipped" or "cancelled" ones."""
        args = given(status=status, limit=limit)
        out: list[dict[str, Any]] = []
        while True:
            data = self.call("MERCHANT_LIST_ORDERS", check=True, **args).data
            out += records(data)
            if data.get("next") is None:
                return out
            if data["next"] == args.get("after"):
                raise ProtocolError(
                    f"MERCHANT_LIST_ORDERS: paging does not advance past {data['next']!r}"
                )
            args["after"] = data["next"]

    def get_store_order(self, order_id: int) -> list[dict[str, Any]]:
        """Your store's lines of one order (MERCHANT_GET_ORDER), as dicts."""
        return records(self.call("MERCHANT_GET_ORDER", check=True, order_id=order_id).data)

    def table(self, op: str, **args: Any) -> "pandas.DataFrame":
        """The table an op returns, as a DataFrame (see Response.frame).
        Error statuses raise.  A paged table is read to the end: while the
        response's `next` is not nil, the call is repeated with after=next
        (and the same `limit`, if given)."""
        _pandas()  # before any request: without it the pages would be wasted
        data = self.call(op, check=True, **args).data
        if not is_table(data):
            raise ValueError(f"{op} did not return a table")
        columns, rows = data["columns"], list(data["rows"])
        while data.get("next") is not None:
            if data["next"] == args.get("after"):
                raise ProtocolError(f"{op}: paging does not advance past {data['next']!r}")
            args["after"] = data["next"]
            data = self.call(op, check=True, **args).data
            if not is_table(data) or data["columns"] != columns:
                raise ProtocolError(f"{op}: a later page has other columns")
            rows.extend(data["rows"])
        return _frame_of({"columns": columns, "rows": rows})

    def pipeline(self, check: bool = False) -> "Pipeline":
        """A Pipeline: collect calls, then send them together and read the
        answers in order (see Pipeline)."""
        return Pipeline(self, check)

    # --- frames -------------------------------------------------------------

    def _request(self, op: str, args: dict[str, Any]) -> tuple[int, bytes]:
        if self._sock is None:
            raise ConnectionError("the connection is closed")
        self._last_id += 1
        body = encode(self._last_id, op, args)
        if len(body) > 0xFFFFFFFF:
            raise ValueError(f"{op}: request of {len(body)} bytes cannot be framed")
        return self._last_id, _HEADER.pack(len(body)) + body

    def _write(self, data: bytes) -> None:
        if self._sock is None:
            raise ConnectionError("the connection is closed")
        try:
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The server closed the connection, perhaps after answering (413):
            # reading tells what it said, or raises ConnectionError.
            pass
        except BaseException:
            self.close()
            raise

    def _receive(self, request_id: int) -> Response:
        """The next response, which must answer `request_id`."""
        try:
            (length,) = _HEADER.unpack(self._read(_HEADER.size))
            response = match(decode(self._read(length)), request_id)
        except BaseException:
            self.close()
            raise
        if closes(response):
            self.close()  # the server closes the connection after a 413
        return response

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._sock is None:
                raise ConnectionError("the connection is closed")
            try:
                chunk = self._sock.recv(max(65536, n - len(self._buffer)))
            except ConnectionResetError as e:
                raise ConnectionError(f"the server reset the connection: {e}") from e
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


class Pipeline:
    """Calls collected, then sent in one write and answered in order:

        with market.pipeline() as p:
            p.call("PING")
            p.call("LIST_PRODUCT", storename="corner")
        statuses = [r.status for r in p.responses]

    Nothing is sent until the `with` block ends (or send() is called), and
    nothing at all if the block raises.  A long pipeline goes out in windows
    of at most Client.WINDOW requests, reading answers in between.

    With check=True, an error status raises its ClientError once every
    answer has been read (the first error; `p.responses` holds them all),
    so the connection stays in step.  If the connection breaks, the
    ConnectionError propagates and `p.responses` holds the answers read
    before it.
    """

    def __init__(self, client: Client, check: bool = False) -> None:
        self.client = client
        self.check = check
        self.requests: list[tuple[int, bytes]] = []  # (request_id, framed bytes)
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (op, args), for the session token
        self.responses: list[Response] | None = None

    def call(self, op: str, **args: Any) -> int:
        """Queue a call; its index in `responses`."""
        if self.responses is not None:
            raise RuntimeError("this pipeline has been sent")
        self.requests.append(self.client._request(op, args))
        self.calls.append((op, args))
        return len(self.requests) - 1

    def send(self) -> list[Response]:
        """Send every queued call and read the answers: the Responses."""
        if self.responses is not None:
            raise RuntimeError("this pipeline has been sent")
        responses: list[Response] = []
        self.responses = responses
        pending = deque(self.requests)  # not sent yet
        in_flight: deque[tuple[int, bytes]] = deque()  # sent, not answered yet
        in_flight_bytes = 0

        def room(size: int, share: int = 1) -> bool:
            return not in_flight or (
                len(in_flight) < Client.WINDOW // share
                and in_flight_bytes + size <= Client.WINDOW_BYTES // share
            )

        while pending or in_flight:
            # Refill the window once it is at most half full.
            if pending and room(0, share=2):
                batch = []
                while pending and room(len(pending[0][1])):
                    request = pending.popleft()
                    in_flight.append(request)
                    in_flight_bytes += len(request[1])
                    batch.append(request[1])
                if batch:
                    self.client._write(b"".join(batch))
            request_id, data = in_flight.popleft()
            in_flight_bytes -= len(data)
            response = self.client._receive(request_id)
            op, args = self.calls[len(responses)]
            self.client.token = token_after(op, args, response, self.client.token)
            responses.append(response)
        if self.check:
            for response in responses:
                response.raise_for_status()
        return responses

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.send()
