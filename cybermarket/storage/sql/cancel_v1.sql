-- CLIENT_CANCEL_ORDER (protocol 1.2, migration 0010), in one statement as
-- the checkout is: every part of the order still `placed` becomes
-- `cancelled`, its lines' units go back to their products' stock, and its
-- total comes off its store's profit, all or nothing.
-- - CM005: no order `the_order` of `customer`;
-- - CM006: no part placed, DETAIL the order's status as
--   CLIENT_LIST_ORDERS gives it.
-- Returns the cancelled parts' total and their stores' names at purchase,
-- in store order.
-- The parts are locked first, in store order (a ship of one of them, or
-- another cancel, waits, and then finds it no longer `placed`: exactly one
-- wins), then products by id, then stores by id: the checkout's order for
-- the two it shares, so that cancels and checkouts do not deadlock.
-- The Python twin is cybermarket/storage/orders.py's cancel_txn.
CREATE OR REPLACE FUNCTION cybermarket_cancel(
    customer bigint, the_order bigint, changed timestamp
) RETURNS TABLE (refunded bigint, stores text[])
LANGUAGE plpgsql AS $$
DECLARE
    line record;
    part record;
    mids bigint[] := '{}';
    names text[] := '{}';
    sum_cents numeric := 0;
    now_status text;
BEGIN
    PERFORM 1 FROM orders o WHERE o.id = the_order AND o.client_id = customer;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'CM005', MESSAGE = 'no such order';
    END IF;
    PERFORM 1 FROM order_parts p WHERE p.order_id = the_order
        ORDER BY p.merchant_id FOR UPDATE;
    FOR part IN
        UPDATE order_parts p SET status = 'cancelled', changed_at = changed
        WHERE p.order_id = the_order AND p.status = 'placed'
        RETURNING p.merchant_id, p.total_cents, p.storename
    LOOP
        mids := mids || part.merchant_id;
    END LOOP;
    IF cardinality(mids) = 0 THEN
        SELECT CASE WHEN min(p.status) = max(p.status) THEN min(p.status)
                    ELSE 'partial' END
        INTO now_status FROM order_parts p WHERE p.order_id = the_order;
        RAISE EXCEPTION USING ERRCODE = 'CM006', MESSAGE = 'no part placed',
            DETAIL = now_status;
    END IF;
    FOR line IN
        SELECT l.product_id, l.quantity FROM order_lines l
        WHERE l.order_id = the_order AND l.merchant_id = ANY (mids)
        ORDER BY l.product_id
    LOOP
        UPDATE products p SET stock = p.stock + line.quantity WHERE p.id = line.product_id;
    END LOOP;
    FOR part IN
        SELECT p.merchant_id, p.total_cents, p.storename FROM order_parts p
        WHERE p.order_id = the_order AND p.merchant_id = ANY (mids)
        ORDER BY p.merchant_id
    LOOP
        UPDATE merchants m SET profit_cents = m.profit_cents - part.total_cents
        WHERE m.id = part.merchant_id;
        sum_cents := sum_cents + part.total_cents;
        names := names || part.storename::text;
    END LOOP;
    RETURN QUERY SELECT sum_cents::bigint, names;
END $$
