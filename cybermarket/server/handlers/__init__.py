"""The ops' handlers.

Transaction handlers are plain functions f(txn, me, **args) that run inside
one database transaction on a database worker thread (txn: cybermarket.storage.txn.
Txn) and return plain values (str, int, Decimal, datetime, lists, dicts);
`me` is the caller's account id.  They run no SQL themselves: they hand the
txn to the storage functions of their domain (cybermarket/storage/, e.g.
products.restock_txn), and decide what the outcome means for the client.
The handlers of paged ops (paged=True) are also given `page_bytes`, the
server's --max-page-bytes (Settings).
Flows are coroutines f(call, **args) on the reactor thread, for the few ops
that must hash a password (on the hashing pool) between database calls,
that change the connection's login, or that need its role (GET_ACCOUNT).

Each handler names the ops it answers with @handles; the server binds them
to the op table's declarations (cybermarket/server/optable.py).
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cybermarket.storage.txn import autocommit as txn_autocommit
from cybermarket.values import MAX_ID

# `after` when none is given: below every key, or above every id.
FIRST_NAME = ""
NO_ID = 0
LAST_ID = MAX_ID


@dataclass(frozen=True)
class Handler:
    """How the server runs one op: its function, and whether it writes (on
    SQLite a write transaction takes the lock up front)."""

    function: Callable[..., Any]
    write: bool = True
    # Given page_bytes (Settings.page_bytes) besides the op's arguments.
    paged: bool = False
    # The one statement that writes is all-or-nothing on its own: on
    # PostgreSQL the request runs in autocommit, without the round trips of
    # BEGIN and COMMIT, wherever that statement sits (Database.run).
    autocommit: bool = False
    flow: bool = field(init=False, repr=False, compare=False)  # set from function

    def __post_init__(self) -> None:
        # A flow (a coroutine) or a transaction handler: looked up once,
        # not per request.
        object.__setattr__(self, "flow", inspect.iscoroutinefunction(self.function))


# Op name -> Handler, filled by @handles as the handler modules are imported.
HANDLERS: dict[str, Handler] = {}

F = TypeVar("F", bound=Callable[..., Any])


def handles(
    *names: str, write: bool = True, paged: bool = False, autocommit: bool = False
) -> Callable[[F], F]:
    """Make the decorated function the handler of the ops `names`."""

    def register(function: F) -> F:
        for name in names:
            if name in HANDLERS:
                raise ValueError(f"{name}: a second handler, {function.__qualname__}")
            HANDLERS[name] = Handler(function, write, paged, autocommit)
        # On the function too: Database.run reads it however the function
        # is run (the server passes Served.autocommit as well).
        return txn_autocommit(function) if autocommit else function

    return register


def _row_bytes(row: Sequence[object]) -> int:
    # The encoded size of the row's text, near enough: what makes a row big.
    size = 0
    for value in row:
        if type(value) is str:
            size += len(value) if value.isascii() else len(value.encode())
        else:
            size += 9
    return size


def fit(
    rows: list[tuple[Any, ...]], limit: int, page_bytes: int
) -> tuple[list[tuple[Any, ...]], bool]:
    """(the rows of a page, whether more follow): `rows` holds up to
    limit + 1 rows; the extra one only tells that more follow.  A page whose
    text passes `page_bytes` ends early (never before its first row), so
    that one answer, which a client that does not read leaves in the
    server's memory, stays about that size."""
    more = len(rows) > limit
    rows = rows[:limit]  # rows stay tuples: msgpack sends them as arrays
    total = 0
    for count, row in enumerate(rows):
        total += _row_bytes(row)
        if total > page_bytes and count > 0:
            return rows[:count], True
    return rows, more


def page(
    columns: list[str], rows: list[tuple[Any, ...]], limit: int, page_bytes: int, key: int = 0
) -> dict[str, Any]:
    """A paged table (see fit); `next` is the last row's column `key`, or
    None when no rows follow."""
    rows, more = fit(rows, limit, page_bytes)
    return {
        "columns": columns,
        "rows": rows,
        "next": rows[-1][key] if more else None,
    }


def table(columns: list[str], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}
