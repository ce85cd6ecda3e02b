"""The storefront and the store console in a real browser: Debian's
Chromium, headless, driven by Playwright (one launch for the whole run,
tests/conftest.py's shared_chromium), against one `twistd cybermarket
--web` for the whole module.  Stores and accounts a test does not sign up
through the page are made over TCP.

Screenshots of the main screens, at desktop and phone width, go to
artifacts/screenshots/ when pictures are asked for (`make screenshots`,
which sets CYBERMARKET_SCREENSHOTS=1); a test run takes none.  Without
Chromium the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live import PASSWORD, running, unique
from tests.seed import seed_customers, seed_stores
from tests.server import BY_WEB_PORT
from tests.wire import Client

# The tests of what the pages alone do (layout, languages, escaping, what
# a page keeps while it connects) run in the SQLite run only: every rule
# of the answers they show is tested on both backends below the pages.
pages_alone = pytest.mark.backend_free("the pages alone")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium on a machine with no outside network stalls on
# its own background requests.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Each new window (a context of a test) would preload the address
    # bar's popup, a page of its own in a renderer of its own, that a
    # headless browser never shows: about a third of an idle context's CPU.
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
# Pictures only when asked for (`make screenshots`): a PNG of a whole page
# costs the browser time, and a test run then changes nothing under docs/.
# The checks made where a picture is taken run either way.
SCREENSHOTS = os.environ.get("CYBERMARKET_SCREENSHOTS") == "1"
# A parametrized case that is there only for its picture (a desktop
# variant of what a phone variant and the behaviour tests check).
PICTURE_ONLY = pytest.mark.skipif(
    not SCREENSHOTS, reason="a picture only: make screenshots takes it"
)
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 780}
TIMEOUT_MS = 15_000


def missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@contextmanager
def launched() -> Iterator:
    """Chromium, driven by Playwright (tests/conftest.py's shared_chromium
    launches it once for a whole run)."""
    if not os.path.exists(CHROMIUM):
        missing("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser(shared_chromium):
    """The run's one Chromium: each test has contexts of its own (Pages),
    so one launch serves every module, and a launch (the browser and
    Playwright's driver) costs seconds of CPU."""
    return shared_chromium


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory):
    with running(databases, tmp_path_factory) as s:
        yield s


class Pages:
    """New browser contexts (one per person), closed at the end."""

    def __init__(self, browser, server) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list = []
        self.errors: list[str] = []

    def open(
        self,
        path: str = "/",
        viewport: dict = DESKTOP,
        locale: str | None = None,
        accept_language: str | None = None,
        before: Callable | None = None,
    ):
        # `locale`: the browser's language (navigator.languages and
        # Accept-Language); Chromium's own default otherwise.
        # `accept_language`: the header as a browser set to several
        # languages sends it, on every request, the WebSocket's included.
        # `before(page)`: called before the page loads, to watch or route
        # its WebSocket from the first (rather than a second load).
        extra: dict = {"locale": locale} if locale else {}
        if accept_language:
            extra["extra_http_headers"] = {"Accept-Language": accept_language}
        context = self.browser.new_context(viewport=viewport, **extra)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", lambda dialog: self.errors.append(f"dialog: {dialog.message}"))
        if before is not None:
            before(page)
        page.goto(f"http://127.0.0.1:{self.server.web_port}{path}")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, server) -> Iterator[Pages]:
    made = Pages(browser, server)
    yield made
    made.close()
    assert made.errors == [], made.errors


def shoot(page, name: str) -> None:
    if not SCREENSHOTS:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url}: {width} px wide"


# --- seeding -------------------------------------------------------------


def tcp_store(server, products: list[tuple]) -> tuple[str, list[int]]:
    """A store (written into the database: the journeys above sign up
    through the pages) with products (name, price, stock, description),
    added over TCP; its name and the products' ids."""
    name = unique("shop")
    seed_stores(server.database_url, [name], PASSWORD)
    with Client(server.port) as c:
        c.ok("MERCHANT_LOGIN", login=name, password=PASSWORD)
        ids = [
            c.ok(
                "MERCHANT_ADD_PRODUCT",
                productname=p,
                price=price,
                stock=stock,
                description=d,
            )["product_id"]
            for p, price, stock, d in products
        ]
    return name, ids


def tcp_customer(server) -> str:
    name = unique("buyer")
    seed_customers(server.database_url, [name], PASSWORD)
    return name


