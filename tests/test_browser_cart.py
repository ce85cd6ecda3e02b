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

# The module's fixtures: its own live server and browser, as in test_browser.
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
