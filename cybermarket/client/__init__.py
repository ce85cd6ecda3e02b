"""The Python clients of the protocol: the blocking one (blocking.py, whose
public names are given here too, so `from cybermarket.client import Client`
works) and the Twisted one (twisted_client.py).  They speak the wire
vocabulary of the package's top level and never import the server."""

from cybermarket.client.blocking import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    BadInvitation,
    BadRequest,
    Client,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    NotLoggedIn,
    Pipeline,
    ProtocolError,
    Response,
    ServerError,
    Throttled,
    TooLarge,
    Unavailable,
    is_table,
    money,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "BadInvitation",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "NotLoggedIn",
    "Pipeline",
    "ProtocolError",
    "Response",
    "ServerError",
    "Throttled",
    "TooLarge",
    "Unavailable",
    "is_table",
    "money",
]
