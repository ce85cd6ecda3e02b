"""The cache of public pages (cybermarket/server/pages.py): a page is served from
it only while the version of what it shows has not moved, whoever changed
it, on SQLite and PostgreSQL alike."""

from decimal import Decimal

import msgpack
import pytest

from cybermarket import codec
from cybermarket.codec import Packed
from cybermarket.server import pages
from cybermarket.server.handlers import catalog
from cybermarket.storage.database import Database
from cybermarket.storage.txn import Query
from tests.databases import on_postgresql
from tests.harness import Market
from tests.shop import add_product

SET_PRICE = Query("UPDATE products SET price_cents = ? WHERE id = ?")


@pytest.fixture
def other(migrated_url):
    """A second connection to the same database, as another server process
    would have."""
    db = Database(migrated_url, threads=1, connection_cache=pages.shared(256))
    yield db
    db.stop()


def set_price(db, product_id, cents):
    db.run_sync("set price", lambda txn: txn.run(SET_PRICE, cents, product_id))


def prices(market, storename="shop"):
    data = market.peer().ok("LIST_PRODUCT", storename=storename)
    return [row[4] for row in data["rows"]]


@pytest.fixture
def computed(monkeypatch):
    """How many times a LIST_PRODUCT page was read from the database."""
    count = []
    real = catalog._list_product

    def counting(*args):
        count.append(1)
        return real(*args)

    monkeypatch.setattr(catalog, "_list_product", counting)
    return count


def test_an_unchanged_page_is_read_once(market, computed):
    add_product(market.merchant("shop"), "apple", price="1.50")
    assert prices(market) == prices(market) == prices(market) == ["1.50"]
    assert len(computed) == 1


def test_the_page_cache_can_be_turned_off(migrated_url, computed):
    market = Market(migrated_url)
    market.app.db.connection_cache = None
    try:
        add_product(market.merchant("shop"), "apple")
        prices(market)
        prices(market)
        assert len(computed) == 2
    finally:
        market.close()


def test_a_change_on_this_connection_shows_at_once(market):
    shop = market.merchant("shop")
    product_id = add_product(shop, "apple", price="1.50", stock=3)
    assert prices(market) == ["1.50"]
    shop.ok("SET_PRODUCT", product_id=product_id, price="2.25")
    assert prices(market) == ["2.25"]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=product_id)
    assert prices(market) == []
    shop.ok("MERCHANT_PUT_ON_SHELF", product_id=product_id)
    assert prices(market) == ["2.25"]


def test_a_change_from_another_connection_shows_at_once(market, other):
    product_id = add_product(market.merchant("shop"), "apple", price="1.50")
    assert prices(market) == ["1.50"]
    set_price(other, product_id, 975)
    assert prices(market) == ["9.75"]
    set_price(other, product_id, 100)
    assert prices(market) == ["1.00"]


def test_a_new_store_from_another_connection_shows_in_the_store_list(market, other):
    market.merchant("alpha")
    listed = market.peer().ok("LIST_MERCHANT")
    assert [row[0] for row in listed["rows"]] == ["alpha"]
    other.run_sync(
        "add store",
        lambda txn: txn.run(
            Query(
                "INSERT INTO merchants (storename, storename_key, description, email,"
                " email_key, password_hash, profit_cents, created_at)"
                " SELECT 'beta', 'beta', '', 'beta@example.com', 'beta@example.com',"
                " password_hash, 0, created_at FROM merchants"
            )
        ),
    )
    listed = market.peer().ok("LIST_MERCHANT")
    assert [row[0] for row in listed["rows"]] == ["alpha", "beta"]


def test_a_commit_while_a_page_is_read_is_not_hidden_later(market, other, monkeypatch):
    """Another connection commits after the page's query but before it is
    stored: the stored page is older than the database, so it must not be
    served again."""
    product_id = add_product(market.merchant("shop"), "apple", price="1.50")
    real = catalog._list_product

    def then_another_commits(*args):
        page = real(*args)
        set_price(other, product_id, 500)
        return page

    monkeypatch.setattr(catalog, "_list_product", then_another_commits)
    assert prices(market) == ["1.50"]
    monkeypatch.setattr(catalog, "_list_product", real)
    assert prices(market) == ["5.00"]


