"""Throw hostile input at a cybermarket server and check it survives.

    python bench/fuzz.py                  # start a server on a temp SQLite file
    python bench/fuzz.py --port 22333     # or fuzz one that is running

Several connections send --frames frames in all: random bytes, valid
envelopes with wrong types, huge integers, deep nesting, oversized length
prefixes, frames cut short by a closed connection, and slowloris-style
frames dribbled a byte at a time.  The run fails if any answer is a 500, if
the server dies, or if it does not answer PING at the end.  Loopback only;
bounded in frames and in time.
"""

import argparse
import asyncio
import collections
import os
import random
import struct
import sys
import time
from pathlib import Path

import msgpack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import Servers
from cybermarket.ops import OPS

HUGE = [2**64 - 1, 2**63, 2**63 - 1, -(2**63), 2**31, -1, 0]


def random_value(rng, depth=0):
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice(HUGE + [rng.randrange(-1000, 10**6)])
    if kind == 3:
        return rng.choice([float("nan"), float("inf"), -0.0, 19.99, 1e308])
    if kind == 4:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 30)))
    if kind == 5:
        return rng.choice(["", "19.99", "-1", "1e3", "NaN", "a@b.c", "x" * 300, "0.001"])
    if kind == 6:
        return os.urandom(rng.randrange(0, 20))
    if kind in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {
        str(random_value(rng, 3)): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))
    }


def random_body(rng):
    """One request body; most are near-valid, so validation is what's hit."""
    kind = rng.randrange(8)
    if kind == 0:
        return os.urandom(rng.randrange(0, 200))
    if kind == 1:  # deep nesting
        depth = rng.choice([10, 100, 1000, 5000, 60000])
        return b"\x91" * depth + b"\xc0"
    if kind == 2:  # a valid envelope, then bytes flipped
        body = bytearray(msgpack.packb({"id": 1, "op": rng.choice(list(OPS)), "args": {}}))
        for _ in range(rng.randrange(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        return bytes(body)
    name = rng.choice(list(OPS) + ["", "NOPE", "ping"])
    spec = OPS.get(name)
    keys = list(spec.args) if spec else []
    args = {}
    for key in keys + ["extra"] * (rng.random() < 0.2):
        if rng.random() < 0.8:
            args[key] = random_value(rng)
    message = {"id": rng.choice([rng.randrange(10**6), -1, "7", None, 2**64 - 1]), "op": name}
    if rng.random() < 0.9:
        message["args"] = args if rng.random() < 0.9 else random_value(rng)
    try:
        return msgpack.packb(message)
    except Exception:
        return msgpack.packb({"id": 1, "op": name})


class Tally:
    def __init__(self):
        self.statuses = collections.Counter()
        self.sent = 0
        self.bad = []


async def read_answer(reader):
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">I", head)
    return msgpack.unpackb(await reader.readexactly(length), raw=False)


async def worker(port, rng, frames, tally, deadline):
    reader = writer = None
    while tally.sent < frames and time.monotonic() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        choice = rng.random()
        tally.sent += 1
        if choice < 0.01:  # oversized: 413, then the server closes
            writer.write(struct.pack(">I", 10**7) + b"x" * 100)
            answer = await read_answer(reader)
            tally.statuses[answer["status"]] += 1
            if answer["status"] != 413:
                tally.bad.append(answer)
            writer.close()
            writer = None
            continue
        if choice < 0.02:  # truncated: promise more than is sent, then hang up
            body = random_body(rng)
            writer.write(struct.pack(">I", len(body) + 10) + body)
            await writer.drain()
            writer.close()
            writer = None
            continue
        body = random_body(rng)
        writer.write(struct.pack(">I", len(body)) + body)
        try:
            answer = await asyncio.wait_for(read_answer(reader), 30)
        except (asyncio.IncompleteReadError, ConnectionError):
            tally.bad.append(("connection closed after a frame", body[:40]))
            writer = None
            continue
        tally.statuses[answer["status"]] += 1
        if answer["status"] >= 500:
            tally.bad.append((answer, body[:80]))
    if writer is not None:
        writer.close()


async def dribbler(port, rng, count, tally):
    """Slowloris: frames sent a byte at a time, a few ms apart."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(count):
        body = msgpack.packb({"id": 1, "op": "PING"})
        for byte in struct.pack(">I", len(body)) + body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.002)
        answer = await read_answer(reader)
        tally.statuses[answer["status"]] += 1
        if answer["status"] != 200:
            tally.bad.append(("dribbled PING", answer))
    writer.close()


async def fuzz(port, frames, connections, seconds, seed):
    tally = Tally()
    deadline = time.monotonic() + seconds
    rng = random.Random(seed)
    jobs = [
        worker(port, random.Random(rng.random()), frames, tally, deadline)
        for _ in range(connections)
    ]
    jobs.append(dribbler(port, random.Random(rng.random()), 20, tally))
    await asyncio.gather(*jobs)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ping = msgpack.packb({"id": 99, "op": "PING", "args": {}})
    writer.write(struct.pack(">I", len(ping)) + ping)
    final = await asyncio.wait_for(read_answer(reader), 10)
    writer.close()
    return tally, final


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="fuzz a server already running here")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=600, help="stop after this long")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    server = Servers() if args.port is None else None
    port = args.port if server is None else server.port
    started = time.monotonic()
    try:
        tally, final = asyncio.run(
            fuzz(port, args.frames, args.connections, args.seconds, args.seed)
        )
    finally:
        alive = server is None or server.procs[0].poll() is None
        if server is not None:
            server.stop()
    took = time.monotonic() - started
    print(
        f"frames sent: {tally.sent} in {took:.1f} s"
        f" over {args.connections} connections + 1 dribbler"
    )
    print("answers by status:", dict(sorted(tally.statuses.items())))
    print("server alive at the end:", alive, "| final PING:", final["status"])
    for item in tally.bad[:10]:
        print("PROBLEM:", item)
    ok = alive and final["status"] == 200 and not tally.bad
    print("RESULT:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
