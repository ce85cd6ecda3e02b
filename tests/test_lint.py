"""`make lint`: ruff's checks, ruff's formatting and mypy pass on the tree,
and each fails on what it is there to catch (an unused import, a zip()
that does not say whether lengths must match, code not laid out as the
formatter lays it out, a wrong type).

The failures are shown on files of their own in a temporary directory,
checked with the project's configuration: the tree itself is never
touched.  Under `make test`, which runs `make lint` beside the suite, the
checks of the whole tree are left to it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the project
PYPROJECT = ROOT / "pyproject.toml"
TIMEOUT = 600


def run(*args, cwd=ROOT):
    """python -m args, in the test environment; the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def output(result):
    return result.stdout + result.stderr


def ruff_on(tmp_path, source, *command):
    """ruff's `command` (check, format --check) on a file holding `source`,
    with the project's configuration."""
    (tmp_path / "bad.py").write_text(source)
    config = ("--no-cache", "--config", str(PYPROJECT))
    return run("ruff", *command, *config, "bad.py", cwd=tmp_path)


# --- the tree is clean ------------------------------------------------------------

# make test runs make lint beside the suite and says so (CYBERMARKET_LINTED):
# these checks of the whole tree would be the same checks again.
tree_check = pytest.mark.skipif(
    os.environ.get("CYBERMARKET_LINTED") == "1", reason="make test runs make lint itself"
)


@tree_check
def test_ruff_finds_nothing_in_the_tree():
    result = run("ruff", "check", ".")
    assert result.returncode == 0, output(result)


@tree_check
def test_the_tree_is_laid_out_as_ruff_format_lays_it_out():
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, output(result)


@tree_check
def test_mypy_finds_nothing_in_the_tree():
    result = run("mypy")
    assert result.returncode == 0, output(result)
    assert "Success: no issues found" in result.stdout


# --- and it catches what it is there to catch ---------------------------------------


@pytest.mark.parametrize(
    "source, code",
    [
        ("import os\n\n\ndef f():\n    return 1\n", "F401"),  # pyflakes
        ("def pairs(a, b):\n    return list(zip(a, b))\n", "B905"),  # bugbear
        ("from typing import List\n\nNAMES: List[str] = []\n", "UP006"),  # pyupgrade
        ("import sys\nimport os\n\nprint(os, sys)\n", "I001"),  # isort
        ("x = 1  \n", "W291"),  # pycodestyle
    ],
)
def test_ruff_finds(tmp_path, source, code):
    result = ruff_on(tmp_path, source, "check")
    assert result.returncode == 1, output(result)
    assert code in result.stdout


def test_ruff_format_finds_code_it_would_lay_out_otherwise(tmp_path):
    result = ruff_on(tmp_path, "NAMES = {  'a':1,'b' :2}\n", "format", "--check")
    assert result.returncode == 1, output(result)
    assert "1 file would be reformatted" in output(result)


WRONG_TYPES = """
from cybermarket.storage.txn import Txn
from cybermarket.values import fold


def key(name: str) -> int:
    return fold(name)


def stock(txn: Txn) -> int:
    return txn.run("SELECT 1")


fold(3)
"""


def test_mypy_finds_a_wrong_type(tmp_path):
    """Checked with the project's configuration against the project's own
    annotations: a str returned as an int, a str where Txn.run takes a
    Query, an int where fold takes a str."""
    bad = tmp_path / "bad.py"
    bad.write_text(WRONG_TYPES)
    result = run("mypy", "--config-file", str(PYPROJECT), str(bad))
    assert result.returncode == 1, output(result)
    found = result.stdout
    assert 'bad.py:7: error: Incompatible return value type (got "str", expected "int")' in found
    assert 'bad.py:11: error: Argument 1 to "run" of "Txn" has incompatible type "str"' in found
    assert 'bad.py:14: error: Argument 1 to "fold" has incompatible type "int"' in found
    assert "Found 3 errors in 1 file" in found


# Strict code (pyproject.toml's overrides) annotates every function and says
# what a tuple or a dict holds; elsewhere mypy checks the annotations given.
LOOSE = """
def answer(request_id, op):
    return {"id": request_id, "op": op}


def parts() -> tuple:
    return ()
"""


def test_mypy_checks_the_request_path_strictly(tmp_path):
    """The same loose code, as the modules a request passes through from
    its frame to its handler (the TCP, WebSocket and HTTP carriers, the
    photo endpoint, the limits, the connection, the bodies' encodings, the
    op table) and as the command line's options, which are not on that
    path and not strict: only the first are refused."""
    strict = (
        "protocol",
        "websocket",
        "httpchannel",
        "photos",
        "limits",
        "connection",
        "bodies",
        "optable",
    )
    folder = tmp_path / "cybermarket" / "server"
    folder.mkdir(parents=True)
    for name in (*strict, "options"):
        (folder / f"{name}.py").write_text(LOOSE)
    files = [f"cybermarket/server/{name}.py" for name in (*strict, "options")]
    result = run("mypy", "--config-file", str(PYPROJECT), *files, cwd=tmp_path)
    found = result.stdout
    for name in strict:
        path = f"cybermarket/server/{name}.py"
        assert f"{path}:2: error: Function is missing a type annotation" in found, found
        assert f'{path}:6: error: Missing type arguments for generic type "tuple"' in found, found
    assert "options.py" not in found
    assert f"Found {2 * len(strict)} errors in {len(strict)} files" in found, found


