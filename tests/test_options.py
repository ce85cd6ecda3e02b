"""`twistd cybermarket`'s options: parsed and checked before anything
starts, and handed to the parts they configure."""

import re
import subprocess
import sys

import pytest
from twisted.internet import task
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from cybermarket.server import service
from cybermarket.server.options import DEFAULT_BACKLOG, Options, with_backlog
from tests.server import child_env, run_twistd


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_defaults():
    options = parse()
    assert options["page-cache"] == 256
    assert options["sqlite-synchronous"] == "FULL"
    assert options["db-threads"] is None
    assert options["hash-threads"] == 1
    assert options["frame-timeout"] == 30.0
    assert options["connection-buffer"] == 4 * 65536
    assert options["max-connections"] is None  # derived at start
    assert options["max-connections-per-address"] == 256
    assert options["max-page-bytes"] == 1 << 20
    assert options["hash-threads-per-address"] == 2
    assert options["hash-queue"] == 64
    assert options["hash-queue-per-address"] == 16
    assert options["search-threads"] == 1
    assert options["search-threads-per-address"] == 1
    assert options["search-queue"] == 64
    assert options["search-queue-per-address"] == 16
    assert options["session-days"] == 30.0


def test_connection_buffer_follows_the_frame_limit():
    assert parse("--max-frame=1000000")["connection-buffer"] == 4_000_000


@pytest.mark.parametrize(
    "argv",
    [
        ("--page-cache=-1",),
        ("--page-cache=many",),
        ("--db-threads=0",),
        ("--sqlite-synchronous=OFF",),
        ("--max-frame=-5",),
        ("--frame-timeout=0",),
        ("--max-connections=0",),
        ("--max-page-bytes=0",),
        ("--max-connections-per-address=-1",),
        ("--max-frame=2048", "--connection-buffer=1024"),
        ("--hash-queue=0",),
        ("--hash-queue-per-address=-1",),
        ("--hash-threads-per-address=0",),
        ("--search-threads=0",),
        ("--search-threads-per-address=0",),
        ("--search-queue=0",),
        ("--search-queue-per-address=-1",),
        ("--session-days=0",),
        ("--session-days=-1",),
        ("--session-days=nan",),
        ("--session-days=inf",),
        ("--session-days=36501",),
        ("--session-days=soon",),
    ],
)
def test_bad_values_are_refused(argv):
    with pytest.raises(usage.UsageError):
        parse(*argv)


def test_settings_reach_the_database_and_the_protocol(tmp_path):
    options = parse(
        f"--database=sqlite:///{tmp_path / 'm.sqlite3'}",
        "--page-cache=0",
        "--sqlite-synchronous=normal",
        "--max-frame=1024",
        "--idle-timeout=5",
        "--frame-timeout=2",
        "--connection-buffer=4096",
        "--max-connections=50",
        "--max-connections-per-address=7",
        "--session-days=0.5",
    )
    app = service.make_app(options, task.Clock())
    try:
        assert app.db.connection_cache is None  # --page-cache=0: no cache
        assert app.settings.max_frame == 1024
        assert app.settings.idle_timeout == 5.0
        assert app.settings.frame_timeout == 2.0
        assert app.settings.connection_buffer == 4096
        assert app.settings.max_connections == 50
        assert app.settings.max_connections_per_address == 7
        assert app.settings.session_days == 0.5
        with app.db.engine.connect() as conn:
            # PRAGMA synchronous: 1 is NORMAL, 2 is FULL.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    finally:
        app.db.engine.dispose()


def test_hashing_limits_reach_the_hasher(tmp_path):
    options = parse(
        f"--database=sqlite:///{tmp_path / 'm.sqlite3'}",
        "--hash-threads=3",
        "--hash-threads-per-address=1",
        "--hash-queue=20",
        "--hash-queue-per-address=5",
    )
    app = service.make_app(options, task.Clock())
    try:
        hasher = app.hasher
        assert (hasher.threads, hasher.per_address) == (3, 1)
        assert (hasher.queue, hasher.queue_per_address) == (20, 5)
    finally:
        app.db.engine.dispose()


def test_search_limits_reach_the_search_threads(tmp_path):
    options = parse(
        f"--database=sqlite:///{tmp_path / 'm.sqlite3'}",
        "--search-threads=3",
        "--search-threads-per-address=2",
        "--search-queue=20",
        "--search-queue-per-address=5",
    )
    app = service.make_app(options, task.Clock())
    try:
        share = app.searches.share
        assert (app.searches.db.threads, share.threads, share.per_address) == (3, 3, 2)
        assert (share.queue, share.queue_per_address) == (20, 5)
        # A database of their own: their own connections.
        assert app.searches.db is not app.db
    finally:
        app.searches.db.engine.dispose()
        app.db.engine.dispose()


