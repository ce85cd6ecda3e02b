"""Start and stop `twistd cybermarket` processes for the benchmarks."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline=60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def fresh_database(url, name):
    """`url` itself for SQLite (None: a new file per Servers); on PostgreSQL,
    a new database `name` on that server, so that every run starts alike."""
    if not url or not url.startswith("postgresql"):
        return url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(False)


class Servers:
    """`count` server processes on one port (SO_REUSEPORT) and one database."""

    def __init__(self, database=None, count=1, extra=(), descriptors=None, web=False):
        self.workdir = tempfile.mkdtemp(prefix="cybermarket-bench-")
        self.database = database or f"sqlite:///{self.workdir}/bench.sqlite3"
        self.port = free_port()
        # The web endpoint (pages and WebSocket), when asked for.
        self.web_port = free_port() if web else None
        self.procs = []
        args = [
            "--listen",
            f"tcp:{self.port}:interface=127.0.0.1",
            "--database",
            self.database,
            *([f"--web=tcp:{self.web_port}:interface=127.0.0.1"] if web else []),
            *extra,
        ]
        if count > 1:
            args.append("--reuse-port")
        # Bring the schema up once, so the processes do not queue for it.
        subprocess.run(
            [str(BIN / "cybermarket"), "db", "upgrade", "--database", self.database],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=self.workdir,
        )

        def limit():  # the open-file limit, soft and hard, of each process
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors, descriptors))

        for i in range(count):
            log = open(os.path.join(self.workdir, f"server{i}.log"), "w")
            self.procs.append(
                subprocess.Popen(
                    [str(BIN / "twistd"), "-n", "--pidfile=", "cybermarket", *args],
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=limit if descriptors else None,
                )
            )
        wait_for_port(self.port)
        if web:
            wait_for_port(self.web_port)
        time.sleep(0.5 if count > 1 else 0)  # let every process bind

    def invite(self):
        out = subprocess.run(
            [str(BIN / "cybermarket"), "invite", "--database", self.database],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.workdir,
        )
        return out.stdout.split()[-1]

    def log(self, i=0):
        with open(os.path.join(self.workdir, f"server{i}.log")) as f:
            return f.read()

    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
