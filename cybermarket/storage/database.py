"""The database: one engine, its own database threads, one transaction per
call.

Every database call goes through Database.run(desc, func, ...): func(txn,
...) runs on a worker thread of the database's own pool (never the reactor
thread, never the reactor's shared default pool) inside one transaction, and
the Deferred fires with its plain return value.  The pool has as many threads
as the engine has connections, and each worker keeps its connection for its
whole life: checking a pooled connection out and in per request costs more
than many queries do.

SQLite: WAL, a busy timeout, and BEGIN IMMEDIATE for write transactions, so
that concurrent writers (threads or processes) queue for the write lock up
front instead of failing when a read lock cannot be upgraded.  One worker
thread is the default there: SQLite has one writer anyway and more threads
only convoy on the GIL.  That one thread commits requests in groups
(groupcommit.py): one fsync for all the requests queued at one moment.
Each thread is a Worker (workers.py) that owns its connection.
"""

import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

from cybermarket.errors import Explained
from cybermarket.i18n import N_
from cybermarket.instruments import NOTHING, Instruments
from cybermarket.storage.groupcommit import GroupCommit
from cybermarket.storage.txn import Cache, declares_autocommit
from cybermarket.storage.workers import Jobs, OneAtATime, Strategy, Worker

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")

log = Logger()

SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock
CONNECT_TIMEOUT = 5  # seconds, PostgreSQL: an unreachable server is a 503 soon


class SchemaOutOfDate(Explained):
    """The database's schema is not the one this code was written for."""


class NoDatabase(Explained):
    """A SQLite database file that a command needs is not there."""


