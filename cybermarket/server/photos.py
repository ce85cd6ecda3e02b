"""Product photos over HTTP on the web endpoint (protocol 1.3, "Product
photos"):

    PUT    /photos/<product_id>              upload (the raw image as the body)
    DELETE /photos/<product_id>              remove
    GET    /photos/<product_id>/<digest>     serve (?size=thumb or large)

Uploads and removals carry `Authorization: Bearer <token>`, the session
token of the merchant that owns the product; cookies are never read, so no
other site can act in a merchant's name.  The answers are JSON with the
protocol's status, message and error code.  Where several refusals apply,
the first of 413, 429, 401, 404, 403, 400 wins: the size is refused by the
channel before the body is read (httpchannel.py), the token and the
product before any decoding.

A bad token (none, unknown, expired, revoked, or a customer's) counts as a
failed login of the peer address, checked and counted in one transaction
as RESUME's are; a valid merchant's token is never refused for its
address's failures.

Decoding (images.py) runs on a pool of its own (PhotoPool: 1 thread by
default), apart from the reactor and the database threads, shared out by
peer address like password hashing and searches (shares.py): an address that sends
a flood of uploads delays another's by one image at most, and its queue is
bounded (503 beyond it).

Serving: a photo's path names its content (a new upload gets a new path),
so it is served with a year's immutable caching, an ETag (304 for a match)
and `nosniff` and `default-src 'none'`.  The hottest thumbnails are kept in
memory (HotCache, bounded in bytes, --photo-cache-bytes), so a storefront
page of 20 cards costs the database 20 reads once, not at every view.  An
upload or removal in this process drops the product's kept copies at once;
another process's copies expire within --photo-cache-seconds.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web import server

from cybermarket.errors import (
    BAD_TOKEN,
    BadCredentials,
    BadRequest,
    Forbidden,
    MarketError,
    NotFound,
    Throttled,
    TooLarge,
    Unavailable,
    What,
)
from cybermarket.i18n import N_
from cybermarket.server import images
from cybermarket.server import throttle as throttle_keys
from cybermarket.server.shares import FairShare
from cybermarket.storage import photos, sessions
from cybermarket.storage.txn import Txn
from cybermarket.values import MAX_ID

if TYPE_CHECKING:
    from cybermarket.server.protocol import MarketFactory

log = Logger()

BUSY = N_("server busy with photos; try again")
NOT_AN_IMAGE = N_(
    "photo: not a whole JPEG, PNG or WebP image, or more than 40 megapixels or 10000 pixels a side"
)
NO_PRODUCT = N_("product_id: no product {product_id}")
NOT_YOURS = N_("product_id: product {product_id} belongs to another store")
TOO_LARGE = N_("photo: larger than {most} bytes")

# Defaults of the options.
MAX_BYTES = 8 * 1024 * 1024
# 8 MiB in 17 minutes at the least: a phone on a slow link gets through.
MIN_RATE = 8192
THREADS = 1
PER_ADDRESS = 1
QUEUE = 8
QUEUE_PER_ADDRESS = 2
CACHE_BYTES = 16 * 1024 * 1024
CACHE_SECONDS = 60.0

UPLOAD = re.compile(r"^/photos/([0-9]{1,19})$")
SERVE = re.compile(r"^/photos/([0-9]{1,19})/([0-9a-f]{32})$")
IMMUTABLE = "public, max-age=31536000, immutable"


def is_upload(method: bytes, path: bytes) -> bool:
    """Whether a request line is a photo upload (read by the channel before
    the body, for the upload's own size and rate rules)."""
    return method == b"PUT" and path.split(b"?", 1)[0].startswith(b"/photos/")


class PhotoPool:
    """The photo threads (a ThreadPool of their own) and the share of them
    each peer address gets (shares.py)."""

    def __init__(
        self,
        threads: int = THREADS,
        reactor: Any = None,
        per_address: int = PER_ADDRESS,
        queue: int = QUEUE,
        queue_per_address: int = QUEUE_PER_ADDRESS,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = default
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="cybermarket-photos")
        self.share = FairShare(
            reactor,
            self._start,
            threads,
            per_address,
            queue,
            queue_per_address,
            BUSY,
            "photo-queue",
            "refused a photo {what} for {peer}: photo queue full ({why});"
            " {count} refused since the last report",
        )

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.share.stop()
        self.pool.stop()

    def decode(self, data: bytes, peer: str | None) -> defer.Deferred[images.Photo]:
        return self.share.submit(peer, "upload", images.process, data)

    def _start(self, function: Callable[..., Any], args: tuple[Any, ...]) -> defer.Deferred[Any]:
        return deferToThreadPool(self.reactor, self.pool, function, *args)


class HotCache:
    """The hottest photos' bytes, least recently served out first, at most
    `most` bytes in all; each kept `seconds` at most (another process may
    have replaced or removed the photo meanwhile)."""

    def __init__(self, most: int, seconds: float, clock: IReactorTime) -> None:
        self.most = most
        self.seconds = seconds
        self.clock = clock
        self.size = 0
        # (product id, digest, size) -> (when kept, body, content type)
        self.kept: OrderedDict[tuple[int, str, str], tuple[float, bytes, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, str]) -> tuple[bytes, str] | None:
        with self._lock:
            found = self.kept.get(key)
            if found is None or self.clock.seconds() - found[0] > self.seconds:
                if found is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self.kept.move_to_end(key)
            self.hits += 1
            return found[1], found[2]

    def put(self, key: tuple[int, str, str], body: bytes, kind: str) -> None:
        with self._lock:
            if len(body) > self.most:
                return
            if key in self.kept:
                self._drop(key)
            self.kept[key] = (self.clock.seconds(), body, kind)
            self.size += len(body)
            while self.size > self.most:
                self._drop(next(iter(self.kept)))

    def forget(self, product_id: int) -> None:
        with self._lock:
            for key in [k for k in self.kept if k[0] == product_id]:
                self._drop(key)

    def _drop(self, key: tuple[int, str, str]) -> None:
        self.size -= len(self.kept.pop(key)[1])


# --- on a database thread ----------------------------------------------------


def authorise(
    txn: Txn,
    throttle: throttle_keys.Throttle,
    now_ms: int,
    period_ms: int,
    peer: str,
    token_hash: str | None,
    product_id: int,
) -> int | None:
    """The merchant id for a merchant's good token (renewed) and a product
    of theirs; None for a bad token (401), which is counted as a failed
    login of the peer address after a check of the address's count (429
    at the limit), as RESUME's are: returned, not raised, so that the
    count commits.  Raises 429, 404 or 403."""
    found = None if token_hash is None else sessions.renew(txn, now_ms, token_hash, period_ms)
    if found is None or found[0] != "merchant":
        keys = {throttle_keys.ADDRESS: throttle_keys.peer_key(peer)}
        throttle.check(txn, now_ms, keys)
        throttle.failed(txn, now_ms, keys)
        return None
    owner = photos.owner(txn, product_id)
    if owner is None:
        raise NotFound(NO_PRODUCT, what=What.PRODUCT, product_id=product_id)
    if owner != found[1]:
        raise Forbidden(NOT_YOURS, product_id=product_id)
    return owner


def keep(txn: Txn, product_id: int, photo: images.Photo, now_ms: int) -> str:
    thumb, large = (
        photos.Image(e.body, e.content_type, e.width, e.height) for e in (photo.thumb, photo.large)
    )
    return photos.put(txn, product_id, photo.digest, thumb, large, now_ms)


# --- the answers ----------------------------------------------------------------


def error_body(error: MarketError) -> dict[str, Any]:
    """The JSON answer of an error: the protocol's status, message and
    error (its code and keys, errors.py)."""
    return {"status": error.status, "message": error.message, "error": error.error}


def too_large_answer(most: int) -> bytes:
    """The whole HTTP answer to an upload whose size is over `most`, sent
    before its body is read, as the connection is closed."""
    body = json.dumps(error_body(TooLarge(TOO_LARGE, most=most))).encode() + b"\n"
    return (
        b"HTTP/1.1 413 Content Too Large\r\n"
        b"content-type: application/json\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"cache-control: no-store\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class Photos:
    """The /photos/ requests of the web endpoint (WebRoot hands them
    over)."""

    def __init__(self, factory: MarketFactory) -> None:
        self.factory = factory
        self.app = factory.app
        settings = self.app.settings
        self.cache = HotCache(
            settings.photo_cache_bytes, settings.photo_cache_seconds, self.app.clock
        )
        if self.app.metrics is not None:
            self.app.metrics.photo_cache(self.cache)

    def render(self, request: server.Request) -> bytes | int:
        path = request.path.decode("latin-1")
        method = request.method
        if found := UPLOAD.match(path):
            # An id no product can have (nor the database be asked about)
            # is asked as 0, which no product has: 404 after the token.
            product_id = int(found[1]) if 1 <= int(found[1]) <= MAX_ID else 0
            if method == b"PUT":
                return self._change(request, product_id, upload=True)
            if method == b"DELETE":
                return self._change(request, product_id, upload=False)
            return self._not_allowed(request, "PUT, DELETE")
        found = SERVE.match(path)
        if found is not None and 1 <= int(found[1]) <= MAX_ID:
            if method in (b"GET", b"HEAD"):
                return self._serve(request, int(found[1]), found[2])
            return self._not_allowed(request, "GET, HEAD")
        request.setResponseCode(404)
        request.setHeader("content-type", "text/plain; charset=utf-8")
        return b"not found\n"

    # --- upload and removal -------------------------------------------------------

    def _change(self, request: server.Request, product_id: int, upload: bool) -> int:
        request.setHeader("cache-control", "no-store")
        d = defer.ensureDeferred(self._run(request, product_id, upload))
        d.addCallback(lambda data: self._json(request, 200, {"status": 200, "data": data}))
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    async def _run(self, request: server.Request, product_id: int, upload: bool) -> dict[str, Any]:
        app = self.app
        peer = getattr(request.channel, "peer", None) or "local"
        now_ms = int(app.clock.seconds() * 1000)
        period = sessions.period_ms(app.settings.session_days)
        token = bearer(request.getHeader("authorization"))
        token_hash = None if token is None else sessions.digest(token)
        try:
            merchant = await app.db.run(
                "photo token",
                authorise,
                app.throttle,
                now_ms,
                period,
                peer,
                token_hash,
                product_id,
            )
        except Throttled as e:
            app.throttle.refused(
                what="photo upload", peer=peer, blocked="address", message=e.message
            )
            raise
        if merchant is None:
            # Never the token, nor its hash: the log is not a place for either.
            log.info(
                "refused a photo change from {peer}: no merchant's good token",
                security="login_failed",
                peer=peer,
                kind="bad_token",
            )
            if app.metrics is not None:
                app.metrics.failed_logins.labels("photo", "bad_token").inc()
            raise BadCredentials(BAD_TOKEN)
        if not upload:
            await app.db.run("photo removal", photos.remove, product_id)
            self.cache.forget(product_id)
            return {"photo": None}
        assert request.content is not None
        request.content.seek(0)
        data = request.content.read()
        if app.photos is None:
            raise Unavailable(BUSY)
        try:
            # The header first, here: a bounded few steps, so that a bomb's
            # or an SVG's refusal waits for no thread.
            images.probe(data)
            photo = await app.photos.decode(data, peer)
        except images.ImageRefused as e:
            log.info("refused a photo from {peer}: {why}", peer=peer, why=str(e))
            raise BadRequest(NOT_AN_IMAGE, field="photo") from None
        del data
        path = await app.db.run("photo upload", keep, product_id, photo, now_ms)
        self.cache.forget(product_id)
        return {"photo": path}

    def _failed(self, failure: Failure, request: server.Request) -> None:
        error = failure.value
        if not isinstance(error, MarketError):
            self.factory.tracebacks(failure, "a photo request failed")
            error = MarketError()
        self._json(request, error.status, error_body(error))

    def _json(self, request: server.Request, status: int, body: dict[str, Any]) -> None:
        if _gone(request):
            return
        if "message" not in body:
            body["message"] = "done"
        data = json.dumps(body).encode() + b"\n"
        request.setResponseCode(status)
        request.setHeader("content-type", "application/json")
        request.setHeader("content-length", str(len(data)))
        request.write(data)
        request.finish()

    # --- serving ------------------------------------------------------------

    def _serve(self, request: server.Request, product_id: int, digest: str) -> bytes | int:
        size = _size(request)
        if size is None:
            request.setResponseCode(400)
            request.setHeader("content-type", "text/plain; charset=utf-8")
            return b"size: thumb or large\n"
        key = (product_id, digest, size)
        kept = self.cache.get(key)
        if kept is not None:
            return self._photo(request, digest, size, *kept)
        d = self.app.db.run("photo", photos.find, product_id, digest, size, write=False)

        def found(result: tuple[bytes, str] | None) -> None:
            if _gone(request):
                return
            if result is None:
                request.setResponseCode(404)
                request.setHeader("content-type", "text/plain; charset=utf-8")
                body = b"not found\n"
            else:
                if size == "thumb":
                    self.cache.put(key, *result)
                body = self._photo(request, digest, size, *result)
            request.setHeader("content-length", str(len(body)))
            request.write(body)
            request.finish()

        d.addCallback(found)
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    @staticmethod
    def _photo(request: server.Request, digest: str, size: str, body: bytes, kind: str) -> bytes:
        etag = f'"{digest}-{size}"'
        request.setHeader("etag", etag)
        request.setHeader("cache-control", IMMUTABLE)
        request.setHeader("content-type", kind)
        request.setHeader("x-content-type-options", "nosniff")
        request.setHeader("content-security-policy", "default-src 'none'")
        if _matches(request.getHeader("if-none-match"), etag):
            request.setResponseCode(304)
            return b""
        return body

    @staticmethod
    def _not_allowed(request: server.Request, allow: str) -> bytes:
        request.setResponseCode(405)
        request.setHeader("allow", allow)
        request.setHeader("content-type", "text/plain; charset=utf-8")
        return b"method not allowed\n"


def _gone(request: server.Request) -> bool:
    """The answer cannot be written: the client has gone, or it is written."""
    return bool(request.finished or getattr(request, "_disconnected", False))


def bearer(header: str | bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for no
    header or another scheme."""
    if header is None:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def _size(request: server.Request) -> str | None:
    sizes = request.args.get(b"size")
    if not sizes:
        return "large"
    wanted = sizes[-1].decode("latin-1")
    return wanted if wanted in photos.SIZES else None


def _matches(header: str | bytes | None, etag: str) -> bool:
    if header is None:
        return False
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags
