"""The `cybermarket` operator command as a new user meets it: run from a
directory of its own, judged by its exit status and by what it writes to
stdout and stderr.  Each command runs as a real process at least once (its
entry point, the locale a process starts with, a separate process opening
the file); the other runs are in the test's own process (tests.command),
which costs far less."""

import sqlite3

import pytest

from cybermarket.tools import cli
from tests.command import run_here
from tests.server import run_cli


def one_line(text):
    """The text, which must be exactly one line."""
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- a database that is not there ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["invite"],
        ["invite", "--database", "sqlite:///market.sqlite3"],
        ["db", "current"],
        ["db", "current", "--database", "sqlite:///market.sqlite3"],
    ],
)
def test_commands_on_an_existing_database_refuse_a_missing_file(tmp_path, command):
    result = run_here(*command, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    message = one_line(result.stderr)
    name = "market.sqlite3" if "--database" in command else "cybermarket.sqlite3"
    assert f"no database file {tmp_path / name}" in message
    assert "`cybermarket db upgrade" in message and "creates it" in message
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_db_upgrade_creates_the_database_then_invite_works(tmp_path):
    upgraded = run_cli("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "cybermarket.sqlite3").is_file()
    invited = run_cli("invite", cwd=tmp_path)
    assert invited.returncode == 0, invited.stderr
    assert invited.stdout.startswith("Invitation code (valid 7 days, inviter nil):\n")


def test_three_slashes_before_an_absolute_path_ask_for_the_fourth(tmp_path, migrated_sqlite):
    """sqlite:///tmp/pn/market.sqlite3 names tmp/pn/market.sqlite3 under the
    working directory.  When the file the user meant, /tmp/pn/market.sqlite3,
    is there, the command says so, rather than suggesting a `db upgrade`
    that would fail on the missing folder."""
    database = tmp_path / "pn" / "market.sqlite3"
    work = tmp_path / "pn" / "cm"
    work.mkdir(parents=True)
    meant = f"sqlite:///{database}"  # four slashes: the absolute path
    migrated_sqlite(database)  # the file the user meant, as `db upgrade` with `meant` makes it
    typed = f"sqlite://{database}"  # three slashes: a relative path
    assert not typed.startswith("sqlite:////")
    for command in (["invite"], ["db", "current"], ["report"]):
        result = run_here(*command, "--database", typed, cwd=work)
        assert result.returncode == 1, result.stderr
        assert result.stdout == ""
        line = one_line(result.stderr)
        assert f"no database file {work}{database}; did you mean `{meant}`?" in line
        assert "creates it" not in line
    assert list(work.iterdir()) == []  # nothing created


def test_a_missing_folder_is_told_instead_of_an_upgrade_that_would_fail(tmp_path):
    result = run_here("invite", "--database", "sqlite:///no/such/market.sqlite3", cwd=tmp_path)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"no database file {tmp_path}/no/such/market.sqlite3: no folder {tmp_path}/no/such" in (
        line
    )
    assert "creates it" not in line
    assert list(tmp_path.iterdir()) == []


# --- invite --days ---------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "-1", "365.5", "366", "nan", "inf", "soon"])
def test_invite_days_must_be_from_1_to_365(tmp_path, days):
    result = run_here("invite", "--days", days, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"argument --days: must be from 1 to 365, not {days!r}" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", ["1", "365", "2.5"])
def test_invite_days_in_range_are_taken(migrated_url, capsys, days):
    assert cli.main(["invite", "--database", migrated_url, "--days", days]) == 0
    assert capsys.readouterr().out.startswith(f"Invitation code (valid {days} days, inviter nil):")


# --- invite logs the security event ---------------------------------------------


def test_invite_logs_the_invitation_created_event_on_stderr(migrated_url, tmp_path):
    """The server logs every invitation it issues; the command line logs
    its own the same way, as a twisted.logger line on stderr (stdout stays
    the message and the code, for scripts), and never the code."""
    result = run_here("invite", "--database", migrated_url, "--days", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    code = result.stdout.strip().splitlines()[-1]
    line = one_line(result.stderr)
    assert "[cybermarket.tools.cli#info]" in line
    assert "invitation created by the operator" in line
    assert "cybermarket invite" in line and "valid 3 days" in line
    assert code not in result.stderr


def test_invite_logs_a_json_line_with_log_format_json(migrated_url, tmp_path):
    import json

    from cybermarket.jsonlog import KEYS

    result = run_here("invite", "--database", migrated_url, "--log-format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    code = result.stdout.strip().splitlines()[-1]
    event = json.loads(one_line(result.stderr))
    assert list(event)[: len(KEYS)] == list(KEYS)
    assert event["namespace"] == "cybermarket.tools.cli"
    assert event["security"] == "invitation_created"
    assert event["store_id"] is None and event["inviter"] == "the operator"
    assert event["days"] == 7.0 and event["user"]
    assert code not in result.stderr


# --- a path where a URL belongs ----------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["invite"], ["db", "upgrade"], ["db", "current"], ["report"]],
)
def test_a_database_path_is_refused_with_the_url_form(tmp_path, command):
    sqlite3.connect(tmp_path / "market.sqlite3").close()
    result = run_here(*command, "--database", "market.sqlite3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert "--database: 'market.sqlite3' is not a database URL" in last
    assert "sqlite:///market.sqlite3" in last


def test_an_absolute_database_path_is_shown_as_an_absolute_url(tmp_path):
    path = tmp_path / "market.sqlite3"
    result = run_here("report", "--database", path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"sqlite:///{path}" in result.stderr  # four slashes: sqlite:////tmp/...
    assert f"sqlite:////{str(path).lstrip('/')}" in result.stderr


# --- db backup -----------------------------------------------------------------------


def test_db_backup_keeps_commits_that_are_still_in_the_wal(tmp_path, migrated_sqlite):
    migrated_sqlite(tmp_path / "market.sqlite3")
    live = sqlite3.connect(tmp_path / "market.sqlite3")
    try:
        # A server holding the database open: its latest commit is in the
        # -wal file, not yet in the main file.
        assert live.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        live.execute("PRAGMA wal_autocheckpoint=0")
        live.execute("CREATE TABLE recent (note TEXT)")
        live.execute("INSERT INTO recent VALUES ('committed a moment ago')")
        live.commit()
        assert (tmp_path / "market.sqlite3-wal").stat().st_size > 0

        # Copying the main file alone loses that commit...
        (tmp_path / "plain-copy.sqlite3").write_bytes((tmp_path / "market.sqlite3").read_bytes())
        plain = sqlite3.connect(tmp_path / "plain-copy.sqlite3")
        assert (
            plain.execute("SELECT name FROM sqlite_master WHERE name = 'recent'").fetchall() == []
        )
        plain.close()

        # ...the backup, made by another process while the database is open,
        # keeps it.
        result = run_cli(
            "db", "backup", "--database", "sqlite:///market.sqlite3", "copy.sqlite3", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout
            == f"backed up {tmp_path / 'market.sqlite3'} to {tmp_path / 'copy.sqlite3'}\n"
        )
    finally:
        live.close()
    assert not (tmp_path / "copy.sqlite3-wal").exists()  # one file, complete on its own
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT note FROM recent").fetchall() == [("committed a moment ago",)]
    finally:
        copy.close()
    current = run_here("db", "current", "--database", "sqlite:///copy.sqlite3", cwd=tmp_path)
    assert current.returncode == 0, current.stdout + current.stderr


def test_db_backup_of_the_default_database(tmp_path, migrated_sqlite):
    migrated_sqlite(tmp_path / "cybermarket.sqlite3")
    result = run_here("db", "backup", tmp_path / "saved.sqlite3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "saved.sqlite3").is_file()


def journal_mode_of(path):
    """The journal mode a SQLite file's header records: "wal", or
    "rollback" for the modes without a -wal file (DELETE, TRUNCATE ...)."""
    with open(path, "rb") as f:
        header = f.read(20)
    return {1: "rollback", 2: "wal"}[header[18]]


def test_commands_that_only_read_leave_a_backup_as_it_was(tmp_path, migrated_sqlite):
    """A backup is one file in rollback-journal mode; `db current` and
    `report` open it read-only and leave it so: no WAL mode, no -wal or
    -shm beside it, not a byte changed.  Nor does a restore leave them.
    (Those three run as processes of their own, as an operator runs them.)"""
    migrated_sqlite(tmp_path / "cybermarket.sqlite3")
    assert run_here("db", "backup", "saved.sqlite3", cwd=tmp_path).returncode == 0
    saved = tmp_path / "saved.sqlite3"
    before = saved.read_bytes()
    assert journal_mode_of(saved) == "rollback"
    url = "sqlite:///saved.sqlite3"
    current = run_cli("db", "current", "--database", url, cwd=tmp_path)
    assert current.returncode == 0, current.stdout + current.stderr
    report = run_cli("report", "--database", url, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert journal_mode_of(saved) == "rollback"
    assert saved.read_bytes() == before
    assert not (tmp_path / "saved.sqlite3-wal").exists()
    assert not (tmp_path / "saved.sqlite3-shm").exists()

    restored = run_cli(
        "db", "restore", "--database", "sqlite:///restored.sqlite3", "saved.sqlite3", cwd=tmp_path
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert journal_mode_of(tmp_path / "restored.sqlite3") == "rollback"
    assert not (tmp_path / "restored.sqlite3-wal").exists()
    assert not (tmp_path / "restored.sqlite3-shm").exists()


def test_db_current_reads_a_database_servers_have_open(tmp_path, migrated_sqlite):
    """Read-only, `db current` still sees what a server holding the
    database open has committed to its -wal file."""
    migrated_sqlite(tmp_path / "cybermarket.sqlite3")
    live = sqlite3.connect(tmp_path / "cybermarket.sqlite3")
    try:
        live.execute("PRAGMA wal_autocheckpoint=0")
        live.execute("UPDATE alembic_version SET version_num = 'elsewhere'")
        live.commit()
        assert (tmp_path / "cybermarket.sqlite3-wal").stat().st_size > 0
        result = run_cli("db", "current", cwd=tmp_path)
    finally:
        live.close()
    assert result.returncode == 1
    assert result.stdout.startswith("current: elsewhere  newest: ")


@pytest.mark.parametrize(
    "database, target, message",
    [
        ("sqlite:///missing.sqlite3", "copy.sqlite3", "no database file {tmp}/missing.sqlite3;"),
        (
            "sqlite:///market.sqlite3",
            "market.sqlite3",
            "{tmp}/market.sqlite3 exists; give a file that does not",
        ),
        ("sqlite:///market.sqlite3", "no/such/copy.sqlite3", "no folder {tmp}/no/such"),
        (
            "postgresql+psycopg://market@127.0.0.1:1/market",
            "copy.sqlite3",
            "only SQLite databases; for PostgreSQL use pg_dump",
        ),
    ],
)
def test_db_backup_refuses_in_one_line(tmp_path, database, target, message):
    sqlite3.connect(tmp_path / "market.sqlite3").close()
    before = sorted(tmp_path.iterdir())
    result = run_here("db", "backup", "--database", database, target, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("cybermarket db backup: ")
    assert message.format(tmp=tmp_path) in line
    assert sorted(tmp_path.iterdir()) == before


# --- a database that cannot be opened ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["db", "upgrade", "--database", "sqlite:///no/such/folder/market.sqlite3"],
        ["invite", "--database", "postgresql+psycopg://market@127.0.0.1:1/market"],
        ["db", "current", "--database", "postgresql+psycopg://market@127.0.0.1:1/market"],
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path, command):
    result = run_here(*command, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith(f"cybermarket {' '.join(command[:-2])}: cannot open the database: ")


# --- languages -----------------------------------------------------------------


def run_in(environ, *args, cwd):
    import subprocess

    from tests.server import BIN, child_env

    env = child_env()
    env.update(environ)
    return subprocess.run(
        [str(BIN / "cybermarket"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def here_in(environ, *args, cwd):
    """As run_in, in this process (tests.command)."""
    return run_here(*args, cwd=cwd, environ=environ)


def test_words_follow_the_locale_and_language_overrides_it(tmp_path):
    ru = run_in(
        {"LANG": "ru_RU.UTF-8"}, "db", "backup", "--database", "postgresql://x/y", "f", cwd=tmp_path
    )
    assert "резервное копирование только для баз SQLite" in ru.stderr
    zh = run_in(
        {"LANG": "ru_RU.UTF-8"}, "--language", "zh-CN", "invite", "--days", "0", cwd=tmp_path
    )
    assert "必须在 1 到 365 之间" in zh.stderr
    en = run_in({"LANG": "C"}, "invite", "--days", "0", cwd=tmp_path)
    assert "must be from 1 to 365" in en.stderr


def test_invite_counts_days_in_russian(migrated_url, tmp_path):
    result = here_in(
        {"LANG": "ru_RU.UTF-8"}, "invite", "--database", migrated_url, "--days", "2", cwd=tmp_path
    )
    assert result.stdout.startswith("Код приглашения (действует 2 дня"), result.stdout


def test_help_follows_the_language(tmp_path):
    """Our own descriptions and option help in the user's language;
    argparse's own words ("usage:", "options:") are its own, and stay."""
    wide = {"COLUMNS": "400"}  # no line wrapped inside what is looked for
    ru = here_in({**wide, "LANG": "ru_RU.UTF-8"}, "report", "--help", cwd=tmp_path)
    assert ru.returncode == 0, ru.stderr
    assert "только заказы начиная с этого дня по UTC (ГГГГ-ММ-ДД)" in ru.stdout
    assert "URL базы данных в формате SQLAlchemy (по умолчанию: sqlite:///" in ru.stdout
    assert "также записать в FILE график выручки по дням в формате PNG" in ru.stdout
    zh = here_in({**wide, "LANG": "C.UTF-8"}, "--language", "zh-CN", "--help", cwd=tmp_path)
    assert zh.returncode == 0, zh.stderr
    assert "cybermarket 服务器的运维命令" in zh.stdout
    assert "生成一个新的运营方邀请码" in zh.stdout
    en = here_in({**wide, "LANG": "C.UTF-8"}, "invite", "--help", cwd=tmp_path)
    assert "days until the code expires, 1 to 365 (default 7)" in en.stdout
    assert en.stdout.startswith("usage: cybermarket invite")


def test_a_path_for_a_database_is_refused_in_the_language(tmp_path):
    result = here_in(
        {"LANG": "ru_RU.UTF-8"}, "db", "current", "--database", "market.db", cwd=tmp_path
    )
    assert result.returncode == 2
    assert (
        "'market.db' — не URL базы данных; для файла SQLite напишите sqlite:///market.db"
        in result.stderr
    )
    missing = here_in({"LANG": "zh_CN.UTF-8"}, "invite", cwd=tmp_path)
    assert missing.returncode == 1
    assert f"数据库文件 {tmp_path / 'cybermarket.sqlite3'} 不存在" in missing.stderr


# --- call -------------------------------------------------------------------------


def test_call_without_arguments_asks_only_for_the_op(tmp_path):
    result = run_cli("call", cwd=tmp_path)
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last.endswith("the following arguments are required: op"), last
    assert "key=value" not in last


# --- the command in the test's own process ---------------------------------------


def test_a_command_run_in_this_process_leaves_it_as_it_was(tmp_path):
    """tests.command's runs share the test process: the locale a run was
    given, the folder it ran in and the language it chose must not reach
    the next test."""
    import os

    from cybermarket.tools import words

    before = (dict(os.environ), os.getcwd(), words.language())
    ru = run_here("invite", "--days", "0", cwd=tmp_path, environ={"LANG": "ru_RU.UTF-8"})
    assert ru.returncode == 2
    assert "365" in ru.stderr and "must be from" not in ru.stderr  # it spoke Russian
    assert (dict(os.environ), os.getcwd(), words.language()) == before
    en = run_here("invite", "--days", "0", cwd=tmp_path)
    assert "must be from 1 to 365" in en.stderr
