"""A minimal blocking client for the tests, written from the wire contract:
4-byte big-endian length, then a MessagePack map."""

import socket
import struct

import msgpack


def frame(body):
    return struct.pack(">I", len(body)) + body


def request(op, request_id=1, **args):
    return msgpack.packb({"id": request_id, "op": op, "args": args})


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=30.0, source=None):
        # `source`: the local address to connect from, such as 127.0.0.2,
        # for tests that need the server to see several peer addresses.
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.next_id = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, op, **args):
        self.next_id += 1
        self.send_raw(frame(request(op, self.next_id, **args)))
        return self.next_id

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def receive(self):
        (length,) = struct.unpack(">I", self._exactly(4))
        return msgpack.unpackb(self._exactly(length), raw=False)

    def call(self, op, **args):
        request_id = self.send(op, **args)
        response = self.receive()
        assert response["id"] == request_id, response
        return response

    def ok(self, op, **args):
        """call(), insisting on success; returns the data."""
        response = self.call(op, **args)
        assert response["status"] in (200, 201), (op, response)
        return response.get("data")
