"""A product's photo, from the merchant's console to a shopper's page, on
both backends: the merchant adds a product with a photo, a shopper sees it
on the card, the product's page and the cart line, and a replacement shows
after a reload in a browser that kept the old one.  At desktop width on
both backends; at phone width (the same walk in another layout) and the
pages' other tests (tests/test_browser_photos.py,
tests/test_browser_console_photos.py) in the SQLite run only."""

from __future__ import annotations

import pytest

from tests import test_browser
from tests.browser_kit import PHONE_390, tcp_store
from tests.test_browser import DESKTOP, no_sideways_scroll, pages_alone
from tests.test_browser_console_photos import (
    add_product,
    choose,
    gradient,
    open_console,
    preview_shown,
    product_id_of,
    row,
    shelf_photos,
)

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages


# The walk at phone width is the same walk in another layout: the
# SQLite run only.
@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param(DESKTOP, id="desktop"),
        pytest.param(PHONE_390, id="phone", marks=pages_alone),
    ],
)
def test_a_photo_the_merchant_uploads_is_what_a_shopper_sees_and_a_new_one_replaces_it(
    pages, server, viewport
):
    """The whole path, with two people: the merchant adds a product with a
    photo in the console; a shopper sees it on the card, the product's page
    and the cart line, each of them the server's path; the merchant
    replaces it; the shopper's browser, which has the old photo in its
    cache (a year, immutable), shows the new one after a reload."""
    from playwright.sync_api import expect

    from tests.browser_kit import customer_with_cart
    from tests.test_browser import log_in
    from tests.test_browser_photos import assert_thumbnail, loaded_image, product_card

    storename, _ = tcp_store(server, [])
    console = open_console(pages, storename, viewport)
    add = console.locator("form.add-product")
    choose(add, "lamp.jpg", gradient((900, 600)))
    preview_shown(add)
    add_product(console, "Desk lamp", "49.00")
    console.locator("form.add-product .form-status", has_text="Added Desk lamp.").wait_for()
    lamp = product_id_of(server, storename, "Desk lamp")
    first = shelf_photos(server, storename)["Desk lamp"]
    assert first is not None

    shopper = customer_with_cart(server, [(lamp, 1)])
    page = pages.open("/", viewport)
    log_in(page, shopper)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    shown = assert_thumbnail(page, product_card(page, lamp), first, "Desk lamp")
    assert (shown["w"], shown["h"]) == (400, 267)
    product_card(page, lamp).locator(".product-name a").click()
    page.wait_for_url(f"**#/product/{lamp}")
    large = loaded_image(page, page.locator("article.product-page img.photo"))
    assert (large["src"], large["w"], large["h"]) == (f"{first}?size=large", 900, 600)
    page.goto(page.url.split("#")[0] + "#/cart")
    line = page.locator(f"table.cart-lines tr[data-product-id='{lamp}']")
    assert_thumbnail(page, line, first, "Desk lamp")

    # The merchant replaces it with a tall photo, in the edit form.
    row(console, lamp).get_by_role("button", name="Edit").click()
    edit = row(console, lamp).locator("form")
    choose(edit, "tall.png", gradient((300, 600), "PNG"), "image/png")
    preview_shown(edit)
    edit.locator("button[type=submit]").click()
    expect(row(console, lamp).locator("img.product-thumb")).not_to_have_attribute(
        "src", f"{first}?size=thumb"
    )
    second = shelf_photos(server, storename)["Desk lamp"]
    assert second not in (None, first)
    expect(row(console, lamp).locator("img.product-thumb")).to_have_attribute(
        "src", f"{second}?size=thumb"
    )

    # The shopper's reload: the new path everywhere, and its pixels, not
    # the cached old ones.
    page.reload()
    line = page.locator(f"table.cart-lines tr[data-product-id='{lamp}']")
    shown = assert_thumbnail(page, line, second, "Desk lamp")
    assert (shown["w"], shown["h"]) == (200, 400)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    shown = assert_thumbnail(page, product_card(page, lamp), second, "Desk lamp")
    assert (shown["w"], shown["h"]) == (200, 400)
    page.goto(page.url.split("#")[0] + f"#/product/{lamp}")
    page.locator("article.product-page").wait_for()
    large = loaded_image(page, page.locator("article.product-page img.photo"))
    assert (large["src"], large["w"], large["h"]) == (f"{second}?size=large", 300, 600)
    no_sideways_scroll(page)
