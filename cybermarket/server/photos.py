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
bounded (429 throttled beyond it, with retry_after: the contract's 503 is
for a server shutting down or without its database).

Serving: a photo's path names its content (a new upload gets a new path),
so it is served with a year's immutable caching, an ETag (304 for a match)
and `nosniff` and `default-src 'none'`.  The hottest thumbnails are kept in
memory (HotCache, bounded in bytes, --photo-cache-bytes), so a storefront
page of 20 cards costs the database 20 reads once, not at every view.  A
kept thumbnail is served only once a read of the photo version (one small
row, moved by every upload, replacement and removal through any process)
has found it unmoved; that read is shared by the requests that come
together (Versions), so 20 kept thumbnails asked for together cost two
small reads at most, and a removal through another process shows at
once.  With --photo-cache-bytes=0 nothing is kept and nothing is read
but the photos.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web import server

from cybermarket.errors import (
    BAD_TOKEN,
    MALFORMED,
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
    from cybermarket.storage.database import Database

log = Logger()

BUSY = N_("server busy with photos; try again")
NOT_AN_IMAGE = N_(
    "photo: not a whole JPEG, PNG or WebP image, or more than 40 megapixels or 10000 pixels a side"
)
NO_PRODUCT = N_("product_id: no product {product_id}")
NOT_YOURS = N_("product_id: product {product_id} belongs to another store")
TOO_LARGE = N_("photo: larger than {most} bytes")
NO_PHOTO = N_("no photo at this path")
BAD_SIZE = N_("size: thumb or large")
METHOD = N_("method not allowed: GET, HEAD, PUT or DELETE")

# Defaults of the options.
MAX_BYTES = 8 * 1024 * 1024
# 8 MiB in 17 minutes at the least: a phone on a slow link gets through.
MIN_RATE = 8192
THREADS = 1
PER_ADDRESS = 1
QUEUE = 8
QUEUE_PER_ADDRESS = 2
# The retry_after of an upload refused for a full queue: a few images'
# decoding, which is what the queue ahead of it holds.
BUSY_RETRY_SECONDS = 5
CACHE_BYTES = 16 * 1024 * 1024

UPLOAD = re.compile(r"^/photos/([0-9]{1,19})$")
# What GET and HEAD serve; any other path under /photos/ is 404.
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
            lambda: Throttled(BUSY, n=BUSY_RETRY_SECONDS),
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
    """The hottest thumbnails' bytes, least recently served out first, at
    most `most` bytes in all; every one of them as of photo `version` (the
    database's photo version, storage/photos.py), None before the first
    read of it."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.version: int | None = None
        self.size = 0
        # (product id, digest, size) -> (body, content type)
        self.kept: OrderedDict[tuple[int, str, str], tuple[bytes, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def at(self, version: int) -> None:
        """The photo version is now `version`: if it moved, some photo was
        replaced or removed, so none of the kept copies is trusted."""
        if version != self.version:
            self.kept.clear()
            self.size = 0
            self.version = version

    def get(self, key: tuple[int, str, str]) -> tuple[bytes, str] | None:
        found = self.kept.get(key)
        if found is None:
            self.misses += 1
            return None
        self.kept.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: tuple[int, str, str], body: bytes, kind: str, version: int) -> None:
        """Keep what was read after photo `version` was read: not if the
        version has moved since, as the read may be older than the move."""
        if len(body) > self.most or version != self.version:
            return
        if key in self.kept:
            self._drop(key)
        self.kept[key] = (body, kind)
        self.size += len(body)
        while self.size > self.most:
            self._drop(next(iter(self.kept)))

    def forget(self, product_id: int) -> None:
        for key in [k for k in self.kept if k[0] == product_id]:
            self._drop(key)

    def _drop(self, key: tuple[int, str, str]) -> None:
        self.size -= len(self.kept.pop(key)[0])


class Versions:
    """The photo version, read for the requests that ask: with at most one
    read in flight, and each request answered by a read that began after
    it came, so that a change committed before a request came is always
    seen (a removal through another process shows at once).  Requests that
    come while a read is in flight wait together for the next one: a burst
    of thumbnails costs two small reads at most, not one each."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._flying = False
        self._next: list[defer.Deferred[int]] = []

    def read(self) -> defer.Deferred[int]:
        d: defer.Deferred[int] = defer.Deferred()
        self._next.append(d)
        if not self._flying:
            self._start()
        return d

    def _start(self) -> None:
        waiting, self._next = self._next, []
        self._flying = True
        done = self.db.run("photo version", photos.version, write=False)
        done.addBoth(self._done, waiting)

    def _done(self, result: int | Failure, waiting: list[defer.Deferred[int]]) -> None:
        self._flying = False
        if self._next:
            self._start()
        for d in waiting:
            if isinstance(result, Failure):
                d.errback(result)
            else:
                d.callback(result)


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


class NotAllowed(MarketError):
    """405 for a method no photo path answers: HTTP's own status, with the
    code of a request that cannot be read (the protocol's unknown op)."""

    status = 405
    code = MALFORMED


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
        self.cache = HotCache(settings.photo_cache_bytes)
        self.versions = Versions(self.app.db)
        if self.app.metrics is not None:
            self.app.metrics.photo_cache(self.cache)

    def render(self, request: server.Request) -> bytes | int:
        # Every answer here that is not an image is JSON with the
        # protocol's status, message and error, whatever the path.
        path = request.path.decode("latin-1")
        method = request.method
        if method in (b"PUT", b"DELETE"):
            # The token is checked before the product (401 before 404), so
            # anything after /photos/ that is not a product's id is asked
            # as 0, which no product has: 404 not_found after the token,
            # never a question the database cannot take.
            found = UPLOAD.match(path)
            product_id = int(found[1]) if found and 1 <= int(found[1]) <= MAX_ID else 0
            named = path.removeprefix("/photos/")[:40]
            return self._change(request, product_id, named, upload=method == b"PUT")
        if method not in (b"GET", b"HEAD"):
            request.setHeader("allow", "GET, HEAD, PUT, DELETE")
            return self._error(request, NotAllowed(METHOD))
        found = SERVE.match(path)
        if found is None or not 1 <= int(found[1]) <= MAX_ID:
            return self._error(request, NotFound(NO_PHOTO, what=What.PRODUCT))
        return self._serve(request, int(found[1]), found[2])

    # --- upload and removal -------------------------------------------------------

    def _change(self, request: server.Request, product_id: int, named: str, upload: bool) -> int:
        request.setHeader("cache-control", "no-store")
        d = defer.ensureDeferred(self._run(request, product_id, named, upload))
        d.addCallback(lambda data: self._json(request, 200, {"status": 200, "data": data}))
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    async def _run(
        self, request: server.Request, product_id: int, named: str, upload: bool
    ) -> dict[str, Any]:
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
        except NotFound:
            # The message names what the path named, not the 0 it was asked as.
            raise NotFound(NO_PRODUCT, what=What.PRODUCT, product_id=named) from None
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
            return self._error(request, BadRequest(BAD_SIZE, field="size"))
        d = defer.ensureDeferred(self._find(product_id, digest, size))

        def found(result: tuple[bytes, str] | None) -> None:
            if _gone(request):
                return
            if result is None:
                body = self._error(request, NotFound(NO_PHOTO, what=What.PRODUCT))
            else:
                body = self._photo(request, digest, size, *result)
            request.setHeader("content-length", str(len(body)))
            request.write(body)
            request.finish()

        d.addCallback(found)
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    async def _find(self, product_id: int, digest: str, size: str) -> tuple[bytes, str] | None:
        """The bytes and type at a path: a thumbnail from the cache once the
        photo version says it is current, anything else from the database."""
        key = (product_id, digest, size)
        version = None
        if size == "thumb" and self.cache.most > 0:  # only thumbnails are kept
            version = await self.versions.read()
            self.cache.at(version)
        kept = self.cache.get(key)
        if kept is not None:
            return kept
        result: tuple[bytes, str] | None = await self.app.db.run(
            "photo", photos.find, product_id, digest, size, write=False
        )
        if result is not None and version is not None:
            self.cache.put(key, *result, version)
        return result

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
    def _error(request: server.Request, error: MarketError) -> bytes:
        """The JSON answer of an error to a GET or HEAD (for HEAD,
        twisted.web sends the headers only)."""
        request.setResponseCode(error.status)
        request.setHeader("content-type", "application/json")
        request.setHeader("x-content-type-options", "nosniff")
        request.setHeader("cache-control", "no-store")
        return json.dumps(error_body(error)).encode() + b"\n"


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
