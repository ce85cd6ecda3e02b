"""What a handler is given besides its arguments."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime

    from cybermarket.server.metrics import Metrics
    from cybermarket.server.passwords import Hasher
    from cybermarket.server.photos import PhotoPool
    from cybermarket.server.searches import Searches
    from cybermarket.server.throttle import Throttle
    from cybermarket.storage.database import Database


@dataclass(frozen=True)
class Session:
    """A connection's login: role "client" or "merchant", and the account id.
    The id, not the name, so that renames on other connections cannot
    confuse it."""

    role: str
    account_id: int
    # SHA-256 of the connection's current session token (protocol 1.1): the
    # one its login returned, it resumed with, or its password change
    # returned.  LOGOUT revokes it.
    token_hash: str | None = None


@dataclass
class Settings:
    max_frame: int = 65536
    idle_timeout: float = 900.0
    # Seconds from a frame's first byte to its last: a client dribbling a
    # frame cannot hold a connection for the whole idle timeout.
    frame_timeout: float = 30.0
    # Seconds an HTTP connection (--web, --metrics) may stay idle between
    # requests (at most idle_timeout); a request of its own must be whole
    # within frame_timeout.
    http_idle_timeout: float = 60.0
    # Bytes of request bodies one connection may have waiting; reading
    # pauses beyond it (and at HIGH_WATER requests, whichever comes first).
    connection_buffer: int = 4 * 65536
    # None: derived from the open-file limit (limits.connection_cap).
    max_connections: int | None = None
    max_connections_per_address: int = 256
    # Listening behind a balancer that sends the PROXY protocol (haproxy:):
    # clients' addresses come from its header.
    proxied: bool = False
    login_failures: int = 10
    login_failures_per_address: int = 100
    login_window: float = 300.0
    invitation_days: float = 7.0
    # Bytes of text one page of a listing may hold (--max-page-bytes): the
    # paged handlers are given it.
    page_bytes: int = 1 << 20
    # Days a session token stays good without use (RESUME renews it).
    session_days: float = 30.0
    # The ranges of a WebSocket upgrade's Accept-Language that are read
    # (i18n.from_accept_language); the rest of the header is not parsed.
    accept_language_ranges: int = 32
    # Tracebacks of unexpected failures logged in any one second; beyond
    # it they are counted (limits.Tracebacks).
    tracebacks_per_second: int = 10
    # Product photos (protocol 1.3; server/photos.py): the most bytes of an
    # upload (413 beyond, before the body is read); the least rate, in
    # bytes a second, at which an upload's body must arrive after the
    # first --frame-timeout seconds; the hot thumbnails kept in memory, in
    # bytes in all, and for how many seconds at most.
    photo_max_bytes: int = 8 * 1024 * 1024
    photo_min_rate: int = 8192
    photo_cache_bytes: int = 16 * 1024 * 1024


@dataclass
class App:
    """The server's shared parts, built once by the service."""

    db: "Database"
    hasher: "Hasher"
    throttle: "Throttle"
    clock: "IReactorTime"  # the reactor; a task.Clock in tests
    # SEARCH_PRODUCT's own database threads (searches.py).
    searches: "Searches"
    settings: Settings = field(default_factory=Settings)
    # Decodes uploaded photos on threads of its own (--web only).
    photos: "PhotoPool | None" = None
    # --metrics: counted as things happen; None when off.
    metrics: "Metrics | None" = None
    # Told of every answered request (op name or None, status, seconds,
    # peer, account id or None) when --metrics or --access-log is on.
    answered: "Callable[[str | None, int, float, str | None, int | None], None] | None" = None


@dataclass
class Call:
    """One request's view of its connection.  Flows (the ops that hash
    passwords or change the login) may set `session` and `language`; the
    protocol adopts them when the op succeeds."""

    app: App
    session: Session | None
    peer: str
    # The connection's language (i18n.LANGUAGES); SET_LANGUAGE sets it.
    language: str = "en"

    @property
    def me(self) -> int | None:
        return self.session.account_id if self.session else None