def test_the_accept_language_and_traceback_bounds_reach_the_settings(tmp_path):
    assert parse()["accept-language-ranges"] == 32
    assert parse()["tracebacks-per-second"] == 10
    options = parse(
        f"--database=sqlite:///{tmp_path / 'm.sqlite3'}",
        "--accept-language-ranges=4",
        "--tracebacks-per-second=2",
    )
    app = service.make_app(options, task.Clock())
    try:
        assert app.settings.accept_language_ranges == 4
        assert app.settings.tracebacks_per_second == 2
    finally:
        app.db.engine.dispose()
    for bad in ("0", "-1", "many"):
        for name in ("accept-language-ranges", "tracebacks-per-second"):
            with pytest.raises(usage.UsageError):
                parse(f"--{name}={bad}")


@pytest.mark.parametrize(
    "listen, example",
    [
        ("37269", "tcp:37269:interface=127.0.0.1"),
        ("tcp:abc", "tcp:22333:interface=127.0.0.1"),
        ("tcp:22333:bogus=1", "tcp:22333:interface=127.0.0.1"),
        ("", "tcp:22333:interface=127.0.0.1"),
        ("127.0.0.1:22333", "tcp:22333:interface=127.0.0.1"),
    ],
)
def test_listen_must_be_an_endpoint_description(listen, example):
    with pytest.raises(usage.UsageError) as raised:
        parse("--listen", listen)
    message = str(raised.value)
    assert message.startswith(f"--listen: {listen!r} is not an endpoint description")
    assert "tcp:PORT:interface=ADDR" in message
    assert example in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "listen",
    [
        "tcp:22333",
        "tcp:0:interface=127.0.0.1",
        r"tcp:port=22333:interface=\:\:1",
        "haproxy:tcp:22333:interface=127.0.0.1",
        "unix:/tmp/cybermarket.sock",
    ],
)
def test_endpoint_descriptions_are_taken_as_given(listen):
    assert parse("--listen", listen)["listen"] == listen


def test_a_missing_tls_key_is_refused_when_options_are_parsed(tmp_path):
    missing = tmp_path / "key.pem"
    with pytest.raises(usage.UsageError, match=rf"--listen: .*{missing}"):
        parse("--listen", f"ssl:22333:privateKey={missing}:certKey={missing}")


