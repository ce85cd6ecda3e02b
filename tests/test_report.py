"""The operator report (`cybermarket report`): every figure is checked
against the purchases the test made through the server, worked out here in
Python with Decimal from the test's own list of purchases, and every output
format is parsed back."""

import io
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cybermarket.storage.models import orders
from cybermarket.tools import cli, report
from tests.command import run_here
from tests.databases import sqlite_url
from tests.harness import Market
from tests.seed import (
    MAX_ORDER_CENTS,
    MAX_PRICE,
    MAX_PRICE_CENTS,
    ORDER_YACHTS,
    SEEDED_ORDERS,
    Seeder,
    money_text,
)
from tests.server import run_cli
from tests.shop import add_product, buy

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TITLES = ["sales per day", "sales per store", "top products", "orders waiting to ship", "counts"]
COLUMNS = {
    "sales per day": ["date", "orders", "units", "revenue"],
    "sales per store": ["storename", "orders", "units", "revenue"],
    "top products": ["storename", "product_id", "productname", "units", "revenue"],
    "orders waiting to ship": ["storename", "orders", "revenue"],
    "counts": ["figure", "value"],
}

# The columns of names and dates, aligned to the left; the others hold numbers.
TEXT_COLUMNS = {"date", "storename", "productname", "figure"}

PRICES = {
    ("fruit", "apple"): "1.50",
    ("fruit", "pear"): "0.99",
    ("fruit", "plum"): "2.25",
    ("books", "novel"): "19.99",
    ("books", "atlas"): "45.00",
    ("tools", "hammer"): "12.34",  # never sold
}
CUSTOMERS = ["alice", "bob", "carol", "dave"]  # dave buys nothing
# (customer, when the order was placed in UTC, [(store, product, quantity)])
PURCHASES = [
    (
        "bob",
        datetime(2026, 11, 19, 23, 59, 59, 999999),
        [("fruit", "apple", 4), ("fruit", "pear", 1)],
    ),
    ("alice", datetime(2026, 11, 20, 9, 15), [("books", "novel", 3)]),
    ("alice", datetime(2026, 11, 21, 0, 0), [("fruit", "plum", 2), ("books", "atlas", 1)]),
    ("carol", datetime(2026, 11, 21, 18, 0), [("books", "novel", 1), ("fruit", "apple", 10)]),
    ("bob", datetime(2026, 11, 23, 12, 30), [("fruit", "pear", 3)]),
]
OFF_SHELF = [("fruit", "plum")]


# --- setting up: sales through the server, then spread over days ----------


class Shop:
    """The market after PURCHASES: its URL, product ids and connections."""

    def __init__(self, market):
        self.url = market.url
        self.merchants = {}
        self.ids = {}
        for store, product in PRICES:
            if store not in self.merchants:
                self.merchants[store] = market.merchant(store)
            self.ids[store, product] = add_product(
                self.merchants[store], product, PRICES[store, product], stock=1000
            )
        customers = {name: market.client(name) for name in CUSTOMERS}
        placed = []
        for customer, when, lines in PURCHASES:
            wanted = [(self.ids[store, product], quantity) for store, product, quantity in lines]
            placed.append((buy(customers[customer], *wanted)["order_id"], when))
        backdate(self.url, placed)
        for store, product in OFF_SHELF:
            self.merchants[store].ok("MERCHANT_DEL_PRODUCT", product_id=self.ids[store, product])


