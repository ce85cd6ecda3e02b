"""Operator reports: sales per day, sales per store, top products and
counts, read from the database by cybermarket/storage/reports.py (where
the statements live) and computed here with pandas.

Money stays whole cents in int64 columns from the database to the last
step, and only then becomes a string with two fraction digits, by integer
arithmetic (never through a float).  Only the chart, which needs numbers
for its axis, divides cents into floats.

Days are UTC days (orders.created_at is naive UTC).  `since` keeps the
orders from the start of that day on; it applies to the sales tables and
to the orders and revenue counts, while customers, merchants and products
on shelf are counted as they are now.  Stores and products are named as
they are now: sales made under an earlier name count under the current one.

Sales count only the parts of orders that are not cancelled (protocol 1.2):
what the stores' profits count.  The orders waiting to ship are each
store's parts that are placed now, whatever `since` says: they are work
to do, not sales of a period.
"""

import logging
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import OperationalError

from cybermarket import values
from cybermarket.errors import Explained
from cybermarket.i18n import N_
from cybermarket.storage import database, reports
from cybermarket.tools import tables, words
from cybermarket.tools.words import _

TOP = 10  # products in "top products"
INT64_MAX = 2**63 - 1

# The columns of the order lines read from the database (storage.reports.Line)
# and those of them that are integers.
LINE_COLUMNS = ["order_id", "date", "merchant_id", "product_id", "quantity", "price_cents"]
INT_COLUMNS = ("order_id", "merchant_id", "product_id", "quantity", "price_cents")

# Columns printed left-aligned in text; every other column is a number.
TEXT_COLUMNS = {"date", "storename", "productname", "figure"}

# The columns' headings in text and Markdown (CSV keeps the names above,
# for the programs that read it).
HEADINGS = {
    "date": N_("date"),
    "orders": N_("orders"),
    "units": N_("units"),
    "revenue": N_("revenue"),
    "storename": N_("storename"),
    "product_id": N_("product_id"),
    "productname": N_("productname"),
    "figure": N_("figure"),
    "value": N_("value"),
}


class ReportError(Explained):
    """The report cannot be made; the message says why."""


@dataclass
class Report:
    since: date | None
    per_day: pd.DataFrame  # date, orders, units, revenue_cents
    per_store: pd.DataFrame  # storename, orders, units, revenue_cents
    top_products: pd.DataFrame  # storename, product_id, productname, units, revenue_cents
    waiting: pd.DataFrame  # storename, orders, revenue_cents: parts placed, not shipped
    counts: dict  # customers, merchants, products_on_shelf, orders, revenue_cents

    def tables(self, local=False):
        """(title, DataFrame of strings) for each table, money as 0.00; with
        `local`, titles, figures, numbers and days in the command's language
        (words), for a person to read."""
        say = _ if local else str
        integer = words.integer if local else str
        counts = pd.DataFrame(
            [
                (say(N_("customers")), integer(self.counts["customers"])),
                (say(N_("merchants")), integer(self.counts["merchants"])),
                (say(N_("products on shelf")), integer(self.counts["products_on_shelf"])),
                (say(N_("orders")), integer(self.counts["orders"])),
                (say(N_("revenue")), money(self.counts["revenue_cents"], local)),
            ],
            columns=["figure", "value"],
        )
        return [
            (say(N_("sales per day")), printable(self.per_day, local)),
            (say(N_("sales per store")), printable(self.per_store, local)),
            (say(N_("top products")), printable(self.top_products, local)),
            (say(N_("orders waiting to ship")), printable(self.waiting, local)),
            (say(N_("counts")), counts),
        ]


# --- reading and computing ------------------------------------------------


class NotADate(Explained, ValueError):
    """A --since value that is not a day as YYYY-MM-DD."""


def parse_date(text):
    """A --since value: YYYY-MM-DD."""
    try:
        if not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise NotADate(N_("not a date (YYYY-MM-DD): {text!r}"), text=text) from None


