"""Names people can trust: username and storename keys; wider email keys.

Usernames and storenames become one name when they fold alike (NFKC and
full case folding, cybermarket.values.fold), through a unique key column
beside each.  Names that were different under the old exact comparison
but fold alike are all kept: the one with the lowest id gets the plain key
and answers to the name; each later one gets the key with "@ID" and its id
appended, and is reported in the log.  No name folds to such a key: a fold
never holds an upper-case ASCII letter (case folding lowers them, and no
character's NFKC form brings one back), so not even a v1 name holding a
full-width "＠" can take it.  Such an account still
logs in by email and can take a name of its own.

Lower-casing can lengthen an email ("İ" becomes two characters), so the
email keys widen from 254 to 1024 characters.

Revision ID: 0002
Revises: 0001
"""

import logging

import sqlalchemy as sa
from alembic import op

from cybermarket.errors import BadRequest
from cybermarket.values import Username, fold

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Fixed here rather than taken from cybermarket.values: a migration must
# build the same schema whatever later code says.
NAME_KEY = sa.String(length=1200)
EMAIL_KEY = sa.String(length=1024)
OLD_EMAIL_KEY = sa.String(length=254)

# (table, name column, key column)
ACCOUNTS = [("clients", "username", "username_key"), ("merchants", "storename", "storename_key")]


def upgrade() -> None:
    for table, name, key in ACCOUNTS:
        # Nullable until every existing row has its key.
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(key, NAME_KEY, nullable=True))
        fill_keys(table, name, key)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(key, existing_type=NAME_KEY, nullable=False)
            batch.alter_column(
                "email_key", existing_type=OLD_EMAIL_KEY, type_=EMAIL_KEY, existing_nullable=False
            )
            batch.create_unique_constraint(op.f(f"uq_{table}_{key}"), [key])


def fill_keys(table: str, name: str, key: str) -> None:
    """Each row's key, computed in Python (fold is not SQL on either
    backend), in id order so that the oldest account keeps its name."""
    conn = op.get_bind()
    accounts = sa.table(table, sa.column("id"), sa.column(name), sa.column(key))
    rows = conn.execute(sa.select(accounts.c.id, accounts.c[name]).order_by(accounts.c.id))
    holders: dict[str, tuple[int, str]] = {}  # key -> (id, name) of the account that answers to it
    keys = []
    for account_id, value in rows:
        report_broken_rules(table, name, account_id, value)
        account_key = fold(value)
        holder = holders.setdefault(account_key, (account_id, value))
        if holder[0] != account_id:
            log.warning(
                "%s: %s %r (id %d) is now the same name as %r (id %d); both are kept, the"
                " name finds id %d, and id %d logs in by email until it takes another name",
                table,
                name,
                value,
                account_id,
                holder[1],
                holder[0],
                holder[0],
                account_id,
            )
            account_key = f"{account_key}@ID{account_id}"
        keys.append({"account_id": account_id, "account_key": account_key})
    if keys:
        conn.execute(
            accounts.update()
            .where(accounts.c.id == sa.bindparam("account_id"))
            .values({key: sa.bindparam("account_key")}),
            keys,
        )


def report_broken_rules(table: str, name: str, account_id: int, value: str) -> None:
    """A name from before the 1.1 rules that breaks them stays as it is
    (it still finds its account); the operator hears of it."""
    try:
        ok = Username.check(name, value) == value
        reason = "it is not in NFC"
    except BadRequest as e:
        ok, reason = False, e.message
    if not ok:
        log.warning(
            "%s: %s %r (id %d) is kept as it is, though %s", table, name, value, account_id, reason
        )


def downgrade() -> None:
    for table, _, key in reversed(ACCOUNTS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_{key}"), type_="unique")
            batch.drop_column(key)
            batch.alter_column(
                "email_key", existing_type=EMAIL_KEY, type_=OLD_EMAIL_KEY, existing_nullable=False
            )
