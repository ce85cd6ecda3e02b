"""A small load generator: several connections, each with one request in
flight, for a fixed time; reports ops/s, p50, p99 and errors.

A workload is an async function (conn, index) -> None that sends requests
with `await conn.call(op, **args)`; every call is timed.
"""

import asyncio
import struct
import time

import msgpack

_HEADER = struct.Struct(">I")


class Conn:
    def __init__(self, reader, writer, stats):
        self.reader, self.writer, self.stats = reader, writer, stats
        self.next_id = 0
        self.packer = msgpack.Packer()

    @classmethod
    async def open(cls, port, stats, host="127.0.0.1"):
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, stats)

    async def call(self, op, expect=(200, 201), **args):
        self.next_id += 1
        body = self.packer.pack({"id": self.next_id, "op": op, "args": args})
        started = time.perf_counter()
        self.writer.write(_HEADER.pack(len(body)) + body)
        (length,) = _HEADER.unpack(await self.reader.readexactly(4))
        answer = msgpack.unpackb(await self.reader.readexactly(length), raw=False)
        self.stats.record(time.perf_counter() - started, answer["status"] in expect)
        return answer

    def close(self):
        self.writer.close()


class Stats:
    def __init__(self):
        self.latencies = []
        self.errors = 0
        self.recording = False

    def record(self, seconds, ok):
        if self.recording:
            self.latencies.append(seconds)
            self.errors += not ok

    def summary(self, duration):
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p):
            return lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")

        return {
            "ops": n / duration,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "errors": self.errors,
            "count": n,
        }


async def run(port, workload, connections=8, seconds=5.0, warmup=1.0, setup=None):
    """Drive `workload` on `connections` connections; `setup(conn, i)` runs
    once per connection first (e.g. to log in).  Returns Stats.summary()."""
    stats = Stats()
    conns = [await Conn.open(port, stats) for _ in range(connections)]
    if setup is not None:
        for i, conn in enumerate(conns):
            await setup(conn, i)
    stop = False

    async def loop(conn, i):
        while not stop:
            await workload(conn, i)

    tasks = [asyncio.ensure_future(loop(c, i)) for i, c in enumerate(conns)]
    await asyncio.sleep(warmup)
    stats.recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stats.recording = False
    duration = time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in conns:
        c.close()
    return stats.summary(duration)
