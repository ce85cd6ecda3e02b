"""The books after any mix of checkouts, ships and cancels (protocol 1.2),
on every backend: each store's profit is the total of its parts that are
not cancelled, MERCHANT_GET_SALES counts exactly those, and a product's
stock plus its units in parts that are not cancelled never changes.  Each
answer is the one a model of the parts predicts: a ship succeeds exactly
when the store's part is placed, a cancel exactly when some part is, and
names exactly those."""

from collections import Counter
from decimal import Decimal
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ledger import check_ledger
from tests.shop import add_product, records

STOCK = 6
PRICES = ("1.25", "3.00", "0.01", "99.99")  # product i: store i // 2, this price

lines = st.lists(
    st.tuples(st.integers(0, 3), st.integers(1, 3)),
    min_size=1,
    max_size=4,
    unique_by=lambda x: x[0],
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(0, 1), lines),
        st.tuples(st.just("ship"), st.integers(0, 1), st.integers(0, 20)),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=25,
)
runs = count()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions)
def test_the_books_balance_after_checkouts_ships_and_cancels(market, migrated_url, actions):
    # Each example has stores, products and customers of its own, in the
    # test's one database.
    run = next(runs)
    stores = [market.merchant(f"s{run}x{i}") for i in range(2)]
    customers = [market.client(f"c{run}x{i}") for i in range(2)]
    products = [
        add_product(stores[i // 2], f"p{i}", price=price, stock=STOCK)
        for i, price in enumerate(PRICES)
    ]
    # The model: order id -> (customer, {store: [status, cents]}).
    orders: list[tuple[int, int, dict[int, list]]] = []
    for action, who, what in actions:
        if action == "buy":
            for index, quantity in what:
                customers[who].ok("CLIENT_ADD_ITEM", product_id=products[index], quantity=quantity)
            answer = customers[who].call("CLIENT_CHECKOUT_ITEM")
            if answer["status"] == 409:  # short: the cart stays, and is emptied here
                for index, _ in what:
                    customers[who].ok("CLIENT_REMOVE_ITEM", product_id=products[index])
                continue
            assert answer["status"] == 200, answer
            parts: dict[int, list] = {}
            for index, quantity in what:
                cents = int(Decimal(PRICES[index]) * 100) * quantity
                parts.setdefault(index // 2, ["placed", 0])[1] += cents
            orders.append((answer["data"]["order_id"], who, parts))
        elif orders:
            order_id, owner, parts = orders[what % len(orders)]
            if action == "ship":
                answer = stores[who].call("MERCHANT_SHIP_ORDER", order_id=order_id)
                if who not in parts:
                    assert answer["status"] == 404, answer
                elif parts[who][0] == "placed":
                    assert answer["status"] == 200, answer
                    parts[who][0] = "shipped"
                else:
                    assert answer["status"] == 409 and parts[who][0] in answer["message"]
            else:
                answer = customers[who].call("CLIENT_CANCEL_ORDER", order_id=order_id)
                placed = sorted(s for s, part in parts.items() if part[0] == "placed")
                if who != owner:
                    assert answer["status"] == 404, answer
                elif placed:
                    assert answer["status"] == 200, answer
                    refunded = sum(parts[s][1] for s in placed)
                    assert answer["data"] == {
                        "refunded": f"{Decimal(refunded).scaleb(-2):.2f}",
                        "cancelled": [f"s{run}x{s}" for s in placed],
                    }
                    for s in placed:
                        parts[s][0] = "cancelled"
                else:
                    assert answer["status"] == 409, answer

    # Through the protocol: profit, sales and stock.
    kept_cents, kept_units = Counter(), Counter()
    for _, _, parts in orders:
        for s, (status, cents) in parts.items():
            if status != "cancelled":
                kept_cents[s] += cents
    for i, store in enumerate(stores):
        profit = Decimal(store.ok("MERCHANT_GET_PROFIT"))
        assert profit == Decimal(kept_cents[i]).scaleb(-2)
        listed = records(store.ok("MERCHANT_LIST_ORDERS"))
        assert sum(Decimal(r["total"]) for r in listed if r["status"] != "cancelled") == profit
        for row in records(store.ok("MERCHANT_GET_SALES")):
            kept_units[row["product_id"]] += row["quantity_sold"]
        for row in records(store.ok("MERCHANT_LIST_PRODUCTS")):
            assert row["stock"] + kept_units[row["product_id"]] == STOCK
    # And straight from the database, for the whole market.
    check_ledger(migrated_url, initial=initial_stocks(migrated_url))


def initial_stocks(url):
    """Every product of the test's database began with STOCK units."""
    from sqlalchemy import create_engine, select

    from cybermarket.storage.models import products

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {pid: STOCK for pid in conn.execute(select(products.c.id)).scalars()}
    finally:
        engine.dispose()
