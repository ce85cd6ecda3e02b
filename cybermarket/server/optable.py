"""The ops this server answers: each declaration of the op table
(cybermarket/ops.py) bound to its handler (cybermarket/server/handlers/).

The binding is checked when this module is imported, so a server whose op
table and handlers disagree does not start.
"""

from dataclasses import dataclass, replace

from cybermarket.ops import OPS, Op

# Importing the handler modules registers their handlers.
from cybermarket.server.handlers import (  # noqa: F401
    HANDLERS,
    Handler,
    accounts,
    cart,
    catalog,
    invitations,
    search,
    store,
)


@dataclass(frozen=True)
class Served:
    """One op as the server runs it."""

    op: Op
    handler: Handler

    # The protocol reads these for every request: plain attributes, not
    # properties.
    def __post_init__(self):
        for name in ("name", "role", "args", "status", "check_args"):
            object.__setattr__(self, name, getattr(self.op, name))
        for name in ("function", "write", "flow"):
            object.__setattr__(self, name, getattr(self.handler, name))

    def with_function(self, function, name=None):
        """A copy run by another function (and under another name): for
        tests that stand in a handler."""
        op = self.op if name is None else replace(self.op, name=name)
        return Served(op, Handler(function, self.handler.write))


def unmatched(ops, handlers):
    """(ops without a handler, handlers without an op), each sorted."""
    return sorted(set(ops) - set(handlers)), sorted(set(handlers) - set(ops))


def bind(ops, handlers):
    missing, unknown = unmatched(ops, handlers)
    if missing or unknown:
        raise RuntimeError(
            f"op table and handlers disagree: no handler for {missing or 'none'};"
            f" no op for the handlers of {unknown or 'none'}"
        )
    return {name: Served(op, handlers[name]) for name, op in ops.items()}


SERVED = bind(OPS, HANDLERS)
