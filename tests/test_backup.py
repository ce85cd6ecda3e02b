"""`cybermarket db backup` while a checkout storm runs, then `cybermarket db
restore` into a new file: the restored books balance."""

import pytest

from tests.databases import on_postgresql
from tests.ledger import check_ledger, read_books
from tests.live import FAST
from tests.server import run_cli
from tests.storm import CROWD, Catalog, random_carts, shoppers

pytestmark = pytest.mark.skipif(on_postgresql(), reason="SQLite's online backup (pg_dump on PG)")


def test_backup_during_a_checkout_storm_restores_balanced_books(tmp_path, launch, storm):
    url = f"sqlite:///{tmp_path / 'market.sqlite3'}"
    live = launch(url, *FAST, *CROWD)
    catalog = Catalog()
    ids = catalog.open_shop(live, "stormshop", [(f"p{i}", "2.50", 100_000) for i in range(6)])
    buyers = shoppers(live, 6, "buyer")
    running = storm(live.port, buyers, random_carts(ids, seed="backup"))
    running.wait_for_orders(20)

    backup = tmp_path / "backup.sqlite3"
    result = run_cli("db", "backup", "--database", url, backup, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    at_backup = running.orders
    running.wait_for_orders(at_backup + 20, what="orders after the backup")
    running.stop()

    restored = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    result = run_cli("db", "restore", "--database", restored, backup, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "restored" in result.stdout and "current:" in result.stdout

    books = check_ledger(restored, catalog.initial)
    assert len(books.totals) >= 20  # the orders committed before the copy
    # ...and not those after it: a copy of one moment, not of the end.
    final = check_ledger(url, catalog.initial, answered=running.answered())
    assert len(books.totals) < len(final.totals)
    assert set(books.totals) <= set(final.totals)
    assert all(final.totals[order] == total for order, total in books.totals.items())

    # A restore never writes over a database.
    again = run_cli("db", "restore", "--database", restored, backup, cwd=tmp_path)
    assert again.returncode == 1
    assert "exists; stop the servers and move it aside first" in again.stderr
    assert read_books(restored).totals == books.totals


def test_restore_refuses_postgresql_and_a_missing_backup(tmp_path):
    result = run_cli(
        "db",
        "restore",
        "--database",
        "postgresql+psycopg://u@127.0.0.1:1/market",
        "backup.dump",
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "pg_restore" in result.stderr
    result = run_cli(
        "db", "restore", "--database", "sqlite:///new.sqlite3", "missing.sqlite3", cwd=tmp_path
    )
    assert result.returncode == 1 and "no backup file" in result.stderr
    assert not (tmp_path / "new.sqlite3").exists()


def test_a_backup_and_its_restore_carry_the_photos(tmp_path, market, shop):
    import sqlite3

    from cybermarket.storage.database import sqlite_file
    from tests.shop import add_product
    from tests.test_photo_columns import keep

    lamp = add_product(shop, "lamp")
    path = keep(market, lamp)
    url = market.url
    backup = tmp_path / "backup.sqlite3"
    assert run_cli("db", "backup", "--database", url, backup, cwd=tmp_path).returncode == 0
    restored = tmp_path / "restored.sqlite3"
    result = run_cli("db", "restore", "--database", f"sqlite:///{restored}", backup, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    query = "SELECT product_id, digest, thumb, large FROM photos"
    with sqlite3.connect(sqlite_file(url)) as live, sqlite3.connect(restored) as copy:
        kept = live.execute(query).fetchall()
        assert copy.execute(query).fetchall() == kept
    assert [f"/photos/{pid}/{digest}" for pid, digest, _, _ in kept] == [path]
