"""The `cybermarket` command: operator tasks beside `twistd cybermarket`."""

import argparse
import math
import os
import sys
from pathlib import Path

from cybermarket import i18n
from cybermarket.storage import urls
from cybermarket.storage.urls import DEFAULT_DATABASE
from cybermarket.tools import words
from cybermarket.tools.words import _

MAX_INVITATION_DAYS = 365
LOG_NAMESPACE = "cybermarket.tools.cli"  # of the events the command logs


class Failed(Exception):
    """The command cannot be carried out; the message says why, in one line."""


def database_url(text):
    """A --database value: a URL, as for `twistd cybermarket`."""
    try:
        return urls.database_url(text)
    except urls.NotAURL as e:
        raise argparse.ArgumentTypeError(_(e.template).format(**e.params)) from None


def invitation_days(text):
    """An --days value: from 1 to 365.  Fewer would issue a code that has
    expired, or nearly, by the time it is passed on."""
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not 1 <= days <= MAX_INVITATION_DAYS:  # false for nan too
        raise argparse.ArgumentTypeError(
            _("must be from 1 to {most}, not {text!r}").format(most=MAX_INVITATION_DAYS, text=text)
        )
    return days


def language_tag(text):
    """A --language value: a BCP 47 tag (en, zh-CN, ru, ru-RU ...)."""
    if not i18n.well_formed(text):
        raise argparse.ArgumentTypeError(_("not a language tag: {text!r}").format(text=text))
    return text


def with_language(p, default=argparse.SUPPRESS):
    """--language, taken before the command's name or after it."""
    p.add_argument(
        "--language",
        metavar="TAG",
        type=language_tag,
        default=default,
        help=_("the language to speak, such as en, zh-CN or ru (default: the locale, LANG)"),
    )
    return p


def chosen_language(argv, environ=None):
    """The language of the command's words and of the server's answers:
    --language, else the user's locale (LC_ALL, LC_MESSAGES, LANG, and
    LANGUAGE's list), matched as the server matches SET_LANGUAGE."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--language")
    known, _rest = early.parse_known_args(argv)
    if known.language and i18n.well_formed(known.language):
        return i18n.match(known.language)
    return i18n.from_environment(os.environ if environ is None else environ)


def existing_database(url):
    """Refuse a SQLite file that is not there: connecting would create an
    empty database, and the command would work on that instead."""
    from cybermarket.storage import database

    try:
        database.check_exists(url)
    except database.NoDatabase as e:
        raise Failed(e.translated(words.language())) from None


def _invite(args):
    from cybermarket.storage import database, invitations

    existing_database(args.database)
    database.upgrade(args.database)
    db = database.Database(args.database, threads=1)
    try:
        code = db.run_sync("invite", invitations.create, (None, args.days))
    finally:
        db.stop()
    log_invitation(args.log_format, args.days)
    # English keeps one form ("valid 1 days", as scripts read it); Russian
    # has three, and a fraction of a day counts as 2 there ("1,5 дня").
    print(
        words.ngettext(
            "Invitation code (valid {days} days, inviter nil):",
            "Invitation code (valid {days} days, inviter nil):",
            int(args.days) if args.days.is_integer() else 2,
        ).format(days=words.number(args.days))
    )
    print(code)


def system_user():
    """Who ran the command, as the system knows them (for the log)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name, no passwd entry: only a uid
        return f"uid {os.getuid()}"


def log_invitation(log_format, days):
    """The security event the server logs for the codes it issues
    (invitation_created), logged here through twisted.logger to stderr: a
    text line as twistd writes one, or with --log-format json a JSON line
    as the server writes one.  The operator is the inviter (no store), and
    the system user who ran the command stands where a server's event has
    the peer.  Never the code, which goes to stdout alone."""
    from twisted.logger import ILogObserver, Logger, textFileLogObserver

    from cybermarket.jsonlog import JSONLines

    observer: ILogObserver
    if log_format == "json":
        observer = JSONLines(sys.stderr)
    else:
        observer = textFileLogObserver(sys.stderr)
    Logger(namespace=LOG_NAMESPACE, observer=observer).info(
        "invitation created by the operator (user {user}) with `cybermarket invite`,"
        " valid {days:g} days",
        security="invitation_created",
        store_id=None,
        inviter="the operator",
        user=system_user(),
        days=days,
    )
    sys.stderr.flush()


def _db_upgrade(args):
    from cybermarket.storage import database

    database.upgrade(args.database)
    print(_("schema at revision {revision}").format(revision=database.head_revision(args.database)))


