"""How throughput grows with server processes on one database, and how a
store's page costs as the database grows.

    scripts/with-postgres python bench/scale.py        # on a throwaway PostgreSQL
    python bench/scale.py --database URL --processes 1 2 4
    python bench/scale.py --grow                       # one SQLite server

For each process count: N `twistd cybermarket` processes share one port
(--reuse-port) and one database; 16 connections run LIST_PRODUCT of a
20-product store, then checkouts (add one unit, check out), for a fixed
time.  Prints one line per workload and process count.

--grow: one server (SQLite unless --database says otherwise), one
connection listing the 20-product store, before and after the database
grows through the server by --stores other stores holding --products
products and --orders checkouts of them; prints p50 and p99 before and
after, and their ratio, which should stay near 1: what one store's page
costs must not depend on how much else the database holds.  With --why
(SQLite), the listing again after the WAL is checkpointed and emptied, and
then on a new server process on the grown database: where the growth is.
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen
from bench.run import PASSWORD, listing, login, seed
from bench.servers import Servers, fresh_database


async def measure(port, ids, connections, seconds):
    async def checkout(conn, i):
        await conn.call("CLIENT_ADD_ITEM", product_id=ids[i % len(ids)], quantity=1)
        await conn.call("CLIENT_CHECKOUT_ITEM")

    return {
        "LIST_PRODUCT": await loadgen.run(port, listing, connections, seconds),
        "checkout (add+checkout)": await loadgen.run(
            port, checkout, connections, seconds, setup=login
        ),
    }


async def grow(port, stores, products, orders, connections=8):
    """Grow the database through the server: `stores` stores (invited by
    the bench store, one invitation each), `products` products spread over
    them, then `orders` checkouts of one unit of one of them each, by the
    bench's customers (user0...)."""
    import random

    stats = loadgen.Stats()
    bench = await loadgen.Conn.open(port, stats)
    await bench.call("MERCHANT_LOGIN", login="bench", password=PASSWORD)
    ids = []
    codes = [(await bench.call("MERCHANT_CREATE_INVITATION"))["data"] for _ in range(stores)]
    bench.close()

    async def open_stores(k):
        conn = await loadgen.Conn.open(port, stats)
        for n in range(k, stores, connections):
            name = f"grown{n}"
            await conn.call(
                "MERCHANT_CREATE",
                storename=name,
                description="a store the database grew by",
                email=f"{name}@example.com",
                password=PASSWORD,
                inviter="bench",
                code=codes[n],
            )
            await conn.call("MERCHANT_LOGIN", login=name, password=PASSWORD)
            for i in range(products // stores):
                r = await conn.call(
                    "MERCHANT_ADD_PRODUCT",
                    productname=f"{name} product {i}",
                    price="1.25",
                    description="grown for the benchmark",
                    stock=10**6,
                )
                ids.append(r["data"]["product_id"])
        conn.close()

    await asyncio.gather(*(open_stores(k) for k in range(connections)))

    async def buy(k):
        conn = await loadgen.Conn.open(port, stats)
        await login(conn, k)
        for _ in range(k, orders, connections):
            await conn.call("CLIENT_ADD_ITEM", product_id=random.choice(ids), quantity=1)
            await conn.call("CLIENT_CHECKOUT_ITEM")
        conn.close()

    await asyncio.gather(*(buy(k) for k in range(connections)))
    return stats.errors


def checkpoint(database):
    """Fold SQLite's WAL into the database file and empty it, from another
    connection, as `cybermarket db backup` or a quiet moment would."""
    import sqlite3

    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()


def main_grow(args):
    servers = Servers(args.database, count=1)
    results = []

    async def one_connection():
        return await loadgen.run(servers.port, listing, 1, args.seconds)

    try:
        asyncio.run(seed(servers.port, servers.invite(), 8))
        results.append(("before", asyncio.run(one_connection())))
        errors = asyncio.run(grow(servers.port, args.stores, args.products, args.orders))
        if errors:
            print(f"growing: {errors} requests refused")
        results.append(("after", asyncio.run(one_connection())))
        if args.why and servers.database.startswith("sqlite"):
            # Where the growth of "after" lives: in the WAL (gone once it is
            # checkpointed), or in the server process (gone on a restart on
            # the same grown database), or in the database itself (stays).
            wal = Path(servers.database.removeprefix("sqlite:///") + "-wal")
            print(f"WAL after growing: {wal.stat().st_size / 1e6:.1f} MB")
            checkpoint(servers.database)
            results.append(("after, WAL checkpointed", asyncio.run(one_connection())))
            database, workdir = servers.database, servers.workdir
            servers.stop()
            servers = Servers(database, count=1)
            asyncio.run(one_connection())  # the new process's first pages, not timed
            results.append(("after, a new server process", asyncio.run(one_connection())))
            print(f"(the grown database: {workdir})")
    finally:
        servers.stop()
    before = results[0][1]
    for name, r in results:
        print(
            f"LIST_PRODUCT, 1 connection, {name:<28}"
            f" p50 {r['p50_ms']:6.3f} ms  p99 {r['p99_ms']:6.3f} ms  errors {r['errors']}"
            f"  p50 {r['p50_ms'] / before['p50_ms']:.2f}x of before"
        )
    after = results[1][1]
    print(
        f"after/before: p50 {after['p50_ms'] / before['p50_ms']:.2f}x"
        f"  p99 {after['p99_ms'] / before['p99_ms']:.2f}x"
        f"  (grown by {args.stores} stores, {args.products} products, {args.orders} orders)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("CYBERMARKET_TEST_DATABASE"))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--grow", action="store_true", help="a store's page as the database grows")
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument(
        "--why",
        action="store_true",
        help="with --grow on SQLite: the listing again after a WAL checkpoint, "
        "and on a new server process",
    )
    args = parser.parse_args()
    if args.grow:
        return main_grow(args)
    if not args.database:
        parser.error("give --database or run under scripts/with-postgres")
    for n in args.processes:
        url = fresh_database(args.database, f"bench_{n}_{os.getpid()}")
        servers = Servers(url, count=n)
        try:
            ids, _tokens = asyncio.run(seed(servers.port, servers.invite(), args.connections))
            results = asyncio.run(measure(servers.port, ids, args.connections, args.seconds))
        finally:
            servers.stop()
        for name, r in results.items():
            print(
                f"processes={n:<2} {name:<24} {r['ops']:8.0f} ops/s  p50 {r['p50_ms']:6.2f} ms"
                f"  p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}"
            )


if __name__ == "__main__":
    main()
