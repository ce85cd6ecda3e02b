"""The migrations: the schema they build is the one cybermarket/storage/models.py
describes, and 0002 (names compared by their fold, wider email keys)
brings an existing database along without losing a row."""

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from cybermarket.storage import database, sessions
from cybermarket.storage.models import Base
from tests.harness import FAST_HASHER, Market
from tests.shop import column, expect, records

PASSWORD = "an-old-password"
WHEN = "2026-11-20 10:00:00"


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


# SQLite's search index (migration 0004) is an FTS5 virtual table, which
# keeps its index in shadow tables of its own.  SQLAlchemy reflects them as
# tables of untyped columns, and models.py cannot declare a virtual table,
# so the compare leaves these five out, on SQLite only; tests/test_search.py
# checks the index itself.
FTS5_TABLES = {
    "product_search",
    "product_search_config",
    "product_search_data",
    "product_search_docsize",
    "product_search_idx",
}


def not_fts5(name, type_, parent_names):
    return not (type_ == "table" and name in FTS5_TABLES)


# PostgreSQL's search index is an expression index that models.py declares
# for PostgreSQL alone (ddl_if): Alembic cannot reflect expression indexes
# from SQLite and says it skips the declaration there.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_the_migrated_schema_is_the_models(migrated_url, engine):
    with engine.connect() as conn:
        opts = {"compare_type": True}
        if conn.dialect.name == "sqlite":
            opts["include_name"] = not_fts5
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


# Names that were all different under v1's exact comparison, in id order.
CLIENTS = {
    1: "Alice",
    2: "bob",
    3: "ALICE",
    4: "ａｌｉｃｅ",  # full width
    5: "Cafe\u0301",  # decomposed ...
    6: "Café",  # ... and composed
    # v1 refused only a literal "@"; this full-width one folds to "@", so
    # its key is what a careless suffix for "ALICE" (id 3) would be.
    7: "alice\uff203",
    8: "alice\uff20id3",  # and what a lower-case suffix would be
}
CLIENT_KEYS = {
    1: "alice",
    2: "bob",
    3: "alice@ID3",
    4: "alice@ID4",
    5: "café",
    6: "café@ID6",
    7: "alice@3",
    8: "alice@id3",
}
MERCHANTS = {1: "Shop", 2: "SHOP", 3: "other"}
MERCHANT_KEYS = {1: "shop", 2: "shop@ID2", 3: "other"}


def fill_at_0001(engine):
    """Accounts at revision 0001, with rows in every table that refers to
    them, so that the migration has to keep those references whole."""
    hashed = FAST_HASHER.hash(PASSWORD)
    with engine.begin() as conn:
        for client_id, username in CLIENTS.items():
            conn.execute(
                text(
                    "INSERT INTO clients (id, username, email, email_key, password_hash,"
                    " created_at) VALUES (:id, :name, :email, :email, :hash, :when)"
                ),
                {
                    "id": client_id,
                    "name": username,
                    "email": f"c{client_id}@example.com",
                    "hash": hashed,
                    "when": WHEN,
                },
            )
        for merchant_id, storename in MERCHANTS.items():
            conn.execute(
                text(
                    "INSERT INTO merchants (id, storename, description, email, email_key,"
                    " password_hash, profit_cents, invited_by, created_at) VALUES (:id, :name,"
                    " '', :email, :email, :hash, 300, :inviter, :when)"
                ),
                {
                    "id": merchant_id,
                    "name": storename,
                    "email": f"m{merchant_id}@example.com",
                    "hash": hashed,
                    "inviter": None if merchant_id == 1 else 1,
                    "when": WHEN,
                },
            )
        conn.execute(
            text(
                "INSERT INTO invitations"
                " (id, code_hash, inviter_id, created_at, expires_at, used_at, used_by)"
                " VALUES (1, 'x', 1, :when, :when, :when, 2)"
            ),
            {"when": WHEN},
        )
        conn.execute(
            text(
                "INSERT INTO products"
                " (id, merchant_id, productname, description, price_cents, stock, on_shelf,"
                " created_at) VALUES (1, 2, 'apple', '', 100, 5, :yes, :when)"
            ),
            {"yes": True, "when": WHEN},
        )
        conn.execute(
            text(
                "INSERT INTO orders (id, client_id, created_at, total_cents)"
                " VALUES (1, 3, :when, 300)"
            ),
            {"when": WHEN},
        )
        conn.execute(
            text(
                "INSERT INTO order_lines"
                " (order_id, product_id, merchant_id, storename, productname, price_cents,"
                " quantity) VALUES (1, 1, 2, 'SHOP', 'apple', 100, 3)"
            )
        )
        conn.execute(
            text("INSERT INTO cart_lines (client_id, product_id, quantity) VALUES (3, 1, 2)")
        )
        if engine.dialect.name == "postgresql":
            # The ids were given: move the sequences past them.
            for table in ("clients", "merchants", "invitations", "products", "orders"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )


