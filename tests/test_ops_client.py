"""The customer's ops: accounts, cart, checkout and orders."""

import re

import pytest

from cybermarket.storage import orders as storage_orders
from cybermarket.storage.txn import Txn
from tests import shop as steps
from tests.databases import on_postgresql
from tests.shop import (
    ISO_UTC,
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

ITEM_COLUMNS = ["storename", "product_id", "productname", "price", "quantity"]
ORDER_COLUMNS = ["order_id", "created_at", "total"]
PASSWORD = "client-pass"


def create(peer, username="bob", email=None, password=PASSWORD):
    return peer.call(
        "CLIENT_CREATE",
        username=username,
        email=email or f"{username}@example.com",
        password=password,
    )


def log_in(market, login, password=PASSWORD):
    return steps.log_in(market, "CLIENT_LOGIN", login, password)


def can_log_in(market, login, password=PASSWORD):
    return log_in(market, login, password)["status"] == 200


def cart(client):
    """The cart as {product_id: quantity}."""
    return {r["product_id"]: r["quantity"] for r in records(client.ok("CLIENT_GET_ITEMS"))}


def order_ids(client, **paging):
    return column(client.ok("CLIENT_LIST_ORDERS", **paging), "order_id")


def everything(shop, client):
    """What a failed checkout must leave as it was."""
    return {
        "products": products_by_id(shop),
        "cart": client.ok("CLIENT_GET_ITEMS"),
        "price": client.ok("CLIENT_GET_PRICE"),
        "profit": shop.ok("MERCHANT_GET_PROFIT"),
        "sales": shop.ok("MERCHANT_GET_SALES"),
        "orders": client.ok("CLIENT_LIST_ORDERS"),
    }


# --- the role ----------------------------------------------------------------

# Every op that needs a login answers 401 without it, or with the other
# role: tests/test_protocol.py (test_role_op_without_login and the two after).


def test_bad_argument_wins_over_missing_login(market):
    message = expect(market.peer(), 400, "CLIENT_ADD_ITEM", product_id=1, quantity=0)
    assert "quantity" in message


# --- CLIENT_CREATE -------------------------------------------------------------


def test_client_create_is_201_and_the_account_logs_in(market):
    response = create(market.peer(), "bob")
    assert response["status"] == 201
    assert "data" not in response
    assert can_log_in(market, "bob")


def test_client_create_taken_username_is_409(market, alice):
    response = create(market.peer(), "alice", email="other@example.com")
    assert response["status"] == 409
    assert "username" in response["message"]


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.Com"])
def test_client_create_taken_email_is_409_in_any_case(market, alice, email):
    response = create(market.peer(), "bob", email=email)
    assert response["status"] == 409
    assert "email" in response["message"]


def test_client_create_refused_creates_no_account(market, alice):
    assert create(market.peer(), "bob", email="Alice@example.com")["status"] == 409
    assert not can_log_in(market, "bob")


@pytest.mark.parametrize(
    "field, value",
    [
        ("username", ""),
        ("username", "x" * 65),
        ("username", "bob@home"),
        ("username", 7),
        ("email", "bob"),
        ("email", "bob@"),
        ("email", "@example.com"),
        ("email", "bob@example"),
        ("email", "bob@b@example.com"),
        ("email", "b" * 243 + "@example.com"),
        ("email", None),
        ("password", "7-chars"),
        ("password", "p" * 129),
        ("password", 12345678),
    ],
)
def test_client_create_invalid_argument_is_400_naming_it(market, field, value):
    args = {"username": "bob", "email": "bob@example.com", "password": PASSWORD, field: value}
    assert field in expect(market.peer(), 400, "CLIENT_CREATE", **args)
    assert not can_log_in(market, "bob")


@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_client_create_missing_argument_is_400_naming_it(market, field):
    args = {"username": "bob", "email": "bob@example.com", "password": PASSWORD}
    del args[field]
    assert field in expect(market.peer(), 400, "CLIENT_CREATE", **args)


@pytest.mark.parametrize(
    "username, email, password",
    [
        ("x" * 64, "x@example.com", PASSWORD),
        ("bob", "b" * 242 + "@example.com", PASSWORD),
        ("bob", "bob@example.com", "8-chars!"),
        ("bob", "bob@example.com", "p" * 128),
    ],
)
def test_client_create_accepts_the_longest_and_shortest_values(market, username, email, password):
    assert create(market.peer(), username, email, password)["status"] == 201
    assert can_log_in(market, username, password)


# --- identity rules ---------------------------------------------------------


def test_usernames_differing_in_case_are_one_name(market):
    # Contract 1.1: names compare by NFKC and case folding (tests/test_names.py).
    market.client("bob", email="bob@example.com", password="lower-pass")
    assert create(market.peer(), "Bob", email="big.bob@example.com")["status"] == 409
    assert can_log_in(market, "Bob", "lower-pass")
    assert can_log_in(market, "BOB", "lower-pass")
    assert not can_log_in(market, "Bob", PASSWORD)


def test_one_person_may_be_client_and_merchant_with_one_email(market):
    market.merchant("bobs", email="bob@example.com")
    assert create(market.peer(), "bob", email="BOB@example.com")["status"] == 201
    assert can_log_in(market, "bob@example.com")


def test_client_email_taken_by_a_client_stays_taken_when_a_merchant_shares_it(market):
    market.client("bob", email="bob@example.com")
    market.merchant("bobs", email="bob@example.com")
    assert create(market.peer(), "robert", email="Bob@Example.com")["status"] == 409


# --- CLIENT_LOGIN / CLIENT_LOGOUT ----------------------------------------------


def test_client_login_by_username(market):
    create(market.peer(), "bob")
    peer = market.peer()
    expect(peer, 200, "CLIENT_LOGIN", login="bob", password=PASSWORD)
    expect(peer, 200, "CLIENT_GET_ITEMS")


@pytest.mark.parametrize("login", ["bob@example.com", "BOB@EXAMPLE.COM", "Bob@Example.Com"])
def test_client_login_by_email_in_any_case(market, login):
    create(market.peer(), "bob", email="bob@Example.com")
    peer = market.peer()
    expect(peer, 200, "CLIENT_LOGIN", login=login, password=PASSWORD)
    expect(peer, 200, "CLIENT_GET_ITEMS")


def test_client_login_failures_all_give_one_401_message(market):
    create(market.peer(), "bob")
    attempts = [
        ("bob", "wrong-password"),
        ("bob@example.com", "wrong-password"),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
        ("bob\u200b", PASSWORD),  # looks like bob, is not bob
    ]
    assert len(steps.login_failure_messages(market, "CLIENT_LOGIN", attempts)) == 1


def test_client_login_leaves_a_failed_connection_logged_out(market):
    create(market.peer(), "bob")
    peer = market.peer()
    expect(peer, 401, "CLIENT_LOGIN", login="bob", password="wrong-password")
    expect(peer, 401, "CLIENT_GET_ITEMS")


@pytest.mark.parametrize("op", ["CLIENT_LOGIN", "MERCHANT_LOGIN"])
def test_login_on_a_logged_in_connection_is_400(market, alice, op):
    assert "login" in expect(alice, 400, op, login="alice", password=PASSWORD)
    expect(alice, 200, "CLIENT_GET_ITEMS")


def test_client_logout_logs_the_connection_out(market, alice):
    expect(alice, 200, "CLIENT_LOGOUT")
    expect(alice, 401, "CLIENT_GET_ITEMS")
    expect(alice, 401, "CLIENT_LOGOUT")


def test_client_may_log_in_again_after_logout(market, alice):
    alice.ok("CLIENT_LOGOUT")
    expect(alice, 200, "CLIENT_LOGIN", login="alice", password=PASSWORD)
    expect(alice, 200, "CLIENT_GET_ITEMS")


# --- SET_CLIENT_USERNAME / EMAIL / PASSWORD ------------------------------------


def test_set_client_username_renames_the_login(market, alice):
    expect(alice, 200, "SET_CLIENT_USERNAME", username="alicia")
    assert can_log_in(market, "alicia")
    assert not can_log_in(market, "alice")


def test_set_client_username_to_ones_own_name_is_fine(market, alice):
    expect(alice, 200, "SET_CLIENT_USERNAME", username="alice")


def test_set_client_username_taken_is_409(market, alice):
    market.client("bob")
    assert "username" in expect(alice, 409, "SET_CLIENT_USERNAME", username="bob")
    assert can_log_in(market, "alice")


def test_set_client_username_differing_in_case_is_taken(market, alice):
    market.client("bob")
    assert "username" in expect(alice, 409, "SET_CLIENT_USERNAME", username="Bob")


@pytest.mark.parametrize("username", ["", "a@b", "x" * 65])
def test_set_client_username_invalid_is_400(market, alice, username):
    assert "username" in expect(alice, 400, "SET_CLIENT_USERNAME", username=username)


def test_set_client_email_changes_the_login(market, alice):
    expect(alice, 200, "SET_CLIENT_EMAIL", email="alicia@example.org")
    assert can_log_in(market, "ALICIA@example.org")
    assert not can_log_in(market, "alice@example.com")


def test_set_client_email_may_change_only_its_case(market, alice):
    expect(alice, 200, "SET_CLIENT_EMAIL", email="ALICE@example.com")
    assert can_log_in(market, "alice@example.com")


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@example.COM"])
def test_set_client_email_taken_is_409_in_any_case(market, alice, email):
    market.client("bob")
    assert "email" in expect(alice, 409, "SET_CLIENT_EMAIL", email=email)
    assert can_log_in(market, "alice@example.com")


def test_set_client_email_invalid_is_400(market, alice):
    assert "email" in expect(alice, 400, "SET_CLIENT_EMAIL", email="alice.example.com")


def test_set_client_password_new_works_and_old_fails(market, alice):
    expect(alice, 200, "SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="fresh-pass")
    assert can_log_in(market, "alice", "fresh-pass")
    assert not can_log_in(market, "alice", PASSWORD)


def test_set_client_password_wrong_old_password_is_403_and_changes_nothing(market, alice):
    message = expect(
        alice, 403, "SET_CLIENT_PASSWORD", old_password="not-my-pass", new_password="fresh-pass"
    )
    assert "old_password" in message
    assert can_log_in(market, "alice", PASSWORD)
    assert not can_log_in(market, "alice", "fresh-pass")


def test_set_client_password_too_short_is_400(market, alice):
    message = expect(alice, 400, "SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="short")
    assert "new_password" in message
    assert can_log_in(market, "alice", PASSWORD)


# --- cart ---------------------------------------------------------------------


def test_client_add_item_puts_a_line_in_the_cart(shop, alice):
    apple = add_product(shop, "apple")
    expect(alice, 200, "CLIENT_ADD_ITEM", product_id=apple, quantity=2)
    assert cart(alice) == {apple: 2}


def test_client_add_item_adds_to_the_line(shop, alice):
    apple = add_product(shop, "apple")
    fill_cart(alice, (apple, 2), (apple, 3))
    assert cart(alice) == {apple: 5}


def test_client_add_item_does_not_check_stock(shop, alice):
    apple = add_product(shop, "apple", stock=0)
    expect(alice, 200, "CLIENT_ADD_ITEM", product_id=apple, quantity=1_000_000)
    assert cart(alice) == {apple: 1_000_000}


def test_client_add_item_unknown_product_is_404(shop, alice):
    apple = add_product(shop, "apple")
    assert "product_id" in expect(alice, 404, "CLIENT_ADD_ITEM", product_id=apple + 1, quantity=1)
    assert cart(alice) == {}


def test_client_add_item_off_shelf_product_is_404(shop, alice):
    apple = add_product(shop, "apple")
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=apple)
    expect(alice, 404, "CLIENT_ADD_ITEM", product_id=apple, quantity=1)
    assert cart(alice) == {}


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, "1", 1.0, True, None])
def test_client_add_item_bad_quantity_is_400(shop, alice, quantity):
    apple = add_product(shop, "apple")
    assert "quantity" in expect(alice, 400, "CLIENT_ADD_ITEM", product_id=apple, quantity=quantity)
    assert cart(alice) == {}


