"""Orders of protocol 1.2 as people use them: a checkout that sends the
total the customer saw and where the order goes, stores that ship their
part, a customer who cancels the rest, and errors told by their code.
After each thing a person does, the page shows what the server holds
(read over TCP, tests/browser_kit.py)."""

from __future__ import annotations

import json
import re

from tests import test_browser
from tests.browser_kit import as_customer, as_merchant, customer_with_cart, tcp_store
from tests.live import rows
from tests.test_browser import log_in, log_in_console, pages_alone

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages

ADDRESS = "Flat 4, 12 Rose Lane\nSpringfield 4021"
ADDRESS_KEY = "cybermarket.client.address"


def watched(pages) -> tuple:
    """The storefront, connected, and every request it sends on its
    WebSocket (watched from before the page loads)."""
    sent: list[dict] = []

    def watch(ws):
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page = pages.open("/", before=lambda page: page.on("websocket", watch))
    page.locator(".hero").wait_for()  # connected
    return page, sent


def review(page, username):
    """The customer's cart, then its review."""
    page.goto(page.url.split("#")[0] + "#/")
    page.goto(page.url.split("#")[0] + "#/cart")
    page.locator("#checkout").click()
    page.locator("#review-total").wait_for()


def address_box(page):
    return page.locator("form.place textarea[name=address]")


def customer_orders(server, username):
    return rows(as_customer(server, username, "CLIENT_LIST_ORDERS"))


def order_card(page, order_id):
    return page.locator(f"article.order[data-order-id='{order_id}']")


def part(card, storename):
    return card.locator(f"section.order-part[data-store='{storename}']")


def open_console_orders(pages, storename, query=""):
    console = pages.open("/console.html")
    log_in_console(console, storename)
    console.goto(console.url.split("#")[0] + f"#/orders{query}")
    console.locator("h1", has_text="Orders").wait_for()
    return console


def test_a_two_store_order_shipped_by_one_and_cancelled_for_the_rest(pages, server):
    from playwright.sync_api import expect

    tea_store, (tea,) = tcp_store(server, [("Sencha", "10.00", 10, "Green.")])
    mug_store, (mug,) = tcp_store(server, [("Mug", "5.00", 10, "Stoneware.")])
    username = customer_with_cart(server, [(tea, 2), (mug, 1)])
    page, sent = watched(pages)
    log_in(page, username)

    # Checkout: the review shows the lines and the total; the order goes
    # with the address typed, for the total shown.
    review(page, username)
    expect(page.locator("#review-total")).to_have_text("$25.00")
    expect(page.locator("table.review-lines tbody tr")).to_have_count(2)
    address_box(page).fill(ADDRESS)
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-placed")).to_have_text(re.compile(r"Total \$25\.00\."))
    (order,) = customer_orders(server, username)
    assert order["address"] == ADDRESS
    assert order["status"] == "placed" and order["cancellable"] is True
    (checkout,) = [r for r in sent if r.get("op") == "CLIENT_CHECKOUT_ITEM"]
    assert checkout["args"] == {"expected_total": "25.00", "address": ADDRESS}
    # The address went to the checkout and nowhere else.
    written = json.dumps(ADDRESS)[1:-1]
    assert [r["op"] for r in sent if written in json.dumps(r)] == ["CLIENT_CHECKOUT_ITEM"]
    order_id = order["order_id"]

    # The tea store: its part waiting to ship, counted in the navigation,
    # with the customer's name, the address, its lines and its total.
    console = open_console_orders(pages, tea_store)
    expect(console.locator("#waiting-count")).to_have_text("1")
    card = order_card(console, order_id)
    expect(card.locator(".pill")).to_have_text("placed")
    expect(card.locator(".customer")).to_have_text(username)
    assert card.locator(".address").inner_text() == ADDRESS
    expect(card.locator("table.order-lines tbody tr")).to_have_count(1)
    assert "Sencha" in card.locator("table.order-lines").text_content()
    expect(card.locator(".order-total")).to_have_text("$20.00")
    # Marked as shipped with a note (its length counted as it is typed).
    note = card.locator("input[name=note]")
    note.fill("DHL 00340434161094042557")
    expect(card.locator(".count")).to_have_text("24 of 200 characters")
    card.get_by_role("button", name="Mark as shipped").click()
    expect(card.locator(".pill")).to_have_text("shipped")
    expect(card.locator(".ship-note")).to_have_text("DHL 00340434161094042557")
    expect(console.locator("#waiting-count")).to_be_hidden()
    (shipped,) = rows(as_merchant(server, tea_store, "MERCHANT_LIST_ORDERS"))
    assert shipped["status"] == "shipped"

    # The customer sees the tea shipped, with its note, and the mug still
    # placed; then cancels the rest, confirming in the page.
    page.goto(page.url.split("#")[0] + "#/orders")
    mine = order_card(page, order_id)
    expect(part(mine, tea_store).locator(".pill")).to_have_text("shipped")
    expect(part(mine, tea_store).locator(".note-text")).to_have_text("DHL 00340434161094042557")
    expect(part(mine, mug_store).locator(".pill")).to_have_text("placed")
    assert mine.locator(".order-address .address").inner_text() == ADDRESS
    mine.get_by_role("button", name="Cancel order").click()
    assert customer_orders(server, username)[0]["cancellable"] is True  # only asked
    mine.get_by_role("button", name="Yes, cancel it").click()
    expect(mine.locator(".refund")).to_have_text(re.compile(r"\$5\.00 is refunded"))
    expect(part(mine, mug_store).locator(".pill")).to_have_text("cancelled")
    expect(part(mine, tea_store).locator(".pill")).to_have_text("shipped")
    expect(mine.get_by_role("button", name="Cancel order")).to_have_count(0)
    (held,) = customer_orders(server, username)
    assert held["status"] == "partial" and held["cancellable"] is False
    expect(mine.locator(".order-head .pill")).to_have_text("partly shipped or cancelled")

    # The mug store: the part cancelled, nothing to ship, no profit; the
    # tea store keeps its $20.00.
    mugs = open_console_orders(pages, mug_store, "?status=cancelled")
    expect(order_card(mugs, order_id).locator(".pill")).to_have_text("cancelled")
    expect(order_card(mugs, order_id).get_by_role("button", name="Mark as shipped")).to_have_count(
        0
    )
    expect(mugs.locator("#waiting-count")).to_be_hidden()
    mugs.get_by_role("link", name="Waiting to ship").click()
    expect(mugs.locator("#no-orders")).to_be_visible()
    mugs.get_by_role("link", name="Sales").click()
    expect(mugs.locator("#profit")).to_have_text("$0.00")
    assert as_merchant(server, mug_store, "MERCHANT_GET_PROFIT") == "0.00"
    assert rows(as_merchant(server, mug_store, "MERCHANT_GET_SALES")) == []
    console.get_by_role("link", name="Sales").click()
    expect(console.locator("#profit")).to_have_text("$20.00")
    assert as_merchant(server, tea_store, "MERCHANT_GET_PROFIT") == "20.00"
    # The mug's stock came back.
    (product,) = rows(as_merchant(server, mug_store, "MERCHANT_LIST_PRODUCTS"))
    assert product["stock"] == 10


