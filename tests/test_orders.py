"""Protocol 1.2: checkout with what the customer saw and where it goes, and
orders a store ships and a customer cancels (wire contract 1.2, "Checkout
with what the customer saw, and where it goes", "Orders a merchant can
ship, and an order a customer can cancel"), rule by rule, on every
backend."""

import pytest

from cybermarket.values import MAX_STOCK
from tests.shop import add_product, buy, expect, fill_cart, records, stock

ORDER_COLUMNS = ["order_id", "created_at", "username", "address", "total", "status"]


def cart(client):
    return {r["product_id"]: r["quantity"] for r in records(client.ok("CLIENT_GET_ITEMS"))}


def profit(merchant):
    return merchant.ok("MERCHANT_GET_PROFIT")


def my_orders(client):
    return {r["order_id"]: r for r in records(client.ok("CLIENT_LIST_ORDERS"))}


def store_orders(merchant, **args):
    return records(merchant.ok("MERCHANT_LIST_ORDERS", **args))


def order_count(client):
    return len(client.ok("CLIENT_LIST_ORDERS")["rows"])


@pytest.fixture
def two_stores(market, shop, alice):
    """alice's order of an apple from shop (1.50 x 2) and a plum from other
    (2.00 x 1): (other, apple, plum, order_id)."""
    other = market.merchant("other")
    apple = add_product(shop, "apple", price="1.50", stock=5)
    plum = add_product(other, "plum", price="2", stock=5)
    order = buy(alice, (apple, 2), (plum, 1))
    return other, apple, plum, order["order_id"]


# --- checkout: expected_total and address ------------------------------------


def test_get_items_shows_stock_and_on_shelf(shop, alice):
    apple = add_product(shop, "apple", stock=7)
    fill_cart(alice, (apple, 9))
    (line,) = records(alice.ok("CLIENT_GET_ITEMS"))
    assert line["stock"] == 7 and line["on_shelf"] is True
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=apple)
    (line,) = records(alice.ok("CLIENT_GET_ITEMS"))
    assert line["on_shelf"] is False and line["stock"] == 7


@pytest.mark.parametrize("expected", ["3.00", "3", 3, "3.0"])
def test_checkout_at_the_total_seen_succeeds(shop, alice, expected):
    apple = add_product(shop, "apple", price="1.50", stock=5)
    fill_cart(alice, (apple, 2))
    assert alice.ok("CLIENT_CHECKOUT_ITEM", expected_total=expected)["total"] == "3.00"


def test_checkout_at_another_total_is_409_with_the_total_now_and_changes_nothing(shop, alice):
    apple = add_product(shop, "apple", price="1.50", stock=5)
    fill_cart(alice, (apple, 2))
    shop.ok("SET_PRODUCT", product_id=apple, price="1.75")
    response = alice.call("CLIENT_CHECKOUT_ITEM", expected_total="3.00")
    assert response["status"] == 409, response
    assert response["error"] == {"code": "total_changed", "total": "3.50"}
    assert "3.50" in response["message"]
    assert stock(shop, apple) == 5 and cart(alice) == {apple: 2}
    assert profit(shop) == "0.00" and order_count(alice) == 0
    assert alice.ok("CLIENT_CHECKOUT_ITEM", expected_total="3.50")["total"] == "3.50"


@pytest.mark.parametrize("bad", ["1.234", "-1", "0", "1e3", 1.5, True, "", "0.00"])
def test_expected_total_parses_like_a_price(shop, alice, bad):
    apple = add_product(shop, "apple", stock=5)
    fill_cart(alice, (apple, 1))
    assert expect(alice, 400, "CLIENT_CHECKOUT_ITEM", expected_total=bad).startswith(
        "expected_total:"
    )


def test_expected_total_may_pass_the_price_limit_up_to_the_order_total_limit(shop, alice):
    apple = add_product(shop, "apple", price="99999999.99", stock=20)
    fill_cart(alice, (apple, 20))
    total = "1999999999.80"  # past the price limit
    assert alice.ok("CLIENT_CHECKOUT_ITEM", expected_total=total)["total"] == total
    # The order-total limit itself parses (and is simply not the total);
    # one cent more does not.
    fill_cart(alice, (add_product(shop, "pear", stock=1), 1))
    expect(alice, 409, "CLIENT_CHECKOUT_ITEM", expected_total="1000000000000000.00")
    message = expect(alice, 400, "CLIENT_CHECKOUT_ITEM", expected_total="1000000000000000.01")
    assert message.startswith("expected_total:")