def backdate(url, placed):
    """Set the created_at of each (order_id, when)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for order_id, when in placed:
                conn.execute(update(orders).where(orders.c.id == order_id).values(created_at=when))
    finally:
        engine.dispose()


@pytest.fixture
def shop(market):
    return Shop(market)


@pytest.fixture
def sqlite_shop(migrated_sqlite, tmp_path):
    """The same purchases in a SQLite file on either run: for the tests of
    what the report's process does with fonts and languages, which no
    backend changes (each starts a process that draws the chart; the
    report's figures are compared on both backends above)."""
    market = Market(sqlite_url(migrated_sqlite(tmp_path / "shop.sqlite3")))
    yield Shop(market)
    market.close()


# --- what the report must say, from the purchases alone --------------------


def text(amount):
    return f"{amount:.2f}"


def revenue(lines, prices=PRICES):
    return sum((Decimal(prices[s, p]) * q for s, p, q in lines), Decimal(0))


def since(purchases, day):
    start = datetime.combine(day, time())
    return [purchase for purchase in purchases if purchase[1] >= start]


def expected_per_day(purchases):
    days = {}
    for _, when, lines in purchases:
        day = days.setdefault(when.date().isoformat(), [0, 0, Decimal(0)])
        day[0] += 1
        day[1] += sum(quantity for _, _, quantity in lines)
        day[2] += revenue(lines)
    return [[day, str(o), str(u), text(r)] for day, (o, u, r) in sorted(days.items())]


def expected_per_store(purchases):
    stores = {}
    for _, _, lines in purchases:
        for store in {s for s, _, _ in lines}:
            mine = [line for line in lines if line[0] == store]
            figures = stores.setdefault(store, [0, 0, Decimal(0)])
            figures[0] += 1
            figures[1] += sum(quantity for _, _, quantity in mine)
            figures[2] += revenue(mine)
    ranked = sorted(stores.items(), key=lambda item: (-item[1][2], item[0]))
    return [[store, str(o), str(u), text(r)] for store, (o, u, r) in ranked]


def expected_top_products(purchases, ids, prices=PRICES):
    sold = {}
    for _, _, lines in purchases:
        for store, product, quantity in lines:
            figures = sold.setdefault((store, product), [0, Decimal(0)])
            figures[0] += quantity
            figures[1] += Decimal(prices[store, product]) * quantity
    ranked = sorted(sold.items(), key=lambda item: (-item[1][1], ids[item[0]]))[:10]
    return [
        [store, str(ids[store, product]), product, str(units), text(amount)]
        for (store, product), (units, amount) in ranked
    ]


def expected_waiting(purchases):
    """Every part placed (none shipped or cancelled): per store, most
    orders first."""
    stores = {}
    for _, _, lines in purchases:
        for store in {s for s, _, _ in lines}:
            figures = stores.setdefault(store, [0, Decimal(0)])
            figures[0] += 1
            figures[1] += revenue([line for line in lines if line[0] == store])
    ranked = sorted(stores.items(), key=lambda item: (-item[1][0], item[0]))
    return [[store, str(o), text(r)] for store, (o, r) in ranked]


def expected_counts(purchases):
    return [
        ["customers", str(len(CUSTOMERS))],
        ["merchants", str(len({store for store, _ in PRICES}))],
        ["products on shelf", str(len(PRICES) - len(OFF_SHELF))],
        ["orders", str(len(purchases))],
        ["revenue", text(sum((revenue(lines) for _, _, lines in purchases), Decimal(0)))],
    ]


def expected_tables(purchases, ids):
    return {
        "sales per day": expected_per_day(purchases),
        "sales per store": expected_per_store(purchases),
        "top products": expected_top_products(purchases, ids),
        "orders waiting to ship": expected_waiting(purchases),
        "counts": expected_counts(purchases),
    }


# --- reading the outputs back -----------------------------------------------


def rendered(url, fmt, since_day=None):
    return report.render(report.build(url, since_day), fmt)


def csv_tables(output):
    """{title: DataFrame of strings}, each section read by pandas."""
    tables = {}
    for section in output.strip("\n").split("\n\n"):
        title, _, body = section.partition("\n")
        assert title.startswith("# "), section
        tables[title[2:]] = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    return tables


def csv_rows(output):
    """{title: rows}, after checking each section's header."""
    tables = csv_tables(output)
    assert list(tables) == TITLES
    for title, frame in tables.items():
        assert list(frame.columns) == COLUMNS[title], title
    return {title: frame.values.tolist() for title, frame in tables.items()}


def text_sections(output):
    """{title: [lines of the table]} from the text format."""
    first, *sections = output.split("\n\n")
    sections = [section.splitlines() for section in sections]
    return first, {lines[0]: lines for lines in sections}


def markdown_tables(output):
    """{title: [[cells] for each table line]} from the markdown format."""
    tables = {}
    for section in output.split("\n## ")[1:]:
        title, _, body = section.partition("\n\n")
        lines = body.strip("\n").splitlines()
        assert all(
            line.startswith("| ") or line.startswith("|-") or line.startswith("|:")
            for line in lines
        ), body
        assert all(line.endswith("|") for line in lines), body
        # Cells end at a bar that is not escaped; a cell's own bar is "\|".
        tables[title] = [
            [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines
        ]
    return tables


def png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# --- the figures -------------------------------------------------------------


def test_sales_per_day_match_the_purchases(shop):
    rows = csv_rows(rendered(shop.url, "csv"))["sales per day"]
    assert rows == expected_per_day(PURCHASES)
    # 3 x 19.99, alone on its day; the day without orders has no row.
    assert ["2026-11-20", "1", "3", "59.97"] in rows
    assert [row[0] for row in rows] == ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-23"]


def test_sales_per_store_match_the_purchases(shop):
    rows = csv_rows(rendered(shop.url, "csv"))["sales per store"]
    assert rows == expected_per_store(PURCHASES)
    # books: 4 x 19.99 + 45.00; fruit: 14 x 1.50 + 4 x 0.99 + 2 x 2.25; no tools.
    assert rows == [["books", "3", "5", "124.96"], ["fruit", "4", "20", "29.46"]]


def test_top_products_rank_by_revenue(shop):
    rows = csv_rows(rendered(shop.url, "csv"))["top products"]
    assert rows == expected_top_products(PURCHASES, shop.ids)
    assert [row[2] for row in rows] == ["novel", "atlas", "apple", "plum", "pear"]
    assert rows[0] == ["books", str(shop.ids["books", "novel"]), "novel", "4", "79.96"]


def test_top_products_keep_the_ten_best(market):
    merchant = market.merchant("many")
    customer = market.client("buyer")
    # Ascending prices, so ids rise with price; the cheapest sells most.
    prices = {
        ("many", f"p{i:02d}"): price
        for i, price in enumerate(
            ["1.00", "3.00", "4.00", "4.00"] + [f"{n}.00" for n in range(5, 13)]
        )
    }
    ids = {key: add_product(merchant, key[1], price, stock=100) for key, price in prices.items()}
    quantities = {key: 20 if key[1] == "p00" else 1 for key in prices}
    buy(customer, *[(ids[key], quantity) for key, quantity in quantities.items()])
    purchases = [("buyer", None, [(s, p, q) for (s, p), q in quantities.items()])]

    rows = csv_rows(rendered(market.url, "csv"))["top products"]

    assert rows == expected_top_products(purchases, ids, prices)
    assert len(rows) == 10
    assert rows[0][2:] == ["p00", "20", "20.00"]  # first by revenue, not by price
    # Of the two at 4.00, the lower product_id makes the cut.
    assert rows[-1][1:] == [str(ids["many", "p02"]), "p02", "1", "4.00"]
    assert str(ids["many", "p03"]) not in [row[1] for row in rows]


def test_cancelled_parts_are_not_sales_and_shipped_ones_wait_no_more(market, shop):
    # Carol's order (novel x 1, apple x 10) and Bob's first (fruit only):
    # Carol cancels hers, fruit ships Bob's.
    carol = market.peer()
    carol.ok("CLIENT_LOGIN", login="carol", password="client-pass")
    (carols,) = [r[0] for r in carol.ok("CLIENT_LIST_ORDERS")["rows"]]
    carol.ok("CLIENT_CANCEL_ORDER", order_id=carols)
    bob = market.peer()
    bob.ok("CLIENT_LOGIN", login="bob", password="client-pass")
    bobs = sorted(r[0] for r in bob.ok("CLIENT_LIST_ORDERS")["rows"])
    shop.merchants["fruit"].ok("MERCHANT_SHIP_ORDER", order_id=bobs[0])
    kept = [p for p in PURCHASES if p[0] != "carol"]
    tables = csv_rows(rendered(shop.url, "csv"))
    assert tables["sales per store"] == expected_per_store(kept)
    assert tables["counts"][-2:] == expected_counts(kept)[-2:]
    # Waiting: every part of the orders kept but Bob's first (shipped).
    assert tables["orders waiting to ship"] == expected_waiting(
        [p for p in kept if p is not PURCHASES[0]]
    )
    # A store's sales are its profit.
    for store, _orders, _units, amount in tables["sales per store"]:
        assert shop.merchants[store].ok("MERCHANT_GET_PROFIT") == amount


def test_counts_match_the_market(shop):
    rows = csv_rows(rendered(shop.url, "csv"))["counts"]
    assert rows == expected_counts(PURCHASES)
    assert rows == [
        ["customers", "4"],
        ["merchants", "3"],
        ["products on shelf", "5"],
        ["orders", "5"],
        ["revenue", "154.42"],
    ]


@pytest.mark.parametrize("day", [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 24)])
def test_since_keeps_orders_from_that_day_on(shop, day):
    tables = csv_rows(rendered(shop.url, "csv", day))
    kept = since(PURCHASES, day)
    # The orders waiting to ship are every part placed now, whatever `since`.
    assert tables == {
        **expected_tables(kept, shop.ids),
        "orders waiting to ship": expected_waiting(PURCHASES),
    }
    assert all(row[0] >= day.isoformat() for row in tables["sales per day"])
    assert ["orders", str(len(kept))] in tables["counts"]


def test_since_counts_an_order_at_midnight_on_its_day(shop):
    # 2026-11-21 00:00:00 is kept, 2026-11-20 09:15 is not.
    rows = csv_rows(rendered(shop.url, "csv", date(2026, 11, 21)))["sales per day"]
    assert rows[0] == ["2026-11-21", "2", "14", "84.49"]


def test_renames_and_price_changes_leave_past_sales_alone(shop):
    books = shop.merchants["books"]
    books.ok("SET_MERCHANT_STORENAME", storename="bookshop")
    books.ok("SET_PRODUCT", product_id=shop.ids["books", "novel"], productname="novel, 2nd ed.")
    books.ok("SET_PRODUCT", product_id=shop.ids["books", "novel"], price="25.00")

    tables = csv_rows(rendered(shop.url, "csv"))

    assert tables["sales per store"][0] == ["bookshop", "3", "5", "124.96"]
    assert tables["top products"][0][0] == "bookshop"
    assert tables["top products"][0][2:] == ["novel, 2nd ed.", "4", "79.96"]
    assert tables["sales per day"] == expected_per_day(PURCHASES)


def test_money_stays_exact_beyond_float_precision(market):
    merchant = market.merchant("dear")
    big = add_product(merchant, "yacht", "99999999.99", stock=1_000_000)
    small = add_product(merchant, "sticker", "0.01", stock=1)
    buy(market.client("rich"), (big, 1_000_000), (small, 1))
    cents = 9_999_999_999 * 1_000_000 + 1
    assert int(float(cents)) != cents  # a float sum would be off by a cent

    tables = csv_rows(rendered(market.url, "csv"))

    assert tables["sales per day"][0][1:] == ["1", "1000001", "99999999990000.01"]
    assert tables["sales per store"] == [["dear", "1", "1000001", "99999999990000.01"]]
    assert tables["top products"][0][2:] == ["yacht", "1000000", "99999999990000.00"]
    assert tables["top products"][1][2:] == ["sticker", "1", "0.01"]
    assert ["revenue", "99999999990000.01"] in tables["counts"]


def test_revenue_beyond_64_bit_cents_is_refused():
    lines = pd.DataFrame({"price_cents": [2**62, 1], "quantity": [1, 2**62]}, dtype="int64")
    with pytest.raises(report.ReportError, match="64-bit"):
        report.line_revenue(lines)


def test_stores_at_the_profit_limit_report_exactly_or_refuse(market, capsys):
    """Each store may hold up to 2^63 - 1 cents, so a market's revenue can
    pass what int64 columns hold: the report is exact up to there, and
    refuses past it rather than wrap."""
    seeder = Seeder(market.url)
    try:
        market.client("rich")
        for storename in ("dock", "marina"):
            yacht = add_product(market.merchant(storename), "yacht", MAX_PRICE, stock=1)
            seeder.sales(
                storename, "rich", yacht, "yacht", MAX_PRICE_CENTS, ORDER_YACHTS, SEEDED_ORDERS
            )
            if storename == "dock":
                store_cents = SEEDED_ORDERS * MAX_ORDER_CENTS
                tables = csv_rows(rendered(market.url, "csv"))
                assert tables["sales per store"] == [
                    ["dock", str(SEEDED_ORDERS), "920000000", money_text(store_cents)]
                ]
                assert ["revenue", money_text(store_cents)] in tables["counts"]
    finally:
        seeder.close()

    assert cli.main(["report", "--database", market.url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "64-bit" in captured.err


# --- the formats ---------------------------------------------------------------


def test_csv_has_one_titled_section_per_table(shop):
    output = rendered(shop.url, "csv")
    assert re.findall(r"^# (.*)$", output, re.M) == TITLES
    assert csv_rows(output) == expected_tables(PURCHASES, shop.ids)


def test_text_tables_are_titled_and_aligned(shop):
    first, sections = text_sections(rendered(shop.url, "text"))
    assert first == "cybermarket report, all orders"
    assert list(sections) == TITLES
    expected = expected_tables(PURCHASES, shop.ids)
    for title, lines in sections.items():
        underline, header, *rows = lines[1:]
        assert underline == "=" * len(title)
        assert re.split(r"\s{2,}", header) == COLUMNS[title]
        assert [re.split(r"\s{2,}", row) for row in rows] == expected[title]
        # The last column is a number, right-aligned: every line ends at the same place.
        assert len({len(line) for line in [header, *rows]}) == 1, lines


def test_text_lines_up_wide_names(market):
    """Store and product names in wide (East Asian) characters take two
    terminal columns each: the numbers after them still line up."""
    from wcwidth import wcswidth

    grocer = market.merchant("八百屋")
    buy(
        market.client("alice"),
        (add_product(grocer, "りんご", "2.00"), 3),
        (add_product(market.merchant("shop"), "tea", "10.00"), 1),
    )
    _, sections = text_sections(rendered(market.url, "text"))
    for title in ("sales per store", "top products"):
        header, *rows = sections[title][2:]
        assert any("八百屋" in row for row in rows)
        # The last column is a number, right-aligned: every line ends at the
        # same terminal column.
        assert len({wcswidth(line) for line in [header, *rows]}) == 1, sections[title]
        # And the units end under their header, after a wide name too.
        units_end = wcswidth(header[: header.index("units") + len("units")])
        for row in rows:
            units, revenue = re.split(r"\s{2,}", row)[-2:]
            at = row.rindex(units, 0, row.rindex(revenue))
            assert wcswidth(row[: at + len(units)]) == units_end, sections[title]


def test_text_names_the_period(shop):
    first, _ = text_sections(rendered(shop.url, "text", date(2026, 11, 21)))
    assert first == "cybermarket report, orders since 2026-11-21 (UTC)"


def test_markdown_tables_parse(shop):
    output = rendered(shop.url, "markdown")
    assert output.startswith("# cybermarket report\n")
    tables = markdown_tables(output)
    assert list(tables) == TITLES
    expected = expected_tables(PURCHASES, shop.ids)
    for title, (header, rule, *rows) in tables.items():
        assert header == COLUMNS[title]
        # Names and dates to the left, numbers to the right.
        assert [re.fullmatch(r":-{3,}|-{3,}:", cell) is not None for cell in rule] == [True] * len(
            rule
        )
        assert [cell.endswith(":") for cell in rule] == [
            name not in TEXT_COLUMNS for name in COLUMNS[title]
        ]
        assert rows == expected[title]


def test_markdown_escapes_a_bar_in_a_name(market):
    merchant = market.merchant("odds | ends")
    buy(market.client("alice"), (add_product(merchant, "cup", "2.00"), 1))
    tables = markdown_tables(rendered(market.url, "markdown"))
    assert tables["sales per store"][2] == ["odds \\| ends", "1", "1", "2.00"]


# --- the chart ------------------------------------------------------------------


def test_plot_writes_a_png_of_daily_revenue(shop, tmp_path, capsys):
    chart = tmp_path / "revenue.png"
    assert cli.main(["report", "--database", shop.url, "--plot", str(chart)]) == 0
    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (800, 400)
    assert 5_000 < len(data) < 1_000_000
    assert capsys.readouterr().out.startswith("cybermarket report, all orders\n")


# --- the command ------------------------------------------------------------------


def test_command_prints_the_report(shop, tmp_path):
    chart = tmp_path / "chart.png"
    result = run_cli("report", "--database", shop.url, "--plot", chart, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == rendered(shop.url, "text")
    _, sections = text_sections(result.stdout)
    counts = [re.split(r"\s{2,}", row) for row in sections["counts"][3:]]
    assert counts == expected_counts(PURCHASES)
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_command_takes_format_and_since(shop, capsys, fmt):
    args = ["report", "--database", shop.url, "--format", fmt, "--since", "2026-11-21"]
    assert cli.main(args) == 0
    assert capsys.readouterr().out == rendered(shop.url, fmt, date(2026, 11, 21))


@pytest.mark.parametrize("value", ["2026-13-01", "2026-1-5", "yesterday", "2026-11-21T00:00"])
def test_command_refuses_a_bad_since(migrated_url, capsys, value):
    assert cli.main(["report", "--database", migrated_url, "--since", value]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--since" in captured.err and value in captured.err


def test_command_refuses_a_database_without_the_schema(database_url, capsys):
    assert cli.main(["report", "--database", database_url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cybermarket report: ")
    if database_url.startswith("sqlite"):
        assert "no database file" in captured.err
        assert not Path(make_url(database_url).database).exists()  # not created either
    else:
        assert "schema" in captured.err


# --- an empty market ---------------------------------------------------------------


def test_empty_database_gives_zero_counts_and_empty_tables(migrated_url, tmp_path):
    empty = report.build(migrated_url)
    assert empty.counts == {
        "customers": 0,
        "merchants": 0,
        "products_on_shelf": 0,
        "orders": 0,
        "revenue_cents": 0,
    }
    assert empty.per_day.empty and empty.per_store.empty and empty.top_products.empty

    tables = csv_rows(report.render(empty, "csv"))
    assert tables["counts"] == [
        ["customers", "0"],
        ["merchants", "0"],
        ["products on shelf", "0"],
        ["orders", "0"],
        ["revenue", "0.00"],
    ]
    assert all(tables[title] == [] for title in TITLES[:3])

    _, sections = text_sections(report.render(empty, "text"))
    assert all(sections[title][3:] == ["(none)"] for title in TITLES[:3])
    markdown = markdown_tables(report.render(empty, "markdown"))
    assert all(len(markdown[title]) == 2 for title in TITLES[:3])  # header and rule only

    chart = tmp_path / "empty.png"
    report.plot(empty, chart)
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_command_refuses_a_chart_in_a_missing_folder(migrated_url, tmp_path):
    chart = tmp_path / "no" / "such" / "chart.png"
    result = run_here("report", "--database", migrated_url, "--plot", chart, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""  # refused before any of the report is printed
    assert result.stderr == f"cybermarket report: --plot: no folder {chart.parent}\n"
    assert not chart.parent.exists()


def test_command_reports_a_chart_that_cannot_be_written(migrated_url, tmp_path):
    chart = tmp_path / "taken"
    chart.mkdir()  # a folder where the file should go
    result = run_here("report", "--database", migrated_url, "--plot", chart, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"cybermarket report: cannot write {chart}: ")


# --- in the user's language ---------------------------------------------------------


def run_in_language(environ, *args, cwd):
    """`cybermarket ARGS` with the environment's locale variables set."""
    import subprocess

    from tests.server import BIN, child_env

    env = child_env()
    env.update(environ)
    return subprocess.run(
        [str(BIN / "cybermarket"), *map(str, args)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


def here_in_language(environ, *args, cwd):
    """As run_in_language, in this process (tests.command): for what does
    not depend on a new process (its warnings on stderr, its matplotlib)."""
    return run_here(*args, cwd=cwd, environ=environ)


def columns(line):
    """A text table's line split into its cells (two spaces or more apart;
    a no-break space inside a number does not split it)."""
    return re.split(r" {2,}", line.strip())


NBSP = "\xa0"


def test_the_report_in_russian_has_russian_words_and_numbers(market, tmp_path):
    """LANG=ru_RU.UTF-8: the titles, headings and figures' names in
    Russian; days as Russians write them; counts grouped and money with a
    decimal comma, grouped with a no-break space, exact to the cent; the
    names of stores and products as they are.  The chart is drawn too,
    without a complaint on stderr (Cyrillic is in matplotlib's own font)."""
    merchant = market.merchant("dacha")
    boat = add_product(merchant, "лодка", "12345.67", stock=100)
    seeds = add_product(merchant, "seeds", "0.01", stock=10_000)
    order = buy(market.client("ivan"), (boat, 3), (seeds, 1234))["order_id"]
    backdate(market.url, [(order, datetime(2026, 11, 20, 12, 0))])
    chart = tmp_path / "chart.png"

    result = run_in_language(
        {"LANG": "ru_RU.UTF-8"}, "report", "--database", market.url, "--plot", chart, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first, sections = text_sections(result.stdout)
    assert first == "Отчёт cybermarket, все заказы"
    assert list(sections) == [
        "продажи по дням",
        "продажи по магазинам",
        "лидеры продаж",
        "заказы к отправке",
        "итоги",
    ]
    waiting = sections["заказы к отправке"]
    assert columns(waiting[2]) == ["магазин", "заказы", "выручка"]
    assert columns(waiting[3]) == ["dacha", "1", f"37{NBSP}049,35"]
    per_day = sections["продажи по дням"]
    assert per_day[1] == "=" * len(per_day[0])
    assert columns(per_day[2]) == ["дата", "заказы", "продано, шт.", "выручка"]
    # 3 × 12 345,67 + 1 234 × 0,01 = 37 049,35
    assert columns(per_day[3]) == ["20.11.2026", "1", f"1{NBSP}237", f"37{NBSP}049,35"]
    per_store = sections["продажи по магазинам"]
    assert columns(per_store[2]) == ["магазин", "заказы", "продано, шт.", "выручка"]
    assert columns(per_store[3]) == ["dacha", "1", f"1{NBSP}237", f"37{NBSP}049,35"]
    top = sections["лидеры продаж"]
    assert columns(top[2]) == ["магазин", "код товара", "товар", "продано, шт.", "выручка"]
    assert columns(top[3]) == ["dacha", str(boat), "лодка", "3", f"37{NBSP}037,01"]
    assert columns(top[4]) == ["dacha", str(seeds), "seeds", f"1{NBSP}234", "12,34"]
    counts = [columns(line) for line in sections["итоги"][2:]]
    assert counts == [
        ["показатель", "значение"],
        ["покупатели", "1"],
        ["продавцы", "1"],
        ["товары в продаже", "2"],
        ["заказы", "1"],
        ["выручка", f"37{NBSP}049,35"],
    ]
    assert chart.read_bytes().startswith(PNG_SIGNATURE)

    # The same report through --language, whatever the locale says.
    again = here_in_language(
        {"LANG": "C.UTF-8"}, "report", "--language", "ru", "--database", market.url, cwd=tmp_path
    )
    assert again.stdout == result.stdout


def test_report_errors_follow_the_language(migrated_url, tmp_path):
    bad_since = here_in_language(
        {"LANG": "ru_RU.UTF-8"},
        "report",
        "--database",
        migrated_url,
        "--since",
        "вчера",
        cwd=tmp_path,
    )
    assert bad_since.returncode == 2
    assert bad_since.stderr == "cybermarket report: --since: это не дата (ГГГГ-ММ-ДД): 'вчера'\n"
    folder = tmp_path / "нет"
    no_folder = here_in_language(
        {"LANG": "zh_CN.UTF-8"},
        "report",
        "--database",
        migrated_url,
        "--plot",
        folder / "chart.png",
        cwd=tmp_path,
    )
    assert no_folder.stderr == f"cybermarket report: --plot: 文件夹 {folder} 不存在\n"
    missing = tmp_path / "missing.sqlite3"
    no_file = here_in_language(
        {"LANG": "ru_RU.UTF-8"}, "report", "--database", f"sqlite:///{missing}", cwd=tmp_path
    )
    assert no_file.returncode == 1
    assert no_file.stderr.startswith(f"cybermarket report: нет файла базы данных {missing}; ")
    assert "`cybermarket db upgrade --database sqlite:///" in no_file.stderr


def test_the_chart_speaks_the_language(shop, tmp_path):
    """The chart's title and axis label in Chinese, drawn with a font that
    has the glyphs when one is installed (else matplotlib warns)."""
    import warnings

    from cybermarket.tools import words

    built = report.build(shop.url)
    chart = tmp_path / "chart.png"
    words.use("zh-CN")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report.plot(built, chart)
        fonts = report.chart_fonts(chinese=True)
    finally:
        words.use("en")
    assert chart.read_bytes().startswith(PNG_SIGNATURE)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    if len(fonts) > 1:  # a CJK font is installed
        assert missing == []
    else:
        assert missing  # what the operator sees without one


# --- whatever fonts the machine has --------------------------------------------------
#
# matplotlib warns ("findfont: Failed to find font weight normal for WenQuanYi
# Zen Hei, now using 500.") when a font of the chart's list has no face of the
# weight asked for: many CJK fonts ship one face.  These tests give the report
# a font setup of their own, a matplotlib font cache in MPLCONFIGDIR, so what
# they check does not depend on the fonts this machine happens to have.


def one_face_cjk_font(name="WenQuanYi Zen Hei", weight=500):
    """A CJK font as matplotlib lists one that ships a single face of
    `weight`; its file is DejaVu Sans (matplotlib's own), as the glyphs do
    not matter here, only the name and the weight."""
    from matplotlib import font_manager

    return font_manager.FontEntry(
        fname=font_manager.findfont("DejaVu Sans"),
        name=name,
        style="normal",
        variant="normal",
        weight=weight,
        stretch="normal",
        size="scalable",
    )


def font_manager_with(*extra):
    """A matplotlib font manager that knows matplotlib's own DejaVu fonts and
    `extra`, and nothing of the machine's."""
    import copy

    from matplotlib import font_manager

    manager = copy.copy(font_manager.fontManager)
    manager.ttflist = [
        font for font in font_manager.fontManager.ttflist if font.name.startswith("DejaVu")
    ] + list(extra)
    manager.afmlist = []
    return manager


def font_setup(folder, *extra):
    """MPLCONFIGDIR for a child process whose matplotlib knows only the
    fonts of font_manager_with(*extra)."""
    from matplotlib import font_manager

    folder.mkdir()
    cache = folder / f"fontlist-v{font_manager.FontManager.__version__}.json"
    font_manager.json_dump(font_manager_with(*extra), cache)
    return {"MPLCONFIGDIR": str(folder)}


FONT_SETUPS = {"a one-face CJK font": (one_face_cjk_font(),), "no CJK font": ()}


@pytest.mark.parametrize("setup", FONT_SETUPS)
@pytest.mark.parametrize("lang", ["C.UTF-8", "ru_RU.UTF-8"])
def test_the_report_and_its_chart_say_nothing_of_fonts(sqlite_shop, tmp_path, setup, lang):
    """The report prints the report and nothing else, whatever fonts there
    are: every font of the chart's list is looked up, in every language.
    (Chinese is not drawn here: the stand-in CJK font has no Chinese glyphs,
    and with none at all the report adds the machine's own CJK fonts.)"""
    environ = {"LANG": lang, **font_setup(tmp_path / "mpl", *FONT_SETUPS[setup])}
    chart = tmp_path / "chart.png"
    result = run_in_language(
        environ, "report", "--database", sqlite_shop.url, "--plot", chart, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


def test_the_chart_prefers_a_cjk_font_with_a_normal_face():
    """Of two installed CJK fonts, the one with a face of normal weight
    comes first (whatever CJK_FONTS's order), so matplotlib draws in it."""
    one_face = one_face_cjk_font("WenQuanYi Zen Hei", 500)
    normal = one_face_cjk_font("Noto Sans CJK JP", 400)
    manager = font_manager_with(one_face, normal)
    assert report.chart_fonts(manager=manager) == [
        "DejaVu Sans",
        "Noto Sans CJK JP",
        "WenQuanYi Zen Hei",
    ]
    assert report.chart_fonts(manager=font_manager_with(one_face)) == [
        "DejaVu Sans",
        "WenQuanYi Zen Hei",
    ]
    assert report.chart_fonts(manager=font_manager_with()) == ["DejaVu Sans"]