def test_client_remove_item_removes_only_that_line(shop, alice):
    apple, pear = add_product(shop, "apple"), add_product(shop, "pear")
    fill_cart(alice, (apple, 1), (pear, 4))
    expect(alice, 200, "CLIENT_REMOVE_ITEM", product_id=apple)
    assert cart(alice) == {pear: 4}


def test_client_remove_item_not_in_cart_is_404(shop, alice):
    apple = add_product(shop, "apple")
    assert "product_id" in expect(alice, 404, "CLIENT_REMOVE_ITEM", product_id=apple)


def test_client_remove_item_twice_is_404(shop, alice):
    apple = add_product(shop, "apple")
    fill_cart(alice, (apple, 1))
    alice.ok("CLIENT_REMOVE_ITEM", product_id=apple)
    expect(alice, 404, "CLIENT_REMOVE_ITEM", product_id=apple)


def test_client_remove_item_unknown_product_is_404(alice):
    expect(alice, 404, "CLIENT_REMOVE_ITEM", product_id=12345)


def test_client_remove_item_leaves_other_carts_alone(market, shop, alice):
    apple = add_product(shop, "apple")
    bob = market.client("bob")
    fill_cart(alice, (apple, 1))
    fill_cart(bob, (apple, 2))
    alice.ok("CLIENT_REMOVE_ITEM", product_id=apple)
    expect(alice, 404, "CLIENT_REMOVE_ITEM", product_id=apple)
    assert cart(bob) == {apple: 2}


