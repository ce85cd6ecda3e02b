"""Ship and cancel of the same parts, at once, from two server processes on
one database (protocol 1.2, "Ship and cancel race safely"): for each
store's part, exactly one ship or one cancel succeeds and every other
attempt is 409; a cancelled part's stock comes back exactly once; each
store's profit ends as the total of its parts that are not cancelled, and
the stock as what it was less the units of those parts.

Two stores ship from both processes; the customer cancels every order
from both processes too, so that cancels also race each other.  On
PostgreSQL the part's row decides (a conditional UPDATE ... WHERE status =
'placed', the cancel function locking the order's parts first); SQLite
runs one writer at a time across processes, and the rules hold there
too."""

import threading
from collections import Counter

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.ledger import check_ledger
from tests.live import FAST, PASSWORD

ORDERS = 40
AT_ONCE = 8  # requests written before their answers are read
STOCK = 100_000
PRICES = {"north": "1.25", "south": "2.50"}


def pipelined(conn, op, order_ids):
    """`op` for each order, AT_ONCE written at a time: {order_id: answer}."""
    answers = {}
    for start in range(0, len(order_ids), AT_ONCE):
        batch = order_ids[start : start + AT_ONCE]
        sent = {conn.send(op, order_id=order_id): order_id for order_id in batch}
        for _ in batch:
            answer = conn.receive()
            answers[sent[answer["id"]]] = answer
    return answers


def part_statuses(url):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                (order_id, store): status
                for order_id, store, status in conn.execute(
                    text("SELECT order_id, storename, status FROM order_parts")
                )
            }
    finally:
        engine.dispose()


def test_ship_and_cancel_from_two_processes_balance_stock_and_profit(launch, migrated_url):
    one = launch(migrated_url, *FAST)
    two = launch(migrated_url, *FAST)
    stores = {name: one.store(name) for name in PRICES}
    products = {
        name: stores[name].ok(
            "MERCHANT_ADD_PRODUCT", productname=name, price=price, description="", stock=STOCK
        )["product_id"]
        for name, price in PRICES.items()
    }
    (buyer,) = one.customers(["buyer"])
    order_ids = []
    for i in range(ORDERS):
        buyer.ok("CLIENT_ADD_ITEM", product_id=products["north"], quantity=1 + i % 3)
        buyer.ok("CLIENT_ADD_ITEM", product_id=products["south"], quantity=1 + i % 5)
        order_ids.append(buyer.ok("CLIENT_CHECKOUT_ITEM")["order_id"])

    # Each store ships from one process, the customer cancels from both.
    shippers = {"north": stores["north"], "south": two.connect()}
    shippers["south"].ok("MERCHANT_LOGIN", login="south", password=PASSWORD)
    cancellers = [one.connect(), two.connect()]
    for conn in cancellers:
        conn.ok("CLIENT_LOGIN", login="buyer", password=PASSWORD)

    shipped, cancels = {}, [None, None]

    def ship(name):
        shipped[name] = pipelined(shippers[name], "MERCHANT_SHIP_ORDER", order_ids)

    def cancel(i):
        # The second canceller goes from the other end, to meet the first.
        ids = order_ids if i == 0 else order_ids[::-1]
        cancels[i] = pipelined(cancellers[i], "CLIENT_CANCEL_ORDER", ids)

    threads = [threading.Thread(target=ship, args=(name,), daemon=True) for name in PRICES]
    threads += [threading.Thread(target=cancel, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
        assert not thread.is_alive()

    statuses = part_statuses(migrated_url)
    outcomes = Counter()
    for order_id in order_ids:
        cancelled_by = Counter()
        for answers in cancels:
            answer = answers[order_id]
            assert answer["status"] in (200, 409), answer
            if answer["status"] == 200:
                cancelled_by.update(answer["data"]["cancelled"])
            else:
                assert answer["error"]["code"] == "not_placed", answer
        for name in PRICES:
            ship_answer = shipped[name][order_id]
            assert ship_answer["status"] in (200, 409), ship_answer
            won = (ship_answer["status"] == 200) + cancelled_by[name]
            # Exactly one of the ship and the two cancels changed the part.
            assert won == 1, (
                order_id,
                name,
                ship_answer,
                cancels[0][order_id],
                cancels[1][order_id],
            )
            expected = "shipped" if ship_answer["status"] == 200 else "cancelled"
            assert statuses[(order_id, name)] == expected
            outcomes[expected] += 1
    # Stock and profit: exactly the parts that are not cancelled.
    check_ledger(migrated_url, initial={pid: STOCK for pid in products.values()})
    for conn in (one, two):
        assert "Traceback" not in conn.server.log, conn.server.log
    # Not a test of the outcome's mix, but a race that never raced proves
    # little: say what happened when it fails.
    assert outcomes["shipped"] + outcomes["cancelled"] == 2 * ORDERS, outcomes
