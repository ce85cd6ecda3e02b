"""The production Argon2 parameters.  Every other test hashes with a cheap
hasher (tests/harness.py), so only this one sees what the server itself
uses: the Hasher is built as `twistd cybermarket` builds it, and the PHC
string of one real hash carries the parameters the README promises
(Argon2id, 64 MiB, 3 passes, one lane)."""

import base64
import re

import pytest

from cybermarket.server import service
from cybermarket.server.options import Options
from tests.harness import Immediately, InlinePool

PASSWORD = "correct horse battery staple"
# $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, unpadded Base64.
PHC = re.compile(
    r"\$(?P<variant>argon2(?:id|i|d))\$v=(?P<version>\d+)"
    r"\$m=(?P<memory>\d+),t=(?P<passes>\d+),p=(?P<lanes>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


def unbase64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def hasher(tmp_path):
    """The server's Hasher from the server's own options and make_app(),
    with its jobs run inline instead of on its thread."""
    options = Options()
    options.parseOptions(["--database", f"sqlite:///{tmp_path / 'market.sqlite3'}"])
    app = service.make_app(options, Immediately())
    app.hasher.pool = InlinePool()
    yield app.hasher
    app.db.engine.dispose()


def answer(deferred):
    results = []
    deferred.addBoth(results.append)
    (result,) = results
    return result


def test_the_server_hashes_with_argon2id_64_mib_3_passes_one_lane(hasher):
    stored = answer(hasher.hash(PASSWORD, peer="10.0.0.1"))
    found = PHC.fullmatch(stored)
    assert found, stored
    assert found["variant"] == "argon2id"
    assert found["version"] == "19"  # Argon2 1.3
    assert int(found["memory"]) == 64 * 1024  # KiB: 64 MiB
    assert int(found["passes"]) == 3
    assert int(found["lanes"]) == 1  # one core per hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    # argon2-cffi's 16 bytes of salt and 32 of hash.
    assert (len(unbase64(found["salt"])), len(unbase64(found["hash"]))) == (16, 32)
    # And the server checks it (each hash costs a real 64 MiB: two in all).
    assert answer(hasher.verify(stored, PASSWORD, peer="10.0.0.1")) is True
