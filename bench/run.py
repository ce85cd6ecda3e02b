"""The benchmark: each workload against a real server, beside the ceiling.

    .venv/bin/python bench/run.py [--seconds 5] [--connections 8] [--database URL]
    scripts/with-postgres .venv/bin/python bench/run.py      # on PostgreSQL
    scripts/with-postgres .venv/bin/python bench/run.py --both   # SQLite, then PostgreSQL
    .venv/bin/python bench/run.py --workloads list,mix           # some of them

Starts `twistd cybermarket` on a free loopback port with a fresh SQLite
database (or a fresh database on the PostgreSQL server of --database, which
defaults to CYBERMARKET_TEST_DATABASE), seeds a merchant with 20 products
and customers, each logged in once for a session token,
and starts the ceiling server (bench/ceiling.py: MessagePack + one
deferToThread hop, nothing else).  Each workload runs for a fixed time with
one request in flight per connection; one line per workload: ops/s, p50,
p99, errors and the ratio to the ceiling's PING.  LIST_PRODUCT runs over
WebSocket too (binary messages, the server's --web endpoint), with its
ratio to TCP's in the same run.  RESUME is measured two
ways: with a logout after it on one connection (each RESUME then uses a
token of its own, since a logout revokes it: they are written straight
into the database beforehand), to compare with the cart's two requests;
and on a new connection each time, as a client that lost its connection
sends it (the connection is opened before the clock starts).  The mix
(bench/mix.py): 20 stores, 80 % LIST_PRODUCT, 12 % CLIENT_ADD_ITEM, 5 %
CLIENT_GET_PRICE, 3 % CLIENT_CHECKOUT_ITEM.  Then the login storm
(8 connections logging in and out) with PING latency measured from another
connection, and the server's memory with 2,000 idle connections.
The storefront page (`page`, bench/page.py): each of the 20 products gets
a photo, then a page load is LIST_PRODUCT over WebSocket and the 20
thumbnails its `photo` column names, over 6 keep-alive HTTP connections,
as a browser loads a store's page: cold (every thumbnail from the
database), warm (from the server's memory) and revalidated (304s), with
the database reads per page counted by the server's --metrics.

With --both: all of that on SQLite, then again on the PostgreSQL server of
--database or CYBERMARKET_TEST_DATABASE (when there is one), each pass with
the ceiling measured in it.
"""

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen, mix, page
from bench.servers import Servers, free_port, fresh_database, wait_for_port

PASSWORD = "bench-password"


async def seed(port, code, clients):
    stats = loadgen.Stats()
    m = await loadgen.Conn.open(port, stats)
    await m.call(
        "MERCHANT_CREATE",
        storename="bench",
        description="the bench store",
        email="bench@example.com",
        password=PASSWORD,
        inviter=None,
        code=code,
    )
    await m.call("MERCHANT_LOGIN", login="bench", password=PASSWORD)
    ids = []
    for i in range(20):
        r = await m.call(
            "MERCHANT_ADD_PRODUCT",
            productname=f"product {i}",
            price="9.99",
            description="something to buy",
            stock=10**9,
        )
        ids.append(r["data"]["product_id"])
    m.close()
    tokens = []
    for i in range(clients):
        c = await loadgen.Conn.open(port, stats)
        await c.call(
            "CLIENT_CREATE", username=f"user{i}", email=f"user{i}@example.com", password=PASSWORD
        )
        answer = await c.call("CLIENT_LOGIN", login=f"user{i}", password=PASSWORD)
        tokens.append(answer["data"]["token"])
        c.close()  # closing does not revoke the token
    return ids, tokens


async def login(conn, i):
    await conn.call("CLIENT_LOGIN", login=f"user{i}", password=PASSWORD)


async def ping(conn, i):
    await conn.call("PING")


async def listing(conn, i):
    await conn.call("LIST_PRODUCT", storename="bench")


