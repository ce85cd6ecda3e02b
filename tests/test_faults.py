"""Faults end to end: several server processes on one port and one
database, a process killed in the middle of a checkout storm, the database
going away and coming back, and SIGTERM under load.

Real `twistd -n cybermarket` processes, spoken to over TCP on the loopback
interface by the blocking client in tests/wire.py, written from the wire
contract (shared wire-contract-v1.md).  After each fault the books are read
straight from the database and checked (tests/ledger.py).

Every process (conftest's launch) and every load thread started here is
stopped by a fixture, whatever the test's outcome; nothing waits a fixed time: every wait polls
with a deadline.
"""

import random
import signal
import time
from collections import Counter

import pytest

from tests.databases import pg_ctl
from tests.ledger import check_ledger
from tests.live import FAST, PASSWORD, cents, rows, send_all_then_read_all
from tests.server import (
    ORDERLY_EXIT_CODES,
    serving_pid,
    serving_pids,
    wait_until,
)
from tests.storm import CROWD, Catalog, random_carts, shoppers

# A request that needs the database while it is down must be answered
# within this many seconds.
ANSWER_TIMEOUT = 10.0


# --- setting up a market ----------------------------------------------------------


def fill_carts(buyers, carts):
    """Put cart {product_id: quantity} i in buyers[i]'s cart; every add is
    written before any answer is read."""
    sent = []
    for buyer, cart in zip(buyers, carts, strict=True):
        for product_id, quantity in cart.items():
            sent.append(
                (buyer, buyer.send("CLIENT_ADD_ITEM", product_id=product_id, quantity=quantity))
            )
    for buyer, request_id in sent:
        response = buyer.receive()
        assert (response["id"], response["status"]) == (request_id, 200), response


def cart_of(conn):
    return {r["product_id"]: r["quantity"] for r in rows(conn.ok("CLIENT_GET_ITEMS"))}


def public_stock(conn, storename):
    """{product_id: stock} of a store's LIST_PRODUCT."""
    return {r["product_id"]: r["stock"] for r in rows(conn.ok("LIST_PRODUCT", storename=storename))}


def create_customer(conn, username):
    """CLIENT_CREATE over the wire, then CLIENT_LOGIN on `conn`."""
    created = conn.call(
        "CLIENT_CREATE", username=username, email=f"{username}@example.com", password=PASSWORD
    )
    assert created["status"] == 201, created
    conn.ok("CLIENT_LOGIN", login=username, password=PASSWORD)


def order_lines_of(conn, order_id):
    return sorted(
        (r["storename"], r["product_id"], r["productname"], r["price"], r["quantity"])
        for r in rows(conn.ok("CLIENT_GET_ORDER", order_id=order_id))
    )


def spread(live, conns):
    """The server process of each connection (each must have been answered
    at least once); asserts that every one was found."""
    pids = serving_pids([conn.sock for conn in conns], live.server.pids)
    assert None not in pids, (pids, live.server.pids)
    return pids


# --- racing checkouts ------------------------------------------------------------


def race_checkouts(buyers):
    """Every buyer checks out at once (all requests written before any
    answer is read); the responses, in buyers' order."""
    return send_all_then_read_all(buyers, "CLIENT_CHECKOUT_ITEM")


