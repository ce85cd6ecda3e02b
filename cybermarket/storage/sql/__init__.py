"""PostgreSQL functions, each version's source in a file of its own:
NAME_vN.sql.  A migration creates the version it was written for, by
number (source("checkout", 2)), so that an old migration keeps creating its
old version however the function changes later, and a downgrade puts back
the version before.  The newest version's Python twin, which SQLite runs,
is in the storage module of its statements (cybermarket/storage/orders.py);
tests/test_checkout_equivalence.py runs the same random market through both
and compares every outcome, so that a change to one that the other lacks
fails there."""

from pathlib import Path

HERE = Path(__file__).parent


def source(name: str, version: int) -> str:
    """The text of version `version` of function `name`: CREATE OR
    REPLACE FUNCTION ..., ready for one execute."""
    return (HERE / f"{name}_v{version}.sql").read_text(encoding="utf-8")
