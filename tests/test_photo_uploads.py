"""Product photos over HTTP on the web endpoint (protocol 1.3), in process:
upload, replace, remove and serve; the tokens that may and may not
upload; the refusals of hostile images and of bodies too large or too
slow; the headers, ETag and 304; the hot-thumbnail cache.  Both backends
(the tokens, the throttle and the photos are in the database)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from cybermarket.server import images, photos
from cybermarket.server.images import MAX_FRAMES
from cybermarket.server.photos import PhotoPool
from cybermarket.server.web import make_site
from cybermarket.storage import photos as stored
from tests import images as make
from tests.harness import HeldPool, Immediately, InlinePool, settle
from tests.shop import add_product, records
from tests.test_web_limits import HTTPPeer, refusals

PASSWORD = "merchant-pass"


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        length = int(self.headers.get("content-length", len(rest)))
        self.body = rest[:length]
        self.rest = rest[length:]

    def json(self):
        return json.loads(self.body)


def answer(peer: HTTPPeer) -> Answer:
    # The database work the request queued runs first, as the database
    # thread would run it (the harness drains its job queue on demand).
    settle(peer.protocol.market.app)
    return Answer(peer.transport.read())


def with_pool(market, pool=None, **limits):
    photo_pool = PhotoPool(reactor=Immediately(market.clock), **limits)
    photo_pool.pool = pool or InlinePool()
    market.app.photos = photo_pool
    return photo_pool


@pytest.fixture
def site(market):
    with_pool(market)
    return make_site(market.factory, [])


def token_of(market, storename="shop", op="MERCHANT_LOGIN", password=PASSWORD):
    return market.peer().ok(op, login=storename, password=password)["token"]


@pytest.fixture
def lamp(market, shop):
    return add_product(shop, "lamp", price="9.00")


@pytest.fixture
def token(market, shop):
    return token_of(market)


def request(method, path, body=b"", token=None, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: shop.example"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send(site, raw, host="10.0.0.1"):
    peer = HTTPPeer(site, host)
    peer.feed(raw)
    return answer(peer)


def put(site, product_id, body=b"", token=None, host="10.0.0.1", headers=()):
    return send(site, request("PUT", f"/photos/{product_id}", body, token, headers), host)


def delete(site, product_id, token=None, host="10.0.0.1"):
    return send(site, request("DELETE", f"/photos/{product_id}", token=token), host)


def get(site, path, headers=(), method="GET"):
    return send(site, request(method, path, headers=headers))


def refused(result, status, code, **extra):
    assert result.status == status, (result.status, result.body)
    body = result.json()
    assert body["status"] == status
    assert body["error"]["code"] == code
    for key, value in extra.items():
        assert body["error"][key] == value
    assert body["message"]
    return body


# --- upload and serve ---------------------------------------------------------------


def test_an_upload_answers_its_path_and_the_path_serves_both_sizes(market, site, lamp, token):
    result = put(site, lamp, make.jpeg((2400, 1200)), token)
    assert result.status == 200, result.body
    path = result.json()["data"]["photo"]
    assert path.startswith(f"/photos/{lamp}/")
    assert result.headers["content-type"] == "application/json"
    for size, box in (("thumb", (400, 200)), ("large", (1600, 800))):
        served = get(site, f"{path}?size={size}")
        assert served.status == 200
        assert served.headers["content-type"] == "image/webp"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'"
        assert Image.open(io.BytesIO(served.body)).size == box
    default = get(site, path)
    assert Image.open(io.BytesIO(default.body)).size == (1600, 800)
    assert market.peer().ok("GET_PRODUCT", product_id=lamp)["photo"] == path


def test_etag_and_304(site, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    first = get(site, f"{path}?size=thumb")
    etag = first.headers["etag"]
    again = get(site, f"{path}?size=thumb", [f"If-None-Match: {etag}"])
    assert again.status == 304 and again.body == b""
    assert get(site, path, [f"If-None-Match: {etag}"]).status == 200  # the other size
    assert get(site, f"{path}?size=thumb", ['If-None-Match: "other"']).status == 200


def test_head_answers_the_headers_only(site, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    head = get(site, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-type"] == "image/webp"


def test_gps_coordinates_in_an_upload_do_not_survive(site, lamp, token):
    upload = make.with_gps()
    path = put(site, lamp, upload, token).json()["data"]["photo"]
    for size in ("thumb", "large"):
        body = get(site, f"{path}?size={size}").body
        assert b"SpyCam" not in body and b"taken at home" not in body
        image = Image.open(io.BytesIO(body))
        assert not image.getexif() and "exif" not in image.info


def test_a_polyglot_is_served_re_encoded_with_nosniff_and_no_script(site, lamp, token):
    upload = make.polyglot()
    path = put(site, lamp, upload, token).json()["data"]["photo"]
    served = get(site, path)
    assert served.status == 200
    assert b"<script" not in served.body and served.body != upload
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'"


def test_the_type_is_told_by_the_bytes_not_the_content_type(site, lamp, token):
    result = put(site, lamp, make.png(), token, headers=["Content-Type: image/svg+xml"])
    assert result.status == 200
    svg = put(site, lamp, make.SVG, token, headers=["Content-Type: image/png"])
    refused(svg, 400, "invalid_argument", field="photo")


def test_a_replacement_gets_a_new_path_and_the_old_one_is_gone(market, site, lamp, token):
    old = put(site, lamp, make.png(), token).json()["data"]["photo"]
    assert get(site, f"{old}?size=thumb").status == 200  # and kept hot
    new = put(site, lamp, make.jpeg(), token).json()["data"]["photo"]
    assert new != old
    assert get(site, f"{old}?size=thumb").status == 404
    assert get(site, old).status == 404
    assert get(site, new).status == 200
    listed = records(market.peer().ok("LIST_PRODUCT", storename="shop"))
    assert [r["photo"] for r in listed] == [new]


def test_delete_removes_the_photo_and_its_paths_answer_404(market, site, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    assert get(site, f"{path}?size=thumb").status == 200
    result = delete(site, lamp, token)
    assert result.status == 200 and result.json()["data"] == {"photo": None}
    assert get(site, f"{path}?size=thumb").status == 404
    assert get(site, path).status == 404
    assert market.peer().ok("GET_PRODUCT", product_id=lamp)["photo"] is None


def test_a_photo_of_a_product_off_the_shelf_is_still_served(market, site, shop, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=lamp)
    assert get(site, path).status == 200


def test_unknown_paths_and_sizes(site, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    digest = path.rsplit("/", 1)[1]
    unknown = [
        f"/photos/{lamp}/{'0' * 32}",
        f"/photos/{lamp + 1}/{digest}",
        "/photos/x/y",
        f"/photos/{lamp}",  # the upload's path: nothing to GET there
        f"/photos/{lamp}/{digest}/more",
        # Ids no product can have: never a question the database cannot take.
        f"/photos/0/{'0' * 32}",
        f"/photos/{'9' * 19}/{'0' * 32}",
        f"/photos/{'9' * 20}/{'0' * 32}",
    ]
    for unknown_path in unknown:
        for method in ("GET", "HEAD"):
            result = get(site, unknown_path, method=method)
            assert result.status == 404, (method, unknown_path, result.status)
            assert result.headers["content-type"] == "application/json"
        refused(get(site, unknown_path), 404, "not_found", what="product")
    huge = refused(get(site, f"{path}?size=huge"), 400, "invalid_argument", field="size")
    assert huge["message"] == "size: thumb or large"
    assert get(site, f"{path}?size=huge").headers["content-type"] == "application/json"
    for method in ("POST", "PATCH"):
        result = send(site, request(method, f"/photos/{lamp}", b"x", "t"))
        assert result.status == 405 and result.headers["allow"] == "GET, HEAD, PUT, DELETE"
        assert result.json()["status"] == 405 and result.json()["error"]["code"] == "malformed"


@pytest.mark.parametrize("named", ["abc", "-1", "1.5", "9" * 20, "9" * 19, "0", "%31", "1/x", ""])
def test_a_path_that_names_no_product_is_json_401_then_404(market, site, lamp, token, named):
    # The contract's order: the token (401) before the product (404); and
    # every answer JSON with the protocol's status, message and error.
    for change in (put, delete):
        args = (make.png(),) if change is put else ()
        result = change(site, named, *args, token=None)
        refused(result, 401, "bad_credentials")
        assert result.headers["content-type"] == "application/json"
        result = change(site, named, *args, token=token)
        body = refused(result, 404, "not_found", what="product")
        assert result.headers["content-type"] == "application/json"
        assert body["message"].startswith("product_id: no product")
    assert market.peer().ok("GET_PRODUCT", product_id=lamp)["photo"] is None


# --- hostile images ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "upload",
    [
        make.SVG,
        make.png_bomb(50_000),
        make.jpeg((300, 300), quality=95)[:900],
        make.webp_frames(MAX_FRAMES * 50),
        b"<html><script>alert(1)</script></html>",
        b"",
        make.png((300, 200))[:-12],
        make.noise((300, 200))[:-16],
        make.png((300, 200))[:-16] + b"\0\0\0\0" + make.png((300, 200))[-12:],
    ],
    ids=[
        "svg",
        "bomb",
        "truncated-jpeg",
        "webp-frames",
        "html",
        "empty",
        "png-without-iend",
        "png-cut-in-its-data",
        "png-wrong-crc",
    ],
)
def test_hostile_uploads_are_400_invalid_argument(market, site, lamp, token, upload):
    refused(put(site, lamp, upload, token), 400, "invalid_argument", field="photo")
    assert market.peer().ok("GET_PRODUCT", product_id=lamp)["photo"] is None


# --- sizes and rates -------------------------------------------------------------------


def test_a_declared_9_mib_upload_is_413_before_the_body_is_read(market, site, lamp, token, logged):
    peer = HTTPPeer(site)
    nine = 9 * 1024 * 1024
    head = request("PUT", f"/photos/{lamp}", b"", token).replace(
        b"Content-Length: 0", f"Content-Length: {nine}".encode()
    )
    peer.feed(head)  # the headers alone: not a byte of the body
    result = answer(peer)
    refused(result, 413, "frame_too_large")
    assert peer.closed
    assert refusals(logged, "photo-max-bytes")


def test_a_declared_size_is_413_before_the_token_is_looked_at(make_market, lamp):
    market = make_market(photo_max_bytes=1000)
    with_pool(market)
    site = make_site(market.factory, [])
    result = put(site, lamp, b"\0" * 1001, token="not-a-token")
    refused(result, 413, "frame_too_large")


def test_an_upload_within_the_limit_is_read_though_it_passes_max_frame(make_market):
    market = make_market(max_frame=1024, photo_max_bytes=1_000_000)
    with_pool(market)
    site = make_site(market.factory, [])
    lamp = add_product(market.merchant("shop"), "lamp")
    body = make.jpeg((300, 300), quality=95)
    assert len(body) > 1024
    assert put(site, lamp, body, token_of(market)).status == 200


def test_a_chunked_upload_over_the_limit_is_413_as_it_comes(make_market):
    market = make_market(photo_max_bytes=1000)
    with_pool(market)
    site = make_site(market.factory, [])
    peer = HTTPPeer(site)
    peer.feed(
        b"PUT /photos/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Authorization: Bearer t\r\n\r\n"
    )
    for _ in range(3):
        peer.feed(b"200\r\n" + b"\0" * 0x200 + b"\r\n")
    refused(answer(peer), 413, "frame_too_large")
    assert peer.closed


def test_a_body_that_trickles_below_the_minimum_rate_is_cut_off(make_market, logged):
    market = make_market(frame_timeout=5.0, photo_min_rate=1000)
    with_pool(market)
    site = make_site(market.factory, [])
    peer = HTTPPeer(site)
    peer.feed(
        b"PUT /photos/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    # 500 bytes a second: behind 1000 a second after the 5-second grace
    # once 500 t < 1000 (t - 5), at 10 seconds.
    for _ in range(20):
        peer.feed(b"\0" * 500)
        market.clock.advance(1.0)
        if peer.closed:
            break
    assert peer.closed
    assert 9.0 <= market.clock.seconds() <= 11.0
    assert peer.transport.value() == b""  # no answer: cut off
    assert refusals(logged, "photo-min-rate")


def test_a_slow_body_at_the_minimum_rate_gets_through_past_the_frame_timeout(make_market):
    market = make_market(frame_timeout=5.0, photo_min_rate=1000)
    with_pool(market)
    site = make_site(market.factory, [])
    lamp = add_product(market.merchant("shop"), "lamp")
    body = make.noise((100, 100))
    assert len(body) > 12_000  # more than 12 seconds at 1000 a second
    peer = HTTPPeer(site)
    peer.feed(
        request("PUT", f"/photos/{lamp}", b"", token_of(market)).replace(
            b"Content-Length: 0", f"Content-Length: {len(body)}".encode()
        )
    )
    for start in range(0, len(body), 1000):
        market.clock.advance(1.0)
        assert not peer.closed
        peer.feed(body[start : start + 1000])
    result = answer(peer)
    assert result.status == 200, result.body


def test_the_request_line_and_headers_still_have_the_frame_timeout(make_market):
    market = make_market(frame_timeout=5.0)
    with_pool(market)
    site = make_site(market.factory, [])
    peer = HTTPPeer(site)
    peer.feed(b"PUT /photos/1 HTTP/1.1\r\nHost: x\r\n")
    market.clock.advance(6.0)
    assert peer.closed


# --- tokens ----------------------------------------------------------------------------


def test_no_token_is_401(site, lamp):
    refused(put(site, lamp, make.png(), None), 401, "bad_credentials")
    refused(put(site, lamp, make.png(), "x", headers=[]), 401, "bad_credentials")
    raw = request("PUT", f"/photos/{lamp}", make.png(), None, ["Authorization: Basic c2hvcA=="])
    refused(send(site, raw), 401, "bad_credentials")


def test_a_customers_token_is_401(market, site, lamp):
    market.client("alice")
    customer = market.peer().ok("CLIENT_LOGIN", login="alice", password="client-pass")["token"]
    refused(put(site, lamp, make.png(), customer), 401, "bad_credentials")
    refused(delete(site, lamp, customer), 401, "bad_credentials")


def test_another_stores_token_is_403(market, site, lamp):
    market.merchant("other")
    other = token_of(market, "other")
    refused(put(site, lamp, make.png(), other), 403, "not_yours")
    refused(delete(site, lamp, other), 403, "not_yours")


def test_an_unknown_product_is_404_after_the_token(site, lamp, token):
    refused(put(site, lamp + 99, make.png(), token), 404, "not_found", what="product")
    refused(put(site, lamp + 99, make.png(), "bad"), 401, "bad_credentials")


def test_the_product_is_checked_before_the_image(market, site, lamp):
    market.merchant("other")
    refused(put(site, lamp, make.SVG, token_of(market, "other")), 403, "not_yours")


def test_a_token_revoked_by_logout_is_401(market, site, lamp):
    peer = market.peer()
    token = peer.ok("MERCHANT_LOGIN", login="shop", password=PASSWORD)["token"]
    peer.ok("MERCHANT_LOGOUT")
    refused(put(site, lamp, make.png(), token), 401, "bad_credentials")


def test_a_token_revoked_by_a_password_change_is_401(market, site, lamp):
    old = token_of(market)
    peer = market.peer()
    peer.ok("MERCHANT_LOGIN", login="shop", password=PASSWORD)
    new = peer.ok("SET_MERCHANT_PASSWORD", old_password=PASSWORD, new_password="another-pass")
    refused(put(site, lamp, make.png(), old), 401, "bad_credentials")
    assert put(site, lamp, make.png(), new["token"]).status == 200


def test_bad_tokens_count_toward_the_addresss_failed_login_limit(make_market, logged):
    market = make_market(login_failures_per_address=3)
    with_pool(market)
    site = make_site(market.factory, [])
    lamp = add_product(market.merchant("shop"), "lamp")
    good = token_of(market)
    for n in range(3):
        refused(put(site, lamp, make.png(), f"guess-{n}", host="10.6.6.6"), 401, "bad_credentials")
    throttled = refused(put(site, lamp, make.png(), "guess-4", host="10.6.6.6"), 429, "throttled")
    assert throttled["error"]["retry_after"] >= 1
    # A login from there is throttled too: one budget.
    login = market.peer("10.6.6.6").call("MERCHANT_LOGIN", login="shop", password="wrong")
    assert login["status"] == 429
    # A valid token is never refused for its address's failures.
    assert put(site, lamp, make.png(), good, host="10.6.6.6").status == 200
    # Another address is not affected.
    refused(put(site, lamp, make.png(), "guess", host="10.0.0.9"), 401, "bad_credentials")
    assert any("photo upload" in str(e.get("what")) for e in refusals(logged, "login-throttle"))


# --- the hot thumbnails ------------------------------------------------------------------


def test_hot_thumbnails_are_served_without_the_database_and_bounded_in_bytes(
    make_market, monkeypatch
):
    market = make_market(photo_cache_bytes=600)
    with_pool(market)
    site = make_site(market.factory, [])
    shop = market.merchant("shop")
    token = token_of(market)
    paths = []
    for n in range(3):
        product = add_product(shop, f"p{n}")
        upload = make.jpeg((300, 300), colour=(n * 80, 40, 200))
        paths.append(put(site, product, upload, token).json()["data"]["photo"])
    reads = []
    real = stored.find

    def counting(txn, *args):
        reads.append(args)
        return real(txn, *args)

    monkeypatch.setattr(stored, "find", counting)
    sizes = [len(get(site, f"{p}?size=thumb").body) for p in paths]
    assert len(reads) == 3
    cache = site.resource.photos.cache
    assert cache.size <= cache.most == 600
    assert cache.size == sum(len(body) for body, _ in cache.kept.values())
    # The most recent ones are kept, up to the bound, and served again
    # without a read.
    kept = [p for p in paths if any(k[1] == p.rsplit("/", 1)[1] for k in cache.kept)]
    assert kept and sum(sizes) > cache.most
    reads.clear()
    for p in kept:
        assert get(site, f"{p}?size=thumb").status == 200
    assert reads == []
    # Large sizes are read each time (the browser keeps them, immutable).
    get(site, paths[0])
    assert len(reads) == 1


def test_a_removal_or_replacement_by_another_process_shows_at_once(market, site, lamp, token):
    path = put(site, lamp, make.png(), token).json()["data"]["photo"]
    assert get(site, f"{path}?size=thumb").status == 200  # now kept
    # Another process removes the photo (its transaction, on the database
    # this one reads): the kept copy is not served again, however fresh.
    market.app.db.run_sync("remove", stored.remove, (lamp,))
    refused(get(site, f"{path}?size=thumb"), 404, "not_found", what="product")
    # Another process uploads it again, then replaces it: the same bytes
    # come back at the same path; the replaced one's path is gone.
    photo = images.process(make.png())
    market.app.db.run_sync("keep", photos.keep, (lamp, photo, 0))
    assert get(site, f"{path}?size=thumb").status == 200
    other = images.process(make.jpeg())
    market.app.db.run_sync("keep", photos.keep, (lamp, other, 0))
    assert get(site, f"{path}?size=thumb").status == 404
    assert get(site, f"/photos/{lamp}/{other.digest}?size=thumb").status == 200


def count_reads(monkeypatch):
    reads = {"version": 0, "find": 0}
    for name in reads:
        real = getattr(stored, name)

        def counting(txn, *args, name=name, real=real):
            reads[name] += 1
            return real(txn, *args)

        monkeypatch.setattr(stored, name, counting)
    return reads


def test_a_page_of_20_kept_thumbnails_costs_at_most_two_small_reads(
    market, site, shop, token, monkeypatch
):
    paths = []
    for n in range(20):
        product = add_product(shop, f"p{n}")
        upload = make.png((40, 40), colour=(n * 12, 40, 200))
        paths.append(put(site, product, upload, token).json()["data"]["photo"])
    reads = count_reads(monkeypatch)

    def page():
        # The browser asks for the 20 together, as a storefront page does.
        peers = [HTTPPeer(site) for _ in paths]
        for peer, path in zip(peers, paths, strict=True):
            peer.feed(request("GET", f"{path}?size=thumb"))
        return [answer(peer) for peer in peers]

    assert all(a.status == 200 for a in page())
    assert reads["find"] == 20  # the first view reads each once
    reads.update(version=0, find=0)
    for _ in range(3):
        assert all(a.status == 200 for a in page())
    # Each later view: no photo read at all, and the version read shared
    # by the requests that come together (the first, then all the others).
    assert reads["find"] == 0
    assert reads["version"] <= 2 * 3, reads
    # The large size is not kept (browsers keep it, immutable): no
    # version read, one photo read.
    reads.update(version=0, find=0)
    assert get(site, paths[0]).status == 200
    assert reads == {"version": 0, "find": 1}


# --- the decode pool ---------------------------------------------------------------------


def test_one_address_cannot_queue_past_its_share_nor_delay_another_by_more_than_one(
    market, lamp, token
):
    held = HeldPool()
    with_pool(market, held, queue_per_address=2)
    site = make_site(market.factory, [])
    flood = [HTTPPeer(site, "10.6.6.6") for _ in range(4)]
    for peer in flood:
        peer.feed(request("PUT", f"/photos/{lamp}", make.png(), token))
    # One decoding, two waiting; the fourth is refused at once, with the
    # contract's answer to too many requests (its 503 is for a server
    # shutting down or without its database), and when to try again.
    busy = refused(answer(flood[3]), 429, "throttled")
    assert busy["error"]["retry_after"] >= 1
    assert busy["message"] == "server busy with photos; try again"
    other = HTTPPeer(site, "10.0.0.2")
    other.feed(request("PUT", f"/photos/{lamp}", make.jpeg(), token))
    market.settle()  # its token checked, as the database thread would at once
    held.finish()  # the flood's first
    assert answer(flood[0]).status == 200
    held.finish()  # the other address's, before the flood's next
    assert answer(other).status == 200
    held.finish_all()
    assert answer(flood[1]).status == 200 and answer(flood[2]).status == 200


def test_a_hostile_header_is_refused_without_waiting_for_a_thread(market, lamp, token):
    held = HeldPool()
    with_pool(market, held, queue_per_address=1)
    site = make_site(market.factory, [])
    busy = [HTTPPeer(site) for _ in range(2)]
    for peer in busy:
        peer.feed(request("PUT", f"/photos/{lamp}", make.png(), token))
    for upload in (make.png_bomb(), make.SVG, make.webp_frames(MAX_FRAMES + 1)):
        refused(put(site, lamp, upload, token), 400, "invalid_argument", field="photo")
    assert len(held.jobs) == 1  # the one decoding; nothing else was queued
    held.finish_all()
    assert answer(busy[0]).status == answer(busy[1]).status == 200


def test_an_upload_counts_in_the_connection_caps(make_market, logged):
    market = make_market(max_connections_per_address=1)
    with_pool(market)
    site = make_site(market.factory, [])
    uploading = HTTPPeer(site)
    uploading.feed(
        b"PUT /photos/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"\0" * 100
    )
    over = HTTPPeer(site)
    assert over.transport.value().startswith(b"HTTP/1.1 503 ")
    assert refusals(logged, "max-connections-per-address")
    uploading.lose()
    assert not HTTPPeer(site).transport.value().startswith(b"HTTP/1.1 503 ")


def test_with_the_cache_off_a_thumbnail_costs_its_photo_read_alone(make_market, monkeypatch):
    market = make_market(photo_cache_bytes=0)
    with_pool(market)
    site = make_site(market.factory, [])
    lamp = add_product(market.merchant("shop"), "lamp")
    path = put(site, lamp, make.png(), token_of(market)).json()["data"]["photo"]
    reads = count_reads(monkeypatch)
    for _ in range(2):
        assert get(site, f"{path}?size=thumb").status == 200
    assert reads == {"version": 0, "find": 2}
