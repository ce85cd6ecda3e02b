"""End-to-end tests: the real `twistd -n cybermarket` process, spoken to over
TCP on the loopback interface by the blocking client in tests/wire.py,
written from the wire contract (shared wire-contract-v1.md).

Every server started here is stopped by a fixture (conftest's launch and
shared_live), whatever the test's outcome.  Nothing waits a fixed time:
every wait polls with a deadline.
"""

import re
import socket
import struct
import subprocess
import threading
import time

import msgpack
import pytest
from sqlalchemy import create_engine, func, select

from cybermarket.storage.models import merchants, order_lines, orders, products
from tests.command import run_here
from tests.live import FAST, ISO_UTC, PASSWORD, cents, rows, send_all_then_read_all, unique
from tests.scrape import delta, scrape
from tests.seed import seed_stores
from tests.server import (
    BIN,
    HOST,
    ORDERLY_EXIT_CODES,
    child_env,
    free_port,
    run_cli,
    run_twistd,
    wait_until,
)
from tests.wire import Client, frame, request


def invite_here(database_url, cwd):
    """As tests.server.invite, in this process."""
    result = run_here("invite", "--database", database_url, cwd=cwd)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().splitlines()[-1].strip()


def product_stock(conn, storename):
    return {
        row["product_id"]: row["stock"]
        for row in rows(conn.ok("LIST_PRODUCT", storename=storename))
    }


# --- the happy path -----------------------------------------------------------


def test_happy_path_over_tcp(launch, database_url):
    live = launch(database_url, *FAST)
    visitor = live.connect()
    assert visitor.call("PING")["status"] == 200

    code = live.server.invite()
    assert len(code) >= 16
    shop = live.merchant("corner", code=code)
    added = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="lamp", price="19.99", description="bright", stock=10
    )
    product_id = added["product_id"]
    assert isinstance(product_id, int)

    # The operator's code is single use.
    again = visitor.call(
        "MERCHANT_CREATE",
        storename="other",
        description="",
        email="other@example.com",
        password=PASSWORD,
        inviter=None,
        code=code,
    )
    assert again["status"] == 406, again

    stores = visitor.ok("LIST_MERCHANT")
    assert stores["columns"][:3] == ["storename", "description", "email"]
    assert [r["storename"] for r in rows(stores)] == ["corner"]
    listing = visitor.ok("LIST_PRODUCT", storename="corner")
    assert listing["columns"][:6] == [
        "product_id",
        "storename",
        "productname",
        "description",
        "price",
        "stock",
    ]
    (lamp,) = rows(listing)
    assert {k: lamp[k] for k in listing["columns"][:6]} == {
        "product_id": product_id,
        "storename": "corner",
        "productname": "lamp",
        "description": "bright",
        "price": "19.99",
        "stock": 10,
    }

    (alice,) = live.clients(["alice"])
    alice.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=2)
    alice.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=1)
    items = alice.ok("CLIENT_GET_ITEMS")
    assert items["columns"][:5] == ["storename", "product_id", "productname", "price", "quantity"]
    assert [r["quantity"] for r in rows(items)] == [3]
    assert alice.ok("CLIENT_GET_PRICE") == "59.97"

    order = alice.ok("CLIENT_CHECKOUT_ITEM")
    assert order["total"] == "59.97"
    assert rows(alice.ok("CLIENT_GET_ITEMS")) == []
    listed = rows(alice.ok("CLIENT_LIST_ORDERS"))
    assert [(o["order_id"], o["total"]) for o in listed] == [(order["order_id"], "59.97")]
    assert ISO_UTC.match(listed[0]["created_at"]), listed[0]
    lines = rows(alice.ok("CLIENT_GET_ORDER", order_id=order["order_id"]))
    assert [
        (r["storename"], r["product_id"], r["productname"], r["price"], r["quantity"])
        for r in lines
    ] == [("corner", product_id, "lamp", "19.99", 3)]

    assert product_stock(visitor, "corner") == {product_id: 7}
    assert shop.ok("MERCHANT_GET_PROFIT") == "59.97"
    sales = rows(shop.ok("MERCHANT_GET_SALES"))
    assert [(s["product_id"], s["quantity_sold"], s["revenue"]) for s in sales] == [
        (product_id, 3, "59.97")
    ]


