"""How a request body becomes a map and a response map becomes a body: as
MessagePack (TCP frames, WebSocket binary messages) or as JSON (WebSocket
text messages).  A response goes back in its request's encoding.

Both give the protocol the same plain values, so validation does not know
which carried a request: JSON numbers with a fraction or an exponent are
floats, and are refused where MessagePack floats are (prices).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import msgpack

from cybermarket.codec import Packed, encode
from cybermarket.errors import Malformed
from cybermarket.i18n import N_
from cybermarket.values import CENT

# A response as the connection builds it, before it is encoded.
Response = dict[str, Any]


class Bodies(Protocol):
    """One encoding of request and response bodies: MSGPACK or JSON."""

    @property
    def name(self) -> str: ...

    def load(self, body: bytes | str) -> Any:
        """The request's value; Malformed when the body is not this encoding."""

    def dump(self, response: Response) -> bytes | str: ...


class MessagePackBodies:
    name = "msgpack"

    @staticmethod
    def load(body: bytes | str) -> Any:
        if isinstance(body, str):  # a WebSocket text message: JSON's
            raise Malformed(N_("body: not a MessagePack value"))
        try:
            # A string may hold a surrogate's UTF-8 bytes (what a JSON
            # "\ud800" becomes when written as MessagePack): read as that
            # surrogate, so that the argument it is in is refused naming
            # it (values.Text), as in JSON, rather than the whole body.
            return msgpack.unpackb(body, raw=False, unicode_errors="surrogatepass")
        except Exception:
            raise Malformed(N_("body: not a MessagePack value")) from None

    @staticmethod
    def dump(response: Response) -> bytes:
        return encode(response)


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; JSON (RFC 8259) has neither.
    raise ValueError(f"{name} is not JSON")


def _json_value(value: Any) -> Any:
    if type(value) is Decimal:
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if type(value) is Packed:
        # A cached page (cybermarket/server/pages.py), packed for TCP: its
        # money and times are strings already.
        return msgpack.unpackb(value, raw=False)
    raise TypeError(f"cannot encode {type(value).__name__}")


class JSONBodies:
    name = "json"

    @staticmethod
    def load(body: bytes | str) -> Any:
        try:
            return json.loads(body, parse_constant=_no_constant)
        except Exception:  # ValueError, RecursionError: not JSON we take
            raise Malformed(N_("body: not JSON")) from None

    @staticmethod
    def dump(response: Response) -> str:
        return json.dumps(response, default=_json_value, ensure_ascii=False, separators=(",", ":"))


MSGPACK: Bodies = MessagePackBodies()
JSON: Bodies = JSONBodies()