def test_parsing_options_leaves_the_reactor_alone(tmp_path):
    # twistd installs the reactor it is told to (--reactor) after parsing;
    # one imported while parsing would be the default one, too early.
    probe = (
        "import sys\n"
        "from twisted.plugins.cybermarket_plugin import serviceMaker\n"
        "options = serviceMaker.options()\n"
        "options.parseOptions(['--listen', 'tcp:22333:interface=127.0.0.1'])\n"
        "try:\n"
        "    serviceMaker.options().parseOptions(['--listen', '22333'])\n"
        "except Exception as e:\n"
        "    print(type(e).__name__)\n"
        "print('twisted.internet.reactor' in sys.modules, 'sqlalchemy' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["UsageError", "False", "False"], result.stderr


def test_database_must_be_a_url():
    with pytest.raises(usage.UsageError) as raised:
        parse("--database", "market.sqlite3")
    assert str(raised.value) == (
        "--database: 'market.sqlite3' is not a database URL; "
        "for a SQLite file write sqlite:///market.sqlite3"
    )
    assert parse("--database", "sqlite:///market.sqlite3")["database"] == "sqlite:///market.sqlite3"


def test_page_budget_reaches_the_settings(tmp_path):
    options = parse(f"--database=sqlite:///{tmp_path / 'm.sqlite3'}", "--max-page-bytes=5000")
    app = service.make_app(options, task.Clock())
    try:
        assert app.settings.page_bytes == 5000
    finally:
        app.db.engine.dispose()


def test_a_port_past_65535_is_a_listen_failure_of_one_line():
    error = OverflowError("bind(): port must be 0-65535.")
    assert service.listen_failure(error) == "bind(): port must be 0-65535."
    assert service.listen_failure(ValueError("other")) is None


# --- the listen backlog -------------------------------------------------------------


@pytest.mark.parametrize(
    "description, expected",
    [
        ("tcp:22333:interface=127.0.0.1", "tcp:22333:interface=127.0.0.1:backlog=900"),
        ("tcp6:22333", "tcp6:22333:backlog=900"),
        ("reuseport:22333", "reuseport:22333:backlog=900"),
        ("ssl:443:privateKey=k.pem", "ssl:443:privateKey=k.pem:backlog=900"),
        ("haproxy:tcp:8080", "haproxy:tcp:8080:backlog=900"),
        # The operator's own backlog stands.
        ("tcp:22333:backlog=5", "tcp:22333:backlog=5"),
        ("TCP:22333:interface=::1:backlog=5", "TCP:22333:interface=::1:backlog=5"),
        # Endpoints that take none are left as they are.
        ("unix:/tmp/market.sock", "unix:/tmp/market.sock"),
        ("systemd:domain=INET:index=0", "systemd:domain=INET:index=0"),
    ],
)
def test_the_backlog_goes_where_it_is_taken(description, expected):
    assert with_backlog(description, 900) == expected


def test_every_endpoint_listens_with_the_backlog(tmp_path):
    """--listen, --web and --metrics: the endpoints Twisted makes of them
    carry --listen-backlog (Twisted's own default is 50)."""
    options = parse(
        f"--database=sqlite:///{tmp_path / 'm.sqlite3'}",
        "--listen=tcp:0:interface=127.0.0.1",
        "--web=tcp:0:interface=127.0.0.1",
        "--metrics=tcp:0:interface=127.0.0.1",
        "--listen-backlog=333",
    )
    assert Options()["listen-backlog"] == DEFAULT_BACKLOG == 1024
    market = service.MarketService(
        service.make_app(options, task.Clock()),
        options["listen"],
        task.Clock(),
        web=options["web"],
        metrics=options["metrics"],
        backlog=options["listen-backlog"],
    )
    try:
        assert market.endpoint._backlog == 333
        assert market.web_endpoint._backlog == 333
        (metrics,) = [child for child in market if hasattr(child, "endpoint")]
        assert metrics.endpoint._backlog == 333
    finally:
        market.app.db.engine.dispose()


def test_reuse_port_takes_the_backlog():
    assert serverFromString(None, with_backlog("reuseport:0", 77)).backlog == 77


def test_http_idle_timeout(tmp_path):
    assert parse()["http-idle-timeout"] == 60.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(usage.UsageError):
            parse(f"--http-idle-timeout={bad}")
    options = parse(f"--database=sqlite:///{tmp_path / 'm.sqlite3'}", "--http-idle-timeout=7")
    app = service.make_app(options, task.Clock())
    try:
        assert app.settings.http_idle_timeout == 7.0
    finally:
        app.db.engine.dispose()


# --- how twistd reports a mistake -----------------------------------------------------


@pytest.mark.parametrize(
    "argv, error",
    [
        (
            ["--listen", "23471"],
            "--listen: '23471' is not an endpoint description (Unknown endpoint type: '23471');"
            " for TCP write tcp:PORT:interface=ADDR, such as tcp:23471:interface=127.0.0.1",
        ),
        (
            ["--database", "/tmp/x.sqlite3"],
            "--database: '/tmp/x.sqlite3' is not a database URL;"
            " for a SQLite file write sqlite:////tmp/x.sqlite3",
        ),
        (["--max-frame", "-5"], "must be positive, not -5"),
        (["--no-such-option"], "option --no-such-option not recognized"),
    ],
)
def test_a_mistake_is_told_first_and_alone(tmp_path, argv, error):
    """twistd prints a sub-command's whole help (some 120 lines) before the
    one line that says what is wrong: the mistake comes first here, with
    where to find the help, and nothing else."""
    result = run_twistd("-n", "--pidfile=", "cybermarket", *argv, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("twistd cybermarket: "), result.stderr
    assert error in lines[0]
    assert lines[1:] == ["`twistd cybermarket --help` lists the options."]
    assert not list(tmp_path.iterdir())


def test_help_still_lists_every_option(tmp_path):
    result = run_twistd("cybermarket", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: twistd [options] cybermarket [options]\n")
    for option in Options().docs:
        assert f"--{option}" in result.stdout, option


def test_option_help_has_no_runs_of_spaces():
    """Each option's help is its words, one space apart (two after a full
    stop): a docstring's line breaks and indentation must not show."""
    for line in Options().getUsage(width=1000).splitlines():
        name = re.match(r" *(-\w, *)?--[\w-]+=? +", line)
        if name:
            assert "   " not in line[name.end() :], line