# --- races between connections ----------------------------------------------


@pytest.mark.parametrize(
    "db_options", [(), ("--db-threads", "4")], ids=["default-db-threads", "4-db-threads"]
)
def test_checkout_race_for_the_last_units(request, launch, migrated_url, db_options):
    if db_options:
        live = launch(migrated_url, *FAST, *db_options)
    else:  # the shared server's are the default options: a store of the test's own there
        live = request.getfixturevalue("shared_live")
    scarce = unique("scarce")
    shop = live.store(scarce)
    product_id = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="widget", price="12.34", description="", stock=5
    )["product_id"]
    # One unique stem, then a letter before each number: unique("buyer4")
    # would give "buyer46", a name unique("buyer") gives too.
    racers = unique("racer")
    buyers = live.customers([f"{racers}n{i}" for i in range(10)])
    for buyer in buyers:
        buyer.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=1)

    responses = send_all_then_read_all(buyers, "CLIENT_CHECKOUT_ITEM")

    statuses = sorted(r["status"] for r in responses)
    assert statuses == [200] * 5 + [409] * 5, responses
    for buyer, response in zip(buyers, responses, strict=True):
        if response["status"] == 200:
            assert response["data"]["total"] == "12.34"
            assert rows(buyer.ok("CLIENT_GET_ITEMS")) == []
        else:
            assert "widget" in response["message"], response
            # All or nothing: the cart is as it was, and no order exists.
            assert [
                (r["product_id"], r["quantity"]) for r in rows(buyer.ok("CLIENT_GET_ITEMS"))
            ] == [(product_id, 1)]
            assert rows(buyer.ok("CLIENT_LIST_ORDERS")) == []
    assert product_stock(shop, scarce) == {product_id: 0}
    assert shop.ok("MERCHANT_GET_PROFIT") == "61.70"
    sales = rows(shop.ok("MERCHANT_GET_SALES"))
    assert [(s["product_id"], s["quantity_sold"], s["revenue"]) for s in sales] == [
        (product_id, 5, "61.70")
    ]


