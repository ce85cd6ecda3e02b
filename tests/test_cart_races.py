"""Cart lines added and removed while a checkout of the same cart runs: each
unit added (answered 200) is either in the order or still in the cart, and
a line removed (answered 200) is in no order; on every backend.

On PostgreSQL the checkout is one function (migrations 0006, 0008), whose
statements each see what has committed by the time they run: it read the
cart, then emptied the whole cart, so that lines added in between were
neither bought nor kept, and a line removed in between was bought all the
same (issue 23, item 6).  SQLite runs one writer at a time, so there the
tests hold the rules rather than catch a race."""

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from twisted.internet import task

from cybermarket.errors import NotFound
from cybermarket.server.handlers import cart
from cybermarket.storage.database import Database
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql
from tests.live import FAST, PASSWORD
from tests.shop import add_product, fill_cart

ME = Query("SELECT id FROM clients WHERE username = 'alice'")
STOCK = 1_000_000  # never short: every checkout of a cart that has lines succeeds

BOUGHT = text(
    "SELECT l.product_id, sum(l.quantity) FROM order_lines l"
    " JOIN orders o ON o.id = l.order_id JOIN clients c ON c.id = o.client_id"
    " WHERE c.username = :name GROUP BY l.product_id"
)
IN_CART = text(
    "SELECT l.product_id, l.quantity FROM cart_lines l"
    " JOIN clients c ON c.id = l.client_id WHERE c.username = :name"
)


def books(url, name):
    """(units in the customer's orders, units in their cart), by product."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            bought = Counter({p: int(q) for p, q in conn.execute(BOUGHT, {"name": name})})
            kept = Counter({p: int(q) for p, q in conn.execute(IN_CART, {"name": name})})
    finally:
        engine.dispose()
    return bought, kept


def balanced(added, removed, bought, kept):
    """The products whose units do not add up: {product: (added - removed,
    bought, in the cart)}."""
    products = set(added) | set(removed) | set(bought) | set(kept)
    return {
        p: (added[p] - removed[p], bought[p], kept[p])
        for p in products
        if added[p] - removed[p] != bought[p] + kept[p]
    }


# --- step by step (PostgreSQL: where a checkout and an add interleave) ----------


def waiting_on_locks(url, like):
    """How many sessions wait for a lock while running a statement like `like`."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE :like"
                ),
                {"like": like},
            ).scalar()
    finally:
        engine.dispose()


