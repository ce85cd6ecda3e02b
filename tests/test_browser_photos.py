"""Product photos in the storefront (protocol 1.3): the thumbnails on a
store's cards, in search results and on cart lines are the paths the
server lists, loaded for real; a product without a photo shows the
placeholder; each product has a page of its own (#/product/<id>) with
the large photo, its words as GET_PRODUCT has them, and Add to cart; a
new upload or a removal shows after a reload or on the way back to the
listing.  Photos are uploaded over HTTP with the merchant's token, as a
merchant's console or client does."""

from __future__ import annotations

import io
import json
import urllib.request

from PIL import Image, ImageDraw

from tests import test_browser
from tests.browser_kit import (
    PHONE_390,
    as_customer,
    dollars,
    server_cart,
    server_total,
    tcp_store,
)
from tests.live import PASSWORD, rows
from tests.test_browser import DESKTOP, log_in, no_sideways_scroll, pages_alone, tcp_customer
from tests.wire import Client

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages
# The pages' own behaviour: GET_PRODUCT, the photo column and the photos'
# paths are played on both backends in tests/test_photo_*.py, and the walk
# in tests/test_browser_photo_walk.py runs on both.
pytestmark = pages_alone

# True once the image has arrived and decoded: a broken or missing one
# has no natural width.
LOADED = "img => img.complete && img.naturalWidth > 0"
# True when the page is scrolled to y (give or take a pixel).
AT = "y => Math.abs(window.scrollY - y) < 2"


def picture(size, first=(210, 90, 40), second=(40, 90, 210), shape="disc") -> bytes:
    """A PNG of `size`: a gradient from one colour to another, with a
    light shape on it (a disc, a vase or a bowl), so that a photo looks
    like something and its shape shows if it is stretched."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for x in range(width):
        mix = x / max(1, width - 1)
        colour = tuple(round(a + (b - a) * mix) for a, b in zip(first, second, strict=True))
        draw.line([(x, 0), (x, height)], fill=colour)
    cx, cy, r = width // 2, height // 2, min(width, height) // 4
    light, shadow = (245, 240, 225), (60, 50, 45)
    if shape == "vase":
        draw.ellipse([cx - r, cy - r // 2, cx + r, cy + 2 * r], fill=light)
        draw.rectangle([cx - r // 3, cy - 2 * r, cx + r // 3, cy], fill=light)
    elif shape == "bowl":
        draw.chord([cx - 2 * r, cy - r, cx + 2 * r, cy + 2 * r], 0, 180, fill=light)
        draw.ellipse([cx - 2 * r, cy + 2 * r, cx + 2 * r, cy + 2 * r + r // 3], fill=shadow)
    else:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=light)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def merchant_token(server, storename: str) -> str:
    with Client(server.port) as c:
        return c.ok("MERCHANT_LOGIN", login=storename, password=PASSWORD)["token"]


def photo_request(server, method: str, token: str, product_id: int, body: bytes | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.web_port}/photos/{product_id}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def upload(server, token: str, product_id: int, body: bytes) -> str:
    """The product's new photo (HTTP PUT); its path."""
    return photo_request(server, "PUT", token, product_id, body)["data"]["photo"]


def listed(server, storename: str) -> dict[int, str | None]:
    """The store's LIST_PRODUCT photo column: {product_id: path or None}."""
    with Client(server.port) as c:
        return {
            r["product_id"]: r["photo"] for r in rows(c.ok("LIST_PRODUCT", storename=storename))
        }


def get_product(server, product_id: int) -> dict:
    with Client(server.port) as c:
        return c.ok("GET_PRODUCT", product_id=product_id)


def loaded_image(page, img) -> dict:
    """The image once it has loaded: its src and natural size."""
    page.wait_for_function(LOADED, arg=img.element_handle())
    return img.evaluate(
        "img => ({src: img.getAttribute('src'), w: img.naturalWidth, h: img.naturalHeight})"
    )


def assert_thumbnail(page, holder, photo: str, name: str) -> dict:
    """`holder` shows the photo at `photo` as a thumbnail, loaded, with
    its size given beforehand, lazily, never stretched."""
    holder.locator(".photo-box").wait_for()
    img = holder.locator("img.photo")
    assert img.count() == 1, holder.inner_html()
    shown = loaded_image(page, img)
    assert shown["src"] == f"{photo}?size=thumb"
    assert img.get_attribute("loading") == "lazy"
    assert img.get_attribute("alt") == name
    assert int(img.get_attribute("width")) > 0 and int(img.get_attribute("height")) > 0
    assert img.evaluate("img => getComputedStyle(img).objectFit") in ("contain", "cover")
    return shown