def test_checkout_race_with_mixed_carts(shared_live):
    live = shared_live
    north_name, south_name = unique("north"), unique("south")
    north = live.store(north_name)
    code = north.ok("MERCHANT_CREATE_INVITATION")
    south = live.merchant(south_name, code=code, inviter=north_name)

    catalog = {}  # name -> (product_id, store, price, initial stock)
    for conn, store, name, price, stock in (
        (north, north_name, "apple", "3.00", 4),
        (north, north_name, "bread", "1.25", 6),
        (south, south_name, "cheese", "7.50", 3),
        (south, south_name, "dates", "0.99", 100),
    ):
        pid = conn.ok(
            "MERCHANT_ADD_PRODUCT", productname=name, price=price, description="", stock=stock
        )["product_id"]
        catalog[name] = (pid, store, price, stock)

    # Every cart fits the initial stock on its own; together they ask for
    # 7 apples (4 in stock), 11 loaves (6) and 7 cheeses (3).
    carts = [
        {"apple": 1, "bread": 2, "cheese": 1},
        {"apple": 1, "dates": 3},
        {"bread": 2, "cheese": 1, "dates": 1},
        {"apple": 2, "bread": 1},
        {"cheese": 1, "dates": 2, "apple": 1},
        {"bread": 3, "cheese": 1},
        {"apple": 1, "bread": 1, "cheese": 1, "dates": 1},
        {"dates": 5, "cheese": 1},
        {"apple": 1, "bread": 1},
        {"bread": 1, "cheese": 1, "dates": 1},
    ]
    buyers = live.customers([unique("shopper") for _ in carts])
    for buyer, cart in zip(buyers, carts, strict=True):
        for name, quantity in cart.items():
            buyer.ok("CLIENT_ADD_ITEM", product_id=catalog[name][0], quantity=quantity)

    responses = send_all_then_read_all(buyers, "CLIENT_CHECKOUT_ITEM")

    assert {r["status"] for r in responses} <= {200, 409}, responses
    won = [i for i, r in enumerate(responses) if r["status"] == 200]
    lost = [i for i, r in enumerate(responses) if r["status"] == 409]
    assert won, "the first checkout to run must succeed"
    assert len(lost) >= 4, "seven carts want cheese and only three exist"

    visitor = live.connect()
    stock = {**product_stock(visitor, north_name), **product_stock(visitor, south_name)}
    sold = {name: 0 for name in catalog}
    revenue = {north_name: 0, south_name: 0}
    for i in won:
        buyer, cart, response = buyers[i], carts[i], responses[i]
        lines = rows(buyer.ok("CLIENT_GET_ORDER", order_id=response["data"]["order_id"]))
        # Every line of the cart is in the order, at the price of the time.
        expected = sorted(
            (catalog[name][1], catalog[name][0], name, catalog[name][2], quantity)
            for name, quantity in cart.items()
        )
        got = sorted(
            (r["storename"], r["product_id"], r["productname"], r["price"], r["quantity"])
            for r in lines
        )
        assert got == expected, (i, response)
        total = sum(cents(catalog[n][2]) * q for n, q in cart.items())
        assert cents(response["data"]["total"]) == total
        assert rows(buyer.ok("CLIENT_GET_ITEMS")) == []
        for name, quantity in cart.items():
            sold[name] += quantity
            revenue[catalog[name][1]] += cents(catalog[name][2]) * quantity
    ids_to_names = {pid: name for name, (pid, *_ignored) in catalog.items()}
    for i in lost:
        buyer, cart, response = buyers[i], carts[i], responses[i]
        in_cart = {
            ids_to_names[r["product_id"]]: r["quantity"] for r in rows(buyer.ok("CLIENT_GET_ITEMS"))
        }
        assert in_cart == cart, "a failed checkout must leave the cart as it was"
        assert rows(buyer.ok("CLIENT_LIST_ORDERS")) == []
        named = [name for name in cart if name in response["message"]]
        assert named, response
        for name in named:
            # Short then means short now: stock only went down since.
            assert stock[catalog[name][0]] < cart[name], (name, response)

    for name, (pid, _store, _price, initial) in catalog.items():
        assert stock[pid] >= 0
        assert stock[pid] == initial - sold[name], name
    assert cents(north.ok("MERCHANT_GET_PROFIT")) == revenue[north_name]
    assert cents(south.ok("MERCHANT_GET_PROFIT")) == revenue[south_name]
    for conn, store in ((north, north_name), (south, south_name)):
        sales = {s["product_id"]: s for s in rows(conn.ok("MERCHANT_GET_SALES"))}
        for name, (pid, owner, price, _initial) in catalog.items():
            if owner != store:
                continue
            if sold[name]:
                assert sales[pid]["quantity_sold"] == sold[name]
                assert cents(sales[pid]["revenue"]) == cents(price) * sold[name]
            else:
                assert pid not in sales


# --- restart ------------------------------------------------------------------


def test_two_servers_on_one_database_see_each_others_changes(launch, migrated_url):
    """Each server keeps the public pages it has answered, on SQLite and
    PostgreSQL; every change made through the other process must show at
    once all the same."""
    here = launch(migrated_url, *FAST)
    there = launch(migrated_url, *FAST)
    shop = there.store("corner")
    lamp = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="lamp", price="19.99", description="", stock=5
    )["product_id"]
    visitor = here.connect()

    def listed():
        return [
            (r["price"], r["stock"]) for r in rows(visitor.ok("LIST_PRODUCT", storename="corner"))
        ]

    assert listed() == listed() == [("19.99", 5)]
    shop.ok("SET_PRODUCT", product_id=lamp, price="17.50")
    assert listed() == [("17.50", 5)]
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=lamp, quantity=3)
    assert listed() == [("17.50", 8)]

    (alice,) = here.customers(["alice"])
    alice.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=2)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    assert listed() == [("17.50", 6)]
    assert product_stock(there.connect(), "corner") == {lamp: 6}

    shop.ok("MERCHANT_DEL_PRODUCT", product_id=lamp)
    assert listed() == []

    assert [r["storename"] for r in rows(visitor.ok("LIST_MERCHANT"))] == ["corner"]
    there.merchant("annex")  # signed up through the other process
    assert [r["storename"] for r in rows(visitor.ok("LIST_MERCHANT"))] == ["annex", "corner"]