def test_a_price_change_before_place_order_shows_the_new_total_and_asks_again(pages, server):
    from playwright.sync_api import expect

    storename, (tea,) = tcp_store(server, [("Oolong", "11.00", 20, "Rolled leaves.")])
    username = customer_with_cart(server, [(tea, 1)])
    page, sent = watched(pages)
    log_in(page, username)
    review(page, username)
    expect(page.locator("#review-total")).to_have_text("$11.00")
    address_box(page).fill(ADDRESS)

    # The price moves while the review is on the screen: the checkout sent
    # the total shown, the server refused it, nothing is charged, and the
    # review shows the new total (the address kept) and asks again.
    as_merchant(server, storename, "SET_PRODUCT", product_id=tea, price="12.50")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#review-total")).to_have_text("$12.50")
    note = page.locator("#review-note").text_content()
    assert "$11.00" in note and "$12.50" in note and "Nothing was charged" in note, note
    assert [r["args"] for r in sent if r.get("op") == "CLIENT_CHECKOUT_ITEM"] == [
        {"expected_total": "11.00", "address": ADDRESS}
    ]
    assert customer_orders(server, username) == []
    assert address_box(page).input_value() == ADDRESS

    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-placed")).to_have_text(re.compile(r"Total \$12\.50\."))
    (order,) = customer_orders(server, username)
    assert order["total"] == "12.50" and order["address"] == ADDRESS


def test_the_address_is_remembered_and_forgotten_at_logout_in_every_tab(pages, server):
    from playwright.sync_api import expect

    _, (tea,) = tcp_store(server, [("Rooibos", "3.00", 20, "Red.")])
    username = customer_with_cart(server, [(tea, 1)])
    page = pages.open("/")
    log_in(page, username)
    review(page, username)
    address_box(page).fill(ADDRESS)
    page.get_by_role("button", name="Place order").click()
    page.locator("#order-placed").wait_for()

    # The next checkout opens with it, in this browser.
    as_customer(server, username, "CLIENT_ADD_ITEM", product_id=tea, quantity=1)
    review(page, username)
    expect(address_box(page)).to_have_value(ADDRESS)

    # A second tab; logging out in the first forgets it in both.
    other = page.context.new_page()
    other.goto(page.url.split("#")[0] + "#/cart")
    other.locator("#checkout").wait_for()
    assert other.evaluate(f"localStorage.getItem('{ADDRESS_KEY}')") == ADDRESS
    page.goto(page.url.split("#")[0] + "#/account")
    page.get_by_role("button", name="Log out").click()
    page.locator("#account-link", has_text="Log in").wait_for()
    other.locator("#account-link", has_text="Log in").wait_for()
    # The other tab has shown it (its cart asks for a login) before anyone
    # logs in there again.
    other.get_by_role("link", name="Log in or sign up").wait_for()
    assert page.evaluate(f"localStorage.getItem('{ADDRESS_KEY}')") is None
    assert other.evaluate(f"localStorage.getItem('{ADDRESS_KEY}')") is None
    log_in(other, username)
    review(other, username)
    expect(address_box(other)).to_have_value("")


