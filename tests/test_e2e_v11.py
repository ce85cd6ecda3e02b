"""Protocol 1.1 end to end: real `twistd -n cybermarket` processes over TCP,
two of them on one database for the session tokens (conftest's launch)."""

import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.live import FAST, PASSWORD, rows, send_all_then_read_all
from tests.server import HOST, wait_until
from tests.wire import Client


def test_tokens_work_across_two_processes_on_one_database(launch, migrated_url):
    here = launch(migrated_url, *FAST)
    there = launch(migrated_url, *FAST)
    assert here.connect().ok("PING") == {"protocol": "1.3"}

    (alice,) = here.customers(["alice"])
    alice.ok("CLIENT_LOGOUT")
    token = alice.ok("CLIENT_LOGIN", login="alice", password=PASSWORD)["token"]
    second = there.connect()
    other = second.ok("CLIENT_LOGIN", login="alice", password=PASSWORD)["token"]

    # A login made on one process resumes on the other.
    moved = there.connect()
    assert moved.ok("RESUME", token=token) == {"role": "client", "name": "alice"}
    assert moved.ok("CLIENT_GET_PRICE") == "0.00"
    # Its logout there revokes it here, and only it.
    moved.ok("CLIENT_LOGOUT")
    assert here.connect().call("RESUME", token=token)["status"] == 401
    assert here.connect().ok("RESUME", token=other)["name"] == "alice"

    # A password change on one process revokes every token on both; its
    # new token works on the other.
    new = alice.ok("SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="fresh password")
    for server in (here, there):
        assert server.connect().call("RESUME", token=other)["status"] == 401
    assert there.connect().ok("RESUME", token=new["token"])["role"] == "client"
    # The connection that was logged in with a revoked token stays logged
    # in until it closes (docs/protocol.md).
    assert second.ok("CLIENT_GET_PRICE") == "0.00"


def test_a_restarted_server_resumes_logins_and_sweeps_revoked_tokens(launch, migrated_url):
    live = launch(migrated_url, *FAST)
    shop = live.merchant("corner")  # logged in, with a first token
    shop.ok("MERCHANT_LOGOUT")  # which this revokes
    token = shop.ok("MERCHANT_LOGIN", login="corner", password=PASSWORD)["token"]
    gone = live.connect()
    revoked = gone.ok("MERCHANT_LOGIN", login="corner", password=PASSWORD)["token"]
    gone.ok("MERCHANT_LOGOUT")
    live.close_connections()

    engine = create_engine(migrated_url, poolclass=NullPool)
    try:

        def tokens():
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM sessions")).scalar()

        assert tokens() == 3  # two revoked, one good
        live.server.restart()  # the sweep runs as the server starts
        wait_until(lambda: tokens() == 1, timeout=30, what="the sweep")
    finally:
        engine.dispose()
    conn = live.connect()
    assert conn.ok("RESUME", token=token) == {"role": "merchant", "name": "corner"}
    assert live.connect().call("RESUME", token=revoked)["status"] == 401


def test_search_over_tcp(launch, migrated_url):
    live = launch(migrated_url, *FAST)
    shop = live.store("Café Corner")
    ids = [
        shop.ok(
            "MERCHANT_ADD_PRODUCT",
            productname=name,
            price="3.50",
            description=description,
            stock=4,
        )["product_id"]
        for name, description in [
            ("Espresso cup", "white porcelain"),
            ("Saucer", "for an espresso cup"),
            ("Crème brûlée dish", ""),
        ]
    ]
    visitor = live.connect()
    page = visitor.ok("SEARCH_PRODUCT", query="ESPRESSO", limit=1)
    assert page["columns"][:6] == [
        "product_id",
        "storename",
        "productname",
        "description",
        "price",
        "stock",
    ]
    assert [r["product_id"] for r in rows(page)] == [ids[0]]
    rest = visitor.ok("SEARCH_PRODUCT", query="ESPRESSO", limit=1, after=page["next"])
    assert [r["product_id"] for r in rows(rest)] == [ids[1]] and rest["next"] is None
    found = visitor.ok("SEARCH_PRODUCT", query="creme brul", storename="café corner")
    assert [(r["productname"], r["storename"]) for r in rows(found)] == [
        ("Crème brûlée dish", "Café Corner")
    ]
    assert visitor.call("SEARCH_PRODUCT", query='"*"')["status"] == 400


def test_failed_resumes_sent_at_once_to_two_processes_stay_within_the_limit(launch, migrated_url):
    """The failed-login budget of an address holds for RESUMEs sent all at
    once, whichever process each reaches; a good RESUME from a blocked
    address is never refused (protocol 1.2), and other addresses are not
    affected."""
    budget = ("--login-failures-per-address", "4")
    here = launch(migrated_url, *FAST, *budget)
    there = launch(migrated_url, *FAST, *budget)
    (alice,) = here.customers(["alice"])
    alice.ok("CLIENT_LOGOUT")
    token = alice.ok("CLIENT_LOGIN", login="alice", password=PASSWORD)["token"]
    servers = (here, there)
    conns = [Client(servers[i % 2].port, HOST, source="127.0.0.5") for i in range(12)]
    try:
        responses = send_all_then_read_all(conns, "RESUME", token="not-a-token-" + "x" * 30)
        statuses = sorted(response["status"] for response in responses)
        assert statuses == [401] * 4 + [429] * 8, statuses
        good = conns[0].call("RESUME", token=token)
        assert good["status"] == 200, good
        blocked = conns[1].call("RESUME", token="not-a-token-" + "y" * 30)
        assert blocked["status"] == 429, blocked
    finally:
        for conn in conns:
            conn.close()
    with Client(there.port, HOST, source="127.0.0.6") as elsewhere:
        assert elsewhere.ok("RESUME", token=token) == {"role": "client", "name": "alice"}


def test_no_login_racing_a_password_change_keeps_a_token(launch, migrated_url):
    """Logins with the old password sent while a password change runs, at
    moments spread over it: whatever each answers, no token they get
    resumes once the change is done.  (A login that read the old hash
    before the change committed and issued its token after the change had
    revoked every token kept a token that resumed for ever: issue 23,
    item 5.)"""
    # Every racer's login that comes after the change is a wrong password:
    # the account's failure budget must not turn the race into 429s.
    live = launch(migrated_url, *FAST, "--login-failures", "1000")
    (owner,) = live.customers(["alice"])
    # The pace of the race, on this machine: a change with the server's
    # own hash (the seeded account's is a cheap one).
    started = time.monotonic()
    owner.ok("SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="password number 0")
    change = time.monotonic() - started
    password, kept = "password number 0", []
    for trial in range(1, 5):
        new = f"password number {trial}"
        racers = [Client(live.port, HOST) for _ in range(6)]
        owner.send("SET_CLIENT_PASSWORD", old_password=password, new_password=new)
        for racer in racers:
            # A change is two hashes, a login one: a login sent within the
            # change's second hash reads the old hash before the change
            # commits, and is checked after it.
            time.sleep(change / (len(racers) + 1))
            racer.send("CLIENT_LOGIN", login="alice", password=password)
        changed = owner.receive()
        assert changed["status"] == 200, changed
        for racer in racers:
            answer = racer.receive()
            assert answer["status"] in (200, 401), answer
            if answer["status"] == 200:
                with Client(live.port, HOST) as later:
                    if later.call("RESUME", token=answer["data"]["token"])["status"] != 401:
                        kept.append(trial)
            racer.close()
        password = new
    assert kept == [], "tokens from the old password that outlived its change"