def test_short_of_stock_wins_over_total_changed(shop, alice):
    apple = add_product(shop, "apple", stock=1)
    fill_cart(alice, (apple, 2))
    assert "apple (product_id" in expect(alice, 409, "CLIENT_CHECKOUT_ITEM", expected_total="9")


def test_empty_cart_wins_over_total_changed(alice):
    assert expect(alice, 400, "CLIENT_CHECKOUT_ITEM", expected_total="9") == (
        "cart: the cart is empty"
    )


def test_total_changed_wins_over_too_large(shop, alice):
    apple = add_product(shop, "apple", price="99999999.99", stock=MAX_STOCK)
    # 10^8 units at the largest price: past the order-total limit.
    for _ in range(100):
        fill_cart(alice, (apple, 1_000_000))
    assert "too large" in expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    message = expect(alice, 409, "CLIENT_CHECKOUT_ITEM", expected_total="1")
    assert message.startswith("expected_total:"), message


def test_the_address_is_kept_on_the_order(shop, alice):
    apple = add_product(shop, "apple", stock=5)
    fill_cart(alice, (apple, 1))
    address = "Flat 2\n10 Long Road\nTown 東京"
    order_id = alice.ok("CLIENT_CHECKOUT_ITEM", address=address)["order_id"]
    assert my_orders(alice)[order_id]["address"] == address
    (row,) = store_orders(shop)
    assert row["address"] == address and row["order_id"] == order_id


def test_without_an_address_the_order_has_none(shop, alice):
    apple = add_product(shop, "apple", stock=5)
    order_id = buy(alice, (apple, 1))["order_id"]
    assert my_orders(alice)[order_id]["address"] is None
    assert store_orders(shop)[0]["address"] is None


@pytest.mark.parametrize("bad", ["", "x" * 501, "a\x00b", "a\x1bb", "right\u202eleft", 5, ["a"]])
def test_a_bad_address_is_400_and_changes_nothing(shop, alice, bad):
    apple = add_product(shop, "apple", stock=5)
    fill_cart(alice, (apple, 1))
    assert expect(alice, 400, "CLIENT_CHECKOUT_ITEM", address=bad).startswith("address:")
    assert cart(alice) == {apple: 1} and stock(shop, apple) == 5


def test_the_longest_address_and_tabs_are_taken(shop, alice):
    apple = add_product(shop, "apple", stock=5)
    fill_cart(alice, (apple, 1))
    address = ("a\tb\r\n" * 100)[:500]
    order_id = alice.ok("CLIENT_CHECKOUT_ITEM", address=address)["order_id"]
    assert my_orders(alice)[order_id]["address"] == address


def test_a_later_change_leaves_past_orders_as_they_were(market, shop, alice):
    apple = add_product(shop, "apple", stock=5)
    fill_cart(alice, (apple, 1))
    first = alice.ok("CLIENT_CHECKOUT_ITEM", address="old street")["order_id"]
    fill_cart(alice, (apple, 1))
    alice.ok("CLIENT_CHECKOUT_ITEM", address="new street")
    alice.ok("SET_CLIENT_USERNAME", username="alicia")
    shop.ok("SET_MERCHANT_STORENAME", storename="shop2")
    rows = {r["order_id"]: r for r in store_orders(shop)}
    assert rows[first]["address"] == "old street"
    assert rows[first]["username"] == "alice"  # the customer's name at purchase
    assert my_orders(alice)[first]["address"] == "old street"
    # The cancel names the store as it was named at purchase.
    assert alice.ok("CLIENT_CANCEL_ORDER", order_id=first)["cancelled"] == ["shop"]


# --- the parts: listing ------------------------------------------------------------


