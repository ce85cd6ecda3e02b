"""--metrics: /metrics after known traffic, /healthz, /readyz (and /readyz
following PostgreSQL going down and coming back)."""

import json
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer
from twisted.web.test.requesthelper import DummyRequest

from cybermarket.server import health
from cybermarket.server.metrics import UNKNOWN, Metrics
from tests.databases import on_postgresql, pg_ctl
from tests.live import FAST, PASSWORD
from tests.scrape import delta, get, scrape, value
from tests.server import HOST, free_port, wait_until
from tests.wire import Client

OTHER = "127.0.0.2"  # an address of its own, for scrapes


@pytest.fixture
def metered(launch, migrated_url):
    """A server with --metrics on a port of its own; (Live, metrics port)."""
    port = free_port()
    live = launch(
        migrated_url,
        *FAST,
        "--metrics",
        f"tcp:{port}:interface={HOST}",
        "--login-failures",
        "2",
        "--max-connections-per-address",
        "6",
    )
    return live, port


def test_metrics_count_requests_by_op_and_status(metered):
    live, port = metered
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/readyz") == (200, "ready\n")
    before = scrape(port)
    conn = live.connect()
    for _ in range(5):
        conn.ok("PING")
    # An op the table does not have counts under one label, whatever it is.
    for i in range(3):
        assert conn.call(f"NO_SUCH_OP_{i}")["status"] == 400
    assert conn.call("CLIENT_LOGIN", login="nobody", password="wrong one")["status"] == 401
    assert conn.call("CLIENT_LOGIN", login="nobody", password="wrong two")["status"] == 401
    assert conn.call("CLIENT_LOGIN", login="nobody", password="wrong three")["status"] == 429
    after = scrape(port)

    assert delta(before, after, "cybermarket_requests_total", op="PING", status="200") == 5
    assert delta(before, after, "cybermarket_request_duration_seconds_count", op="PING") == 5
    assert (
        delta(before, after, "cybermarket_request_duration_seconds_bucket", op="PING", le="+Inf")
        == 5
    )
    assert delta(before, after, "cybermarket_requests_total", op=UNKNOWN, status="400") == 3
    assert not any("NO_SUCH_OP" in str(labels) for _, labels in after)
    assert delta(before, after, "cybermarket_requests_total", op="CLIENT_LOGIN", status="401") == 2
    assert delta(before, after, "cybermarket_requests_total", op="CLIENT_LOGIN", status="429") == 1
    assert delta(before, after, "cybermarket_throttled_total", kind="client_login") == 1
    assert (
        delta(
            before, after, "cybermarket_failed_logins_total", role="client", kind="no_such_account"
        )
        == 2
    )
    # Two hashes checked (the 429 checks none), and the process collector.
    assert delta(before, after, "cybermarket_hash_duration_seconds_count") == 2
    assert value(after, "cybermarket_database_duration_seconds_count", op="client login") >= 3
    assert value(after, "cybermarket_connections", transport="tcp") == 1
    assert value(after, "process_open_fds") > 0
    assert value(after, "process_resident_memory_bytes") > 0
    assert ("cybermarket_database_queue_depth", frozenset()) in after
    assert ("cybermarket_hash_queue_depth", frozenset()) in after
    assert ("cybermarket_search_queue_depth", frozenset()) in after


def test_metrics_count_refused_connections_and_page_cache(metered):
    live, port = metered
    conns = [live.connect() for _ in range(6)]
    for conn in conns:
        conn.ok("PING")
    # 127.0.0.1 is at its cap, which counts /metrics's connections too:
    # scraped from another address.
    assert value(scrape(port, OTHER), "cybermarket_connections", transport="tcp") == 6
    # The seventh from the same address is over --max-connections-per-address.
    with socket.create_connection((HOST, live.port), timeout=10) as extra:
        extra.settimeout(10)
        assert extra.recv(1) == b""  # closed at once
    samples = wait_until(
        lambda: (
            s
            if value(
                s := scrape(port, OTHER),
                "cybermarket_connections_refused_total",
                reason="max-connections-per-address",
            )
            >= 1
            else None
        ),
        10,
        what="the refusal counted",
    )
    assert value(samples, "cybermarket_connections_refused_total", reason="max-connections") == 0
    live.close_connections()
    wait_until(
        lambda: value(scrape(port, OTHER), "cybermarket_connections", transport="tcp") == 0,
        10,
        what="the connections counted closed",
    )
    shop = live.merchant("metered")
    shop.ok("MERCHANT_ADD_PRODUCT", productname="p", price="1.00", description="", stock=3)
    before = scrape(port)
    for _ in range(3):
        shop.ok("LIST_PRODUCT", storename="metered")
    after = scrape(port)
    hits = delta(before, after, "cybermarket_page_cache_total", result="hit")
    misses = delta(before, after, "cybermarket_page_cache_total", result="miss")
    # On PostgreSQL each of the database threads keeps a cache of its own.
    assert hits + misses == 3 and hits >= (1 if on_postgresql() else 2)