# --- `make lint` runs them, and `make test` runs `make lint` with the suites -------


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_test_runs_make_lint_with_the_suites():
    """What make would run (make -n): the three checks and the suites, and
    the suites told that the checks run (CYBERMARKET_LINTED) only where they
    do."""
    # Not the flags of a make that runs this test (its jobserver's pipes),
    # nor the venv of `make test-newest`, which make exports as VENV.
    made = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV")
    env = {k: v for k, v in os.environ.items() if k not in made}
    result = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, output(result)
    lines = [line.strip() for line in result.stdout.splitlines()]
    checks = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"]
    assert all(check in lines for check in checks), lines
    suites = [line for line in lines if "-m pytest" in line]
    assert len(suites) == 2, lines
    linted = [line for line in lines if "CYBERMARKET_LINTED=1" in line]
    assert any(" lint " in f" {line} " for line in linted), lines
    # Alone, a suite checks the tree itself.
    alone = subprocess.run(
        ["make", "-n", "test-sqlite"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert "CYBERMARKET_LINTED" not in alone.stdout, alone.stdout


# --- the pages' JavaScript: ESLint and TypeScript's checker -------------------------

NODE_BIN = ROOT / "node_modules" / ".bin"
STATIC = Path("cybermarket") / "web" / "static"


def node_tool(name):
    """node_modules/.bin/`name`, installed by `make lint` (npm ci)."""
    tool = NODE_BIN / name
    if not tool.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing; `make lint` installs it (npm ci)")
        pytest.skip(f"{tool} is missing: run `make lint` (npm ci) first")
    return str(tool)


def node_run(*args, cwd=ROOT):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def js_tree(tmp_path, source):
    """A copy of the project's ESLint and TypeScript configurations in
    tmp_path, with one page module, bad.js, holding `source` where the
    pages' modules are; node_modules is the project's."""
    for config in ("eslint.config.js", "jsconfig.json"):
        shutil.copy(ROOT / config, tmp_path / config)
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    static = tmp_path / STATIC
    static.mkdir(parents=True)
    (static / "bad.js").write_text(source)
    return static / "bad.js"


@tree_check
def test_eslint_finds_nothing_in_the_pages():
    result = node_run(node_tool("eslint"), str(STATIC))
    assert result.returncode == 0, output(result)


@tree_check
def test_typescript_finds_nothing_in_the_pages():
    result = node_run(node_tool("tsc"), "-p", "jsconfig.json")
    assert result.returncode == 0, output(result)


# The cart's bug: a call to a function that exists nowhere, which the page
# only found out when a customer pressed Update.
UNDEFINED_CALL = """
export async function act(work) {
  await work();
  await rerender();
}
"""

WRONG_JS_TYPES = """
/** @param {number} cents */
export function euros(cents) {
  return cents / 100;
}

euros("12");
export const shout = (1).toUpperCase();
"""


def test_eslint_finds_a_call_to_an_undefined_function(tmp_path):
    js_tree(tmp_path, UNDEFINED_CALL)
    result = node_run(node_tool("eslint"), str(STATIC), cwd=tmp_path)
    assert result.returncode == 1, output(result)
    assert "'rerender' is not defined" in result.stdout
    assert "no-undef" in result.stdout


def test_typescript_finds_a_call_to_an_undefined_function(tmp_path):
    js_tree(tmp_path, UNDEFINED_CALL)
    result = node_run(node_tool("tsc"), "-p", "jsconfig.json", cwd=tmp_path)
    assert result.returncode != 0, output(result)
    assert "bad.js(4,9): error TS2304: Cannot find name 'rerender'." in result.stdout


def test_typescript_finds_a_wrong_type_in_jsdoc(tmp_path):
    """The JSDoc type of a parameter, and a method a number does not have."""
    js_tree(tmp_path, WRONG_JS_TYPES)
    result = node_run(node_tool("tsc"), "-p", "jsconfig.json", cwd=tmp_path)
    assert result.returncode != 0, output(result)
    found = result.stdout
    assert "bad.js(7,7): error TS2345" in found, found
    assert "bad.js(8,26): error TS2339: Property 'toUpperCase' does not exist" in found, found


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_lint_runs_eslint_and_typescript_after_installing_them():
    made = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV")
    env = {k: v for k, v in os.environ.items() if k not in made}
    result = subprocess.run(
        ["make", "-n", "-B", "lint"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, output(result)
    lines = [line.strip() for line in result.stdout.splitlines()]
    install = lines.index("npm ci --no-audit --no-fund")
    eslint = lines.index("node_modules/.bin/eslint cybermarket/web/static")
    tsc = lines.index("node_modules/.bin/tsc -p jsconfig.json")
    assert install < eslint < tsc, lines
