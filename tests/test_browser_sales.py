"""The console's sales page as a merchant reads it: the chart's names are
cut at their end (never at their start) and show whole on hover and on
focus, its text is as readable on a phone as the rest of the page, and the
total is called what it is (the revenue the checkouts credited)."""

from __future__ import annotations

from tests import test_browser
from tests.browser_kit import PHONE_390, as_merchant, customer_with_cart, tcp_store
from tests.test_browser import log_in_console, pages_alone

browser, server, pages = test_browser.browser, test_browser.server, test_browser.pages
# The tests marked pages_alone run in the SQLite run only: what the pages
# do with the server's answers, whose rules are tested on both backends
# below the pages.  One test of each defect fixed here is not marked, and
# runs on both backends too.

LONG = "Extra large celebration cake with raspberries, pistachios and white chocolate"

# The label's box and its text's: where the text starts, whether it is cut
# (wider than its box), and the rendered size of one line of it.
MEASURE = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const text = range.getClientRects()[0];
  const box = el.getBoundingClientRect();
  const chart = el.closest(".chart").getBoundingClientRect();
  return {
    startsInside: text.left >= chart.left - 0.5 && text.left >= box.left - 0.5,
    cut: el.scrollWidth > el.clientWidth + 0.5,
    lineHeight: text.height,
    body: parseFloat(getComputedStyle(document.body).fontSize),
  };
}"""


def sold(server):
    """A store that sold the long-named cake and a short-named tea."""
    from tests.browser_kit import as_customer

    storename, (cake, tea) = tcp_store(
        server, [(LONG, "40.00", 50, "Big."), ("Green tea", "4.00", 50, "Leaf.")]
    )
    buyer = customer_with_cart(server, [(cake, 1), (tea, 2)])
    as_customer(server, buyer, "CLIENT_CHECKOUT_ITEM")
    return storename


def open_sales(pages, storename, viewport=test_browser.DESKTOP):
    console = pages.open("/console.html", viewport)
    log_in_console(console, storename)
    console.goto(console.url.split("#")[0] + "#/sales")
    console.locator(".chart .bar-label").first.wait_for()
    return console


def label(console, productname):
    return console.locator(".chart .bar-label").filter(has_text=productname)


def test_the_sales_chart_cuts_names_at_the_end_and_shows_them_whole(pages, server):
    from playwright.sync_api import expect

    storename = sold(server)
    console = open_sales(pages, storename)
    cake = label(console, LONG[:20])
    measured = cake.evaluate(MEASURE)
    # The name starts where its box does, and is cut at its end.
    assert measured["startsInside"], measured
    assert measured["cut"], measured
    assert cake.text_content() == LONG
    expect(cake).to_have_attribute("title", LONG)
    # Focused (by Tab, as with a keyboard), the whole name shows.
    cake.focus()
    expect(cake).to_be_focused()
    assert not cake.evaluate(MEASURE)["cut"]
    # A short name is not cut.
    assert not label(console, "Green tea").evaluate(MEASURE)["cut"]

    # The total is the revenue, as the server's MERCHANT_GET_PROFIT (what
    # checkouts credited) and the table's sum say; nothing calls it profit.
    revenue = as_merchant(server, storename, "MERCHANT_GET_PROFIT")
    assert revenue == "48.00"
    expect(console.locator("#profit")).to_have_text("$48.00")
    expect(console.locator("#profit-label")).to_have_text("Revenue so far")
    assert "profit" not in console.locator("main").inner_text().lower()


@pages_alone
def test_the_sales_chart_is_readable_on_a_phone(pages, server):
    storename = sold(server)
    console = open_sales(pages, storename, PHONE_390)
    for name in (LONG[:20], "Green tea"):
        measured = label(console, name).evaluate(MEASURE)
        assert measured["startsInside"], measured
        # A line of a name is as tall as the page's body text makes it
        # (a drawing scaled to the phone's width made it half that).
        assert measured["lineHeight"] >= measured["body"], measured
    test_browser.no_sideways_scroll(console)
