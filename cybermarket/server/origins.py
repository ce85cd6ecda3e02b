"""Origins (RFC 6454) as the WebSocket rule compares them.  Light: the
command line checks --web-origin with it before anything heavy loads."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_of(url: str) -> str | None:
    """scheme://host:port of an origin or URL, lower-cased, with the
    scheme's default port written out; None if it is not http(s) or has
    more than an origin (a path, a query, a user)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{scheme}://{host.lower()}:{port}"
