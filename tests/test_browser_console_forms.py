"""The console's forms as a merchant uses them: Enter works where a
button would, an error shows at the field it is about (aria-invalid,
aria-describedby pointing at the message), and an old "Saved." never
stays beside a new error."""

from __future__ import annotations

from tests import test_browser
from tests.browser_kit import as_merchant, tcp_store
from tests.live import rows
from tests.test_browser import log_in_console, pages_alone

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages
# The tests marked pages_alone run in the SQLite run only: what the pages
# do with the server's answers, whose rules are tested on both backends
# below the pages.  One test of each defect fixed here is not marked, and
# runs on both backends too.


def stock_on_server(server, storename, product_id):
    products = rows(as_merchant(server, storename, "MERCHANT_LIST_PRODUCTS"))
    return next(p["stock"] for p in products if p["product_id"] == product_id)


def described_by(page, field):
    """The text of the element the field's aria-describedby names."""
    ids = field.get_attribute("aria-describedby")
    assert ids, "no aria-describedby"
    return " ".join(page.locator(f"#{i}").text_content() for i in ids.split())


def test_restock_with_enter_and_its_error_at_its_row(pages, server):
    from playwright.sync_api import expect

    storename, (scone, bun) = tcp_store(
        server, [("Scone", "2.00", 5, "Fruit."), ("Bun", "1.50", 7, "Sweet.")]
    )
    console = pages.open("/console.html")
    log_in_console(console, storename)
    scone_row = console.locator(f"tr[data-product-id='{scone}']")
    bun_row = console.locator(f"tr[data-product-id='{bun}']")
    amount = scone_row.get_by_label("Units to add to Scone")
    amount.fill("3")
    amount.press("Enter")
    expect(scone_row.locator(".stock-count")).to_have_text("8")
    assert stock_on_server(server, storename, scone) == 8
    expect(scone_row.locator(".form-status")).to_have_text("Saved.")

    # A wrong amount in another row: the error is at that row, on its
    # field, and the first row's "Saved." is gone.
    amount = bun_row.get_by_label("Units to add to Bun")
    amount.fill("0")
    amount.press("Enter")
    error = bun_row.locator(".form-status.error")
    expect(error).to_have_text("Please enter a whole number of units, 1 or more.")
    amount = bun_row.get_by_label("Units to add to Bun")
    expect(amount).to_have_attribute("aria-invalid", "true")
    assert "1 or more" in described_by(console, amount)
    expect(console.locator(".form-status.ok")).to_have_count(0)
    assert stock_on_server(server, storename, bun) == 7

    # Fixed: the error and the mark go.
    amount.fill("2")
    amount.press("Enter")
    expect(bun_row.locator(".stock-count")).to_have_text("9")
    expect(bun_row.get_by_label("Units to add to Bun")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    assert stock_on_server(server, storename, bun) == 9


@pages_alone
def test_a_form_error_marks_its_field(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = pages.open("/console.html")
    log_in_console(console, storename)
    add = console.locator("form.add-product")
    add.get_by_label("Name").fill("Rye")
    add.get_by_label("Price (such as 19.99)").fill("abc")
    add.get_by_role("button", name="Add product").click()
    price = add.get_by_label("Price (such as 19.99)")
    expect(price).to_have_attribute("aria-invalid", "true")
    assert "price" in described_by(console, price).lower()
    expect(add.get_by_label("Name")).not_to_have_attribute("aria-invalid", "true")


LONG = (
    "Extra large celebration cake with raspberries, pistachios, white chocolate"
    " and a very long name that goes on"
)


def test_money_numbers_and_headers_never_break_apart(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import broken_apart, customer_with_cart
    from tests.test_browser import log_in

    storename, (cake, bun) = tcp_store(
        server, [(LONG, "1234567.50", 1000, "Forty."), ("Bun", "1.50", 7000, "Sweet.")]
    )
    buyer = customer_with_cart(server, [(cake, 12), (bun, 1000)])
    from tests.browser_kit import as_customer

    as_customer(server, buyer, "CLIENT_CHECKOUT_ITEM")
    console = pages.open("/console.html")
    log_in_console(console, storename)
    console.locator("table.products tbody tr").first.wait_for()
    assert broken_apart(console, "table.products th") == []
    assert broken_apart(console, "table.products td:nth-child(2)") == []  # price
    assert broken_apart(console, "table.products td:nth-child(3)") == []  # stock
    # The long name wraps, and its full text is there to read.
    name = console.locator("table.products .product-name").first
    expect(name).to_have_text(LONG)
    console.goto(console.url.split("#")[0] + "#/sales")
    console.locator("table.sales tbody tr").first.wait_for()
    assert broken_apart(console, "table.sales th") == []
    assert broken_apart(console, "table.sales td:nth-child(2)") == []
    assert broken_apart(console, "table.sales td:nth-child(3)") == []
    assert broken_apart(console, "#profit") == []

    shopper = customer_with_cart(server, [(cake, 3)])
    page = pages.open("/")
    log_in(page, shopper)
    page.goto(page.url.split("#")[0] + "#/cart")
    page.locator("#checkout").wait_for()
    assert broken_apart(page, "table.lines th") == []
    assert broken_apart(page, "table.lines td:nth-child(2)") == []
    assert broken_apart(page, "#cart-total") == []


def field_message(page, field):
    from playwright.sync_api import expect

    expect(field).to_have_attribute("aria-invalid", "true")
    # The message is next to the field (in its .field), not elsewhere.
    message = field.get_attribute("aria-describedby")
    assert field.locator("xpath=..").locator(f"#{message}").count() == 1
    return described_by(page, field)


def test_prices_and_counts_are_read_as_people_write_them(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = pages.open("/console.html")
    log_in_console(console, storename)
    add = console.locator("form.add-product")
    name = add.get_by_label("Name")
    price = add.get_by_label("Price (such as 19.99)")
    stock = add.get_by_label("Units in stock")

    # A decimal comma, as most of Europe writes it.
    name.fill("Rye")
    price.fill("2,50")
    stock.fill("3")
    add.get_by_role("button", name="Add product").click()
    expect(add.locator(".form-status")).to_have_text("Added Rye.")
    (rye,) = rows(as_merchant(server, storename, "MERCHANT_LIST_PRODUCTS"))
    assert (rye["price"], rye["stock"]) == ("2.50", 3)

    # Wrong amounts: said in words, at the field, and nothing is added.
    for typed, words in [
        ("-1", "A price cannot be below zero."),
        ("abc", "Please write the price as a number, such as 19.99."),
        ("2.505", "Please write the price as a number, such as 19.99."),
    ]:
        name.fill("Spelt")
        price.fill(typed)
        add.get_by_role("button", name="Add product").click()
        assert field_message(console, price) == words, typed
    stock.fill("1.5")
    price.fill("3.00")
    add.get_by_role("button", name="Add product").click()
    assert field_message(console, stock) == "Please enter a whole number, 0 or more."
    assert len(rows(as_merchant(server, storename, "MERCHANT_LIST_PRODUCTS"))) == 1

    # The length limit shows as one types.
    name.fill("A" * 150)
    expect(
        add.locator(".field").filter(has=console.get_by_label("Name", exact=True)).locator(".count")
    ).to_have_text("150 of 200 characters")
    # A product added empties the form, and the count goes with the text.
    price.fill("3.00")
    stock.fill("4")
    add.get_by_role("button", name="Add product").click()
    expect(add.locator(".form-status")).to_have_text(f"Added {'A' * 150}.")
    assert name.input_value() == ""
    expect(add.locator(".count")).to_have_text(["", ""])


@pages_alone
def test_a_quantity_of_one_and_a_half_is_not_bought_as_one(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import customer_with_cart, server_cart
    from tests.test_browser import card, log_in

    storename, _ = tcp_store(server, [("Cider", "5.00", 20, "Dry.")])
    buyer = customer_with_cart(server, [])
    page = pages.open("/")
    log_in(page, buyer)
    page.goto(page.url.split("#")[0] + f"#/store/{storename}")
    found = card(page, "Cider")
    found.get_by_label("Quantity of Cider").fill("1.5")
    found.get_by_role("button", name="Add to cart").click()
    expect(found.locator(".form-status")).to_have_text("Please enter a whole number of 1 or more.")
    assert server_cart(server, buyer) == {}