def test_a_kept_page_stays_in_use_until_its_store_changes_in_another_process(launch, migrated_url):
    """One process serves a store's page from its cache (counted in its
    metrics) while another process's checkouts touch only another store;
    a change to the store itself, through the other process, shows at once."""
    metrics = free_port()
    here = launch(migrated_url, *FAST, "--metrics", f"tcp:{metrics}:interface={HOST}")
    there = launch(migrated_url, *FAST)
    corner = there.store("corner")
    lamp = corner.ok(
        "MERCHANT_ADD_PRODUCT", productname="lamp", price="19.99", description="", stock=5
    )["product_id"]
    vase = there.store("annex").ok(
        "MERCHANT_ADD_PRODUCT", productname="vase", price="4.00", description="", stock=9
    )["product_id"]
    visitor = here.connect()

    def listed(storename):
        return [
            (r["price"], r["stock"]) for r in rows(visitor.ok("LIST_PRODUCT", storename=storename))
        ]

    def hits_and_misses(do):
        before = scrape(metrics)
        do()
        after = scrape(metrics)
        return tuple(
            delta(before, after, "cybermarket_page_cache_total", result=result)
            for result in ("hit", "miss")
        )

    assert listed("corner") == [("19.99", 5)]
    assert hits_and_misses(lambda: listed("corner")) == (1, 0)
    (alice,) = there.customers([unique("alice")])
    alice.ok("CLIENT_ADD_ITEM", product_id=vase, quantity=2)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    assert hits_and_misses(lambda: listed("corner")) == (1, 0)  # still in use
    assert listed("annex") == [("4.00", 7)]
    corner.ok("SET_PRODUCT", product_id=lamp, price="17.50")
    assert hits_and_misses(lambda: listed("corner")) == (0, 1)
    assert listed("corner") == [("17.50", 5)]
    alice.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=1)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    assert listed("corner") == [("17.50", 4)]


def test_restart_keeps_all_data(launch, migrated_url):
    live = launch(migrated_url, *FAST)
    shop = live.merchant("lasting")  # signed up: the hash it keeps is the server's
    lamp = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="lamp", price="5.50", description="d", stock=10
    )["product_id"]
    vase = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="vase", price="2.00", description="", stock=3
    )["product_id"]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=vase)
    (bob,) = live.clients(["bob"])
    bob.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=3)
    order = bob.ok("CLIENT_CHECKOUT_ITEM")
    bob.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=2)  # left in the cart
    live.close_connections()

    live.server.restart()
    assert "Traceback" not in live.server.log, live.server.log

    visitor = live.connect()
    assert [r["storename"] for r in rows(visitor.ok("LIST_MERCHANT"))] == ["lasting"]
    assert product_stock(visitor, "lasting") == {lamp: 7}  # the vase stays off the shelf
    shop = live.connect()
    shop.ok("MERCHANT_LOGIN", login="lasting@example.com", password=PASSWORD)
    assert shop.ok("MERCHANT_GET_PROFIT") == "16.50"
    products_now = {r["product_id"]: r for r in rows(shop.ok("MERCHANT_LIST_PRODUCTS"))}
    assert (products_now[lamp]["stock"], products_now[lamp]["on_shelf"]) == (7, True)
    assert (products_now[vase]["stock"], products_now[vase]["on_shelf"]) == (3, False)
    sales = rows(shop.ok("MERCHANT_GET_SALES"))
    assert [(s["product_id"], s["quantity_sold"], s["revenue"]) for s in sales] == [
        (lamp, 3, "16.50")
    ]

    bob = live.connect()
    wrong = bob.call("CLIENT_LOGIN", login="bob", password="not the password")
    assert wrong["status"] == 401
    bob.ok("CLIENT_LOGIN", login="bob", password=PASSWORD)
    assert [(o["order_id"], o["total"]) for o in rows(bob.ok("CLIENT_LIST_ORDERS"))] == [
        (order["order_id"], "16.50")
    ]
    lines = rows(bob.ok("CLIENT_GET_ORDER", order_id=order["order_id"]))
    assert [(r["product_id"], r["price"], r["quantity"]) for r in lines] == [(lamp, "5.50", 3)]
    assert [(r["product_id"], r["quantity"]) for r in rows(bob.ok("CLIENT_GET_ITEMS"))] == [
        (lamp, 2)
    ]
    # And the restarted server carries on from there.
    assert bob.ok("CLIENT_CHECKOUT_ITEM")["total"] == "11.00"
    assert product_stock(visitor, "lasting") == {lamp: 5}
    assert shop.ok("MERCHANT_GET_PROFIT") == "27.50"


