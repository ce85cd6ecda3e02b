"""The ops anyone may call: PING, LIST_MERCHANT, LIST_PRODUCT; and GET_ACCOUNT,
which either role may call."""

import pytest

from tests.shop import add_product, all_pages, assert_columns, expect, flatten, head

MERCHANT_COLUMNS = ["storename", "description", "email"]
PRODUCT_COLUMNS = ["product_id", "storename", "productname", "description", "price", "stock"]

# Every op of the contract, for the checks that apply to all of them.
ALL_OPS = [
    "PING",
    "LIST_MERCHANT",
    "LIST_PRODUCT",
    "CLIENT_CREATE",
    "CLIENT_LOGIN",
    "CLIENT_LOGOUT",
    "SET_CLIENT_USERNAME",
    "SET_CLIENT_EMAIL",
    "SET_CLIENT_PASSWORD",
    "CLIENT_ADD_ITEM",
    "CLIENT_REMOVE_ITEM",
    "CLIENT_GET_ITEMS",
    "CLIENT_GET_PRICE",
    "CLIENT_CHECKOUT_ITEM",
    "CLIENT_LIST_ORDERS",
    "CLIENT_GET_ORDER",
    "MERCHANT_CREATE_INVITATION",
    "MERCHANT_CREATE",
    "MERCHANT_LOGIN",
    "MERCHANT_LOGOUT",
    "SET_MERCHANT_STORENAME",
    "SET_MERCHANT_EMAIL",
    "SET_MERCHANT_DESCRIPTION",
    "SET_MERCHANT_PASSWORD",
    "MERCHANT_ADD_PRODUCT",
    "MERCHANT_DEL_PRODUCT",
    "MERCHANT_PUT_ON_SHELF",
    "MERCHANT_RESTOCK_PRODUCT",
    "MERCHANT_GET_PROFIT",
    "MERCHANT_GET_SALES",
    "MERCHANT_LIST_PRODUCTS",
    "SET_PRODUCT",
    "GET_ACCOUNT",
]


def open_stores(market, *storenames):
    for storename in storenames:
        market.merchant(storename)


def store_rows(peer, storename, **paging):
    return peer.ok("LIST_PRODUCT", storename=storename, **paging)["rows"]


# --- PING ----------------------------------------------------------------


def test_ping_answers_200_with_the_protocol_version(market):
    response = market.peer().call("PING")
    assert response["status"] == 200
    assert response["data"] == {"protocol": "1.3"}


def test_ping_answers_on_a_logged_in_connection(market):
    expect(market.client("alice"), 200, "PING")


# --- every op --------------------------------------------------------------


@pytest.mark.parametrize("op", ALL_OPS)
def test_unknown_argument_is_400_naming_it(market, op):
    # 400 comes before 401: the anonymous connection is not asked to log in.
    message = expect(market.peer(), 400, op, surprise=1)
    assert "surprise" in message


# --- GET_ACCOUNT (protocol 1.2) -------------------------------------------


def test_get_account_of_a_client_is_the_account_as_stored(market):
    """Whatever the login was typed as: the email in another case here, the
    name as stored (in NFC), the email as given at creation."""
    peer = market.peer()
    peer.ok("CLIENT_CREATE", username="Zoe\u0308", email="Zoe@Example.COM", password="client-pass")
    peer.ok("CLIENT_LOGIN", login="zoe@example.com", password="client-pass")
    assert peer.ok("GET_ACCOUNT") == {"role": "client", "name": "Zoë", "email": "Zoe@Example.COM"}


def test_get_account_of_a_merchant_has_the_description(market):
    market.merchant("Corner").ok("SET_MERCHANT_DESCRIPTION", description="fruit and veg")
    peer = market.peer()
    peer.ok("MERCHANT_LOGIN", login="CORNER", password="merchant-pass")
    assert peer.ok("GET_ACCOUNT") == {
        "role": "merchant",
        "name": "Corner",
        "email": "Corner@example.com",
        "description": "fruit and veg",
    }


def test_get_account_follows_a_rename_made_on_another_connection(market):
    alice = market.client("alice")
    again = market.peer()
    again.ok("CLIENT_LOGIN", login="alice", password="client-pass")
    alice.ok("SET_CLIENT_USERNAME", username="Alicia")
    alice.ok("SET_CLIENT_EMAIL", email="alicia@example.com")
    assert again.ok("GET_ACCOUNT") == {
        "role": "client",
        "name": "Alicia",
        "email": "alicia@example.com",
    }


def test_get_account_of_a_resumed_login(market):
    market.client("alice")
    token = market.peer().ok("CLIENT_LOGIN", login="ALICE", password="client-pass")["token"]
    resumed = market.peer()
    resumed.ok("RESUME", token=token)
    assert resumed.ok("GET_ACCOUNT") == {
        "role": "client",
        "name": "alice",
        "email": "alice@example.com",
    }


def test_get_account_needs_a_login(market):
    assert expect(market.peer(), 401, "GET_ACCOUNT") == "GET_ACCOUNT: log in first"
    shop = market.merchant("shop")
    shop.ok("MERCHANT_LOGOUT")
    assert expect(shop, 401, "GET_ACCOUNT") == "GET_ACCOUNT: log in first"
    # 400 comes before 401, as everywhere.
    assert "verbose" in expect(market.peer(), 400, "GET_ACCOUNT", verbose=True)


# --- LIST_MERCHANT ---------------------------------------------------------


def test_list_merchant_with_no_stores_is_an_empty_last_page(market):
    data = market.peer().ok("LIST_MERCHANT")
    assert_columns(data, MERCHANT_COLUMNS)
    assert data["rows"] == []
    assert data["next"] is None


