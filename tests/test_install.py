"""Install tests: twistd finds the `cybermarket` plugin, and the operator
command works, from a working directory outside the project, both with the
editable install the tests run in and with a normal install from a wheel.

The normal install goes into a fresh virtualenv.  Its dependencies are not
downloaded again: a plain .pth file in the new environment's site-packages
names the site-packages directory of the test environment.  Python adds that
directory to sys.path but does not process the .pth files inside it, so the
editable install's hook (which puts the project root on sys.path) is not
picked up: whatever cybermarket code runs there comes from the wheel.
"""

import importlib.util
import json
import os
import stat
import sys
from pathlib import Path

import pytest

import twisted
from tests.server import (
    ORDERLY_EXIT_CODES,
    Server,
    invite,
    run_cli,
    run_command,
    run_twistd,
)

ROOT = Path(__file__).resolve().parent.parent  # the project
BUILD_TIMEOUT = 300

PROBE = r"""
import json, sys
from twisted.application.service import IServiceMaker
from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import getPlugins
import cybermarket
from cybermarket.storage.database import migrations_dir

def where(plugin):
    return getattr(sys.modules.get(type(plugin).__module__), "__file__", None)

plugins = {p.tapname: where(p) for p in getPlugins(IServiceMaker)}
parsers = {p.prefix: where(p) for p in getPlugins(IStreamServerEndpointStringParser)}
print(json.dumps({
    "cybermarket": cybermarket.__file__,
    "migrations": str(migrations_dir()),
    "plugins": plugins,
    "parsers": parsers,
    "path": sys.path,
}))
"""


