"""Product photos end to end, on a real `twistd cybermarket --web` process:
the blocking client's set_photo and remove_photo (http.client), the Twisted
client's (Agent), and the shell's set_photo and remove_photo commands; the
photo's path in the listing and what the path serves."""

import io
import subprocess
import urllib.error
import urllib.request

import pytest
from PIL import Image

from cybermarket.client.blocking import (
    BadCredentials,
    Client,
    InvalidArgument,
    NotFound,
    NotYours,
)
from tests import images as make
from tests.live import FAST, PASSWORD
from tests.seed import seed_stores
from tests.server import BIN, HOST
from tests.test_shell import SHELL_TIMEOUT, shell_env


@pytest.fixture
def server(launch, database_url):
    return launch(database_url, *FAST, web=True).server


def web(server):
    return f"http://{HOST}:{server.web_port}"


def merchant(server, storename):
    seed_stores(server.database_url, [storename], PASSWORD)
    client = Client(HOST, server.port, web=web(server))
    client.call("MERCHANT_LOGIN", check=True, login=storename, password=PASSWORD)
    return client


def add(client, name="lamp"):
    answer = client.call(
        "MERCHANT_ADD_PRODUCT", check=True, productname=name, price="5", description="", stock=2
    )
    return answer.data["product_id"]


def fetch(server, path):
    with urllib.request.urlopen(web(server) + path, timeout=30) as answer:
        return answer.status, answer.headers, answer.read()


@pytest.mark.backend_free("the photo clients")
def test_the_blocking_client_uploads_replaces_and_removes(server, tmp_path):
    shop = merchant(server, "shop")
    lamp = add(shop)
    picture = tmp_path / "lamp.jpg"
    picture.write_bytes(make.with_gps((2000, 1000)))
    path = shop.set_photo(lamp, str(picture))
    assert path.startswith(f"/photos/{lamp}/")
    listed = shop.call("LIST_PRODUCT", check=True, storename="shop").data
    assert listed["rows"][0][listed["columns"].index("photo")] == path
    status, headers, body = fetch(server, path + "?size=thumb")
    assert status == 200 and headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(body)).size == (400, 200)
    assert b"SpyCam" not in body

    other = tmp_path / "other.png"
    other.write_bytes(make.png())
    new = shop.set_photo(lamp, str(other))
    assert new != path
    with pytest.raises(urllib.error.HTTPError) as gone:
        fetch(server, path)
    assert gone.value.code == 404

    shop.remove_photo(lamp)
    assert shop.call("GET_PRODUCT", check=True, product_id=lamp).data["photo"] is None
    shop.close()


@pytest.mark.backend_free("the photo clients")
def test_the_blocking_client_raises_the_errors(server, tmp_path):
    shop = merchant(server, "shop")
    lamp = add(shop)
    svg = tmp_path / "x.svg"
    svg.write_bytes(make.SVG)
    with pytest.raises(InvalidArgument) as refused:
        shop.set_photo(lamp, str(svg))
    assert refused.value.field == "photo"
    with pytest.raises(NotFound) as missing:
        shop.set_photo(lamp + 100, str(svg))
    assert missing.value.what == "product"
    rival = merchant(server, "rival")
    good = tmp_path / "good.png"
    good.write_bytes(make.png())
    with pytest.raises(NotYours):
        rival.set_photo(lamp, str(good))
    anonymous = Client(HOST, server.port, web=web(server))
    with pytest.raises(BadCredentials):
        anonymous.set_photo(lamp, str(good))
    with pytest.raises(ValueError):
        Client(HOST, server.port).set_photo(lamp, str(good))  # no web endpoint
    for client in (shop, rival, anonymous):
        client.close()


