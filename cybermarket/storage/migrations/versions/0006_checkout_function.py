"""PostgreSQL: the checkout as one function, so that it is one round trip.

The checkout in Python (server/handlers/cart.py) is about ten statements
on PostgreSQL (the cart, a conditional UPDATE per line, a credit per store,
the order), each a round trip to the server while the request holds a
database thread and, from its first UPDATE, the rows it has locked.  This
function runs the same steps, in the same order, inside PostgreSQL, and the
handler calls it in one statement, in autocommit: the statement is the
transaction, so it is all or nothing as before.

The same steps as the Python code, which SQLite still runs:
- each line takes its stock with one conditional UPDATE, in product order;
  a line that cannot (short, off the shelf, gone) is noted and the rest
  still run, so that every short line is named;
- any short line: raise CM001, DETAIL a JSON array of [product_id,
  productname] in product order;
- the total over MOST_TOTAL: raise CM002;
- each store credited with one conditional UPDATE, in store order; one
  that would pass MOST_CENTS: raise CM003, DETAIL its storename;
- the order, its lines, the cart emptied; returns the order's id and total.
An empty cart returns no row and changes nothing.  Sums are numeric, so
that no product of price and quantity can overflow before it is checked.
The lock order (products by id, then stores by id, then the deferred page
version bumps of migration 0005, on stores already locked) is the one the
Python code keeps, so that concurrent checkouts do not deadlock.

The function's text is cybermarket/storage/sql/checkout_v1.sql.  A change
to the checkout's rules is made in both places: in Python, and by a new
version of the function that a new migration creates (the checkout tests run
on both backends and hold the two together).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from cybermarket.storage.sql import source

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(source("checkout", 1))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cybermarket_checkout(bigint, timestamp, numeric, numeric)")
