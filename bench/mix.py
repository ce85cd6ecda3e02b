"""The mixed workload: people browsing and buying at once.

20 stores of 20 products (the bench's own store and 19 more, each opened
with an invitation from the first); every connection is a logged-in
customer, and each request is drawn at random: 80 % LIST_PRODUCT of a
random store, 12 % CLIENT_ADD_ITEM of a random product, 5 %
CLIENT_GET_PRICE, 3 % CLIENT_CHECKOUT_ITEM (drawn again while the cart is
empty).  Besides the mix's own ops/s, p50 and p99, each op's p50 and p99
within the mix (which op the mix's p99 comes from).
"""

import random
import time

from bench import loadgen

STORES = 20
PRODUCTS = 20
PASSWORD = "bench-password"


async def seed_stores(port, first="bench"):
    """19 more stores of 20 products beside `first` (which bench/run.py's
    seed made, with its 20 products); the names of all 20."""
    stats = loadgen.Stats()
    owner = await loadgen.Conn.open(port, stats)
    await owner.call("MERCHANT_LOGIN", login=first, password=PASSWORD)
    names = [first]
    for n in range(1, STORES):
        code = (await owner.call("MERCHANT_CREATE_INVITATION"))["data"]
        name = f"{first}{n}"
        m = await loadgen.Conn.open(port, stats)
        await m.call(
            "MERCHANT_CREATE",
            storename=name,
            description=f"store {n}",
            email=f"{name}@example.com",
            password=PASSWORD,
            inviter=first,
            code=code,
        )
        await m.call("MERCHANT_LOGIN", login=name, password=PASSWORD)
        for i in range(PRODUCTS):
            await m.call(
                "MERCHANT_ADD_PRODUCT",
                productname=f"product {n}.{i}",
                price="4.25",
                description="something to buy",
                stock=10**9,
            )
        m.close()
        names.append(name)
    owner.close()
    return names


async def product_ids(port, names):
    stats = loadgen.Stats()
    conn = await loadgen.Conn.open(port, stats)
    ids = []
    for name in names:
        data = (await conn.call("LIST_PRODUCT", storename=name))["data"]
        ids += [row[0] for row in data["rows"]]
    conn.close()
    return ids


def workload(names, ids, by_op, seed=1):
    """The mix as a loadgen workload; each request's latency, while the
    stats record, goes to by_op[op] too."""
    draws = {}
    in_cart = {}

    async def timed(conn, op, **args):
        started = time.perf_counter()
        await conn.call(op, **args)
        if conn.stats.recording:
            by_op.setdefault(op, []).append(time.perf_counter() - started)

    async def mixed(conn, i):
        rng = draws.setdefault(i, random.Random(seed * 1000 + i))
        while True:
            r = rng.random()
            if r < 0.80:
                await timed(conn, "LIST_PRODUCT", storename=rng.choice(names))
                return
            if r < 0.92:
                await timed(conn, "CLIENT_ADD_ITEM", product_id=rng.choice(ids), quantity=1)
                in_cart[i] = True
                return
            if r < 0.97:
                await timed(conn, "CLIENT_GET_PRICE")
                return
            if in_cart.get(i):
                await timed(conn, "CLIENT_CHECKOUT_ITEM")
                in_cart[i] = False
                return
            # A checkout with an empty cart: draw again.

    return mixed


def percentile_ms(latencies, q):
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def per_op(by_op):
    """One line: each op's p50 and p99 within the mix."""
    return "  ".join(
        f"{op} p50 {percentile_ms(lat, 0.5):.2f} p99 {percentile_ms(lat, 0.99):.2f} ms"
        for op, lat in sorted(by_op.items(), key=lambda kv: -len(kv[1]))
    )