def build(url, since=None):
    """The report on the database at `url`, for orders from `since` on,
    read in one snapshot without writing (a backup stays a backup)."""
    with reports.snapshot(url) as conn:
        return compute(conn, since)


def compute(conn, since):
    lines = read_lines(conn, since)
    stores = reports.storenames(conn)
    return Report(
        since=since,
        per_day=sales_per_day(lines),
        per_store=sales_per_store(lines, stores),
        top_products=top_products(lines, stores, conn),
        waiting=waiting_to_ship(conn, stores),
        counts=count(conn, lines, stores),
    )


def read_lines(conn, since):
    """Every order line (of orders from `since` on) of a part that is not
    cancelled, with its order's id and UTC date and its revenue in cents."""
    lines = pd.DataFrame(reports.sold_lines(conn, since), columns=LINE_COLUMNS)
    lines = lines.astype({"date": "str", **{name: "int64" for name in INT_COLUMNS}})
    lines["revenue_cents"] = line_revenue(lines)
    return lines


def line_revenue(lines):
    """quantity * price_cents per line, refusing sums that int64 cannot hold
    exactly: prices and quantities are positive, so when the exact total
    fits, every product and every partial sum fits too."""
    exact = sum(
        price * quantity
        for price, quantity in zip(
            lines["price_cents"].tolist(), lines["quantity"].tolist(), strict=True
        )
    )
    if exact > INT64_MAX:
        raise ReportError(N_("revenue too large for 64-bit cents"))
    return lines["quantity"] * lines["price_cents"]


def totals(lines, key):
    """orders, units and revenue_cents per value of `key`."""
    return lines.groupby(key, as_index=False).agg(
        orders=("order_id", "nunique"),
        units=("quantity", "sum"),
        revenue_cents=("revenue_cents", "sum"),
    )


def sales_per_day(lines):
    """One row per day with orders, oldest first."""
    per_day = totals(lines, "date").sort_values("date")
    return per_day[["date", "orders", "units", "revenue_cents"]].reset_index(drop=True)


def sales_per_store(lines, stores):
    """One row per store that sold, highest revenue first (storename breaks ties)."""
    per_store = totals(lines, "merchant_id")
    per_store["storename"] = per_store["merchant_id"].map(stores).astype(object)
    per_store = per_store.sort_values(["revenue_cents", "storename"], ascending=[False, True])
    return per_store[["storename", "orders", "units", "revenue_cents"]].reset_index(drop=True)


def top_products(lines, stores, conn):
    """The TOP products by revenue (product_id breaks ties)."""
    sold = lines.groupby("product_id", as_index=False).agg(
        merchant_id=("merchant_id", "first"),
        units=("quantity", "sum"),
        revenue_cents=("revenue_cents", "sum"),
    )
    sold = sold.sort_values(["revenue_cents", "product_id"], ascending=[False, True]).head(TOP)
    names = reports.productnames(conn, [int(pid) for pid in sold["product_id"]])
    sold["storename"] = sold["merchant_id"].map(stores).astype(object)
    sold["productname"] = sold["product_id"].map(names).astype(object)
    columns = ["storename", "product_id", "productname", "units", "revenue_cents"]
    return sold[columns].reset_index(drop=True)


def waiting_to_ship(conn, stores):
    """One row per store with parts placed and not yet shipped: how many,
    and their total; most orders first (storename breaks ties)."""
    rows = [(stores[m], n, cents) for m, n, cents in reports.waiting_to_ship(conn)]
    rows.sort(key=lambda row: (-row[1], row[0]))
    return pd.DataFrame(rows, columns=["storename", "orders", "revenue_cents"])


def count(conn, lines, stores):
    return {
        "customers": reports.customers(conn),
        "merchants": len(stores),  # every store, read in the same snapshot
        "products_on_shelf": reports.products_on_shelf(conn),
        "orders": int(lines["order_id"].nunique()),
        "revenue_cents": int(lines["revenue_cents"].sum()),
    }


