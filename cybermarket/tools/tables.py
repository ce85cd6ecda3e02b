"""Tables as text, for the shell (`call`, `shell`) and the report: one
formatter, tabulate, for both.

Every cell is escaped before tabulate sees it (printable()), so that a
value holding a line break, a tab or a terminal control character stays in
its cell on one line and cannot rewrite what the terminal shows; tabulate
would otherwise split a cell at its line breaks.  Widths are measured as a
terminal shows them: tabulate does so with wcwidth (wide East Asian
characters take two columns, combining marks none), and only when it can
import it, so it is imported here to make its absence an error rather
than a misaligned table.
"""

import unicodedata
from typing import Any

import wcwidth  # noqa: F401  (for tabulate, which uses it only if it can import it)
from tabulate import tabulate

# Options common to every table: cells are text, already formatted (money
# keeps its two fraction digits, an id stays as it is), and kept whole.
_AS_GIVEN: dict[str, Any] = {"disable_numparse": True, "preserve_whitespace": True}


def _shown(ch):
    """True for a character a terminal shows as it is: what Python calls
    printable, and the spaces other than " " (category Zs), such as the
    no-break space that groups digits in Russian numbers (1 234,50)."""
    return ch.isprintable() or unicodedata.category(ch) == "Zs"


def printable(text):
    """Text with control characters escaped (line breaks, tabs, terminal
    and bidirectional controls), so that it keeps to one line."""
    if text.isprintable():
        return text
    return "".join(ch if _shown(ch) else repr(ch)[1:-1] for ch in text)


def _alignments(count, right):
    return ["right" if i in right else "left" for i in range(count)]


def _cells(columns, rows):
    """Headers and rows as escaped text, every row as long as the longest."""
    count = max([len(columns)] + [len(row) for row in rows])
    header = [printable(str(c)) for c in columns] + [""] * (count - len(columns))
    body = [[printable(str(c)) for c in row] + [""] * (count - len(row)) for row in rows]
    return count, header, body


def text_table(columns, rows, right=(), rule=True):
    """An aligned table: a header, a rule of dashes under it when `rule`,
    and one line per row.  Cells are strings; the columns whose indexes are
    in `right` (numbers) are aligned to the right, the others to the left.
    No line ends in blanks."""
    count, header, body = _cells(columns, rows)
    text = tabulate(
        body,
        headers=header,
        tablefmt="simple" if rule else "plain",
        colalign=_alignments(count, right),
        **_AS_GIVEN,
    )
    return "\n".join(line.rstrip() for line in text.splitlines())


def markdown_cell(text):
    """A cell of a Markdown table: on one line, its bars and backslashes
    escaped so that they do not end the cell."""
    return printable(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def markdown_table(columns, rows, right=()):
    """A GitHub Markdown table (pipes, with the alignment in the rule)."""
    count, header, body = _cells(
        [markdown_cell(str(c)) for c in columns],
        [[markdown_cell(str(c)) for c in row] for row in rows],
    )
    return tabulate(
        body, headers=header, tablefmt="pipe", colalign=_alignments(count, right), **_AS_GIVEN
    )