@pages_alone
def test_errors_are_told_by_their_code_whatever_the_message_says(pages, server):
    """The server's messages reworded (as a translation or a new version
    may): the page still names the field a name_taken is about, and the
    short line with its stock, from short_of_stock's `products`."""
    from playwright.sync_api import expect

    _, (cookie,) = tcp_store(server, [("Cookie", "2.00", 3, "Oat.")])
    username = customer_with_cart(server, [(cookie, 2)])

    def reword(route):
        upstream = route.connect_to_server()

        def to_page(message):
            answer = json.loads(message)
            if isinstance(answer, dict) and "message" in answer:
                answer["message"] = "something happened"
            route.send(json.dumps(answer))

        upstream.on_message(to_page)

    page = pages.open("/", before=lambda page: page.route_web_socket(re.compile(r"/ws$"), reword))
    page.locator(".hero").wait_for()  # connected
    page.goto(page.url.split("#")[0] + "#/account")
    signup = page.locator("form.signup")
    signup.locator("input[name=username]").fill(username)
    signup.locator("input[name=email]").fill("someone.else@example.com")
    signup.locator("input[name=password]").fill("a long password")
    signup.get_by_role("button", name="Sign up").click()
    taken = signup.locator(".field-error")
    expect(taken).to_have_text("That username is already taken. Please choose another.")
    expect(signup.locator("input[name=username]")).to_have_attribute("aria-invalid", "true")

    log_in(page, username)
    review(page, username)
    other = customer_with_cart(server, [(cookie, 2)])
    as_customer(server, other, "CLIENT_CHECKOUT_ITEM")
    page.get_by_role("button", name="Place order").click()
    status = page.locator("#cart-status")
    expect(status).to_have_text(re.compile(r"Cookie \(1 left\)"))
    assert "Nothing was charged" in status.text_content()
    assert customer_orders(server, username) == []


def test_a_cancel_and_a_ship_that_lose_the_race_say_so_and_show_the_status(pages, server):
    from playwright.sync_api import expect

    storename, (lamp,) = tcp_store(server, [("Lamp", "30.00", 5, "Brass.")])
    username = customer_with_cart(server, [(lamp, 1)])
    order_id = as_customer(server, username, "CLIENT_CHECKOUT_ITEM")["order_id"]
    again = customer_with_cart(server, [(lamp, 1)])
    second = as_customer(server, again, "CLIENT_CHECKOUT_ITEM")["order_id"]

    # The customer's page shows Cancel; the store ships meanwhile.
    page = pages.open("/")
    log_in(page, username)
    page.goto(page.url.split("#")[0] + "#/orders")
    mine = order_card(page, order_id)
    mine.get_by_role("button", name="Cancel order").click()
    as_merchant(server, storename, "MERCHANT_SHIP_ORDER", order_id=order_id)
    mine.get_by_role("button", name="Yes, cancel it").click()
    expect(mine.locator(".error")).to_have_text(
        "That order is already shipped: it can no longer be changed."
    )
    expect(part(mine, storename).locator(".pill")).to_have_text("shipped")
    expect(mine.get_by_role("button", name="Cancel order")).to_have_count(0)

    # The console shows Mark as shipped; the other customer cancels meanwhile.
    console = open_console_orders(pages, storename, "?status=placed")
    expect(console.locator("#waiting-count")).to_have_text("1")
    card = order_card(console, second)
    card.locator("form.ship").wait_for()
    as_customer(server, again, "CLIENT_CANCEL_ORDER", order_id=second)
    card.get_by_role("button", name="Mark as shipped").click()
    expect(card.locator(":scope > .form-status")).to_have_text(
        "That order is already cancelled: it can no longer be changed."
    )
    expect(card.locator(".pill")).to_have_text("cancelled")
    expect(card.locator("form.ship")).to_have_count(0)
    expect(console.locator("#waiting-count")).to_be_hidden()
    assert as_merchant(server, storename, "MERCHANT_GET_PROFIT") == "30.00"
