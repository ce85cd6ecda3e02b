"""The one table formatter of the shell and the report
(cybermarket/tools/tables.py, on tabulate): columns line up as a terminal
shows them, wide characters included, and every cell stays on its line."""

import re

import pytest
import tabulate
from wcwidth import wcswidth

from cybermarket.tools import tables

HEADER = ["storename", "productname", "units", "revenue"]
# Wide (East Asian) characters take two columns on a terminal, a combining
# accent none, an emoji two: len() is wrong for each of them.
ROWS = [
    ["八百屋", "りんご (1 kg)", "3", "9.60"],
    ["greengrocer", "pears", "12", "103.90"],
    ["Cafe\u0301", "カフェラテ", "1", "4.50"],
    ["書店", "🍵 tea", "1234", "0.99"],
]
RIGHT = {2, 3}


def spans(line, cells):
    """(start, end) terminal columns of each cell in a line, found in order."""
    found, at = [], 0
    for cell in cells:
        index = line.index(cell, at)
        found.append((wcswidth(line[:index]), wcswidth(line[: index + len(cell)])))
        at = index + len(cell)
    return found


def assert_aligned(lines, rows, right):
    """Left-aligned columns start, right-aligned ones end, at the same
    terminal column on every line; cells never touch."""
    placed = [spans(line, row) for line, row in zip(lines, rows, strict=True)]
    for column in range(len(rows[0])):
        edges = {cells[column][1] if column in right else cells[column][0] for cells in placed}
        assert len(edges) == 1, (column, lines)
    for cells in placed:
        assert all(a[1] + 2 <= b[0] for a, b in zip(cells, cells[1:], strict=False)), cells


def test_tabulate_measures_wide_characters():
    # Without wcwidth tabulate would count code points and misalign.
    assert tabulate.WIDE_CHARS_MODE


def test_columns_line_up_with_wide_characters():
    header, rule, *lines = tables.text_table(HEADER, ROWS, RIGHT).splitlines()
    assert_aligned([header, *lines], [HEADER, *ROWS], RIGHT)
    # The rule is as wide as each column, as a terminal shows it.
    dashes = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    # (tabulate gives a column two more than its header needs, at least.)
    widths = [
        max([wcswidth(HEADER[i]) + 2] + [wcswidth(row[i]) for row in ROWS])
        for i in range(len(HEADER))
    ]
    assert [b - a for a, b in dashes] == widths
    # Right-aligned columns all end where the line ends: no trailing blanks.
    assert len({wcswidth(line) for line in [header, rule, *lines]}) == 1


def test_without_a_rule_columns_still_line_up():
    header, *lines = tables.text_table(HEADER, ROWS, RIGHT, rule=False).splitlines()
    assert_aligned([header, *lines], [HEADER, *ROWS], RIGHT)
    assert not any(set(line) <= {"-", " "} for line in lines)


@pytest.mark.parametrize(
    "cell, shown",
    [
        ("two\nlines", "two\\nlines"),
        ("tab\there", "tab\\there"),
        ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
    ],
)
def test_cells_are_escaped_before_they_are_laid_out(cell, shown):
    """A line break would split the row in two, and an escape sequence
    would be taken by tabulate for an invisible colour code (and by the
    terminal for a command)."""
    text = tables.text_table(["name", "n"], [[cell, "1"], ["plain", "22"]], {1})
    header, rule, first, second = text.splitlines()
    assert first.startswith(shown + " ")
    assert_aligned([header, first, second], [["name", "n"], [shown, "1"], ["plain", "22"]], {1})


def test_cells_are_kept_as_given():
    """No number parsing (money keeps its two digits, ids their digits) and
    no trimming of blanks inside the table."""
    text = tables.text_table(["price", "id", "note"], [["3.50", "007", " x"]], {0, 1})
    assert text.splitlines()[-1] == "   3.50   007   x"


def test_rows_of_different_lengths_are_padded():
    text = tables.text_table(["a", "b", "c"], [["1"], ["1", "2", "3", "4"]])
    assert text.splitlines()[2:] == ["1", "1    2    3    4"]


def test_markdown_escapes_bars_and_keeps_alignment_in_the_rule():
    text = tables.markdown_table(
        ["storename", "revenue"], [["odds | ends", "2.00"], ["a\\b\nc", "10.00"]], {1}
    )
    header, rule, first, second = text.splitlines()
    assert re.fullmatch(r"\| storename +\| +revenue \|", header)
    assert re.fullmatch(r"\|:-+\|-+:\|", rule)
    assert re.fullmatch(r"\| odds \\\| ends +\| +2\.00 \|", first)
    assert re.fullmatch(r"\| a\\\\b c +\| +10\.00 \|", second)
    assert len({len(line) for line in text.splitlines()}) == 1
