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

Statements are collected where they live, not listed: every module of
cybermarket/storage/ (statements are nowhere else: tests/test_layers.py),
and in each every Query at its top level, in a dict there (one per role,
one per photo size), or held by an object there (the accounts' Kinds,
search's statements per rank).  The migrations are not among them: their
statements are DDL that tests/test_migrations.py runs.
"""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from cybermarket import storage
from cybermarket.storage import database
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql

STORAGE = Path(storage.__file__).parent


def module_names():
    """Every module of the storage package but the migrations'."""
    for found in pkgutil.walk_packages([str(STORAGE)], "cybermarket.storage."):
        if ".migrations" not in found.name:
            yield found.name


def modules():
    for name in sorted(module_names()):
        yield importlib.import_module(name)


def builds_a_query(module):
    """Whether the module's source calls Query(...)."""
    tree = ast.parse(Path(module.__file__).read_text())
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Query"
        for node in ast.walk(tree)
    )


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
            elif isinstance(value, dict):
                for key, held in value.items():
                    if isinstance(held, Query):
                        add(f"{module.__name__}.{name}[{key}]", held)
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
    # One of each kind of place: a module's constant, a dict's, an object's
    # attribute; the pages' versions and the readiness check's among them.
    assert {
        "cybermarket.storage.orders.TAKE",
        "cybermarket.storage.accounts.CLIENT.insert",
        "cybermarket.storage.accounts.MERCHANT.set_hash",
        "cybermarket.storage.throttle.RESERVE",
        "cybermarket.storage.invitations.INSERT",
        "cybermarket.storage.sessions.RENEW",
        "cybermarket.storage.sessions.INSERT[merchant]",
        "cybermarket.storage.photos.FIND[large]",
        "cybermarket.storage.search.SQLITE_SEARCH_STORE",
        "cybermarket.storage.search.POSTGRESQL_SEARCH_STORE.found3",
        "cybermarket.storage.catalog.STORE_VERSION",
        "cybermarket.storage.catalog.LIST_VERSION",
        "cybermarket.storage.health.REVISION",
    } <= names
    assert len(names) >= 100, sorted(names)
    # Every storage module that builds a statement has it collected.
    holders = {n.split(".")[2] for n in names}
    building = {m.__name__.split(".")[2] for m in modules() if builds_a_query(m)}
    assert holders == building, sorted(building - holders)


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
        ("cybermarket.storage.accounts.CLIENT.by_name", "username_key", "user_key"),
        ("cybermarket.storage.catalog.LIST_PRODUCT", "products", "product"),
        ("cybermarket.storage.cart.ADD", "(client_id, product_id)", "(client_id)"),
        ("cybermarket.storage.catalog.STORE_VERSION", "page_version", "page_versions"),
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