def rows(engine, query):
    with engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(text(query))}


def test_0002_keeps_names_that_now_collide_and_logs_them(database_url, engine, caplog):
    database.upgrade(database_url, "0001")
    fill_at_0001(engine)
    with caplog.at_level(logging.INFO, logger="alembic"):
        database.upgrade(database_url)

    assert rows(engine, "SELECT id, username, username_key FROM clients") == {
        client_id: (CLIENTS[client_id], key) for client_id, key in CLIENT_KEYS.items()
    }
    assert rows(engine, "SELECT id, storename, storename_key FROM merchants") == {
        merchant_id: (MERCHANTS[merchant_id], key) for merchant_id, key in MERCHANT_KEYS.items()
    }
    # Everything that referred to the accounts still does.
    assert rows(engine, "SELECT id, merchant_id FROM products") == {1: (2,)}
    assert rows(engine, "SELECT id, invited_by FROM merchants WHERE id > 1") == {2: (1,), 3: (1,)}
    assert rows(engine, "SELECT order_id, merchant_id FROM order_lines") == {1: (2,)}
    assert rows(engine, "SELECT client_id, product_id FROM cart_lines") == {3: (1,)}
    assert rows(engine, "SELECT id, inviter_id, used_by FROM invitations") == {1: (1, 2)}
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    referred = {
        (fk["referred_table"], tuple(fk["constrained_columns"]))
        for table in ("products", "order_lines", "invitations", "merchants", "orders")
        for fk in inspect(engine).get_foreign_keys(table)
    }
    assert ("merchants", ("merchant_id",)) in referred
    assert ("merchants", ("invited_by",)) in referred
    assert ("clients", ("client_id",)) in referred

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for table, kept, renamed in [
        ("clients", (1, "Alice"), [(3, "ALICE"), (4, "ａｌｉｃｅ")]),
        ("clients", (5, "Cafe\u0301"), [(6, "Café")]),
        ("merchants", (1, "Shop"), [(2, "SHOP")]),
    ]:
        for account_id, name in renamed:
            assert any(
                table in message
                and repr(name) in message
                and f"id {account_id}" in message
                and repr(kept[1]) in message
                and f"id {kept[0]}" in message
                for message in warnings
            ), (table, name, warnings)
    assert not any("'bob'" in message or "'other'" in message for message in warnings)


def test_after_0002_the_first_of_colliding_names_keeps_the_name(database_url, engine):
    database.upgrade(database_url, "0001")
    fill_at_0001(engine)
    database.upgrade(database_url)
    market = Market(database_url)
    try:
        peer = market.peer()
        expect(peer, 200, "CLIENT_LOGIN", login="alice", password=PASSWORD)
        expect(peer, 200, "CLIENT_LOGOUT")
        # The later ones log in by email, and may take a name of their own.
        expect(peer, 200, "CLIENT_LOGIN", login="c3@example.com", password=PASSWORD)
        expect(peer, 409, "SET_CLIENT_USERNAME", username="aLiCe")
        expect(peer, 200, "SET_CLIENT_USERNAME", username="ALICE 2")
        assert rows(engine, "SELECT id, username_key FROM clients WHERE id = 3") == {
            3: ("alice 2",)
        }
        # No new account can take any of the names.
        for name in ("ALICE", "Ａlice", "café", "CAFE\u0301"):
            response = market.peer().call(
                "CLIENT_CREATE", username=name, email="new@example.com", password=PASSWORD
            )
            assert response["status"] == 409, (name, response)
        # The store with the lowest id answers to the name.
        assert column(market.peer().ok("LIST_PRODUCT", storename="SHOP"), "storename") == []
        shop2 = market.peer()
        expect(shop2, 200, "MERCHANT_LOGIN", login="m2@example.com", password=PASSWORD)
        expect(shop2, 200, "SET_MERCHANT_STORENAME", storename="SHOP two")
        listed = market.peer().ok("LIST_PRODUCT", storename="shop two")
        assert column(listed, "product_id") == [1]
    finally:
        market.close()


