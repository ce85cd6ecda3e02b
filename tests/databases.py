"""Where the tests' databases come from.

A temporary SQLite file by default, or, when CYBERMARKET_TEST_DATABASE names
a PostgreSQL server (postgresql+psycopg://user@host:port/postgres), a
database of its own on that server.

Migrating costs far more than most tests do, so the schema is built once
per test session (per worker), in a template, and a migrated test database
starts as a copy of it: on SQLite a copy of the template's file.  On
PostgreSQL even `CREATE DATABASE ... TEMPLATE` takes most of a second, so
the databases are kept for the session and handed from one test to the
next: before a database is handed out again every other session on it is
ended and it is brought back to its first state (a migrated one's rows
deleted and sequences restarted, an empty one's schema dropped), after a
check that its schema is still the first one; one that is not is dropped.
Cleaning happens when the next test asks, after everything the previous
test started (servers included) has been stopped.
"""

import fcntl
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cybermarket.storage import database

TEST_DATABASE = os.environ.get("CYBERMARKET_TEST_DATABASE", "")


def on_postgresql():
    return TEST_DATABASE.startswith("postgresql")


def _admin(server=None):
    # No pool: a test may restart the server, which breaks kept connections.
    return create_engine(server or TEST_DATABASE, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _url(name, server=None):
    return make_url(server or TEST_DATABASE).set(database=name).render_as_string(False)


def _create(admin, template=None):
    name = f"cm_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    return name


def _drop(admin, name):
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_postgresql_database(before_drop=None, template=None, server=None):
    """A new database on the PostgreSQL server of CYBERMARKET_TEST_DATABASE
    (or `server`, the URL of another), a copy of the database `template`
    when given, otherwise empty, dropped afterwards (before_drop runs
    first)."""
    admin = _admin(server)
    try:
        name = _create(admin, template)
        try:
            yield _url(name, server)
        finally:
            if before_drop is not None:
                before_drop()
            _drop(admin, name)
    finally:
        admin.dispose()


# What a database holds, beyond rows: every relation, column, index and
# constraint of its own schemas.
SCHEMA = """
SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname || ' ' || coalesce(
         (SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                            || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                            ', ' ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                                  AND NOT a.attisdropped), '')
       || coalesce(' ' || pg_get_indexdef(c.oid), '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
       || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace NOT IN
       (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace
 WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_%'
ORDER BY 1
"""
# Ends every other session on the database; how many were still there.
END_OTHER_SESSIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
# Every row deleted (foreign keys not enforced meanwhile) and every
# sequence back at its start; the rows the migrations themselves wrote are
# then put back (PostgreSQLDatabases.seed).  Cheaper than TRUNCATE on the
# few rows a test writes.
EMPTY = """
DO $$
DECLARE r record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR r IN SELECT tablename FROM pg_tables
            WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', r.tablename);
  END LOOP;
  FOR r IN SELECT seqrelid, seqstart FROM pg_sequence LOOP
    PERFORM setval(r.seqrelid, r.seqstart, false);
  END LOOP;
END $$
"""


class PostgreSQLDatabases:
    """The session's databases on the PostgreSQL server, of one first state
    (`template`: a database to copy; None: empty), reused from test to
    test."""

    def __init__(self, admin, template=None):
        self.admin = admin
        self.template = template
        self.schema = None  # the first state's, read from the first database
        # The rows of the first state (those a migration writes, such as
        # 0005's store-list version): [(INSERT statement, rows)].
        self.seed = []
        self.free = []  # names of databases ready to hand out
        self.used = []  # names of databases handed back, to clean
        self.all = set()
        # A connection to each database, kept from one cleaning to the next
        # (connecting costs as much as the cleaning): {name: (engine, conn)}.
        self._cleaners = {}

    def _schema(self, conn):
        return [row[0] for row in conn.execute(text(SCHEMA))]

    def _rows(self, conn):
        seed = []
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalars()
        for table in tables.all():
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            rows = [dict(row._mapping) for row in result]
            if rows:
                names = ", ".join(f'"{c}"' for c in columns)
                values = ", ".join(f":{c}" for c in columns)
                seed.append((text(f'INSERT INTO "{table}" ({names}) VALUES ({values})'), rows))
        return seed

    def _cleaner(self, name):
        if name not in self._cleaners:
            engine = create_engine(_url(name), isolation_level="AUTOCOMMIT", poolclass=NullPool)
            self._cleaners[name] = (engine, engine.connect())
        return self._cleaners[name][1]

    def _forget_cleaner(self, name):
        engine, conn = self._cleaners.pop(name, (None, None))
        if engine is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass
            engine.dispose()

    def _clean(self, name):
        """Bring `name` back to the first state; False when it cannot be."""
        for attempt in (1, 2):
            try:
                return self._clean_on(self._cleaner(name))
            except Exception:  # a kept connection the server dropped (restarted)
                self._forget_cleaner(name)
                if attempt == 2:
                    return False  # the database is gone or broken: make another
        return False

    def _clean_on(self, conn):
        deadline = time.monotonic() + 10
        while conn.execute(text(END_OTHER_SESSIONS)).scalar():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        if self.template is None:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            return self._schema(conn) == self.schema
        if self._schema(conn) != self.schema:
            return False  # a test changed the schema itself
        conn.execute(text(EMPTY))
        for insert, rows in self.seed:
            conn.execute(insert, rows)
        return True

    def take(self):
        """The URL of a database in the first state."""
        while self.used:
            name = self.used.pop()
            if self._clean(name):
                self.free.append(name)
            else:
                self.all.discard(name)
                self._forget_cleaner(name)
                _drop(self.admin, name)
        if self.free:
            name = self.free.pop()
        else:
            name = _create(self.admin, self.template)
            self.all.add(name)
            if self.schema is None:
                engine = create_engine(_url(name), poolclass=NullPool)
                with engine.connect() as conn:
                    self.schema = self._schema(conn)
                    self.seed = self._rows(conn)
                engine.dispose()
        return _url(name)

    def give_back(self, url):
        self.used.append(make_url(url).database)

    def close(self):
        for name in self.all:
            self._forget_cleaner(name)
            _drop(self.admin, name)
        self.all.clear()


class SessionDatabases:
    """The databases of one test session: new empty ones, and migrated
    ones copied from a template migrated once (see the module's doc)."""

    def __init__(self, folder):
        self.folder = folder
        self._template_path = None
        if on_postgresql():
            self.admin = _admin()
            self._empty = PostgreSQLDatabases(self.admin)
            self._migrated = None
            self._template_name = None

    def _postgresql_migrated(self):
        if self._migrated is None:
            self._template_name = _create(self.admin)
            database.upgrade(_url(self._template_name))  # closes its connections
            self._migrated = PostgreSQLDatabases(self.admin, self._template_name)
        return self._migrated

    def _sqlite_template(self):
        if self._template_path is None:
            path = self.folder / "migrated.sqlite3"
            database.upgrade(sqlite_url(path))
            # Everything in the main file, so that copying it is enough.
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._template_path = path
        return self._template_path

    @contextmanager
    def empty(self, path):
        """A new, empty database (on SQLite, the file `path`, not yet
        created): its URL."""
        if not on_postgresql():
            yield sqlite_url(path)
            return
        url = self._empty.take()
        try:
            yield url
        finally:
            self._empty.give_back(url)

    @contextmanager
    def migrated(self, path):
        """A new database at the newest revision (on SQLite, the file
        `path`): its URL."""
        if not on_postgresql():
            with self.migrated_sqlite(path) as url:
                yield url
            return
        databases = self._postgresql_migrated()
        url = databases.take()
        try:
            yield url
        finally:
            databases.give_back(url)

    def sqlite_copy(self, path):
        """A SQLite file at the newest revision at `path`, as `cybermarket
        db upgrade` leaves one, whatever the run's backend: a copy of the
        template (for the tests of SQLite's own files, such as backups)."""
        shutil.copyfile(self._sqlite_template(), path)
        return path

    @contextmanager
    def migrated_sqlite(self, path):
        """A new SQLite database at the newest revision, the file `path`,
        on either run: for the tests that compare the two backends."""
        shutil.copyfile(self._sqlite_template(), path)
        yield sqlite_url(path)

    def close(self):
        if on_postgresql():
            self._empty.close()
            if self._migrated is not None:
                self._migrated.close()
                _drop(self.admin, self._template_name)
            self.admin.dispose()


def sqlite_url(path):
    return f"sqlite:///{path}"


# The tests that stop and start a whole cluster (marked outage) do it to
# scripts/with-postgres's second cluster, which no other test uses: its
# URL, the pg_ctl command that stops and starts it, and a lock file through
# which they take turns on it.
OUTAGE_DATABASE = os.environ.get("CYBERMARKET_TEST_OUTAGE_DATABASE", "")
PGCTL = os.environ.get("CYBERMARKET_TEST_PGCTL", "")
OUTAGE_LOCK = os.environ.get("CYBERMARKET_TEST_OUTAGE_LOCK", "")


def pg_ctl(action):
    """Run `$CYBERMARKET_TEST_PGCTL action` (a shell command prefix) on
    the cluster the outage tests stop."""
    return subprocess.run(
        f"{PGCTL} {action}", shell=True, capture_output=True, text=True, timeout=120
    )


def can_stop_the_cluster():
    """Whether this run has a PostgreSQL cluster a test may stop and start."""
    return bool(PGCTL and OUTAGE_DATABASE and OUTAGE_LOCK) and on_postgresql()


@contextmanager
def outage_database():
    """A new, empty database on the cluster a test may stop and start,
    held by this test alone until it ends (the outage tests of other
    workers wait for it); the cluster is started again, if the test left
    it stopped, before the database is dropped."""

    def restarted():
        if pg_ctl("status").returncode != 0:  # the test could not start it again
            pg_ctl("start")

    with open(OUTAGE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with fresh_postgresql_database(before_drop=restarted, server=OUTAGE_DATABASE) as url:
                yield url
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
