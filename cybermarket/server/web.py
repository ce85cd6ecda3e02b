"""The web endpoint (--web): the storefront's static files at /, the
protocol over WebSocket at /ws, and product photos at /photos/
(photos.py), nothing else.

The files (cybermarket/web/static/) are read once at start and served from
memory with their type, an ETag and a strict Content-Security-Policy: the
pages run only their own scripts and styles and talk only to this server.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from twisted.logger import Logger, LogPublisher
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from cybermarket.server.httpchannel import MarketSite
from cybermarket.server.photos import Photos
from cybermarket.server.websocket import MarketWebSocketResource
from cybermarket.values import shown

if TYPE_CHECKING:
    from cybermarket.server.protocol import MarketFactory

# twisted.web's own traceback of a failed request, already logged within
# the bound by WebRequest.processingFailed.
_LOGGED = Logger(observer=LogPublisher())

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}

# A Host header as browsers send it; anything else stays out of the policy.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def policy(request: server.Request) -> str:
    """The Content-Security-Policy.  connect-src names this host's ws: and
    wss: too, for browsers whose 'self' does not cover WebSocket.  img-src
    takes blob: for the console's preview of a photo before its upload (an
    object URL of the file the merchant chose, made by the page itself)."""
    connect = "'self'"
    host = request.getHeader("host") or ""
    if _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class WebRequest(server.Request):
    """Every answer of the web endpoint carries the security headers, its
    errors included."""

    def render(self, resrc: Any) -> None:
        self.setHeader("content-security-policy", policy(self))
        self.setHeader("x-content-type-options", "nosniff")
        self.setHeader("referrer-policy", "no-referrer")
        self.setHeader("x-frame-options", "DENY")
        self.setHeader("cross-origin-opener-policy", "same-origin")
        self.setHeader("server", "cybermarket")
        # The base class named, not super(): mypy lets these untyped Twisted
        # methods be called by their names (pyproject.toml).
        server.Request.render(self, resrc)

    def processingFailed(self, reason: Failure) -> Failure:
        """A bare 500, its traceback logged within --tracebacks-per-second
        (the site's `tracebacks`, the protocol's bound) instead of each
        time: a request that fails, sent in a loop, cannot flood the log."""
        tracebacks = getattr(self.site, "tracebacks", None)
        if tracebacks is not None:
            path = (getattr(self, "path", None) or b"").decode("latin-1")
            tracebacks(reason, "the web request for {path} failed", path=shown(path))
            self._log = _LOGGED
        # twisted.web returns the reason it was given.
        return cast(Failure, server.Request.processingFailed(self, reason))


class StaticFile:
    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def load_files(folder: Path = STATIC) -> dict[str, StaticFile]:
    """URL path -> file, for every file under `folder`; index.html at /."""
    files = {}
    for path in sorted(folder.rglob("*")):
        kind = TYPES.get(path.suffix)
        if path.is_file() and kind is not None:
            files["/" + path.relative_to(folder).as_posix()] = StaticFile(path.read_bytes(), kind)
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


def _matches(header: bytes | str | None, etag: str) -> bool:
    if header is None:
        return False
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


class WebRoot(Resource):
    isLeaf = True

    def __init__(
        self, files: dict[str, StaticFile], websocket: Resource, photos: Photos | None = None
    ) -> None:
        Resource.__init__(self)
        self.files = files
        self.websocket = websocket
        self.photos = photos

    def render(self, request: server.Request) -> bytes | int:
        path = request.path.decode("latin-1")
        if path == "/ws":
            upgraded: bytes | int = self.websocket.render(request)
            return upgraded
        if self.photos is not None and path.startswith("/photos/"):
            return self.photos.render(request)
        if request.method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader("allow", "GET, HEAD")
            return self._text(request, b"method not allowed\n")
        found = self.files.get(path)
        if found is None:
            request.setResponseCode(404)
            return self._text(request, b"not found\n")
        request.setHeader("etag", found.etag)
        # Kept, but checked with the server each time: an upgrade shows at
        # once, and an unchanged file costs a 304.
        request.setHeader("cache-control", "no-cache")
        request.setHeader("content-type", found.content_type)
        if _matches(request.getHeader("if-none-match"), found.etag):
            request.setResponseCode(304)
            return b""
        return found.body

    @staticmethod
    def _text(request: server.Request, text: bytes) -> bytes:
        request.setHeader("content-type", "text/plain; charset=utf-8")
        return text


def make_site(factory: MarketFactory, origins: list[str], proxied: bool = False) -> server.Site:
    """The web endpoint's site: static files, and WebSocket connections
    made by `factory` (the MarketFactory TCP uses too), whose caps count
    every HTTP connection; `proxied` for a haproxy: endpoint."""
    root = WebRoot(load_files(), MarketWebSocketResource(factory, origins), Photos(factory))
    site = MarketSite(root, factory, proxied, requestFactory=WebRequest)
    site.displayTracebacks = False
    site.tracebacks = factory.tracebacks  # type: ignore[attr-defined]  # read by WebRequest
    return site
