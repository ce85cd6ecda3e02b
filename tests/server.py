"""The real server as a child process: `twistd -n cybermarket` listening on
a free loopback port, for end-to-end tests over TCP.

The scripts (twistd, cybermarket) are taken from the directory of the
running interpreter, i.e. the virtualenv the tests run in, unless another
bin directory is given (the install tests run a second environment).
"""

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.wire import Client

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for the server to accept connections
STOP_TIMEOUT = 30.0  # seconds for the server to exit after SIGTERM
CLI_TIMEOUT = 120.0

# After an orderly shutdown on SIGTERM, twistd re-raises the signal on itself
# (so that its parent sees "terminated by SIGTERM"): status -SIGTERM from
# subprocess, 143 in a shell.  Exit status 0 is as good.
ORDERLY_EXIT_CODES = (0, -signal.SIGTERM)


def child_env():
    """The environment for child processes: the test run's own, without a
    PYTHONPATH that could make an import work by accident, and with
    unbuffered output so that the log file is current."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # The command line speaks the user's language: English unless a test asks.
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(name, None)
    env["LANG"] = "C.UTF-8"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port():
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate() until it returns something true (returned), or fail
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def run_script(script, *args, cwd, bin_dir=BIN, timeout=CLI_TIMEOUT):
    """Run one of the venv's scripts to completion; the CompletedProcess."""
    return run_command([Path(bin_dir) / script, *args], cwd=cwd, timeout=timeout)


