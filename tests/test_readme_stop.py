"""The README's advice for stopping a server stops that one server: it is
played here with real processes, two servers at a time, and the other one
must keep serving.  Matching the command line (`pkill -f '...'`) stops
every server on the machine started the same way, so the README never
gives it as the way to stop one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from tests.server import BIN, HOST, child_env, free_port, wait_until
from tests.wire import Client

README = Path(__file__).resolve().parent.parent / "README.md"
TIMEOUT = 30.0


def answers(port: int) -> bool:
    try:
        with Client(port, host=HOST, timeout=5.0) as c:
            return c.call("PING")["status"] == 200
    except OSError:
        return False


def gone(port: int) -> bool:
    return not answers(port)


def play(script: str, cwd: Path) -> subprocess.Popen:
    """The README's shell lines, run by bash in a process group of its own
    (so that whatever it left running is stopped at the end)."""
    return subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process.wait(timeout=TIMEOUT)


def test_the_readme_never_stops_servers_by_their_command_line():
    text = README.read_text()
    assert not re.search(r"pkill(\s+-\w+)*\s+-f\s+['\"]", text), "pkill -f '...' in README.md"
    assert "killall" not in text


def test_make_runs_background_server_stops_alone(tmp_path):
    # The README's command for `make run &`, played on `make` running a rule
    # of the same shape as the Makefile's `run` (twistd in the foreground,
    # no pid file), twice, on ports and databases of their own.
    (command,) = re.findall(r"`(pkill -TERM -P \$!)`", README.read_text())
    (tmp_path / "Makefile").write_text(
        "run:\n"
        f"\t{BIN}/twistd -n --pidfile= cybermarket"
        " --listen tcp:$(PORT):interface=127.0.0.1 --database sqlite:///$(PORT).sqlite3\n"
    )
    other, mine = free_port(), free_port()
    script = (
        f"make run PORT={other} > other.log 2>&1 &\n"
        f"make run PORT={mine} > mine.log 2>&1 &\n"
        "until [ -e go ]; do sleep 0.1; done\n"
        f"{command}\n"
        "wait $!\n"
        "touch stopped\n"
        "sleep 600\n"
    )
    shell = play(script, tmp_path)
    try:
        wait_until(lambda: answers(other) and answers(mine), TIMEOUT, what="both servers")
        (tmp_path / "go").touch()
        wait_until(lambda: (tmp_path / "stopped").exists(), TIMEOUT, what="make's exit")
        wait_until(lambda: gone(mine), TIMEOUT, what="the server to stop")
        assert answers(other), "the other server stopped too"
    finally:
        stop_group(shell)


def stopping_one_server() -> list[str]:
    """The shell lines of the README's "Stopping one server"."""
    text = README.read_text()
    section = text.split("### Stopping one server", 1)[1]
    block = section.split("```", 2)[1]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_a_server_with_its_own_pid_file_stops_alone(tmp_path):
    lines = stopping_one_server()
    starts = [line for line in lines if "twistd" in line]
    stops = [line for line in lines if line.startswith("kill ")]
    assert len(starts) == 2 and len(stops) == 1, lines
    ports = [free_port(), free_port()]
    script = []
    for line, port in zip(starts, ports, strict=True):
        line = line.replace(".venv/bin/twistd", f"{BIN}/twistd")
        line = re.sub(r"tcp:\d+:", f"tcp:{port}:", line)
        # A database of its own each, in this test's folder.
        line = line.replace(" cybermarket ", f" cybermarket --database sqlite:///{port}.sqlite3 ")
        script.append(line.replace(" &", " > /dev/null 2>&1 &"))
    script += ["until [ -e go ]; do sleep 0.1; done", *stops, "sleep 600"]
    shell = play("\n".join(script) + "\n", tmp_path)
    try:
        wait_until(lambda: all(answers(p) for p in ports), TIMEOUT, what="both servers")
        (tmp_path / "go").touch()
        wait_until(lambda: gone(ports[0]), TIMEOUT, what="the first server to stop")
        assert answers(ports[1]), "the other server stopped too"
        # twistd removes its pid file when it exits.
        wait_until(lambda: not (tmp_path / "server1.pid").exists(), TIMEOUT, what="server1.pid")
        assert (tmp_path / "server2.pid").exists()
    finally:
        stop_group(shell)