def settle(url, threads, like, waiting, timeout=30.0):
    """Until every thread has finished or `waiting` sessions wait for a lock
    on a statement like `like` (True), or the timeout passes (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = [t for t in threads if t.is_alive()]
        if not alive or waiting_on_locks(url, like) >= waiting:
            return True
        time.sleep(0.02)
    return False


class Run(threading.Thread):
    """One handler in one transaction, on a thread of its own: its result
    or error."""

    def __init__(self, db, func, *args):
        super().__init__(daemon=True)
        self.db, self.func, self.args = db, func, args
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.db.run_sync(self.func.__name__, self.func, self.args)
        except Exception as e:
            self.error = e


@pytest.mark.skipif(
    not on_postgresql(), reason="SQLite runs one write transaction at a time: nothing interleaves"
)
def test_lines_added_and_removed_while_a_checkout_waits(market, shop, alice, migrated_url):
    """The checkout is held at its second line (another transaction locks
    that product); meanwhile the customer adds a new line, adds to a line
    the checkout has read, and removes a line it has read."""
    apple, bread, chalk = (add_product(shop, name, stock=STOCK) for name in ("a", "b", "c"))
    fill_cart(alice, (apple, 2), (bread, 1))
    me = market.app.db.run_sync("me", lambda txn: txn.value(ME))
    db = Database(migrated_url, threads=4, reactor=task.Clock())
    holder = create_engine(migrated_url, poolclass=NullPool)
    try:
        with holder.connect() as conn:
            conn.execute(text("SELECT 1 FROM products WHERE id = :id FOR UPDATE"), {"id": bread})
            checkout = Run(db, cart.checkout, me)
            checkout.start()
            assert settle(migrated_url, [checkout], "%cybermarket_checkout%", 1)
            assert checkout.is_alive(), (checkout.result, checkout.error)

            new_line = Run(db, cart.add_item, me, chalk, 3)
            new_line.start()
            new_line.join(30)
            more = Run(db, cart.add_item, me, apple, 1)
            gone = Run(db, cart.remove_item, me, bread)
            for run in (more, gone):
                run.start()
            # Each either finishes at once or waits for the checkout.
            assert settle(migrated_url, [more, gone], "%cart_lines%", 2)
            conn.commit()  # the checkout goes on
        for run in (checkout, new_line, more, gone):
            run.join(30)
            assert not run.is_alive()
    finally:
        holder.dispose()
        db.stop()

    assert checkout.error is None and new_line.error is None and more.error is None
    added = Counter({apple: 3, bread: 1, chalk: 3})
    removed = Counter()
    if gone.error is None:
        removed[bread] = 1
    else:
        assert isinstance(gone.error, NotFound), gone.error
    bought, kept = books(migrated_url, "alice")
    assert balanced(added, removed, bought, kept) == {}
    # What the checkout read is what it bought; the rest stays in the cart.
    assert bought == {apple: 2, bread: 1}
    assert kept == {apple: 1, chalk: 3}


# --- real servers, real races ------------------------------------------------------

SHOPPERS = 3
CYCLES = 80  # per shopper: add to a line that stays, add a line and remove it
AT_ONCE = 4  # cycles written before their answers are read
CHECKERS = 2  # connections per shopper checking out the same cart meanwhile
CHECKOUTS = 20  # per checking connection


def shop_and_check_out(adder, checkers, kept_id, passing_id, seed):
    """One shopper's race: the adds and removes on one connection, a few
    cycles written at a time, checkouts of the same cart on the others.
    What was added and removed, by the answers."""
    rng = random.Random(seed)
    added, removed, statuses = Counter(), Counter(), Counter()

    def check_out(checker):
        for _ in range(CHECKOUTS):
            answer = checker.call("CLIENT_CHECKOUT_ITEM")
            statuses[answer["status"]] += 1  # 400: the cart was empty just then

    threads = [threading.Thread(target=check_out, args=(c,), daemon=True) for c in checkers]
    for thread in threads:
        thread.start()
    for _ in range(CYCLES // AT_ONCE):
        sent = []
        for _ in range(AT_ONCE):
            more, passing = rng.randint(1, 3), rng.randint(1, 3)
            adder.send("CLIENT_ADD_ITEM", product_id=kept_id, quantity=more)
            adder.send("CLIENT_ADD_ITEM", product_id=passing_id, quantity=passing)
            adder.send("CLIENT_REMOVE_ITEM", product_id=passing_id)
            sent.append((more, passing))
        for more, passing in sent:
            first, second, third = adder.receive(), adder.receive(), adder.receive()
            assert (first["status"], second["status"]) == (200, 200), (first, second)
            added[kept_id] += more
            added[passing_id] += passing
            # Before the add that line was gone (removed, or bought), so a
            # remove that succeeds removes what was just added; 404: a
            # checkout took it.
            assert third["status"] in (200, 404), third
            if third["status"] == 200:
                removed[passing_id] += passing
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()
    assert set(statuses) <= {200, 400}, statuses
    return added, removed


def test_adds_and_removes_during_checkouts_balance_every_unit(launch, migrated_url):
    """Shoppers each add and remove on one connection while two others
    check out the same cart, on two server processes: every unit added
    and not removed is bought once or still in the cart."""
    live = launch(migrated_url, *FAST, processes=2)
    shop = live.store("plenty")
    kept_id, passing_id = (
        shop.ok(
            "MERCHANT_ADD_PRODUCT", productname=name, price="1.00", description="", stock=STOCK
        )["product_id"]
        for name in ("kept", "passing")
    )
    names = [f"shopper{i}" for i in range(SHOPPERS)]
    adders = live.customers(names)
    checkers = []
    for name in names:
        mine = [live.connect() for _ in range(CHECKERS)]
        for checker in mine:
            checker.ok("CLIENT_LOGIN", login=name, password=PASSWORD)
        checkers.append(mine)

    outcomes = [None] * SHOPPERS

    def shopper(i):
        outcomes[i] = shop_and_check_out(adders[i], checkers[i], kept_id, passing_id, i)

    threads = [threading.Thread(target=shopper, args=(i,), daemon=True) for i in range(SHOPPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
        assert not thread.is_alive()

    off = {}
    for name, outcome in zip(names, outcomes, strict=True):
        assert outcome is not None, f"{name}'s race failed; see its thread's error"
        added, removed = outcome
        bought, kept = books(migrated_url, name)
        if balanced(added, removed, bought, kept):
            off[name] = balanced(added, removed, bought, kept)
    # {shopper: {product: (added less removed, bought, in the cart)}}
    assert off == {}, "units added or removed during checkouts that do not add up"
    assert "Traceback" not in live.server.log, live.server.log
