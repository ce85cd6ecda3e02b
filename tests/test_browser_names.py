"""Names on the page are the server's, not what a person typed: a login
by email or in other capitals shows the account's name as stored, and
after a sign-up the address and the page agree."""

from __future__ import annotations

import re

from tests import test_browser
from tests.browser_kit import PASSWORD, unique
from tests.seed import seed_customers, seed_stores
from tests.test_browser import connected

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages


def test_the_header_shows_the_stored_username_after_a_login_by_email(pages, server):
    from playwright.sync_api import expect

    username = unique("anna.mueller")
    seed_customers(server.database_url, [username], PASSWORD)
    page = pages.open("/#/account")
    connected(page)
    form = page.locator("form.login")
    form.get_by_label("Username or email").fill(f"{username.title()}@Example.COM")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    expect(page.locator("#account-link")).to_have_text(username)
    page.goto(page.url.split("#")[0] + "#/account")
    expect(page.locator("#signed-in-as")).to_have_text(username)
    # And by the name in other capitals.
    page.get_by_role("button", name="Log out").click()
    form.get_by_label("Username or email").fill(username.upper())
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    expect(page.locator("#account-link")).to_have_text(username)


def test_the_console_shows_the_stored_store_name_after_a_login_in_capitals(pages, server):
    from playwright.sync_api import expect

    storename = unique("Maria's Bakery ")
    seed_stores(server.database_url, [storename], PASSWORD)
    for login in (storename.upper(), f"{storename}@EXAMPLE.com"):
        console = pages.open("/console.html")
        test_browser.log_in_console(console, login)
        expect(console.locator("h1")).to_have_text(f"Products of {storename}")


def test_after_sign_up_the_address_and_the_page_agree(pages, server):
    from playwright.sync_api import expect

    page = pages.open("/#/account")
    username = unique("newbie")
    signup = page.locator("form.signup")
    signup.get_by_label("Username").fill(username)
    signup.get_by_label("Email").fill(f"{username}@example.com")
    signup.get_by_label("Password (8 or more characters)").fill(PASSWORD)
    signup.get_by_role("button", name="Sign up").click()
    expect(page.locator("#account-link")).to_have_text(username)
    expect(page.locator("main h2", has_text="Stores")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/$"))
    page.reload()
    expect(page.locator("main h2", has_text="Stores")).to_be_visible()


def test_the_username_form_opens_with_the_name_and_a_rename_shows_everywhere(pages, server):
    from playwright.sync_api import expect

    username = unique("zoe")
    seed_customers(server.database_url, [username], PASSWORD)
    page = pages.open("/")
    test_browser.log_in(page, username)
    page.goto(page.url.split("#")[0] + "#/account")
    rename = page.locator("form").filter(has=page.get_by_role("heading", name="Change username"))
    expect(rename.get_by_label("New username")).to_have_value(username)
    renamed = unique("Zoe Q")
    rename.get_by_label("New username").fill(renamed)
    rename.get_by_role("button", name="Save").click()
    expect(rename.locator(".form-status")).to_have_text("Your username is changed.")
    expect(page.locator("#account-link")).to_have_text(renamed)
    page.reload()
    expect(page.locator("#account-link")).to_have_text(renamed)


def test_the_email_form_opens_with_the_email_and_saves_only_a_change(pages, server):
    from playwright.sync_api import expect

    from tests.browser_kit import as_customer

    username = unique("yuki")
    seed_customers(server.database_url, [username], PASSWORD)
    page = pages.open("/")
    test_browser.log_in(page, username)
    page.goto(page.url.split("#")[0] + "#/account")
    change = page.locator("form").filter(has=page.get_by_role("heading", name="Change email"))
    field = change.get_by_label("New email")
    # The form opens with the email the server holds (GET_ACCOUNT), not empty.
    held = as_customer(server, username, "GET_ACCOUNT")["email"]
    expect(field).to_have_value(held)

    # Saving it unchanged sends nothing.
    change.get_by_role("button", name="Save").click()
    expect(change.locator(".form-status")).to_have_text("Nothing to save: the email is as it was.")
    assert as_customer(server, username, "GET_ACCOUNT")["email"] == held

    # A change is saved, and the form opens with it again after a reload.
    field.fill(f"  new-{held}  ")
    change.get_by_role("button", name="Save").click()
    expect(change.locator(".form-status")).to_have_text("Your email is changed.")
    assert as_customer(server, username, "GET_ACCOUNT")["email"] == f"new-{held}"
    page.reload()
    expect(field).to_have_value(f"new-{held}")

    # Changed on another connection meanwhile: the page shows the server's.
    as_customer(server, username, "SET_CLIENT_EMAIL", email=f"other-{held}")
    page.goto(page.url.split("#")[0] + "#/")
    page.goto(page.url.split("#")[0] + "#/account")
    expect(field).to_have_value(f"other-{held}")