def test_metrics_count_photos_served_from_the_cache_and_read_from_the_database(
    launch, migrated_url, tmp_path
):
    """A store's page of thumbnails costs the database one read per photo
    once; views after that are served from the hot cache.  Large photos
    are not kept (a browser keeps them), so each is a read."""
    import urllib.error
    import urllib.request

    from tests import images

    port = free_port()
    live = launch(migrated_url, *FAST, "--metrics", f"tcp:{port}:interface={HOST}", web=True)
    web = f"http://{HOST}:{live.server.web_port}"
    shop = live.merchant("photoshop")
    token = live.connect().ok("MERCHANT_LOGIN", login="photoshop", password=PASSWORD)["token"]
    paths = []
    for n in range(3):
        product = shop.ok(
            "MERCHANT_ADD_PRODUCT", productname=f"p{n}", price="1.00", description="", stock=1
        )["product_id"]
        upload = urllib.request.Request(
            f"{web}/photos/{product}",
            data=images.jpeg((300, 200), colour=(n * 80, 40, 200)),
            method="PUT",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(upload, timeout=30) as answer:
            paths.append(json.loads(answer.read())["data"]["photo"])

    def fetch(path, etag=None):
        headers = {"If-None-Match": etag} if etag else {}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(web + path, headers=headers), timeout=30
            ) as answer:
                return answer.status, answer.headers["etag"]
        except urllib.error.HTTPError as e:
            return e.code, e.headers["etag"]

    before = scrape(port)
    etags = [fetch(f"{p}?size=thumb")[1] for p in paths]  # the page's first view
    after_first = scrape(port)
    for _ in range(2):  # two more views, one of them revalidating
        assert [fetch(f"{p}?size=thumb")[0] for p in paths] == [200] * 3
        assert [fetch(f"{p}?size=thumb", e)[0] for p, e in zip(paths, etags, strict=True)] == [
            304
        ] * 3
    assert fetch(paths[0])[0] == fetch(paths[0])[0] == 200  # large, twice
    after = scrape(port)

    def reads(since, until, source):
        return delta(since, until, "cybermarket_photo_reads_total", source=source)

    assert reads(before, after_first, "database") == 3
    assert reads(before, after_first, "cache") == 0
    assert reads(after_first, after, "database") == 2  # the large ones
    assert reads(after_first, after, "cache") == 12


@pytest.mark.backend_free("the command line's options")
def test_metrics_off_unless_asked(launch, migrated_url):
    server = launch(migrated_url, *FAST).server
    with server.client() as conn:
        assert conn.call("PING")["status"] == 200
    assert "QuietSite" not in server.log


# --- /readyz, in process -------------------------------------------------------------


class FakeDB:
    def __init__(self, answer):
        self.answer = answer
        self.url = "sqlite:///unused.sqlite3"
        self.calls = 0

    def run(self, desc, func, *args, write=True):
        self.calls += 1
        return self.answer() if callable(self.answer) else defer.succeed(self.answer)


class FakeApp:
    def __init__(self, db):
        from twisted.internet import task

        self.db = db
        self.clock = task.Clock()


class FakeFactory:
    stopping = False


def probe(readyz):
    request = DummyRequest([b""])
    readyz.render_GET(request)
    return request


def ready(answer, stopping=False):
    factory = FakeFactory()
    factory.stopping = stopping
    app = FakeApp(FakeDB(answer))
    readyz = health.Readyz(app, factory)
    return readyz, app


def test_readyz_ready_at_head():
    readyz, _ = ready(None)
    readyz.app.db.answer = readyz.head
    request = probe(readyz)
    assert request.finished and request.responseCode in (None, 200)
    assert b"".join(request.written) == b"ready\n"


@pytest.mark.parametrize(
    "answer, why",
    [
        ("0000_an_old_revision", b"schema at revision 0000_an_old_revision"),
        (lambda: defer.fail(RuntimeError("connection refused")), b"database: connection refused"),
    ],
)
def test_readyz_not_ready(answer, why):
    readyz, _ = ready(answer)
    request = probe(readyz)
    assert request.responseCode == 503
    assert why in b"".join(request.written)


