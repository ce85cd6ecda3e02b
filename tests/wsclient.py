"""A minimal blocking WebSocket client for the tests, on wsproto over a
socket: binary messages carry MessagePack bodies, text messages JSON."""

from __future__ import annotations

import json
import socket
from typing import Any

import msgpack
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)


class Rejected(Exception):
    """The server refused the upgrade with an HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"upgrade refused: {status}")
        self.status = status


class Closed(Exception):
    """The server closed the WebSocket (code) or the connection (None)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed: {code}")
        self.code = code


class WSClient:
    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        origin: str | None = None,
        timeout: float = 30.0,
        path: str = "/ws",
        host_header: str | None = None,
        accept_language: str | None = None,
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"origin", origin.encode())] if origin else []
        if accept_language is not None:
            headers.append((b"accept-language", accept_language.encode()))
        self.sock.sendall(
            self.ws.send(
                Request(host=host_header or f"{host}:{port}", target=path, extra_headers=headers)
            )
        )
        self.next_id = 0
        self._events: list = []
        self._parts: list = []
        self.close_code: int | None = None
        event = self._next_event()
        if isinstance(event, RejectConnection):
            raise Rejected(event.status_code)
        assert isinstance(event, AcceptConnection), event

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:
            pass
        self.sock.close()

    def __enter__(self) -> WSClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _next_event(self) -> Any:
        while not self._events:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self._events.extend(self.ws.events())
            if not data and not self._events:
                raise Closed(None)
        return self._events.pop(0)

    # --- messages -----------------------------------------------------------

    def send_bytes(self, body: bytes) -> None:
        self.sock.sendall(self.ws.send(BytesMessage(data=body)))

    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def receive_message(self) -> bytes | str:
        """The next whole message; Closed when the server closes."""
        while True:
            event = self._next_event()
            if isinstance(event, (BytesMessage, TextMessage)):
                self._parts.append(event.data)
                if event.message_finished:
                    parts, self._parts = self._parts, []
                    return (b"" if isinstance(event, BytesMessage) else "").join(parts)
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                raise Closed(event.code)
            elif isinstance(event, RejectData):
                continue

    def receive(self) -> dict:
        message = self.receive_message()
        if isinstance(message, str):
            return json.loads(message)
        return msgpack.unpackb(message, raw=False)

    # --- requests -------------------------------------------------------------

    def send(self, op: str, json_text: bool = False, **args: Any) -> int:
        self.next_id += 1
        body = {"id": self.next_id, "op": op, "args": args}
        if json_text:
            self.send_text(json.dumps(body))
        else:
            self.send_bytes(msgpack.packb(body))
        return self.next_id

    def call(self, op: str, json_text: bool = False, **args: Any) -> dict:
        request_id = self.send(op, json_text, **args)
        response = self.receive()
        assert response["id"] == request_id, response
        return response

    def ok(self, op: str, json_text: bool = False, **args: Any) -> Any:
        response = self.call(op, json_text, **args)
        assert response["status"] in (200, 201), (op, response)
        return response.get("data")


def http_get(port: int, path: str = "/", headers: dict | None = None) -> tuple:
    """(status, headers as a lower-cased dict, body) of a plain GET."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()
