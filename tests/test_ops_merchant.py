"""The merchant's ops: invitations, stores, products, profit and sales."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, update

from cybermarket.storage.models import invitations
from tests import shop as steps
from tests.shop import (
    add_product,
    all_pages,
    assert_columns,
    buy,
    column,
    expect,
    fill_cart,
    flatten,
    head,
    products_by_id,
    records,
    stock,
)

PASSWORD = "merchant-pass"
SALES_COLUMNS = ["product_id", "productname", "quantity_sold", "revenue"]
LIST_COLUMNS = ["product_id", "productname", "description", "price", "stock", "on_shelf"]
MAX_STOCK = 1_000_000_000

# The product ops that need the caller to own the product, with their
# other arguments.
PRODUCT_OPS = {
    "MERCHANT_DEL_PRODUCT": {},
    "MERCHANT_PUT_ON_SHELF": {},
    "MERCHANT_RESTOCK_PRODUCT": {"quantity": 1},
    "SET_PRODUCT": {"price": "2.00"},
}


def join(market, storename="newshop", **override):
    """A MERCHANT_CREATE on a new connection, by default with a fresh
    operator code; the response."""
    override.setdefault("password", PASSWORD)
    if "code" not in override:
        override["code"] = market.invite()
    return market.peer().call("MERCHANT_CREATE", **steps.store_args(storename, **override))


def log_in(market, login, password=PASSWORD):
    return steps.log_in(market, "MERCHANT_LOGIN", login, password)


def can_log_in(market, login, password=PASSWORD):
    return log_in(market, login, password)["status"] == 200


def storenames(market):
    return column(market.peer().ok("LIST_MERCHANT"), "storename")


def on_sale(market, storename="shop"):
    """LIST_PRODUCT as {product_id: record}."""
    table = market.peer().ok("LIST_PRODUCT", storename=storename)
    return {record["product_id"]: record for record in records(table)}


def expire_invitations(market):
    """Move every invitation's expiry into the past, as time passing would."""
    past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    engine = create_engine(market.url)
    try:
        with engine.begin() as conn:
            conn.execute(update(invitations).values(expires_at=past))
    finally:
        engine.dispose()


def sales(merchant):
    return head(merchant.ok("MERCHANT_GET_SALES"), 4)


# --- the role ----------------------------------------------------------------

# Every op that needs a login answers 401 without it, or with the other
# role: tests/test_protocol.py (test_role_op_without_login and the two after).


def test_merchant_logout_logs_the_connection_out(shop):
    expect(shop, 200, "MERCHANT_LOGOUT")
    expect(shop, 401, "MERCHANT_GET_PROFIT")
    expect(shop, 200, "MERCHANT_LOGIN", login="shop", password=PASSWORD)
    expect(shop, 200, "MERCHANT_GET_PROFIT")


# --- MERCHANT_CREATE_INVITATION / MERCHANT_CREATE --------------------------------


def test_merchant_create_invitation_gives_a_new_code_each_time(shop):
    codes = [shop.ok("MERCHANT_CREATE_INVITATION") for _ in range(3)]
    assert all(isinstance(code, str) and code for code in codes)
    assert len(set(codes)) == 3


def test_merchant_create_with_an_operator_code_and_no_inviter_is_201(market):
    response = join(market, "newshop", inviter=None)
    assert response["status"] == 201
    assert "data" not in response
    assert storenames(market) == ["newshop"]
    assert can_log_in(market, "newshop")


def test_merchant_create_with_a_merchants_code_names_the_inviter(market, shop):
    code = shop.ok("MERCHANT_CREATE_INVITATION")
    assert join(market, "newshop", code=code, inviter="shop")["status"] == 201
    assert can_log_in(market, "newshop")


def test_merchant_create_unknown_code_is_406(market):
    market.invite()
    response = join(market, code="no-such-code")
    assert response["status"] == 406
    assert "code" in response["message"]
    assert storenames(market) == []


def test_merchant_create_used_code_is_406(market):
    code = market.invite()
    assert join(market, "first", code=code)["status"] == 201
    response = join(market, "second", code=code)
    assert response["status"] == 406
    assert storenames(market) == ["first"]


