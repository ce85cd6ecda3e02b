"""What the browser tests of what people do (tests/test_browser_*.py)
share besides tests/test_browser.py's fixtures: reading what the server
holds over TCP, to compare with what the page shows, and screenshots for
docs/screenshots/ (taken only under `make screenshots`)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.live import PASSWORD, rows, unique
from tests.seed import seed_customers
from tests.test_browser import SCREENSHOTS, tcp_store
from tests.wire import Client

DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PHONE_390 = {"width": 390, "height": 844}

__all__ = ["PASSWORD", "tcp_store", "unique"]


def shoot_docs(page, name: str) -> None:
    """A screenshot for the documentation (docs/screenshots/NAME.png),
    when pictures are asked for (tests/test_browser.py's SCREENSHOTS)."""
    if not SCREENSHOTS:
        return
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    # From the top: a full-page picture of a scrolled page shows the sticky
    # header where the scroll left it, across the content.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=True)


def customer_with_cart(server, lines: list[tuple[int, int]]) -> str:
    """A customer (seeded) whose cart holds `lines` (product_id, quantity)."""
    name = unique("buyer")
    seed_customers(server.database_url, [name], PASSWORD)
    with Client(server.port) as c:
        c.ok("CLIENT_LOGIN", login=name, password=PASSWORD)
        for product_id, quantity in lines:
            c.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=quantity)
    return name


def as_customer(server, name: str, op: str, **args):
    with Client(server.port) as c:
        c.ok("CLIENT_LOGIN", login=name, password=PASSWORD)
        return c.ok(op, **args)


def as_merchant(server, storename: str, op: str, **args):
    with Client(server.port) as c:
        c.ok("MERCHANT_LOGIN", login=storename, password=PASSWORD)
        return c.ok(op, **args)


def server_cart(server, name: str) -> dict[str, int]:
    """The customer's cart as the server holds it: {productname: quantity}."""
    return {
        r["productname"]: r["quantity"] for r in rows(as_customer(server, name, "CLIENT_GET_ITEMS"))
    }


def server_total(server, name: str) -> str:
    return as_customer(server, name, "CLIENT_GET_PRICE")


def page_cart(page) -> dict[str, int]:
    """The cart as the page shows it: {productname: quantity}."""
    shown = {}
    for row in page.locator("table.lines tbody tr[data-product-id]").all():
        name = row.locator("td").first.locator("strong").first.text_content()
        shown[name] = int(row.locator("input.qty").input_value())
    return shown


def dollars(text: str) -> str:
    """ "$1,234.50" as the server writes it: "1234.50"."""
    return re.sub(r"[^\d.]", "", text)


def server_store(server, storename: str) -> dict:
    """The store's LIST_MERCHANT row, as the server holds it (found by its
    name, whatever the case)."""
    after = None
    with Client(server.port) as c:
        while True:
            args = {"limit": 1000} if after is None else {"limit": 1000, "after": after}
            data = c.ok("LIST_MERCHANT", **args)
            for store in rows(data):
                if store["storename"].casefold() == storename.casefold():
                    return store
            after = data.get("next")
            if after is None:
                raise AssertionError(f"no store {storename}")


# True when the element's text takes more than one line: its height is
# over twice its font size (one line is at most 1.5 times it here).
WRAPPED = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return range.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(el).fontSize);
}"""


def broken_apart(page, selector: str) -> list[str]:
    """The texts of the elements matching `selector` that wrap."""
    return [
        cell.text_content()
        for cell in page.locator(selector).all()
        if cell.text_content().strip() and cell.evaluate(WRAPPED)
    ]
