"""The newest revision, read from the migration files without Alembic, and
the upgrade that finds nothing to do without loading Alembic: every server
start and most commands ask for both (storage/database.py)."""

import subprocess
import sys

import pytest
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cybermarket.storage import database
from tests.server import child_env


def revision_of(url):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()


def test_the_newest_revision_is_alembic_s_own(migrated_url):
    alembic_head = ScriptDirectory.from_config(
        database.alembic_config(migrated_url)
    ).get_current_head()
    assert database.head_revision(migrated_url) == alembic_head
    assert revision_of(migrated_url) == [alembic_head]


def test_an_upgrade_with_nothing_to_do_does_not_load_alembic(migrated_url, tmp_path):
    """As a server starts on a database at the newest revision: the upgrade
    and the newest revision, in a new process, without Alembic."""
    script = (
        "import sys\n"
        "from cybermarket.storage import database\n"
        "database.upgrade(sys.argv[1])\n"
        "print(database.head_revision(sys.argv[1]))\n"
        "engine = database.read_only_engine(sys.argv[1])\n"
        "with engine.connect() as conn:\n"
        "    print(database.current_revision(conn))\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'alembic'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, migrated_url],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    head, current, loaded = result.stdout.splitlines()
    assert loaded == "[]"
    assert current == head
    assert revision_of(migrated_url) == [head]


def current_of(url):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return database.current_revision(conn)
    finally:
        engine.dispose()


def test_an_older_database_is_still_upgraded(database_url):
    assert current_of(database_url) is None  # not migrated at all
    database.upgrade(database_url, "0010")
    assert revision_of(database_url) == ["0010"]
    assert current_of(database_url) == "0010"
    database.upgrade(database_url)
    assert revision_of(database_url) == [database.head_revision(database_url)]


def test_a_version_table_of_two_rows_is_refused_as_alembic_refuses_it(migrated_url):
    engine = create_engine(migrated_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # Rolled back: a PostgreSQL test database is handed to the next
            # test with its alembic_version as it is (tests/databases.py).
            conn.execute(text("INSERT INTO alembic_version VALUES ('elsewhere')"))
            try:
                with pytest.raises(CommandError, match="more than one head"):
                    database.current_revision(conn)
            finally:
                conn.rollback()
        assert revision_of(migrated_url) == [database.head_revision(migrated_url)]
    finally:
        engine.dispose()


def migration(folder, name, revision, down_revision):
    (folder / f"{name}.py").write_text(
        f'"""A migration."""\n\nrevision = {revision!r}\ndown_revision = {down_revision!r}\n'
        "branch_labels = None\ndepends_on = None\n"
    )


def test_only_a_plain_chain_is_read_without_alembic(tmp_path):
    """A chain of revisions has one head; a merge, a second head or a file
    of another form is left to Alembic (None)."""
    versions = tmp_path / "versions"
    versions.mkdir()
    migration(versions, "0001_first", "0001", None)
    migration(versions, "0002_second", "0002", "0001")
    migration(versions, "0003_third", "0003", "0002")
    assert database.head_from_files(versions) == "0003"

    migration(versions, "0004_branch", "0004", "0002")
    assert database.head_from_files(versions) is None  # two heads: 0003 and 0004
    migration(versions, "0005_merge", "0005", ("0003", "0004"))
    assert database.head_from_files(versions) is None  # a merge

    other = tmp_path / "other"
    other.mkdir()
    migration(other, "0001_first", "0001", None)
    (other / "0002_second.py").write_text('revision = "0002"\ndown_revision = REVISIONS[0]\n')
    assert database.head_from_files(other) is None
    assert database.head_from_files(tmp_path / "empty") is None