def test_0002_widens_the_email_keys(migrated_url, engine):
    for table in ("clients", "merchants"):
        columns = {c["name"]: c for c in inspect(engine).get_columns(table)}
        assert columns["email_key"]["type"].length == 1024


# --- 0007 (password generations) and 0008 (the checkout's locked lines) ---------

TOKEN = "a-token-issued-before-0007-" + "x" * 16


def downgrade(url, revision):
    """Alembic's downgrade to `revision`, on a connection set up as
    database.upgrade sets up its own."""
    from alembic import command

    cfg = database.alembic_config(url)
    engine = database.make_engine(url)
    try:
        with engine.connect() as conn:
            conn.info["write"] = True
            database.foreign_keys_off_for_migrations(conn)
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, revision)
    finally:
        engine.dispose()


def test_0007_keeps_every_token_good_until_a_password_change(database_url, engine):
    database.upgrade(database_url, "0001")
    fill_at_0001(engine)
    database.upgrade(database_url, "0006")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sessions (role, account_id, token_hash, created_at, last_used_at)"
                " VALUES ('client', 2, :hash, 0, 0)"
            ),
            {"hash": sessions.digest(TOKEN)},
        )
    database.upgrade(database_url)
    for table in ("clients", "merchants", "sessions"):
        assert set(rows(engine, f"SELECT password_generation, 1 FROM {table}")) == {0}
    market = Market(database_url)
    try:
        assert market.peer().ok("RESUME", token=TOKEN) == {"role": "client", "name": "bob"}
        bob = market.peer()
        expect(bob, 200, "CLIENT_LOGIN", login="bob", password=PASSWORD)
        expect(bob, 200, "SET_CLIENT_PASSWORD", old_password=PASSWORD, new_password="x" * 12)
        expect(market.peer(), 401, "RESUME", token=TOKEN)
    finally:
        market.close()


@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_0008_and_0007_downgrade_and_upgrade_again(migrated_url, engine):
    def checkout_source():
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT prosrc FROM pg_proc WHERE proname = 'cybermarket_checkout'")
            ).scalar_one()

    postgres = engine.dialect.name == "postgresql"
    if postgres:
        assert "FOR UPDATE" in checkout_source()
    downgrade(migrated_url, "0007")
    if postgres:
        # 0006's function again.
        assert "FOR UPDATE" not in checkout_source()
    downgrade(migrated_url, "0006")
    for table in ("clients", "merchants", "sessions"):
        columns = {c["name"] for c in inspect(engine).get_columns(table)}
        assert "password_generation" not in columns
    if not postgres:
        # Dropped in place: the store triggers of 0005 are still there.
        with engine.connect() as conn:
            triggers = conn.execute(
                text(
                    "SELECT name FROM sqlite_master"
                    " WHERE type = 'trigger' AND tbl_name = 'merchants'"
                )
            ).scalars()
            assert set(triggers) == {
                "merchants_page_update",
                "merchants_list_insert",
                "merchants_list_delete",
            }
    database.upgrade(migrated_url)
    if postgres:
        assert "FOR UPDATE" in checkout_source()
    with engine.connect() as conn:
        opts = {"compare_type": True}
        if conn.dialect.name == "sqlite":
            opts["include_name"] = not_fts5
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


# --- 0009: search terms, and PostgreSQL's search vectors ---------------------------------

SEARCHED = {
    1: ("有机绿茶", "茶园直送"),  # CJK: rewritten as characters and pairs
    2: ("Green tea", "loose leaf"),  # the same terms as words: left as it was
    3: ("iPhone用ケース", ""),
}