def test_a_checkout_places_a_part_per_store(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    (mine,) = store_orders(shop)
    assert list(mine)[: len(ORDER_COLUMNS)] == ORDER_COLUMNS
    assert (mine["order_id"], mine["username"], mine["total"], mine["status"]) == (
        order_id,
        "alice",
        "3.00",
        "placed",
    )
    (theirs,) = store_orders(other)
    assert (theirs["total"], theirs["status"]) == ("2.00", "placed")
    row = my_orders(alice)[order_id]
    assert (row["total"], row["status"], row["cancellable"]) == ("5.00", "placed", True)


def test_client_get_order_appends_status_and_note(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id, note="Post 123")
    lines = {r["product_id"]: r for r in records(alice.ok("CLIENT_GET_ORDER", order_id=order_id))}
    assert (lines[apple]["status"], lines[apple]["note"]) == ("shipped", "Post 123")
    assert (lines[plum]["status"], lines[plum]["note"]) == ("placed", None)


def test_merchant_get_order_shows_only_the_stores_lines(two_stores, shop):
    other, apple, plum, order_id = two_stores
    assert records(shop.ok("MERCHANT_GET_ORDER", order_id=order_id)) == [
        {"product_id": apple, "productname": "apple", "price": "1.50", "quantity": 2}
    ]
    assert [
        r["product_id"] for r in records(other.ok("MERCHANT_GET_ORDER", order_id=order_id))
    ] == [plum]


def test_a_store_not_in_the_order_sees_nothing_of_it(market, two_stores, alice):
    *_, order_id = two_stores
    third = market.merchant("third")
    assert "order_id:" in expect(third, 404, "MERCHANT_GET_ORDER", order_id=order_id)
    refused = third.call("MERCHANT_GET_ORDER", order_id=order_id)
    assert refused["error"] == {"code": "not_found", "what": "order"}
    assert expect(third, 404, "MERCHANT_SHIP_ORDER", order_id=order_id)
    assert store_orders(third) == []
    expect(third, 404, "MERCHANT_GET_ORDER", order_id=order_id + 1000)


def test_another_customer_sees_nothing_of_it(market, two_stores):
    *_, order_id = two_stores
    bob = market.client("bob")
    expect(bob, 404, "CLIENT_GET_ORDER", order_id=order_id)
    expect(bob, 404, "CLIENT_CANCEL_ORDER", order_id=order_id)
    assert my_orders(bob) == {}


def test_the_order_ops_need_their_roles(two_stores, shop, alice):
    *_, order_id = two_stores
    for op in ("MERCHANT_LIST_ORDERS", "MERCHANT_GET_ORDER", "MERCHANT_SHIP_ORDER"):
        args = {} if op == "MERCHANT_LIST_ORDERS" else {"order_id": order_id}
        expect(alice, 401, op, **args)
    expect(shop, 401, "CLIENT_CANCEL_ORDER", order_id=order_id)


def test_the_status_filter_applies_before_the_limit_and_pages_go_newest_first(shop, alice):
    apple = add_product(shop, "apple", stock=100)
    ids = [buy(alice, (apple, 1))["order_id"] for _ in range(7)]
    for order_id in ids[1::2]:
        shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id)
    alice.ok("CLIENT_CANCEL_ORDER", order_id=ids[0])
    placed = [i for i in ids[2::2]]
    seen, after = [], None
    while True:
        extra = {} if after is None else {"after": after}
        page = shop.ok("MERCHANT_LIST_ORDERS", status="placed", limit=2, **extra)
        seen += [r["order_id"] for r in records(page)]
        assert all(r["status"] == "placed" for r in records(page))
        after = page["next"]
        if after is None:
            break
    assert seen == sorted(placed, reverse=True)
    shipped = [r["order_id"] for r in store_orders(shop, status="shipped", limit=1)]
    assert shipped == [ids[5]]
    assert [r["order_id"] for r in store_orders(shop, status="cancelled")] == [ids[0]]
    assert [r["order_id"] for r in store_orders(shop)] == sorted(ids, reverse=True)


@pytest.mark.parametrize("bad", ["PLACED", "partial", "", 1])
def test_an_unknown_status_filter_is_400(shop, bad):
    response = shop.call("MERCHANT_LIST_ORDERS", status=bad)
    assert response["status"] == 400 and response["message"].startswith("status:"), response


# --- ship ----------------------------------------------------------------------------


def test_ship_marks_the_part_shipped_once(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    assert shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id, note="") is None
    assert store_orders(shop)[0]["status"] == "shipped"
    refused = shop.call("MERCHANT_SHIP_ORDER", order_id=order_id)
    assert refused["error"] == {"code": "not_placed", "status": "shipped"}, refused
    assert "shipped" in refused["message"]
    assert my_orders(alice)[order_id]["status"] == "partial"
    assert my_orders(alice)[order_id]["cancellable"] is True


