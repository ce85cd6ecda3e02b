"""The store console, as a merchant uses it: after each thing the merchant
does, the page shows what the server holds, and a form sends only what
the merchant changed."""

from __future__ import annotations

import re

from tests import test_browser
from tests.browser_kit import server_store, tcp_store, unique
from tests.test_browser import log_in_console

# The module's fixtures, as in test_browser: its own live server; the run's one browser.
browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages


def settings_form(page, title):
    return page.locator("form").filter(has=page.get_by_role("heading", name=title, exact=True))


def open_settings(pages, login):
    console = pages.open("/console.html")
    log_in_console(console, login)
    console.goto(console.url.split("#")[0] + "#/settings")
    settings_form(console, "About your store").wait_for()
    return console


def test_settings_open_with_the_stores_values_and_save_only_what_changed(pages, server):
    from playwright.sync_api import expect

    storename, _ = tcp_store(server, [])
    console = open_settings(pages, storename)
    about = settings_form(console, "About your store")
    description = about.get_by_label("Description")
    # The form opens with what the server holds, not empty.
    expect(description).to_have_value(f"the {storename} store")
    expect(settings_form(console, "Store name").locator("input")).to_have_value(storename)
    expect(settings_form(console, "Email").locator("input")).to_have_value(
        f"{storename}@example.com"
    )

    # Save without a change: nothing is sent, nothing is wiped.
    about.get_by_role("button", name="Save").click()
    expect(about.locator(".form-status")).to_have_text(
        "Nothing to save: the description is as it was."
    )
    assert server_store(server, storename)["description"] == f"the {storename} store"

    # A change is saved, and a reload shows it.
    description.fill("Bread since 1990.\nOpen on Sundays.")
    about.get_by_role("button", name="Save").click()
    expect(about.locator(".form-status")).to_have_text("Your description is saved.")
    assert server_store(server, storename)["description"] == "Bread since 1990.\nOpen on Sundays."
    email = settings_form(console, "Email")
    email.locator("input").fill(f"new-{storename}@example.com")
    email.get_by_role("button", name="Save").click()
    expect(email.locator(".form-status")).to_have_text("Your email is changed.")
    assert server_store(server, storename)["email"] == f"new-{storename}@example.com"
    console.reload()
    about = settings_form(console, "About your store")
    expect(about.get_by_label("Description")).to_have_value("Bread since 1990.\nOpen on Sundays.")
    expect(settings_form(console, "Email").locator("input")).to_have_value(
        f"new-{storename}@example.com"
    )

    # A rename: the form, the "signed in as" line and the products' title
    # show the new name.
    renamed = unique("Renamed bakery")
    name = settings_form(console, "Store name")
    name.locator("input").fill(renamed)
    name.get_by_role("button", name="Save").click()
    expect(name.locator(".form-status")).to_have_text("Your store name is changed.")
    assert server_store(server, renamed)["storename"] == renamed
    expect(console.locator(".account-head strong")).to_have_text(renamed)
    expect(name.locator("input")).to_have_value(renamed)
    console.goto(console.url.split("#")[0] + "#/products")
    expect(console.locator("h1")).to_have_text(re.compile(re.escape(renamed)))


def test_settings_opened_after_a_rename_elsewhere_show_the_store_as_held(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import PASSWORD
    from tests.wire import Client

    storename, _ = tcp_store(server, [])
    console = pages.open("/console.html")
    log_in_console(console, storename)
    # Renamed on another connection (another device) after this login.
    renamed = unique("Elsewhere bakery")
    with Client(server.port) as c:
        c.ok("MERCHANT_LOGIN", login=storename, password=PASSWORD)
        c.ok("SET_MERCHANT_STORENAME", storename=renamed)
    console.goto(console.url.split("#")[0] + "#/settings")
    about = settings_form(console, "About your store")
    # The description is the store's, not an empty one to be saved over it.
    expect(about.get_by_label("Description")).to_have_value(f"the {storename} store")
    expect(settings_form(console, "Store name").locator("input")).to_have_value(renamed)
    expect(console.locator(".account-head strong")).to_have_text(renamed)
    expect(settings_form(console, "Email").locator("input")).to_have_value(
        f"{storename}@example.com"
    )
