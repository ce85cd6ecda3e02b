"""The photo version: one row (id 1) whose version moves in the same
transaction as every photo upload, replacement and removal
(storage/photos.py), so that a process that keeps thumbnails in memory
can tell with one small read whether any of them may be stale: a removal
made through another process shows at once (protocol 1.3, "Product
photos": a removed photo's paths answer 404).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo_version")),
    )
    op.execute("INSERT INTO photo_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("photo_version")
