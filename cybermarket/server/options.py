"""Command-line options of `twistd cybermarket`.

Kept free of heavy imports: twistd imports this through the plugin just to
parse the command line, and an import error here would show as "Unknown
command".
"""

import math
import os
import re
import sys

from twisted.python import usage

from cybermarket.server.origins import origin_of
from cybermarket.storage.urls import DEFAULT_DATABASE, database_url

DEFAULT_LISTEN = "tcp:22333:interface=127.0.0.1"


def _positive(kind):
    def convert(text):
        value = kind(text)
        if value <= 0:
            raise ValueError(f"must be positive, not {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


# Session tokens' lifetime: up to a century, which keeps every time the
# sessions table compares within its 64-bit milliseconds.
MAX_SESSION_DAYS = 36500


def _session_days(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and 0 < value <= MAX_SESSION_DAYS):
        raise ValueError(f"must be more than 0 and at most {MAX_SESSION_DAYS}, not {text}")
    return value


def _not_negative(text):
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, not {text}")
    return value


def _not_negative_float(text):
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be 0 or more, not {text}")
    return value


def _listen_example(text):
    """A tcp: description for what `text` seems to mean: a bare port, or
    HOST:PORT."""
    port, interface = "22333", "127.0.0.1"
    if re.fullmatch(r"[0-9]+", text):
        port = text
    elif found := re.fullmatch(r"([0-9.]+|localhost):([0-9]+)", text):
        interface, port = found.groups()
    return f"tcp:{port}:interface={interface}"


def check_listen(description, option="--listen"):
    """UsageError unless `description` is a server endpoint description
    Twisted can make an endpoint of.  The endpoint is made and dropped: no
    reactor is needed until it listens, and a stand-in keeps this from
    importing (and so installing) the default reactor before twistd has
    installed the one it was asked for."""
    from twisted.internet.endpoints import serverFromString

    try:
        serverFromString(None, description)
    except Exception as e:  # ValueError, TypeError, OSError: all mean the same here
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise usage.UsageError(
            f"{option}: {description!r} is not an endpoint description ({reason}); "
            f"for TCP write tcp:PORT:interface=ADDR, such as {_listen_example(description)}"
        ) from None


def reuse_port_listen(description: str) -> str:
    """The reuseport: description (cybermarket/server/reuseport.py) for a
    tcp: one, which --reuse-port asks for; ValueError for any other kind of
    endpoint.  A reuseport: description stays as it is."""
    kind, colon, rest = description.partition(":")
    if not colon or kind not in ("tcp", "reuseport"):
        raise ValueError("--reuse-port needs a tcp: endpoint, such as tcp:22333")
    return f"reuseport:{rest}"


# Connections the kernel may hold, handshake done, for the server to accept.
# Twisted's default is 50: a burst of connections (a flood, or many people
# at once) overflows it while the reactor is busy, and the kernel then drops
# handshakes, so a burst never reaches the connection caps, where it would
# be refused and logged, and honest clients in it wait out a retransmission.
# Linux clamps the number to net.core.somaxconn (4096 by default since 5.4).
DEFAULT_BACKLOG = 1024
# The endpoint kinds that take a backlog (tcp:, ssl: and our reuseport:).
BACKLOG_KINDS = ("tcp", "tcp6", "ssl", "reuseport")


def with_backlog(description: str, backlog: int) -> str:
    """`description` with `backlog=BACKLOG` added when it is an endpoint
    kind that takes one and names none itself (the operator's own wins)."""
    kind, _, rest = description.partition(":")
    kind = kind.strip().lower()
    if kind == "haproxy":  # haproxy:tcp:PORT: the endpoint it wraps takes it
        kind = rest.partition(":")[0].strip().lower()
    if kind not in BACKLOG_KINDS or re.search(r"(?<!\\):backlog=", description):
        return description
    return f"{description}:backlog={backlog}"


def endpoint_description(options):
    """What the server listens on: --listen, as --reuse-port wants it."""
    if options["reuse-port"]:
        return reuse_port_listen(options["listen"])
    return options["listen"]


def _choice(text, choices):
    value = text.upper()
    if value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}, not {text}")
    return value


