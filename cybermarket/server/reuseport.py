"""A TCP server endpoint whose socket has SO_REUSEPORT set.

With it, several server processes listen on one port and the kernel spreads
incoming connections over them.  Twisted's tcp: endpoint cannot set the
option, so the socket is made here and handed to the reactor with
adoptStreamPort.
"""

import socket

from twisted.internet import defer
from twisted.internet.interfaces import IStreamServerEndpoint
from zope.interface import implementer


def parse_tcp(description):
    """(port, interface, backlog) of a `tcp:` endpoint description; only the
    tcp endpoint can share its port."""
    parts, current, escaped = [], "", False
    for char in description:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if parts[0] != "tcp":
        raise ValueError("--reuse-port needs a tcp: endpoint, such as tcp:22333")
    port, interface, backlog = None, "", 50
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if not eq:
            port = int(part)
        elif key == "port":
            port = int(value)
        elif key == "interface":
            interface = value
        elif key == "backlog":
            backlog = int(value)
        else:
            raise ValueError(f"--reuse-port: unsupported tcp option {key!r}")
    if port is None:
        raise ValueError("--reuse-port: the tcp endpoint needs a port")
    return port, interface, backlog


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    def __init__(self, reactor, description):
        self.reactor = reactor
        self.port, self.interface, self.backlog = parse_tcp(description)

    def listen(self, factory):
        family = socket.AF_INET6 if ":" in self.interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.interface, self.port))
            sock.listen(self.backlog)
            sock.setblocking(False)
            # adoptStreamPort duplicates the descriptor; ours is closed below.
            return defer.succeed(self.reactor.adoptStreamPort(sock.fileno(), family, factory))
        except Exception:
            return defer.fail()
        finally:
            sock.close()