def spare_tokens(database, count):
    """`count` session tokens of the bench's customers, written straight
    into the database, as many logins would have left them."""
    import secrets
    import time as clock

    from sqlalchemy import insert

    from cybermarket.storage import database as storage
    from cybermarket.storage.models import clients, sessions
    from cybermarket.storage.sessions import digest

    engine = storage.make_engine(database)
    now = int(clock.time() * 1000)
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    try:
        with engine.begin() as conn:
            ids = [row[0] for row in conn.execute(clients.select().with_only_columns(clients.c.id))]
            conn.execute(
                insert(sessions),
                [
                    {
                        "role": "client",
                        "account_id": ids[n % len(ids)],
                        "token_hash": digest(token),
                        "created_at": now,
                        "last_used_at": now,
                    }
                    for n, token in enumerate(tokens)
                ],
            )
    finally:
        engine.dispose()
    return tokens


def workloads(ids, tokens, port, spare):
    async def resume_logout(conn, i):
        await conn.call("RESUME", token=spare.pop())
        await conn.call("CLIENT_LOGOUT")

    async def resume(conn, i):
        # A new connection each time: RESUME is 400 on a logged-in one.
        fresh = await loadgen.Conn.open(port, conn.stats)
        await fresh.call("RESUME", token=tokens[i % len(tokens)])
        fresh.close()

    async def cart(conn, i):
        await conn.call("CLIENT_ADD_ITEM", product_id=ids[i % 20], quantity=1)
        await conn.call("CLIENT_GET_PRICE")

    async def checkout(conn, i):
        await conn.call("CLIENT_ADD_ITEM", product_id=ids[i % 20], quantity=1)
        await conn.call("CLIENT_ADD_ITEM", product_id=ids[(i + 7) % 20], quantity=2)
        await conn.call("CLIENT_CHECKOUT_ITEM")

    return [
        ("PING", ping, None),
        ("LIST_PRODUCT (20 products)", listing, None),
        ("cart (add, get price)", cart, login),
        ("RESUME, logout (one connection)", resume_logout, None),
        ("RESUME (on a new connection)", resume, None),
        ("checkout (2 adds, checkout)", checkout, login),
    ]


async def login_storm(port, seconds, connections):
    """8 connections logging in and out while one more sends PINGs."""
    ping_stats = loadgen.Stats()

    async def storm(conn, i):
        await login(conn, i)
        await conn.call("CLIENT_LOGOUT")

    async def pinger():
        conn = await loadgen.Conn.open(port, ping_stats)
        ping_stats.recording = True
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await conn.call("PING")
            await asyncio.sleep(0.005)
        ping_stats.recording = False
        conn.close()

    task = asyncio.ensure_future(loadgen.run(port, storm, connections, seconds, warmup=0.5))
    await asyncio.sleep(0.5)
    await pinger()
    storm_result = await task
    return storm_result, ping_stats.summary(seconds)


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def idle_connections(port, count):
    conns = []
    for _ in range(count):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    await asyncio.sleep(1.0)  # let the server accept them all
    return conns


def line(name, r, ceiling=None):
    ratio = f"  ratio {r['ops'] / ceiling:4.2f}" if ceiling else ""
    return (
        f"{name:<32} {r['ops']:8.0f} ops/s  p50 {r['p50_ms']:6.2f} ms  "
        f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}{ratio}"
    )


WORKLOADS = ("ping", "list", "ws", "cart", "resume", "checkout", "mix", "storm", "page", "idle")


