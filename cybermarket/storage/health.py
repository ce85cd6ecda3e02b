"""What the readiness check (/readyz, cybermarket/server/health.py) reads:
the schema's revision as the database holds it, which the server compares
with the newest its migrations know (database.head_revision).

Runs inside a transaction on a database thread (txn: storage.txn.Txn).
"""

from cybermarket.storage.txn import Query, Txn

REVISION = Query("SELECT version_num FROM alembic_version")


def schema_revision_txn(txn: Txn) -> str | None:
    """The database's schema revision; None for none."""
    value = txn.value(REVISION)
    return None if value is None else str(value)
