"""The locks in requirements/: what `make venv` installs, exact versions with
their hashes.  They must agree with pyproject.toml's ranges (a range moved
without `make lock` would install something the package does not allow),
and every line must be pinned and hashed (pip's hash-checking mode refuses
the whole install otherwise, so a hand-edited lock fails here first)."""

import re
from pathlib import Path

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"server": ROOT / "requirements" / "server.txt", "test": ROOT / "requirements" / "test.txt"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def locked(path):
    """{name: (version, [hashes])} of a lock written by `uv pip compile
    --generate-hashes`: a `name==version \\` line, then its `--hash=` lines."""
    pins = {}
    name = None
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if found := re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)", line):
            name = canonicalize_name(found[1])
            pins[name] = (found[2], [])
        elif found := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line):
            pins[name][1].append(found[1])
        else:
            raise AssertionError(f"{path.name}: not a pin or a hash: {line!r}")
    return pins


def requirements(extra=None):
    """The project's requirements for this Python, the extra's too (and the
    extras it names, such as test's report and lint)."""
    project = pyproject()["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    extras = [extra] if extra else []
    while extras:
        for text in project["optional-dependencies"][extras.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "cybermarket":
                extras.extend(requirement.extras)
            else:
                wanted.append(requirement)
    environment = default_environment()
    return [r for r in wanted if r.marker is None or r.marker.evaluate(environment)]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_line_of_a_lock_is_pinned_and_hashed(lock):
    pins = locked(LOCKS[lock])
    assert pins
    assert {name: hashes for name, (_, hashes) in pins.items() if not hashes} == {}


@pytest.mark.parametrize("lock, extra", [("server", None), ("test", "test")])
def test_a_lock_holds_every_requirement_within_its_range(lock, extra):
    pins = locked(LOCKS[lock])
    outside = {}
    for requirement in requirements(extra):
        name = canonicalize_name(requirement.name)
        version = pins.get(name, (None,))[0]
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            outside[str(requirement)] = version
    assert outside == {}, "run `make lock` after changing pyproject.toml's ranges"


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_holds_the_build_backend(lock):
    """make venv installs the project without build isolation: hatchling
    and what it needs for an editable install come from the lock."""
    pins = locked(LOCKS[lock])
    assert "hatchling" in pins and "editables" in pins


def test_the_reader_sees_a_range_the_lock_does_not_meet(tmp_path):
    """The check above can fail: a lock of an older Twisted than the range."""
    lock = tmp_path / "lock.txt"
    lock.write_text("twisted==24.3.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    pins = locked(lock)
    (twisted,) = [r for r in requirements() if r.name.startswith("twisted")]
    assert not twisted.specifier.contains(pins["twisted"][0])
