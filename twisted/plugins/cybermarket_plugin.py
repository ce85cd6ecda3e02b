"""`twistd cybermarket`: the plugin twistd finds by scanning twisted/plugins.

Deliberately light: no reactor, no SQLAlchemy at import time.  Everything
heavy is imported when the service is made.
"""

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from zope.interface import implementer

from cybermarket.server.options import Options


@implementer(IServiceMaker, IPlugin)
class CybermarketServiceMaker:
    tapname = "cybermarket"
    description = "The cybermarket marketplace server."
    options = Options

    def makeService(self, options):
        from cybermarket.server.service import make_service

        return make_service(options)


serviceMaker = CybermarketServiceMaker()