def check_race(live, catalog, buyers, carts, responses):
    """The outcome of a checkout race, against the contract: 200 or 409
    only; every won order holds exactly its buyer's cart at the prices of
    the time and empties the cart; every lost checkout leaves the cart as
    it was, records no order and names a product now short; every stock is
    its initial value less the units sold, never below zero, in the
    public listing and in the merchant's; each merchant's profit is the sum
    of its lines in the won orders, to the cent.  Returns the indexes of
    the winners and {order_id: total cents} of their orders."""
    assert {r["status"] for r in responses} <= {200, 409}, responses
    won = [i for i, r in enumerate(responses) if r["status"] == 200]
    lost = [i for i, r in enumerate(responses) if r["status"] == 409]

    sold, revenue, answered = Counter(), Counter(), {}
    for i in won:
        buyer, cart, data = buyers[i], carts[i], responses[i]["data"]
        lines = order_lines_of(buyer, data["order_id"])
        assert lines == sorted(catalog.line(p, q) for p, q in cart.items()), (i, data)
        assert cents(data["total"]) == sum(cents(r[3]) * r[4] for r in lines), (i, data)
        assert cart_of(buyer) == {}, "a checkout must empty the cart"
        for storename, product_id, _name, price, quantity in lines:
            sold[product_id] += quantity
            revenue[storename] += cents(price) * quantity
        answered[data["order_id"]] = cents(data["total"])

    visitor = live.connect()
    listed = {}
    for storename, shop in catalog.shops.items():
        listed.update(public_stock(visitor, storename))
        own = {r["product_id"]: r["stock"] for r in rows(shop.ok("MERCHANT_LIST_PRODUCTS"))}
        for product_id, (owner, _name, _price, initial) in catalog.products.items():
            if owner == storename:
                assert own[product_id] == initial - sold[product_id] >= 0, (product_id, own)
        assert cents(shop.ok("MERCHANT_GET_PROFIT")) == revenue[storename], storename
    assert listed == {pid: p[3] - sold[pid] for pid, p in catalog.products.items()}

    for i in lost:
        buyer, cart, response = buyers[i], carts[i], responses[i]
        assert cart_of(buyer) == cart, f"buyer {i}: a failed checkout must leave the cart as it was"
        assert rows(buyer.ok("CLIENT_LIST_ORDERS")) == [], f"buyer {i}: an order from a 409"
        named = [p for p in cart if catalog.products[p][1] in response["message"]]
        assert named, response
        # Short then means short now: stock has only gone down since.
        assert all(listed[p] < cart[p] for p in named), (i, response, listed)
    return won, answered


# --- a checkout storm ---------------------------------------------------------------


def restock(shop, product_id, quantity, restocked):
    """MERCHANT_RESTOCK_PRODUCT, recorded in `restocked` once answered 200."""
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=product_id, quantity=quantity)
    restocked[product_id] += quantity


# --- 1. several processes, one database --------------------------------------------


def test_four_processes_race_for_the_last_ten_units(launch, database_url):
    # On an empty database: the four processes bring the schema up to date
    # at once as they start, which must be safe.
    live = launch(database_url, *FAST, *CROWD, processes=4)
    catalog = Catalog()
    (product_id,) = catalog.open_shop(live, "scarce", [("widget", "12.34", 10)])
    buyers = live.customers([f"buyer{i}" for i in range(40)])

    pids = spread(live, buyers)
    assert len(set(pids)) > 1, f"all 40 connections went to one process of {live.server.pids}"

    carts = [{product_id: 1} for _ in buyers]
    fill_carts(buyers, carts)
    responses = race_checkouts(buyers)

    assert sorted(r["status"] for r in responses) == [200] * 10 + [409] * 30, Counter(
        r["status"] for r in responses
    )
    won, answered = check_race(live, catalog, buyers, carts, responses)
    assert len(won) == 10
    shop = catalog.shops["scarce"]
    assert {r["product_id"]: r["stock"] for r in rows(shop.ok("MERCHANT_LIST_PRODUCTS"))} == {
        product_id: 0
    }
    order_sum = sum(
        cents(price) * quantity
        for i in won
        for _, _, _, price, quantity in order_lines_of(buyers[i], responses[i]["data"]["order_id"])
    )
    assert cents(shop.ok("MERCHANT_GET_PROFIT")) == 10 * 1234 == order_sum
    check_ledger(database_url, catalog.initial, answered=answered)
    assert "Traceback" not in live.server.log, live.server.log


