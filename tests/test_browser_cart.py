"""The cart and checkout, as a customer uses them: after each thing the
customer does, the page shows what the server holds (tests/browser_kit.py
reads it over TCP), and checkout charges only what the customer saw."""

from __future__ import annotations

import re

from tests import test_browser
from tests.browser_kit import (
    customer_with_cart,
    page_cart,
    server_cart,
    server_total,
    tcp_store,
)
from tests.test_browser import log_in

# The module's fixtures, as in test_browser: its own live server; the run's one browser.
browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages


def open_cart(pages, username):
    page = pages.open("/")
    log_in(page, username)
    page.goto(page.url.split("#")[0] + "#/cart")
    page.locator("#checkout").wait_for()
    return page


def row(page, productname):
    return page.locator("table.lines tbody tr[data-product-id]").filter(has_text=productname)


def assert_page_is_server(page, server, username):
    """The rows, the total and the header's count are the server's."""
    from playwright.sync_api import expect

    held = server_cart(server, username)
    expect(page.locator("table.lines tbody tr[data-product-id]")).to_have_count(len(held))
    assert page_cart(page) == held
    total = server_total(server, username)
    expect(page.locator("#cart-total")).to_have_text(f"${total}")
    expect(page.locator("#cart-count")).to_have_text(str(sum(held.values())))


def test_update_and_remove_show_what_the_server_holds(pages, server):
    from playwright.sync_api import expect

    _, (creme, cake) = tcp_store(
        server, [("Crème brûlée", "7.00", 20, "Vanilla."), ("Cake", "45.75", 20, "Chocolate.")]
    )
    username = customer_with_cart(server, [(creme, 1), (cake, 1)])
    page = open_cart(pages, username)
    assert page_cart(page) == {"Crème brûlée": 1, "Cake": 1}
    expect(page.locator("#cart-total")).to_have_text("$52.75")

    # Update: the row, the total and the count follow the server.
    row(page, "Crème brûlée").locator("input.qty").fill("2")
    row(page, "Crème brûlée").get_by_role("button", name="Update").click()
    expect(page.locator("#cart-total")).to_have_text("$59.75")
    assert server_cart(server, username) == {"Crème brûlée": 2, "Cake": 1}
    assert_page_is_server(page, server, username)

    # Remove: the line leaves the page as it leaves the cart.
    row(page, "Cake").get_by_role("button", name="Remove").click()
    expect(row(page, "Cake")).to_have_count(0)
    assert server_cart(server, username) == {"Crème brûlée": 2}
    assert_page_is_server(page, server, username)
    assert page.locator("#cart-status").text_content() == ""

    # Enter in the quantity box updates, as the button does.
    quantity = row(page, "Crème brûlée").locator("input.qty")
    quantity.fill("3")
    quantity.press("Enter")
    expect(page.locator("#cart-total")).to_have_text("$21.00")
    assert server_cart(server, username) == {"Crème brûlée": 3}
    assert_page_is_server(page, server, username)


def test_a_quantity_typed_but_not_saved_is_not_ignored_at_checkout(pages, server):
    from playwright.sync_api import expect

    _, (tea,) = tcp_store(server, [("Green tea", "4.00", 20, "Loose leaf.")])
    username = customer_with_cart(server, [(tea, 1)])
    page = open_cart(pages, username)
    row(page, "Green tea").locator("input.qty").fill("5")
    page.get_by_role("button", name="Check out").click()
    # Either saved first, or the customer is told; never an order for 1
    # while the page says 5.
    status = page.locator("#cart-status")
    expect(status).to_have_text(re.compile("Green tea"))
    assert "Update" in status.text_content()
    assert server_cart(server, username) == {"Green tea": 1}
    expect(page.locator("#order-placed")).to_have_count(0)


def orders_of(server, username):
    from tests.browser_kit import as_customer
    from tests.live import rows

    return rows(as_customer(server, username, "CLIENT_LIST_ORDERS"))