def run(command, cwd, timeout=BUILD_TIMEOUT):
    result = run_command(command, cwd, timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def probe(python, cwd):
    """What an interpreter, run from `cwd`, imports and which plugins its
    twistd would see."""
    result = run([python, "-c", PROBE], cwd=cwd, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def is_under(path, directory):
    return Path(path).resolve().is_relative_to(Path(directory).resolve())


# --- the editable install -------------------------------------------------------


def test_editable_install_plugin_is_found_from_another_directory(tmp_path):
    found = probe(sys.executable, tmp_path)
    assert "cybermarket" in found["plugins"], sorted(found["plugins"])
    assert is_under(found["plugins"]["cybermarket"], ROOT / "twisted" / "plugins")
    assert is_under(found["cybermarket"], ROOT / "cybermarket")
    assert "reuseport" in found["parsers"], sorted(found["parsers"])
    assert is_under(found["parsers"]["reuseport"], ROOT / "twisted" / "plugins")


def test_editable_install_twistd_lists_the_plugin(tmp_path):
    result = run_twistd("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cybermarket" in result.stdout


# --- a normal install from a wheel ----------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project built as a wheel.  Without build isolation when the build
    backend is importable here; else pip fetches it into an isolated build
    environment."""
    out = tmp_path_factory.mktemp("wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "-w",
        out,
    ]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")
    run([*command, ROOT], cwd=out)
    (built,) = out.glob("cybermarket-*.whl")
    return built


@pytest.fixture(scope="module")
def normal(tmp_path_factory, wheel):
    """A fresh virtualenv with the wheel installed normally (no deps), the
    test environment's site-packages importable through a plain .pth line,
    and a twistd launcher of its own.  Returns the venv's directory."""
    venv = tmp_path_factory.mktemp("normal") / "venv"
    # Without a pip of its own (ensurepip takes longer than all the rest):
    # the test environment's pip installs into it, as into any other.
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "--no-input",
            "--disable-pip-version-check",
            wheel,
        ],
        cwd=venv.parent,
    )

    site = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=venv.parent,
        ).stdout.strip()
    )
    dependencies = Path(twisted.__file__).resolve().parent.parent
    # It must not be able to supply cybermarket itself.
    assert dependencies != ROOT and not (dependencies / "cybermarket" / "__init__.py").exists()
    (site / "_cybermarket_test_dependencies.pth").write_text(f"{dependencies}\n")

    # The dependencies' console scripts live in the test environment; write
    # twistd's launcher here the way an installer would, for this python.
    twistd = venv / "bin" / "twistd"
    twistd.write_text(
        f"#!{python}\n"
        "import sys\n"
        "from twisted.scripts.twistd import run\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(run())\n"
    )
    twistd.chmod(twistd.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return venv


def test_wheel_carries_the_plugin_and_the_migrations(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "twisted/plugins/cybermarket_plugin.py" in names
    assert "twisted/plugins/cybermarket_reuseport.py" in names
    assert "twisted/plugins/__init__.py" not in names  # must not shadow Twisted's
    assert "cybermarket/storage/migrations/env.py" in names
    assert any(
        n.startswith("cybermarket/storage/migrations/versions/") and n.endswith(".py")
        for n in names
    )


def requirements(wheel):
    """{extra or None: set of distribution names} from the wheel's METADATA."""
    import re
    import zipfile
    from email.parser import Parser

    archive = zipfile.ZipFile(wheel)
    (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(name).decode())
    found = {}
    for line in metadata.get_all("Requires-Dist"):
        requirement, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
        distribution = re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group().lower()
        found.setdefault(extra.group(1) if extra else None, set()).add(distribution)
    return found


def test_wheel_leaves_pandas_and_matplotlib_to_the_report_extra(wheel):
    needs = requirements(wheel)
    assert not {"pandas", "matplotlib"} & needs[None], needs[None]
    assert {"twisted", "sqlalchemy", "tabulate", "wcwidth"} <= needs[None]
    assert needs["report"] == {"pandas", "matplotlib"}
    # The suite tests the report: [test] brings what [report] does.
    assert {"pandas", "matplotlib", "pytest", "hypothesis"} <= needs["test"]


def test_normal_install_imports_from_the_new_venv_and_lists_the_plugin(normal, tmp_path):
    found = probe(normal / "bin" / "python", tmp_path)
    assert is_under(found["cybermarket"], normal), found["cybermarket"]
    assert str(ROOT) not in found["path"], "the editable install leaked in"
    assert "cybermarket" in found["plugins"], sorted(found["plugins"])
    assert is_under(found["plugins"]["cybermarket"], normal)
    assert "reuseport" in found["parsers"], sorted(found["parsers"])
    assert is_under(found["parsers"]["reuseport"], normal)
    migrations = Path(found["migrations"])
    assert is_under(migrations, normal) and migrations.name == "migrations"
    assert list((migrations / "versions").glob("*.py"))


def test_normal_install_twistd_help(normal, tmp_path):
    result = run_twistd("cybermarket", "--help", cwd=tmp_path, bin_dir=normal / "bin")
    assert result.returncode == 0, result.stdout + result.stderr
    for option in ("--listen", "--database", "--max-frame", "--idle-timeout"):
        assert option in result.stdout, option


def test_normal_install_db_upgrade(normal, tmp_path):
    bin_dir = normal / "bin"
    upgraded = run_cli(
        "db", "upgrade", "--database", "sqlite:///x.sqlite3", cwd=tmp_path, bin_dir=bin_dir
    )
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (tmp_path / "x.sqlite3").is_file()
    current = run_cli(
        "db", "current", "--database", "sqlite:///x.sqlite3", cwd=tmp_path, bin_dir=bin_dir
    )
    assert current.returncode == 0, current.stdout + current.stderr


def test_normal_install_serves(normal, tmp_path, database_url):
    bin_dir = normal / "bin"
    server = Server(database_url, workdir=tmp_path, bin_dir=bin_dir)
    try:
        server.start()
        code = invite(database_url, tmp_path, bin_dir=bin_dir)
        with server.client() as conn:
            assert conn.call("PING")["status"] == 200
            created = conn.call(
                "MERCHANT_CREATE",
                storename="wheelhouse",
                description="",
                email="wheel@example.com",
                password="a fine password",
                inviter=None,
                code=code,
            )
            assert created["status"] == 201, created
            assert conn.ok("LIST_MERCHANT")["rows"][0][0] == "wheelhouse"
        assert server.stop() in ORDERLY_EXIT_CODES, server.log
    finally:
        server.kill()
    assert str(normal / "bin" / "python") in server.log or os.fspath(normal) in server.log