# --- the login throttle -------------------------------------------------------


def test_login_throttle_with_the_defaults(launch, migrated_url):
    live = launch(migrated_url, *FAST)
    live.customers(["victim", "bystander"])
    attacker = live.connect()
    for _ in range(10):
        response = attacker.call("CLIENT_LOGIN", login="victim", password="wrong password")
        assert response["status"] == 401, response
    # The eleventh attempt is refused even with the right password, on any
    # connection from the same address; but another login name from there
    # is not (protocol 1.2: 100 failures per address by default, so that
    # one person's wrong passwords do not lock out the others behind it).
    assert attacker.call("CLIENT_LOGIN", login="victim", password=PASSWORD)["status"] == 429
    fresh = live.connect()
    assert fresh.call("CLIENT_LOGIN", login="victim", password=PASSWORD)["status"] == 429
    assert fresh.call("CLIENT_LOGIN", login="bystander", password=PASSWORD)["status"] == 200
    # Other ops are not affected.
    assert fresh.call("PING")["status"] == 200


def test_login_works_again_after_the_window(launch, migrated_url):
    live = launch(migrated_url, *FAST, "--login-failures", "3", "--login-window", "4")
    (carol,) = live.customers(["carol"])
    carol.ok("CLIENT_LOGOUT")
    for _ in range(3):
        assert carol.call("CLIENT_LOGIN", login="carol", password="wrong password")["status"] == 401
    assert carol.call("CLIENT_LOGIN", login="carol", password=PASSWORD)["status"] == 429

    seen = []

    def logged_in():
        status = carol.call("CLIENT_LOGIN", login="carol", password=PASSWORD)["status"]
        seen.append(status)
        return status == 200

    wait_until(logged_in, timeout=30, interval=0.2, what="the login window to pass")
    assert set(seen) <= {429, 200}, seen
    assert carol.ok("CLIENT_LIST_ORDERS")["rows"] == []


def test_two_processes_share_one_login_budget(launch, migrated_url):
    """The failed-login counts live in the database: two processes on one
    database give an attacker one budget, not two."""
    budget = ("--login-failures", "4")
    here = launch(migrated_url, *FAST, *budget)
    there = launch(migrated_url, *FAST, *budget)
    here.customers(["victim", "target"])
    servers = (here, there)

    def connect(server, source):
        # Each part of the test from its own loopback address, so that
        # the peer address's count of one part does not block the next.
        return Client(server.port, HOST, source=source)

    # Failures spread over both processes count together.
    for i in range(4):
        conn = connect(servers[i % 2], "127.0.0.2")
        assert conn.call("CLIENT_LOGIN", login="victim", password="wrong password")["status"] == 401
        conn.close()
    for server in servers:
        with connect(server, "127.0.0.3") as conn:
            refused = conn.call("CLIENT_LOGIN", login="victim", password=PASSWORD)
            assert refused["status"] == 429, refused

    # Wrong logins sent at once through both processes: at most the budget
    # of them is checked; the rest are refused before their password is.
    conns = [connect(servers[i % 2], "127.0.0.4") for i in range(12)]
    try:
        responses = send_all_then_read_all(
            conns, "CLIENT_LOGIN", login="target", password="wrong password"
        )
    finally:
        for conn in conns:
            conn.close()
    statuses = sorted(response["status"] for response in responses)
    assert statuses == [401] * 4 + [429] * 8, statuses


# --- framing over TCP ----------------------------------------------------------


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    (length,) = struct.unpack(">I", exactly(4))
    return msgpack.unpackb(exactly(length), raw=False)


