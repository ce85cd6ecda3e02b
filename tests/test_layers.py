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
"""

import ast
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
