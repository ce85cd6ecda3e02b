"""The cache of public pages (cybermarket/server/pages.py): a page is served from
it only while nothing in the database has changed, whoever changed it."""

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
    db = Database(migrated_url, threads=1, connection_cache=pages.per_connection(256))
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


def test_an_unchanged_page_is_read_once_on_sqlite_and_every_time_on_postgresql(market, computed):
    add_product(market.merchant("shop"), "apple", price="1.50")
    assert prices(market) == prices(market) == prices(market) == ["1.50"]
    assert len(computed) == (3 if on_postgresql() else 1)


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


def test_a_rolled_back_read_empties_the_cache(market):
    add_product(market.merchant("shop"), "apple")
    prices(market)
    db = market.app.db
    _fairy, txn = db._connection()
    if on_postgresql():
        assert not txn.cache.pages
        return
    assert txn.cache.pages
    with pytest.raises(Undone):
        db.run_sync("fails", lambda txn: (_ for _ in ()).throw(Undone()), write=False)
    assert not txn.cache.pages


# --- the cache itself -----------------------------------------------------------


def test_the_cache_keeps_at_most_its_size_newest_first():
    cache = pages.PageCache(3)
    stamp = (1, 0)
    assert cache.get(stamp, "a") is None  # takes the stamp
    for key in "abcd":
        cache.put(stamp, key, Packed(key.encode()))
    assert list(cache.pages) == ["b", "c", "d"]
    assert cache.get(stamp, "b") == b"b"  # now the newest
    cache.put(stamp, "e", Packed(b"e"))
    assert list(cache.pages) == ["d", "b", "e"]


def test_a_new_stamp_empties_the_cache():
    cache = pages.PageCache(3)
    cache.get((1, 0), "a")
    cache.put((1, 0), "a", Packed(b"a"))
    assert cache.get((1, 0), "a") == b"a"
    assert cache.get((2, 0), "a") is None
    assert cache.get((1, 0), "a") is None  # an old stamp is no better
    cache.put((2, 0), "a", Packed(b"stale"))  # stored under a stamp gone by
    assert not cache.pages


def test_a_page_too_big_is_not_kept():
    cache = pages.PageCache(3)
    cache.get((1, 0), "big")
    cache.put((1, 0), "big", Packed(b"x" * (pages.MOST_BYTES + 1)))
    assert cache.get((1, 0), "big") is None


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