@pytest.mark.backend_free("the photo clients")
def test_the_twisted_client_uploads_and_removes(server, tmp_path):
    seed_stores(server.database_url, ["tshop"], PASSWORD)
    picture = tmp_path / "p.png"
    picture.write_bytes(make.png((800, 800)))
    result = subprocess.run(
        [
            str(BIN / "python"),
            "-c",
            TWISTED_RUN,
            str(server.port),
            web(server),
            str(picture),
            PASSWORD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    path, listed, after = result.stdout.split()
    assert path.startswith("/photos/") and listed == path and after == "None"


# The Twisted client runs its reactor in a child process (one reactor per
# process, and the test process may have run one already).
TWISTED_RUN = """
import sys
from twisted.internet import defer, task
from cybermarket.client.twisted_client import connect

port, web, picture, PASSWORD = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

async def main(reactor):
    market = await connect(reactor, "127.0.0.1", port, web=web)
    await market.call("MERCHANT_LOGIN", check=True, login="tshop", password=PASSWORD)
    added = await market.call(
        "MERCHANT_ADD_PRODUCT", check=True, productname="p", price="1", description=""
    )
    product = added.data["product_id"]
    path = await market.set_photo(product, picture)
    listed = (await market.call("GET_PRODUCT", product_id=product)).data["photo"]
    await market.remove_photo(product)
    after = (await market.call("GET_PRODUCT", product_id=product)).data["photo"]
    print(path, listed, after)
    await market.close()

task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
"""


@pytest.mark.backend_free("the photo clients")
def test_the_shell_sets_and_removes_a_photo(server, tmp_path):
    seed_stores(server.database_url, ["sshop"], PASSWORD)
    picture = tmp_path / "p.png"
    picture.write_bytes(make.png())
    lines = [
        f"MERCHANT_LOGIN login=sshop password='{PASSWORD}'",
        "MERCHANT_ADD_PRODUCT productname=p price=1 description=x",
        f"set_photo 1 {picture}",
        "GET_PRODUCT product_id=1",
        "remove_photo 1",
        "set_photo 1",
        f"set_photo 1 {tmp_path / 'missing.png'}",
    ]
    result = subprocess.run(
        [
            str(BIN / "cybermarket"),
            "shell",
            "--host",
            HOST,
            "--port",
            str(server.port),
            "--web",
            web(server),
        ],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        env=shell_env(tmp_path),
        cwd=tmp_path,
        start_new_session=True,
    )
    out = result.stdout.splitlines()
    # The upload's path, then GET_PRODUCT's photo, then the removal.
    photo = [line for line in out if line.startswith("photo: /photos/1/")]
    assert len(photo) == 2 and photo[0] == photo[1], result.stdout
    assert out[-1] == "ok"
    assert "usage: set_photo PRODUCT_ID FILE" in result.stderr
    assert "missing.png" in result.stderr
    assert result.returncode == 2  # the usage errors


def status_of(server, path):
    try:
        return fetch(server, path)[0]
    except urllib.error.HTTPError as e:
        return e.code


def test_a_removal_through_one_process_is_404_at_once_in_another(launch, database_url, tmp_path):
    # Two server processes on one database, each keeping thumbnails in
    # memory: what one removes or replaces, the other stops serving from
    # the very next request.
    one = launch(database_url, *FAST, web=True).server
    two = launch(database_url, *FAST, web=True).server
    shop = merchant(one, "shop")
    lamp = add(shop)
    first, second = tmp_path / "first.png", tmp_path / "second.jpg"
    first.write_bytes(make.png())
    second.write_bytes(make.jpeg())
    old = shop.set_photo(lamp, str(first))
    for _ in range(2):  # kept by the second process, then served from there
        assert status_of(two, f"{old}?size=thumb") == 200
    shop.remove_photo(lamp)
    assert status_of(two, f"{old}?size=thumb") == 404
    # The same bytes again: the same path, served again.
    assert shop.set_photo(lamp, str(first)) == old
    assert status_of(two, f"{old}?size=thumb") == 200
    new = shop.set_photo(lamp, str(second))
    assert new != old
    assert status_of(two, f"{old}?size=thumb") == 404
    assert status_of(two, f"{new}?size=thumb") == 200
    shop.close()