def test_readyz_not_ready_while_shutting_down():
    readyz, app = ready(None, stopping=True)
    request = probe(readyz)
    assert request.responseCode == 503
    assert b"shutting down" in b"".join(request.written)
    assert app.db.calls == 0


def test_readyz_a_database_that_does_not_answer_is_not_ready_and_probes_share_a_check():
    readyz, app = ready(defer.Deferred)
    requests = [probe(readyz) for _ in range(5)]
    assert app.db.calls == 1  # one check for all the probes waiting
    app.clock.advance(health.READY_TIMEOUT + 0.1)
    for request in requests:
        assert request.responseCode == 503
        assert b"no answer in time" in b"".join(request.written)


def test_unknown_ops_cannot_grow_the_series():
    metrics = Metrics()
    for i in range(100):
        metrics.answered(None, 400, 0.001)
        metrics.answered(f"made up {i}", 400, 0.001)
    labels = {
        sample.labels.get("op")
        for family in metrics.registry.collect()
        if family.name == "cybermarket_requests"
        for sample in family.samples
    }
    assert labels == {UNKNOWN}


NEW_OPS_1_2 = (
    "CLIENT_CANCEL_ORDER",
    "MERCHANT_LIST_ORDERS",
    "MERCHANT_GET_ORDER",
    "MERCHANT_SHIP_ORDER",
)


def test_the_order_ops_of_protocol_1_2_have_labels_of_their_own():
    metrics = Metrics()
    for op in NEW_OPS_1_2:
        metrics.answered(op, 200, 0.001)
        metrics.answered(op, 409, 0.001)
    counted = {
        (sample.labels["op"], sample.labels["status"]): sample.value
        for family in metrics.registry.collect()
        if family.name == "cybermarket_requests"
        for sample in family.samples
        if sample.name == "cybermarket_requests_total"
    }
    for op in NEW_OPS_1_2:
        assert counted[op, "200"] == counted[op, "409"] == 1
    assert (UNKNOWN, "200") not in counted


# --- /readyz follows PostgreSQL --------------------------------------------------------


@pytest.mark.database
@pytest.mark.outage
def test_readyz_follows_postgresql_down_and_up(launch, outage_database_url):
    port = free_port()
    server = launch(outage_database_url, *FAST, "--metrics", f"tcp:{port}:interface={HOST}").server
    try:
        assert get(port, "/readyz")[0] == 200
        stopped = pg_ctl("stop -m fast")
        assert stopped.returncode == 0, stopped.stderr
        try:
            wait_until(lambda: get(port, "/readyz")[0] == 503, 30, what="/readyz 503")
            assert get(port, "/healthz")[0] == 200  # the process itself is fine
        finally:
            started = pg_ctl("start")
        assert started.returncode == 0, started.stderr
        wait_until(lambda: get(port, "/readyz")[0] == 200, 60, what="/readyz 200 again")
        with Client(server.port, HOST) as conn:
            assert conn.call("CLIENT_LOGIN", login="x", password=PASSWORD)["status"] == 401
    finally:
        if pg_ctl("status").returncode != 0:
            pg_ctl("start")
        server.kill()


def test_the_dashboard_and_docs_name_only_metrics_the_server_exports():
    import json
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    from types import SimpleNamespace

    metrics = Metrics()
    metrics.watch(
        SimpleNamespace(
            db=SimpleNamespace(jobs=SimpleNamespace(depth=lambda: 0)),
            hasher=SimpleNamespace(waiting=lambda: 0),
            searches=SimpleNamespace(waiting=lambda: 0),
        )
    )
    exported = set()
    for family in metrics.registry.collect():
        exported |= {sample.name for sample in family.samples} | {family.name}
    # The histograms' and counters' series exist once something is counted.
    exported |= {f"{name}_{end}" for name in exported for end in ("bucket", "count", "sum")}
    exported |= {f"{name}_total" for name in exported}
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    named = set(re.findall(r"\bcybermarket_[a-z_]+", exprs))
    named |= set(re.findall(r"\bcybermarket_[a-z_]+", (docs / "operations.md").read_text()))
    assert named and named <= exported, sorted(named - exported)


