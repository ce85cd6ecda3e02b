"""The running server: database and hashing pools, the listening endpoint,
and an orderly shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, NoReturn

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from cybermarket.instruments import NOTHING
from cybermarket.server import limits, logs, pages
from cybermarket.server.context import App, Settings
from cybermarket.server.handlers import accounts
from cybermarket.server.options import DEFAULT_BACKLOG, reuse_port_listen, with_backlog
from cybermarket.server.passwords import Hasher
from cybermarket.server.photos import PhotoPool
from cybermarket.server.protocol import MarketFactory
from cybermarket.server.searches import Searches
from cybermarket.server.throttle import Throttle
from cybermarket.storage import database

log = Logger()

SHUTDOWN_GRACE = 30.0  # seconds to finish requests already read
SESSION_SWEEP = 600.0  # seconds between sweeps of expired and revoked tokens
CLOSE_GRACE = 5.0  # seconds for the last answers to reach slow readers

# sys.excepthook's kind.
ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]
# The reactor: its clock, its threads and its endpoints (Any: the
# interfaces it provides cannot be named as one type).
Reactor = Any
# The command line's options (options.Options, a dict), by name.
Options = Mapping[str, Any]


class StartError(Exception):
    """The server cannot start, for a reason its message gives in full.

    twistd lets an exception from starting the service end the process as
    an uncaught exception, after it has removed its pid file and told a
    daemon's parent; Python would then print the traceback (some forty
    lines) where one line is the whole story.  raise_start_error() makes
    Python print just the message for this class."""


def _print_start_errors(previous: ExceptHook) -> ExceptHook:
    def hook(
        kind: type[BaseException], value: BaseException, traceback: TracebackType | None
    ) -> None:
        if isinstance(value, StartError):
            print(value, file=sys.stderr)
        else:
            previous(kind, value, traceback)

    hook.prints_start_errors = True  # type: ignore[attr-defined]  # a mark, read by getattr
    return hook


def raise_start_error(message: str) -> NoReturn:
    if not getattr(sys.excepthook, "prints_start_errors", False):
        sys.excepthook = _print_start_errors(sys.excepthook)
    raise StartError(message)


def listen_failure(error: BaseException) -> str | None:
    """Why listening failed, as the socket error says it ("address already
    in use"), or None when `error` is not about listening."""
    if isinstance(error, CannotListenError):
        error = error.socketError
    if isinstance(error, OverflowError):
        return str(error)  # a port past 65535: "bind(): port must be 0-65535"
    if not isinstance(error, OSError):
        return None
    reason = error.strerror or str(error) or type(error).__name__
    return reason[:1].lower() + reason[1:]


class MarketService(MultiService):
    def __init__(
        self,
        app: App,
        listen: str,
        reactor: Reactor,
        reuse_port: bool = False,
        web: str | None = None,
        web_origins: Iterable[str] = (),
        metrics: str | None = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        MultiService.__init__(self)
        self.app = app
        self.reactor = reactor
        self.factory = MarketFactory(app)
        self.listen = listen  # as given, for messages
        if reuse_port:
            listen = reuse_port_listen(listen)
        # Twisted parses the description; `reuseport:` is our plugin's
        # (twisted/plugins/cybermarket_reuseport.py).
        self.endpoint = serverFromString(reactor, with_backlog(listen, backlog))
        self.port: IListeningPort | None = None  # the listening port, while there is one
        # The endpoint's Deferred, until it fires.
        self._listening: defer.Deferred[IListeningPort] | None = None
        # The web endpoint (--web): static pages and WebSocket, connections
        # made by the same factory, so counted in the same caps.
        if web and reuse_port and web.partition(":")[0] in ("tcp", "reuseport"):
            web = reuse_port_listen(web)  # every process serves the pages too
        self.web = web
        self.web_origins = list(web_origins)
        self.web_endpoint = serverFromString(reactor, with_backlog(web, backlog)) if web else None
        self.web_port: IListeningPort | None = None
        TimerService(60, app.throttle.sweep).setServiceParent(self)
        # --metrics: a child service, so it listens until the shutdown has
        # drained the requests (/readyz says 503 meanwhile).
        if metrics and app.metrics is not None:
            from cybermarket.server.health import metrics_service

            metrics = with_backlog(metrics, backlog)
            metrics_service(reactor, metrics, app, self.factory).setServiceParent(self)
        TimerService(SESSION_SWEEP, accounts.sweep_sessions, app).setServiceParent(self)

    def _start_listening(self) -> None:
        """Listen on the endpoint.  A failure (a port already taken) is
        raised from here, so that the start fails with it, rather than
        logged while a server that is not listening runs on.  Every
        endpoint this server is used with answers at once; should one
        answer later, its failure can only be logged."""
        failures: list[Failure] = []

        def listening(port: IListeningPort) -> None:
            self._listening = None
            self.port = port

        def failed(failure: Failure) -> None:
            self._listening = None
            if starting:
                failures.append(failure)
            elif not failure.check(defer.CancelledError):  # not stopped meanwhile
                log.failure("cannot listen on {listen}", failure, listen=self.listen)

        starting = True
        self._listening = self.endpoint.listen(self.factory)
        self._listening.addCallbacks(listening, failed)
        starting = False
        if failures:
            failures[0].raiseException()

    def _start_web(self) -> None:
        """Listen on --web, as _start_listening does on --listen."""
        from cybermarket.server.httpchannel import is_proxied
        from cybermarket.server.web import make_site

        failures: list[Failure] = []
        assert self.web_endpoint is not None and self.web  # only called with --web
        site = make_site(self.factory, self.web_origins, proxied=is_proxied(self.web))
        d = self.web_endpoint.listen(site)

        def listening(port: IListeningPort) -> None:
            self.web_port = port

        d.addCallbacks(listening, failures.append)
        if failures:
            failures[0].raiseException()

    def _stop_listening(self) -> defer.Deferred[list[object]]:
        if self._listening is not None:
            self._listening.cancel()
        ports = [p for p in (self.port, self.web_port) if p is not None]
        self.port = self.web_port = None
        return defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in ports])

    @defer.inlineCallbacks
    def _within(
        self, seconds: float, d: defer.Deferred[None]
    ) -> Generator[defer.Deferred[None], object, bool]:
        """True if d fires within `seconds`, else False (d is cancelled)."""
        timer = self.reactor.callLater(seconds, d.cancel)
        try:
            yield d
        except defer.CancelledError:
            return False
        timer.cancel()
        return True

    def startService(self) -> None:
        settings = self.app.settings
        if settings.max_connections is None:
            settings.max_connections = limits.connection_cap(limits.raise_descriptor_limit())
        log.info(
            "connections: at most {total}, {per} per address",
            total=settings.max_connections,
            per=settings.max_connections_per_address,
        )
        self.app.db.start()
        self.app.hasher.start()
        self.app.searches.start()
        if self.app.photos is not None:
            self.app.photos.start()
        listen: str | None = self.listen  # the endpoint being started, for the error
        try:
            MultiService.startService(self)
            self._start_listening()
            if self.web_endpoint is not None:
                listen = self.web
                self._start_web()
        except BaseException as e:
            # A port already taken: stop the pools' threads, or the process
            # would never exit.
            self.app.searches.stop()
            if self.app.photos is not None:
                self.app.photos.stop()
            self.app.hasher.stop()
            self.app.db.stop()
            reason = listen_failure(e)
            if reason is None:
                raise
            if self.port is not None:
                self.port.stopListening()
            raise_start_error(f"cannot listen on {listen}: {reason}")
        log.info("cybermarket serving on {listen}", listen=self.listen)
        if self.web_endpoint is not None:
            log.info("cybermarket web pages and WebSocket on {web}", web=self.web)

    @defer.inlineCallbacks
    def stopService(self) -> Generator[defer.Deferred[Any], Any, None]:
        # Stop accepting, answer what was read (503 for anything later),
        # then close the connections and stop the pools.
        yield self._stop_listening()
        if not (yield self._within(SHUTDOWN_GRACE, self.factory.begin_shutdown())):
            log.warn("shutdown: requests still running after {s} s", s=SHUTDOWN_GRACE)
        # Close gently and wait, so that the last answers are written out
        # before the reactor drops every socket; abort what will not close.
        for connection in list(self.factory.connections):
            connection.close()
        if not (yield self._within(CLOSE_GRACE, self.factory.all_closed())):
            for connection in list(self.factory.connections):
                connection.abort()
        yield MultiService.stopService(self)
        self.app.searches.stop()
        if self.app.photos is not None:
            self.app.photos.stop()
        self.app.hasher.stop()
        self.app.db.stop()