# --- output -----------------------------------------------------------------


def money(cents, local=False):
    """Whole cents as a decimal string with two fraction digits (with
    `local`, grouped and with the language's decimal sign), exactly."""
    amount = values.from_cents(int(cents))
    return words.money(amount) if local else values.money(amount)


def printable(frame, local=False):
    """A table's cells as strings; revenue_cents becomes revenue, in 0.00.
    With `local`, counts and days as the command's language writes them."""
    cells = {}
    for name in frame.columns:
        if name == "revenue_cents":
            cells["revenue"] = [money(value, local) for value in frame[name]]
        elif local and name == "date":
            cells[name] = [words.day(date.fromisoformat(value)) for value in frame[name]]
        elif local and name in ("orders", "units"):
            cells[name] = [words.integer(int(value)) for value in frame[name]]
        else:
            cells[name] = [str(value) for value in frame[name]]
    return pd.DataFrame(cells, columns=list(cells), dtype=object)


def heading(report):
    if report.since is None:
        return _("all orders")
    return _("orders since {day} (UTC)").format(day=words.day(report.since, "long"))


def render(report, fmt="text"):
    renderers = {"text": render_text, "csv": render_csv, "markdown": render_markdown}
    return renderers[fmt](report)


def render_text(report):
    parts = [_("cybermarket report, {heading}").format(heading=heading(report)) + "\n"]
    for title, frame in report.tables(local=True):
        parts.append(f"\n{title}\n{'=' * len(title)}\n{text_table(frame)}")
    return "".join(parts)


def numbers(frame):
    """The indexes of a table's number columns, aligned to the right."""
    return {i for i, name in enumerate(frame.columns) if name not in TEXT_COLUMNS}


def headings(frame):
    """The headings of a table's columns in the command's language."""
    return [_(HEADINGS.get(name, name)) for name in frame.columns]


def text_table(frame):
    """A header line and one line per row (no rule: the title is
    underlined), or the header and (none)."""
    rows = frame.values.tolist()
    text = tables.text_table(headings(frame), rows, numbers(frame), rule=False)
    return text + "\n" + ("" if rows else _("(none)") + "\n")


def render_csv(report):
    """One section per table: a line `# TITLE`, the table as CSV with its
    header line, and a blank line."""
    parts = []
    for title, frame in report.tables():
        parts.append(f"# {title}\n{frame.to_csv(index=False, lineterminator=chr(10))}\n")
    return "".join(parts)


def render_markdown(report):
    title = _("cybermarket report")
    covers = _("Covers {heading}.").format(heading=heading(report))
    parts = [f"# {title}\n\n{covers}\n"]
    for title, frame in report.tables(local=True):
        parts.append(f"\n## {title}\n\n{markdown_table(frame)}")
    return "".join(parts)


def markdown_table(frame):
    rows = frame.values.tolist()
    return tables.markdown_table(headings(frame), rows, numbers(frame)) + "\n"


# Fonts for the chart's words: matplotlib's own DejaVu Sans has Latin and
# Cyrillic; Chinese comes from the first of these that is installed (each
# glyph from the first font of the list that has it).  The Noto CJK
# collections are known to matplotlib by their first face, the Japanese one,
# which has the same ideographs.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Noto Serif CJK JP",
)
# Files of such fonts, by name, for a font cache older than their install.
CJK_FILES = ("cjk", "wqy", "droidsansfallback", "sourcehan")
# The chart's text is drawn at matplotlib's normal weight.
NORMAL_WEIGHT = 400


