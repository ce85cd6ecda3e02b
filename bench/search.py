"""SEARCH_PRODUCT's latency as the catalog grows.

    .venv/bin/python bench/search.py [--sizes 1000 100000] [--seconds 5] [--connections 1]
    scripts/with-postgres .venv/bin/python bench/search.py      # on PostgreSQL

For each catalog size: a fresh database (a new SQLite file, or a new
database on the PostgreSQL server of --database or CYBERMARKET_TEST_DATABASE),
seeded directly (not through the protocol) with that many products on the
shelves of 100 stores, then a `twistd cybermarket` on it, and connections
sending SEARCH_PRODUCT one after another for a fixed time, each with a
query of two words.  One line per size and kind of query: ops/s, p50 and
p99 of a search, the rows a first page held on average.

The catalog: each product's name is three words and its description
fifteen, drawn (seeded, so every run is alike) from 20,000 made-up words,
the first ones the most frequent (a Zipf law, as in real text: the most
frequent word is in about a fifth of the products).  Two kinds of query:
"name words", two words of one product's name, so that every query finds
that product at least; and "frequent words", two of the 20 most frequent
words, which a large share of the catalog holds.  A word is also a prefix
of the longer words that begin with it, which find their products too.
"""

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.servers import Servers, fresh_database  # noqa: E402

VOCABULARY = 20_000
STORES = 100
QUERIES = 2000  # distinct queries of each kind, taken in turn
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def words(rng: random.Random) -> list[str]:
    """VOCABULARY distinct made-up words of two to five syllables."""
    found: dict[str, None] = {}
    while len(found) < VOCABULARY:
        found["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5)))] = None
    return list(found)


def catalog(size: int, seed: int = 1):
    """(products, queries): `size` (name, description) pairs, and
    {kind: QUERIES two-word queries}."""
    rng = random.Random(seed)
    vocabulary = words(rng)
    weights = [1 / (rank + 10) for rank in range(VOCABULARY)]

    def draw(count: int) -> str:
        return " ".join(rng.choices(vocabulary, weights, k=count))

    products = [(draw(3).capitalize(), draw(15)) for _ in range(size)]
    queries = {
        "name words": [
            " ".join(rng.sample(rng.choice(products)[0].lower().split(), 2)) for _ in range(QUERIES)
        ],
        "frequent words": [" ".join(rng.sample(vocabulary[:20], 2)) for _ in range(QUERIES)],
    }
    return products, queries


def seed_database(url: str, products, unseen=()) -> None:
    """The stores and products, straight into the database; then the
    products `unseen`, after the planner's statistics were taken: products
    added since the last autovacuum (bench/attack.py)."""
    from datetime import datetime

    from sqlalchemy import insert

    from cybermarket.storage import database
    from cybermarket.storage.models import Merchant

    database.upgrade(url)
    engine = database.make_engine(url)
    now = datetime(2026, 12, 1)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Merchant),
                [
                    {
                        "id": i + 1,
                        "storename": f"store {i}",
                        "storename_key": f"store {i}",
                        "description": "",
                        "email": f"store{i}@example.com",
                        "email_key": f"store{i}@example.com",
                        "password_hash": "x",
                        "profit_cents": 0,
                        "created_at": now,
                    }
                    for i in range(STORES)
                ],
            )
            insert_products(conn, products)
        # What a database that has been in use for a while has: the
        # planner's statistics (PostgreSQL's autovacuum, SQLite's ANALYZE).
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        if unseen:
            with engine.begin() as conn:
                insert_products(conn, unseen, len(products))
    finally:
        engine.dispose()


def insert_products(conn, products, first: int = 0) -> None:
    """`products` on the shelves of the STORES stores, in batches; the
    first one counted as the `first`-th of the catalog."""
    from datetime import datetime

    from sqlalchemy import insert

    from cybermarket.storage.models import Product
    from cybermarket.values import search_terms

    now = datetime(2026, 12, 1)
    batch: list[dict] = []
    for i, (name, description) in enumerate(products, first):
        batch.append(
            {
                "merchant_id": i % STORES + 1,
                "productname": name,
                "description": description,
                "price_cents": 100 + i % 5000,
                "stock": 10,
                "on_shelf": True,
                "created_at": now,
                "name_words": " ".join(search_terms(name)),
                "description_words": " ".join(search_terms(description)),
            }
        )
        if len(batch) == 5000:
            conn.execute(insert(Product), batch)
            batch = []
    if batch:
        conn.execute(insert(Product), batch)


def measure(size: int, base: str | None, seconds: float, connections: int) -> dict:
    """{kind of query: loadgen's figures, and the mean rows of a page}."""
    products, queries = catalog(size)
    url = fresh_database(base, f"bench_search_{size}_{os.getpid()}")
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='cybermarket-bench-')}/search.sqlite3"
    started = time.monotonic()
    seed_database(url, products)
    seeded = time.monotonic() - started
    servers = Servers(url)
    results = {}
    try:
        for kind, texts in queries.items():
            found: list[int] = []

            async def search(conn, i, texts=texts, found=found):
                conn.turn = getattr(conn, "turn", i * 97) + 1
                answer = await conn.call("SEARCH_PRODUCT", query=texts[conn.turn % QUERIES])
                if answer["status"] == 200:
                    found.append(len(answer["data"]["rows"]))

            result = asyncio.run(loadgen.run(servers.port, search, connections, seconds))
            result["rows"] = sum(found) / len(found) if found else float("nan")
            result["seeded"] = seeded
            results[kind] = result
    finally:
        servers.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="connections searching at once (1: each search's own latency)",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("CYBERMARKET_TEST_DATABASE"),
        help="a PostgreSQL server's URL, where each size gets a fresh database "
        "(default: a fresh SQLite file per size)",
    )
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database else "SQLite"
    print(f"{backend}, {args.connections} connection(s), {args.seconds:g} s per size and query")
    print("| products | queries | ops/s | p50 | p99 | rows of a page (mean) | errors |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for kind, r in measure(size, args.database, args.seconds, args.connections).items():
            print(
                f"| {size:,} | {kind} | {r['ops']:,.0f} | {r['p50_ms']:.2f} ms "
                f"| {r['p99_ms']:.2f} ms | {r['rows']:.1f} | {r['errors']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
