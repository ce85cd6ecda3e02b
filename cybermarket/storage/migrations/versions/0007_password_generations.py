"""Password generations: a session token is good only while its account's
password is the one that was checked when it was issued.

- clients.password_generation, merchants.password_generation: moved on
  by every password change, in the statement that sets the new hash.
- sessions.password_generation: the account's generation at the token's
  issue.  The statement that issues a token checks the account's
  generation, and RESUME's renewal checks it again
  (cybermarket/storage/sessions.py).

Revoking the account's tokens at a password change missed a token issued
after the revocation by a login that had checked the old password before
the change committed: that token resumed for ever (issue 23).

Existing accounts and tokens get generation 0, so that every token that
was good stays good.  The columns are added and dropped in place on both
backends (SQLite 3.35 and later drop a column without rebuilding the
table, which would drop the triggers of migration 0005 on merchants).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("clients", "merchants", "sessions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("password_generation", sa.BigInteger(), server_default="0", nullable=False),
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "password_generation")
