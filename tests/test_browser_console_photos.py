"""Product photos in the store console (protocol 1.3): a merchant adds,
replaces and removes a product's photo with the file picker or by drag and
drop; after each step the server holds what the page shows (the photo
column of MERCHANT_LIST_PRODUCTS and LIST_PRODUCT, and the served photo's
size).  A file that is not an image is refused in the browser, in the
person's language, and the server is left as it was; a phone's photo
over the limits is made smaller in the browser before it is sent."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests import test_browser
from tests.browser_kit import PHONE_390, as_merchant, tcp_store
from tests.live import rows, unique
from tests.test_browser import DESKTOP, connected, no_sideways_scroll, pages_alone
from tests.wire import Client

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages
# The pages' own behaviour: the uploads' every rule is played on both
# backends in tests/test_photo_uploads.py, and the walk through these pages
# in tests/test_browser_photo_walk.py runs on both.
pytestmark = pages_alone

TEXT = b"Shopping list: bread, milk, tea.\n"


def gradient(size, kind="JPEG", **options) -> bytes:
    """A picture with a gradient in each channel: small in bytes at any size."""
    ramp = Image.linear_gradient("L")
    red = ramp.resize(size)
    green = ramp.rotate(90).resize(size)
    blue = Image.new("L", size, 120)
    out = io.BytesIO()
    Image.merge("RGB", (red, green, blue)).save(out, kind, **options)
    return out.getvalue()


def grey_gradient(size) -> bytes:
    """A JPEG of one grey gradient: at 48 megapixels, a third of a colour
    picture's work to make here and to decode in the browser."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).save(out, "JPEG", quality=80)
    return out.getvalue()


def stored_png(side: int) -> bytes:
    """A square PNG (RGBA, a gradient) stored without compression: about 4
    bytes a pixel, so over a limit in bytes at a modest size, and quick to
    make and to decode (random pixels cost seconds of both, in Python and
    in the browser)."""
    ramp = Image.linear_gradient("L")
    size = (side, side)
    bands = (ramp.resize(size), ramp.rotate(90).resize(size), Image.new("L", size, 120))
    opaque = Image.new("L", size, 255)
    out = io.BytesIO()
    Image.merge("RGBA", (*bands, opaque)).save(out, "PNG", compress_level=0)
    return out.getvalue()


def turned(size) -> bytes:
    """A JPEG stored `size`, left half red and right half blue, whose EXIF
    says to show it turned 90 degrees clockwise (orientation 6)."""
    picture = Image.new("RGB", size, (0, 0, 255))
    picture.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def server_photos(server, storename: str) -> dict[str, str | None]:
    """The store's products as the server holds them: {name: photo path}."""
    listed = as_merchant(server, storename, "MERCHANT_LIST_PRODUCTS", limit=100)
    return {r["productname"]: r["photo"] for r in rows(listed)}


def shelf_photos(server, storename: str) -> dict[str, str | None]:
    """The storefront's listing of the store (LIST_PRODUCT, no login)."""
    with Client(server.port) as c:
        listed = c.ok("LIST_PRODUCT", storename=storename, limit=100)
    return {r["productname"]: r["photo"] for r in rows(listed)}


def served(server, path: str, size: str) -> Image.Image:
    """The photo the server serves at `path`, decoded."""
    url = f"http://127.0.0.1:{server.web_port}{path}?size={size}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return Image.open(io.BytesIO(answer.read())).convert("RGB")


def served_size(server, path: str, size: str) -> tuple[int, int]:
    """The width and height of the photo the server serves at `path`."""
    return served(server, path, size).size


def open_console(pages, storename: str, viewport=DESKTOP, locale: str | None = None):
    console = pages.open("/console.html", viewport, locale=locale)
    # By the fields' names: the labels are in the page's language.
    connected(console)
    login = console.locator("form.login")
    login.locator("input[name=login]").fill(storename)
    login.locator("input[name=password]").fill(test_browser.PASSWORD)
    login.locator("button[type=submit]").click()
    console.locator("#console-nav").wait_for()
    console.locator("form.add-product").wait_for()
    return console