def _db_current(args):
    from cybermarket.storage import database

    existing_database(args.database)
    # Read-only: `db current` on a backup leaves it a backup, not in WAL mode.
    engine = database.read_only_engine(args.database)
    try:
        with engine.connect() as conn:
            current = database.current_revision(conn)
    finally:
        engine.dispose()
    head = database.head_revision(args.database)
    print(f"{_('current')}: {current}  {_('newest')}: {head}")
    return 0 if current == head else 1


def _db_backup(args):
    from cybermarket.storage import backup, database

    source: str | Path | None = database.sqlite_file(args.database)
    if source is None:
        raise Failed(
            _("backs up only SQLite databases; for PostgreSQL use pg_dump: {command}").format(
                command=PG_DUMP
            )
        )
    existing_database(args.database)
    source = Path(source).absolute()
    target = Path(args.file).absolute()
    if target.exists():
        raise Failed(_("{path} exists; give a file that does not").format(path=target))
    if not target.parent.is_dir():
        raise Failed(_("no folder {path}").format(path=target.parent))
    # SQLite's online backup, commits still in the -wal file included,
    # into one self-contained file (storage/backup.py).
    try:
        backup.back_up(source, target)
    except backup.CopyFailed as e:
        raise Failed(_("cannot back up {path}: {reason}").format(path=source, reason=e)) from None
    print(_("backed up {source} to {target}").format(source=source, target=target))


PG_DUMP = "pg_dump --format=custom --file=FILE DBNAME (pg_restore restores it)"


def _db_restore(args):
    """Copy a backup into a new SQLite database file, then check it."""
    from cybermarket.storage import backup, database

    target: str | Path | None = database.sqlite_file(args.database)
    if target is None:
        raise Failed(
            _("restores only SQLite databases; for PostgreSQL use pg_restore: {command}").format(
                command="pg_restore --clean --if-exists --dbname=DBNAME FILE"
            )
        )
    source = Path(args.file).absolute()
    target = Path(target).absolute()
    if not source.is_file():
        raise Failed(_("no backup file {path}").format(path=source))
    # Never over a database: servers may have it open, and the -wal beside
    # it would be applied to the restored file.  Stop them, move it (and
    # its -wal and -shm) aside, then restore.
    for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        if path.exists():
            raise Failed(
                _("{path} exists; stop the servers and move it aside first").format(path=path)
            )
    if not target.parent.is_dir():
        raise Failed(_("no folder {path}").format(path=target.parent))
    try:
        problem = backup.restore(source, target)
    except backup.CopyFailed as e:
        raise Failed(_("cannot restore {path}: {reason}").format(path=source, reason=e)) from None
    if problem is not None:
        raise Failed(_("{path} is damaged: {problem}").format(path=source, problem=problem))
    print(_("restored {source} to {target}").format(source=source, target=target))
    # A backup from an older release: the servers bring it up to date when
    # they start, or `cybermarket db upgrade` does now.
    return _db_current(args)


# The report's libraries are an extra (pyproject.toml), not installed with
# the server: without them the command says what to install, in one line.
REPORT_LIBRARIES = ("pandas", "matplotlib")
REPORT_NEEDS = i18n.N_("the report needs pandas and matplotlib: pip install 'cybermarket[report]'")


def missing_report_library(error):
    """True when an ImportError is about pandas or matplotlib themselves (or
    one of their own modules), not about something else failing to import."""
    return (error.name or "").split(".")[0] in REPORT_LIBRARIES


def _report(args):
    try:
        # matplotlib is only used for --plot, but both come with the one
        # extra: checked up front, before anything is read or printed.
        import matplotlib  # noqa: F401  (only to check that it is there)

        from cybermarket.tools import report
    except ImportError as e:
        if not missing_report_library(e):
            raise
        raise Failed(_(REPORT_NEEDS)) from None
    return report.run(args.database, args.since, args.format, args.plot)


def _call(args):
    from cybermarket.tools import shell

    return shell.run_call(args)


def _shell(args):
    from cybermarket.tools import shell

    return shell.run_shell(args)