class Undone(Exception):
    pass


def test_a_write_that_is_rolled_back_never_shows(market):
    """A write transaction sees its own changes before they are committed;
    what it lists must not outlive a rollback."""
    product_id = add_product(market.merchant("shop"), "apple", price="1.50")
    assert prices(market) == ["1.50"]
    db = market.app.db
    seen = []

    def change_list_and_fail(txn):
        txn.run(SET_PRICE, 999, product_id)
        seen.append(catalog.list_product(txn, None, "shop", 1000, market.app.settings.page_bytes))
        raise Undone()

    with pytest.raises(Undone):
        db.run_sync("undone", change_list_and_fail)
    (page,) = seen
    assert not isinstance(page, Packed)  # a write transaction does not cache
    assert [row[4] for row in page["rows"]] == [Decimal("9.99")]
    assert prices(market) == ["1.50"]


def test_a_rolled_back_read_leaves_the_cache_as_it_was(market):
    """A page is kept only from a transaction that writes nothing, so a
    rollback has nothing to undo in the cache."""
    add_product(market.merchant("shop"), "apple")
    prices(market)
    db = market.app.db
    txn = db.worker().connection()
    kept = dict(txn.cache.pages)
    assert kept
    with pytest.raises(Undone):
        db.run_sync("fails", lambda txn: (_ for _ in ()).throw(Undone()), write=False)
    assert dict(txn.cache.pages) == kept


# --- per-store versions ---------------------------------------------------------

STORE_VERSION = Query("SELECT page_version FROM merchants WHERE storename = ?")
LIST_VERSION = Query("SELECT version FROM store_list_version")


def version(market, storename):
    return market.app.db.run_sync("version", lambda txn: txn.value(STORE_VERSION, storename))


def list_version(market):
    return market.app.db.run_sync("version", lambda txn: txn.value(LIST_VERSION))


def page_cache(market):
    txn = market.app.db.worker().connection()
    return txn.cache


def test_a_checkout_in_one_store_leaves_another_stores_page_in_the_cache(market, computed):
    apple = add_product(market.merchant("orchard"), "apple", price="1.50", stock=5)
    add_product(market.merchant("dairy"), "milk", price="0.80", stock=5)
    assert prices(market, "dairy") == ["0.80"]
    assert prices(market, "orchard") == ["1.50"]
    cache = page_cache(market)
    before = (cache.hits, cache.misses, len(computed))
    alice = market.client("alice")
    alice.ok("CLIENT_ADD_ITEM", product_id=apple, quantity=2)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    assert prices(market, "dairy") == ["0.80"]  # kept: another store's checkout
    assert (cache.hits, cache.misses, len(computed)) == (
        before[0] + 1,
        before[1],
        before[2],
    )
    stock = [row[5] for row in market.peer().ok("LIST_PRODUCT", storename="orchard")["rows"]]
    assert stock == [3]  # read again: its own store's checkout
    assert (cache.misses, len(computed)) == (before[1] + 1, before[2] + 1)


def test_every_change_to_a_stores_page_moves_its_version_and_no_other(market):
    shop = market.merchant("shop")
    market.merchant("other")
    seen = [version(market, "shop")]
    others = version(market, "other")

    def moved():
        now = version(market, "shop")
        assert now > seen[-1]
        seen.append(now)
        assert version(market, "other") == others

    product_id = add_product(shop, "apple", price="1.50", stock=5)
    moved()
    shop.ok("SET_PRODUCT", product_id=product_id, price="2.00")
    moved()
    shop.ok("SET_PRODUCT", product_id=product_id, productname="green apple")
    moved()
    shop.ok("SET_PRODUCT", product_id=product_id, description="crisp")
    moved()
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=product_id, quantity=3)
    moved()
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=product_id)
    moved()
    shop.ok("MERCHANT_PUT_ON_SHELF", product_id=product_id)
    moved()
    alice = market.client("alice")
    alice.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=1)
    assert version(market, "shop") == seen[-1]  # a cart is not on the page
    alice.ok("CLIENT_CHECKOUT_ITEM")
    moved()
    shop.ok("SET_MERCHANT_DESCRIPTION", description="fresh fruit")
    moved()
    shop.ok("SET_MERCHANT_EMAIL", email="fruit@example.com")
    moved()
    shop.ok("SET_MERCHANT_STORENAME", storename="shop")  # the same name: still a write
    moved()