def connected(page) -> None:
    """Wait for the page's redraw once connected (`data-connected`): a
    field filled before it could be redrawn under Playwright's fill, which
    focuses and types in separate steps."""
    page.locator("body[data-connected]").wait_for(state="attached")


def log_in(page, login: str) -> None:
    page.goto(page.url.split("#")[0] + "#/account")
    connected(page)
    form = page.locator("form.login")
    form.get_by_label("Username or email").fill(login)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    try:
        page.locator("#account-link", has_text=login).wait_for()
    except Exception as error:  # Playwright's TimeoutError: say what the page showed
        shown = page.locator("main").inner_text(timeout=1_000)
        header = page.locator("#account-link").inner_text(timeout=1_000)
        # What the server logged of this login, and of failed ones (which
        # say why, and with what name).
        behind = BY_WEB_PORT.get(urlsplit(page.url).port)
        lines = behind.log.splitlines() if behind else []
        logged = [line for line in lines if login in line or "failed client login" in line]
        raise AssertionError(
            f"not logged in as {login} at {page.url}: header {header!r}, page {shown[:400]!r};"
            f" the server logged {logged[-6:]!r}"
        ) from error


def card(page, productname: str):
    return page.locator("article.product").filter(
        has=page.locator(".product-name", has_text=re.compile(f"^{re.escape(productname)}$"))
    )


def add_to_cart(page, productname: str, quantity: int) -> None:
    found = card(page, productname)
    found.get_by_label(f"Quantity of {productname}").fill(str(quantity))
    found.get_by_role("button", name="Add to cart").click()
    found.locator(".form-status", has_text="Added").wait_for()


# --- the journeys ---------------------------------------------------------------------


def test_a_merchant_joins_sells_and_sees_the_sale(pages, server):
    from playwright.sync_api import expect

    # The operator's code; a merchant opens a store and adds three products.
    console = pages.open("/console.html")
    storename = unique("corner")
    join = console.locator("form.join")
    join.get_by_label("Invitation code").fill(server.invite())
    join.get_by_label("Store name").fill(storename)
    join.get_by_label("About your store").fill("Lamps and light.\nSince 2026.")
    join.get_by_label("Email").fill(f"{storename}@example.com")
    join.get_by_label("Password (8 or more characters)").fill(PASSWORD)
    join.get_by_role("button", name="Open my store").click()
    add = console.locator("form.add-product")
    products = [
        ("Desk lamp", "19.99", "5", "A lamp for the desk.\nWarm white."),
        ("Floor lamp", "49.00", "2", "Tall and bright."),
        ("Bulb", "2.50", "100", "E27, 8 W."),
    ]
    for name, price, stock, description in products:
        add.get_by_label("Name").fill(name)
        add.get_by_label("Price (such as 19.99)").fill(price)
        add.get_by_label("Units in stock").fill(stock)
        add.get_by_label("Description").fill(description)
        add.get_by_role("button", name="Add product").click()
        add.locator(".form-status", has_text=f"Added {name}").wait_for()
    console.reload()  # from the server, not from the page's memory
    rows = console.locator("table.products tbody tr")
    rows.nth(2).wait_for()
    assert rows.count() == 3
    assert rows.nth(0).locator(".product-name").text_content() == "Desk lamp"
    shoot(console, "console-products-desktop")

    # A customer, in another browser context, signs up, finds two products,
    # checks out and sees the order.
    shop = pages.open("/")
    username = unique("ann")
    shop.get_by_role("link", name="Log in").click()
    signup = shop.locator("form.signup")
    signup.get_by_label("Username").fill(username)
    signup.get_by_label("Email").fill(f"{username}@example.com")
    signup.get_by_label("Password (8 or more characters)").fill(PASSWORD)
    signup.get_by_role("button", name="Sign up").click()
    shop.locator("#account-link", has_text=username).wait_for()
    shop.get_by_label("Search products in every store").fill("lamp")
    card(shop, "Floor lamp").wait_for()
    card(shop, "Desk lamp").wait_for()
    shoot(shop, "storefront-desktop")
    add_to_cart(shop, "Desk lamp", 2)
    add_to_cart(shop, "Floor lamp", 1)
    shop.get_by_role("link", name=re.compile("^Cart")).click()
    # expect() waits for the page to catch up with the server's answer.
    expect(shop.locator("#cart-total")).to_have_text("$88.98")
    shoot(shop, "cart-desktop")
    shop.get_by_role("button", name="Check out").click()
    expect(shop.locator("#review-total")).to_have_text("$88.98")
    shop.get_by_role("button", name="Place order").click()
    placed = re.compile(r"Order #\d+ is placed\. Total \$88\.98\.")
    expect(shop.locator("#order-placed")).to_have_text(placed)
    shop.get_by_role("link", name="See your orders").click()
    order = shop.locator("article.order").first
    expect(order).to_contain_text("$88.98")
    # Each store's part of the order shows its lines and its status.
    order.locator(".order-part", has_text="Desk lamp").wait_for()
    expect(order.locator(".order-part .pill").first).to_have_text("placed")

    # The merchant's console shows the profit and the sale, in the table
    # and in the chart.
    console.goto(console.url.split("#")[0] + "#/sales")
    console.locator("#profit").wait_for()
    assert console.locator("#profit").text_content() == "$88.98"
    sales = console.locator("table.sales tbody tr")
    assert sales.count() == 2
    assert "Floor lamp" in sales.nth(0).text_content()  # revenue, biggest first
    assert console.locator(".chart .bar-fill").count() == 2
    shoot(console, "console-sales-desktop")