def test_merchant_create_code_expired_at_issue_is_406(market):
    response = join(market, "newshop", code=market.invite(days=-1))
    assert response["status"] == 406
    assert storenames(market) == []


def test_merchant_create_code_that_has_since_expired_is_406(market, shop):
    code = shop.ok("MERCHANT_CREATE_INVITATION")
    expire_invitations(market)
    assert join(market, "newshop", code=code, inviter="shop")["status"] == 406
    assert not can_log_in(market, "newshop")


@pytest.mark.parametrize(
    "issuer, inviter",
    [
        (None, "shop"),  # the operator's code claimed for a store
        ("shop", None),  # a store's code claimed for the operator
        ("shop", "other"),  # a store's code claimed for another store
        ("shop", "nowhere"),  # ... or for a store that does not exist
        ("shop", "shop\u200b"),  # ... or for one that only looks like it
    ],
)
def test_merchant_create_inviter_mismatch_is_406(market, issuer, inviter):
    stores = {name: market.merchant(name) for name in ("shop", "other")}
    code = market.invite() if issuer is None else stores[issuer].ok("MERCHANT_CREATE_INVITATION")
    response = join(market, "newshop", code=code, inviter=inviter)
    assert response["status"] == 406, response
    assert not can_log_in(market, "newshop")


@pytest.mark.parametrize(
    "failure, status",
    [
        ({"storename": "shop"}, 409),
        ({"email": "SHOP@example.com"}, 409),
        ({"inviter": "shop"}, 406),
        ({"password": "short"}, 400),
    ],
)
def test_merchant_create_refused_leaves_the_code_unused(market, shop, failure, status):
    code = market.invite()
    assert join(market, **dict({"code": code}, **failure))["status"] == status
    assert join(market, code=code)["status"] == 201


def test_merchant_create_taken_storename_is_409(market, shop):
    response = join(market, "shop", email="elsewhere@example.com")
    assert response["status"] == 409
    assert "storename" in response["message"]
    assert not can_log_in(market, "elsewhere@example.com")


def test_merchant_create_storename_differing_in_case_is_taken(market, shop):
    # Contract 1.1: names compare by NFKC and case folding (tests/test_names.py).
    response = join(market, "Shop", email="big.shop@example.com")
    assert response["status"] == 409
    assert "storename" in response["message"]
    assert storenames(market) == ["shop"]


def test_merchant_create_inviter_in_another_case_names_the_inviter(market, shop):
    code = shop.ok("MERCHANT_CREATE_INVITATION")
    assert join(market, "newshop", code=code, inviter="SHOP")["status"] == 201


@pytest.mark.parametrize("email", ["shop@example.com", "SHOP@EXAMPLE.COM"])
def test_merchant_create_taken_email_is_409_in_any_case(market, shop, email):
    response = join(market, "newshop", email=email)
    assert response["status"] == 409
    assert "email" in response["message"]
    assert storenames(market) == ["shop"]


def test_merchant_may_share_an_email_with_a_client(market):
    market.client("bob", email="bob@example.com")
    assert join(market, "bobs", email="Bob@Example.com")["status"] == 201
    assert can_log_in(market, "bob@example.com")


@pytest.mark.parametrize(
    "field, value",
    [
        ("storename", ""),
        ("storename", "a@b"),
        ("storename", "s" * 65),
        ("description", "d" * 2001),
        ("email", "shop.example.com"),
        ("password", "p" * 129),
        ("inviter", ""),
        ("inviter", 5),
        ("code", ""),
        ("code", None),
    ],
)
def test_merchant_create_invalid_argument_is_400_naming_it(market, field, value):
    response = join(market, **{field: value})
    assert response["status"] == 400
    assert field in response["message"]
    assert storenames(market) == []


# --- MERCHANT_LOGIN ------------------------------------------------------------


@pytest.mark.parametrize("login", ["shop", "shop@example.com", "Shop@EXAMPLE.com"])
def test_merchant_login_by_storename_or_email(market, shop, login):
    peer = market.peer()
    expect(peer, 200, "MERCHANT_LOGIN", login=login, password=PASSWORD)
    expect(peer, 200, "MERCHANT_GET_PROFIT")


