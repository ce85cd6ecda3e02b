"""Product photos (protocol 1.3): the photos table, one row per product
with a photo, holding the two re-encoded sizes and the digest that names
their path; and the triggers that move the store's page version when a
photo is added, replaced or removed, so that a kept LIST_PRODUCT page
never shows an old path (migration 0005's page versions).

As in 0005, PostgreSQL's trigger is a deferred constraint trigger: the
store's row is bumped at commit, after whatever else the transaction
locks.  SQLite has one writer at a time: plain triggers.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BUMP = (
    " UPDATE merchants SET page_version = page_version + 1"
    " WHERE id = (SELECT merchant_id FROM products WHERE id = {row}.product_id);"
)
SQLITE = [
    f"CREATE TRIGGER photos_page_insert AFTER INSERT ON photos BEGIN{_BUMP.format(row='new')} END",
    f"CREATE TRIGGER photos_page_update AFTER UPDATE ON photos BEGIN{_BUMP.format(row='new')} END",
    f"CREATE TRIGGER photos_page_delete AFTER DELETE ON photos BEGIN{_BUMP.format(row='old')} END",
]
SQLITE_TRIGGERS = ["photos_page_insert", "photos_page_update", "photos_page_delete"]

POSTGRESQL = [
    "CREATE FUNCTION bump_photo_page() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' THEN"
    f"  {_BUMP.format(row='OLD')}"
    "  ELSE"
    f"  {_BUMP.format(row='NEW')}"
    "  END IF;"
    "  RETURN NULL;"
    " END $$",
    "CREATE CONSTRAINT TRIGGER photos_page_version"
    " AFTER INSERT OR DELETE OR UPDATE ON photos"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_photo_page()",
]


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("product_id", ID, autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("thumb", sa.LargeBinary(), nullable=False),
        sa.Column("thumb_type", sa.String(length=32), nullable=False),
        sa.Column("thumb_width", sa.Integer(), nullable=False),
        sa.Column("thumb_height", sa.Integer(), nullable=False),
        sa.Column("large", sa.LargeBinary(), nullable=False),
        sa.Column("large_type", sa.String(length=32), nullable=False),
        sa.Column("large_width", sa.Integer(), nullable=False),
        sa.Column("large_height", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_photos_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_photos")),
    )
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER photos_page_version ON photos")
        op.execute("DROP FUNCTION bump_photo_page()")
    op.drop_table("photos")