def chart_fonts(chinese=False, manager=None):
    """DejaVu Sans, then the installed fonts of CJK_FONTS (naming one that
    is not installed would make matplotlib warn on every chart), those with
    a face of normal weight first.  For a chart in Chinese, when
    matplotlib's font cache (made once, when it was first used) knows none
    of them, the system's CJK font files are added to it for this process.
    `manager`: matplotlib's font manager (the process's own by default)."""
    from matplotlib import font_manager

    manager = manager or font_manager.fontManager

    def installed():
        weights: dict[str, set[int]] = {}
        for font in manager.ttflist:
            if font.name in CJK_FONTS:
                weights.setdefault(font.name, set()).add(_weight(font.weight))
        found = [name for name in CJK_FONTS if name in weights]
        # A stable sort: the list's own order among equals.
        return sorted(found, key=lambda name: NORMAL_WEIGHT not in weights[name])

    found = installed()
    if chinese and not found:
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name.lower() for part in CJK_FILES):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # not a font matplotlib can read
        found = installed()
    return ["DejaVu Sans", *found]


def _weight(weight):
    """A font entry's weight as a number ("normal", "bold" or 400 alike)."""
    from matplotlib.font_manager import weight_dict

    return weight if isinstance(weight, int) else weight_dict.get(weight, NORMAL_WEIGHT)


class NearWeightNote(logging.Filter):
    """Drops matplotlib's warning that a font has no face of the weight
    asked for and another is used: many CJK fonts come in one face only
    (WenQuanYi Zen Hei's is 500), and a chart drawn in it is what we want,
    not something the operator must hear about on every run.  Every other
    font warning (a family not found, a glyph missing) still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("findfont: Failed to find font weight")


def plot(report, path):
    """A PNG bar chart of daily revenue, drawn by matplotlib's Agg backend;
    its title, axis label and days in the command's language."""
    from matplotlib import rc_context

    fonts = chart_fonts(words.language() == "zh-CN")
    note = NearWeightNote()
    font_log = logging.getLogger("matplotlib.font_manager")
    font_log.addFilter(note)
    try:
        with rc_context({"font.family": fonts}):
            _plot(report, path)
    finally:
        font_log.removeFilter(note)


def _plot(report, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DayLocator, num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = [date.fromisoformat(day) for day in report.per_day["date"]]
    amounts = [cents / 100 for cents in report.per_day["revenue_cents"].tolist()]
    if days:
        axes.bar(days, amounts, width=0.8)  # type: ignore[arg-type]  # dates: the stubs say numbers
        span = (days[-1] - days[0]).days + 1
        axes.xaxis.set_major_locator(DayLocator(interval=max(1, span // 10)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: words.day(num2date(x).date())))
        figure.autofmt_xdate()
    else:
        axes.text(0.5, 0.5, _("no orders"), ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
    axes.set_title(_("Daily revenue, {heading}").format(heading=heading(report)))
    axes.set_ylabel(_("revenue"))
    figure.tight_layout()
    figure.savefig(path, format="png")


# --- the `cybermarket report` command ---------------------------------------


def run(url, since=None, fmt="text", plot_path=None, out=None):
    """Print the report to `out` (stdout) and draw the chart if asked; the
    exit status."""
    out = out or sys.stdout
    try:
        since_day = parse_date(since) if since else None
    except NotADate as e:
        return failed(e.translated(words.language()), "--since", status=2)
    if plot_path:
        # Found out before the report is printed, not after.
        folder = Path(plot_path).absolute().parent
        if not folder.is_dir():
            return failed(_("no folder {path}").format(path=folder), "--plot")
    try:
        report = build(url, since_day)
    except (ReportError, database.NoDatabase, database.SchemaOutOfDate) as e:
        return failed(e.translated(words.language()))
    except OperationalError as e:
        return failed(_("cannot read the database: {reason}").format(reason=e.orig))
    out.write(render(report, fmt))
    if plot_path:
        try:
            plot(report, plot_path)
        except OSError as e:
            reason = e.strerror or e
            return failed(_("cannot write {path}: {reason}").format(path=plot_path, reason=reason))
    return 0


def failed(message, option=None, status=1):
    """Say why the command stops, on stderr in one line; the exit status."""
    where = f"{option}: " if option else ""
    print(f"cybermarket report: {where}{message}", file=sys.stderr)
    return status
