"""The SQLite group committer: requests queued together share one COMMIT,
and each stays all or nothing on its own."""

import queue
import threading

import pytest

from cybermarket.errors import Conflict, Unavailable
from cybermarket.server.pages import shared
from cybermarket.storage import txn as sql
from cybermarket.storage.database import Database
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql

pytestmark = pytest.mark.skipif(on_postgresql(), reason="group commit is SQLite's")

INSERT = Query(
    "INSERT INTO invitations (code_hash, inviter_id, created_at, expires_at)"
    " VALUES (?, NULL, '2026-01-01 00:00:00.000000', '2026-01-02 00:00:00.000000')"
)
CODES = Query("SELECT code_hash FROM invitations ORDER BY code_hash")


class ThreadReactor:
    """callFromThread queues the call; the test runs them on its thread."""

    def __init__(self):
        self.calls = queue.SimpleQueue()

    def callFromThread(self, f, *args):
        self.calls.put((f, args))

    def run_calls(self, count):
        for _ in range(count):
            f, args = self.calls.get(timeout=30)
            f(*args)


@pytest.fixture
def db(migrated_url):
    reactor = ThreadReactor()
    database = Database(migrated_url, reactor=reactor, connection_cache=shared(256))
    assert database.group is not None
    database.start()
    yield database
    database.stop()


@pytest.fixture
def commits(monkeypatch):
    count = []
    real = sql.Txn.commit

    def counting(txn):
        count.append(1)
        real(txn)

    monkeypatch.setattr(sql.Txn, "commit", counting)
    return count


def insert(txn, code):
    txn.run(INSERT, code)
    return code


def insert_then_refuse(txn, code):
    txn.run(INSERT, code)
    raise Conflict("refused after writing")


def results(ds):
    out = []
    for d in ds:
        d.addBoth(out.append)
    return out


def blocked_first(db):
    """Occupy the database thread until the returned event is set, so that
    what is submitted meanwhile queues up as one group."""
    started, release = threading.Event(), threading.Event()

    def wait(txn):
        started.set()
        release.wait(30)
        return "first"

    first = db.run("wait", wait)
    assert started.wait(30)
    return first, release


def read_codes(db):
    out = results([db.run("read", lambda txn: txn.rows(CODES), write=False)])
    db.reactor.run_calls(1)
    return [row[0] for row in out[0]]


def test_requests_queued_together_share_one_commit(db, commits):
    first, release = blocked_first(db)
    later = [db.run("insert", insert, f"code{i}") for i in range(5)]
    release.set()
    out = results([first] + later)
    db.reactor.run_calls(6)
    assert out == ["first", "code0", "code1", "code2", "code3", "code4"]
    # One commit for the first request alone, one for the five together.
    assert len(commits) == 2
    assert read_codes(db) == [f"code{i}" for i in range(5)]


def test_a_failing_request_is_undone_alone(db):
    first, release = blocked_first(db)
    later = [
        db.run("insert", insert, "kept-a"),
        db.run("insert", insert_then_refuse, "undone"),
        db.run("insert", insert, "kept-b"),
    ]
    release.set()
    out = results([first] + later)
    db.reactor.run_calls(4)
    assert out[:2] == ["first", "kept-a"]
    assert out[2].check(Conflict) and out[2].value.message == "refused after writing"
    assert out[3] == "kept-b"
    assert read_codes(db) == ["kept-a", "kept-b"]


def test_a_failed_group_commit_fails_every_request(db, monkeypatch):
    first, release = blocked_first(db)
    later = [db.run("insert", insert, f"lost{i}") for i in range(3)]

    def broken_commit(txn):
        raise db.dbapi.OperationalError("disk I/O error")

    monkeypatch.setattr(sql.Txn, "commit", broken_commit)
    release.set()
    out = results([first] + later)
    db.reactor.run_calls(4)
    assert all(o.check(Unavailable) for o in out[1:]), out
    monkeypatch.undo()
    assert read_codes(db) == []


def test_a_lone_request_is_not_grouped(db, commits):
    out = results([db.run("insert", insert, "alone")])
    db.reactor.run_calls(1)
    assert out == ["alone"] and len(commits) == 1


def test_the_reads_of_a_group_are_answered_before_its_writes_commit(db, commits):
    """Reads queued with writes run first, in a transaction of their own,
    and are answered without waiting for the writes' COMMIT."""
    first, release = blocked_first(db)
    calls = db.reactor.calls
    write = db.run("insert", insert, "written")
    read = db.run("read", lambda txn: [row[0] for row in txn.rows(CODES)], write=False)
    release.set()
    out = results([first])
    db.reactor.run_calls(1)
    answered = []
    read.addCallback(lambda codes: answered.append(("read", codes)))
    write.addCallback(lambda code: answered.append(("write", code)))
    db.reactor.run_calls(2)
    assert out == ["first"] and calls.empty()
    # The read was delivered first, and did not see the write queued
    # before it; three commits: the first request's, the read's, the write's.
    assert answered == [("read", []), ("write", "written")]
    assert len(commits) == 3


# --- ship and cancel of one part in one group (protocol 1.2) ---------------------


def test_a_ship_and_a_cancel_of_one_part_in_one_group_one_wins(market, shop, alice, db):
    """Requests of a group run one after another in one transaction, each
    in its savepoint: the second of a ship and a cancel of the same part
    sees the first's change and is refused, and what it refused leaves the
    group's other work alone."""
    from cybermarket.errors import NotPlaced
    from cybermarket.server.handlers import cart, orders
    from tests.shop import add_product, buy, stock

    apple = add_product(shop, "apple", price="2.00", stock=10)
    first = buy(alice, (apple, 3))["order_id"]
    second = buy(alice, (apple, 1))["order_id"]
    me = {
        role: market.app.db.run_sync("id", lambda txn, q=q: txn.value(Query(q)))
        for role, q in (
            ("shop", "SELECT id FROM merchants WHERE storename = 'shop'"),
            ("alice", "SELECT id FROM clients WHERE username = 'alice'"),
        )
    }
    blocker, release = blocked_first(db)
    later = [
        db.run("ship", orders.ship_order, me["shop"], first, "DHL"),
        db.run("cancel", cart.cancel_order, me["alice"], first),
        db.run("cancel", cart.cancel_order, me["alice"], second),
        db.run("ship", orders.ship_order, me["shop"], second, None),
    ]
    release.set()
    out = results([blocker] + later)
    db.reactor.run_calls(5)
    assert out[1] is None  # the first order shipped ...
    assert out[2].check(NotPlaced) and out[2].value.order_status == "shipped"
    assert out[3] == {"refunded": cart.from_cents(200), "cancelled": ["shop"]}
    assert out[4].check(NotPlaced) and out[4].value.order_status == "cancelled"
    # ... and the second's unit came back once; the profit is the first's.
    assert stock(shop, apple) == 7
    assert shop.ok("MERCHANT_GET_PROFIT") == "6.00"
