"""The `reuseport:` server endpoint: Twisted parses the description
(serverFromString, through the plugin twisted/plugins/cybermarket_reuseport.py),
and the listening socket has SO_REUSEPORT set, so that several listeners
share one port."""

import errno
import socket
from pathlib import Path

import pytest
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IStreamServerEndpoint, IStreamServerEndpointStringParser
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python import usage

from cybermarket.server import options as server_options
from cybermarket.server.reuseport import ReusePortEndpoint
from tests.server import HOST, Server, free_port, listens, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def reactor():
    """A reactor that runs nothing: the ports are real sockets, bound and
    listening, which is all these tests look at; advance() lets a stopped
    port close its socket."""
    clock = MemoryReactorClock()
    yield clock
    clock.advance(0)


@pytest.fixture
def listen(reactor):
    """listen(description): the listening port of an endpoint description,
    stopped at the end of the test."""
    ports = []

    def listen(description):
        results = []
        endpoint = serverFromString(reactor, description)
        endpoint.listen(Factory.forProtocol(Protocol)).addBoth(results.append)
        (port,) = results
        if not isinstance(port, Exception) and hasattr(port, "stopListening"):
            ports.append(port)
        return port

    yield listen
    for port in ports:
        port.stopListening()


def reuse_port(port):
    return port.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)


def test_the_plugin_is_found_in_the_project(tmp_path):
    parsers = {p.prefix: p for p in getPlugins(IStreamServerEndpointStringParser)}
    assert "reuseport" in parsers
    module = __import__(type(parsers["reuseport"]).__module__, fromlist=["_"])
    assert (
        Path(module.__file__).resolve() == ROOT / "twisted" / "plugins" / "cybermarket_reuseport.py"
    )


def test_twisted_parses_the_description(reactor):
    endpoint = serverFromString(reactor, "reuseport:0:interface=127.0.0.1:backlog=7")
    assert IStreamServerEndpoint.providedBy(endpoint)
    assert isinstance(endpoint, ReusePortEndpoint)
    assert (endpoint.port, endpoint.interface, endpoint.backlog) == (0, "127.0.0.1", 7)
    named = serverFromString(reactor, "reuseport:port=22333")
    assert (named.port, named.interface, named.backlog) == (22333, "", 50)
    # Escaped colons, as in any endpoint description.
    six = serverFromString(reactor, r"reuseport:0:interface=\:\:1")
    assert six.interface == "::1"


@pytest.mark.parametrize(
    "description, reason",
    [
        ("reuseport:", "port must be a number"),
        ("reuseport:http", "port must be a number"),
        ("reuseport:-1", "port must not be negative"),
        ("reuseport:80:backlog=many", "backlog must be a number"),
        ("reuseport:80:ssl=yes", "unknown option 'ssl'"),
        ("reuseport:80:81", "one port"),
        ("reuseport:interface=127.0.0.1", "a port is needed"),
    ],
)
def test_a_bad_description_says_why(description, reason):
    with pytest.raises(ValueError, match=reason):
        serverFromString(None, description)


def test_the_listening_socket_has_so_reuseport(listen):
    port = listen("reuseport:0:interface=127.0.0.1")
    assert port.getHost().host == "127.0.0.1" and port.getHost().port > 0
    assert reuse_port(port) == 1
    assert port.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_two_listeners_bind_one_port(listen):
    first = listen("reuseport:0:interface=127.0.0.1")
    number = first.getHost().port
    second = listen(f"reuseport:{number}:interface=127.0.0.1")
    assert second.getHost().port == number
    assert reuse_port(second) == 1
    # A socket without the option cannot join them: it is the option that
    # shares the port.
    with socket.socket() as plain, pytest.raises(OSError) as refused:
        plain.bind(("127.0.0.1", number))
    assert refused.value.errno == errno.EADDRINUSE


def test_a_port_taken_without_the_option_is_cannot_listen(listen):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        failure = listen(f"reuseport:{taken.getsockname()[1]}:interface=127.0.0.1")
    assert failure.check(CannotListenError)
    assert failure.value.socketError.errno == errno.EADDRINUSE


def test_ipv6(listen):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        port = listen(r"reuseport:0:interface=\:\:1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    if not hasattr(port, "socket"):
        pytest.skip(f"no IPv6 loopback: {port}")
    assert port.socket.family == socket.AF_INET6 and reuse_port(port) == 1


# --- the options -----------------------------------------------------------------


def parsed(*argv):
    opts = server_options.Options()
    opts.parseOptions(list(argv))
    return opts


@pytest.mark.parametrize(
    "listen, served",
    [
        ("tcp:22333:interface=127.0.0.1", "reuseport:22333:interface=127.0.0.1"),
        ("tcp:port=22333:backlog=5", "reuseport:port=22333:backlog=5"),
        ("reuseport:22333", "reuseport:22333"),
    ],
)
def test_reuse_port_serves_a_tcp_description_as_reuseport(listen, served):
    opts = parsed("--listen", listen, "--reuse-port")
    assert opts["listen"] == listen  # as given, for messages
    assert server_options.endpoint_description(opts) == served


def test_listen_takes_reuseport_without_the_flag():
    opts = parsed("--listen", "reuseport:22333:interface=127.0.0.1")
    assert server_options.endpoint_description(opts) == "reuseport:22333:interface=127.0.0.1"


@pytest.mark.parametrize("listen", ["haproxy:tcp:22333", "unix:/tmp/cm.sock"])
def test_reuse_port_refuses_other_endpoints(listen):
    with pytest.raises(usage.UsageError, match="--reuse-port needs a tcp: endpoint"):
        parsed("--listen", listen, "--reuse-port")


def test_listen_refuses_a_bad_reuseport_description():
    with pytest.raises(usage.UsageError, match="unknown option 'bogus'"):
        parsed("--listen", "reuseport:22333:bogus=1")


# --- the server ---------------------------------------------------------------------


def test_two_servers_share_a_port_given_as_reuseport(migrated_url, tmp_path):
    """`--listen reuseport:...`, without --reuse-port: the second process
    binds the port the first holds, and both listen on it."""
    port = free_port()
    listen = f"reuseport:{port}:interface={HOST}"
    servers = [
        Server(migrated_url, "--listen", listen, workdir=tmp_path, port=port) for _ in range(2)
    ]
    try:
        for server in servers:
            server.start()
            wait_until(
                lambda server=server: listens(server.pid, port), 30, what="the server listening"
            )
        assert all(server.running for server in servers)
        assert f"cybermarket serving on {listen}" in servers[1].log
        with servers[1].client() as client:
            assert client.call("PING")["status"] == 200
    finally:
        for server in servers:
            server.kill()
