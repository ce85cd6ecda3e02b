"""The running server: database and hashing pools, the listening endpoint,
and an orderly shutdown."""

from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger

from cybermarket import database, limits
from cybermarket.context import App, Settings
from cybermarket.passwords import Hasher
from cybermarket.protocol import MarketFactory
from cybermarket.reuseport import ReusePortEndpoint
from cybermarket.throttle import Throttle

log = Logger()

SHUTDOWN_GRACE = 30.0  # seconds to finish requests already read
CLOSE_GRACE = 5.0  # seconds for the last answers to reach slow readers


class MarketService(MultiService):
    def __init__(self, app, listen, reactor, reuse_port=False):
        super().__init__()
        self.app = app
        self.reactor = reactor
        self.factory = MarketFactory(app)
        self.listen = listen
        if reuse_port:
            endpoint = ReusePortEndpoint(reactor, listen)
        else:
            endpoint = serverFromString(reactor, listen)
        self.listener = StreamServerEndpointService(endpoint, self.factory)
        # A port already taken is an error at start, not a log line.
        self.listener._raiseSynchronously = True
        TimerService(60, app.throttle.sweep).setServiceParent(self)

    @defer.inlineCallbacks
    def _within(self, seconds, d):
        """True if d fires within `seconds`, else False (d is cancelled)."""
        timer = self.reactor.callLater(seconds, d.cancel)
        try:
            yield d
        except defer.CancelledError:
            return False
        timer.cancel()
        return True

    def startService(self):
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
        try:
            super().startService()
            self.listener.startService()
        except BaseException:
            # A port already taken: stop the pools' threads, or the process
            # would never exit.
            self.app.hasher.stop()
            self.app.db.stop()
            raise
        log.info("cybermarket serving on {listen}", listen=self.listen)

    @defer.inlineCallbacks
    def stopService(self):
        # Stop accepting, answer what was read (503 for anything later),
        # then close the connections and stop the pools.
        yield defer.maybeDeferred(self.listener.stopService)
        if not (yield self._within(SHUTDOWN_GRACE, self.factory.begin_shutdown())):
            log.warn("shutdown: requests still running after {s} s", s=SHUTDOWN_GRACE)
        # Close gently and wait, so that the last answers are written out
        # before the reactor drops every socket; abort what will not close.
        for protocol in list(self.factory.connections):
            protocol.transport.loseConnection()
        if not (yield self._within(CLOSE_GRACE, self.factory.all_closed())):
            for protocol in list(self.factory.connections):
                protocol.transport.abortConnection()
        yield super().stopService()
        self.app.hasher.stop()
        self.app.db.stop()


def make_app(options, reactor):
    db = database.Database(
        options["database"],
        options["db-threads"],
        reactor,
        options["sqlite-synchronous"],
        page_cache=options["page-cache"],
    )
    settings = Settings(
        max_frame=options["max-frame"],
        idle_timeout=options["idle-timeout"],
        frame_timeout=options["frame-timeout"],
        connection_buffer=options["connection-buffer"],
        max_connections=options["max-connections"],
        max_connections_per_address=options["max-connections-per-address"],
        login_failures=options["login-failures"],
        login_window=options["login-window"],
        invitation_days=options["invitation-days"],
    )
    return App(
        db=db,
        hasher=Hasher(
            options["hash-threads"],
            reactor,
            per_address=options["hash-threads-per-address"],
            queue=options["hash-queue"],
            queue_per_address=options["hash-queue-per-address"],
        ),
        throttle=Throttle(db, reactor, settings.login_failures, settings.login_window),
        clock=reactor,
        settings=settings,
    )


def make_service(options, reactor=None):
    if reactor is None:
        from twisted.internet import reactor
    # Before the reactor runs and before twistd forks: a database that
    # cannot be brought up to date stops the start with a clear error.
    database.upgrade(options["database"])
    return MarketService(
        make_app(options, reactor), options["listen"], reactor, options["reuse-port"]
    )