def test_the_store_list_version_moves_with_what_the_list_shows(market):
    first = list_version(market)
    shop = market.merchant("shop")
    created = list_version(market)
    assert created > first
    add_product(shop, "apple")
    assert list_version(market) == created  # products are not on the list
    shop.ok("SET_MERCHANT_DESCRIPTION", description="fresh fruit")
    assert list_version(market) > created
    listed = market.peer().ok("LIST_MERCHANT")
    assert [row[1] for row in listed["rows"]] == ["fresh fruit"]


@pytest.mark.skipif(
    on_postgresql(),
    reason="groups are SQLite's; on PostgreSQL no read shares a transaction with a write",
)
def test_a_page_read_in_a_group_with_writes_is_not_kept(market):
    """SQLite's groups (groupcommit.py) run a read-only request in the
    group's write transaction: its page may show the group's writes, which
    may yet roll back, so it is not kept."""
    product_id = add_product(market.merchant("shop"), "apple", price="1.50")
    assert prices(market) == ["1.50"]
    db = market.app.db
    seen = []

    def change_then_list(txn):
        txn.run(SET_PRICE, 999, product_id)
        txn.writing = False  # as the group marks a read-only request
        seen.append(catalog.list_product(txn, None, "shop", 1000, market.app.settings.page_bytes))
        raise Undone()

    with pytest.raises(Undone):
        db.run_sync("undone", change_then_list)
    assert isinstance(seen[0], Packed)
    assert b"9.99" in seen[0]  # it saw the group's write ...
    assert prices(market) == ["1.50"]  # ... which was not kept


# --- the cache itself -----------------------------------------------------------


def test_the_cache_keeps_at_most_its_size_newest_first():
    cache = pages.PageCache(3)
    stamp = (1, 0)
    for key in "abcd":
        cache.put(key, stamp, Packed(key.encode()))
    assert list(cache.pages) == ["b", "c", "d"]
    assert cache.get("b", stamp) == b"b"  # now the newest
    cache.put("e", stamp, Packed(b"e"))
    assert list(cache.pages) == ["d", "b", "e"]


def test_a_page_is_served_only_under_the_version_it_was_stored_with():
    cache = pages.PageCache(3)
    cache.put("a", (1, 0), Packed(b"a"))
    cache.put("b", (2, 0), Packed(b"b"))
    assert cache.get("a", (1, 0)) == b"a"
    assert cache.get("a", (1, 1)) is None  # the store's version moved
    assert cache.get("a", (3, 0)) is None  # the name is another store's now
    assert cache.get("b", (2, 0)) == b"b"  # another store's page stays
    assert (cache.hits, cache.misses) == (2, 2)


def test_a_page_too_big_is_not_kept():
    cache = pages.PageCache(3)
    cache.put("big", (1, 0), Packed(b"x" * (pages.MOST_BYTES + 1)))
    assert cache.get("big", (1, 0)) is None


# --- packed data on the wire ----------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"columns": ["a"], "rows": [[1, "x", None]], "next": None},
        [],
        "text",
        {"price": Decimal("5")},
    ],
)
def test_packed_data_is_sent_exactly_as_if_encoded_with_the_response(data):
    plain = {"id": 7, "status": 200, "message": "ok", "data": data}
    packed = dict(plain, data=Packed(codec.pack(data)))
    assert codec.encode(packed) == codec.encode(plain)
    decoded = msgpack.unpackb(codec.encode(packed), raw=False)
    assert list(decoded) == ["id", "status", "message", "data"]


def test_packed_data_in_a_map_too_big_for_msgpacks_short_header():
    response = {f"key{i}": i for i in range(20)}
    response["data"] = Packed(codec.pack([1, "two"]))
    decoded = msgpack.unpackb(codec.encode(response), raw=False)
    assert decoded == dict({f"key{i}": i for i in range(20)}, data=[1, "two"])
