"""What the server's parts report to as they work, handed to their
constructors: the database (each transaction's time, each SQLite group's
size) and the hashing pool (each hash's time).

Instruments itself reports nowhere: it is the default, so that a part built
without --metrics (a command, a test) needs nothing.  The server's metrics
(cybermarket/server/metrics.py, Metrics) is the one that counts.  A part
asks `active` once, when built, so that nothing is wrapped or called per
request when nobody counts.
"""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Instruments:
    """Reports nowhere (the default)."""

    # Whether anything is counted: parts skip the hooks when not.
    active = False

    def timed_transaction(self, desc: str, func: Callable[..., T]) -> Callable[..., T]:
        """`func` as the database thread should run it for `desc` (a name
        the server's code gives, never a client), timed."""
        return func

    def group_committed(self, size: int) -> None:
        """Told each SQLite group's size, on the database thread."""

    def timed_hash(self, func: Callable[..., T]) -> Callable[..., T]:
        """`func` as the hashing thread should run it, timed."""
        return func


NOTHING = Instruments()