def run_command(command, cwd, timeout=CLI_TIMEOUT):
    """Run a command to completion, without a terminal or input, in the
    tests' environment; the CompletedProcess, output as text."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(*args, **kwargs):
    """Run the `cybermarket` operator command."""
    return run_script("cybermarket", *args, **kwargs)


def run_twistd(*args, **kwargs):
    """Run `twistd ARGS` to completion (for --help and the like)."""
    return run_script("twistd", *args, **kwargs)


def invite(database_url, cwd, bin_dir=BIN):
    """A fresh operator invitation code from `cybermarket invite`."""
    result = run_cli("invite", "--database", database_url, cwd=cwd, bin_dir=bin_dir)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().splitlines()[-1].strip()


# The servers of this process by their --web port, for a browser test's
# message to quote what the server behind a page logged.
BY_WEB_PORT = {}

# What the server logs once it listens.
SERVING = "cybermarket serving on "


class ServerFailed(AssertionError):
    """The server process did not start, or did not stop, as it should."""


class Server:
    """One `twistd -n cybermarket` process.

    start() picks a free loopback port, starts the process with the working
    directory `workdir` and waits until it answers a PING; stop() sends
    SIGTERM and waits for the exit.  `log` is everything the process wrote
    (stdout and stderr) to its log file.
    """

    def __init__(
        self,
        database_url,
        *options,
        workdir=None,
        bin_dir=BIN,
        port=None,
        descriptors=None,
        haproxy=False,
        web=False,
    ):
        self.database_url = database_url
        # Also serve --web (pages and WebSocket) on a free loopback port.
        self.web = web
        self.web_port = None
        # Listen on haproxy:tcp:..., as behind a balancer that sends the
        # PROXY protocol: every connection must begin with its header.
        self.haproxy = haproxy
        # The open-file limit (soft and hard) to run the process under.
        self.descriptors = descriptors
        self.options = [str(o) for o in options]
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cm-e2e-"))
        self.bin_dir = Path(bin_dir)
        self.fixed_port = port
        self.port = None
        self.process = None
        self.log_path = None
        self._log_file = None
        self._runs = 0

    # --- the process ------------------------------------------------------

    def command(self):
        return [
            str(self.bin_dir / "twistd"),
            "-n",
            "--pidfile=",
            "cybermarket",
            "--listen",
            f"{'haproxy:' if self.haproxy else ''}tcp:{self.port}:interface={HOST}",
            "--database",
            self.database_url,
            *([f"--web=tcp:{self.web_port}:interface={HOST}"] if self.web else []),
            *self.options,
        ]

    def _spawn(self):
        self._runs += 1
        self.log_path = self.workdir / f"twistd-{os.getpid()}-{id(self)}-{self._runs}.log"
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_descriptors if self.descriptors else None,
        )

    def _limit_descriptors(self):
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (self.descriptors, self.descriptors))

    @property
    def log(self):
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def _answers_ping(self):
        try:
            with self.client(timeout=5.0) as client:
                return client.call("PING")["status"] == 200
        except Exception:  # not up yet, or not our server on that port
            return False

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    @property
    def shares_port(self):
        return "--reuse-port" in self.options

    def _ready(self):
        # With --reuse-port another process on the port may answer the
        # PING: this one is ready once it holds a listening socket itself.
        # Looked up only once the process says it serves: reading the
        # kernel's socket table takes tens of milliseconds while many
        # recently closed connections are in it.
        if self.shares_port and not (SERVING in self.log and listens(self.pid, self.port)):
            return False
        return self._answers_ping()

    def start(self, timeout=START_TIMEOUT):
        """Start the process and wait until it answers a PING.  A port taken
        by someone else between choosing and binding it is retried on
        another port."""
        attempts = 1 if self.fixed_port else 3
        for attempt in range(1, attempts + 1):
            self.port = self.fixed_port or free_port()
            if self.web:
                self.web_port = free_port()
            self._spawn()
            if self._await_ready(timeout, retry_port=attempt < attempts):
                if self.web:
                    BY_WEB_PORT[self.web_port] = self
                return self
        raise ServerFailed("no free port could be bound")

    def _await_ready(self, timeout, retry_port=False):
        """True once the process serves; False when it lost its port to
        another process and `retry_port`; otherwise fails."""
        deadline = time.monotonic() + timeout
        while True:
            if self._ready():
                return True
            code = self.process.poll()
            if code is not None:
                self._close_log()
                if "address already in use" in self.log.lower() and retry_port:
                    return False  # lost the port to another process
                raise ServerFailed(
                    f"the server exited with status {code} before serving:\n{self.log}"
                )
            if time.monotonic() >= deadline:
                self.kill()
                raise ServerFailed(f"the server did not answer within {timeout:g} s:\n{self.log}")
            time.sleep(0.05)

    def terminate(self):
        """Send SIGTERM (the process keeps running until it has shut down)."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout=STOP_TIMEOUT):
        """The exit status, waiting at most `timeout` seconds for it."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ServerFailed(
                f"the server did not exit within {timeout:g} s:\n{self.log}"
            ) from None
        finally:
            if self.process.poll() is not None:
                self._close_log()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then the exit status.  A server that does not exit in
        time is killed and the test fails."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.terminate()
        try:
            return self.wait(timeout)
        except ServerFailed:
            self.kill()
            raise

    def restart(self, timeout=START_TIMEOUT):
        """Stop (asserting a clean exit), then start again on the same
        database with the same options."""
        code = self.stop()
        assert code in ORDERLY_EXIT_CODES, f"exit status {code}:\n{self.log}"
        return self.start(timeout)

    def crash(self, timeout=STOP_TIMEOUT):
        """SIGKILL: the process dies at once, in the middle of whatever it
        was doing.  Returns the exit status (-SIGKILL)."""
        self.process.kill()
        return self.wait(timeout)

    def kill(self):
        """Make sure the process is gone: SIGTERM, then SIGKILL if needed.
        For finalizers; never raises."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            except OSError:
                pass
        self._close_log()

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # --- talking to it ----------------------------------------------------

    def client(self, timeout=30.0, claim="10.255.0.1"):
        """A connection; behind the (pretended) balancer, one whose PROXY
        header names the client address `claim`."""
        client = Client(self.port, HOST, timeout=timeout)
        if self.haproxy:
            header = f"PROXY TCP4 {claim} {HOST} 40000 {self.port}\r\n"
            client.send_raw(header.encode())
        return client

    def invite(self):
        return invite(self.database_url, self.workdir, self.bin_dir)


# --- TLS ------------------------------------------------------------------------


