-- The checkout of migration 0008 (see its docstring): the cart lines it
-- reads are locked, and only those are deleted.
CREATE OR REPLACE FUNCTION cybermarket_checkout(
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
    DELETE FROM cart_lines c
    USING unnest(pids, quantities) AS t(pid, q)
    WHERE c.client_id = customer AND c.product_id = t.pid AND c.quantity = t.q;
    RETURN QUERY SELECT new_id, total::bigint;
END $$