def make_app(options: Options, reactor: Reactor) -> App:
    metrics = None
    if options.get("metrics"):
        from cybermarket.server.metrics import Metrics

        metrics = Metrics()
    db = database.Database(
        options["database"],
        options["db-threads"],
        reactor,
        options["sqlite-synchronous"],
        connection_cache=pages.shared(
            options["page-cache"], metrics.page_cache if metrics else None
        ),
        instruments=metrics or NOTHING,
    )
    settings = Settings(
        max_frame=options["max-frame"],
        idle_timeout=options["idle-timeout"],
        http_idle_timeout=options["http-idle-timeout"],
        frame_timeout=options["frame-timeout"],
        connection_buffer=options["connection-buffer"],
        max_connections=options["max-connections"],
        max_connections_per_address=options["max-connections-per-address"],
        proxied=options["listen"].strip().lower().startswith("haproxy:"),
        login_failures=options["login-failures"],
        login_failures_per_address=options["login-failures-per-address"],
        login_window=options["login-window"],
        invitation_days=options["invitation-days"],
        page_bytes=options["max-page-bytes"],
        session_days=options["session-days"],
        accept_language_ranges=options["accept-language-ranges"],
        tracebacks_per_second=options["tracebacks-per-second"],
        photo_max_bytes=options["photo-max-bytes"],
        photo_min_rate=options["photo-min-rate"],
        photo_cache_bytes=options["photo-cache-bytes"],
        photo_cache_seconds=options["photo-cache-seconds"],
    )
    app = App(
        db=db,
        hasher=Hasher(
            options["hash-threads"],
            reactor,
            per_address=options["hash-threads-per-address"],
            queue=options["hash-queue"],
            queue_per_address=options["hash-queue-per-address"],
            instruments=metrics or NOTHING,
        ),
        throttle=Throttle(
            db,
            reactor,
            settings.login_failures,
            settings.login_window,
            settings.login_failures_per_address,
        ),
        photos=PhotoPool(
            options["photo-threads"],
            reactor,
            per_address=options["photo-threads-per-address"],
            queue=options["photo-queue"],
            queue_per_address=options["photo-queue-per-address"],
        ),
        clock=reactor,
        # Threads and connections of their own (searches.py).
        searches=Searches(
            database.Database(
                options["database"],
                options["search-threads"],
                reactor,
                options["sqlite-synchronous"],
                instruments=metrics or NOTHING,
            ),
            reactor,
            per_address=options["search-threads-per-address"],
            queue=options["search-queue"],
            queue_per_address=options["search-queue-per-address"],
        ),
        settings=settings,
        answered=logs.answered_hook(metrics, bool(options.get("access-log"))),
        metrics=metrics,
    )
    if metrics is not None:
        metrics.watch(app)  # its queue depths, read at each scrape
    return app


def make_service(options: Options, reactor: Reactor = None) -> MarketService:
    if reactor is None:
        from twisted.internet import reactor
    # Before the reactor runs and before twistd forks: a database that
    # cannot be brought up to date stops the start with a clear error.
    database.upgrade(options["database"])
    return MarketService(
        make_app(options, reactor),
        options["listen"],
        reactor,
        options["reuse-port"],
        web=options.get("web"),
        web_origins=options.get("web-origins", ()),
        metrics=options.get("metrics"),
        backlog=options.get("listen-backlog", DEFAULT_BACKLOG),
    )