def _log_format(text):
    if text not in ("text", "json"):
        raise ValueError(f"must be text or json, not {text}")
    return text


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Serve the cybermarket protocol (length-prefixed MessagePack over TCP). "
        "The database schema is brought to the newest revision before serving."
    )

    optFlags = [
        [
            "reuse-port",
            None,
            "Set SO_REUSEPORT on the listening socket (tcp: endpoints only), "
            "so that several server processes can listen on one port and the "
            "kernel spreads connections over them: tcp:PORT:... is served as "
            "reuseport:PORT:..., which --listen also takes.",
        ],
        [
            "access-log",
            None,
            "Log one line per request: peer, account id, op, status and "
            "duration (never the arguments).  Off by default.",
        ],
    ]

    optParameters = [
        [
            "listen-backlog",
            None,
            DEFAULT_BACKLOG,
            "Connections the kernel may queue for the server to accept, on "
            "--listen, --web and --metrics (tcp:, ssl: and reuseport: "
            "endpoints that name no backlog= of their own).  A short queue "
            "overflows in a burst, and the kernel then drops handshakes "
            "instead of letting the connection caps refuse them.",
            _positive(int),
        ],
        [
            "listen",
            "l",
            DEFAULT_LISTEN,
            "Where to listen: a Twisted server endpoint description, e.g. "
            "tcp:22333:interface=0.0.0.0, or "
            "ssl:22333:privateKey=key.pem:certKey=cert.pem for TLS, or "
            "reuseport:22333:interface=127.0.0.1 for TCP with SO_REUSEPORT.",
        ],
        [
            "web",
            None,
            None,
            "Also serve the web storefront and store console, and the protocol "
            "over WebSocket at /ws, on this endpoint: a Twisted server endpoint "
            "description such as tcp:8080:interface=127.0.0.1, or "
            "ssl:8443:privateKey=key.pem:certKey=cert.pem for HTTPS and WSS. "
            "Off unless given.",
        ],
        [
            "metrics",
            None,
            None,
            "Serve Prometheus metrics at /metrics, and /healthz and /readyz for "
            "load balancers, on this endpoint, such as tcp:9464:interface=127.0.0.1. "
            "Off unless given.  Processes sharing a port with --reuse-port each "
            "need their own --metrics port.",
        ],
        [
            "log-format",
            None,
            "text",
            "text (the default) or json: one JSON object per line, with the "
            "keys time, level, namespace and message and the event's own fields.",
            _log_format,
        ],
        [
            "database",
            "d",
            DEFAULT_DATABASE,
            "SQLAlchemy database URL: sqlite:///FILE (relative to the working "
            "directory; sqlite:////ABS/PATH for an absolute one) or "
            "postgresql+psycopg://USER:PASS@HOST/DB.",
        ],
        [
            "max-frame",
            None,
            65536,
            "Largest request frame in bytes; a larger one is answered 413 and "
            "the connection closed.",
            _positive(int),
        ],
        [
            "idle-timeout",
            None,
            900.0,
            "Seconds a connection may stay silent before the server closes it.",
            _positive(float),
        ],
        [
            "frame-timeout",
            None,
            30.0,
            "Seconds from a request frame's first byte to its last; a client "
            "slower than that is disconnected.",
            _positive(float),
        ],
        [
            "http-idle-timeout",
            None,
            60.0,
            "Seconds an HTTP connection to --web or --metrics may stay idle "
            "before its first request or between two (at most --idle-timeout); "
            "each request must arrive whole within --frame-timeout.",
            _positive(float),
        ],
        [
            "connection-buffer",
            None,
            None,
            "Bytes of requests one connection may have waiting to be handled; "
            "beyond it the server stops reading from that connection until "
            "the queue drains (default: 4 times --max-frame; at least "
            "--max-frame).",
            _positive(int),
        ],
        [
            "max-page-bytes",
            None,
            1 << 20,
            "Bytes of text one page of a listing may hold; a page of long rows "
            "ends early, with `next` set to go on.  Bounds what one answer "
            "costs in memory.",
            _positive(int),
        ],
        [
            "max-connections",
            None,
            None,
            "Most connections open at once; more are closed as they arrive "
            "(default: the open-file limit, raised to its hard limit at start, "
            "less 64 for the database, logs and listeners).",
            _positive(int),
        ],
        [
            "max-connections-per-address",
            None,
            256,
            "Most connections open at once from one IP address; more are closed as they arrive.",
            _positive(int),
        ],
        [
            "db-threads",
            None,
            None,
            "Database worker threads, one connection each "
            "(default: 1 for SQLite, 2 for PostgreSQL).",
            _positive(int),
        ],
        [
            "sqlite-synchronous",
            None,
            "FULL",
            "SQLite only: FULL (the default) syncs every commit to disk; NORMAL "
            "syncs less often in WAL mode, for faster writes, but the last "
            "commits can be lost if the machine loses power (not if only the "
            "process dies).",
            lambda text: _choice(text, ("FULL", "NORMAL")),
        ],
        [
            "page-cache",
            None,
            256,
            "Public pages (LIST_PRODUCT, LIST_MERCHANT) kept ready by the "
            "process, each served again only while its store's version has "
            "not moved; 0 turns the cache off.",
            _not_negative,
        ],
        [
            "hash-threads",
            None,
            1,
            "Threads that hash passwords (Argon2id); each hash takes a core "
            "and 64 MiB for a moment.",
            _positive(int),
        ],
        [
            "hash-threads-per-address",
            None,
            2,
            "Most hashing threads the requests of one peer address may use "
            "at once; the peer addresses waiting take turns at the others.",
            _positive(int),
        ],
        [
            "hash-queue",
            None,
            64,
            "Most password hashes waiting for a thread, from all peer "
            "addresses together; beyond it requests that need a hash get 503.",
            _positive(int),
        ],
        [
            "hash-queue-per-address",
            None,
            16,
            "Most password hashes waiting for a thread for one peer address; "
            "beyond it that address's requests that need a hash get 503.",
            _positive(int),
        ],
        [
            "search-threads",
            None,
            1,
            "Threads that run searches (SEARCH_PRODUCT), each with a database "
            "connection of its own, apart from the database threads, so that a "
            "search never waits in front of other requests.",
            _positive(int),
        ],
        [
            "search-threads-per-address",
            None,
            1,
            "Most search threads the requests of one peer address may use at "
            "once; the peer addresses waiting take turns at the others.",
            _positive(int),
        ],
        [
            "search-queue",
            None,
            64,
            "Most searches waiting for a search thread, from all peer addresses "
            "together; beyond it searches get 503.",
            _positive(int),
        ],
        [
            "search-queue-per-address",
            None,
            16,
            "Most searches waiting for a search thread for one peer address; "
            "beyond it that address's searches get 503.",
            _positive(int),
        ],
        [
            "photo-max-bytes",
            None,
            8 * 1024 * 1024,
            "Most bytes of a photo upload (PUT /photos/ on --web); a larger "
            "declared size gets 413 before its body is read.",
            _positive(int),
        ],
        [
            "photo-min-rate",
            None,
            8192,
            "Least average rate, in bytes a second, at which a photo upload's "
            "body must arrive after a grace of --frame-timeout; a slower one "
            "is cut off.",
            _positive(int),
        ],
        [
            "photo-threads",
            None,
            1,
            "Threads that decode and re-encode uploaded photos, apart from "
            "the reactor and the database's.",
            _positive(int),
        ],
        [
            "photo-threads-per-address",
            None,
            1,
            "Most photo threads the uploads of one peer address may use at "
            "once; the peer addresses waiting take turns at the others.",
            _positive(int),
        ],
        [
            "photo-queue",
            None,
            8,
            "Most photo uploads waiting for a thread, from all peer addresses "
            "together; beyond it uploads get 503.",
            _positive(int),
        ],
        [
            "photo-queue-per-address",
            None,
            2,
            "Most photo uploads waiting for a thread for one peer address; "
            "beyond it that address's uploads get 503.",
            _positive(int),
        ],
        [
            "photo-cache-bytes",
            None,
            16 * 1024 * 1024,
            "Bytes of the hottest photo thumbnails kept in memory by the process; 0 keeps none.",
            _not_negative,
        ],
        [
            "photo-cache-seconds",
            None,
            60.0,
            "Most seconds a kept thumbnail is served without asking the "
            "database (another process may have replaced the photo).",
            _not_negative_float,
        ],
        [
            "login-failures",
            None,
            10,
            "Failed logins allowed per account (or unknown login name) "
            "within --login-window before further logins for it get 429; a "
            "wrong old password in a password change counts too. Counted in "
            "the database, shared by every server process.",
            _positive(int),
        ],
        [
            "login-failures-per-address",
            None,
            100,
            "Failed logins (and failed RESUMEs) allowed per peer address, "
            "across accounts and roles, within --login-window before further "
            "logins from it get 429. Higher than --login-failures: many "
            "people may share one address. A RESUME with a valid token is "
            "never refused for its address's failures.",
            _positive(int),
        ],
        [
            "login-window",
            None,
            300.0,
            "The failed-login window, in seconds.",
            _positive(float),
        ],
        [
            "invitation-days",
            None,
            7.0,
            "Days until a merchant's invitation code expires.",
            _positive(float),
        ],
        [
            "session-days",
            None,
            30.0,
            "Days a session token (what a login answers, for RESUME on a new "
            "connection) stays good without use; each RESUME renews it.",
            _session_days,
        ],
        [
            "accept-language-ranges",
            None,
            32,
            "Language ranges of a WebSocket upgrade's Accept-Language header "
            "that are read to choose the connection's language; the rest of "
            "the header is not parsed, so a long one costs no more.",
            _positive(int),
        ],
        [
            "tracebacks-per-second",
            None,
            10,
            "Most tracebacks of unexpected failures (answered 500) logged in "
            "one second; beyond it failures are counted, and the count logged "
            "with what failed last, every 10 seconds at most.",
            _positive(int),
        ],
    ]

    def __init__(self):
        super().__init__()
        self["web-origins"] = []
        # Help from an opt_ method's docstring keeps its line breaks and
        # indentation, which --help would show as runs of spaces.
        for name, doc in self.docs.items():
            if doc:
                self.docs[name] = re.sub(r"\s*\n\s*", " ", doc.strip())

    def parseOptions(self, options=None):
        """As usage.Options parses, but a mistake on twistd's command line is
        told first, in one line, with where the help is: twistd would print
        the whole help (some 120 lines) and the mistake only after it, on
        stdout.  Parsed on their own (no parent command), the options raise
        UsageError as usual, for the caller to report."""
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if self.parent is None:
                raise
            command = f"{os.path.basename(sys.argv[0]) or 'twistd'} {self.parent.subCommand}"
            raise SystemExit(f"{command}: {e}\n`{command} --help` lists the options.") from None

    def opt_web_origin(self, origin):
        """An origin (scheme://host[:port]) whose pages may open WebSockets
        to --web, besides the server's own; repeatable."""
        if origin_of(origin) is None:
            raise usage.UsageError(
                f"--web-origin: {origin!r} is not an origin; write scheme://host[:port], "
                "such as https://shop.example.com"
            )
        self["web-origins"].append(origin)

    def postOptions(self):
        if self["connection-buffer"] is None:
            self["connection-buffer"] = 4 * self["max-frame"]
        elif self["connection-buffer"] < self["max-frame"]:
            raise usage.UsageError("--connection-buffer must be at least --max-frame")
        try:
            database_url(self["database"])
        except ValueError as e:
            raise usage.UsageError(f"--database: {e}") from None
        check_listen(self["listen"])
        if self["web"] is not None:
            check_listen(self["web"], "--web")
        elif self["web-origins"]:
            raise usage.UsageError("--web-origin needs --web")
        if self["metrics"] is not None:
            check_listen(self["metrics"], "--metrics")
        if self["log-format"] == "json":
            self._log_json()
        if self["reuse-port"]:
            try:
                listen = reuse_port_listen(self["listen"])
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
            check_listen(listen)

    def _log_json(self):
        """Make twistd log JSON lines: set its --logger (read once the
        command line is parsed) to our observer, unless one was given."""
        parent = getattr(self, "parent", None)
        if parent is None or parent.get("logger"):
            return
        from cybermarket.server import logs

        logs.TWISTD.update(logfile=parent.get("logfile"), nodaemon=parent.get("nodaemon"))
        parent["logger"] = "cybermarket.server.logs.twistd_json_observer"
