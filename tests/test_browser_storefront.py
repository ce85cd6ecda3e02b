"""The storefront's pages as a customer uses them: cards keep their size
whatever a merchant writes, a store's search shows only its results and
lives in the address (reload, Back), and prices and quantities are read
the way people type them."""

from __future__ import annotations

from tests import test_browser
from tests.browser_kit import PHONE_390, as_merchant, tcp_store
from tests.test_browser import DESKTOP, card, no_sideways_scroll

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages

UNBROKEN = "Ü" + "x" * 400
UNBROKEN_NAME = UNBROKEN[:200]
LONG_TEXT = ("Sourdough, rye and spelt, baked every morning in a wood-fired oven. " * 25).strip()


# Not marked pages_alone: the one browser test of long text in cards
# (issue 24, defect 12), which runs on both backends as a test of each of
# that defects does.
def test_long_text_keeps_cards_in_shape(pages, server):
    from playwright.sync_api import expect

    chatty, _ = tcp_store(server, [("Loaf", "3.00", 5, LONG_TEXT)])
    as_merchant(server, chatty, "SET_MERCHANT_DESCRIPTION", description=LONG_TEXT)
    unbroken, _ = tcp_store(server, [(UNBROKEN_NAME, "1.00", 5, UNBROKEN)])
    as_merchant(server, unbroken, "SET_MERCHANT_DESCRIPTION", description=UNBROKEN)
    for viewport in (DESKTOP, PHONE_390):
        page = pages.open("/", viewport)
        page.locator(".store").first.wait_for()
        for storename in (chatty, unbroken):
            store = page.locator("a.store", has_text=storename)
            store.scroll_into_view_if_needed()
            box = store.bounding_box()
            assert box and box["height"] < 260, (storename, viewport, box)
            assert box["x"] + box["width"] <= viewport["width"], (storename, viewport, box)
            # The whole text is there to read: in its title.
            expect(store.locator(".description")).to_have_attribute(
                "title", LONG_TEXT if storename == chatty else UNBROKEN
            )
        no_sideways_scroll(page)
        page.goto(page.url.split("#")[0] + f"#/store/{unbroken}")
        product = card(page, UNBROKEN_NAME)
        product.wait_for()
        box = product.bounding_box()
        assert box and box["x"] + box["width"] <= viewport["width"], box
        # Below the photo's box (of a fixed shape, on top), the text's
        # share as before.
        photo = product.locator(".photo-box").bounding_box()
        below = box["y"] + box["height"] - (photo["y"] + photo["height"])
        assert below < 600, (box, photo)
        no_sideways_scroll(page)
        # The store's page shows its whole description.
        expect(page.locator(".store-about")).to_have_text(UNBROKEN)


def shown_products(page) -> set[str]:
    return {n.text_content() for n in page.locator("article.product:visible .product-name").all()}


def test_a_search_in_a_store_shows_only_its_results_and_survives_reload_and_back(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(
        server,
        [
            ("Green tea", "4.00", 9, "Sencha."),
            ("Black tea", "3.00", 9, "Assam."),
            ("Coffee beans", "9.00", 9, "Arabica."),
        ],
    )
    page = pages.open(f"/#/store/{storename}")
    card(page, "Coffee beans").wait_for()
    page.get_by_label(f"Search in {storename}").fill("tea")
    expect(page.locator("#search-results article.product")).to_have_count(2)
    expect(page.locator("article.product:visible")).to_have_count(2)
    assert shown_products(page) == {"Green tea", "Black tea"}
    assert "q=tea" in page.url

    # A reload keeps the search, and so does Back from another page.
    page.reload()
    expect(page.get_by_label(f"Search in {storename}")).to_have_value("tea")
    expect(page.locator("#search-results article.product")).to_have_count(2)
    expect(page.locator("article.product:visible")).to_have_count(2)
    page.get_by_role("link", name="Orders").click()
    page.locator("main h1").wait_for()
    page.go_back()
    expect(page.get_by_label(f"Search in {storename}")).to_have_value("tea")
    expect(page.locator("#search-results article.product")).to_have_count(2)
    assert shown_products(page) == {"Green tea", "Black tea"}

    # Cleared: the whole store again, and the address without the search.
    page.get_by_label(f"Search in {storename}").fill("")
    expect(page.locator("article.product:visible")).to_have_count(3)
    assert "q=" not in page.url


def test_a_chinese_search_finds_a_character_inside_a_word(pages, server):
    # The index (the server's) matches CJK text by its characters; the
    # page shows what it finds, inside a store as on the front page.
    from playwright.sync_api import expect

    storename, _ = tcp_store(
        server,
        [
            ("绿茶", "4.00", 9, "龙井。"),
            ("月饼", "6.00", 9, "莲蓉。"),
            ("Coffee beans", "9.00", 9, "Arabica."),
        ],
    )
    page = pages.open(f"/#/store/{storename}")
    card(page, "Coffee beans").wait_for()
    search = page.get_by_label(f"Search in {storename}")
    search.fill("茶")
    expect(page.locator("#search-results article.product")).to_have_count(1)
    assert shown_products(page) == {"绿茶"}
    search.fill("饼")
    expect(page.locator("#search-results article.product .product-name")).to_have_text(["月饼"])
    assert shown_products(page) == {"月饼"}
