"""What the metrics and the access log cost: every workload of bench/run.py
against servers with them off and on, in one run.

    .venv/bin/python bench/ops.py [--seconds 5] [--connections 8] [--rounds 2]

Three servers, each on a fresh SQLite database: plain, with --metrics, and
with --access-log (logging to a file, as twistd -n into a file would).
Each workload runs on each server in turn, `rounds` times, so that noise
from the rest of the machine falls on all three alike; the best round of
each is kept.  One line per workload and server: ops/s and the change
against the plain server.
"""

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen
from bench.run import seed, workloads
from bench.servers import Servers, free_port

CONFIGS = [
    ("off", []),
    ("--metrics", ["--metrics", "tcp:{port}:interface=127.0.0.1"]),
    ("--access-log", ["--access-log"]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    servers = []
    try:
        for name, options in CONFIGS:
            extra = [o.format(port=free_port()) for o in options]
            servers.append((name, Servers(extra=extra)))
        ids = {}
        for name, s in servers:
            ids[name] = asyncio.run(seed(s.port, s.invite(), args.connections))
        print(
            f"{args.connections} connections, {args.seconds:g} s per run, best of "
            f"{args.rounds} rounds, SQLite"
        )
        for index, (label, _, _) in enumerate(workloads(ids["off"])):
            best = {}
            for _ in range(args.rounds):
                for name, s in servers:
                    _, workload, setup = workloads(ids[name])[index]
                    r = asyncio.run(
                        loadgen.run(s.port, workload, args.connections, args.seconds, setup=setup)
                    )
                    if name not in best or r["ops"] > best[name]["ops"]:
                        best[name] = r
            base = best["off"]["ops"]
            for name, _ in servers:
                r = best[name]
                change = "" if name == "off" else f"  {100 * (r['ops'] / base - 1):+5.1f} %"
                print(
                    f"{label:<30} {name:<14} {r['ops']:8.0f} ops/s  p99 {r['p99_ms']:6.2f} ms"
                    f"  errors {r['errors']}{change}"
                )
    finally:
        for _, s in servers:
            s.stop()


if __name__ == "__main__":
    main()
