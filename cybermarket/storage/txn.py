"""Plain SQL on the DBAPI connection.

The handlers' statements are written once, with `?` placeholders, and kept
in both paramstyles: sqlite3 takes `?`, psycopg `%s`.  They run on the
driver's own cursor: building and compiling SQLAlchemy expressions per
request cost many times what the statements themselves do (see
docs/performance.md).  The schema still lives in models.py and Alembic.

`{C}` marks a string comparison or ordering that must go by code point on
every backend (SQLite's BINARY collation; PostgreSQL's "C").
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

# The attribute that declares a transaction function autocommit (below).
AUTOCOMMIT = "db_autocommit"


def autocommit(function: F) -> F:
    """Declare that `function`'s one write is all-or-nothing on its own, so
    that on PostgreSQL its transaction runs in autocommit: Database.run and
    run_sync read it, wherever they are called from (@handles(...,
    autocommit=True) declares a handler with it)."""
    setattr(function, AUTOCOMMIT, True)
    return function


def declares_autocommit(function: Callable[..., Any]) -> bool:
    return getattr(function, AUTOCOMMIT, False) is True


def now() -> datetime:
    """The current UTC time, naive, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Query:
    """One statement, in both paramstyles.  `backend` names the one backend
    it is written for ("postgresql"), when it is not for both: the code
    runs it only there, and tests/test_statements.py checks it only there."""

    __slots__ = ("qmark", "format", "backend")

    def __init__(self, text: str, backend: str | None = None) -> None:
        self.backend = backend
        self.qmark = text.replace("{C}", " COLLATE BINARY")
        self.format = text.replace("%", "%%").replace("{C}", ' COLLATE "C"').replace("?", "%s")


class Cursor(Protocol):
    """A DBAPI cursor (PEP 249), as Txn uses it: sqlite3's or psycopg's."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, operation: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, operation: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...


class Cache(Protocol):
    """What Txn hands to the layer above (the server's page cache)."""

    def clear(self) -> None: ...


class Txn:
    """One transaction's view of the database, handed to the handlers.
    Run only on its database worker thread."""

    __slots__ = (
        "raw",
        "cursor",
        "postgres",
        "Error",
        "IntegrityError",
        "OperationalError",
        "writing",
        "uncommitted",
        "autocommit",
        "one_write",
        "cache",
    )

    def __init__(self, raw: Any, postgres: bool, dbapi: Any, cache: Cache | None = None) -> None:
        self.raw = raw  # the driver's connection
        self.cursor: Cursor = raw.cursor()
        self.postgres = postgres
        self.Error: type[Exception] = dbapi.Error
        self.IntegrityError: type[Exception] = dbapi.IntegrityError
        self.OperationalError: type[Exception] = dbapi.OperationalError
        # Whether this request may write (in a SQLite group, set per request).
        self.writing = False
        # Whether the transaction as a whole may write: what it reads may
        # include changes that are not committed yet.
        self.uncommitted = False
        # PostgreSQL: whether the connection is in autocommit (psycopg's
        # own attribute costs a call to read).
        self.autocommit = False
        # Whether the request declared that its one write is all-or-nothing
        # on its own (Database.run's autocommit; set per request).
        self.one_write = False
        # What the layer above keeps (the server's page cache).  None: nothing.
        self.cache = cache

    # --- transaction control (Database.run_sync) --------------------------

    def begin(self, write: bool, autocommit: bool = False) -> None:
        """`autocommit`: declared by the request (Database.run) when the one
        statement that writes is all-or-nothing on its own; on PostgreSQL
        it then runs in autocommit, wherever that statement sits.  (SQLite
        commits requests in groups.)"""
        self.writing = self.uncommitted = write
        self.one_write = autocommit
        if not self.postgres:
            # BEGIN IMMEDIATE takes SQLite's write lock up front: concurrent
            # writers queue on the busy timeout instead of failing later
            # when a read lock cannot be upgraded.
            self.cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            # PostgreSQL: a read-only request runs in autocommit, which
            # saves the round trips of BEGIN and COMMIT.  It sees nothing
            # less consistent: under READ COMMITTED each statement of a
            # transaction takes a snapshot of its own anyway.  A write
            # transaction: psycopg sends BEGIN before its first statement.
            # The mode is set here, before any statement: psycopg refuses
            # to change it inside a transaction.
            wanted = autocommit or not write
            if self.autocommit != wanted:
                self.raw.autocommit = self.autocommit = wanted

    def one_statement(self) -> None:
        """Says that the code that calls it relies on its request running
        in autocommit on PostgreSQL (its one write all-or-nothing on its
        own).  The request must have declared it (@handles(...,
        autocommit=True), Database.run's autocommit): the mode is set
        before the request's first statement, wherever this call sits.
        Undeclared, this stops the request on every backend, so that the
        omission shows in the tests on SQLite too."""
        if not self.one_write:
            raise RuntimeError(
                "one_statement() in a request not declared autocommit:"
                " give its handler @handles(..., autocommit=True)"
            )

    def commit(self) -> None:
        if self.autocommit:
            return  # each statement has committed
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    # --- statements ---------------------------------------------------------

    def _execute(self, query: Query, params: Sequence[object]) -> Cursor:
        self.cursor.execute(query.format if self.postgres else query.qmark, params)
        return self.cursor

    def rows(self, query: Query, *params: object) -> list[tuple[Any, ...]]:
        return self._execute(query, params).fetchall()

    def row(self, query: Query, *params: object) -> tuple[Any, ...] | None:
        return self._execute(query, params).fetchone()

    def value(self, query: Query, *params: object) -> Any:
        row = self._execute(query, params).fetchone()
        return None if row is None else row[0]

    def run(self, query: Query, *params: object) -> int:
        """Execute; the number of rows changed."""
        return self._execute(query, params).rowcount

    def run_many(self, query: Query, params_seq: Iterable[Sequence[object]]) -> None:
        self.cursor.executemany(query.format if self.postgres else query.qmark, params_seq)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo just this block if it breaks a unique key, leaving the rest
        of the transaction intact."""
        self.cursor.execute("SAVEPOINT unique_check")
        try:
            yield
        except self.IntegrityError:
            self.cursor.execute("ROLLBACK TO SAVEPOINT unique_check")
            self.cursor.execute("RELEASE SAVEPOINT unique_check")
            raise
        self.cursor.execute("RELEASE SAVEPOINT unique_check")

    # --- times: naive UTC; SQLite keeps them as text ------------------------

    def time(self, value: datetime) -> datetime | str:
        if self.postgres:
            return value
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")

    @overload
    @staticmethod
    def read_time(value: None) -> None: ...

    @overload
    @staticmethod
    def read_time(value: datetime | str) -> datetime: ...

    @staticmethod
    def read_time(value: datetime | str | None) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)
