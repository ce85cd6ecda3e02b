"""Product photos for the clients (protocol 1.3): they travel over HTTP on
the server's web endpoint (--web), not in protocol frames.  What the
blocking and the Twisted clients share: the request and the reading of
its JSON answer into a Response, so that an error raises the same
ClientError as an op's.

The upload carries the session token of the connection's merchant login
(`Authorization: Bearer`); the server decides the image's type by its
bytes, so none is sent.
"""

import json
from typing import Any
from urllib.parse import urlsplit

from cybermarket.client.blocking import Response

# The storefront's usual address (`make run`): the web endpoint.
DEFAULT_WEB = "http://127.0.0.1:8080"


def photo_url(web: str, product_id: int) -> str:
    """The URL of a product's photo (PUT, DELETE) on the web endpoint
    `web` (such as http://127.0.0.1:8080)."""
    parts = urlsplit(web)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http or https address: {web!r}")
    if type(product_id) is not int or product_id < 1:
        raise ValueError(f"not a product id: {product_id!r}")
    return f"{parts.scheme}://{parts.netloc}/photos/{product_id}"


def headers(token: str | None) -> dict[str, str]:
    """The request's headers; with no token the server answers 401."""
    found = {"Accept": "application/json"}
    if token is not None:
        found["Authorization"] = f"Bearer {token}"
    return found


def response_of(status: int, body: bytes) -> Response:
    """The answer as a Response: status, message, data (the path, as
    {"photo": ...}) and error (its code: the client raises that code's
    exception) from its JSON; a body that is not the server's JSON (a
    proxy's error page, say) keeps the HTTP status."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return Response(None, status, body[:200].decode("utf-8", "replace"))
    error = answer.get("error")
    return Response(
        None,
        status,
        str(answer.get("message", "")),
        answer.get("data"),
        error if isinstance(error, dict) else None,
    )


def path_of(response: Response) -> str | None:
    """The photo's path from a successful answer (None after a removal)."""
    data = response.data
    photo = data.get("photo") if isinstance(data, dict) else None
    return photo if isinstance(photo, str) else None
