"""Searches on database threads of their own, shared out fairly between
peer addresses.

A search reads the index lists of its words.  For the costliest query the
contract allows (eight one-letter words, each the beginning of most words)
that is milliseconds of a database thread on a large catalog, and SQLite
has one database thread for every request: four connections of one
address looping such a query took another client's p50 from 0.39 ms to 91
ms.  So searches never enter the other requests' queue.  They run on
threads of their own, each with its own database connection
(--search-threads, 1 by default; on SQLite a reader beside the writer, as
WAL allows), and those threads are shared out between peer addresses as the
hashing threads are (shares.py): a free thread goes to the address served
longest ago, one address runs at most --search-threads-per-address
searches at once, and the queues are bounded per address and in all
(--search-queue-per-address, --search-queue), beyond which a search gets
503 at once.  An address searching without end thus delays the other
clients' requests by nothing but the processor time its search takes, and
another address's search by the one search of its already running.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from cybermarket.i18n import N_
from cybermarket.server.shares import FairShare

if TYPE_CHECKING:
    from cybermarket.storage.database import Database

BUSY = N_("server busy searching; try again")

# Defaults of the options --search-threads-per-address, --search-queue and
# --search-queue-per-address.
PER_ADDRESS = 1
QUEUE = 64
QUEUE_PER_ADDRESS = 16


class Searches:
    """The search threads: `db`, a Database of their own (its threads and
    connections), and the share of them each address gets."""

    def __init__(
        self,
        db: "Database",
        clock: IReactorTime,
        per_address: int = PER_ADDRESS,
        queue: int = QUEUE,
        queue_per_address: int = QUEUE_PER_ADDRESS,
    ) -> None:
        self.db = db
        self.share = FairShare(
            clock,
            self._start,
            db.threads,
            per_address,
            queue,
            queue_per_address,
            BUSY,
            "search-queue",
            "refused a {what} for {peer}: search queue full ({why});"
            " {count} refused since the last report",
        )

    def start(self) -> None:
        self.db.start()

    def stop(self) -> None:
        self.share.stop()
        self.db.stop()

    def run(
        self, peer: str | None, function: Callable[..., Any], *args: Any
    ) -> defer.Deferred[Any]:
        """function(txn, *args) in one read transaction on a search thread,
        as `peer`'s share allows."""
        return self.share.submit(peer, "search", function, *args)

    def waiting(self) -> int:
        """Searches waiting for a thread."""
        return self.share.waiting()

    def _start(self, function: Callable[..., Any], args: tuple[Any, ...]) -> defer.Deferred[Any]:
        return self.db.run("SEARCH_PRODUCT", function, *args, write=False)