def test_client_get_items_columns_and_rows(market, shop, alice):
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.5")
    plum = add_product(other, "plum", price=2)
    fill_cart(alice, (plum, 3), (apple, 2))
    items = alice.ok("CLIENT_GET_ITEMS")
    assert_columns(items, ITEM_COLUMNS)
    assert sorted(head(items, 5)) == sorted(
        [["shop", apple, "apple", "1.50", 2], ["other", plum, "plum", "2.00", 3]]
    )


def test_client_get_items_of_an_empty_cart(alice):
    items = alice.ok("CLIENT_GET_ITEMS")
    assert_columns(items, ITEM_COLUMNS)
    assert items["rows"] == []


def test_carts_belong_to_their_client(market, shop, alice):
    apple = add_product(shop, "apple")
    fill_cart(alice, (apple, 1))
    assert cart(market.client("bob")) == {}


def test_client_get_price_of_an_empty_cart_is_zero(alice):
    assert alice.ok("CLIENT_GET_PRICE") == "0.00"


def test_client_get_price_sums_the_lines(shop, alice):
    apple = add_product(shop, "apple", price="1.50")
    pear = add_product(shop, "pear", price="0.99")
    fill_cart(alice, (apple, 2), (pear, 3))
    assert alice.ok("CLIENT_GET_PRICE") == "5.97"