def test_options_metrics_and_log_format():
    from twisted.python import usage

    from cybermarket.server.options import Options

    options = Options()
    options.parseOptions(["--metrics=tcp:9464:interface=127.0.0.1", "--access-log"])
    assert options["metrics"] == "tcp:9464:interface=127.0.0.1" and options["access-log"]
    assert options["log-format"] == "text"
    for bad in (["--metrics=9464"], ["--log-format=xml"]):
        with pytest.raises(usage.UsageError):
            Options().parseOptions(bad)
    # The other options' checks still hold beside these.
    both = Options()
    both.parseOptions(
        ["--web=tcp:8080", "--web-origin=https://shop.example.com", "--metrics=tcp:1"]
    )
    assert both["web-origins"] == ["https://shop.example.com"]
    with pytest.raises(usage.UsageError, match="--web-origin needs --web"):
        Options().parseOptions(["--web-origin=https://shop.example.com", "--metrics=tcp:1"])


def test_counts_kept_per_thread_export_as_prometheus_histograms():
    """Requests and transactions are counted in plain numbers (each thread
    its own) and exported as prometheus_client would: cumulative buckets
    with `le` inclusive, _count, _sum; the threads' parts summed."""
    import threading

    from prometheus_client import generate_latest

    metrics = Metrics()
    for seconds in (0.001, 0.0011, 0.3, 20.0):  # 0.001 is in le="0.001"
        metrics.answered("PING", 200, seconds)
    metrics.answered("PING", 503, 0.0001)
    metrics.opened("tcp")
    metrics.opened("websocket")
    metrics.closed("tcp")
    timed = metrics.timed_transaction("client login", lambda: None)
    workers = [threading.Thread(target=lambda: [timed() for _ in range(500)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    timed()  # and one more on this thread

    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
    }
    assert value(samples, "cybermarket_requests_total", op="PING", status="200") == 4
    assert value(samples, "cybermarket_requests_total", op="PING", status="503") == 1
    bucket = "cybermarket_request_duration_seconds_bucket"
    assert value(samples, bucket, op="PING", le="0.0005") == 1
    assert value(samples, bucket, op="PING", le="0.001") == 2
    assert value(samples, bucket, op="PING", le="0.0025") == 3
    assert value(samples, bucket, op="PING", le="0.5") == 4
    assert value(samples, bucket, op="PING", le="10.0") == 4
    assert value(samples, bucket, op="PING", le="+Inf") == 5
    assert value(samples, "cybermarket_request_duration_seconds_count", op="PING") == 5
    assert value(samples, "cybermarket_request_duration_seconds_sum", op="PING") == pytest.approx(
        0.001 + 0.0011 + 0.3 + 20.0 + 0.0001
    )
    database = "cybermarket_database_duration_seconds"
    assert value(samples, f"{database}_count", op="client login") == 2001
    assert value(samples, f"{database}_bucket", op="client login", le="+Inf") == 2001
    assert value(samples, "cybermarket_connections", transport="tcp") == 0
    assert value(samples, "cybermarket_connections", transport="websocket") == 1
    # Ops never answered export no series.
    assert not any(labels and ("op", "LIST_PRODUCT") in labels for _, labels in samples)


@pytest.mark.backend_free("the network layer")
def test_metrics_count_open_http_connections_and_their_upgrades(launch, migrated_url):
    """An HTTP connection to --web holds a place in the caps, so the gauge
    of open connections shows it (transport http) until it closes or
    becomes a WebSocket (then transport websocket)."""
    from tests.wsclient import WSClient

    port = free_port()
    live = launch(migrated_url, *FAST, "--metrics", f"tcp:{port}:interface={HOST}", web=True)
    web_port = live.server.web_port

    def shown(transport):
        # The scrape's own connection to --metrics counts too (it is in
        # the caps): not shown here.
        scraping = 1 if transport == "http" else 0
        return value(scrape(port), "cybermarket_connections", transport=transport) - scraping

    def until(transport, count):
        wait_until(lambda: shown(transport) == count, 10, what=f"{count} {transport}")

    until("http", 0)  # the launcher's own check of the port has closed
    idle = [socket.create_connection((HOST, web_port), timeout=10) for _ in range(2)]
    until("http", 2)
    kept = socket.create_connection((HOST, web_port), timeout=10)
    kept.sendall(f"GET /style.css HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    assert kept.recv(100).startswith(b"HTTP/1.1 ")  # answered, and kept alive
    until("http", 3)
    for conn in idle:
        conn.close()
    kept.close()
    until("http", 0)
    ws = WSClient(web_port, HOST)
    try:
        assert ws.call("PING")["status"] == 200
        assert (shown("http"), shown("websocket")) == (0, 1)
    finally:
        ws.close()
    until("websocket", 0)
