"""MessagePack encoding of responses: money as decimal strings, times as
ISO 8601 text, and data already packed (a cached page) spliced in as is.

No Twisted here: the database thread packs cached pages with the same
encoder the protocol uses for everything else.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgpack

from cybermarket.values import CENT


class Packed(bytes):
    """A value already encoded as MessagePack, to be sent without decoding
    and encoding it again (see cybermarket/server/pages.py)."""

    __slots__ = ()


def _encode_value(value: object) -> str:
    # Called by msgpack for every price in a table: kept to the bone.
    if type(value) is Decimal:
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot encode {type(value).__name__}")


def pack(value: object) -> bytes:
    return msgpack.packb(value, default=_encode_value, use_bin_type=True)


_DATA_KEY = pack("data")


def encode(response: dict[str, Any]) -> bytes:
    """A response map's body.  Its "data" may be Packed: msgpack has no way
    to take raw bytes as a value, so the map is written out around it: the
    map's header, the other entries, then "data" and the packed bytes."""
    data = response.get("data")
    if type(data) is not Packed:
        return pack(response)
    parts = [msgpack.Packer().pack_map_header(len(response))]
    for key, value in response.items():
        if key != "data":
            parts += (pack(key), pack(value))
    parts += (_DATA_KEY, data)
    return b"".join(parts)