def test_client_get_price_uses_current_prices(shop, alice):
    apple = add_product(shop, "apple", price="1.50")
    fill_cart(alice, (apple, 2))
    shop.ok("SET_PRODUCT", product_id=apple, price="2.25")
    assert alice.ok("CLIENT_GET_PRICE") == "4.50"


# --- CLIENT_CHECKOUT_ITEM -----------------------------------------------------


def test_checkout_returns_order_id_and_total(shop, alice):
    apple = add_product(shop, "apple", price="1.50", stock=5)
    pear = add_product(shop, "pear", price="0.25", stock=5)
    fill_cart(alice, (apple, 2), (pear, 1))
    order = alice.ok("CLIENT_CHECKOUT_ITEM")
    assert type(order["order_id"]) is int
    assert order["total"] == "3.25"


def test_checkout_takes_stock_empties_cart_and_credits_the_merchant(shop, alice):
    apple = add_product(shop, "apple", price="1.50", stock=5)
    order = buy(alice, (apple, 2))
    assert stock(shop, apple) == 3
    assert cart(alice) == {}
    assert shop.ok("MERCHANT_GET_PROFIT") == "3.00"
    assert order_ids(alice) == [order["order_id"]]


def test_checkout_across_stores_credits_each_merchant(market, shop, alice):
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.00", stock=5)
    plum = add_product(other, "plum", price="2.50", stock=5)
    order = buy(alice, (apple, 3), (plum, 2))
    assert order["total"] == "8.00"
    assert shop.ok("MERCHANT_GET_PROFIT") == "3.00"
    assert other.ok("MERCHANT_GET_PROFIT") == "5.00"


