"""The `reuseport:` server endpoint: TCP, with SO_REUSEPORT set on the
listening socket.

With it, several server processes on one machine listen on one port and
the kernel spreads incoming connections over them.  Twisted's own tcp:
endpoint cannot set the option, so this one listens with a subclass of
Twisted's TCP port that sets it on the socket before binding; everything
else (binding, errors, IPv6, stopping) is Twisted's.

The description is parsed by Twisted (serverFromString): the parser is a
plugin, twisted/plugins/cybermarket_reuseport.py, which calls parse() here.
`--reuse-port` turns a tcp: description into this one
(cybermarket/server/options.py).

    reuseport:PORT[:interface=ADDRESS][:backlog=N]

as `tcp:` takes them (PORT may also be given as port=PORT).
"""

import socket

from twisted.internet import defer, tcp
from twisted.internet.interfaces import IStreamServerEndpoint
from zope.interface import implementer

PREFIX = "reuseport"
DESCRIPTION = f"{PREFIX}:PORT:interface=ADDR[:backlog=N]"
DEFAULT_BACKLOG = 50  # as Twisted's tcp: endpoint


class ReusePort(tcp.Port):
    """A TCP listening port whose socket has SO_REUSEPORT (and, as every
    Twisted TCP port on POSIX, SO_REUSEADDR) set before it is bound."""

    def createInternetSocket(self):
        sock = super().createInternetSocket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return sock


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    def __init__(self, reactor, port, interface="", backlog=DEFAULT_BACKLOG):
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.backlog = backlog

    def listen(self, factory):
        """A Deferred firing with the listening port; a port that cannot be
        bound fails it with CannotListenError, as tcp: does."""
        return defer.execute(self._listen, factory)

    def _listen(self, factory):
        port = ReusePort(self.port, factory, self.backlog, self.interface, self.reactor)
        port.startListening()
        return port


def _integer(name, text):
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{PREFIX}: {name} must be a number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{PREFIX}: {name} must not be negative, not {text!r}")
    return value


def parse(reactor, *args, **kwargs):
    """The endpoint for the words of a `reuseport:` description, after its
    prefix, as serverFromString hands them over."""
    options = dict(kwargs)
    if len(args) > 1 or (args and "port" in options):
        raise ValueError(f"{PREFIX}: one port, please: {DESCRIPTION}")
    if args:
        options["port"] = args[0]
    unknown = sorted(set(options) - {"port", "interface", "backlog"})
    if unknown:
        raise ValueError(f"{PREFIX}: unknown option {unknown[0]!r}; {DESCRIPTION}")
    if "port" not in options:
        raise ValueError(f"{PREFIX}: a port is needed: {DESCRIPTION}")
    return ReusePortEndpoint(
        reactor,
        _integer("port", options["port"]),
        interface=options.get("interface", ""),
        backlog=_integer("backlog", options.get("backlog", DEFAULT_BACKLOG)),
    )