def self_signed(directory):
    """A self-signed certificate for localhost and 127.0.0.1: (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TLSServer(Server):
    """The server on an ssl: endpoint."""

    def __init__(self, database_url, *options, cert, key, **kwargs):
        super().__init__(database_url, *options, **kwargs)
        self.cert, self.key = cert, key

    def command(self):
        command = super().command()
        where = command.index("--listen") + 1
        command[where] = (
            f"ssl:{self.port}:interface={HOST}:privateKey={self.key}:certKey={self.cert}"
        )
        return command

    def _answers_ping(self):
        from cybermarket.client.blocking import Client as TLSClient

        try:
            with TLSClient(HOST, self.port, tls=True, tls_verify=False, timeout=5.0) as conn:
                return conn.call("PING").ok
        except Exception:  # not up yet
            return False


# --- several processes on one port -------------------------------------------


class ServerGroup:
    """`count` server processes on one loopback port and one database, each
    started with --reuse-port, so that the kernel spreads the connections
    over them.  Quacks like a Server where the tests need it (port,
    client(), invite(), kill())."""

    def __init__(self, database_url, count, *options, workdir=None, bin_dir=BIN):
        self.database_url = database_url
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cm-e2e-"))
        self.bin_dir = Path(bin_dir)
        self.port = free_port()
        self.servers = [
            Server(
                database_url,
                "--reuse-port",
                *options,
                workdir=self.workdir,
                bin_dir=bin_dir,
                port=self.port,
            )
            for _ in range(count)
        ]

    def start(self, timeout=START_TIMEOUT):
        """Start every process at once (they also bring the schema up to
        date at once, which must be safe) and wait until each listens on
        the port and answers."""
        try:
            for server in self.servers:
                server.port = self.port
                server._spawn()
            for server in self.servers:
                server._await_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    @property
    def pids(self):
        return [server.pid for server in self.servers if server.running]

    @property
    def log(self):
        return "\n".join(f"--- pid {s.pid} ---\n{s.log}" for s in self.servers)

    def by_pid(self, pid):
        return next(server for server in self.servers if server.pid == pid)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM to every process, then their exit statuses."""
        for server in self.servers:
            if server.running:
                server.terminate()
        return [server.stop(timeout) for server in self.servers]

    def kill(self):
        """For finalizers: every process gone; never raises."""
        for server in self.servers:
            if server.running:
                try:
                    server.terminate()
                except OSError:
                    pass
        for server in self.servers:
            server.kill()

    def client(self, timeout=30.0):
        return Client(self.port, HOST, timeout=timeout)

    def invite(self):
        return invite(self.database_url, self.workdir, self.bin_dir)


# --- which process holds which socket (Linux /proc) ---------------------------


def _tcp_sockets():
    """(local port, remote port, state, inode) of every IPv4 TCP socket
    in this network namespace, from /proc/net/tcp (state 01: established,
    0A: listening; inode 0: not yet accepted)."""
    sockets = []
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            sockets.append(
                (
                    int(local.rsplit(":", 1)[1], 16),
                    int(remote.rsplit(":", 1)[1], 16),
                    state,
                    int(inode),
                )
            )
    return sockets


def unaccepted(port):
    """Connections to `port` made from this machine that the server has not
    accepted yet: the client's end is connected, the server's is still in
    the listen queue (which /proc/net/tcp does not list)."""
    sockets = _tcp_sockets()
    accepted = {remote for local, remote, _, inode in sockets if local == port and inode}
    return sum(
        1
        for local, remote, state, _ in sockets
        if remote == port and state == "01" and local not in accepted
    )


def unread_bytes(local_port, remote_port):
    """Bytes the kernel holds, received and not yet read, on the socket of
    the connection from `remote_port` to `local_port` (its receive queue,
    from /proc/net/tcp); None when there is no such socket."""
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == local_port
                and int(remote.rsplit(":", 1)[1], 16) == remote_port
            ):
                return int(fields[4].split(":")[1], 16)
    return None


def socket_inodes(pid):
    """The inodes of the sockets process `pid` has open."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return inodes
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def listens(pid, port):
    """True when process `pid` holds a socket listening on `port`."""
    listening = {
        inode for lport, _, state, inode in _tcp_sockets() if lport == port and state == "0A"
    }
    return bool(listening & socket_inodes(pid))


def holds_connection_from(pid, client_port):
    """True while process `pid` holds the server end of the connection whose
    client end is on local port `client_port`."""
    ends = {inode for _, remote, _, inode in _tcp_sockets() if remote == client_port and inode}
    return bool(ends & socket_inodes(pid))


def serving_pid(sock, pids):
    """The process, among `pids`, holding the server end of the connected
    client socket `sock` (which must have been answered once, so that the
    server has accepted it), or None."""
    return serving_pids([sock], pids)[0]


def serving_pids(socks, pids):
    """serving_pid() of each socket of `socks`, the kernel's tables read
    once for all."""
    by_ends = {}
    for lport, rport, _, inode in _tcp_sockets():
        if inode:
            by_ends.setdefault((lport, rport), set()).add(inode)
    held = {pid: socket_inodes(pid) for pid in pids}
    found = []
    for sock in socks:
        inodes = by_ends.get((sock.getpeername()[1], sock.getsockname()[1]), set())
        found.append(next((pid for pid in pids if inodes & held[pid]), None))
    return found
