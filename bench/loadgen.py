"""A small load generator: several connections, each with one request in
flight, for a fixed time; reports ops/s, p50, p99 and errors.

A workload is an async function (conn, index) -> None that sends requests
with `await conn.call(op, **args)`; every call is timed.
"""

import asyncio
import base64
import os
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


class WSConn(Conn):
    """The same calls over WebSocket at /ws, one binary message each.  The
    frames are written and read here, in a few lines, rather than through a
    WebSocket library: the load generator shares the cores with the server,
    and its own cost per message should be no more than TCP's."""

    def __init__(self, reader, writer, stats):
        super().__init__(reader, writer, stats)
        self.mask = os.urandom(4)
        self.mask_int = int.from_bytes(self.mask * 1024, "big")  # 4 KiB of mask

    @classmethod
    async def open(cls, port, stats, host="127.0.0.1"):
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        return cls(reader, writer, stats)

    def _frame(self, body):
        n = len(body)
        if n < 126:
            head = bytes((0x82, 0x80 | n))
        elif n < 65536:
            head = bytes((0x82, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x82, 0x80 | 127)) + n.to_bytes(8, "big")
        if n <= 4096:
            mask = self.mask_int >> (8 * (4096 - n))
        else:
            mask = int.from_bytes(self.mask * (n // 4 + 1), "big") >> (8 * (-n % 4))
        masked = (int.from_bytes(body, "big") ^ mask).to_bytes(n, "big")
        return head + self.mask + masked

    async def _message(self):
        first, second = await self.reader.readexactly(2)
        n = second & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        body = await self.reader.readexactly(n)
        if first & 0x0F == 0x8:
            raise ConnectionError("closed by the server")
        assert first & 0x80, "fragmented answers are not expected here"
        return body

    async def call(self, op, expect=(200, 201), **args):
        self.next_id += 1
        body = self.packer.pack({"id": self.next_id, "op": op, "args": args})
        started = time.perf_counter()
        self.writer.write(self._frame(body))
        answer = msgpack.unpackb(await self._message(), raw=False)
        self.stats.record(time.perf_counter() - started, answer["status"] in expect)
        return answer


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


async def run(
    port, workload, connections=8, seconds=5.0, warmup=1.0, setup=None, kind=None, probe=None
):
    """Drive `workload` on `connections` connections (of `kind`: Conn, or
    WSConn to the web endpoint's port); `setup(conn, i)` runs once per
    connection first (e.g. to log in).  Returns Stats.summary(); with
    `probe` (a function returning a number, such as the server's CPU
    seconds), its change over the measured window too, as "probe"."""
    stats = Stats()
    kind = kind or Conn
    conns = [await kind.open(port, stats) for _ in range(connections)]
    if setup is not None:
        for i, conn in enumerate(conns):
            await setup(conn, i)
    stop = False

    async def loop(conn, i):
        while not stop:
            await workload(conn, i)

    tasks = [asyncio.ensure_future(loop(c, i)) for i, c in enumerate(conns)]
    await asyncio.sleep(warmup)
    before = probe() if probe is not None else None
    stats.recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stats.recording = False
    duration = time.perf_counter() - started
    after = probe() if probe is not None else None
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in conns:
        c.close()
    summary = stats.summary(duration)
    if probe is not None:
        summary["probe"] = after - before
    return summary