def test_merchant_login_failures_all_give_one_401_message(market, shop):
    attempts = [
        ("shop", "wrong-password"),
        ("shop@example.com", "wrong-password"),
        ("nowhere", PASSWORD),
        ("nowhere@example.com", PASSWORD),
        ("shop\u200b", PASSWORD),  # looks like shop, is not shop
    ]
    assert len(steps.login_failure_messages(market, "MERCHANT_LOGIN", attempts)) == 1


def test_merchant_login_with_a_clients_account_is_401(market):
    market.client("alice", password=PASSWORD)
    assert log_in(market, "alice")["status"] == 401


# --- SET_MERCHANT_* ----------------------------------------------------------


def test_set_merchant_storename_renames_the_store(market, shop):
    apple = add_product(shop, "apple")
    expect(shop, 200, "SET_MERCHANT_STORENAME", storename="emporium")
    assert storenames(market) == ["emporium"]
    assert list(on_sale(market, "emporium")) == [apple]
    expect(market.peer(), 404, "LIST_PRODUCT", storename="shop")
    assert can_log_in(market, "emporium")
    assert not can_log_in(market, "shop")


def test_set_merchant_storename_taken_is_409(market, shop):
    market.merchant("other")
    assert "storename" in expect(shop, 409, "SET_MERCHANT_STORENAME", storename="other")
    assert storenames(market) == ["other", "shop"]


def test_set_merchant_storename_invalid_is_400(shop):
    assert "storename" in expect(shop, 400, "SET_MERCHANT_STORENAME", storename="a@b")


def test_set_merchant_email_changes_the_login_and_the_listing(market, shop):
    expect(shop, 200, "SET_MERCHANT_EMAIL", email="sales@shop.example")
    assert column(market.peer().ok("LIST_MERCHANT"), "email") == ["sales@shop.example"]
    assert can_log_in(market, "SALES@shop.example")
    assert not can_log_in(market, "shop@example.com")


@pytest.mark.parametrize("email", ["other@example.com", "Other@Example.COM"])
def test_set_merchant_email_taken_is_409_in_any_case(market, shop, email):
    market.merchant("other")
    assert "email" in expect(shop, 409, "SET_MERCHANT_EMAIL", email=email)
    assert can_log_in(market, "shop@example.com")


def test_set_merchant_email_invalid_is_400(shop):
    assert "email" in expect(shop, 400, "SET_MERCHANT_EMAIL", email="shop@localhost")


@pytest.mark.parametrize("description", ["", "fresh fruit daily", "d" * 2000])
def test_set_merchant_description_shows_in_the_listing(market, shop, description):
    expect(shop, 200, "SET_MERCHANT_DESCRIPTION", description=description)
    assert column(market.peer().ok("LIST_MERCHANT"), "description") == [description]


def test_set_merchant_description_too_long_is_400(shop):
    message = expect(shop, 400, "SET_MERCHANT_DESCRIPTION", description="d" * 2001)
    assert "description" in message


def test_set_merchant_password_new_works_and_old_fails(market, shop):
    expect(shop, 200, "SET_MERCHANT_PASSWORD", old_password=PASSWORD, new_password="fresh-pass")
    assert can_log_in(market, "shop", "fresh-pass")
    assert not can_log_in(market, "shop", PASSWORD)


def test_set_merchant_password_wrong_old_password_is_403(market, shop):
    message = expect(
        shop, 403, "SET_MERCHANT_PASSWORD", old_password="not-my-pass", new_password="fresh-pass"
    )
    assert "old_password" in message
    assert can_log_in(market, "shop", PASSWORD)
    assert not can_log_in(market, "shop", "fresh-pass")


# --- MERCHANT_ADD_PRODUCT ------------------------------------------------------


def test_merchant_add_product_returns_an_id_and_shelves_it(market, shop):
    first = add_product(shop, "apple", price="1.25", description="red", stock=4)
    second = add_product(shop, "pear")
    assert type(first) is int and type(second) is int and first != second
    record = on_sale(market)[first]
    assert (record["productname"], record["description"], record["price"], record["stock"]) == (
        "apple",
        "red",
        "1.25",
        4,
    )


