"""The layers of the package, read from every module's imports: the arrows
point down.

    cybermarket/tools/      the cybermarket command, shell, report
    cybermarket/client/     the Python clients
    cybermarket/server/     protocol, service, handlers
    cybermarket/storage/    database, transactions, schema, migrations
    cybermarket/            errors, values, codec, ops: the wire vocabulary

The server may use storage and the vocabulary; storage only the vocabulary's
errors and values (never the codec or the op table); clients and tools never
the server.

And every statement lives in storage: no module elsewhere holds SQL text
(PRAGMAs included), builds a Query or a SQLAlchemy statement, runs one on a
transaction, or hands SQL text to a driver's execute.
"""

import ast
import re
import sys
from pathlib import Path

import pytest

import cybermarket

PACKAGE = Path(cybermarket.__file__).parent

# layer -> modules (or packages) under cybermarket that it may not import
FORBIDDEN = {
    "vocabulary": {"server", "storage", "client", "tools"},
    "storage": {"server", "client", "tools", "codec", "ops"},
    "server": {"client", "tools"},
    "client": {"server", "storage", "tools"},
    "tools": {"server"},
}


def layer(path):
    part = path.relative_to(PACKAGE).parts[0]
    return part if part in FORBIDDEN else "vocabulary"


def imported(path):
    """The cybermarket modules a file imports, as their dotted names after
    the package ('storage.database', 'codec', ...)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n.split(".", 1)[1] for n in names if n.startswith("cybermarket.")}


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "versions" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    wrong = {name for name in imported(path) if name.split(".")[0] in FORBIDDEN[layer(path)]}
    assert not wrong, f"{layer(path)} imports {sorted(wrong)}"


def test_the_check_sees_a_wrong_arrow(tmp_path, monkeypatch):
    storage = tmp_path / "storage"
    storage.mkdir()
    bad = storage / "bad.py"
    bad.write_text("from cybermarket.codec import encode\nfrom cybermarket import ops\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert layer(bad) == "storage"
    assert {"codec.encode", "ops"} <= imported(bad)
    with pytest.raises(AssertionError):
        test_imports_point_down(bad)


def test_storage_reaches_into_no_other_objects_private_parts():
    """The job runners go through a worker's own methods (workers.py), not
    the Database's private attributes."""
    found = []
    for path in sorted((PACKAGE / "storage").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


# --- every statement in storage ----------------------------------------------

# A string that reads as the start of a statement: SELECT of a column list
# or a function, INSERT INTO, UPDATE ... SET, DELETE FROM, a WITH that
# names a CTE, or a PRAGMA that reads or sets one (PRAGMA name, = or ().
# Sentences that begin with those words ("with what failed last", "Delete
# revoked tokens", "Pragma settings differ") do not.
SQL = re.compile(
    r"\s*(SELECT\s+(DISTINCT\s+)?[\w.*]+(\s*,|\s*\(|\s+FROM\b|\s*$)"
    r"|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|WITH\s+(RECURSIVE\s+)?\w+\s+AS\b"
    r"|PRAGMA\s+[\w.]+\s*([=(;]|$))",
    re.IGNORECASE,
)
# What a Txn runs statements with, or hands the driver's connection out by.
RUNNERS = {"rows", "row", "value", "run", "run_many", "savepoint", "cursor", "raw"}
# What a driver's connection or cursor runs SQL text with.
EXECUTES = {"execute", "executemany", "executescript"}
# SQLAlchemy's statement builders, and the modules that offer them: a Core
# statement is a statement too.  (sqlalchemy.exc, .engine and the like are
# not among them: catching OperationalError builds nothing.)
BUILDERS = {"select", "insert", "update", "delete", "text", "func", "and_", "or_"}


def offers_builders(module):
    """Whether `module` is sqlalchemy or sqlalchemy.sql (or one of its own)."""
    return module in ("sqlalchemy", "sqlalchemy.sql") or module.startswith("sqlalchemy.sql.")


def text_of(node):
    """The text of a string literal; an f-string's with each {...} as x."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "x" for part in node.values
        )
    return None


def statements_outside_storage(path):
    """What in a module outside storage/ is SQL's: 'line: what', for each
    string that reads as a statement, each Query built or imported, each
    statement run on a transaction (txn.rows(...), ...), each of
    SQLAlchemy's statement builders imported or used through its module
    (sa.select), and each string handed to an execute (a driver's)."""
    found = []
    tree = ast.parse(path.read_text())
    # The names `import sqlalchemy [as sa]` binds, for sa.select(...).
    modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if offers_builders(alias.name)
    }
    # An f-string's parts are read with it, not on their own.
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        text = None if id(node) in parts else text_of(node)
        if text is not None and SQL.match(text):
            found.append(f"{node.lineno}: SQL text {text[:40]!r}")
        elif isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id == "Query")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "Query")
        ):
            found.append(f"{node.lineno}: Query(...)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "cybermarket.storage"
        ):
            found.extend(f"{node.lineno}: imports Query" for a in node.names if a.name == "Query")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in RUNNERS
            and isinstance(node.value, ast.Name)
            and node.value.id == "txn"
        ):
            found.append(f"{node.lineno}: txn.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and offers_builders(node.module or ""):
            found.extend(
                f"{node.lineno}: imports {node.module}.{a.name}"
                for a in node.names
                if a.name in BUILDERS
            )
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in BUILDERS
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in EXECUTES
            and node.args
            and text_of(node.args[0]) is not None
        ):
            found.append(f"{node.lineno}: execute(SQL text)")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