@pytest.mark.parametrize("bad", ["x" * 201, "a\x07b", 7])
def test_a_bad_note_is_400(two_stores, shop, bad):
    *_, order_id = two_stores
    assert expect(shop, 400, "MERCHANT_SHIP_ORDER", order_id=order_id, note=bad).startswith("note:")
    assert store_orders(shop)[0]["status"] == "placed"


def test_the_longest_note_is_kept(two_stores, shop):
    *_, order_id = two_stores
    note = "DHL\n" + "9" * 196
    shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id, note=note)
    assert store_orders(shop)[0]["note"] == note


def test_a_cancelled_part_is_not_shipped(two_stores, shop, alice):
    *_, order_id = two_stores
    alice.ok("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert "cancelled" in expect(shop, 409, "MERCHANT_SHIP_ORDER", order_id=order_id)
    assert store_orders(shop)[0]["status"] == "cancelled"


# --- cancel ---------------------------------------------------------------------------


def test_cancel_gives_stock_back_and_takes_profit_off(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    assert (profit(shop), profit(other)) == ("3.00", "2.00")
    answer = alice.ok("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert answer["refunded"] == "5.00"
    assert sorted(answer["cancelled"]) == ["other", "shop"]
    assert (stock(shop, apple), stock(other, plum)) == (5, 5)
    assert (profit(shop), profit(other)) == ("0.00", "0.00")
    row = my_orders(alice)[order_id]
    assert (row["status"], row["cancellable"]) == ("cancelled", False)
    assert "cancelled" in expect(alice, 409, "CLIENT_CANCEL_ORDER", order_id=order_id)
    assert (stock(shop, apple), profit(shop)) == (5, "0.00")  # back exactly once


def test_cancel_leaves_shipped_parts_alone(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    other.ok("MERCHANT_SHIP_ORDER", order_id=order_id)
    answer = alice.ok("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert answer == {"refunded": "3.00", "cancelled": ["shop"]}
    assert (stock(shop, apple), stock(other, plum)) == (5, 4)
    assert (profit(shop), profit(other)) == ("0.00", "2.00")
    row = my_orders(alice)[order_id]
    assert (row["status"], row["cancellable"]) == ("partial", False)
    # No part placed: 409 with the order's status as the list gives it.
    refused = alice.call("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert refused["error"] == {"code": "not_placed", "status": "partial"}, refused
    assert "partial" in refused["message"]


def test_an_order_all_shipped_is_not_cancelled(two_stores, shop, alice):
    other, apple, plum, order_id = two_stores
    shop.ok("MERCHANT_SHIP_ORDER", order_id=order_id)
    other.ok("MERCHANT_SHIP_ORDER", order_id=order_id)
    assert my_orders(alice)[order_id]["status"] == "shipped"
    assert "shipped" in expect(alice, 409, "CLIENT_CANCEL_ORDER", order_id=order_id)
    assert (profit(shop), profit(other)) == ("3.00", "2.00")


def test_sales_count_only_parts_not_cancelled(shop, alice):
    apple = add_product(shop, "apple", price="1.50", stock=10)
    first = buy(alice, (apple, 2))["order_id"]
    buy(alice, (apple, 3))
    alice.ok("CLIENT_CANCEL_ORDER", order_id=first)
    (row,) = records(shop.ok("MERCHANT_GET_SALES"))
    assert (row["quantity_sold"], row["revenue"]) == (3, "4.50")
    assert profit(shop) == "4.50"


def test_stock_comes_back_off_the_shelf_and_past_the_restock_limit(shop, alice):
    apple = add_product(shop, "apple", stock=MAX_STOCK)
    order_id = buy(alice, (apple, 5))["order_id"]
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=apple)
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=apple, quantity=5)
    assert stock(shop, apple) == MAX_STOCK
    alice.ok("CLIENT_CANCEL_ORDER", order_id=order_id)
    assert stock(shop, apple) == MAX_STOCK + 5


def test_an_unknown_order_is_404(alice):
    assert "order_id:" in expect(alice, 404, "CLIENT_CANCEL_ORDER", order_id=12345)
