"""`cybermarket db backup` and `db restore` on files that are not sound
backups: a damaged one is refused with SQLite's first problem, a file
that is not a database with SQLite's reason, and neither leaves a file
behind (storage/backup.py copies, cli.py says what happened)."""

import sqlite3

import pytest

from cybermarket.storage import backup
from cybermarket.tools import cli


def damaged(path):
    """A SQLite file whose index does not match its table: SQLite copies
    it without complaint, and only the integrity check finds it out."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE shelf (name TEXT, kind TEXT)")
        db.execute("CREATE INDEX shelf_name ON shelf (name)")
        db.execute("INSERT INTO shelf VALUES ('lamp', 'light'), ('desk', 'table')")
        # The schema now says the index is of kind, while it holds names.
        db.execute("PRAGMA writable_schema = ON")
        db.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX shelf_name ON shelf (kind)'"
            " WHERE name = 'shelf_name'"
        )
    db.close()
    return path


def not_a_database(path):
    path.write_text("name,price\nlamp,12.00\n" * 100)
    return path


def restore(tmp_path, source, capsys):
    target = tmp_path / "restored.sqlite3"
    status = cli.main(["db", "restore", "--database", f"sqlite:///{target}", str(source)])
    return status, capsys.readouterr().err, target


def test_a_damaged_backup_is_refused_and_leaves_no_database(tmp_path, capsys):
    source = damaged(tmp_path / "saved.sqlite3")
    status, err, target = restore(tmp_path, source, capsys)
    assert status == 1
    assert err.startswith(f"cybermarket db restore: {source} is damaged: ")
    assert "shelf_name" in err  # SQLite's first problem names the index
    assert len(err.splitlines()) == 1
    assert not target.exists()


def test_a_file_that_is_not_a_database_is_not_restored(tmp_path, capsys):
    source = not_a_database(tmp_path / "prices.csv")
    before = source.read_bytes()
    status, err, target = restore(tmp_path, source, capsys)
    assert status == 1
    assert err == f"cybermarket db restore: cannot restore {source}: file is not a database\n"
    assert not target.exists()
    assert source.read_bytes() == before


def test_a_file_that_is_not_a_database_is_not_backed_up(tmp_path, capsys):
    source = not_a_database(tmp_path / "prices.csv")
    target = tmp_path / "copy.sqlite3"
    status = cli.main(["db", "backup", "--database", f"sqlite:///{source}", str(target)])
    assert status == 1
    err = capsys.readouterr().err
    assert err == f"cybermarket db backup: cannot back up {source}: file is not a database\n"
    assert not target.exists()


def test_a_sound_backup_restores_with_its_rows(tmp_path):
    """storage/backup.py's own answers: None for a sound copy, which holds
    the rows and is in rollback-journal mode (no -wal beside it)."""
    live = tmp_path / "live.sqlite3"
    with sqlite3.connect(live) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE shelf (name TEXT)")
        db.execute("INSERT INTO shelf VALUES ('lamp')")
    db.close()
    saved, restored = tmp_path / "saved.sqlite3", tmp_path / "restored.sqlite3"
    backup.back_up(live, saved)
    assert backup.restore(saved, restored) is None
    with sqlite3.connect(restored) as db:
        assert db.execute("SELECT name FROM shelf").fetchall() == [("lamp",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()
    assert not (tmp_path / "restored.sqlite3-wal").exists()


def test_a_damaged_copy_is_removed_by_storage(tmp_path):
    target = tmp_path / "restored.sqlite3"
    problem = backup.restore(damaged(tmp_path / "saved.sqlite3"), target)
    assert problem is not None and "shelf_name" in problem
    assert not target.exists()
    with pytest.raises(backup.CopyFailed, match="file is not a database"):
        backup.back_up(not_a_database(tmp_path / "prices.csv"), target)
    assert not target.exists()
