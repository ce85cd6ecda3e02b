"""PostgreSQL: the checkout function locks the cart lines it reads and
deletes exactly those, so that a line added or removed while it runs is
either in the order or still in the cart.

0006's function read the cart, then emptied the whole cart.  Each of its
statements sees what has committed by the time it runs (READ COMMITTED),
so units added to the cart in between, as new lines or to a line it had
read, were deleted without being bought; a line removed in between was
bought all the same; and two checkouts of one cart bought it twice (issue
23).  Now:
- the cart lines are read FOR UPDATE, in product order: a concurrent
  CLIENT_ADD_ITEM to one of them, CLIENT_REMOVE_ITEM of one, or another
  checkout of the cart waits until this one commits or rolls back, and
  then finds the line gone (the add makes a new line; the remove is 404;
  the other checkout does not see it);
- only the lines read, at the quantities bought, are deleted: a line added
  meanwhile, which the read did not see, stays in the cart.
The lock order becomes cart lines (by product id), then products by id,
then stores by id; only the cart's own ops take cart lines, one at a time,
so no two transactions wait for each other in a circle.

The function's text is cybermarket/storage/sql/checkout_v2.sql.

SQLite runs the Python checkout (server/handlers/cart.py), in one write
transaction that no other writer can interleave; it deletes exactly what
it bought too.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from cybermarket.storage.sql import source

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(source("checkout", 2))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(source("checkout", 1))
