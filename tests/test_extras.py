"""pandas and matplotlib are the report's extra (`cybermarket[report]`), not
dependencies of the server or the clients: nothing but the report (and the
clients' DataFrames) imports them, and without them the report says in
one line what to install."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

import cybermarket.storage
import cybermarket.tools
from cybermarket.client import blocking
from cybermarket.tools import cli
from tests.server import BIN, child_env

REPORT_LIBRARIES = ("pandas", "matplotlib")
NEEDS = (
    "cybermarket report: the report needs pandas and matplotlib: pip install 'cybermarket[report]'"
)

# What a server, a client or the `cybermarket` command imports to start.
LIGHT_MODULES = [
    "cybermarket.server.service",
    "cybermarket.client",
    "cybermarket.client.twisted_client",
    "cybermarket.tools.cli",
    "cybermarket.tools.shell",
    "twisted.plugins.cybermarket_plugin",
]


def without(monkeypatch, *names):
    """Make `import NAME` fail for each name, as when it is not installed,
    and forget the report module so that it is imported again."""
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "cybermarket.tools.report", raising=False)
    # `from cybermarket.tools import report` takes the package's attribute
    # when it is there, without importing.
    monkeypatch.delattr(cybermarket.tools, "report", raising=False)


@pytest.mark.parametrize("missing", REPORT_LIBRARIES)
def test_the_report_without_its_libraries_says_what_to_install(
    migrated_url, monkeypatch, capsys, missing
):
    without(monkeypatch, missing)
    assert cli.main(["report", "--database", migrated_url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == NEEDS + "\n"


def test_the_report_command_without_pandas_is_one_line(migrated_url, tmp_path):
    """The installed command, with a pandas that cannot be imported ahead of
    the real one on the path, as when it is not installed."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pandas.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pandas'\", name='pandas')\n"
    )
    env = child_env()
    env["PYTHONPATH"] = str(shadow)
    result = subprocess.run(
        [BIN / "cybermarket", "report", "--database", migrated_url],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == NEEDS + "\n"


def test_another_import_error_is_not_taken_for_a_missing_library(migrated_url, monkeypatch):
    """Only pandas and matplotlib themselves missing get the message; any
    other broken import keeps its own error."""
    monkeypatch.setitem(sys.modules, "cybermarket.storage.models", None)
    # The report and its statements (storage.reports, which imports the
    # models) are imported again, whatever an earlier test imported.
    monkeypatch.delitem(sys.modules, "cybermarket.tools.report", raising=False)
    monkeypatch.delattr(cybermarket.tools, "report", raising=False)
    monkeypatch.delitem(sys.modules, "cybermarket.storage.reports", raising=False)
    monkeypatch.delattr(cybermarket.storage, "reports", raising=False)
    with pytest.raises(ImportError) as raised:
        cli.main(["report", "--database", migrated_url])
    assert "pip install" not in str(raised.value)


def test_the_server_and_the_clients_import_neither_pandas_nor_matplotlib(tmp_path):
    probe = (
        "import importlib, json, sys\n"
        f"for name in {LIGHT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        f" if m.split('.')[0] in {REPORT_LIBRARIES!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_frame_without_pandas_says_what_to_install(monkeypatch):
    without(monkeypatch, "pandas")
    response = blocking.Response(1, 200, "ok", {"columns": ["a"], "rows": [[1]], "next": None})
    with pytest.raises(ImportError) as raised:
        _ = response.frame
    assert str(raised.value) == (
        "tables as DataFrames need pandas: pip install 'cybermarket[report]'"
    )
    # Data that is not a table needs no pandas.
    assert blocking.Response(1, 200, "ok", "0.00").frame is None


def test_a_table_without_pandas_sends_nothing(monkeypatch):
    without(monkeypatch, "pandas")
    sent = []
    client = SimpleNamespace(call=lambda op, **args: sent.append(op))
    with pytest.raises(ImportError, match=r"pip install 'cybermarket\[report\]'"):
        blocking.Client.table(client, "LIST_MERCHANT")
    assert sent == []
