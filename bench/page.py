"""The storefront page with photos, as a browser loads it (bench/run.py's
`page` workload).

Each of the bench store's 20 products gets a photo, uploaded once through
HTTP PUT /photos/<id> with the merchant's token: an honest 1200 x 900 JPEG
with texture (a gradient, shapes and noise, about 290 KB), which the server
decodes and keeps as a 400 x 300 thumbnail and a large size.  A page load
is what the storefront does for a store: LIST_PRODUCT over WebSocket (the
web endpoint's /ws, binary messages), then the 20 thumbnails its `photo`
column names (`?size=thumb`), over 6 keep-alive HTTP connections at once,
as a browser spreads the images of one host; the page is timed from the
listing's request to the last thumbnail's last byte.  A "browser" opens
its 7 connections before the clock starts.

Three ways, each with one browser loading pages one after another and with
`browsers` of them at once:
  cold     every thumbnail read from the database: a second server on the
           same database with --photo-cache-bytes=0, which is what the
           first page after a start (or after a thumbnail was dropped)
           costs; plus the very first load after the uploads on the
           default server, alone
  warm     the default server, its thumbnails in memory (HotCache)
  304s     the same with the ETag of each thumbnail in If-None-Match, as a
           browser revalidates what it kept (on both servers)
Both servers run with --metrics; the photo reads counted there
(cybermarket_photo_reads_total, from the cache or the database) are shown
per page.
"""

import asyncio
import io
import random
import re
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import loadgen
from bench.servers import Servers, free_port

PER_HOST = 6  # a browser's connections to one host
WIDTH, HEIGHT = 1200, 900


def photo(n):
    """The `n`th product's photo: a JPEG a camera could have made, not a
    flat colour that would shrink to nothing."""
    from PIL import Image, ImageDraw

    rng = random.Random(n)
    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    across = gradient.rotate(90).resize((WIDTH, HEIGHT))
    picture = Image.merge("RGB", (gradient, across, Image.effect_noise((WIDTH, HEIGHT), 48)))
    draw = ImageDraw.Draw(picture)
    for _ in range(40):
        x, y, r = rng.randrange(WIDTH), rng.randrange(HEIGHT), rng.randrange(20, 200)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    grain = Image.effect_noise((WIDTH, HEIGHT), 30).convert("RGB")
    out = io.BytesIO()
    Image.blend(picture, grain, 0.25).save(out, "JPEG", quality=85)
    return out.getvalue()


def upload_photos(port, web_port, ids, password):
    """A photo for each product, through HTTP PUT as the store's merchant;
    (the uploads' sizes in bytes, each upload's seconds)."""
    from cybermarket.client.blocking import Client

    sizes, seconds = [], []
    with Client("127.0.0.1", port, web=f"http://127.0.0.1:{web_port}") as shop:
        shop.call("MERCHANT_LOGIN", check=True, login="bench", password=password)
        with tempfile.TemporaryDirectory() as folder:
            for n, product_id in enumerate(ids):
                path = Path(folder) / f"{n}.jpg"
                path.write_bytes(photo(n))
                sizes.append(path.stat().st_size)
                started = time.perf_counter()
                shop.set_photo(product_id, str(path))
                seconds.append(time.perf_counter() - started)
    return sizes, seconds


class Browser:
    """One WebSocket for the listing and PER_HOST keep-alive HTTP
    connections for the thumbnails."""

    def __init__(self, ws, http):
        self.ws, self.http = ws, http

    @classmethod
    async def open(cls, web_port):
        ws = await loadgen.WSConn.open(web_port, loadgen.Stats())
        http = [await asyncio.open_connection("127.0.0.1", web_port) for _ in range(PER_HOST)]
        return cls(ws, http)

    def close(self):
        self.ws.close()
        for _, writer in self.http:
            writer.close()

    async def load(self, etags=None):
        """One page: {thumbnail path: (status, etag)}; with `etags`, each
        thumbnail asked with its ETag in If-None-Match."""
        answer = await self.ws.call("LIST_PRODUCT", storename="bench")
        data = answer["data"]
        column = data["columns"].index("photo")
        waiting = [row[column] + "?size=thumb" for row in data["rows"]]
        got = {}

        async def fetch(reader, writer):
            while waiting:
                path = waiting.pop(0)
                condition = f"If-None-Match: {etags[path]}\r\n" if etags else ""
                writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{condition}\r\n".encode())
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                status = int(head[0].split()[1])
                headers = dict(h.lower().split(": ", 1) for h in head[1:] if ": " in h)
                if status != 304:  # a 304 has no body, whatever its headers say
                    await reader.readexactly(int(headers["content-length"]))
                got[path] = (status, headers.get("etag"))

        await asyncio.gather(*(fetch(reader, writer) for reader, writer in self.http))
        return got