OUTSIDE_STORAGE = [p for p in MODULES if layer(p) != "storage"]


@pytest.mark.parametrize("path", OUTSIDE_STORAGE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_statements_live_in_storage(path):
    """A statement belongs in a cybermarket/storage/ module, in a function
    thing_txn(txn, ...) that the layer above calls (docs/architecture.md)."""
    assert statements_outside_storage(path) == []


def test_the_check_sees_a_statement_outside_storage(tmp_path):
    handler = tmp_path / "handler.py"
    handler.write_text(
        "from cybermarket.storage.txn import Query, Txn\n"
        "MINE = 'select id, productname FROM products WHERE merchant_id = ?'\n"
        "def count(txn: Txn, table: str) -> int:\n"
        "    txn.run(Query(f'DELETE FROM {table} WHERE id = ?'), 1)\n"
        "    return txn.value(LATER)\n"
        "LATER = 'WITH found AS (SELECT 1) SELECT * FROM found'\n"
        "HELP = 'with what failed last; Select the store from the list'\n"
    )
    assert statements_outside_storage(handler) == [
        "1: imports Query",
        "2: SQL text 'select id, productname FROM products WHE'",
        "4: txn.run",
        "4: Query(...)",
        "4: SQL text 'DELETE FROM x WHERE id = ?'",
        "5: txn.value",
        "6: SQL text 'WITH found AS (SELECT 1) SELECT * FROM f'",
    ]
    with pytest.raises(AssertionError):
        test_statements_live_in_storage(handler)


def test_the_check_sees_core_statements_and_pragmas_outside_storage(tmp_path):
    tool = tmp_path / "tool.py"
    tool.write_text(
        "import sqlite3\n"
        "import sqlalchemy as sa\n"
        "from sqlalchemy import and_, func, select\n"
        "from sqlalchemy.sql import text, or_\n"
        "from sqlalchemy.exc import OperationalError\n"
        "from sqlalchemy.sql.expression import insert, literal\n"
        "def copy(db: sqlite3.Connection, conn, table) -> None:\n"
        "    db.execute('pragma journal_mode=DELETE')\n"
        "    db.executescript(f'VACUUM INTO {table}')\n"
        "    conn.execute(sa.delete(table))\n"
        "CHECK = 'PRAGMA integrity_check'\n"
        "HELP = 'Pragma settings differ; Pragmatic: update the copy, select a store'\n"
    )
    assert statements_outside_storage(tool) == [
        "3: imports sqlalchemy.and_",
        "3: imports sqlalchemy.func",
        "3: imports sqlalchemy.select",
        "4: imports sqlalchemy.sql.text",
        "4: imports sqlalchemy.sql.or_",
        "6: imports sqlalchemy.sql.expression.insert",
        "8: execute(SQL text)",
        "8: SQL text 'pragma journal_mode=DELETE'",
        "9: execute(SQL text)",
        "10: sa.delete",
        "11: SQL text 'PRAGMA integrity_check'",
    ]
    with pytest.raises(AssertionError):
        test_statements_live_in_storage(tool)


@pytest.mark.parametrize(
    "words",
    [
        "database schema, backups and restores",
        "Copy a SQLite database with SQLite's online backup",
        "Select the store; update the price; delete the photo",
        "pragma: a word in a sentence",
    ],
)
def test_words_are_not_taken_for_statements(tmp_path, words):
    """Help texts and messages that begin with SQL's words are not SQL."""
    tool = tmp_path / "tool.py"
    tool.write_text(f"HELP = {words!r}\nprint(HELP)\n")
    assert statements_outside_storage(tool) == []