def choose(form, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    form.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def drop(page, form, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    """Drags a file onto the form's drop zone, as a person does from their
    file manager: dragenter, dragover, then drop, with a DataTransfer."""
    transfer = page.evaluate_handle(
        """([name, data, type]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )
    zone = form.locator(".drop-zone")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def add_product(console, name: str, price: str = "9.50") -> None:
    add = console.locator("form.add-product")
    add.locator("input[name=productname]").fill(name)
    add.locator("input[name=price]").fill(price)
    add.locator("button[type=submit]").click()


def row(console, product_id: int):
    return console.locator(f"table.products tr[data-product-id='{product_id}']")


def product_id_of(server, storename: str, name: str) -> int:
    listed = as_merchant(server, storename, "MERCHANT_LIST_PRODUCTS", limit=100)
    return next(r["product_id"] for r in rows(listed) if r["productname"] == name)


def preview_shown(form) -> None:
    """The chosen image shows before upload, decoded (the page's policy
    lets the object URL's picture load), at its own proportions."""
    preview = form.locator("img.photo-preview")
    preview.wait_for()
    loaded = preview.evaluate(
        "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
    )
    assert loaded[0] > 0 and loaded[1] > 0
    box = preview.bounding_box()
    assert box is not None
    assert abs(box["width"] / box["height"] - loaded[0] / loaded[1]) < 0.05, (box, loaded)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "phone"])
def test_a_product_added_with_a_photo_has_it_on_the_server_and_in_both_lists(
    pages, server, viewport
):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = open_console(pages, storename, viewport)
    add = console.locator("form.add-product")
    # The picker is labelled and reached with the keyboard: Tab from the
    # description lands on it, and its "Choose a photo" button shows the
    # focus.
    picker = add.get_by_label("Photo", exact=True)
    assert picker.get_attribute("type") == "file"
    add.locator("textarea[name=description]").focus()
    console.keyboard.press("Tab")
    assert picker.evaluate("input => document.activeElement === input")
    choose_button = add.locator("label.choose")
    expect(choose_button).to_have_text("Choose a photo")
    assert choose_button.evaluate("label => getComputedStyle(label).outlineStyle") == "solid"
    choose(add, "lamp.jpg", gradient((800, 600)))
    preview_shown(add)
    no_sideways_scroll(console)
    add_product(console, "Desk lamp")
    expect(add.locator(".form-status")).to_have_text("Added Desk lamp.")

    path = server_photos(server, storename)["Desk lamp"]
    assert path is not None and path.startswith("/photos/")
    assert served_size(server, path, "large") == (800, 600)
    assert served_size(server, path, "thumb") == (400, 300)
    # The console's list shows the server's thumbnail; the storefront's
    # listing carries the same path.
    product_id = product_id_of(server, storename, "Desk lamp")
    thumb = row(console, product_id).locator("img.product-thumb")
    expect(thumb).to_have_attribute("src", f"{path}?size=thumb")
    assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") == 400
    assert shelf_photos(server, storename) == {"Desk lamp": path}
    # The form is ready for the next product: no preview, no progress.
    expect(add.locator("img.photo-preview")).to_have_count(0)
    expect(add.locator("progress")).to_be_hidden()
    # After a reload too, from the server.
    console.reload()
    expect(row(console, product_id).locator("img.product-thumb")).to_have_attribute(
        "src", f"{path}?size=thumb"
    )
    no_sideways_scroll(console)


def test_replacing_and_removing_a_photo_in_the_edit_form(pages, server):
    from playwright.sync_api import expect

    storename, (lamp, bulb) = tcp_store(
        server, [("Floor lamp", "49.00", 2, "Tall."), ("Bulb", "2.50", 100, "E27.")]
    )
    console = open_console(pages, storename)
    # The product without a photo shows the placeholder.
    expect(row(console, lamp).locator(".product-thumb.placeholder")).to_have_count(1)
    expect(row(console, lamp).locator("img.product-thumb")).to_have_count(0)

    row(console, lamp).get_by_role("button", name="Edit").click()
    edit = row(console, lamp).locator("form")
    choose(edit, "first.png", gradient((300, 400), "PNG"), "image/png")
    preview_shown(edit)
    edit.locator("button[type=submit]").click()
    thumb = row(console, lamp).locator("img.product-thumb")
    thumb.wait_for()
    first = server_photos(server, storename)["Floor lamp"]
    assert first is not None
    expect(thumb).to_have_attribute("src", f"{first}?size=thumb")
    assert served_size(server, first, "large") == (300, 400)

    # Replaced: a new path, on the server and in the list; the edit form
    # opens with the current photo.
    row(console, lamp).get_by_role("button", name="Edit").click()
    edit = row(console, lamp).locator("form")
    expect(edit.locator("img.photo-current")).to_have_attribute("src", f"{first}?size=thumb")
    choose(edit, "second.jpg", gradient((640, 480), quality=70))
    edit.locator("button[type=submit]").click()
    row(console, lamp).locator("img.product-thumb").wait_for()
    second = server_photos(server, storename)["Floor lamp"]
    assert second not in (None, first)
    expect(row(console, lamp).locator("img.product-thumb")).to_have_attribute(
        "src", f"{second}?size=thumb"
    )
    assert served_size(server, second, "large") == (640, 480)

    # Removed: nothing on the server, the placeholder in the console.
    row(console, lamp).get_by_role("button", name="Edit").click()
    edit = row(console, lamp).locator("form")
    edit.get_by_role("button", name="Remove photo").click()
    expect(edit.locator(".photo-status")).to_have_text("Photo removed.")
    assert server_photos(server, storename) == {"Floor lamp": None, "Bulb": None}
    expect(edit.locator("img.photo-current")).to_have_count(0)
    expect(edit.get_by_role("button", name="Remove photo")).to_have_count(0)
    edit.get_by_role("button", name="Cancel").click()
    expect(row(console, lamp).locator(".product-thumb.placeholder")).to_have_count(1)
    expect(row(console, lamp).locator("img.product-thumb")).to_have_count(0)
    with pytest.raises(urllib.error.HTTPError) as gone:
        served_size(server, second, "large")
    assert gone.value.code == 404


def as_merchant_upload(server, storename: str, product_id: int) -> str:
    """A photo put on the product over HTTP, as another client would."""
    with Client(server.port) as c:
        token = c.ok("MERCHANT_LOGIN", login=storename, password=test_browser.PASSWORD)["token"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.web_port}/photos/{product_id}",
        data=gradient((200, 100)),
        method="PUT",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["data"]["photo"]


@pytest.mark.parametrize(
    "locale, message",
    [
        ("en-US", "That file is not a picture. Please choose a JPEG, PNG or WebP photo."),
        ("ru-RU", "Этот файл не изображение. Выберите фотографию в формате JPEG, PNG или WebP."),
        ("zh-CN", "该文件不是图片。请选择 JPEG、PNG 或 WebP 格式的照片。"),
    ],
    ids=["en", "ru", "zh-CN"],
)
def test_a_text_file_named_jpg_is_refused_in_the_persons_language(pages, server, locale, message):
    from playwright.sync_api import expect

    storename, (kettle,) = tcp_store(server, [("Kettle", "30.00", 3, "Whistles.")])
    path = as_merchant_upload(server, storename, kettle)
    console = open_console(pages, storename, PHONE_390, locale)

    # In the add form: said at once, and again on submit; nothing is added
    # and what was typed stays.
    add = console.locator("form.add-product")
    choose(add, "photo.jpg", TEXT)
    expect(add.locator(".photo-status")).to_have_text(message)
    expect(add.locator("img.photo-preview")).to_have_count(0)
    add_product(console, "Teapot", "12.00")
    expect(add.locator(".form-status").first).to_have_text(message)
    assert add.locator("input[name=productname]").input_value() == "Teapot"
    assert set(server_photos(server, storename)) == {"Kettle"}

    # In the edit form: neither the name nor the photo changes.
    row(console, kettle).locator("button.edit").click()
    edit = row(console, kettle).locator("form")
    edit.locator("input[name=productname]").fill("Kettle with a new name")
    choose(edit, "kettle.jpg", TEXT)
    expect(edit.locator(".photo-status")).to_have_text(message)
    edit.locator("button[type=submit]").click()
    expect(edit.locator(".form-status").first).to_have_text(message)
    assert edit.locator("input[name=productname]").input_value() == "Kettle with a new name"
    assert server_photos(server, storename) == {"Kettle": path}
    no_sideways_scroll(console)


@pytest.mark.parametrize(
    "made, expected",
    [
        # A 48-megapixel phone photo (8000 x 6000): over the server's 40.
        (lambda: grey_gradient((8000, 6000)), (1600, 1200)),
        # Within 1600 a side but over the 8 MiB upload limit in bytes.
        (lambda: stored_png(1600), (1600, 1600)),
        # Stored 2400 x 1200, its EXIF saying to turn it a quarter: drawn
        # upright, so the server keeps it portrait.
        (lambda: turned((2400, 1200)), (800, 1600)),
    ],
    ids=["48-megapixels", "over-8-MiB", "exif-orientation"],
)
def test_a_photo_over_the_limits_is_made_smaller_in_the_browser(
    pages, server, tmp_path, made, expected
):
    from playwright.sync_api import expect

    data = made()
    if expected == (1600, 1600):
        assert len(data) > 8 * 1024 * 1024
    # Chosen from a file, as a person does: the browser reads it from the
    # disk (megabytes given as a buffer go through the driver in base64,
    # seconds of work), its type from its name.
    photo = tmp_path / ("IMG_0002.png" if expected == (1600, 1600) else "IMG_0001.jpg")
    photo.write_bytes(data)
    storename, (cake,) = tcp_store(server, [("Cake", "20.00", 1, "Big.")])
    console = open_console(pages, storename, PHONE_390)
    row(console, cake).locator("button.edit").click()
    edit = row(console, cake).locator("form")
    sent: list = []
    console.on("request", lambda r: sent.append(r) if r.method == "PUT" else None)
    edit.locator("input[type=file]").set_input_files(photo)
    edit.locator("button[type=submit]").click()
    row(console, cake).locator("img.product-thumb").wait_for()
    path = server_photos(server, storename)["Cake"]
    assert path is not None
    large = served(server, path, "large")
    assert large.size == expected
    if expected == (800, 1600):
        # Turned clockwise: the stored left (red) half is now on top.
        red, _, blue = large.getpixel((400, 400))
        assert red > 200 and blue < 60, large.getpixel((400, 400))
        red, _, blue = large.getpixel((400, 1200))
        assert red < 60 and blue > 200, large.getpixel((400, 1200))
    expect(row(console, cake).locator("img.product-thumb")).to_have_attribute(
        "src", f"{path}?size=thumb"
    )
    # What went over the wire was the picture made smaller, not the file.
    assert len(sent) == 1, sent
    headers = sent[0].all_headers()
    assert headers["content-type"] in ("image/webp", "image/jpeg"), headers
    assert 0 < int(headers["content-length"]) < min(len(data), 8 * 1024 * 1024), headers


def test_drag_and_drop_works_like_the_picker_with_a_progress_bar(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = open_console(pages, storename)
    add = console.locator("form.add-product")
    progress = add.locator("progress.photo-progress")
    expect(progress).to_be_hidden()
    drop(console, add, "dropped.jpg", gradient((1000, 500)))
    preview_shown(add)

    # The upload is held on its way to the server: the bar shows meanwhile.
    held = []
    console.route("**/photos/*", lambda route: held.append(route))
    name = unique("Dropped lamp ")
    add_product(console, name)
    progress.wait_for(state="visible")
    assert progress.get_attribute("aria-label") == "Uploading the photo"
    while not held:
        console.wait_for_timeout(20)
    assert held[0].request.method == "PUT"
    assert held[0].request.headers["authorization"].startswith("Bearer ")
    assert "cookie" not in held[0].request.headers
    expect(progress).to_be_visible()
    held[0].continue_()
    expect(add.locator(".form-status").first).to_have_text(f"Added {name}.")
    # Done: the bar is gone, at its end.
    expect(progress).to_be_hidden()
    assert progress.evaluate("bar => bar.value") == 100
    path = server_photos(server, storename)[name]
    assert path is not None
    assert served_size(server, path, "large") == (1000, 500)
    product_id = product_id_of(server, storename, name)
    expect(row(console, product_id).locator("img.product-thumb")).to_have_attribute(
        "src", f"{path}?size=thumb"
    )


REFUSALS = [
    (
        413,
        {"error": {"code": "frame_too_large"}},
        "That photo is too large to upload. Please choose a smaller one.",
    ),
    (
        401,
        {"error": {"code": "bad_credentials"}},
        "Your session has ended. Please log in again.",
    ),
    (
        429,
        {"error": {"code": "throttled", "retry_after": 30}},
        "Too many attempts. Please try again in 30 seconds.",
    ),
    (
        400,
        {"error": {"code": "invalid_argument", "field": "photo"}},
        "That file is not a picture. Please choose a JPEG, PNG or WebP photo.",
    ),
    (None, None, "The photo could not be sent: the connection failed. Please try again."),
]


@pytest.mark.parametrize(
    "status, answer, message", REFUSALS, ids=["413", "401", "429", "400", "network"]
)
def test_a_refused_upload_says_why_and_keeps_the_form(pages, server, status, answer, message):
    """The answer's code decides the sentence (the server's own refusals
    are tested in tests/test_photo_uploads.py; here they are played to the
    page), and the form stays as the person left it."""
    from playwright.sync_api import expect

    storename, (mug,) = tcp_store(server, [("Mug", "8.00", 4, "Glazed.")])
    console = open_console(pages, storename)

    def refuse(route):
        if status is None:
            route.abort("connectionreset")
        else:
            body = {"status": status, "message": "refused", "data": None, **answer}
            route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    console.route("**/photos/*", refuse)
    row(console, mug).locator("button.edit").click()
    edit = row(console, mug).locator("form")
    edit.locator("input[name=productname]").fill("Mug")
    choose(edit, "mug.jpg", gradient((300, 300)))
    edit.locator("button[type=submit]").click()
    expect(edit.locator(".photo-status")).to_have_text(message)
    expect(edit.locator(".form-status").first).to_have_text(message)
    expect(edit.locator("progress")).to_be_hidden()
    # Still the edit form, with the chosen photo's preview, ready to retry.
    expect(edit.locator("img.photo-preview")).to_have_count(1)
    assert server_photos(server, storename) == {"Mug": None}


def test_a_new_products_refused_photo_waits_in_its_row_to_be_sent_again(pages, server):
    """The product is added (its details were fine); its photo, refused
    on the way, is not lost: the new row opens with it and the reason,
    and Save there sends it."""
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = open_console(pages, storename)

    def busy(route):
        body = {"status": 429, "message": "slow down", "data": None}
        body["error"] = {"code": "throttled", "retry_after": 5}
        route.fulfill(status=429, content_type="application/json", body=json.dumps(body))

    console.route("**/photos/*", busy)
    add = console.locator("form.add-product")
    choose(add, "teapot.jpg", gradient((500, 500)))
    add_product(console, "Teapot")
    why = "Too many attempts. Please try again in 5 seconds."
    expect(add.locator(".form-status").first).to_have_text(
        f"Added Teapot, but not its photo: {why}"
        " Press Save at the product in the list to send it again."
    )
    assert server_photos(server, storename) == {"Teapot": None}
    teapot = row(console, product_id_of(server, storename, "Teapot"))
    edit = teapot.locator("form")
    expect(edit.locator(".form-status").first).to_have_text(why)
    preview_shown(edit)
    # The add form is ready for the next product.
    expect(add.locator("img.photo-preview")).to_have_count(0)
    console.unroute("**/photos/*")
    edit.locator("button[type=submit]").click()
    teapot.locator("img.product-thumb").wait_for()
    path = server_photos(server, storename)["Teapot"]
    assert path is not None
    assert served_size(server, path, "large") == (500, 500)


def test_a_413_from_a_server_with_a_lower_limit_is_tried_again_re_encoded(pages, server):
    """A server run with a smaller --photo-max-bytes refuses a file the page
    sent whole: the page encodes the picture again (WebP) and sends that."""
    from playwright.sync_api import expect

    storename, (rug,) = tcp_store(server, [("Rug", "99.00", 1, "Wool.")])
    console = open_console(pages, storename)
    sent: list = []

    def first_too_large(route):
        sent.append(route.request.all_headers()["content-type"])
        if len(sent) == 1:
            body = {"status": 413, "message": "too large", "data": None}
            body["error"] = {"code": "frame_too_large"}
            route.fulfill(status=413, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    console.route("**/photos/*", first_too_large)
    row(console, rug).locator("button.edit").click()
    edit = row(console, rug).locator("form")
    choose(edit, "rug.png", gradient((800, 600), "PNG"), "image/png")
    edit.locator("button[type=submit]").click()
    row(console, rug).locator("img.product-thumb").wait_for()
    assert sent == ["image/png", "image/webp"]
    path = server_photos(server, storename)["Rug"]
    assert path is not None
    assert served_size(server, path, "large") == (800, 600)
    expect(row(console, rug).locator("img.product-thumb")).to_have_attribute(
        "src", f"{path}?size=thumb"
    )