def parser():
    top = argparse.ArgumentParser(
        prog="cybermarket",
        description=_(
            "Operator commands for the cybermarket server "
            "(the server itself runs as `twistd -n cybermarket`)."
        ),
    )
    with_language(top, default=None)
    commands = top.add_subparsers(dest="command", required=True)

    def with_database(p):
        p.add_argument(
            "--database",
            default=DEFAULT_DATABASE,
            type=database_url,
            help=_("SQLAlchemy database URL (default: {default})").format(default=DEFAULT_DATABASE),
        )
        return with_language(p)

    invite = with_database(
        commands.add_parser("invite", help=_("print a new operator invitation code"))
    )
    invite.add_argument(
        "--days",
        type=invitation_days,
        default=7.0,
        help=_("days until the code expires, 1 to {most} (default 7)").format(
            most=MAX_INVITATION_DAYS
        ),
    )
    invite.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help=_(
            "the invitation_created event on stderr: a text line, or a JSON line as "
            "`twistd cybermarket --log-format json` writes (default text)"
        ),
    )
    invite.set_defaults(run=_invite)

    db = commands.add_parser("db", help=_("database schema, backups and restores"))
    db_commands = db.add_subparsers(dest="db_command", required=True)
    with_database(
        db_commands.add_parser("upgrade", help=_("bring the schema to the newest revision"))
    ).set_defaults(run=_db_upgrade)
    with_database(
        db_commands.add_parser("current", help=_("show the schema revision"))
    ).set_defaults(run=_db_current)
    backup = with_database(
        db_commands.add_parser(
            "backup",
            help=_("copy a SQLite database, also while servers use it"),
            description=_(
                "Copy a SQLite database with SQLite's online backup, "
                "which includes the commits still in its -wal file and may run "
                "while servers write to it.  FILE must not exist yet."
            ),
        )
    )
    backup.add_argument("file", metavar="FILE", help=_("the copy to write"))
    backup.set_defaults(run=_db_backup)
    restore = with_database(
        db_commands.add_parser(
            "restore",
            help=_("make a SQLite database from a backup"),
            description=_(
                "Copy a backup made by `cybermarket db backup` into a new "
                "SQLite database file (--database, which must not exist: stop the "
                "servers and move the old file, and its -wal and -shm, aside first), "
                "check it, and show its schema revision."
            ),
        )
    )
    restore.add_argument("file", metavar="FILE", help=_("the backup to restore"))
    restore.set_defaults(run=_db_restore)

    report = with_database(
        commands.add_parser(
            "report", help=_("print sales per day, per store, top products and counts")
        )
    )
    report.add_argument(
        "--since", metavar="DATE", help=_("only orders from this UTC day on (YYYY-MM-DD)")
    )
    report.add_argument(
        "--format",
        choices=("text", "csv", "markdown"),
        default="text",
        help=_("output format (default text)"),
    )
    report.add_argument(
        "--plot", metavar="FILE", help=_("also write a PNG chart of daily revenue to FILE")
    )
    report.set_defaults(run=_report)

    def with_server(p):
        p.add_argument("--host", default="127.0.0.1", help=_("server address (default 127.0.0.1)"))
        p.add_argument("--port", type=int, default=22333, help=_("server port (default 22333)"))
        p.add_argument("--tls", action="store_true", help=_("connect with TLS"))
        p.add_argument(
            "--insecure",
            action="store_true",
            help=_("TLS without checking the server's certificate (implies --tls)"),
        )
        p.add_argument("--cafile", help=_("CA certificates for TLS (implies --tls)"))
        p.add_argument(
            "--web",
            help=_(
                "the server's web endpoint, for photos (default http://HOST:8080, https with --tls)"
            ),
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=30.0,
            help=_("seconds to wait to connect and for each answer (default 30)"),
        )
        return with_language(p)

    call = with_server(
        commands.add_parser(
            "call",
            help=_("send one request to a server and print the answer"),
            epilog=_(
                "Values: integers for integer arguments, text and prices as given; "
                "key= is an empty string, key=nil is nil, and 'key=\"nil\"' (quotes that "
                "reach the command) is the text nil; nil for a required argument is refused; "
                "keys the op does not take are sent, for the server to refuse. "
                "Exit status: 0 for a 2xx answer, 1 for an error status, "
                "2 for a bad key=value, 3 when the connection fails."
            ),
        )
    )
    call.add_argument("--json", action="store_true", help=_("print the whole response as JSON"))
    call.add_argument("op", help=_("the op, such as PING or list_merchant"))
    # default=[]: argparse counts a "*" positional without a default among
    # the required ones, and would ask for key=value when the op is missing.
    call.add_argument(
        "args", nargs="*", default=[], metavar="key=value", help=_("the op's arguments")
    )
    call.set_defaults(run=_call)
    with_server(
        commands.add_parser("shell", help=_("send requests interactively on one connection"))
    ).set_defaults(run=_shell)
    return top


def command_name(args):
    words = ["cybermarket", args.command, getattr(args, "db_command", None)]
    return " ".join(word for word in words if word)


def unreachable(error):
    """The one line to say for a database that cannot be opened (a folder
    that is not there, a PostgreSQL server that does not answer), or None
    for any other error."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(error, OperationalError):
        return None
    reason = str(error.orig).strip().splitlines()
    return _("cannot open the database: {reason}").format(
        reason=reason[0] if reason else type(error.orig).__name__
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    words.use(chosen_language(argv))
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except Failed as e:
        message = str(e)
    except Exception as e:
        message = unreachable(e)
        if message is None:
            raise
    print(f"{command_name(args)}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