def log_in_console(page, storename: str) -> None:
    connected(page)
    form = page.locator("form.login")
    form.get_by_label("Store name or email").fill(storename)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    page.locator("#console-nav").wait_for()


def test_a_reload_keeps_the_login_and_logging_out_ends_it(pages, server):
    username = tcp_customer(server)
    page = pages.open("/")
    log_in(page, username)
    page.reload()
    page.locator("#account-link", has_text=username).wait_for()
    page.goto(page.url.split("#")[0] + "#/account")
    page.get_by_role("button", name="Log out").click()
    page.locator("#account-link", has_text="Log in").wait_for()
    # Reload the front page, which shows the stores once connected.
    page.goto(page.url.split("#")[0] + "#/")
    page.reload()
    page.locator(".store, .hero").first.wait_for()
    page.wait_for_timeout(300)
    assert page.locator("#account-link").text_content() == "Log in"


@pages_alone
def test_what_a_visitor_types_before_the_connection_opens_is_kept(pages, server):
    """A page visited before the connection is open shows its form, and is
    rendered again once the connection opens; what was typed meanwhile
    stays, and logs in."""
    username = tcp_customer(server)
    held = {"route": None, "messages": [], "passed": 0}

    def hold_answers(route):
        # Everything the page sends goes to the server; the server's
        # answers wait until the test lets them through.
        held["route"] = route
        upstream = route.connect_to_server()

        def to_page(message):
            if held["messages"] is None:
                held["passed"] += 1
                route.send(message)
            else:
                held["messages"].append(message)

        upstream.on_message(to_page)

    page = pages.open(
        "/", before=lambda page: page.route_web_socket(re.compile(r"/ws$"), hold_answers)
    )
    # Going to the account page renders its form at once, connected or not.
    page.goto(page.url.split("#")[0] + "#/account")
    form = page.locator("form.login")
    form.get_by_label("Username or email").fill(username)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    # Now the connection opens: PING's answer, then SET_LANGUAGE's.
    waiting, held["messages"] = held["messages"], None
    for message in waiting:
        held["route"].send(message)
    while held["passed"] < 1:
        page.wait_for_timeout(20)
    connected(page)  # the redraw on connecting is done
    assert form.get_by_label("Username or email").input_value() == username
    form.get_by_role("button", name="Log in").click()
    page.locator("#account-link", has_text=username).wait_for()


def test_the_loser_of_a_race_for_the_last_unit_is_told_which_product(pages, server):
    storename, _ = tcp_store(server, [("Last teapot", "30.00", 1, "The only one.")])
    people = []
    for _ in range(2):
        username = tcp_customer(server)
        page = pages.open("/")
        log_in(page, username)
        page.goto(page.url.split("#")[0] + f"#/store/{storename}")
        add_to_cart(page, "Last teapot", 1)
        page.get_by_role("link", name=re.compile("^Cart")).click()
        page.locator("#checkout").wait_for()
        people.append(page)
    winner, loser = people
    winner.get_by_role("button", name="Check out").click()
    winner.get_by_role("button", name="Place order").click()
    winner.locator("#order-placed").wait_for()
    loser.get_by_role("button", name="Check out").click()
    message = loser.locator("#cart-status")
    message.filter(has_text="Last teapot").wait_for()
    assert "not enough stock" in message.text_content()
    # The cart is as it was.
    assert loser.locator("tr[data-product-id]").count() == 1
    assert loser.locator("#cart-total").text_content() == "$30.00"


