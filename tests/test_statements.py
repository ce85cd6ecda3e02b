"""Every hand-written statement is checked against the migrated schema.

The handlers run fixed SQL on the driver's cursor (cybermarket/storage/txn.py),
which SQLAlchemy never sees: a column renamed in models.py and a migration
but not in a statement would otherwise fail only when a request runs it.
Here each statement, in the form the test backend runs, is compiled by the
database with EXPLAIN, which resolves every table, column, function and
conflict target but runs nothing:

- SQLite: `EXPLAIN <statement>` with nil for each parameter;
- PostgreSQL: `EXPLAIN <statement>` with nil for each parameter, bound by
  the server (psycopg binds them with no type, and PostgreSQL infers each
  from where it stands, as when the statement runs).

Statements are collected, not listed: every Query at the top level of the
modules that hold SQL, and every Query held by an object there (the
accounts' Kinds).
"""

import importlib
from pathlib import Path

import pytest

import cybermarket
from cybermarket.storage import database
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql

PACKAGE = Path(cybermarket.__file__).parent
# The modules that hold SQL, as globs under the package.
WHERE = ["server/handlers/*.py", "server/throttle.py", "storage/*.py"]


def modules():
    for pattern in WHERE:
        for path in sorted(PACKAGE.glob(pattern)):
            parts = path.relative_to(PACKAGE).with_suffix("").parts
            name = ".".join(("cybermarket",) + parts)
            yield importlib.import_module(name.removesuffix(".__init__"))


def statements():
    """{dotted name: Query} of every statement defined in those modules."""
    found = {}
    seen = set()

    def add(name, query):
        if id(query) not in seen:  # imported from another module: once
            seen.add(id(query))
            found[name] = query

    for module in modules():
        for name, value in vars(module).items():
            if isinstance(value, Query):
                add(f"{module.__name__}.{name}", value)
            elif type(value).__module__ == module.__name__ and hasattr(value, "__dict__"):
                # An object of a class of this module (not a class, function
                # or module, whose type is defined elsewhere).
                for attribute, held in vars(value).items():
                    if isinstance(held, Query):
                        add(f"{module.__name__}.{name}.{attribute}", held)
    return found


STATEMENTS = statements()
BACKEND = "postgresql" if on_postgresql() else "sqlite"


@pytest.fixture(scope="module")
def cursor(databases, tmp_path_factory):
    """A DBAPI cursor on a database migrated to the newest revision, shared
    by the module's tests (EXPLAIN changes nothing)."""
    with databases.migrated(tmp_path_factory.mktemp("statements") / "market.sqlite3") as url:
        engine = database.make_engine(url)
        raw = engine.raw_connection()
        try:
            yield raw.cursor()
        finally:
            raw.rollback()
            raw.close()
            engine.dispose()


def explain(cursor, query):
    """EXPLAIN the statement as this backend runs it, parameters all nil;
    the database error when it does not compile against the schema."""
    if BACKEND == "postgresql":
        text, marks = query.format, query.format.count("%s")
    else:
        text, marks = query.qmark, query.qmark.count("?")
    try:
        cursor.execute("EXPLAIN " + text, [None] * marks)
        return cursor.fetchall()
    finally:
        # On PostgreSQL an error aborts the transaction; nothing was done.
        cursor.connection.rollback()


def test_the_statements_are_found():
    names = set(STATEMENTS)
    # One of each kind of place: a handler module's constant, an object's
    # attribute, throttle's and storage's own.
    assert {
        "cybermarket.storage.orders.TAKE",
        "cybermarket.server.handlers.accounts.CLIENT.insert",
        "cybermarket.server.handlers.accounts.MERCHANT.set_hash",
        "cybermarket.server.throttle.RESERVE",
        "cybermarket.storage.invitations.INSERT",
        "cybermarket.storage.sessions.RENEW",
        "cybermarket.server.handlers.search.SQLITE_SEARCH_STORE",
        "cybermarket.server.handlers.search.POSTGRESQL_SEARCH_STORE.found3",
    } <= names
    assert len(names) >= 50, sorted(names)
    handlers = {n.split(".")[3] for n in names if n.startswith("cybermarket.server.handlers.")}
    assert handlers == {"accounts", "cart", "catalog", "invitations", "search", "store"}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_compiles_against_the_schema(cursor, name):
    query = STATEMENTS[name]
    if query.backend not in (None, BACKEND):
        pytest.skip(f"written for {query.backend} alone")
    plan = explain(cursor, query)
    assert plan, name


@pytest.mark.parametrize(
    "name, old, new",
    [
        ("cybermarket.storage.orders.TAKE", "AND stock >= ", "AND stocks >= "),
        ("cybermarket.server.handlers.accounts.CLIENT.by_name", "username_key", "user_key"),
        ("cybermarket.server.handlers.catalog.LIST_PRODUCT", "products", "product"),
        ("cybermarket.server.handlers.cart.ADD", "(client_id, product_id)", "(client_id)"),
    ],
)
def test_a_renamed_column_or_table_fails(cursor, name, old, new):
    """The check sees what a request would trip over: a column or a table
    that is not in the schema, a conflict target with no unique key."""
    query = STATEMENTS[name]
    assert old in query.qmark and old in query.format
    broken = Query("")
    broken.qmark = query.qmark.replace(old, new, 1)
    broken.format = query.format.replace(old, new, 1)
    with pytest.raises(Exception) as failed:
        explain(cursor, broken)
    assert type(failed.value).__name__ in (
        "OperationalError",  # sqlite3
        "UndefinedColumn",
        "UndefinedTable",
        "InvalidColumnReference",  # psycopg
    ), repr(failed.value)