def closed_by_server(sock, timeout=15.0):
    """True once the server has closed the connection (EOF or reset);
    fails after `timeout` seconds of the connection staying open."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
        raise AssertionError(f"unexpected data: {data!r}")
    return False


def request_of_size(size, request_id=1):
    """A LIST_PRODUCT request body of exactly `size` bytes (its storename is
    far too long, so it is a 400 once read)."""

    def body(n):
        return msgpack.packb(
            {"id": request_id, "op": "LIST_PRODUCT", "args": {"storename": "x" * n}}
        )

    n = size
    while len(body(n)) > size:
        n -= 1
    assert len(body(n)) == size
    return body(n)


@pytest.mark.backend_free("the network layer")
def test_pipelined_requests_are_answered_in_order(shared_live):
    conn = shared_live.connect()
    # Fifty requests of several kinds in one write; ids descending, so that
    # answering in id order would show.
    kinds = [
        ("PING", {}, 200),
        ("LIST_MERCHANT", {}, 200),
        ("LIST_PRODUCT", {"storename": "nowhere"}, 404),
        ("NO_SUCH_OP", {}, 400),
        ("CLIENT_GET_ITEMS", {}, 401),
    ]
    plan = [(1000 - i, *kinds[i % len(kinds)]) for i in range(50)]
    conn.send_raw(b"".join(frame(request(op, rid, **args)) for rid, op, args, _ in plan))
    answers = [conn.receive() for _ in plan]
    assert [(a["id"], a["status"]) for a in answers] == [
        (rid, status) for rid, _, _, status in plan
    ]
    assert conn.call("PING")["status"] == 200


@pytest.mark.backend_free("the network layer")
def test_a_frame_written_one_byte_at_a_time(shared_live):
    empty = unique("empty")
    seed_stores(shared_live.database_url, [empty], PASSWORD)
    conn = shared_live.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = frame(request("PING", 7)) + frame(request("LIST_PRODUCT", 8, storename=empty, limit=5))
    for i in range(len(data)):
        conn.send_raw(data[i : i + 1])
    first, second = conn.receive(), conn.receive()
    assert (first["id"], first["status"]) == (7, 200)
    assert (second["id"], second["status"]) == (8, 200)
    assert second["data"]["rows"] == []


@pytest.mark.backend_free("the network layer")
def test_garbage_then_ping_on_the_same_connection(shared_live):
    conn = shared_live.connect()
    conn.send_raw(frame(b"\xc1\xc1 this is not msgpack"))
    answer = conn.receive()
    assert (answer["id"], answer["status"]) == (None, 400), answer
    conn.send_raw(frame(msgpack.packb([1, 2, 3])))
    assert conn.receive()["status"] == 400
    conn.send_raw(frame(msgpack.packb({"id": 5, "op": "PING", "args": {"extra": 1}})))
    answer = conn.receive()
    assert (answer["id"], answer["status"]) == (5, 400)
    assert "extra" in answer["message"]
    assert conn.call("PING") == {
        "id": conn.next_id,
        "status": 200,
        "message": "ok",
        "data": {"protocol": "1.3"},
    }


@pytest.mark.backend_free("the network layer")
def test_oversized_frame_gets_413_and_the_connection_is_closed(shared_live):
    live = shared_live
    conn = live.connect()
    # A frame of exactly the default limit is read (and is a plain 400).
    conn.send_raw(frame(request_of_size(65536, request_id=3)))
    answer = conn.receive()
    assert (answer["id"], answer["status"]) == (3, 400), answer
    assert "storename" in answer["message"]
    assert conn.call("PING")["status"] == 200
    # One byte more is refused: only the header is sent, the server must
    # not wait for the body.
    conn.send_raw(struct.pack(">I", 65537))
    answer = read_frame(conn.sock)
    assert (answer["id"], answer["status"]) == (None, 413), answer
    assert closed_by_server(conn.sock)
    # The server itself carries on.
    assert live.connect().call("PING")["status"] == 200


@pytest.mark.backend_free("the network layer")
def test_max_frame_option_is_honoured(launch, migrated_url):
    live = launch(migrated_url, "--max-frame", "1024")
    conn = live.connect()
    conn.send_raw(frame(request_of_size(1024, request_id=4)))
    answer = conn.receive()
    assert (answer["id"], answer["status"]) == (4, 400), answer
    assert conn.call("PING")["status"] == 200
    # Only the header of the too-large frame: the server must answer it
    # without waiting for the body (and no unread body can turn its close
    # into a reset that would swallow the answer).
    conn.send_raw(struct.pack(">I", 1025))
    answer = read_frame(conn.sock)
    assert (answer["id"], answer["status"]) == (None, 413), answer
    assert closed_by_server(conn.sock)
    assert live.connect().call("PING")["status"] == 200


# --- connections ----------------------------------------------------------------


@pytest.mark.backend_free("the network layer")
def test_idle_connection_is_closed(launch, migrated_url):
    live = launch(migrated_url, "--idle-timeout", "1")
    idle, busy = live.connect(), live.connect()
    assert idle.call("PING")["status"] == 200
    idle.sock.settimeout(0.2)
    deadline = time.monotonic() + 30
    closed = False
    while not closed and time.monotonic() < deadline:
        # The busy connection keeps talking meanwhile...
        assert busy.call("PING")["status"] == 200
        try:
            data = idle.sock.recv(1)
        except TimeoutError:
            continue
        except ConnectionResetError:
            data = b""
        assert data == b"", data
        closed = True
    assert closed, "the idle connection was not closed"
    # ...and is still open once the idle one has been closed.
    assert busy.call("PING")["status"] == 200


def test_sigterm_under_load(launch, migrated_url):
    database_url = migrated_url
    live = launch(database_url, *FAST)
    shop = live.store("busy")
    initial = 100_000
    product_id = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="bolt", price="2.50", description="", stock=initial
    )["product_id"]
    buyers = live.customers([f"loader{i}" for i in range(5)])
    live.connections.remove(shop)
    shop.close()

    pairs = 150  # add one unit, check out; repeated, all pipelined
    results = [[] for _ in buyers]
    errors = []
    answered = [threading.Event() for _ in buyers]

    def load(index, conn):
        try:
            batch = []
            first_id = conn.next_id + 1
            for _ in range(pairs):
                conn.next_id += 1
                batch.append(
                    frame(
                        request("CLIENT_ADD_ITEM", conn.next_id, product_id=product_id, quantity=1)
                    )
                )
                conn.next_id += 1
                batch.append(frame(request("CLIENT_CHECKOUT_ITEM", conn.next_id)))
            conn.send_raw(b"".join(batch))
            expected_id = first_id
            while True:
                try:
                    response = conn.receive()
                except (ConnectionError, OSError):
                    return  # closed by the server (or reset): the end
                assert response["id"] == expected_id, response
                expected_id += 1
                results[index].append(response)
                answered[index].set()
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            answered[index].set()

    threads = [
        threading.Thread(target=load, args=(i, c), daemon=True) for i, c in enumerate(buyers)
    ]
    for t in threads:
        t.start()
    for event in answered:
        assert event.wait(30), "no answer under load"
    live.server.terminate()
    code = live.server.wait(30)
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    assert not errors, errors
    assert code in ORDERLY_EXIT_CODES, live.server.log
    assert "Traceback" not in live.server.log, live.server.log

    statuses = [r["status"] for result in results for r in result]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert len(statuses) < 2 * pairs * len(buyers) or 503 in statuses, (
        "the shutdown should have met requests still in flight"
    )
    for result in results:
        # Once one request is refused, every later one on the connection is.
        first_refused = next((i for i, r in enumerate(result) if r["status"] == 503), len(result))
        assert all(r["status"] == 503 for r in result[first_refused:])

    checkouts = {
        r["data"]["order_id"]: r["data"]["total"]
        for result in results
        for r in result
        if r["status"] == 200 and isinstance(r.get("data"), dict)
    }
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            stock = db.execute(
                select(products.c.stock).where(products.c.id == product_id)
            ).scalar_one()
            sold = db.execute(
                select(func.coalesce(func.sum(order_lines.c.quantity), 0)).where(
                    order_lines.c.product_id == product_id
                )
            ).scalar_one()
            profit = db.execute(
                select(merchants.c.profit_cents).where(merchants.c.storename == "busy")
            ).scalar_one()
            line_sum = db.execute(
                select(
                    func.coalesce(func.sum(order_lines.c.price_cents * order_lines.c.quantity), 0)
                )
            ).scalar_one()
            order_rows = db.execute(select(orders.c.id, orders.c.total_cents)).all()
            per_order = dict(
                db.execute(
                    select(
                        order_lines.c.order_id,
                        func.sum(order_lines.c.price_cents * order_lines.c.quantity),
                    ).group_by(order_lines.c.order_id)
                ).all()
            )
    finally:
        engine.dispose()
    assert stock + sold == initial
    assert profit == line_sum == 250 * sold
    assert all(per_order.get(oid) == total for oid, total in order_rows), (
        "an order without its lines"
    )
    stored = dict(order_rows)
    for order_id, total in checkouts.items():
        assert stored.get(order_id) == cents(total), "an answered checkout was lost"
    assert len(stored) >= len(checkouts)


# --- the command line ----------------------------------------------------------


@pytest.mark.backend_free("the network layer")
def test_port_in_use_is_an_error(tmp_path, migrated_url):
    database_url = migrated_url  # at the newest revision: nothing to migrate before listening
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        log_path = tmp_path / "twistd.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    str(BIN / "twistd"),
                    "-n",
                    "--pidfile=",
                    "cybermarket",
                    "--listen",
                    f"tcp:{port}:interface={HOST}",
                    "--database",
                    database_url,
                ],
                cwd=tmp_path,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            # Up to 30 s in all; once the error is logged, 10 s to exit.
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                if "already in use" in log_path.read_text(errors="replace"):
                    deadline = min(deadline, time.monotonic() + 10)
                time.sleep(0.1)
            code = process.poll()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        text = log_path.read_text(errors="replace")
        assert code is not None, f"twistd still running with the port taken:\n{text[-2000:]}"
        assert code != 0
        assert "already in use" in text or "Couldn't listen" in text, text[-2000:]


@pytest.mark.backend_free("the network layer")
@pytest.mark.parametrize("options", [(), ("--reuse-port",)])
def test_port_in_use_is_one_line_without_a_traceback(tmp_path, migrated_url, options):
    database_url = migrated_url  # at the newest revision: nothing to migrate before listening
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        listen = f"tcp:{port}:interface={HOST}"
        result = run_twistd(
            "-n",
            "--pidfile=",
            "cybermarket",
            "--listen",
            listen,
            "--database",
            database_url,
            *options,
            cwd=tmp_path,
            timeout=60,
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    problems = [line for line in output.splitlines() if "#info]" not in line]
    assert len(problems) == 1, output
    assert problems[0].endswith(f"cannot listen on {listen}: address already in use"), output


@pytest.mark.backend_free("the command line's options")
def test_listen_without_an_endpoint_type_is_a_usage_error(tmp_path, database_url):
    result = run_twistd(
        "-n",
        "--pidfile=",
        "cybermarket",
        "--listen",
        "37269",
        "--database",
        database_url,
        cwd=tmp_path,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    first = output.splitlines()[0]  # the mistake first, not after the whole help
    assert "--listen: '37269' is not an endpoint description" in first
    assert "tcp:PORT:interface=ADDR" in first and "tcp:37269:interface=127.0.0.1" in first
    assert not list(tmp_path.iterdir()), "nothing may start before the options are checked"


def test_twistd_help_lists_the_options(tmp_path):
    result = run_twistd("cybermarket", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for option in ("--listen", "--database", "--max-frame", "--idle-timeout"):
        assert option in result.stdout, option


def test_cli_db_upgrade_current_and_invite(tmp_path, database_url):
    upgraded = run_cli("db", "upgrade", "--database", database_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    # The upgraded database as the other commands find it; they run in this
    # process (tests.command): as processes of their own, tests/test_cli.py.
    current = run_here("db", "current", "--database", database_url, cwd=tmp_path)
    assert current.returncode == 0, current.stdout + current.stderr
    first, second = (invite_here(database_url, tmp_path) for _ in range(2))
    assert len(first) >= 16 and len(second) >= 16
    assert first != second
    assert not re.search(r"\s", first)
