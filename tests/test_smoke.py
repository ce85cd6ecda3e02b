def test_ping(market):
    assert market.peer().call("PING") == {
        "id": 1,
        "status": 200,
        "message": "ok",
        "data": {"protocol": "1.3"},
    }


def test_merchant_and_client_flow(market):
    shop = market.merchant("shop")
    product = shop.ok(
        "MERCHANT_ADD_PRODUCT", productname="apple", price="1.50", description="", stock=3
    )
    alice = market.client("alice")
    alice.ok("CLIENT_ADD_ITEM", product_id=product["product_id"], quantity=2)
    order = alice.ok("CLIENT_CHECKOUT_ITEM")
    assert order["total"] == "3.00"
    assert shop.ok("MERCHANT_GET_PROFIT") == "3.00"
