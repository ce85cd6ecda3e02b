"""A SQLite database file copied whole, for `cybermarket db backup` and
`db restore` (cybermarket/tools/cli.py, which checks the paths first and
says what happened): SQLite's online backup, the copy's journal mode, and
the restored file's integrity check.

These run on sqlite3 connections of their own, not on a Txn: a backup is
of the file, taken while servers go on writing to it.  The PRAGMAs are
not Query statements, so tests/test_statements.py has none to EXPLAIN.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cybermarket.storage.database import SQLITE_BUSY_TIMEOUT

# The copy leaves WAL mode: one self-contained file, with no -wal or -shm
# beside it.  A server opening it turns WAL on again.
ROLLBACK_JOURNAL = "PRAGMA journal_mode=DELETE"
# Every page, index and constraint of the file read and checked: one row
# ('ok',) when sound, else a row per problem.
INTEGRITY_CHECK = "PRAGMA integrity_check"


class CopyFailed(Exception):
    """SQLite could not copy the file; the message is SQLite's reason."""


def back_up(source: Path, target: Path) -> None:
    """Copy the live database `source` to the new file `target`.

    SQLite's online backup: a consistent copy taken in one read transaction,
    commits still in the -wal file included, while servers go on writing.
    Copying the main file alone would miss those commits.  CopyFailed, and
    no file at `target`, when it cannot be done."""
    try:
        live = sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT)
    except sqlite3.Error as e:
        raise CopyFailed(str(e)) from None
    try:
        with _new_file(target) as copy:
            live.backup(copy)
            copy.execute(ROLLBACK_JOURNAL)
    finally:
        live.close()


def restore(source: Path, target: Path) -> str | None:
    """Copy the backup `source` (opened read-only) to the new file `target`
    and check the copy: None when it is sound; otherwise the first problem
    SQLite found, and no file at `target`.  CopyFailed, and no file at
    `target`, when it cannot be copied."""
    try:
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise CopyFailed(str(e)) from None
    try:
        with _new_file(target) as copy:
            backup.backup(copy)
            problems = copy.execute(INTEGRITY_CHECK).fetchall()
    finally:
        backup.close()
    if problems == [("ok",)]:
        return None
    target.unlink()
    return str(problems[0][0])


@contextmanager
def _new_file(target: Path) -> Iterator[sqlite3.Connection]:
    """A connection to `target`, a file that did not exist, closed on the
    way out.  On SQLite's error the file is removed (it is ours) and the
    error becomes CopyFailed."""
    try:
        copy = sqlite3.connect(target)
        try:
            yield copy
        finally:
            copy.close()
    except sqlite3.Error as e:
        target.unlink(missing_ok=True)
        raise CopyFailed(str(e)) from None