def test_checkout_shows_a_review_and_never_charges_a_price_not_shown(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import as_merchant

    storename, (tea,) = tcp_store(server, [("Oolong", "11.00", 20, "Rolled leaves.")])
    username = customer_with_cart(server, [(tea, 1)])
    page = open_cart(pages, username)
    expect(page.locator("#cart-total")).to_have_text("$11.00")

    # The merchant changes the price while the cart is on the screen: the
    # review shows the new total, and says it moved.
    as_merchant(server, storename, "SET_PRODUCT", product_id=tea, price="110.00")
    page.get_by_role("button", name="Check out").click()
    expect(page.locator("#review-total")).to_have_text("$110.00")
    review = page.locator("table.review-lines tbody tr")
    expect(review).to_have_count(1)
    assert "Oolong" in review.first.text_content()
    assert review.first.locator(".line-quantity").text_content() == "1"
    note = page.locator("#review-note").text_content()
    assert "$11.00" in note and "$110.00" in note, note
    assert orders_of(server, username) == []

    # And again while the review is on the screen: nothing is charged, the
    # review shows the new figures and asks again.
    as_merchant(server, storename, "SET_PRODUCT", product_id=tea, price="120.00")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#review-total")).to_have_text("$120.00")
    assert "Nothing was charged" in page.locator("#review-note").text_content()
    assert orders_of(server, username) == []

    # Confirmed at what was shown: charged exactly that.
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-placed")).to_have_text(re.compile(r"Total \$120\.00\."))
    (order,) = orders_of(server, username)
    assert order["total"] == "120.00"


def test_the_cart_shows_stock_and_shelf_before_checkout_and_names_what_is_short(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import as_customer, as_merchant

    storename, (cookie, jam) = tcp_store(
        server, [("Cookie", "2.00", 2, "Oat."), ("Old jam", "3.00", 5, "Plum.")]
    )
    # The product card refuses more than is left, and says how many are.
    shop = pages.open(f"/#/store/{storename}")
    buyer = customer_with_cart(server, [])
    log_in(shop, buyer)
    shop.goto(shop.url.split("#")[0] + f"#/store/{storename}")
    found = test_browser.card(shop, "Cookie")
    found.get_by_label("Quantity of Cookie").fill("50")
    found.get_by_role("button", name="Add to cart").click()
    expect(found.locator(".form-status")).to_have_text(re.compile("Only 2 left"))
    assert server_cart(server, buyer) == {}

    # A cart that already holds too many (added elsewhere), and a product
    # taken off the shelf since.
    username = customer_with_cart(server, [(cookie, 50), (jam, 1)])
    as_merchant(server, storename, "MERCHANT_DEL_PRODUCT", product_id=jam)
    page = open_cart(pages, username)
    expect(row(page, "Cookie").locator(".line-state")).to_have_text(
        "Only 2 left: lower the quantity"
    )
    expect(row(page, "Old jam").locator(".line-state")).to_have_text("No longer on sale")
    warning = page.locator("#cart-warning").text_content()
    assert "Cookie (2 left)" in warning and "Old jam" in warning, warning
    page.get_by_role("button", name="Check out").click()
    status = page.locator("#cart-status")
    expect(status).to_have_text(re.compile(r"Cookie \(2 left\)"))
    assert "Old jam" in status.text_content()
    assert orders_of(server, username) == []

    # Lowered to what is left and the jam removed: the review; then someone
    # else buys the last cookies before Place order.  The refusal names
    # the line with what is left now, from the cart read again.
    row(page, "Cookie").locator("input.qty").fill("2")
    row(page, "Cookie").get_by_role("button", name="Update").click()
    expect(row(page, "Cookie").locator(".line-state")).to_have_text("Only 2 left")
    row(page, "Old jam").get_by_role("button", name="Remove").click()
    expect(row(page, "Old jam")).to_have_count(0)
    page.get_by_role("button", name="Check out").click()
    expect(page.locator("#review-total")).to_have_text("$4.00")
    other = customer_with_cart(server, [(cookie, 2)])
    as_customer(server, other, "CLIENT_CHECKOUT_ITEM")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#cart-status")).to_have_text(re.compile(r"Cookie \(0 left\)"))
    assert "Nothing was charged" in page.locator("#cart-status").text_content()
    expect(row(page, "Cookie").locator(".line-state")).to_have_text("Sold out: please remove it")
    assert orders_of(server, username) == []
    assert server_cart(server, username) == {"Cookie": 2}