def test_merchant_add_product_default_stock_is_zero(shop):
    data = shop.ok("MERCHANT_ADD_PRODUCT", productname="apple", price="1", description="")
    assert stock(shop, data["product_id"]) == 0


@pytest.mark.parametrize(
    "price, shown",
    [
        ("19", "19.00"),
        ("19.9", "19.90"),
        ("19.99", "19.99"),
        (19, "19.00"),
        ("0.01", "0.01"),
        ("99999999.99", "99999999.99"),
        (99999999, "99999999.00"),
    ],
)
def test_merchant_add_product_price_forms(market, shop, price, shown):
    product_id = add_product(shop, price=price)
    assert on_sale(market)[product_id]["price"] == shown


@pytest.mark.parametrize(
    "price",
    [
        "0",
        "0.00",
        0,
        "-1",
        -1,
        "19.999",
        "abc",
        "",
        " 19",
        "1e3",
        "NaN",
        "Infinity",
        "100000000",
        100_000_000,
        19.5,
        19.0,
        True,
        None,
    ],
)
def test_merchant_add_product_bad_price_is_400(shop, price):
    message = expect(
        shop, 400, "MERCHANT_ADD_PRODUCT", productname="apple", price=price, description=""
    )
    assert "price" in message
    assert products_by_id(shop) == {}


@pytest.mark.parametrize(
    "field, value",
    [
        ("productname", ""),
        ("productname", "p" * 201),
        ("description", "d" * 2001),
        ("stock", -1),
        ("stock", MAX_STOCK + 1),
        ("stock", "5"),
    ],
)
def test_merchant_add_product_invalid_argument_is_400(shop, field, value):
    args = {"productname": "apple", "price": "1", "description": "", field: value}
    assert field in expect(shop, 400, "MERCHANT_ADD_PRODUCT", **args)
    assert products_by_id(shop) == {}


def test_merchant_add_product_accepts_the_largest_stock(shop):
    product_id = add_product(shop, productname="p" * 200, description="d" * 2000, stock=MAX_STOCK)
    assert stock(shop, product_id) == MAX_STOCK


# --- shelf ------------------------------------------------------------------


def test_merchant_del_product_hides_it_from_list_product(market, shop):
    kept, gone = add_product(shop, "kept"), add_product(shop, "gone")
    expect(shop, 200, "MERCHANT_DEL_PRODUCT", product_id=gone)
    assert list(on_sale(market)) == [kept]


def test_merchant_del_product_keeps_it_in_merchant_list_products(shop):
    gone = add_product(shop, "gone", stock=3)
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=gone)
    record = products_by_id(shop)[gone]
    assert (record["on_shelf"], record["stock"], record["productname"]) == (False, 3, "gone")


def test_merchant_del_product_keeps_order_history(shop, alice):
    apple = add_product(shop, "apple", price="2.00", stock=5)
    order = buy(alice, (apple, 2))
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=apple)
    lines = head(alice.ok("CLIENT_GET_ORDER", order_id=order["order_id"]), 5)
    assert lines == [["shop", apple, "apple", "2.00", 2]]
    assert sales(shop) == [[apple, "apple", 2, "4.00"]]
    assert shop.ok("MERCHANT_GET_PROFIT") == "4.00"


def test_merchant_put_on_shelf_puts_it_back_on_sale(market, shop, alice):
    apple = add_product(shop, "apple", stock=2)
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=apple)
    expect(shop, 200, "MERCHANT_PUT_ON_SHELF", product_id=apple)
    assert list(on_sale(market)) == [apple]
    assert products_by_id(shop)[apple]["on_shelf"] is True
    expect(alice, 200, "CLIENT_ADD_ITEM", product_id=apple, quantity=1)


# --- MERCHANT_RESTOCK_PRODUCT -------------------------------------------------