def test_list_merchant_columns_in_contract_order(market):
    shop = market.merchant("corner")
    shop.ok("SET_MERCHANT_DESCRIPTION", description="fruit and veg")
    data = market.peer().ok("LIST_MERCHANT")
    assert_columns(data, MERCHANT_COLUMNS)
    assert head(data, 3) == [["corner", "fruit and veg", "corner@example.com"]]


def test_list_merchant_orders_by_storename(market):
    open_stores(market, "zeta", "alpha", "Mid", "beta")
    data = market.peer().ok("LIST_MERCHANT")
    # Code point order: capitals before lower case.
    assert [row[0] for row in data["rows"]] == ["Mid", "alpha", "beta", "zeta"]


def test_list_merchant_limit_caps_the_page_and_gives_next(market):
    open_stores(market, "a1", "a2", "a3")
    data = market.peer().ok("LIST_MERCHANT", limit=2)
    assert [row[0] for row in data["rows"]] == ["a1", "a2"]
    assert data["next"] == "a2"


def test_list_merchant_after_starts_past_the_key(market):
    open_stores(market, "a1", "a2", "a3", "a4")
    data = market.peer().ok("LIST_MERCHANT", after="a2")
    assert [row[0] for row in data["rows"]] == ["a3", "a4"]
    assert data["next"] is None


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6])
def test_list_merchant_pages_cover_every_store_once(market, limit):
    names = ["s1", "s2", "s3", "s4", "s5"]
    open_stores(market, *reversed(names))
    pages = all_pages(market.peer(), "LIST_MERCHANT", "storename", limit)
    assert [row[0] for row in flatten(pages)] == names


# --- LIST_PRODUCT ------------------------------------------------------------


def test_list_product_row_in_contract_column_order(market):
    shop = market.merchant("shop")
    product_id = add_product(shop, "apple", price="1.5", description="crisp", stock=7)
    data = market.peer().ok("LIST_PRODUCT", storename="shop")
    assert_columns(data, PRODUCT_COLUMNS)
    assert head(data, 6) == [[product_id, "shop", "apple", "crisp", "1.50", 7]]
    assert data["next"] is None


def test_list_product_of_a_store_without_products_is_empty(market):
    market.merchant("shop")
    data = market.peer().ok("LIST_PRODUCT", storename="shop")
    assert data["rows"] == []
    assert data["next"] is None


def test_list_product_orders_by_product_id_and_shows_only_that_store(market):
    shop, other = market.merchant("shop"), market.merchant("other")
    first = add_product(shop, "pear")
    add_product(other, "plum")
    second = add_product(shop, "apple")
    rows = store_rows(market.peer(), "shop")
    assert [row[0] for row in rows] == [first, second]


def test_list_product_unknown_store_is_404(market):
    market.merchant("shop")
    message = expect(market.peer(), 404, "LIST_PRODUCT", storename="nowhere")
    assert "storename" in message


def test_list_product_storename_in_another_case_finds_the_store(market):
    # Contract 1.1: names compare by NFKC and case folding (tests/test_names.py).
    market.merchant("shop")
    assert store_rows(market.peer(), "Shop") == []
    expect(market.peer(), 404, "LIST_PRODUCT", storename="shop\u200b")


def test_list_product_hides_off_shelf_products(market):
    shop = market.merchant("shop")
    kept = add_product(shop, "kept")
    gone = add_product(shop, "gone")
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=gone)
    assert [row[0] for row in store_rows(market.peer(), "shop")] == [kept]


def test_list_product_limit_and_after(market):
    shop = market.merchant("shop")
    ids = [add_product(shop, f"p{i}") for i in range(4)]
    peer = market.peer()
    first = peer.ok("LIST_PRODUCT", storename="shop", limit=3)
    assert [row[0] for row in first["rows"]] == ids[:3]
    assert first["next"] == ids[2]
    rest = peer.ok("LIST_PRODUCT", storename="shop", limit=3, after=first["next"])
    assert [row[0] for row in rest["rows"]] == ids[3:]
    assert rest["next"] is None


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_list_product_pages_cover_every_on_shelf_product_once(market, limit):
    shop = market.merchant("shop")
    ids = [add_product(shop, f"p{i}") for i in range(5)]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=ids[1])
    pages = all_pages(market.peer(), "LIST_PRODUCT", "product_id", limit, storename="shop")
    assert [row[0] for row in flatten(pages)] == [ids[0]] + ids[2:]


# --- paging arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    "op, args",
    [("LIST_MERCHANT", {}), ("LIST_PRODUCT", {"storename": "shop"})],
)
@pytest.mark.parametrize("limit", [0, 1001, -1, "10", 2.0, True])
def test_paging_limit_out_of_range_or_mistyped_is_400(market, op, args, limit):
    market.merchant("shop")
    assert "limit" in expect(market.peer(), 400, op, limit=limit, **args)


@pytest.mark.parametrize("limit", [1, 1000])
def test_paging_limit_bounds_are_accepted(market, limit):
    expect(market.peer(), 200, "LIST_MERCHANT", limit=limit)


@pytest.mark.parametrize(
    "op, args, after",
    [
        ("LIST_MERCHANT", {}, 5),
        ("LIST_PRODUCT", {"storename": "shop"}, "5"),
        ("LIST_PRODUCT", {"storename": "shop"}, 1.0),
    ],
)
def test_paging_after_of_the_wrong_kind_is_400(market, op, args, after):
    market.merchant("shop")
    assert "after" in expect(market.peer(), 400, op, after=after, **args)


def test_list_product_without_storename_is_400_naming_it(market):
    assert "storename" in expect(market.peer(), 400, "LIST_PRODUCT")
