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

A change to the checkout's rules is made in both places: in cart.py, and
here by a new migration that replaces the function (the checkout tests run
on both backends and hold the two together).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHECKOUT = """
CREATE FUNCTION cybermarket_checkout(
    customer bigint, placed timestamp, most_total numeric, most_cents numeric
) RETURNS TABLE (new_order bigint, order_total bigint)
LANGUAGE plpgsql AS $$
DECLARE
    line record;
    took record;
    store record;
    short bigint[] := '{}';
    pids bigint[] := '{}';
    mids bigint[] := '{}';
    stores text[] := '{}';
    names text[] := '{}';
    prices bigint[] := '{}';
    quantities bigint[] := '{}';
    total numeric := 0;
    new_id bigint;
BEGIN
    FOR line IN
        SELECT c.product_id, c.quantity FROM cart_lines c
        WHERE c.client_id = customer ORDER BY c.product_id
    LOOP
        UPDATE products p SET stock = p.stock - line.quantity
        WHERE p.id = line.product_id AND p.stock >= line.quantity AND p.on_shelf
        RETURNING p.merchant_id, p.productname, p.price_cents,
            (SELECT m.storename FROM merchants m WHERE m.id = p.merchant_id) AS storename
        INTO took;
        IF NOT FOUND THEN
            short := short || line.product_id;
        ELSE
            pids := pids || line.product_id;
            mids := mids || took.merchant_id;
            stores := stores || took.storename::text;
            names := names || took.productname::text;
            prices := prices || took.price_cents;
            quantities := quantities || line.quantity;
            total := total + line.quantity::numeric * took.price_cents;
        END IF;
    END LOOP;
    IF cardinality(pids) = 0 AND cardinality(short) = 0 THEN
        RETURN;  -- an empty cart
    END IF;
    IF cardinality(short) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'CM001', MESSAGE = 'short of stock',
            DETAIL = (SELECT json_agg(json_build_array(s.id, p.productname) ORDER BY s.n)
                      FROM unnest(short) WITH ORDINALITY AS s(id, n)
                      LEFT JOIN products p ON p.id = s.id)::text;
    END IF;
    IF total > most_total THEN
        RAISE EXCEPTION USING ERRCODE = 'CM002', MESSAGE = 'order total too large';
    END IF;
    FOR store IN
        SELECT t.mid, sum(t.q::numeric * t.p) AS credit, min(t.s) AS storename
        FROM unnest(mids, quantities, prices, stores) AS t(mid, q, p, s)
        GROUP BY t.mid ORDER BY t.mid
    LOOP
        UPDATE merchants m SET profit_cents = m.profit_cents + store.credit
        WHERE m.id = store.mid AND m.profit_cents <= most_cents - store.credit;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'CM003', MESSAGE = 'profit too large',
                DETAIL = store.storename;
        END IF;
    END LOOP;
    INSERT INTO orders (client_id, created_at, total_cents)
    VALUES (customer, placed, total) RETURNING id INTO new_id;
    INSERT INTO order_lines
        (order_id, product_id, merchant_id, storename, productname, price_cents, quantity)
    SELECT new_id, t.* FROM unnest(pids, mids, stores, names, prices, quantities) AS t;
    DELETE FROM cart_lines c WHERE c.client_id = customer;
    RETURN QUERY SELECT new_id, total::bigint;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECKOUT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cybermarket_checkout(bigint, timestamp, numeric, numeric)")
