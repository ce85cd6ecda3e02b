"""The ops' handlers.

Transaction handlers are plain functions f(conn, me, **args) that run inside
one database transaction on a database worker thread and return plain values
(str, int, Decimal, datetime, lists, dicts); `me` is the caller's account id.
Flows are coroutines f(call, **args) on the reactor thread, for the few ops
that must hash a password (on the hashing pool) between database calls or
that change the connection's login.
"""

from datetime import datetime, timezone


def now():
    """The current UTC time, naive, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def page(columns, rows, limit, key=0):
    """A paged table: `rows` holds up to limit + 1 rows; the extra one only
    tells that more follow."""
    more = len(rows) > limit
    rows = [list(row) for row in rows[:limit]]
    return {
        "columns": columns,
        "rows": rows,
        "next": rows[-1][key] if more else None,
    }


def table(columns, rows):
    return {"columns": columns, "rows": [list(row) for row in rows]}


def codepoint_order(conn, column):
    """Order strings by code point on every backend (SQLite's BINARY does;
    PostgreSQL's default collation follows the locale), so that pages and
    `after` keys agree everywhere."""
    if conn.dialect.name == "postgresql":
        return column.collate("C")
    return column
