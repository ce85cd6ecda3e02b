"""What the database holds of secrets: passwords only as Argon2id PHC
strings, invitation codes not at all in clear."""

import pytest
from sqlalchemy import MetaData, create_engine, select, text

PASSWORD = "correct horse battery staple"
ROLES = {
    "client": ("clients", "username"),
    "merchant": ("merchants", "storename"),
}


@pytest.fixture
def engine(market):
    engine = create_engine(market.url)
    yield engine
    engine.dispose()


def stored_hash(engine, role, name):
    table, name_column = ROLES[role]
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT password_hash FROM {table} WHERE {name_column} = :name"),
            {"name": name},
        ).scalar_one()


def stored_text(engine, only=None):
    """Every value of every table (or of table `only`), as text."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return [
            str(value)
            for table in meta.sorted_tables
            if only in (None, table.name)
            for row in conn.execute(select(table))
            for value in row
        ]


def appears(secret, values):
    return any(secret in value for value in values)


def open_account(market, role, name, password=PASSWORD):
    return getattr(market, role)(name, password=password)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_password_is_stored_as_an_argon2id_hash(market, engine, role):
    open_account(market, role, "alice")
    stored = stored_hash(engine, role, "alice")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize("role", sorted(ROLES))
def test_one_password_gives_differently_salted_hashes(market, engine, role):
    open_account(market, role, "alice")
    open_account(market, role, "bob")
    assert stored_hash(engine, role, "alice") != stored_hash(engine, role, "bob")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_changed_password_is_stored_as_a_new_argon2id_hash(market, engine, role):
    peer = open_account(market, role, "alice")
    before = stored_hash(engine, role, "alice")
    new_password = "a brand new passphrase"
    peer.ok(f"SET_{role.upper()}_PASSWORD", old_password=PASSWORD, new_password=new_password)
    after = stored_hash(engine, role, "alice")
    assert after.startswith("$argon2id$")
    assert after != before
    assert new_password not in after


def test_no_password_appears_anywhere_in_the_database(market, engine):
    open_account(market, "client", "alice", "client secret one")
    open_account(market, "merchant", "shop", "merchant secret two")
    values = stored_text(engine)
    assert not appears("client secret one", values)
    assert not appears("merchant secret two", values)


def test_invitation_codes_are_not_stored_in_clear(market, engine):
    operator_code = market.invite()
    shop = market.merchant("shop")
    store_code = shop.ok("MERCHANT_CREATE_INVITATION")
    rows = stored_text(engine, only="invitations")
    assert rows  # the invitations are there ...
    assert not appears(operator_code, rows)  # ... but not their codes
    assert not appears(store_code, rows)


def test_used_invitation_code_is_not_stored_in_clear(market, engine):
    code = market.invite()
    market.peer().ok(
        "MERCHANT_CREATE",
        storename="shop",
        description="",
        email="shop@example.com",
        password=PASSWORD,
        inviter=None,
        code=code,
    )
    assert not appears(code, stored_text(engine))
