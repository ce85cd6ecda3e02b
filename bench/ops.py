"""What the metrics and the access log cost: every workload of bench/run.py
against servers with them off and on, interleaved, in one run.

    .venv/bin/python bench/ops.py [--seconds 1.5] [--warmup 0.5] [--rounds 11] [--connections 8]

Three servers, each on a fresh SQLite database: plain, with --metrics, and
with --access-log (logging to a file, as twistd -n into a file would).
Each workload runs on the three servers one after the other, and that
round is repeated `rounds` times (off, metrics, log; metrics, log, off;
log, off, metrics; ...: the order turns each round, so that none is always
first after a change of workload).  A burst of load from the rest of a
shared machine then falls on one run of one server, not on all the runs of
one: the table shows the median of the rounds for each server, and the
cost as the median of the rounds' own ratios (each server against the
plain one of the same round, a few seconds apart), with their range.

Beside throughput, the server's CPU time per request (user + system, from
/proc/PID/stat, over the measured window only): what counting adds to each
request, which waiting for a busy core does not change as much as it
changes ops/s.

The budget (issue 16): --metrics costs under 5 % of throughput.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen
from bench.run import seed, spare_tokens, workloads
from bench.servers import Servers, free_port

CONFIGS = [
    ("off", []),
    ("--metrics", ["--metrics", "tcp:{port}:interface=127.0.0.1"]),
    ("--access-log", ["--access-log"]),
]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid`, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def load():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="measured seconds per run")
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="seconds of load before each run's measure"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument(
        "--only", action="append", default=[], help="only the workloads whose name starts so"
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="a second plain server too: its line against the first is what noise "
        "and the bench alone make of two servers that are the same",
    )
    args = parser.parse_args()
    configs = CONFIGS[:1] + [("off again", [])] + CONFIGS[1:] if args.control else CONFIGS

    servers = []
    started = time.time()
    try:
        for name, options in configs:
            extra = [o.format(port=free_port()) for o in options]
            servers.append((name, Servers(extra=extra)))
        plans = {}
        for name, s in servers:
            ids, tokens = asyncio.run(seed(s.port, s.invite(), args.connections))
            # RESUME + logout spends a token per pair: enough for every round.
            spare = spare_tokens(s.database, 8000 * args.rounds)
            plans[name] = workloads(ids, tokens, s.port, spare)
        names = [name for name, _ in servers]
        print(
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}: "
            f"{args.connections} connections, {args.seconds:g} s per run, {args.rounds} rounds "
            f"interleaved, SQLite; load average {load()} at the start"
        )
        print()
        shown = [f"`{name}`" if name.startswith("--") else name for name in names]
        print(
            f"| workload | off ops/s | {' | '.join(shown[1:])} "
            f"| CPU µs/request: {', '.join(shown)} |"
        )
        print("|---" * (len(names) + 2) + "|")
        for index in range(len(plans["off"])):
            label = plans["off"][index][0]
            if args.only and not any(label.startswith(o) for o in args.only):
                continue
            runs = {name: [] for name in names}
            for round_ in range(args.rounds):
                shift = round_ % len(servers)
                for name, s in servers[shift:] + servers[:shift]:
                    _, workload, setup = plans[name][index]
                    pid = s.pids()[0]
                    r = asyncio.run(
                        loadgen.run(
                            s.port,
                            workload,
                            args.connections,
                            args.seconds,
                            warmup=args.warmup,
                            setup=setup,
                            probe=lambda pid=pid: cpu_seconds(pid),
                        )
                    )
                    runs[name].append(r)
            ops = {n: [r["ops"] for r in runs[n]] for n in names}
            cpu = {
                n: statistics.median(1e6 * r["probe"] / r["count"] for r in runs[n] if r["count"])
                for n in names
            }
            errors = sum(r["errors"] for n in names for r in runs[n])
            cells = [f"{statistics.median(ops['off']):.0f}"]
            for name in names[1:]:
                ratios = [a / b - 1 for a, b in zip(ops[name], ops["off"], strict=True)]
                cells.append(
                    f"{statistics.median(ops[name]):.0f} "
                    f"({100 * statistics.median(ratios):+.1f} %, "
                    f"{100 * min(ratios):+.0f} to {100 * max(ratios):+.0f})"
                )
            cells.append(", ".join(f"{cpu[n]:.0f}" for n in names))
            note = f" ({errors} errors)" if errors else ""
            print(f"| {label}{note} | " + " | ".join(cells) + " |", flush=True)
        print()
        print(f"{(time.time() - started) / 60:.1f} minutes; load average {load()} at the end")
    finally:
        for _, s in servers:
            s.stop()


if __name__ == "__main__":
    main()