def test_four_processes_race_with_mixed_carts(launch, migrated_url):
    database_url = migrated_url
    live = launch(database_url, *FAST, *CROWD, processes=4)
    # Several products per cart, from two stores.  Each stock is about a
    # third of what the carts ask for together, and at least every single
    # cart's quantity, so that any cart could win alone.
    shelves = {
        "north": [("apple", "3.00"), ("bread", "1.25"), ("chalk", "0.99")],
        "south": [("dates", "7.50"), ("eggs", "2.10"), ("flour", "12.00")],
    }
    rng = random.Random(20261125)
    count = sum(len(items) for items in shelves.values())
    wanted = [
        {k: rng.randint(1, 3) for k in rng.sample(range(count), rng.randint(2, 4))}
        for _ in range(40)
    ]
    demand = Counter()
    for cart in wanted:
        demand.update(cart)
    stocks = iter(max(3, demand[k] // 3) for k in range(count))

    catalog = Catalog()
    ids = catalog.open_shop(live, "north", [(n, p, next(stocks)) for n, p in shelves["north"]])
    code = catalog.shops["north"].ok("MERCHANT_CREATE_INVITATION")
    ids += catalog.open_shop(
        live,
        "south",
        [(n, p, next(stocks)) for n, p in shelves["south"]],
        code=code,
        inviter="north",
    )
    carts = [{ids[k]: q for k, q in cart.items()} for cart in wanted]
    buyers = live.customers([f"shopper{i}" for i in range(len(carts))])
    pids = spread(live, buyers)
    assert len(set(pids)) > 1, f"all 40 connections went to one process of {live.server.pids}"
    fill_carts(buyers, carts)

    responses = race_checkouts(buyers)

    won, answered = check_race(live, catalog, buyers, carts, responses)
    assert won, "the first checkout to run must succeed"
    assert len(won) < len(buyers), "the carts ask for about three times the stock"
    check_ledger(database_url, catalog.initial, answered=answered)
    assert "Traceback" not in live.server.log, live.server.log


# --- 2. a process killed in the middle of a checkout storm --------------------------


def test_sigkill_during_a_checkout_storm(launch, storm, migrated_url):
    database_url = migrated_url
    live = launch(database_url, *FAST, processes=2)
    group = live.server
    catalog = Catalog()
    # Stock enough that the storm cannot run out however long a busy
    # machine makes it last: a sold-out product would stall the orders the
    # test waits for.
    products = catalog.open_shop(
        live, "north", [("apple", "3.00", 300_000), ("bread", "1.25", 200_000)]
    )
    code = catalog.shops["north"].ok("MERCHANT_CREATE_INVITATION")
    products += catalog.open_shop(
        live,
        "south",
        [("dates", "7.50", 150_000), ("eggs", "2.10", 400_000)],
        code=code,
        inviter="north",
    )
    restocked = Counter()
    crowd = shoppers(live, 6, "storm")
    pids = spread(live, [conn for _, conn in crowd])
    # The victim: the process serving the most shoppers.
    victim_pid, on_victim = Counter(pids).most_common(1)[0]
    victim = group.by_pid(victim_pid)
    survivor = next(s for s in group.servers if s is not victim)

    load = storm(group.port, crowd, random_carts(products, "kill"), batch=5, reconnect=True)
    load.wait_for_orders(30, what="orders before the kill")
    shop = live.connect()
    shop.ok("MERCHANT_LOGIN", login="north", password=PASSWORD)
    for product_id in products[:2]:
        restock(shop, product_id, 25, restocked)

    before_kill = load.orders
    code = victim.crash()
    assert code == -signal.SIGKILL, code
    # The shoppers of the dead process reconnect (to the survivor) and the
    # storm carries on.
    load.wait_for_orders(before_kill + 30, what="orders after the kill")
    wait_until(lambda: load.reconnects >= on_victim, 20, what="the victim's shoppers to reconnect")
    assert load.cut >= on_victim

    victim.start()
    assert survivor.running
    # A new connection that lands on the restarted process is served there.
    newcomer = None
    for _attempt in range(200):
        conn = live.connect()
        assert conn.call("PING")["status"] == 200
        if serving_pid(conn.sock, [victim.pid]) == victim.pid:
            newcomer = conn
            break
        conn.close()
        live.connections.remove(conn)
    assert newcomer is not None, "no connection reached the restarted process"
    create_customer(newcomer, "late")
    newcomer.ok("CLIENT_ADD_ITEM", product_id=products[3], quantity=1)
    late_order = newcomer.ok("CLIENT_CHECKOUT_ITEM")
    shop = live.connect()
    shop.ok("MERCHANT_LOGIN", login="south", password=PASSWORD)
    restock(shop, products[2], 40, restocked)
    load.wait_for_orders(load.orders + 20, what="orders after the restart")
    load.stop()

    # 200 or 409 only: a dead process loses its connections, not answers.
    assert set(load.statuses("CLIENT_ADD_ITEM")) == {200}, load.statuses("CLIENT_ADD_ITEM")
    assert set(load.statuses("CLIENT_CHECKOUT_ITEM")) <= {200, 409}, load.statuses()
    answered = load.answered()
    answered[late_order["order_id"]] = cents(late_order["total"])
    check_ledger(database_url, catalog.initial, restocked, answered)
    for server in (survivor, victim):
        assert server.running
        assert "Traceback" not in server.log, server.log


# --- 3. the database goes away and comes back -------------------------------------


def assert_answered_within(conn, op, status, seconds=ANSWER_TIMEOUT, **args):
    started = time.monotonic()
    try:
        response = conn.call(op, **args)
    except TimeoutError:
        raise AssertionError(f"{op}: no answer within {seconds:g} s") from None
    elapsed = time.monotonic() - started
    assert response["status"] in ((status,) if isinstance(status, int) else status), (op, response)
    assert elapsed < seconds, (op, elapsed)
    return response


@pytest.mark.database
@pytest.mark.outage
def test_database_down_then_back(launch, outage_database_url):
    database_url = outage_database_url
    live = launch(database_url, *FAST)
    server = live.server
    catalog = Catalog()
    (lamp,) = catalog.open_shop(live, "lasting", [("lamp", "4.00", 5)])
    shop = catalog.shops["lasting"]
    alice, bob = live.clients(["alice", "bob"])
    alice.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=1)
    bob.ok("CLIENT_LOGOUT")
    visitor = live.connect()
    assert visitor.call("PING")["status"] == 200
    # Enough connections to reach every database thread (8 by default).
    crowd = [live.connect(ANSWER_TIMEOUT) for _ in range(10)]
    for conn in [alice, bob, shop, visitor]:
        conn.sock.settimeout(ANSWER_TIMEOUT)
    answers = send_all_then_read_all(crowd, "LIST_PRODUCT", storename="lasting")
    assert {r["status"] for r in answers} == {200}, answers
    pid = server.pid

    try:
        stopped = pg_ctl("stop -m fast")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert_answered_within(visitor, "LIST_MERCHANT", 503)
        assert_answered_within(visitor, "LIST_PRODUCT", 503, storename="lasting")
        assert_answered_within(alice, "CLIENT_GET_ITEMS", 503)
        assert_answered_within(alice, "CLIENT_CHECKOUT_ITEM", 503)
        assert_answered_within(shop, "MERCHANT_GET_PROFIT", 503)
        assert_answered_within(shop, "MERCHANT_RESTOCK_PRODUCT", 503, product_id=lamp, quantity=1)
        assert_answered_within(bob, "CLIENT_LOGIN", 503, login="bob", password=PASSWORD)
        started = time.monotonic()
        answers = send_all_then_read_all(crowd, "LIST_PRODUCT", storename="lasting")
        assert Counter(r["status"] for r in answers) == {503: len(crowd)}, answers
        assert time.monotonic() - started < ANSWER_TIMEOUT
        # PING needs no data; this server still runs it as a (empty)
        # transaction, so either answer is in the contract, and a prompt one.
        assert_answered_within(visitor, "PING", (200, 503))
        assert server.running and server.pid == pid
    finally:
        if pg_ctl("status").returncode != 0:
            started_again = pg_ctl("start")
            assert started_again.returncode == 0, started_again.stdout + started_again.stderr

    # The same process serves again, on connections old and new.
    answers = send_all_then_read_all(crowd, "LIST_PRODUCT", storename="lasting")
    assert Counter(r["status"] for r in answers) == {200: len(crowd)}, answers
    assert cart_of(alice) == {lamp: 1}
    first = alice.ok("CLIENT_CHECKOUT_ITEM")
    assert first["total"] == "4.00"
    bob.ok("CLIENT_LOGIN", login="bob", password=PASSWORD)
    bob.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=2)
    second = bob.ok("CLIENT_CHECKOUT_ITEM")
    assert second["total"] == "8.00"
    carol = live.connect()
    create_customer(carol, "carol")
    assert [r["productname"] for r in rows(carol.ok("LIST_PRODUCT", storename="lasting"))] == [
        "lamp"
    ]
    assert [r["storename"] for r in rows(visitor.ok("LIST_MERCHANT"))] == ["lasting"]
    assert public_stock(visitor, "lasting") == {lamp: 2}
    assert shop.ok("MERCHANT_GET_PROFIT") == "12.00"
    assert server.running and server.pid == pid, "the server was restarted"
    check_ledger(
        database_url,
        catalog.initial,
        answered={first["order_id"]: 400, second["order_id"]: 800},
    )
    assert "Traceback" not in server.log, server.log