def test_checkout_of_an_empty_cart_is_400(shop, alice):
    expect(alice, 400, "CLIENT_CHECKOUT_ITEM")
    assert order_ids(alice) == []


def test_checkout_short_of_stock_is_409_naming_each_short_product(shop, alice):
    plenty = add_product(shop, "plenty", stock=10)
    scarce = add_product(shop, "scarce", stock=1)
    empty = add_product(shop, "empty", stock=0)
    fill_cart(alice, (plenty, 2), (scarce, 2), (empty, 1))
    message = expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    assert "scarce" in message
    assert "empty" in message


def test_checkout_short_of_stock_changes_nothing(shop, alice):
    plenty = add_product(shop, "plenty", stock=10)
    scarce = add_product(shop, "scarce", stock=1)
    fill_cart(alice, (plenty, 2), (scarce, 2))
    before = everything(shop, alice)
    expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    assert everything(shop, alice) == before
    assert before["orders"]["rows"] == []
    assert before["profit"] == "0.00"


def test_checkout_with_an_off_shelf_line_is_409_and_changes_nothing(shop, alice):
    kept = add_product(shop, "kept", stock=10)
    withdrawn = add_product(shop, "withdrawn", stock=10)
    fill_cart(alice, (kept, 1), (withdrawn, 1))
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=withdrawn)
    before = everything(shop, alice)
    assert "withdrawn" in expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    assert everything(shop, alice) == before


def test_checkout_may_take_the_last_unit_but_never_more(market, shop, alice):
    apple = add_product(shop, "apple", stock=3)
    buy(alice, (apple, 3))
    assert stock(shop, apple) == 0
    bob = market.client("bob")
    fill_cart(bob, (apple, 1))
    expect(bob, 409, "CLIENT_CHECKOUT_ITEM")
    assert stock(shop, apple) == 0


def test_checkout_competing_carts_second_is_refused(market, shop, alice):
    apple = add_product(shop, "apple", stock=5)
    bob = market.client("bob")
    fill_cart(alice, (apple, 3))
    fill_cart(bob, (apple, 3))
    expect(alice, 200, "CLIENT_CHECKOUT_ITEM")
    expect(bob, 409, "CLIENT_CHECKOUT_ITEM")
    assert stock(shop, apple) == 2
    assert cart(bob) == {apple: 3}


def test_checkout_after_a_refusal_succeeds_once_restocked(shop, alice):
    apple = add_product(shop, "apple", stock=1)
    fill_cart(alice, (apple, 2))
    expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=1)
    expect(alice, 200, "CLIENT_CHECKOUT_ITEM")
    assert stock(shop, apple) == 0


@pytest.mark.skipif(not on_postgresql(), reason="the one-statement checkout is PostgreSQL's")
@pytest.mark.parametrize("refused", [False, True])
def test_a_checkout_on_postgresql_is_one_statement(market, shop, alice, monkeypatch, refused):
    other = market.merchant("other")
    apple = add_product(shop, "apple", stock=5)
    plum = add_product(other, "plum", stock=1 if refused else 5)
    fill_cart(alice, (apple, 1), (plum, 2))
    sent = []
    real = Txn._execute

    def counting(txn, query, params):
        sent.append(query.format[:60])
        return real(txn, query, params)

    monkeypatch.setattr(Txn, "_execute", counting)
    if refused:
        assert "plum (product_id" in expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    else:
        assert alice.ok("CLIENT_CHECKOUT_ITEM")["total"] == "4.50"
    # A refusal then reads each short line's stock on hand, for
    # short_of_stock's `products` (protocol 1.2); the checkout is one statement.
    short = [storage_orders.SHORT_LINE.format[:60]] if refused else []
    assert sent == [storage_orders.CHECKOUT.format[:60], *short]


# --- orders ---------------------------------------------------------------


