"""The --metrics endpoint: /metrics for Prometheus, /healthz and /readyz for
load balancers and supervisors.

/healthz answers 200 while the process runs.  /readyz answers 200 when the
database answers a query and its schema is at the revision this code needs,
and 503 otherwise, and from the moment shutdown begins, so that a balancer
stops sending before the listening socket closes.  The check runs on the
database's own threads like any request, never on the reactor thread; one
check at a time, however many probes arrive, and a check that takes longer
than READY_TIMEOUT counts as not ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client.twisted import MetricsResource
from twisted.internet import defer
from twisted.web import server
from twisted.web.resource import Resource

from cybermarket.server.httpchannel import MarketSite, is_proxied
from cybermarket.storage.database import head_revision
from cybermarket.storage.health import schema_revision_txn

if TYPE_CHECKING:
    from cybermarket.server.context import App
    from cybermarket.server.metrics import Metrics
    from cybermarket.server.protocol import MarketFactory

READY_TIMEOUT = 3.0  # seconds; a balancer's check usually allows a few


class Healthz(Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader("content-type", "text/plain; charset=utf-8")
        return b"ok\n"


class Readyz(Resource):
    isLeaf = True

    def __init__(self, app: App, factory: MarketFactory) -> None:
        super().__init__()
        self.app = app
        self.factory = factory
        # Read once: the migrations in the installed package do not change.
        self.head = head_revision(app.db.url)
        self._waiting: list[defer.Deferred[str]] | None = None  # probes awaiting the check

    def ready(self) -> defer.Deferred[str]:
        """Fires with "" when ready, else with why not."""
        if self.factory.stopping:
            return defer.succeed("shutting down")
        answer: defer.Deferred[str] = defer.Deferred()
        if self._waiting is not None:
            self._waiting.append(answer)  # the check running answers it too
            return answer
        self._waiting = [answer]
        d = self.app.db.run("readiness check", schema_revision_txn, write=False)
        why: defer.Deferred[str] = d.addCallbacks(
            self._revision, lambda f: f"database: {f.getErrorMessage()}"
        )
        why.addTimeout(READY_TIMEOUT, self.app.clock, lambda *_: "database: no answer in time")
        why.addCallback(self._tell)
        return answer

    def _tell(self, why: str) -> None:
        waiting, self._waiting = self._waiting or [], None
        for d in waiting:
            d.callback(why)

    def _revision(self, revision: str | None) -> str:
        if revision != self.head:
            return f"schema at revision {revision}, this server needs {self.head}"
        return ""

    def render_GET(self, request: server.Request) -> Any:
        def answer(why: str) -> None:
            if request.finished or getattr(request, "_disconnected", False):
                return
            request.setHeader("content-type", "text/plain; charset=utf-8")
            if why:
                request.setResponseCode(503)
                request.write(f"not ready: {why}\n".encode())
            else:
                request.write(b"ready\n")
            request.finish()

        self.ready().addCallback(answer)
        return server.NOT_DONE_YET


class QuietSite(MarketSite):
    """A site that does not log each request: a balancer probes every few
    seconds and Prometheus scrapes as often.  Its connections count in the
    caps, as the protocol's do."""

    noisy = False

    def log(self, request: Any) -> None:
        pass


def make_site(
    app: App, factory: MarketFactory, metrics: Metrics, proxied: bool = False
) -> server.Site:
    root = Resource()
    root.putChild(b"metrics", MetricsResource(registry=metrics.registry))
    root.putChild(b"healthz", Healthz())
    root.putChild(b"readyz", Readyz(app, factory))
    site = QuietSite(root, factory, proxied)
    site.displayTracebacks = False
    return site


def metrics_service(reactor: Any, listen: str, app: App, factory: MarketFactory) -> Any:
    """The service listening on `listen` (--metrics); counts the
    factory's refusals too."""
    from twisted.application.internet import StreamServerEndpointService
    from twisted.internet.endpoints import serverFromString

    assert app.metrics is not None  # only made with --metrics
    for reason, bite in factory.bites.items():
        bite.count = app.metrics.refusal(reason)
    service = StreamServerEndpointService(
        serverFromString(reactor, listen),
        make_site(app, factory, app.metrics, proxied=is_proxied(listen)),
    )
    # A port already taken stops the start, as --listen's does.
    service._raiseSynchronously = True
    return service