def run_pass(args, url, ceiling_port):
    """Every workload asked for against one server on a fresh database:
    SQLite when `url` is None, else a new database on that PostgreSQL."""
    only = set(args.workloads.split(","))
    database = fresh_database(url, f"bench_run_{os.getpid()}")
    servers = Servers(database, extra=args.server, web=True)
    try:
        port = servers.port
        ids, tokens = asyncio.run(seed(port, servers.invite(), args.connections))
        if "mix" in only:
            names = asyncio.run(mix.seed_stores(port))
            every_id = asyncio.run(mix.product_ids(port, names))
        top = asyncio.run(loadgen.run(ceiling_port, ping, args.connections, args.seconds))
        # The workloads' lines wait for the ceiling's second measurement,
        # at the end: their ratios are to the mean of the two, which moves
        # less with what else the machine runs meanwhile.
        shown = []
        backend = "PostgreSQL" if url else "SQLite"
        print(
            f"{backend}: {args.connections} connections, {args.seconds:g} s per workload, "
            f"database {servers.database} {' '.join(args.server)}"
        )
        print(line("ceiling: PING after one hop (before)", top))
        spare = spare_tokens(servers.database, 50_000) if "resume" in only else []
        for key, (name, workload, setup) in zip(
            ("ping", "list", "cart", "resume", "resume", "checkout"),
            workloads(ids, tokens, port, spare),
            strict=True,
        ):
            if key not in only:
                continue
            r = asyncio.run(
                loadgen.run(port, workload, args.connections, args.seconds, setup=setup)
            )
            shown.append((name, r, ""))
            if workload is listing and "ws" in only:
                # The same workload over WebSocket (binary messages), beside
                # TCP's in the same run.
                ws = asyncio.run(
                    loadgen.run(
                        servers.web_port,
                        listing,
                        args.connections,
                        args.seconds,
                        kind=loadgen.WSConn,
                    )
                )
                shown.append(
                    ("  over WebSocket (binary)", ws, f"  {ws['ops'] / r['ops']:4.2f} of TCP")
                )
        if "mix" in only:
            by_op = {}
            r = asyncio.run(
                loadgen.run(
                    port,
                    mix.workload(names, every_id, by_op),
                    args.connections,
                    args.seconds,
                    setup=login,
                )
            )
            listed = mix.percentile_ms(by_op.get("LIST_PRODUCT", []), 0.5)
            shown.append(("mix (80/12/5/3, 20 stores)", r, f"  LIST_PRODUCT p50 {listed:.2f} ms"))
            shown.append(("  within the mix: ", None, mix.per_op(by_op)))
        again = asyncio.run(loadgen.run(ceiling_port, ping, args.connections, args.seconds))
        print(line("ceiling: PING after one hop (after)", again))
        mean = (top["ops"] + again["ops"]) / 2
        print(f"ratios below are to the ceiling's mean, {mean:.0f} ops/s")
        for name, r, extra in shown:
            print((line(name, r, mean) if r else name) + extra)
        if "page" in only:
            # On servers of its own (with --metrics), on this pass's database.
            for text in page.run(
                servers.database, ids, PASSWORD, args.connections, args.seconds, args.server
            ):
                print(text)
        if "storm" in only:
            storm, pings = asyncio.run(login_storm(port, args.seconds, args.connections))
            print(line("login storm (login + logout)", storm))
            print(line("  PING during the login storm", pings))
        if "idle" in only:

            async def measure_idle():
                conns = await idle_connections(port, args.idle)
                kb = rss_kb(servers.pids()[0])
                for _, writer in conns:
                    writer.close()
                return kb

            before = rss_kb(servers.pids()[0])
            after = asyncio.run(measure_idle())
            print(
                f"server RSS: {before / 1024:.1f} MB before, {after / 1024:.1f} MB "
                f"with {args.idle} idle connections"
            )
    finally:
        servers.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--database",
        default=os.environ.get("CYBERMARKET_TEST_DATABASE"),
        help="a PostgreSQL server's URL, where the run gets a fresh database "
        "(default: CYBERMARKET_TEST_DATABASE, else a fresh SQLite file)",
    )
    parser.add_argument(
        "--both",
        action="store_true",
        help="a pass on SQLite, then one on the PostgreSQL of --database "
        "(or CYBERMARKET_TEST_DATABASE) when there is one",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"the workloads to run, comma-separated (default: all of {','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--idle", type=int, default=2000, help="idle connections for the RSS figure"
    )
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="OPTION",
        help="an option for twistd cybermarket, e.g. --server=--sqlite-synchronous=NORMAL",
    )
    args = parser.parse_args()
    unknown = set(args.workloads.split(",")) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + 200)), hard))

    passes = [args.database or None]
    if args.both:
        passes = [None] + ([args.database] if args.database else [])
    ceiling_port = free_port()
    ceiling = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "ceiling.py"), str(ceiling_port)]
    )
    try:
        wait_for_port(ceiling_port)
        for n, url in enumerate(passes):
            if n:
                print()
            run_pass(args, url, ceiling_port)
    finally:
        ceiling.terminate()
        ceiling.wait()


if __name__ == "__main__":
    main()