def test_client_get_order_columns_and_lines(market, shop, alice):
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.50", stock=5)
    plum = add_product(other, "plum", price="2", stock=5)
    order = buy(alice, (apple, 2), (plum, 1))
    lines = alice.ok("CLIENT_GET_ORDER", order_id=order["order_id"])
    assert_columns(lines, ITEM_COLUMNS)
    assert sorted(head(lines, 5)) == sorted(
        [["shop", apple, "apple", "1.50", 2], ["other", plum, "plum", "2.00", 1]]
    )


def test_client_get_order_keeps_the_price_at_purchase(shop, alice):
    apple = add_product(shop, "apple", price="1.50", stock=5)
    order = buy(alice, (apple, 2))
    shop.ok("SET_PRODUCT", product_id=apple, price="9.99")
    lines = records(alice.ok("CLIENT_GET_ORDER", order_id=order["order_id"]))
    assert [line["price"] for line in lines] == ["1.50"]
    assert alice.ok("CLIENT_LIST_ORDERS")["rows"][0][2] == "3.00"


def test_client_get_order_of_another_client_is_404(market, shop, alice):
    apple = add_product(shop, "apple", stock=5)
    order = buy(alice, (apple, 1))
    bob = market.client("bob")
    assert "order_id" in expect(bob, 404, "CLIENT_GET_ORDER", order_id=order["order_id"])


def test_client_get_order_missing_is_404(shop, alice):
    apple = add_product(shop, "apple", stock=5)
    order = buy(alice, (apple, 1))
    expect(alice, 404, "CLIENT_GET_ORDER", order_id=order["order_id"] + 1)


@pytest.mark.parametrize("order_id", ["1", 1.0, None])
def test_client_get_order_bad_id_is_400(alice, order_id):
    assert "order_id" in expect(alice, 400, "CLIENT_GET_ORDER", order_id=order_id)


def test_client_list_orders_of_a_new_client_is_empty(alice):
    data = alice.ok("CLIENT_LIST_ORDERS")
    assert_columns(data, ORDER_COLUMNS)
    assert data["rows"] == []
    assert data["next"] is None


def test_client_list_orders_row_in_contract_column_order(shop, alice):
    apple = add_product(shop, "apple", price="1.25", stock=5)
    order = buy(alice, (apple, 2))
    data = alice.ok("CLIENT_LIST_ORDERS")
    assert_columns(data, ORDER_COLUMNS)
    [[order_id, created_at, total]] = head(data, 3)
    assert (order_id, total) == (order["order_id"], "2.50")
    assert re.fullmatch(ISO_UTC, created_at), created_at


def test_client_list_orders_newest_first(shop, alice):
    apple = add_product(shop, "apple", stock=10)
    placed = [buy(alice, (apple, 1))["order_id"] for _ in range(3)]
    assert order_ids(alice) == placed[::-1]


def test_client_list_orders_shows_only_ones_own(market, shop, alice):
    apple = add_product(shop, "apple", stock=10)
    mine = buy(alice, (apple, 1))["order_id"]
    buy(market.client("bob"), (apple, 1))
    assert order_ids(alice) == [mine]


def test_client_list_orders_after_gives_older_orders(shop, alice):
    apple = add_product(shop, "apple", stock=10)
    placed = [buy(alice, (apple, 1))["order_id"] for _ in range(4)]
    data = alice.ok("CLIENT_LIST_ORDERS", limit=2)
    assert column(data, "order_id") == [placed[3], placed[2]]
    assert data["next"] == placed[2]
    assert order_ids(alice, after=data["next"]) == [placed[1], placed[0]]


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_client_list_orders_pages_cover_every_order_once(shop, alice, limit):
    apple = add_product(shop, "apple", stock=10)
    placed = [buy(alice, (apple, 1))["order_id"] for _ in range(5)]
    pages = all_pages(alice, "CLIENT_LIST_ORDERS", "order_id", limit)
    assert [row[0] for row in flatten(pages)] == placed[::-1]


@pytest.mark.parametrize("limit", [0, 1001])
def test_client_list_orders_limit_out_of_range_is_400(alice, limit):
    assert "limit" in expect(alice, 400, "CLIENT_LIST_ORDERS", limit=limit)