def fill_products_at_0008(engine):
    """Products as a 0008 server wrote them: name_words and
    description_words its words, joined by spaces."""
    from cybermarket.values import search_words

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO merchants (id, storename, storename_key, description, email,"
                " email_key, password_hash, profit_cents, created_at) VALUES (1, 'Tea', 'tea',"
                " '', 'tea@example.com', 'tea@example.com', 'x', 0, :when)"
            ),
            {"when": WHEN},
        )
        for product_id, (name, description) in SEARCHED.items():
            conn.execute(
                text(
                    "INSERT INTO products (id, merchant_id, productname, description, price_cents,"
                    " stock, on_shelf, created_at, name_words, description_words) VALUES (:id, 1,"
                    " :name, :description, 100, 5, true, :when, :words, :texts)"
                ),
                {
                    "id": product_id,
                    "name": name,
                    "description": description,
                    "when": WHEN,
                    "words": " ".join(search_words(name)),
                    "texts": " ".join(search_words(description)),
                },
            )
        if conn.dialect.name == "postgresql":
            for table in ("merchants", "products"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )


def words_of(engine):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name_words, description_words FROM products"))
        return {product_id: (names, texts) for product_id, names, texts in rows}


def search_indexes(engine):
    """PostgreSQL: the search indexes' definitions."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE indexname LIKE 'ix_products_search%'"
            )
        )
        return dict(rows.all())


def found_ids(url, query):
    market = Market(url)
    try:
        data = market.peer().ok("SEARCH_PRODUCT", query=query)
        return [row[0] for row in data["rows"]]
    finally:
        market.close()


def test_0009_indexes_cjk_text_by_its_characters_and_goes_back(database_url, engine):
    from cybermarket.values import search_terms, search_words

    database.upgrade(database_url, "0008")
    fill_products_at_0008(engine)
    before = words_of(engine)
    database.upgrade(database_url)
    after = words_of(engine)
    for product_id, (name, description) in SEARCHED.items():
        assert after[product_id] == (
            " ".join(search_terms(name)),
            " ".join(search_terms(description)),
        )
    assert after[2] == before[2]
    assert found_ids(database_url, "茶") == [1]
    assert found_ids(database_url, "绿茶") == [1]
    assert found_ids(database_url, "ケース") == [3]
    assert found_ids(database_url, "tea") == [2]
    if engine.dialect.name == "postgresql":
        indexes = search_indexes(engine)
        assert all("cybermarket_search_vector" in d and "fastupdate" in d for d in indexes.values())

    downgrade(database_url, "0008")
    assert words_of(engine) == before
    for product_id, (name, description) in SEARCHED.items():
        assert before[product_id] == (
            " ".join(search_words(name)),
            " ".join(search_words(description)),
        )
    if engine.dialect.name == "postgresql":
        indexes = search_indexes(engine)
        assert len(indexes) == 2 and all("to_tsvector" in d for d in indexes.values()), indexes
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM pg_proc WHERE proname = 'cybermarket_search_vector'")
                ).scalar_one()
                == 0
            )

    database.upgrade(database_url)
    assert words_of(engine) == after
    assert found_ids(database_url, "茶") == [1]


# --- 0010 (orders a store ships and a customer cancels, protocol 1.2) -----------


def fill_an_order_of_two_stores(engine):
    """At 0009, after fill_at_0001: bob's order 2 of an apple of SHOP (id 2)
    and two pears of other (id 3)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO products"
                " (id, merchant_id, productname, description, price_cents, stock, on_shelf,"
                " created_at) VALUES (2, 3, 'pear', '', 250, 5, :yes, :when)"
            ),
            {"yes": True, "when": WHEN},
        )
        conn.execute(
            text(
                "INSERT INTO orders (id, client_id, created_at, total_cents)"
                " VALUES (2, 2, :when, 600)"
            ),
            {"when": WHEN},
        )
        conn.execute(
            text(
                "INSERT INTO order_lines"
                " (order_id, product_id, merchant_id, storename, productname, price_cents,"
                " quantity) VALUES (2, 1, 2, 'SHOP', 'apple', 100, 1),"
                " (2, 2, 3, 'other', 'pear', 250, 2)"
            )
        )
        if engine.dialect.name == "postgresql":
            for table in ("products", "orders"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )


