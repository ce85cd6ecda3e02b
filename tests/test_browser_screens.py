"""One screenshot pass over the pages people use most (the cart, the
checkout review, the console's products and sales, the storefront with
photos, a search and a product's page), at desktop width and
at a phone's in all three languages: the pictures go to docs/screenshots/
for people to look at (only under `make screenshots`), and each page must
fit the phone without scrolling sideways (in every run).  The desktop
variants are there for their pictures alone (the phone variants walk the
same steps, and behaviour is tested in English at desktop width, in
tests/test_browser_cart.py and tests/test_browser_console.py): they run
only under `make screenshots`.
"""

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
from tests.test_browser import DESKTOP, PICTURE_ONLY, SCREENSHOTS, connected, no_sideways_scroll
from tests.test_browser_console_photos import choose
from tests.test_browser_photos import LOADED, merchant_token, picture, upload

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
    connected(page)
    form = page.locator(form_selector)
    form.locator("input[name=login]").fill(login)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()


@pytest.mark.parametrize(
    "suffix, viewport, locale",
    [
        pytest.param("desktop", DESKTOP, "en-US", marks=PICTURE_ONLY),
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
    # Photos on two of the lines; the others show the placeholder.
    token = merchant_token(server, storename)
    upload(server, token, cake, picture((900, 700), (230, 150, 170), (120, 40, 70), "bowl"))
    upload(server, token, tea, picture((500, 800), (40, 120, 60), (190, 220, 140), "vase"))
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
    shoot_part(console, add, f"console-add-product-error-{suffix}")
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


# A store with photos of several shapes (made by Pillow) and two products
# without one: its cards, a search and a product's page.
SHOP_WINDOW = [
    (
        "Brass desk lamp",
        "49.00",
        3,
        "Solid brass, with a linen shade.\nWarm white bulb included.",
        (1200, 800),
        "disc",
    ),
    (
        "Paper floor lamp",
        "89.50",
        12,
        "Hand-folded rice paper on an oak stand.",
        (600, 1000),
        "vase",
    ),
    ("Glazed tea bowl", "18.00", 40, "Celadon glaze, thrown on the wheel.", (900, 900), "bowl"),
    ("Linen lamp shade", "24.00", 0, "Natural linen, 30 cm.", None, None),
    ("Beeswax candle", "6.50", 80, "Burns for forty hours.", None, None),
]
COLOURS = [
    ((214, 160, 70), (120, 60, 30)),
    ((40, 70, 110), (150, 190, 220)),
    ((30, 110, 90), (200, 220, 150)),
]


@pytest.fixture(scope="module")
def shop_window(server) -> tuple[str, list[int]]:
    """The store of SHOP_WINDOW with its photos, made once: its variants
    only look at it (each upload costs the server a decode and two
    encodes)."""
    storename, ids = tcp_store(server, [p[:4] for p in SHOP_WINDOW])
    token = merchant_token(server, storename)
    for product_id, (*_, size, shape), (first, second) in zip(
        ids, SHOP_WINDOW, COLOURS * 2, strict=False
    ):
        if size:
            upload(server, token, product_id, picture(size, first, second, shape))
    return storename, ids


def wait_for_photos(page) -> None:
    # Each photo scrolled to (they load lazily) and loaded, for the picture.
    for img in page.locator("main img.photo:visible").all():
        img.scroll_into_view_if_needed()
        page.wait_for_function(LOADED, arg=img.element_handle())


@pytest.mark.parametrize(
    "suffix, viewport, locale, scheme",
    [
        pytest.param("desktop", DESKTOP, "en-US", "light", marks=PICTURE_ONLY),
        pytest.param("desktop-dark", DESKTOP, "en-US", "dark", marks=PICTURE_ONLY),
        ("phone", PHONE_390, "en-US", "light"),
        ("zh-CN-phone", PHONE_390, "zh-CN", "light"),
        pytest.param("zh-CN-desktop", DESKTOP, "zh-CN", "light", marks=PICTURE_ONLY),
        ("ru-phone", PHONE_390, "ru-RU", "light"),
        pytest.param("ru-desktop", DESKTOP, "ru-RU", "light", marks=PICTURE_ONLY),
    ],
)
def test_screenshots_of_the_storefront_with_photos(
    pages, server, shop_window, suffix, viewport, locale, scheme
):
    storename, ids = shop_window
    page = pages.open(f"/#/store/{storename}", viewport, locale=locale)
    page.emulate_media(color_scheme=scheme)
    page.locator(f"article.product[data-product-id='{ids[-1]}']").wait_for()
    wait_for_photos(page)
    no_sideways_scroll(page)
    shoot_docs(page, f"storefront-photos-{suffix}")

    page.locator("#search").fill("lamp")
    page.locator("#search-results article.product").nth(2).wait_for()
    wait_for_photos(page)
    no_sideways_scroll(page)
    shoot_docs(page, f"search-photos-{suffix}")

    page.goto(page.url.split("#")[0] + f"#/product/{ids[0]}")
    page.locator("article.product-page img.photo").wait_for()
    wait_for_photos(page)
    no_sideways_scroll(page)
    shoot_docs(page, f"product-page-{suffix}")


def shoot_part(page, part, name: str) -> None:
    """A screenshot of one part of the page, cut from the whole page seen
    from its top: the sticky header stays at the top, not across the part
    (as in a screenshot of the element, scrolled to).  Only when pictures
    are asked for, as shoot_docs."""
    if not SCREENSHOTS:
        return
    page.evaluate("window.scrollTo(0, 0)")
    box = part.bounding_box()
    assert box is not None
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=True, clip=box)


@pytest.mark.parametrize(
    "suffix, viewport, locale",
    [
        pytest.param("desktop", DESKTOP, "en-US", marks=PICTURE_ONLY),
        ("phone", PHONE_390, "en-US"),
        ("zh-CN-phone", PHONE_390, "zh-CN"),
        ("ru-phone", PHONE_390, "ru-RU"),
    ],
)
def test_screenshots_of_the_consoles_photo_upload(pages, server, suffix, viewport, locale):
    """The add form with a chosen photo's preview, during its upload, and
    with a file that is not a picture; the list with thumbnails and the
    edit form of a product with a photo."""
    storename, (vase, _) = tcp_store(
        server,
        [("Blue vase", "24.00", 5, "Hand thrown."), ("Linen napkins", "12.50", 20, "Set of 4.")],
    )
    console = pages.open("/console.html", viewport, locale=locale)
    sign_in(console, "form.login", storename)
    add = console.locator("form.add-product")
    add.wait_for()
    add.locator("input[name=productname]").fill("Terracotta pot")
    add.locator("input[name=price]").fill("18.00")
    # A tall photo: shown at its proportions, not stretched.
    choose(
        add,
        "IMG_2041.png",
        picture((900, 1200), (230, 200, 170), (190, 90, 50), "vase"),
        "image/png",
    )
    add.locator("img.photo-preview").wait_for()
    no_sideways_scroll(console)
    shoot_part(console, add, f"console-photo-preview-{suffix}")
    # The upload held on its way: the progress bar.
    held: list = []
    console.route("**/photos/*", lambda route: held.append(route))
    add.locator("button[type=submit]").click()
    add.locator("progress.photo-progress").wait_for(state="visible")
    while not held:
        console.wait_for_timeout(20)
    shoot_part(console, add, f"console-photo-progress-{suffix}")
    held[0].continue_()
    add.locator("progress.photo-progress").wait_for(state="hidden")
    console.unroute("**/photos/*")
    # A file that is not a picture.
    choose(add, "list.jpg", b"bread, milk\n")
    add.locator(".photo-status.error").wait_for()
    no_sideways_scroll(console)
    shoot_part(console, add, f"console-photo-error-{suffix}")
    # The vase gets a photo in its edit form; the list shows both
    # thumbnails and the napkins' placeholder, and the edit form the photo.
    row = console.locator(f"tr[data-product-id='{vase}']")
    row.locator("button.edit").click()
    choose(
        row,
        "bowl.png",
        picture((1600, 1200), (200, 215, 235), (40, 80, 170), "bowl"),
        "image/png",
    )
    row.locator("button[type=submit]").click()
    row.locator("img.product-thumb").wait_for()
    for thumb in console.locator("img.product-thumb").all():
        thumb.evaluate("img => img.decode()")
    row.locator("button.edit").click()
    row.locator("img.photo-current").evaluate("img => img.decode()")
    no_sideways_scroll(console)
    shoot_docs(console, f"console-photo-edit-{suffix}")
