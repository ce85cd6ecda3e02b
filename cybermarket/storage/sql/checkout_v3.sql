-- The checkout of migration 0010 (protocol 1.2): 0008's, and
-- - `expected`, when not NULL (whole cents), must be the total of what was
--   taken, else CM004 with DETAIL the total now, after the short lines'
--   CM001 and before CM002, as the contract orders them;
-- - the order keeps `destination` (its address, or NULL) and the
--   customer's username now;
-- - each store's part of the order gets a row of order_parts, `placed`,
--   with its total and the store's name now.
-- The Python twin is cybermarket/storage/orders.py's checkout_txn.
CREATE OR REPLACE FUNCTION cybermarket_checkout(
    customer bigint, placed timestamp, most_total numeric, most_cents numeric,
    expected numeric, destination text
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
    part_mids bigint[] := '{}';
    part_totals bigint[] := '{}';
    part_stores text[] := '{}';
    total numeric := 0;
    new_id bigint;
BEGIN
    FOR line IN
        SELECT c.product_id, c.quantity FROM cart_lines c
        WHERE c.client_id = customer ORDER BY c.product_id
        FOR UPDATE
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
    IF expected IS NOT NULL AND total <> expected THEN
        RAISE EXCEPTION USING ERRCODE = 'CM004', MESSAGE = 'total changed',
            DETAIL = total::text;
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
        part_mids := part_mids || store.mid;
        part_totals := part_totals || store.credit::bigint;
        part_stores := part_stores || store.storename;
    END LOOP;
    INSERT INTO orders (client_id, created_at, total_cents, username, address)
    VALUES (customer, placed, total,
            (SELECT c.username FROM clients c WHERE c.id = customer), destination)
    RETURNING id INTO new_id;
    INSERT INTO order_lines
        (order_id, product_id, merchant_id, storename, productname, price_cents, quantity)
    SELECT new_id, t.* FROM unnest(pids, mids, stores, names, prices, quantities) AS t;
    INSERT INTO order_parts (order_id, merchant_id, storename, total_cents, status)
    SELECT new_id, t.mid, t.s, t.total, 'placed'
    FROM unnest(part_mids, part_stores, part_totals) AS t(mid, s, total);
    DELETE FROM cart_lines c
    USING unnest(pids, quantities) AS t(pid, q)
    WHERE c.client_id = customer AND c.product_id = t.pid AND c.quantity = t.q;
    RETURN QUERY SELECT new_id, total::bigint;
END $$