def assert_placeholder(holder) -> None:
    holder.locator(".photo-box").wait_for()
    assert holder.locator(".photo-none").count() == 1, holder.inner_html()
    assert holder.locator("img").count() == 0, holder.inner_html()


def product_card(page, product_id: int):
    return page.locator(f"article.product[data-product-id='{product_id}']")


def photo_store(server):
    """A store of three products: a wide photo, a tall one, and none."""
    storename, ids = tcp_store(
        server,
        [
            ("Desk lamp", "19.99", 3, "Brass.\nWarm white, 2700 K."),
            ("Tall vase", "35.00", 12, "Blue glaze."),
            ("Candle", "4.50", 40, "Beeswax."),
        ],
    )
    token = merchant_token(server, storename)
    upload(server, token, ids[0], picture((800, 400)))
    upload(server, token, ids[1], picture((300, 600), (30, 140, 90), (230, 200, 60)))
    return storename, ids, token


def test_cards_show_the_thumbnails_the_server_lists(pages, server):
    storename, ids, _ = photo_store(server)
    photos = listed(server, storename)
    assert photos[ids[0]] and photos[ids[1]] and photos[ids[2]] is None
    names = dict(zip(ids, ["Desk lamp", "Tall vase", "Candle"], strict=True))
    page = pages.open(f"/#/store/{storename}")
    product_card(page, ids[2]).wait_for()
    sizes = {}
    for product_id, photo in photos.items():
        found = product_card(page, product_id)
        if photo is None:
            assert_placeholder(found)
        else:
            sizes[product_id] = assert_thumbnail(page, found, photo, names[product_id])
    # The thumbnails fit 400 x 400, each in its own shape.
    assert (sizes[ids[0]]["w"], sizes[ids[0]]["h"]) == (400, 200)
    assert (sizes[ids[1]]["w"], sizes[ids[1]]["h"]) == (200, 400)
    # The photo boxes are all of one shape, photo or not: the cards line up.
    boxes = [product_card(page, i).locator(".photo-box").bounding_box() for i in ids]
    assert len({(round(b["width"]), round(b["height"])) for b in boxes}) == 1, boxes


def test_search_results_and_cart_lines_show_the_servers_thumbnails(pages, server):
    storename, ids, _ = photo_store(server)
    with Client(server.port) as c:
        searched = {}
        for word in ("lamp", "vase", "candle"):
            for row in rows(c.ok("SEARCH_PRODUCT", query=word, storename=storename)):
                searched[row["product_id"]] = row["photo"]
    page = pages.open(f"/#/store/{storename}")
    product_card(page, ids[0]).wait_for()
    search = page.get_by_label(f"Search in {storename}")
    for word, product_id, name in (("lamp", ids[0], "Desk lamp"), ("candle", ids[2], "Candle")):
        search.fill(word)
        result = page.locator(f"#search-results article.product[data-product-id='{product_id}']")
        result.wait_for()
        if searched[product_id]:
            assert_thumbnail(page, result, searched[product_id], name)
        else:
            assert_placeholder(result)

    customer = tcp_customer(server)
    as_customer(server, customer, "CLIENT_ADD_ITEM", product_id=ids[1], quantity=1)
    as_customer(server, customer, "CLIENT_ADD_ITEM", product_id=ids[2], quantity=2)
    items = {
        r["product_id"]: r["photo"] for r in rows(as_customer(server, customer, "CLIENT_GET_ITEMS"))
    }
    assert items[ids[1]] and items[ids[2]] is None
    log_in(page, customer)
    page.goto(page.url.split("#")[0] + "#/cart")
    line = page.locator(f"table.cart-lines tr[data-product-id='{ids[1]}']")
    line.wait_for()
    assert_thumbnail(page, line, items[ids[1]], "Tall vase")
    assert_placeholder(page.locator(f"table.cart-lines tr[data-product-id='{ids[2]}']"))
    # The line's name leads to the product's page.
    line.locator(".line-name a").click()
    page.wait_for_url(f"**#/product/{ids[1]}")
    page.locator("h1.product-name", has_text="Tall vase").wait_for()


