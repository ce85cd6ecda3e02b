"""The ops this server answers: each declaration of the op table
(cybermarket/ops.py) bound to its handler (cybermarket/server/handlers/).

The binding is checked when this module is imported, so a server whose op
table and handlers disagree does not start: every op has one handler, every
handler an op, and each handler's parameters are its op's arguments (as
buildbot's assertArgSpecMatches does for its data API), so that a renamed
argument stops the server at start instead of answering 500 at request
time.
"""

import inspect
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
    paged: bool = field(init=False, repr=False, compare=False)
    autocommit: bool = field(init=False, repr=False, compare=False)
    flow: bool = field(init=False, repr=False, compare=False)
    # Every code the op declares (Op.codes), for the check of each error
    # answer.
    codes: frozenset[Code] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("name", "role", "args", "status", "check_args"):
            object.__setattr__(self, name, getattr(self.op, name))
        for name in ("function", "write", "paged", "autocommit", "flow"):
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


# What a handler takes before its op's arguments (connection.py calls
# function(txn, me, **args) or function(call, **args)).
TRANSACTION_FIRST = ("txn", "me")
FLOW_FIRST = ("call",)
PAGE_BYTES = "page_bytes"  # given to a paged handler besides its op's arguments


def mismatches(op: Op, handler: Handler) -> list[str]:
    """How the handler's parameters differ from what the server gives it for
    `op`; empty when they match.  Names must be the same; an argument the op
    requires must be a parameter without a default (a default would say it
    may be missing); a default for an optional one must be the op's own."""
    function = handler.function
    parameters = list(inspect.signature(function).parameters.values())
    first = FLOW_FIRST if handler.flow else TRANSACTION_FIRST
    shown = f"({', '.join(first)})"
    problems: list[str] = []
    leading = [p.name for p in parameters[: len(first)]]
    if tuple(leading) != first:
        problems.append(f"takes {leading} first, not {shown}")
        return problems
    given = op.args
    taken: dict[str, inspect.Parameter] = {}
    for parameter in parameters[len(first) :]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            problems.append(f"takes {star}{parameter.name}: name the op's arguments")
        elif parameter.kind is parameter.POSITIONAL_ONLY:
            problems.append(f"takes {parameter.name!r} by position only")
        else:
            taken[parameter.name] = parameter
    if handler.paged:
        if taken.pop(PAGE_BYTES, None) is None:
            problems.append(f"is paged but takes no {PAGE_BYTES!r}")
    elif PAGE_BYTES in taken and PAGE_BYTES not in given:
        problems.append(f"takes {PAGE_BYTES!r} but is not paged")
        del taken[PAGE_BYTES]
    unknown = sorted(set(taken) - set(given))
    missing = sorted(set(given) - set(taken))
    if unknown or missing:
        problems.append(
            f"takes {unknown} that the op does not declare, and not {missing} that it does"
        )
    for name in sorted(set(taken) & set(given)):
        default = taken[name].default
        if default is inspect.Parameter.empty:
            continue  # the op gives every argument, optional ones as their default
        if not given[name].optional:
            problems.append(f"gives {name!r} a default, but the op has it required")
        elif default != given[name].default:
            problems.append(
                f"gives {name!r} the default {default!r}, the op {given[name].default!r}"
            )
    return problems


def bind(ops: Mapping[str, Op], handlers: Mapping[str, Handler]) -> dict[str, Served]:
    missing, unknown = unmatched(ops, handlers)
    if missing or unknown:
        raise RuntimeError(
            f"op table and handlers disagree: no handler for {missing or 'none'};"
            f" no op for the handlers of {unknown or 'none'}"
        )
    problems = [
        f"{name}: {handlers[name].function.__qualname__} {problem}"
        for name, op in ops.items()
        for problem in mismatches(op, handlers[name])
    ]
    if problems:
        raise RuntimeError("handlers disagree with their ops: " + "; ".join(problems))
    return {name: Served(op, handlers[name]) for name, op in ops.items()}


SERVED = bind(OPS, HANDLERS)
