"""The `cybermarket` operator command as a new user meets it: run as a real
process from a directory of its own, judged by its exit status and by what
it writes to stdout and stderr."""

import sqlite3

import pytest

from cybermarket import cli
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
    result = run_cli(*command, cwd=tmp_path)
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


# --- invite --days ---------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "-1", "365.5", "366", "nan", "inf", "soon"])
def test_invite_days_must_be_from_1_to_365(tmp_path, days):
    result = run_cli("invite", "--days", days, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"argument --days: must be from 1 to 365, not {days!r}" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", ["1", "365", "2.5"])
def test_invite_days_in_range_are_taken(migrated_url, capsys, days):
    assert cli.main(["invite", "--database", migrated_url, "--days", days]) == 0
    assert capsys.readouterr().out.startswith(f"Invitation code (valid {days} days, inviter nil):")


# --- a path where a URL belongs ----------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["invite"], ["db", "upgrade"], ["db", "current"], ["report"]],
)
def test_a_database_path_is_refused_with_the_url_form(tmp_path, command):
    sqlite3.connect(tmp_path / "market.sqlite3").close()
    result = run_cli(*command, "--database", "market.sqlite3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert "--database: 'market.sqlite3' is not a database URL" in last
    assert "sqlite:///market.sqlite3" in last


def test_an_absolute_database_path_is_shown_as_an_absolute_url(tmp_path):
    path = tmp_path / "market.sqlite3"
    result = run_cli("report", "--database", path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"sqlite:///{path}" in result.stderr  # four slashes: sqlite:////tmp/...
    assert f"sqlite:////{str(path).lstrip('/')}" in result.stderr