def test_merchant_restock_product_adds_to_the_stock(shop):
    apple = add_product(shop, "apple", stock=3)
    expect(shop, 200, "MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=4)
    assert stock(shop, apple) == 7


def test_merchant_restock_product_may_reach_the_stock_cap(shop):
    apple = add_product(shop, "apple", stock=MAX_STOCK - 1_000_000)
    expect(shop, 200, "MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=1_000_000)
    assert stock(shop, apple) == MAX_STOCK


@pytest.mark.parametrize("start", [MAX_STOCK, MAX_STOCK - 4])
def test_merchant_restock_product_past_the_stock_cap_is_400(shop, start):
    apple = add_product(shop, "apple", stock=start)
    message = expect(shop, 400, "MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=5)
    assert "quantity" in message
    assert stock(shop, apple) == start


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, "1"])
def test_merchant_restock_product_bad_quantity_is_400(shop, quantity):
    apple = add_product(shop, "apple", stock=3)
    message = expect(shop, 400, "MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=quantity)
    assert "quantity" in message
    assert stock(shop, apple) == 3


# --- ownership -----------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(PRODUCT_OPS))
def test_product_op_on_another_merchants_product_is_403(market, shop, op):
    other = market.merchant("other")
    theirs = add_product(other, "plum", price="3.00", stock=2)
    before = products_by_id(other)
    message = expect(shop, 403, op, product_id=theirs, **PRODUCT_OPS[op])
    assert "product_id" in message
    assert products_by_id(other) == before


@pytest.mark.parametrize("op", sorted(PRODUCT_OPS))
def test_product_op_on_a_missing_product_is_404(shop, op):
    apple = add_product(shop, "apple")
    message = expect(shop, 404, op, product_id=apple + 100, **PRODUCT_OPS[op])
    assert "product_id" in message


# --- SET_PRODUCT -----------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field, shown",
    [
        ({"productname": "green apple"}, "productname", "green apple"),
        ({"description": "sour"}, "description", "sour"),
        ({"description": ""}, "description", ""),
        ({"price": "2.5"}, "price", "2.50"),
        ({"price": 3}, "price", "3.00"),
    ],
)
def test_set_product_changes_the_field(market, shop, change, field, shown):
    apple = add_product(shop, "apple", price="1.00", description="red")
    expect(shop, 200, "SET_PRODUCT", product_id=apple, **change)
    assert on_sale(market)[apple][field] == shown


def test_set_product_changes_several_fields_at_once(market, shop):
    apple = add_product(shop, "apple", price="1.00", description="red")
    shop.ok("SET_PRODUCT", product_id=apple, productname="pear", description="green", price="4")
    record = on_sale(market)[apple]
    assert (record["productname"], record["description"], record["price"]) == (
        "pear",
        "green",
        "4.00",
    )


def test_set_product_with_no_field_is_400(shop):
    apple = add_product(shop, "apple")
    before = products_by_id(shop)
    expect(shop, 400, "SET_PRODUCT", product_id=apple)
    assert products_by_id(shop) == before


def test_set_product_with_no_field_is_400_before_the_login_check(market):
    assert "price" in expect(market.peer(), 400, "SET_PRODUCT", product_id=1)


@pytest.mark.parametrize("change", [{"price": "0"}, {"price": 1.5}, {"productname": ""}])
def test_set_product_invalid_value_is_400(shop, change):
    apple = add_product(shop, "apple")
    (field,) = change
    assert field in expect(shop, 400, "SET_PRODUCT", product_id=apple, **change)


def test_set_product_price_is_used_by_later_checkouts(shop, alice):
    apple = add_product(shop, "apple", price="1.00", stock=10)
    fill_cart(alice, (apple, 2))
    shop.ok("SET_PRODUCT", product_id=apple, price="1.75")
    assert alice.ok("CLIENT_CHECKOUT_ITEM")["total"] == "3.50"
    assert shop.ok("MERCHANT_GET_PROFIT") == "3.50"


# --- MERCHANT_GET_PROFIT / MERCHANT_GET_SALES -------------------------------------


def test_merchant_get_profit_of_a_new_store_is_zero(shop):
    assert shop.ok("MERCHANT_GET_PROFIT") == "0.00"


def test_merchant_get_profit_equals_the_sum_of_sold_lines(market, shop, alice):
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.10", stock=100)
    pear = add_product(shop, "pear", price="0.35", stock=100)
    plum = add_product(other, "plum", price="9.99", stock=100)
    buy(alice, (apple, 3), (plum, 1))
    buy(market.client("bob"), (pear, 7), (apple, 1))
    shop.ok("SET_PRODUCT", product_id=apple, price="2.00")
    buy(alice, (apple, 2))
    # 4 x 1.10 + 7 x 0.35 + 2 x 2.00
    assert shop.ok("MERCHANT_GET_PROFIT") == "10.85"
    assert other.ok("MERCHANT_GET_PROFIT") == "9.99"


def test_merchant_get_sales_of_a_new_store_is_empty(shop):
    data = shop.ok("MERCHANT_GET_SALES")
    assert_columns(data, SALES_COLUMNS)
    assert data["rows"] == []


def test_merchant_get_sales_one_row_per_product_sold_revenue_descending(market, shop, alice):
    apple = add_product(shop, "apple", price="1.00", stock=100)
    pear = add_product(shop, "pear", price="5.00", stock=100)
    add_product(shop, "unsold", price="1.00", stock=100)
    plum = add_product(shop, "plum", price="0.50", stock=100)
    buy(alice, (apple, 3), (pear, 1))
    buy(market.client("bob"), (apple, 4), (plum, 1))
    data = shop.ok("MERCHANT_GET_SALES")
    assert_columns(data, SALES_COLUMNS)
    assert head(data, 4) == [
        [apple, "apple", 7, "7.00"],
        [pear, "pear", 1, "5.00"],
        [plum, "plum", 1, "0.50"],
    ]


def test_merchant_get_sales_revenue_uses_prices_at_purchase(shop, alice):
    apple = add_product(shop, "apple", price="1.00", stock=100)
    buy(alice, (apple, 2))
    shop.ok("SET_PRODUCT", product_id=apple, price="3.00")
    buy(alice, (apple, 1))
    assert sales(shop) == [[apple, "apple", 3, "5.00"]]


def test_merchant_get_sales_shows_only_ones_own_products(market, shop, alice):
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.00", stock=5)
    plum = add_product(other, "plum", price="2.00", stock=5)
    buy(alice, (apple, 1), (plum, 1))
    assert sales(shop) == [[apple, "apple", 1, "1.00"]]


# --- MERCHANT_LIST_PRODUCTS ---------------------------------------------------


def test_merchant_list_products_row_in_contract_column_order(shop):
    apple = add_product(shop, "apple", price="1.5", description="red", stock=2)
    data = shop.ok("MERCHANT_LIST_PRODUCTS")
    assert_columns(data, LIST_COLUMNS)
    assert head(data, 6) == [[apple, "apple", "red", "1.50", 2, True]]
    assert data["next"] is None


def test_merchant_list_products_shows_only_ones_own(market, shop):
    mine = add_product(shop, "apple")
    add_product(market.merchant("other"), "plum")
    assert list(products_by_id(shop)) == [mine]


def test_merchant_list_products_limit_and_after(shop):
    ids = [add_product(shop, f"p{i}") for i in range(3)]
    first = shop.ok("MERCHANT_LIST_PRODUCTS", limit=2)
    assert column(first, "product_id") == ids[:2]
    assert first["next"] == ids[1]
    rest = shop.ok("MERCHANT_LIST_PRODUCTS", limit=2, after=first["next"])
    assert column(rest, "product_id") == ids[2:]
    assert rest["next"] is None


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_merchant_list_products_pages_cover_every_product_once(shop, limit):
    ids = [add_product(shop, f"p{i}") for i in range(5)]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=ids[2])
    pages = all_pages(shop, "MERCHANT_LIST_PRODUCTS", "product_id", limit)
    assert [row[0] for row in flatten(pages)] == ids


@pytest.mark.parametrize("limit", [0, 1001])
def test_merchant_list_products_limit_out_of_range_is_400(shop, limit):
    assert "limit" in expect(shop, 400, "MERCHANT_LIST_PRODUCTS", limit=limit)
