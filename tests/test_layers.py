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

And every statement lives in storage: no module elsewhere holds SQL text,
builds a Query, or runs one on a transaction.
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
# or a function, INSERT INTO, UPDATE ... SET, DELETE FROM, or a WITH that
# names a CTE.  Sentences that begin with those words ("with what failed
# last", "Delete revoked tokens") do not.
SQL = re.compile(
    r"\s*(SELECT\s+(DISTINCT\s+)?[\w.*]+(\s*,|\s*\(|\s+FROM\b|\s*$)"
    r"|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|WITH\s+(RECURSIVE\s+)?\w+\s+AS\b)",
    re.IGNORECASE,
)
# What a Txn runs statements with, or hands the driver's connection out by.
RUNNERS = {"rows", "row", "value", "run", "run_many", "savepoint", "cursor", "raw"}


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
    string that reads as a statement, each Query built or imported, and
    each statement run on a transaction (txn.rows(...), ...)."""
    found = []
    tree = ast.parse(path.read_text())
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
