"""The ceiling: the least this design can cost per request.

A bare Int32StringReceiver that decodes MessagePack and answers PING after
one deferToThread hop, with no validation, no database and no handlers.

    python bench/ceiling.py PORT
"""

import sys

import msgpack
from twisted.internet import reactor, threads
from twisted.internet.protocol import Factory
from twisted.protocols.basic import Int32StringReceiver


def nothing():
    return None


class Ceiling(Int32StringReceiver):
    MAX_LENGTH = 65536

    def stringReceived(self, body):
        request = msgpack.unpackb(body)
        d = threads.deferToThread(nothing)
        d.addCallback(
            lambda _: self.sendString(
                msgpack.packb({"id": request["id"], "status": 200, "message": "ok"})
            )
        )


def main():
    port = int(sys.argv[1])
    reactor.listenTCP(port, Factory.forProtocol(Ceiling), interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
