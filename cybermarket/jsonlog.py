"""The JSON lines log format (--log-format json): one event as one line of
JSON.  Shared by the server (cybermarket/server/logs.py) and the command
line (`cybermarket invite --log-format json`), so that both write the same
lines for a log shipper."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import IO, Any

from twisted.logger import ILogObserver, LogLevel, formatEvent
from zope.interface import implementer

# Every line has these keys; an event's own fields follow them.
KEYS = ("time", "level", "namespace", "message")
# Fields of twisted.python.log's events that repeat the message or the
# failure in other shapes.
LEGACY = frozenset({"message", "format", "isError", "failure"})


def _plain(value: Any) -> Any:
    """A field's value as JSON can carry it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if value in LogLevel.iterconstants():
        return value.name
    return str(value)


def json_line(event: dict[str, Any]) -> str:
    """One event as one line of JSON: time (ISO 8601, UTC), level,
    namespace, message (the text as a text log shows it), then the event's
    own fields; a failure's traceback under `traceback`."""
    when = datetime.fromtimestamp(event.get("log_time", 0.0), timezone.utc)
    level = event.get("log_level")
    line: dict[str, Any] = {
        "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": level.name if level is not None and level in LogLevel.iterconstants() else "info",
        "namespace": event.get("log_namespace", ""),
        "message": formatEvent(event),
    }
    for key, value in event.items():
        if key.startswith(("log_", "_")) or key in line or key in LEGACY:
            continue
        line[key] = _plain(value)
    failure = event.get("log_failure")
    if failure is not None:
        try:
            line["traceback"] = failure.getTraceback()
        except Exception:
            line["traceback"] = repr(failure)
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


@implementer(ILogObserver)
class JSONLines:
    """A log observer writing one JSON object per line."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: dict[str, Any]) -> None:
        self.out.write(json_line(event))
        self.out.flush()