def test_the_product_page_shows_the_product_and_adds_to_the_cart(pages, server):
    from playwright.sync_api import expect

    storename, ids, _ = photo_store(server)
    lamp = ids[0]
    customer = tcp_customer(server)
    page = pages.open("/")
    log_in(page, customer)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    product_card(page, lamp).locator(".product-name a").click()
    page.wait_for_url(f"**#/product/{lamp}")
    held = get_product(server, lamp)
    view = page.locator("article.product-page")
    expect(view.locator("h1.product-name")).to_have_text(held["productname"])
    expect(view.locator(".store-link")).to_have_text(storename)
    assert view.locator(".store-link").get_attribute("href") == f"#/store/{storename}"
    assert dollars(view.locator(".price").text_content()) == held["price"]
    # The whole description, line breaks kept, as text.
    assert view.locator(".description").inner_text() == held["description"]
    expect(view.locator(".stock")).to_have_text(f"Only {held['stock']} left")
    large = view.locator("img.photo")
    shown = loaded_image(page, large)
    assert shown["src"] == f"{held['photo']}?size=large"
    assert (shown["w"], shown["h"]) == (800, 400)  # never enlarged
    assert large.get_attribute("alt") == held["productname"]

    # Add to cart, as on the card: more than is left is refused here...
    view.get_by_label(f"Quantity of {held['productname']}").fill("4")
    view.get_by_role("button", name="Add to cart").click()
    expect(view.locator(".form-status")).to_have_text("Only 3 left: please choose 3 or fewer.")
    assert server_cart(server, customer) == {}
    # ...and two go into the server's cart; the header counts them.
    view.get_by_label(f"Quantity of {held['productname']}").fill("2")
    view.get_by_role("button", name="Add to cart").click()
    expect(view.locator(".form-status")).to_have_text("Added 2 items to your cart.")
    assert server_cart(server, customer) == {"Desk lamp": 2}
    expect(page.locator("#cart-count")).to_have_text("2")

    # Back: the store's listing.
    page.go_back()
    page.wait_for_url(f"**#/store/{storename}")
    product_card(page, ids[2]).wait_for()

    # The product's address opened in a new tab of the same browser:
    # the page, logged in, and its cart total is the server's.
    tab = page.context.new_page()
    tab.goto(page.url.split("#")[0] + f"#/product/{lamp}")
    expect(tab.locator("article.product-page h1.product-name")).to_have_text("Desk lamp")
    expect(tab.locator("#cart-count")).to_have_text("2")
    tab.goto(tab.url.split("#")[0] + "#/cart")
    total = tab.locator("#cart-total")
    expect(total).not_to_be_empty()
    assert dollars(total.text_content()) == server_total(server, customer) == "39.98"
    tab.close()


def test_a_product_off_the_shelf_or_unknown_says_it_is_not_available(pages, server):
    from playwright.sync_api import expect

    storename, ids, _ = photo_store(server)
    with Client(server.port) as c:
        c.ok("MERCHANT_LOGIN", login=storename, password=PASSWORD)
        c.ok("MERCHANT_DEL_PRODUCT", product_id=ids[1])
        assert c.call("GET_PRODUCT", product_id=ids[1])["status"] == 404
    for product_id in (ids[1], 2_000_000_000):
        # A fresh page at the address, as from a link kept from before.
        page = pages.open(f"/#/product/{product_id}")
        gone = page.locator("#not-available")
        expect(gone).to_have_text("This product is not available.")
        assert page.locator("article.product-page").count() == 0
        assert page.get_by_role("link", name="Browse the stores").count() == 1
    # In Russian, in the person's language.
    page = pages.open(f"/#/product/{ids[1]}", locale="ru-RU")
    expect(page.locator("#not-available")).to_have_text("Этот товар недоступен.")


def test_a_new_photo_shows_after_a_reload_and_back_and_a_removed_one_goes(pages, server):
    storename, ids, token = photo_store(server)
    lamp = ids[0]
    page = pages.open(f"/#/store/{storename}")
    before = assert_thumbnail(
        page, product_card(page, lamp), listed(server, storename)[lamp], "Desk lamp"
    )
    assert (before["w"], before["h"]) == (400, 200)

    # Replaced: a tall photo.  The reload shows its path and its pixels.
    new = upload(server, token, lamp, picture((200, 500), (120, 20, 160), (250, 250, 250)))
    assert f"{new}?size=thumb" != before["src"]
    page.reload()
    after = assert_thumbnail(
        page, product_card(page, lamp), listed(server, storename)[lamp], "Desk lamp"
    )
    assert after["src"] == f"{new}?size=thumb"
    assert (after["w"], after["h"]) == (160, 400)

    # Replaced while the product's page is open: Back to the listing
    # reads the store again, with the newest path.
    product_card(page, lamp).locator("a.photo-box").click()
    page.wait_for_url(f"**#/product/{lamp}")
    assert (
        loaded_image(page, page.locator("article.product-page img.photo"))["src"]
        == f"{new}?size=large"
    )
    newest = upload(server, token, lamp, picture((800, 200)))
    page.go_back()
    page.wait_for_url(f"**#/store/{storename}")
    shown = assert_thumbnail(page, product_card(page, lamp), newest, "Desk lamp")
    assert (shown["w"], shown["h"]) == (400, 100)

    # Removed: the placeholder, on the card and on the product's page.
    photo_request(server, "DELETE", token, lamp)
    assert listed(server, storename)[lamp] is None
    page.reload()
    product_card(page, ids[2]).wait_for()
    assert_placeholder(product_card(page, lamp))
    page.goto(page.url.split("#")[0] + f"#/product/{lamp}")
    page.locator("article.product-page").wait_for()
    assert_placeholder(page.locator("article.product-page"))


