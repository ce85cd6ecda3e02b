"""What the server logs for operators: security events, the access log
(--access-log), and JSON lines (--log-format json).

Security events carry a `security` field naming the event (login_failed,
throttled, connection_refused, invitation_created, invitation_used), so that
a log shipper can pick them out; they are logged whatever the options.  They
never carry a password, a hash, a token or an invitation code: only who
(peer address, login name as typed, account or store id) and what kind.
`cybermarket invite` logs its own invitation_created, in the same text or
JSON form (cybermarket/tools/cli.py, cybermarket/jsonlog.py), to its stderr.
429s and refused connections are logged through limits.Bite, which reports
the first at once and then counts, so that a client cannot write the log as
fast as it can send.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python.logfile import LogFile

from cybermarket.jsonlog import KEYS as KEYS
from cybermarket.jsonlog import JSONLines as JSONLines
from cybermarket.jsonlog import json_line as json_line
from cybermarket.values import shown

if TYPE_CHECKING:
    from cybermarket.server.context import App
    from cybermarket.server.metrics import Metrics

log = Logger()
access = Logger(namespace="cybermarket.access")

# --- security events --------------------------------------------------------------


def login_failed(
    app: App, role: str, kind: str, peer: str, login: str | None = None, account: int | None = None
) -> None:
    """A login (login name given) or a password change (account given)
    failed; kind: wrong_password, no_such_account or wrong_old_password."""
    if login is not None:
        log.info(
            "failed {role} login '{login}' from {peer}: {why}",
            security="login_failed",
            role=role,
            login=shown(login),
            peer=peer,
            kind=kind,
            why=kind.replace("_", " "),
        )
    else:
        log.info(
            "failed {role} password change for account {account} from {peer}: {why}",
            security="login_failed",
            role=role,
            account=account,
            peer=peer,
            kind=kind,
            why=kind.replace("_", " "),
        )
    if app.metrics is not None:
        app.metrics.failed_logins.labels(role, kind).inc()


def resume_failed(app: App, peer: str) -> None:
    """A RESUME with an unknown, expired or revoked token (never the token
    nor its hash in the log)."""
    log.info(
        "failed RESUME from {peer}: unknown, expired or revoked token",
        security="login_failed",
        peer=peer,
        kind="bad_token",
    )
    if app.metrics is not None:
        app.metrics.failed_logins.labels("session", "bad_token").inc()


def throttled(app: App, kind: str) -> None:
    """A 429 of `kind` (client_login, merchant_password...): counted; the
    throttle's Bite logs it."""
    if app.metrics is not None:
        app.metrics.throttled.labels(kind).inc()


def invitation_created(store_id: int | None, peer: str) -> None:
    log.info(
        "invitation created by store {store_id} from {peer}",
        security="invitation_created",
        store_id=store_id,
        peer=peer,
    )


def invitation_used(storename: str, inviter: str | None, peer: str) -> None:
    log.info(
        "invitation of {inviter} used by the new store '{storename}' from {peer}",
        security="invitation_used",
        storename=shown(storename),
        inviter=f"store '{shown(inviter)}'" if inviter is not None else "the operator",
        peer=peer,
    )


# --- what each answered request goes to -----------------------------------------------


Answered = Callable[[str | None, int, float, "str | None", "int | None"], None]


def answered_hook(metrics: Metrics | None, access_log: bool) -> Answered | None:
    """App.answered for the options: None when neither is on, so that a
    request then costs nothing more."""
    if metrics is None and not access_log:
        return None
    if metrics is not None and not access_log:
        return metrics.answered  # no call in between
    count = metrics.answered if metrics is not None else None

    def answered(
        op: str | None, status: int, seconds: float, peer: str | None, account: int | None
    ) -> None:
        if count is not None:
            count(op, status, seconds)
        if access_log:
            # Never the arguments: they hold passwords and codes.
            access.info(
                "{peer} {account} {op} {status} {ms:.3f} ms",
                peer=peer,
                account=account if account is not None else "-",
                op=op or "unknown",
                status=status,
                ms=seconds * 1000,
                duration=seconds,
            )

    return answered


def wire(app: App, metrics: Metrics | None) -> None:
    """Hook the metrics into the app's parts."""
    if metrics is None:
        return
    app.metrics = metrics
    app.db.timed = metrics.timed_transaction
    if app.db.group is not None:
        app.db.group.observe_size = metrics.group_size.observe
    app.hasher.timed = metrics.timed_hash
    app.searches.db.timed = metrics.timed_transaction
    metrics.watch(app)


# twistd's options, kept by Options when --log-format json asks for this
# observer (twistd's --logger names a factory; it takes no arguments).
TWISTD: dict[str, Any] = {}


def twistd_json_observer() -> JSONLines:
    """twistd's --logger: the process's log observer, writing where
    twistd's own text observer would: --logfile, or standard output with -n
    and no --logfile (or --logfile -), else twistd.log."""
    name = TWISTD.get("logfile") or ""
    if name == "-" or (not name and TWISTD.get("nodaemon")):
        return JSONLines(sys.stdout)
    return JSONLines(LogFile.fromFullPath(name or "twistd.log"))
