"""MessagePack encoding of responses: money as decimal strings, times as
ISO 8601 text, and data already packed (a cached page) spliced in as is.

No Twisted here: the database thread packs cached pages with the same
encoder the protocol uses for everything else.
"""

from datetime import datetime
from decimal import Decimal

import msgpack

from cybermarket.values import CENT


class Packed(bytes):
    """A value already encoded as MessagePack, to be sent without decoding
    and encoding it again (see cybermarket/pages.py)."""

    __slots__ = ()


def _encode_value(value):
    # Called by msgpack for every price in a table: kept to the bone.
    if type(value) is Decimal:
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot encode {type(value).__name__}")


def pack(value):
    return msgpack.packb(value, default=_encode_value, use_bin_type=True)


_DATA_KEY = pack("data")


def encode(response):
    """A response map's body.  Its "data" may be Packed: msgpack has no way
    to take raw bytes as a value, so the map is written by hand around it:
    a fixmap header (responses have four keys), the other entries,
    then "data" and the packed bytes."""
    data = response.get("data")
    if type(data) is not Packed:
        return pack(response)
    rest = {key: value for key, value in response.items() if key != "data"}
    if len(rest) >= 15:  # not a fixmap: let msgpack write it all
        return pack({**rest, "data": msgpack.unpackb(data, raw=False)})
    head = pack(rest)  # a fixmap: one header byte, then the entries
    return bytes((0x80 | (len(rest) + 1),)) + head[1:] + _DATA_KEY + data
