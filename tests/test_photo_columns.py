"""Protocol 1.3's photos in the ops: GET_PRODUCT, and the `photo` column of
LIST_PRODUCT, SEARCH_PRODUCT, MERCHANT_LIST_PRODUCTS and CLIENT_GET_ITEMS,
which a kept page never shows stale (the photos table's triggers move the
store's page version, migration 0011), on both backends."""

import pytest

from cybermarket.server import images
from cybermarket.storage import photos
from tests import images as make
from tests.shop import add_product, expect, records


def keep(market, product_id, upload=None):
    """Store a photo of the product as the upload endpoint does; its path."""
    photo = images.process(upload or make.png())
    thumb = photos.Image(photo.thumb.body, photo.thumb.content_type, 1, 1)
    large = photos.Image(photo.large.body, photo.large.content_type, 1, 1)
    return market.app.db.run_sync(
        "keep photo", photos.put, (product_id, photo.digest, thumb, large, 0)
    )


def remove(market, product_id):
    return market.app.db.run_sync("remove photo", photos.remove, (product_id,))


def listed(market, storename="shop"):
    data = market.peer().ok("LIST_PRODUCT", storename=storename)
    return {row["product_id"]: row["photo"] for row in records(data)}


@pytest.fixture
def lamp(shop):
    return add_product(shop, "lamp", price="9.00", description="a desk lamp", stock=3)


def test_get_product_answers_the_listing_columns_as_a_map(market, shop, lamp):
    product = market.peer().ok("GET_PRODUCT", product_id=lamp)
    assert product == {
        "product_id": lamp,
        "storename": "shop",
        "productname": "lamp",
        "description": "a desk lamp",
        "price": "9.00",
        "stock": 3,
        "photo": None,
    }
    row = records(market.peer().ok("LIST_PRODUCT", storename="shop"))[0]
    assert set(product) == set(row) and product == {**row, "price": "9.00"}


def test_get_product_is_404_for_an_unknown_product_or_one_off_the_shelf(market, shop, lamp):
    expect(market.peer(), 404, "GET_PRODUCT", product_id=lamp + 1000)
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=lamp)
    expect(market.peer(), 404, "GET_PRODUCT", product_id=lamp)


def test_get_product_checks_its_argument(market):
    expect(market.peer(), 400, "GET_PRODUCT", product_id="seven")
    expect(market.peer(), 400, "GET_PRODUCT")


def test_the_photo_column_is_the_path_everywhere(market, shop, lamp):
    path = keep(market, lamp)
    assert path.startswith(f"/photos/{lamp}/")
    assert listed(market) == {lamp: path}
    assert market.peer().ok("GET_PRODUCT", product_id=lamp)["photo"] == path
    mine = records(shop.ok("MERCHANT_LIST_PRODUCTS"))
    assert [r["photo"] for r in mine] == [path]
    found = records(market.peer().ok("SEARCH_PRODUCT", query="lamp"))
    assert [r["photo"] for r in found] == [path]
    alice = market.client("alice")
    alice.ok("CLIENT_ADD_ITEM", product_id=lamp, quantity=1)
    assert [r["photo"] for r in records(alice.ok("CLIENT_GET_ITEMS"))] == [path]


def test_a_product_without_a_photo_has_none(market, shop, lamp):
    add_product(shop, "vase")
    assert set(listed(market).values()) == {None}


def test_a_kept_page_never_shows_an_old_path(market, shop, lamp):
    other = add_product(market.merchant("other"), "chair")
    assert listed(market) == {lamp: None}  # kept now
    first = keep(market, lamp)
    assert listed(market) == {lamp: first}
    second = keep(market, lamp, make.jpeg())
    assert second != first
    assert listed(market) == {lamp: second}
    assert remove(market, lamp) is True
    assert listed(market) == {lamp: None}
    assert remove(market, lamp) is False
    # Another store's page is not moved by this store's photo.
    assert listed(market, "other") == {other: None}


def test_a_photo_moves_only_its_own_stores_version(market, shop, lamp):
    other = add_product(market.merchant("other"), "chair")

    def version(storename):
        return market.app.db.run_sync(
            "version",
            lambda txn: txn.value(
                photos.Query("SELECT page_version FROM merchants WHERE storename = ?"), storename
            ),
        )

    before = version("shop"), version("other")
    keep(market, lamp)
    assert version("shop") > before[0] and version("other") == before[1]
    keep(market, other)
    remove(market, other)
    assert version("other") >= before[1] + 2


def test_the_stored_sizes_come_back_by_path_and_size(market, shop, lamp):
    photo = images.process(make.jpeg((2000, 1000)))
    thumb = photos.Image(photo.thumb.body, photo.thumb.content_type, 400, 200)
    large = photos.Image(photo.large.body, photo.large.content_type, 1600, 800)
    market.app.db.run_sync("keep", photos.put, (lamp, photo.digest, thumb, large, 0))
    find = photos.find
    db = market.app.db
    assert db.run_sync("find", find, (lamp, photo.digest, "thumb")) == (
        photo.thumb.body,
        photo.thumb.content_type,
    )
    assert db.run_sync("find", find, (lamp, photo.digest, "large"))[0] == photo.large.body
    assert db.run_sync("find", find, (lamp, "0" * 32, "large")) is None
    assert db.run_sync("find", find, (lamp + 1, photo.digest, "large")) is None
