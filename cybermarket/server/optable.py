"""The ops this server answers: each declaration of the op table
(cybermarket/ops.py) bound to its handler (cybermarket/server/handlers/).

The binding is checked when this module is imported, so a server whose op
table and handlers disagree does not start.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cybermarket.errors import Code
from cybermarket.ops import OPS, Op

# Importing the handler modules registers their handlers.
from cybermarket.server.handlers import (  # noqa: F401  (imported: they register handlers)
    HANDLERS,
    Handler,
    accounts,
    cart,
    catalog,
    invitations,
    languages,
    orders,
    search,
    store,
)
from cybermarket.values import Arg


@dataclass(frozen=True)
class Served:
    """One op as the server runs it."""

    op: Op
    handler: Handler

    # The protocol reads these for every request: plain attributes, not
    # properties.  Copied from op and handler by __post_init__.
    name: str = field(init=False, repr=False, compare=False)
    role: str | None = field(init=False, repr=False, compare=False)
    args: dict[str, Arg] = field(init=False, repr=False, compare=False)
    status: int = field(init=False, repr=False, compare=False)
    check_args: Callable[[object], dict[str, Any]] = field(init=False, repr=False, compare=False)
    function: Callable[..., Any] = field(init=False, repr=False, compare=False)
    write: bool = field(init=False, repr=False, compare=False)
    flow: bool = field(init=False, repr=False, compare=False)
    # Every code the op declares (Op.codes), for the check of each error
    # answer.
    codes: frozenset[Code] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("name", "role", "args", "status", "check_args"):
            object.__setattr__(self, name, getattr(self.op, name))
        for name in ("function", "write", "paged", "flow"):
            object.__setattr__(self, name, getattr(self.handler, name))
        object.__setattr__(self, "codes", frozenset(self.op.codes))

    def with_function(self, function: Callable[..., Any], name: str | None = None) -> "Served":
        """A copy run by another function (and under another name): for
        tests that stand in a handler."""
        op = self.op if name is None else replace(self.op, name=name)
        return Served(op, Handler(function, self.handler.write))


def unmatched(ops: Iterable[str], handlers: Iterable[str]) -> tuple[list[str], list[str]]:
    """(ops without a handler, handlers without an op), each sorted."""
    return sorted(set(ops) - set(handlers)), sorted(set(handlers) - set(ops))


def bind(ops: Mapping[str, Op], handlers: Mapping[str, Handler]) -> dict[str, Served]:
    missing, unknown = unmatched(ops, handlers)
    if missing or unknown:
        raise RuntimeError(
            f"op table and handlers disagree: no handler for {missing or 'none'};"
            f" no op for the handlers of {unknown or 'none'}"
        )
    return {name: Served(op, handlers[name]) for name, op in ops.items()}


SERVED = bind(OPS, HANDLERS)
