"""Storage: the engine and its thread pool (database.py), one transaction's
cursor and statements (txn.py), SQLite's group commit (groupcommit.py), the
schema (models.py) and its migrations (migrations/).  It knows nothing of
the wire: no codec, no op table."""