def test_the_product_page_fits_a_phone_and_a_desktop(pages, server):
    long_name = "Hand-thrown stoneware serving bowl with a celadon glaze " * 3
    storename, (bowl,) = tcp_store(server, [(long_name.strip()[:200], "1234.50", 1, "x" * 900)])
    token = merchant_token(server, storename)
    upload(server, token, bowl, picture((2400, 1800)))
    for viewport in (PHONE_390, DESKTOP):
        page = pages.open(f"/#/product/{bowl}", viewport)
        large = page.locator("article.product-page img.photo")
        shown = loaded_image(page, large)
        assert (shown["w"], shown["h"]) == (1600, 1200)  # fits 1600 x 1600
        box = large.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
        # Not stretched: the box keeps the photo's shape, or the photo is
        # fitted inside it.
        fit = large.evaluate("img => getComputedStyle(img).objectFit")
        assert fit == "contain" or abs(box["width"] / box["height"] - 4 / 3) < 0.02, (fit, box)
        # The whole photo is in view without scrolling on a phone.
        assert box["height"] <= viewport["height"], box
        no_sideways_scroll(page)
        page.goto(page.url.split("#")[0] + f"#/store/{storename}")
        product_card(page, bowl).locator("img.photo").wait_for()
        no_sideways_scroll(page)


def test_back_from_a_product_returns_to_the_same_place_in_the_listing(pages, server):
    storename, ids = tcp_store(server, [(f"Jar {n}", "2.00", 9, "Glass.") for n in range(12)])
    page = pages.open(f"/#/store/{storename}", PHONE_390)
    far = product_card(page, ids[9])
    far.wait_for()
    far.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 1000
    far.locator(".product-name a").click()
    page.wait_for_url(f"**#/product/{ids[9]}")
    page.locator("article.product-page").wait_for()
    # The product's page opens at its top.
    assert page.evaluate("window.scrollY") == 0
    page.go_back()
    page.wait_for_url(f"**#/store/{storename}")
    far.wait_for()
    page.wait_for_function(AT, arg=before)
    assert far.is_visible() and far.bounding_box()["y"] < PHONE_390["height"]
    # Forward again, and Back again: the same place.
    page.go_forward()
    page.locator("article.product-page").wait_for()
    page.go_back()
    far.wait_for()
    page.wait_for_function(AT, arg=before)


def test_add_to_cart_on_the_product_page_says_what_the_server_refused(pages, server):
    from playwright.sync_api import expect

    storename, (kettle,) = tcp_store(server, [("Kettle", "30.00", 5, "Steel.")])
    page = pages.open(f"/#/product/{kettle}")
    view = page.locator("article.product-page")
    # Not logged in: asked to, as on a card, and nothing is sent.
    view.get_by_role("button", name="Add to cart").click()
    expect(view.locator(".form-status")).to_have_text(
        "Please log in (Account) to add items to your cart."
    )
    customer = tcp_customer(server)
    log_in(page, customer)
    page.goto(page.url.split("#")[0] + f"#/product/{kettle}")
    # The page is drawn from GET_PRODUCT before the product leaves the shelf:
    # taken off before that answer, the page would say it is not available.
    add = view.get_by_role("button", name="Add to cart")
    expect(add).to_be_visible()
    # Taken off the shelf while the page is open: the answer's code says so.
    with Client(server.port) as c:
        c.ok("MERCHANT_LOGIN", login=storename, password=PASSWORD)
        c.ok("MERCHANT_DEL_PRODUCT", product_id=kettle)
    add.click()
    expect(view.locator(".form-status")).to_have_text("That product is no longer on sale.")
    assert server_cart(server, customer) == {}
    expect(page.locator("#cart-count")).to_be_hidden()


def test_back_from_a_product_returns_to_the_same_place_in_search_results(pages, server):
    # The results come after the page is drawn (the search runs again):
    # the place is found once they are there.
    storename, ids = tcp_store(server, [(f"Jug {n}", "2.00", 9, "Clay.") for n in range(12)])
    page = pages.open(f"/#/store/{storename}", PHONE_390)
    product_card(page, ids[0]).wait_for()
    page.get_by_label(f"Search in {storename}").fill("jug")
    far = page.locator(f"#search-results article.product[data-product-id='{ids[10]}']")
    far.wait_for()
    far.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 1000
    far.locator(".product-name a").click()
    page.locator("article.product-page").wait_for()
    page.go_back()
    far.wait_for()
    page.wait_for_function(AT, arg=before)
    assert far.bounding_box()["y"] < PHONE_390["height"]