# --- 4. SIGTERM under load --------------------------------------------------------
# tests/test_e2e.py's test_sigterm_under_load covers one product whose stock
# never runs out; this one runs the storm over two stores with scarce stock,
# so that the shutdown meets checkouts that fail (409) as well as succeed,
# and checks the whole ledger.


def test_sigterm_during_a_checkout_storm_with_scarce_stock(launch, storm, migrated_url):
    database_url = migrated_url
    live = launch(database_url, *FAST)
    server = live.server
    catalog = Catalog()
    plenty = catalog.open_shop(live, "north", [("apple", "3.00", 100_000)])
    code = catalog.shops["north"].ok("MERCHANT_CREATE_INVITATION")
    scarce = catalog.open_shop(
        live, "south", [("dates", "7.50", 40), ("eggs", "2.10", 60)], code=code, inviter="north"
    )
    crowd = shoppers(live, 6, "loader")
    live.close_connections()
    # Shoppers 0 and 1 buy apples only and keep succeeding; the others mix
    # in the scarce products, which run out.
    apples = random_carts(plenty, "apples", lines=(1, 1))
    mixed = random_carts(plenty + scarce, "mixed", lines=(1, 3))
    load = storm(server.port, crowd, lambda s, n: (apples if s < 2 else mixed)(s, n), batch=10)

    def both_outcomes_seen():
        assert not load.errors, load.errors
        seen = load.statuses("CLIENT_CHECKOUT_ITEM")
        return seen[200] >= 20 and seen[409] >= 5

    wait_until(both_outcomes_seen, 30, what="checkouts both won and lost")
    server.terminate()
    code = server.wait(30)
    load.stop(timeout=30)

    assert code in ORDERLY_EXIT_CODES, (code, server.log)
    assert "Traceback" not in server.log, server.log
    assert set(load.statuses("CLIENT_ADD_ITEM")) <= {200, 503}, load.statuses("CLIENT_ADD_ITEM")
    assert set(load.statuses("CLIENT_CHECKOUT_ITEM")) <= {200, 409, 503}, load.statuses()
    for shopper in load.segments:
        for segment in shopper:
            statuses = [r["status"] for _, r in segment]
            # Requests read before the shutdown are answered; once one is
            # refused, every later one on the connection is.
            first_refused = statuses.index(503) if 503 in statuses else len(statuses)
            assert all(s == 503 for s in statuses[first_refused:]), statuses
    assert load.statuses()[503] or load.cut, "the shutdown should have met requests in flight"
    check_ledger(database_url, catalog.initial, answered=load.answered())
