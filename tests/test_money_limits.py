"""Money at the edge of what the columns hold: a store's profit is a BIGINT
of cents, so it can count up to 2^63 - 1 cents.  Checkout must refuse an
order that would take a total past that (409, nothing changed), and every
amount read back must be exact: never a float, never a negative, never a
500.  The sales that bring a store near the limit are written into the
database directly (tests/seed.py).
"""

import pytest

from tests.databases import on_postgresql
from tests.seed import (
    MAX_CENTS,
    MAX_PRICE,
    MAX_PRICE_CENTS,
    ORDER_YACHTS,
    SEEDED_CENTS,
    SEEDED_ORDERS,
    Seeder,
    money_text,
)
from tests.shop import add_product, expect, fill_cart, head, products_by_id


@pytest.fixture
def seeder(market):
    s = Seeder(market.url)
    yield s
    s.close()


def add_units(client, product_id, units):
    """CLIENT_ADD_ITEM takes at most 1,000,000 units a request."""
    while units:
        step = min(units, 1_000_000)
        fill_cart(client, (product_id, step))
        units -= step


def state(shop, alice):
    """Everything a refused checkout must leave as it was."""
    return {
        "profit": shop.ok("MERCHANT_GET_PROFIT"),
        "sales": head(shop.ok("MERCHANT_GET_SALES"), 4),
        "products": products_by_id(shop),
        "cart": alice.ok("CLIENT_GET_ITEMS")["rows"],
        "orders": alice.ok("CLIENT_LIST_ORDERS")["rows"],
    }


def test_checkout_past_the_largest_profit_is_409_and_changes_nothing(shop, alice, seeder):
    yacht = add_product(shop, "yacht", MAX_PRICE, stock=1_000_000_000)
    seeder.sales("shop", "alice", yacht, "yacht", MAX_PRICE_CENTS, ORDER_YACHTS, SEEDED_ORDERS)
    assert shop.ok("MERCHANT_GET_PROFIT") == money_text(SEEDED_CENTS) == "91999999990800000.00"
    assert head(shop.ok("MERCHANT_GET_SALES"), 4) == [
        [yacht, "yacht", SEEDED_ORDERS * ORDER_YACHTS, money_text(SEEDED_CENTS)]
    ]

    add_units(alice, yacht, ORDER_YACHTS)  # a maximal order: 93 of them pass the limit
    before = state(shop, alice)
    message = expect(alice, 409, "CLIENT_CHECKOUT_ITEM")
    assert message.startswith("cart:") and "shop" in message
    assert state(shop, alice) == before

    # An order that still fits goes through, and the profit stays exact.
    alice.ok("CLIENT_REMOVE_ITEM", product_id=yacht)
    add_units(alice, yacht, 2_000_000)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    total = SEEDED_CENTS + 2_000_000 * MAX_PRICE_CENTS
    assert shop.ok("MERCHANT_GET_PROFIT") == money_text(total) == "92199999990780000.00"
    assert head(shop.ok("MERCHANT_GET_SALES"), 4) == [
        [yacht, "yacht", SEEDED_ORDERS * ORDER_YACHTS + 2_000_000, money_text(total)]
    ]


def test_checkout_may_take_a_profit_to_exactly_the_largest_amount(shop, alice, seeder):
    boat = add_product(shop, "boat", "1.50", stock=10)
    seeder.set_profit("shop", MAX_CENTS - 150)
    fill_cart(alice, (boat, 1))
    alice.ok("CLIENT_CHECKOUT_ITEM")
    assert shop.ok("MERCHANT_GET_PROFIT") == money_text(MAX_CENTS) == "92233720368547758.07"

    penny = add_product(shop, "penny sweet", "0.01", stock=10)
    fill_cart(alice, (penny, 1))
    before = state(shop, alice)
    assert expect(alice, 409, "CLIENT_CHECKOUT_ITEM").startswith("cart:")
    assert state(shop, alice) == before


def test_a_refused_checkout_credits_no_other_store(market, shop, alice, seeder):
    """One order, two stores: the full one refuses, so the other one is not
    credited either."""
    other = market.merchant("other")
    boat = add_product(shop, "boat", "1.50", stock=10)
    plum = add_product(other, "plum", "2.00", stock=10)
    seeder.set_profit("shop", MAX_CENTS - 100)
    fill_cart(alice, (boat, 1), (plum, 1))
    before = state(other, alice)
    assert expect(alice, 409, "CLIENT_CHECKOUT_ITEM").startswith("cart:")
    assert state(other, alice) == before
    assert shop.ok("MERCHANT_GET_PROFIT") == money_text(MAX_CENTS - 100)
    assert products_by_id(shop)[boat]["stock"] == 10


def test_order_total_past_the_servers_limit_is_409(shop, alice):
    yacht = add_product(shop, "yacht", MAX_PRICE, stock=1_000_000_000)
    add_units(alice, yacht, ORDER_YACHTS + 1)  # one yacht past 10^17 cents
    before = state(shop, alice)
    assert expect(alice, 409, "CLIENT_CHECKOUT_ITEM") == "cart: the order total is too large"
    assert state(shop, alice) == before


@pytest.mark.skipif(on_postgresql(), reason="only SQLite could store a profit past 2^63 - 1")
def test_a_profit_stored_past_the_limit_is_refused_not_shown_as_a_float(shop, seeder):
    """Before checkout refused such orders, SQLite turned an overflowing
    profit into a float.  Reading it back must not pass that on."""
    with seeder.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE merchants SET profit_cents = profit_cents + 9223372036854775807 + 1"
        )
        assert conn.exec_driver_sql("SELECT typeof(profit_cents) FROM merchants").scalar() == "real"
    message = expect(shop, 409, "MERCHANT_GET_PROFIT")
    assert message.startswith("profit:")


@pytest.mark.skipif(on_postgresql(), reason="only SQLite could store sales past 2^63 - 1")
def test_sales_stored_past_the_limit_are_refused_not_wrapped(shop, alice, seeder):
    """Sales recorded before checkout refused such orders can sum past what
    64-bit cents hold: the answer is a clear refusal, not a negative."""
    yacht = add_product(shop, "yacht", MAX_PRICE, stock=10)
    seeder.sales(
        "shop",
        "alice",
        yacht,
        "yacht",
        MAX_PRICE_CENTS,
        ORDER_YACHTS,
        SEEDED_ORDERS + 2,
        credit=False,
    )
    message = expect(shop, 409, "MERCHANT_GET_SALES")
    assert message.startswith("sales:")