@pages_alone
def test_a_product_name_made_of_markup_shows_as_text(pages, server):
    evil = "<img src=x onerror=alert(1)>"
    storename, _ = tcp_store(server, [(evil, "1.00", 3, "<b>not bold</b>\nsecond line")])
    page = pages.open(f"/#/store/{storename}")
    found = card(page, evil)
    found.wait_for()
    assert found.locator(".product-name").text_content() == evil
    assert found.locator(".description").text_content() == "<b>not bold</b>\nsecond line"
    assert found.locator("img, b").count() == 0
    # pages' fixture: no dialog opened, no script error


@pages_alone
def test_every_screen_fits_a_phone(pages, server):
    storename, _ = tcp_store(
        server,
        [
            ("Sourdough loaf with a very long name that has to wrap", "6.20", 4, "Baked daily."),
            ("Croissant", "1.80", 0, "Butter."),
        ],
    )
    username = tcp_customer(server)
    page = pages.open("/", PHONE)
    page.locator(".store").first.wait_for()
    no_sideways_scroll(page)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    page.locator("article.product").first.wait_for()
    no_sideways_scroll(page)
    assert card(page, "Croissant").get_by_role("button").count() == 0  # sold out
    assert card(page, "Croissant").locator(".stock").text_content() == "Sold out"
    assert (
        "Only 4 left"
        in card(page, "Sourdough loaf with a very long name that has to wrap").text_content()
    )
    shoot(page, "storefront-phone")
    log_in(page, username)
    no_sideways_scroll(page)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    add_to_cart(page, "Sourdough loaf with a very long name that has to wrap", 2)
    page.goto(page.url.split("#")[0] + "#/cart")
    page.locator("#checkout").wait_for()
    no_sideways_scroll(page)
    for control in page.locator("main button, main input").all():
        box = control.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    shoot(page, "cart-phone")
    console = pages.open("/console.html", PHONE)
    console.locator("form.join").wait_for()
    no_sideways_scroll(console)
    log_in_console(console, storename)
    console.locator("table.products tbody tr").first.wait_for()
    no_sideways_scroll(console)
    shoot(console, "console-products-phone")