def sqlite_file(url: str | URL) -> str | None:
    """The file of a SQLite URL, as written; None for another database or an
    in-memory one."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def check_exists(url: str | URL) -> None:
    """NoDatabase when `url` is a SQLite file that does not exist.  SQLite
    creates a missing file on connecting, so a command pointed at the wrong
    directory would otherwise work on a new, empty database.  The message
    suggests only what would work: the absolute file that three slashes
    missed (sqlite:///tmp/x names tmp/x under the working directory), or
    `db upgrade`, which cannot make a missing folder."""
    path = sqlite_file(url)
    if path is None or Path(path).is_file():
        return
    absolute = Path(path).absolute()
    meant = Path("/", path)
    if not Path(path).is_absolute() and meant.is_file():
        raise NoDatabase(
            N_("no database file {path}; did you mean `{url}`?"),
            path=absolute,
            url=make_url(url).set(database=str(meant)).render_as_string(False),
        )
    if not absolute.parent.is_dir():
        raise NoDatabase(
            N_("no database file {path}: no folder {folder}"),
            path=absolute,
            folder=absolute.parent,
        )
    raise NoDatabase(
        N_("no database file {path}; `cybermarket db upgrade --database {url}` creates it"),
        path=absolute,
        url=url,
    )


def make_engine(url: str | URL, threads: int = 1, synchronous: str = "FULL") -> Engine:
    """An engine with as many connections as there are worker threads."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            pool_size=threads,
            max_overflow=0,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
        )
        _sqlite_setup(engine, synchronous)
    else:
        engine = create_engine(
            url,
            pool_size=threads,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
    return engine


def read_only_engine(url: str | URL) -> Engine:
    """An engine for the commands that only read (`cybermarket db current`,
    `cybermarket report`): a SQLite file opened read-only, its journal mode
    left as it is.  make_engine turns WAL on, which would turn a backup (one
    file in rollback-journal mode) into a database with -wal and -shm files
    beside it, and a later restore of it would leave them there too."""
    url = make_url(url)
    path = sqlite_file(url)
    if path is None:
        return make_engine(url)
    read_only = url.set(
        database="file:" + quote(str(Path(path).absolute())),
        query={**url.query, "mode": "ro", "uri": "true"},
    )
    engine = create_engine(
        read_only,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
    )
    _sqlite_setup(engine, None)
    return engine


def _sqlite_setup(engine: Engine, synchronous: str | None) -> None:
    """BEGIN as the transactions need it, and (synchronous not None) WAL,
    foreign keys and the durability asked for; None: a read-only
    connection, which changes nothing of the file's."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, record: object) -> None:
        # Take BEGIN out of pysqlite's hands (it would only BEGIN DEFERRED,
        # and lazily): Txn.begin issues it for the handlers, the "begin"
        # hook below for SQLAlchemy's own transactions (the migrations).
        dbapi_conn.isolation_level = None
        if synchronous is None:
            return
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        if synchronous is not None and conn.info.get("write", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """The engine, its database threads (workers.Jobs), and run()."""

    def __init__(
        self,
        url: str | URL,
        threads: int | None = None,
        reactor: IReactorFromThreads | None = None,
        synchronous: str = "FULL",
        connection_cache: Callable[[], Cache] | None = None,
        instruments: Instruments = NOTHING,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = cast(IReactorFromThreads, default)  # every reactor provides it
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        # PostgreSQL: 2 measured best of 2, 4 and 8 (docs/performance.md).
        self.threads = threads or (1 if self.sqlite else 2)
        self.engine = make_engine(self.url, self.threads, synchronous)
        self.dbapi = self.engine.dialect.loaded_dbapi
        self.reactor = reactor
        # Makes what each connection's Txn keeps for the layer above (the
        # server's page cache); None: nothing.
        self.connection_cache = connection_cache
        # SQLite's one thread commits in groups; more threads (PostgreSQL),
        # a transaction per request.
        strategy: Strategy = (
            GroupCommit(instruments.group_committed if instruments.active else None)
            if self.sqlite and self.threads == 1
            else OneAtATime()
        )
        self.jobs = Jobs(self, reactor, self.threads, strategy)
        self._local = threading.local()
        self._workers: list[Worker] = []
        self._lock = threading.Lock()
        # Wraps each transaction's function to time it (--metrics): given
        # the description and the function, gives the function to run.
        self.timed: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = (
            instruments.timed_transaction if instruments.active else None
        )

    def start(self) -> None:
        self.jobs.start()

    def stop(self) -> None:
        self.jobs.stop()
        with self._lock:
            for worker in self._workers:
                worker.close()
            self._workers.clear()
        self.engine.dispose()

    def run(
        self,
        desc: str,
        func: Callable[..., T],
        *args: Any,
        write: bool = True,
        autocommit: bool = False,
        **kwargs: Any,
    ) -> Deferred[T]:
        """Run func(txn, *args, **kwargs) in one transaction on a database
        thread.  `autocommit`: func's one statement that writes is
        all-or-nothing on its own, so that PostgreSQL may run it in
        autocommit (Txn.begin)."""
        autocommit = autocommit or declares_autocommit(func)
        if self.timed is not None:
            func = self.timed(desc, func)
        return self.jobs.submit(desc, func, args, kwargs, write, autocommit)

    def worker(self) -> Worker:
        """The calling thread's Worker: its own connection, kept for the
        thread's life."""
        worker: Worker | None = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._local.worker = Worker(self)
            with self._lock:
                self._workers.append(worker)
        return worker

    def run_sync(
        self,
        desc: str,
        func: Callable[..., T],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        write: bool = True,
        autocommit: bool = False,
    ) -> T:
        """func(txn, *args, **kwargs) in one transaction on the calling
        thread (the commands, the tests)."""
        autocommit = autocommit or declares_autocommit(func)
        return self.worker().transact(desc, func, args, kwargs, write, autocommit)


# --- schema --------------------------------------------------------------


def migrations_dir() -> Path:
    # Inside the package, so that normal and editable installs alike carry
    # them; alembic.ini at the top points here too.
    return Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", make_url(url).render_as_string(False).replace("%", "%%"))
    return cfg


def head_revision(url: str | URL) -> str | None:
    head = head_from_files(migrations_dir() / "versions")
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


# The lines that name a migration and the one before it, as
# script.py.mako writes them: revision = "0007", down_revision = "0006"
# (None for the first).  branch_labels and depends_on must be None.
_NAMES = {
    "revision": re.compile(r"""^revision\s*=\s*(['"])(\w+)\1\s*$""", re.MULTILINE),
    "down_revision": re.compile(
        r"""^down_revision\s*=\s*(?:None|(['"])(\w+)\1)\s*$""", re.MULTILINE
    ),
    "branch_labels": re.compile(r"^branch_labels\s*=\s*None\s*$", re.MULTILINE),
    "depends_on": re.compile(r"^depends_on\s*=\s*None\s*$", re.MULTILINE),
}


def head_from_files(versions: Path) -> str | None:
    """The newest revision of the migrations in `versions`, read from their
    files: Alembic would import itself and every migration for it, which
    is most of what a server's start costs.  None unless the files are a
    plain chain (one head, no merge, no branch, each file of the form
    above); Alembic then works it out."""
    revisions: set[str] = set()
    downs: set[str] = set()
    try:
        files = sorted(versions.glob("*.py"))
    except OSError:
        return None
    for file in files:
        source = file.read_text(encoding="utf-8")
        found = {name: pattern.findall(source) for name, pattern in _NAMES.items()}
        if any(len(lines) != 1 for lines in found.values()):
            return None
        (_quote, revision), (_quote_down, down) = found["revision"][0], found["down_revision"][0]
        revisions.add(revision)
        if down:
            downs.add(down)
    heads = revisions - downs
    if len(heads) != 1 or not downs <= revisions:
        return None
    return heads.pop()


def at_head(url: str | URL) -> bool:
    """Whether the database's schema is already at the newest revision,
    found without Alembic (a table missing or anything unusual: no)."""
    head = head_from_files(migrations_dir() / "versions")
    if head is None:
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _revisions(conn) == [head]
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema to the newest revision (or to `revision`).  Safe
    when several server processes start at once: they take turns (SQLite's
    write lock, a PostgreSQL advisory lock) and all but the first find
    nothing to do.  A database already at the newest revision, as most
    are when a server starts, is seen to be so without loading Alembic."""
    if revision == "head" and at_head(url):
        return
    from alembic import command

    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.info["write"] = True
            foreign_keys_off_for_migrations(conn)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(223330001)")
                cfg.attributes["connection"] = conn
                # A revision this code does not know stops it here, with
                # Alembic's "Can't locate revision".
                command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def foreign_keys_off_for_migrations(conn: Connection) -> None:
    """SQLite: a migration that changes a column rebuilds the table (copy,
    drop, rename; Alembic's batch mode), and dropping a table that others
    refer to fails while foreign keys are enforced.  SQLite's documented
    way is to turn enforcement off around the migrations' transaction (the
    pragma is ignored inside one) and check the keys before committing
    (check_foreign_keys, in alembic/env.py).  The connection is the
    migration's own and is closed afterwards."""
    if conn.dialect.name == "sqlite":
        # On the driver's connection: through SQLAlchemy the statement would
        # begin the transaction first.
        driver = conn.connection.driver_connection
        assert driver is not None  # the connection is open
        driver.execute("PRAGMA foreign_keys=OFF")


def check_foreign_keys(conn: Connection) -> None:
    """SQLite, with enforcement off for the migrations: stop, before the
    commit, if they left a reference to a row that does not exist."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migrations broke foreign keys: {broken[:10]}")


def _revisions(conn: Connection) -> list[str] | None:
    """The rows of Alembic's version table, read without Alembic; None
    when the table is missing (a database never migrated)."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table("alembic_version"):
        return None
    return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def current_revision(conn: Connection) -> str | None:
    """The revision the database's schema is at (None: not migrated), read
    without loading Alembic unless the table holds several, which
    Alembic refuses in its own words."""
    versions = _revisions(conn)
    if versions is None:
        return None
    if len(versions) <= 1:
        return versions[0] if versions else None
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def check_schema(conn: Connection, url: str | URL) -> None:
    head = head_revision(url)
    current = current_revision(conn)
    if current != head:
        raise SchemaOutOfDate(
            N_("database schema is at revision {current}, this server needs {head}"),
            current=current,
            head=head,
        )