async def first_load(web_port):
    """(seconds, {path: (status, etag)}) of one browser's first page."""
    browser = await Browser.open(web_port)
    started = time.perf_counter()
    got = await browser.load()
    seconds = time.perf_counter() - started
    browser.close()
    return seconds, got


async def loads(web_port, browsers, seconds, etags=None, warmup=1.0):
    """`browsers` browsers loading pages one after another for `seconds`
    (after `warmup`); Stats.summary() of the pages, an error for a page
    with a thumbnail answered otherwise than 200 (304 with `etags`), and
    "loaded": the pages loaded in all, warm-up and wind-down included."""
    pages = loadgen.Stats()
    expected = 304 if etags else 200
    opened = [await Browser.open(web_port) for _ in range(browsers)]
    stop = False
    loaded = 0  # every page, the warm-up's too: the reads per page count them all

    async def run(browser):
        nonlocal loaded
        while not stop:
            started = time.perf_counter()
            got = await browser.load(etags)
            ok = len(got) == 20 and all(status == expected for status, _ in got.values())
            pages.record(time.perf_counter() - started, ok)
            loaded += 1

    tasks = [asyncio.ensure_future(run(b)) for b in opened]
    await asyncio.sleep(warmup)
    pages.recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    pages.recording = False
    duration = time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks)
    for browser in opened:
        browser.close()
    return {**pages.summary(duration), "loaded": loaded}


class Reads:
    """The photo reads a server's /metrics counts, from the cache and from
    the database, since the last take()."""

    PATTERN = re.compile(r'^cybermarket_photo_reads_total\{source="(\w+)"\} (\S+)$', re.M)

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.last = self._now()

    def _now(self):
        with urllib.request.urlopen(self.url, timeout=30) as answer:
            text = answer.read().decode()
        return {source: float(count) for source, count in self.PATTERN.findall(text)}

    def take(self):
        now = self._now()
        taken = {k: now.get(k, 0.0) - self.last.get(k, 0.0) for k in ("cache", "database")}
        self.last = now
        return taken


def row(name, r, reads):
    per_page = reads["database"] / r["loaded"] if r["loaded"] else float("nan")
    return (
        f"  {name:<30} {r['ops']:6.0f} pages/s  p50 {r['p50_ms']:6.2f} ms  "
        f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}  database reads/page {per_page:5.2f}"
    )


def measure(server, reads, browsers, seconds, etags=None, label=""):
    lines = []
    for n in (1, browsers):
        r = asyncio.run(loads(server.web_port, n, seconds, etags))
        lines.append(row(f"{label}, {n} browser{'s' if n > 1 else ''}", r, reads.take()))
    return lines


def run(database, ids, password, browsers, seconds, extra=()):
    """The page workload's lines, on two servers of their own on `database`
    (the pass's, where the bench store is)."""
    lines = []
    metrics_port = free_port()
    metered = [*extra, f"--metrics=tcp:{metrics_port}:interface=127.0.0.1"]
    server = Servers(database, extra=metered, web=True)
    try:
        sizes, took = upload_photos(server.port, server.web_port, ids, password)
        took.sort()
        lines.append(
            f"storefront page: LIST_PRODUCT over WebSocket + 20 thumbnails on {PER_HOST} "
            f"keep-alive HTTP connections; 20 JPEGs {WIDTH}x{HEIGHT}, mean "
            f"{sum(sizes) / len(sizes) / 1024:.0f} KiB, uploaded in p50 "
            f"{took[len(took) // 2] * 1000:.0f} ms"
        )
        reads = Reads(metrics_port)
        first, got = asyncio.run(first_load(server.web_port))
        counted = reads.take()
        lines.append(
            f"  first load (thumbnail cache empty)  {first * 1000:6.2f} ms  database reads "
            f"{counted['database']:.0f}, from the cache {counted['cache']:.0f}"
        )
        lines += measure(server, reads, browsers, seconds, label="warm")
        etags = {path: etag for path, (_, etag) in got.items()}
        lines += measure(server, reads, browsers, seconds, etags, label="304s (If-None-Match)")
    finally:
        server.stop()
    metrics_port = free_port()
    metered = [*extra, "--photo-cache-bytes=0", f"--metrics=tcp:{metrics_port}:interface=127.0.0.1"]
    server = Servers(database, extra=metered, web=True)
    try:
        reads = Reads(metrics_port)
        lines += measure(server, reads, browsers, seconds, label="cold (cache off)")
        lines += measure(server, reads, browsers, seconds, etags, label="304s, cache off")
    finally:
        server.stop()
    return lines