def test_0010_makes_orders_from_before_shipped_without_an_address(database_url, engine):
    database.upgrade(database_url, "0001")
    fill_at_0001(engine)
    database.upgrade(database_url, "0009")
    fill_an_order_of_two_stores(engine)
    database.upgrade(database_url)
    parts = rows(
        engine,
        "SELECT order_id * 10 + merchant_id, storename, total_cents, status, note FROM order_parts",
    )
    assert parts == {
        12: ("SHOP", 300, "shipped", None),
        22: ("SHOP", 100, "shipped", None),
        23: ("other", 500, "shipped", None),
    }
    assert rows(engine, "SELECT id, username, address FROM orders") == {
        1: ("ALICE", None),
        2: ("bob", None),
    }
    market = Market(database_url)
    try:
        bob = market.peer()
        expect(bob, 200, "CLIENT_LOGIN", login="bob", password=PASSWORD)
        (order,) = records(bob.ok("CLIENT_LIST_ORDERS"))
        assert (order["status"], order["cancellable"], order["address"]) == (
            "shipped",
            False,
            None,
        )
        assert "shipped" in expect(bob, 409, "CLIENT_CANCEL_ORDER", order_id=2)
        other = market.peer()
        expect(other, 200, "MERCHANT_LOGIN", login="other", password=PASSWORD)
        (part,) = records(other.ok("MERCHANT_LIST_ORDERS"))
        assert (part["order_id"], part["username"], part["total"], part["status"]) == (
            2,
            "bob",
            "5.00",
            "shipped",
        )
        assert records(other.ok("MERCHANT_GET_SALES"))[0]["revenue"] == "5.00"
        expect(other, 409, "MERCHANT_SHIP_ORDER", order_id=2)
    finally:
        market.close()


@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_0010_downgrades_and_upgrades_again(database_url, engine):
    database.upgrade(database_url, "0001")
    fill_at_0001(engine)
    database.upgrade(database_url)
    postgres = engine.dialect.name == "postgresql"

    def functions():
        with engine.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT proname || '/' || pronargs FROM pg_proc"
                        " WHERE proname IN ('cybermarket_checkout', 'cybermarket_cancel')"
                    )
                ).scalars()
            )

    if postgres:
        assert functions() == {"cybermarket_checkout/6", "cybermarket_cancel/3"}
    downgrade(database_url, "0009")
    assert "order_parts" not in inspect(engine).get_table_names()
    columns = {c["name"] for c in inspect(engine).get_columns("orders")}
    assert not columns & {"username", "address"}
    if postgres:
        assert functions() == {"cybermarket_checkout/4"}
    database.upgrade(database_url)
    assert rows(engine, "SELECT order_id, status FROM order_parts") == {1: ("shipped",)}
    with engine.connect() as conn:
        opts = {"compare_type": True}
        if conn.dialect.name == "sqlite":
            opts["include_name"] = not_fts5
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


# --- 0011 (product photos) -----------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_0011_downgrades_and_upgrades_again(migrated_url, engine):
    downgrade(migrated_url, "0010")
    assert "photos" not in inspect(engine).get_table_names()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            triggers = conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'photos%'"
                )
            ).scalars()
            assert list(triggers) == []
    database.upgrade(migrated_url)
    assert "photos" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        opts = {"compare_type": True}
        if conn.dialect.name == "sqlite":
            opts["include_name"] = not_fts5
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


# --- 0012 (the photo version) ---------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_0012_downgrades_and_upgrades_again(migrated_url, engine):
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, version FROM photo_version")).all() == [(1, 0)]
    downgrade(migrated_url, "0011")
    assert "photo_version" not in inspect(engine).get_table_names()
    assert "photos" in inspect(engine).get_table_names()
    database.upgrade(migrated_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, version FROM photo_version")).all() == [(1, 0)]
        opts = {"compare_type": True}
        if conn.dialect.name == "sqlite":
            opts["include_name"] = not_fts5
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
