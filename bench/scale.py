"""How throughput grows with server processes on one database.

    scripts/with-postgres python bench/scale.py        # on a throwaway PostgreSQL
    python bench/scale.py --database URL --processes 1 2 4

For each process count: N `twistd cybermarket` processes share one port
(--reuse-port) and one database; 16 connections run LIST_PRODUCT of a
20-product store, then checkouts (add one unit, check out), for a fixed
time.  Prints one line per workload and process count.
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen
from bench.run import listing, login, seed
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("CYBERMARKET_TEST_DATABASE"))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
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
