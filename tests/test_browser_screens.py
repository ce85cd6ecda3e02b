"""One screenshot pass over the pages people use most (the cart, the
checkout review, the console's products and sales), at desktop width and
at a phone's in all three languages: the pictures go to docs/screenshots/
for people to look at, and each page must fit the phone without
scrolling sideways.  Behaviour is tested in English at desktop width, in
tests/test_browser_cart.py and tests/test_browser_console.py."""

from __future__ import annotations

import pytest

from tests import test_browser
from tests.browser_kit import (
    DOCS_SHOTS,
    PASSWORD,
    PHONE_390,
    customer_with_cart,
    shoot_docs,
    tcp_store,
)
from tests.databases import TEST_DATABASE
from tests.test_browser import DESKTOP, no_sideways_scroll

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages

# The pictures are of the pages, which no backend changes: one pass, in
# the SQLite run, keeps the suite within its time (the behaviour tests run
# on both backends).
pytestmark = pytest.mark.skipif(
    TEST_DATABASE.startswith("postgresql"), reason="the screenshot pass runs once, on SQLite"
)

ADDRESS = "Flat 4, 12 Rose Lane\nSpringfield 4021"
LONG = "Extra large celebration cake with raspberries, pistachios and white chocolate"


def sign_in(page, form_selector, login):
    # By the fields' names: the labels are in the page's language.
    form = page.locator(form_selector)
    form.locator("input[name=login]").fill(login)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


@pytest.mark.parametrize(
    "suffix, viewport, locale",
    [
        ("desktop", DESKTOP, "en-US"),
        ("phone", PHONE_390, "en-US"),
        ("zh-CN-phone", PHONE_390, "zh-CN"),
        ("ru-phone", PHONE_390, "ru-RU"),
    ],
)
def test_screenshots_of_the_cart_the_review_and_the_console(
    pages, server, suffix, viewport, locale
):
    storename, (cake, creme, tea) = tcp_store(
        server,
        [
            (LONG, "1234.50", 3, "Serves forty."),
            ("Crème brûlée", "7.25", 2, "Vanilla."),
            ("Green tea", "4.00", 50, "Loose leaf."),
        ],
    )
    other_store, (mug,) = tcp_store(server, [("Stoneware mug", "12.00", 9, "Glazed.")])
    username = customer_with_cart(server, [(cake, 1), (creme, 5), (tea, 2), (mug, 1)])
    page = pages.open("/#/account", viewport, locale=locale)
    sign_in(page, "form.login", username)
    page.locator("#cart-count:not([hidden])").wait_for()
    page.goto(page.url.split("#")[0] + "#/cart")
    page.locator("#cart-warning").wait_for()
    no_sideways_scroll(page)
    shoot_docs(page, f"cart-{suffix}")
    # Lowered to what is left: the review.
    quantity = page.locator(f"tr[data-product-id='{creme}'] input.qty")
    quantity.fill("2")
    quantity.press("Enter")
    page.locator("#cart-warning").wait_for(state="detached")
    page.locator("#checkout").click()
    page.locator("#review-total").wait_for()
    page.locator("form.place textarea[name=address]").fill(ADDRESS)
    no_sideways_scroll(page)
    shoot_docs(page, f"checkout-review-{suffix}")
    page.locator("#place-order").click()
    page.locator("#order-placed").wait_for()

    console = pages.open("/console.html", viewport, locale=locale)
    sign_in(console, "form.login", storename)
    console.locator("table.products tbody tr").first.wait_for()
    no_sideways_scroll(console)
    shoot_docs(console, f"console-products-{suffix}")
    # The add form with a mistake: the message at its field, and the
    # name's length shown as it is typed.
    add = console.locator("form.add-product")
    add.locator("input[name=productname]").fill(LONG)
    add.locator("input[name=price]").fill("-2,50")
    add.locator("button[type=submit]").click()
    add.locator(".field-error").wait_for()
    no_sideways_scroll(console)
    add.screenshot(path=str(DOCS_SHOTS / f"console-add-product-error-{suffix}.png"))
    console.goto(console.url.split("#")[0] + "#/sales")
    console.locator(".chart .bar-fill").first.wait_for()
    no_sideways_scroll(console)
    shoot_docs(console, f"console-sales-{suffix}")
    # The store's orders: the part waiting to ship, with its form; then
    # shipped with a note, and the customer's orders showing both parts.
    console.goto(console.url.split("#")[0] + "#/orders")
    card = console.locator("article.order").first
    card.locator("form.ship").wait_for()
    no_sideways_scroll(console)
    shoot_docs(console, f"console-orders-{suffix}")
    card.locator("input[name=note]").fill("DHL 00340434161094042557")
    card.locator("form.ship button[type=submit]").click()
    card.locator(".pill[data-status=shipped]").wait_for()
    console.locator("#waiting-count").wait_for(state="hidden")
    page.goto(page.url.split("#")[0] + "#/orders")
    page.locator("article.order .ship-note").first.wait_for()
    no_sideways_scroll(page)
    shoot_docs(page, f"orders-{suffix}")
