"""`reuseport:PORT:interface=ADDR[:backlog=N]`: the server endpoint parser
that Twisted's serverFromString finds among its plugins, for TCP with
SO_REUSEPORT (cybermarket/server/reuseport.py).

Kept light, like cybermarket_plugin.py beside it: every plugin scan (by
twistd, by any serverFromString with a prefix Twisted does not know)
imports this module, so the endpoint itself is imported only when a
description is parsed.
"""

from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IStreamServerEndpointStringParser)
class ReusePortParser:
    prefix = "reuseport"

    def parseStreamServer(self, reactor, *args, **kwargs):
        from cybermarket.server.reuseport import parse

        return parse(reactor, *args, **kwargs)


reusePortParser = ReusePortParser()
