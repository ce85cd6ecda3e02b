"""The ops' handlers.

Transaction handlers are plain functions f(txn, me, **args) that run inside
one database transaction on a database worker thread (txn: cybermarket.storage.txn.
Txn) and return plain values (str, int, Decimal, datetime, lists, dicts);
`me` is the caller's account id.  Flows are coroutines f(call, **args) on the
reactor thread, for the few ops that must hash a password (on the hashing
pool) between database calls or that change the connection's login.
"""

from datetime import datetime, timezone

from cybermarket.values import MAX_ID

# `after` when none is given: below every key, or above every id.
FIRST_NAME = ""
NO_ID = 0
LAST_ID = MAX_ID


def now():
    """The current UTC time, naive, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def page(columns, rows, limit, key=0):
    """A paged table: `rows` holds up to limit + 1 rows; the extra one only
    tells that more follow."""
    more = len(rows) > limit
    rows = rows[:limit]  # rows stay tuples: msgpack sends them as arrays
    return {
        "columns": columns,
        "rows": rows,
        "next": rows[-1][key] if more else None,
    }


def table(columns, rows):
    return {"columns": columns, "rows": rows}
