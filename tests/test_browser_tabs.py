"""A login across the tabs of one browser: a product opened in a new tab
is still logged in, and a logout in any tab logs every tab out at once,
leaving nothing of the account on any page or in the browser's storage
(a shared computer)."""

from __future__ import annotations

from tests import test_browser
from tests.browser_kit import as_customer, server_cart, tcp_store
from tests.test_browser import (
    TIMEOUT_MS,
    add_to_cart,
    log_in,
    log_in_console,
    pages_alone,
    tcp_customer,
)
from tests.wire import Client

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages
# The tests marked pages_alone run in the SQLite run only: what the pages
# do with the server's answers, whose rules are tested on both backends
# below the pages.  One test of each defect fixed here is not marked, and
# runs on both backends too.


def new_tab(pages, page, path: str):
    """Another tab of the same browser (its storage shared), at `path`."""
    tab = page.context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.on("pageerror", lambda error: pages.errors.append(str(error)))
    tab.goto(page.url.split("#")[0].rsplit("/", 1)[0] + path)
    return tab


def kept(page) -> dict[str, str]:
    """What the page's origin keeps in the browser for a login."""
    return page.evaluate(
        """() => Object.fromEntries(
          [localStorage, sessionStorage].flatMap((store) => Object.keys(store)
            .filter((key) => key.includes("token"))
            .map((key) => [key, store.getItem(key)])))"""
    )


def test_a_new_tab_is_logged_in_and_a_logout_logs_out_every_tab(pages, server):
    from playwright.sync_api import expect

    storename, (matcha,) = tcp_store(server, [("Matcha", "9.00", 20, "Stone ground.")])
    buyer = tcp_customer(server)
    first = pages.open("/")
    log_in(first, buyer)
    first.goto(first.url.split("#")[0] + "#/cart")
    first.locator("section.cart").wait_for()

    # A product opened in a new tab: still logged in, and it can buy.
    second = new_tab(pages, first, f"/#/store/{storename}")
    expect(second.locator("#account-link")).to_have_text(buyer)
    add_to_cart(second, "Matcha", 2)
    assert server_cart(server, buyer) == {"Matcha": 2}
    (token,) = kept(first).values()

    # Logging out in the second tab logs the first out too, without a
    # reload: its cart is gone from the page, and nothing is kept.
    second.goto(second.url.split("#")[0] + "#/account")
    second.get_by_role("button", name="Log out").click()
    expect(second.locator("#account-link")).to_have_text("Log in")
    expect(first.locator("#account-link")).to_have_text("Log in")
    expect(first.get_by_text("Please log in to see this.")).to_be_visible()
    expect(first.locator("table.lines")).to_have_count(0)
    expect(first.locator("#cart-count")).to_be_hidden()
    assert kept(first) == {} and kept(second) == {}
    with Client(server.port) as c:
        assert c.call("RESUME", token=token)["status"] == 401
    # The first tab's own connection is logged out as well: a visit to the
    # cart asks for a login, and so does a reload.
    first.goto(first.url.split("#")[0] + "#/orders")
    expect(first.get_by_text("Please log in to see this.")).to_be_visible()
    first.reload()
    expect(first.locator("#account-link")).to_have_text("Log in")

    # A login in one tab shows in the other, and the cart is the server's.
    log_in(first, buyer)
    expect(second.locator("#account-link")).to_have_text(buyer)
    expect(second.locator("#cart-count")).to_have_text("2")
    assert as_customer(server, buyer, "CLIENT_GET_PRICE") == "18.00"


@pages_alone
def test_a_console_logout_logs_out_the_consoles_other_tab(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [("Scone", "2.00", 5, "Fruit.")])
    first = pages.open("/console.html")
    log_in_console(first, storename)
    first.locator("table.products").wait_for()

    second = new_tab(pages, first, "/console.html#/settings")
    expect(second.locator("#signed-in-as")).to_have_text(storename)
    second.get_by_role("button", name="Log out").click()
    expect(second.locator("form.login")).to_be_visible()
    expect(first.locator("form.login")).to_be_visible()
    expect(first.locator("#console-nav")).to_be_hidden()
    expect(first.locator("table.products")).to_have_count(0)
    assert kept(first) == {}