@pages_alone
def test_the_storefront_speaks_the_browsers_language_and_remembers_a_choice(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(
        server,
        [
            ("Чайник электрический со свистком", "1234567.50", 0, "Достопримечательность"),
            ("龙井绿茶", "19.99", 3, "西湖龙井，明前采摘"),
        ],
    )
    page = pages.open("/", PHONE, locale="zh-CN")
    page.locator(".store").first.wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("nav a[href='#/']").text_content() == "店铺"
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    page.locator("article.product").first.wait_for()
    assert card(page, "龙井绿茶").locator(".stock").text_content() == "仅剩 3 件"
    assert "19.99" in card(page, "龙井绿茶").locator(".price").text_content()
    no_sideways_scroll(page)
    shoot(page, "storefront-zh-CN-phone")
    # The switcher: the page reloads in Russian, and a reload keeps it.
    page.select_option("#language", "ru")
    # A locator's wait, not wait_for_function: that one evaluates a string
    # in the page, which the page's CSP (no 'unsafe-eval') refuses.
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.reload()
    page.locator("article.product").first.wait_for()
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.locator("nav a[href='#/']").text_content() == "Магазины"
    kettle = card(page, "Чайник электрический со свистком")
    assert kettle.locator(".stock").text_content() == "Нет в наличии"
    # Money from the exact string, grouped and with a decimal comma.
    price = kettle.locator(".price").text_content()
    assert re.search(r"1\s234\s567,50", price), price
    no_sideways_scroll(page)
    shoot(page, "storefront-ru-phone")
    page.select_option("#language", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("nav a[href='#/']", has_text="Stores").wait_for()


# Chromium with Norwegian Bokmål as its first language: "no" and "nn" are
# languages CLDR knows and Babel has no locale for.
NORWEGIAN = "nb-NO,nb,no,nn,en-US,en"


@pages_alone
@pytest.mark.parametrize("how", ["chromium", "header"])
def test_a_norwegian_browser_gets_the_storefront_in_english(browser, server, how):
    """Every upgrade of such a browser was once a 500: the page sat at
    "Connection lost. Reconnecting…" and each retry kept a connection
    place.  "chromium": a Chromium whose languages are set so
    (--accept-lang; it sends them with qualities, and the page reads them
    from navigator.languages); "header": the header exactly as above."""
    storename, _ = tcp_store(server, [("Brunost", "7.90", 5, "Geitost fra Gudbrandsdalen.")])
    if how == "chromium":
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM, args=[*FLAGS, f"--accept-lang={NORWEGIAN}"]
        )
    else:
        chromium = browser
    norwegians = Pages(chromium, server)
    try:
        page = norwegians.open("/", PHONE, accept_language=NORWEGIAN if how == "header" else None)
        if how == "chromium":
            assert page.evaluate("navigator.languages")[:4] == ["nb-NO", "nb", "no", "nn"]
        page.locator(".store").first.wait_for()
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("nav a[href='#/']").text_content() == "Stores"
        page.goto(page.url.split("#")[0] + f"#/store/{storename}")
        assert card(page, "Brunost").locator(".stock").text_content() == "Only 5 left"
        page.wait_for_timeout(500)
        assert not page.locator("#notice", has_text="Connection lost").is_visible()
        no_sideways_scroll(page)
        shoot(page, f"storefront-nb-NO-{how}-phone")
        assert norwegians.errors == []
    finally:
        norwegians.close()
        if chromium is not browser:
            chromium.close()


@pages_alone
def test_the_account_page_and_the_console_speak_russian_and_chinese(pages, server):
    # The storefront's sign-up form in Russian at phone width; its error
    # sentence comes from messages.js in the same language.
    page = pages.open("/#/account", PHONE, locale="ru-RU")
    signup = page.locator("form.signup")
    signup.wait_for()
    assert signup.locator("h2").text_content() == "Регистрация"
    assert page.locator("#account-link").text_content() == "Войти"
    signup.get_by_role("button", name="Зарегистрироваться").click()
    # The message is at the field it is about.
    signup.locator(".field-error").wait_for()
    assert "«" in signup.locator(".field-error").text_content()
    no_sideways_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "account-ru-phone")
    # The console in Chinese, with the same switcher and the page's title.
    console = pages.open("/console.html", PHONE, locale="zh-CN")
    console.locator("form.join").wait_for()
    assert console.evaluate("document.documentElement.lang") == "zh-CN"
    assert console.title() == "店铺后台 · cybermarket"
    assert console.locator("form.join h2").text_content() == "开设店铺"
    no_sideways_scroll(console)
    shoot(console, "console-zh-CN-phone")
    console.select_option("#language", "ru")
    console.locator("form.join h2", has_text="Открыть магазин").wait_for()
    no_sideways_scroll(console)
    shoot(console, "console-ru-phone")


# The storefront's languages, as fontconfig names them: each needs a font
# that has its letters, or its screenshots show boxes (scripts/with-chromium
# installs fonts-noto-core and fonts-noto-cjk).
FONT_LANGUAGES = ["en", "ru", "zh-cn"]


@pytest.mark.parametrize("language", FONT_LANGUAGES)
def test_each_language_has_a_font(language: str) -> None:
    import subprocess

    if shutil.which("fc-list") is None:
        missing("fontconfig is not installed (it comes with chromium)")
    fonts = subprocess.run(
        ["fc-list", f":lang={language}", "family"], capture_output=True, text=True, check=True
    ).stdout.split()
    if not fonts:
        missing(f"no font for {language} (apt-get install fonts-noto-core fonts-noto-cjk)")


@pytest.mark.backend_free("the browser the tests drive")
def test_a_context_of_the_tests_opens_only_its_page(pages) -> None:
    """FLAGS keep Chromium from preloading its address bar's popup in each
    new window: the browser holds the test's page and nothing of its own
    (a renamed feature in a new Chromium shows here)."""
    page = pages.open("/")
    session = page.context.browser.new_browser_cdp_session()
    try:
        targets = session.send("Target.getTargets")["targetInfos"]
    finally:
        session.detach()
    assert [t["type"] for t in targets if t["type"] != "page"] == [], targets
