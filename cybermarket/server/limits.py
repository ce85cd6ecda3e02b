"""What one peer may take of the server: connection caps, the file
descriptor limit they are derived from, and logging a limit when it bites
without letting a flood of refusals flood the log too; and the tracebacks
of unexpected failures, bounded per second for the same reason."""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, formatEvent
from twisted.python.failure import Failure

log = Logger()

# Descriptors kept back from connections when --max-connections is derived
# from the limit: the listening sockets, the database's connections and
# files (SQLite's database, WAL and shared memory), logs, the hashing and
# database threads' wake-up pipes, with room to spare.
RESERVED_DESCRIPTORS = 64
# A hard limit of "unlimited" is not a number the soft limit can take.
MOST_DESCRIPTORS = 1 << 20
# Seconds between two log lines about the same limit.
LOG_EVERY = 10.0


def raise_descriptor_limit(
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
    setrlimit: Callable[[int, tuple[int, int]], None] = resource.setrlimit,
) -> int:
    """Raise the soft limit on open files to the hard one, as far as the
    system allows; the soft limit now in force."""
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    target = MOST_DESCRIPTORS if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as e:
            log.warn("cannot raise the open-file limit from {soft}: {error}", soft=soft, error=e)
            return soft
        return target
    return min(soft, target) if soft != resource.RLIM_INFINITY else target


def connection_cap(descriptors: int) -> int:
    """The default --max-connections for a descriptor limit."""
    return max(1, descriptors - RESERVED_DESCRIPTORS)


class Bite:
    """Logs that a limit refused something: the first time at once, then at
    most once per LOG_EVERY seconds with the count refused meanwhile.  A
    count left over when the refusals stop is logged LOG_EVERY seconds
    after the last line, so no refusal goes unreported."""

    def __init__(self, clock: IReactorTime, reason: str, text: str) -> None:
        self.clock = clock
        self.reason = reason
        self.text = text  # a twisted.logger format, given the event's fields
        self._last: float | None = None
        self._unlogged = 0
        # The last refusal's fields: an address, a count, what failed.
        self._fields: dict[str, object] = {}
        self._flush: IDelayedCall | None = None
        # Called once per refusal, logged or not (--metrics counts them).
        self.count: Callable[[], object] | None = None
        # Security events carry `security`, a fixed name, in their fields.
        self.security: str | None = None

    def __call__(self, **fields: object) -> None:
        if self.count is not None:
            self.count()
        self._unlogged += 1
        self._fields = fields
        now = self.clock.seconds()
        if self._last is not None and now - self._last < LOG_EVERY:
            if self._flush is None:
                self._flush = self.clock.callLater(self._last + LOG_EVERY - now, self._report)
            return
        self._report()

    def _report(self) -> None:
        if self._flush is not None and self._flush.active():
            self._flush.cancel()
        self._flush = None
        if not self._unlogged:
            return
        extra = {} if self.security is None else {"security": self.security}
        log.warn(self.text, reason=self.reason, count=self._unlogged, **extra, **self._fields)
        self._last = self.clock.seconds()
        self._unlogged = 0


class Tracebacks:
    """Logs unexpected failures with their tracebacks, at most `per_second`
    in any one second of the clock; the failures beyond that are counted
    and reported through a Bite (what failed, never the error's text), so
    that a request a client can make fail, sent in a loop, cannot write the
    log as fast as it can send.  `log` is the Logger of the code that
    failed, so that its lines keep their namespace."""

    def __init__(self, clock: IReactorTime, per_second: int, logger: Logger) -> None:
        self.clock = clock
        self.per_second = per_second
        self.log = logger
        self._second: int | None = None
        self._written = 0
        self.left_out = Bite(
            clock,
            "tracebacks-per-second",
            "left out the tracebacks of {count} failures beyond --tracebacks-per-second"
            " since the last report; the last: {what} ({error})",
        )

    # Any, not object: log.failure takes its own `level` among the keywords.
    def __call__(self, failure: Failure, text: str, **fields: Any) -> None:
        """log.failure(text, failure, **fields), within the bound."""
        second = int(self.clock.seconds())
        if second != self._second:
            self._second, self._written = second, 0
        if self._written < self.per_second:
            self._written += 1
            self.log.failure(text, failure=failure, **fields)
            return
        # `text` filled in with its fields (op names, request ids, a path
        # cut short) says what failed; formatEvent never raises.
        what = formatEvent({"log_format": text, **fields})
        self.left_out(what=what, error=type(failure.value).__name__)
