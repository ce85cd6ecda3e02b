"""`cybermarket call` and `cybermarket shell`: value parsing and formatting
as plain functions, then both commands against a real `twistd cybermarket`
server, the shell fed through a pipe and driven through a pseudo-terminal.

Every server and every shell process is stopped by a finalizer; every read
from a process has a deadline.
"""

import fcntl
import json
import os
import re
import select
import shlex
import socket
import struct
import subprocess
import termios
import threading
import time
from types import SimpleNamespace

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cybermarket.client.blocking import Response, token_after
from cybermarket.ops import OPS
from cybermarket.tools import cli, shell
from tests.command import run_here
from tests.live import FAST, PASSWORD, unique
from tests.seed import invitation, seed_stores
from tests.server import BIN, HOST, TLSServer, child_env, free_port, run_cli, self_signed
from tests.wire import frame

PONG = "protocol: 1.3\n"  # what a PING prints
SHELL_TIMEOUT = 60.0  # seconds for a whole piped shell session
READ_TIMEOUT = 20.0  # seconds for one expected output on the terminal

# Clients of the wire: what the server answers them is tested on both
# backends below them.  Runs in the SQLite run only (conftest).
pytestmark = pytest.mark.backend_free("the shell and `cybermarket call`, clients")


# --- value parsing --------------------------------------------------------------------


def test_integer_arguments_are_sent_as_integers():
    args = shell.parse_args(OPS["CLIENT_ADD_ITEM"], ["product_id=42", "quantity=-3"])
    assert args == {"product_id": 42, "quantity": -3}
    assert type(args["product_id"]) is int


@pytest.mark.parametrize("text", ["abc", "", "1.5", "1_000", " 7", "0x10", "nil"])
def test_a_required_integer_must_be_written_as_one(text):
    with pytest.raises(shell.UsageError, match="quantity: must be an integer"):
        shell.parse_args(OPS["CLIENT_ADD_ITEM"], ["product_id=1", f"quantity={text}"])


def test_text_and_money_are_sent_as_the_string_given():
    args = shell.parse_args(
        OPS["MERCHANT_ADD_PRODUCT"],
        ["productname=123", "price=19", "description=a=b c", "stock=5"],
    )
    assert args == {"productname": "123", "price": "19", "description": "a=b c", "stock": 5}
    money = shell.parse_args(OPS["SET_PRODUCT"], ["product_id=1", "price=19.90"])
    assert money["price"] == "19.90"


def test_the_order_commands_of_protocol_1_2():
    words = shell.split_line(
        'CLIENT_CHECKOUT_ITEM expected_total=12.50 address="1 Long Road\nTown"'
    )
    assert shell.parse_request(words) == (
        "CLIENT_CHECKOUT_ITEM",
        {"expected_total": "12.50", "address": "1 Long Road\nTown"},
    )
    assert shell.parse_request(shell.split_line("client_cancel_order order_id=7")) == (
        "CLIENT_CANCEL_ORDER",
        {"order_id": 7},
    )
    assert shell.parse_request(
        shell.split_line("MERCHANT_SHIP_ORDER order_id=7 note='DHL 00340434'")
    ) == ("MERCHANT_SHIP_ORDER", {"order_id": 7, "note": "DHL 00340434"})
    assert shell.parse_request(
        shell.split_line("MERCHANT_LIST_ORDERS status=placed limit=5 after=30")
    ) == ("MERCHANT_LIST_ORDERS", {"status": "placed", "limit": 5, "after": 30})
    assert shell.parse_request(shell.split_line("MERCHANT_GET_ORDER order_id=7")) == (
        "MERCHANT_GET_ORDER",
        {"order_id": 7},
    )
    with pytest.raises(shell.UsageError, match="order_id: must be an integer"):
        shell.parse_request(shell.split_line("CLIENT_CANCEL_ORDER order_id=seven"))
    # A cancel's answer: the refund and the stores, on lines of their own.
    assert shell.format_data({"refunded": "5.00", "cancelled": ["shop", "Café"]}) == (
        'refunded: 5.00\ncancelled: ["shop", "Café"]'
    )
    assert "status" in shell.help_text(["MERCHANT_LIST_ORDERS"])


def test_empty_value_is_the_empty_string():
    args = shell.parse_args(OPS["SET_MERCHANT_DESCRIPTION"], ["description="])
    assert args == {"description": ""}


def test_bare_nil_is_nil_and_quoted_nil_is_the_text():
    # One rule for every argument: the bare word nil is nil; nil in quotes
    # is the three letters.  A shell line's own quotes count...
    line = shell.split_line("""SET_PRODUCT product_id=1 description="nil" productname=nil""")
    assert shell.parse_request(line) == (
        "SET_PRODUCT",
        {"product_id": 1, "description": "nil", "productname": None},
    )
    line = shell.split_line("""list_merchant after='nil' limit=nil""")
    assert shell.parse_request(line) == ("LIST_MERCHANT", {"after": "nil", "limit": None})
    line = shell.split_line(r"""merchant_create storename=n\il code=ni"l" inviter=nil""")
    assert shell.parse_request(line)[1] == {"storename": "nil", "code": "nil", "inviter": None}
    # ...and quotes that reach the program in the value, as `call` gets
    # them from '"nil"' on its command line.
    for quoted in ['"nil"', "'nil'"]:
        args = shell.parse_args(OPS["SET_PRODUCT"], [f"description={quoted}", "price=nil"])
        assert args == {"description": "nil", "price": None}
    # Keys the op does not take follow the same rule.
    assert shell.parse_request(shell.split_line("ping a=nil b='nil'"))[1] == {"a": None, "b": "nil"}


@pytest.mark.parametrize(
    "words, message",
    [
        (
            ["productname=nil", "price=1", "description=x"],
            "productname: nil is only for optional arguments;"
            ' for the text, quote it: productname="nil"',
        ),
        (["productname=a", "price=nil", "description=x"], "price: nil is only for optional"),
    ],
)
def test_nil_for_a_required_argument_is_refused_before_sending(words, message):
    with pytest.raises(shell.UsageError) as raised:
        shell.parse_args(OPS["MERCHANT_ADD_PRODUCT"], words)
    assert str(raised.value).startswith(message)


def test_nil_for_a_required_integer_says_it_must_be_an_integer():
    with pytest.raises(shell.UsageError, match="^quantity: must be an integer, not nil"):
        shell.parse_args(OPS["CLIENT_ADD_ITEM"], ["product_id=1", "quantity=nil"])
    with pytest.raises(shell.UsageError, match="^limit: must be an integer, not 'nil'"):
        shell.parse_request(shell.split_line('list_merchant limit="nil"'))


def test_help_and_call_help_state_the_nil_rule(capsys):
    assert "key=nil       sends nil" in shell.USAGE
    assert 'key="nil"     sends the text nil' in shell.USAGE
    with pytest.raises(SystemExit):
        cli.main(["call", "--help"])
    call_help = " ".join(capsys.readouterr().out.split())
    assert (
        """key=nil is nil, and 'key="nil"' (quotes that reach the command) is the text nil"""
        in call_help
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" a=nil'\"\\\t", max_size=24))
def test_lines_split_exactly_as_shlex_splits_them(line):
    try:
        expected = shlex.split(line)
    except ValueError:
        with pytest.raises(shell.UsageError, match="cannot read the line"):
            shell.split_line(line)
        return
    if line.lstrip().startswith("#"):
        expected = []
    assert shell.split_line(line) == expected


def test_unknown_keys_and_unknown_ops_are_sent_as_strings():
    assert shell.parse_args(OPS["PING"], ["extra=1", "other=nil"]) == {"extra": "1", "other": None}
    assert shell.parse_request(["no_such_op", "x=5"]) == ("NO_SUCH_OP", {"x": "5"})


def test_op_names_are_sent_in_upper_case():
    assert shell.parse_request(["list_product", "storename=corner", "limit=2"]) == (
        "LIST_PRODUCT",
        {"storename": "corner", "limit": 2},
    )
    assert shell.parse_request(["Ping"]) == ("PING", {})


@pytest.mark.parametrize(
    "words, message",
    [
        (["ping", "loose"], "expected key=value"),
        (["ping", "=5"], "expected key=value"),
        (["list_product", "storename=a", "storename=b"], "storename: given twice"),
        (["ping", "check=1"], "check: this client cannot send"),
        ([], "no op given"),
    ],
)
def test_bad_words_are_refused(words, message):
    with pytest.raises(shell.UsageError, match=message):
        shell.parse_request(words)


def test_lines_are_split_like_a_posix_shell():
    line = "set_product product_id=3 'productname=big box' description=\"a #1\""
    assert shell.split_line(line) == [
        "set_product",
        "product_id=3",
        "productname=big box",
        "description=a #1",
    ]
    assert shell.split_line("ping tag=a#b") == ["ping", "tag=a#b"]
    assert shell.split_line("   # a comment") == []
    assert shell.split_line("   ") == []
    with pytest.raises(shell.UsageError, match="cannot read the line"):
        shell.split_line("ping x='open")


def test_missing_passwords_are_those_of_the_op_left_off():
    assert shell.missing_passwords("MERCHANT_LOGIN", {"login": "a"}) == ["password"]
    assert shell.missing_passwords("MERCHANT_LOGIN", {"login": "a", "password": ""}) == []
    assert shell.missing_passwords("SET_CLIENT_PASSWORD", {}) == ["old_password", "new_password"]
    assert shell.missing_passwords("PING", {}) == []
    assert shell.missing_passwords("NO_SUCH_OP", {}) == []


def test_ask_passwords_fills_in_each_one_asked_for():
    asked = []

    def answer(prompt):
        asked.append(prompt)
        return f"secret-{len(asked)}"

    args = shell.ask_passwords("SET_MERCHANT_PASSWORD", {}, answer)
    assert asked == ["old_password: ", "new_password: "]
    assert args == {"old_password": "secret-1", "new_password": "secret-2"}


# --- formatting -------------------------------------------------------------------------


def spans(rule):
    """(start, end) of each column, from the rule line of dashes."""
    return [m.span() for m in re.finditer(r"-+", rule)]


def test_a_table_is_aligned_under_its_header():
    text = shell.format_table(
        ["product_id", "productname", "price", "on_shelf"],
        [[7, "kettle", "19.99", True], [1234, "tea", "3.50", False]],
    )
    header, rule, first, second = text.splitlines()
    columns = spans(rule)
    names = [header[a:b].strip() for a, b in columns]
    assert names == ["product_id", "productname", "price", "on_shelf"]
    assert [first[a:b].strip() for a, b in columns] == ["7", "kettle", "19.99", "true"]
    assert [second[a:b].strip() for a, b in columns] == ["1234", "tea", "3.50", "false"]
    # Numbers and money to the right, text to the left.
    (id_start, id_end), (name_start, _), (_, price_end), _ = columns
    assert first[id_end - 1] == "7" and second[id_start:id_end] == "1234".rjust(id_end - id_start)
    assert first[name_start:].startswith("kettle")
    assert first[:price_end].endswith("19.99") and second[:price_end].endswith(" 3.50")
    assert not any(line.endswith(" ") for line in text.splitlines())


def test_a_table_keeps_cells_on_one_line_and_counts_wide_characters():
    text = shell.format_table(["name", "note"], [["果物", "two\nlines\tand tab"], ["ab", None]])
    header, rule, first, second = text.splitlines()
    # 果物 takes four columns on a terminal, as "ab  " does.  (tabulate
    # gives each column two more than its header needs.)
    assert first == "果物    two\\nlines\\tand tab"
    assert second == "ab      nil"
    assert rule == "------  " + "-" * len("two\\nlines\\tand tab")
    assert header == "name    note"


def test_an_empty_table_still_shows_its_columns():
    text = shell.format_data({"columns": ["storename", "email"], "rows": [], "next": None})
    assert text.splitlines() == ["storename    email", "-----------  -------", "(0 rows)"]


def test_a_page_with_more_rows_tells_the_next_key():
    data = {"columns": ["product_id"], "rows": [[5]], "next": 5}
    assert shell.format_data(data).splitlines()[-1] == "(1 row; more: after=5)"


def test_maps_print_as_key_value_lines_and_scalars_as_they_are():
    assert shell.format_data({"order_id": 3, "total": "12.50"}) == "order_id: 3\ntotal: 12.50"
    assert shell.format_data("0.00") == "0.00"
    assert shell.format_data("Xy7-code") == "Xy7-code"
    assert shell.format_data(12) == "12"


def response(status, message, data=None, error=None):
    return Response(4, status, message, data, error)


def test_a_success_without_data_prints_its_message():
    assert shell.format_result(response(200, "ok")) == "ok"
    assert shell.format_result(response(201, "created")) == "created"
    assert shell.format_result(response(200, "ok", {"product_id": 9})) == "product_id: 9"
    assert shell.format_error(response(404, "storename: no store named 'x'")) == (
        "error 404: storename: no store named 'x'"
    )


def test_response_json_is_the_whole_response():
    table = {"columns": ["a"], "rows": [[1]]}
    whole = json.loads(shell.response_json(response(200, "ok", table)))
    assert whole == {"id": 4, "status": 200, "message": "ok", "data": table}
    error = json.loads(shell.response_json(response(401, "no")))
    assert error == {"id": 4, "status": 401, "message": "no"}  # a 1.1 server's
    code = {"code": "not_logged_in"}
    error = json.loads(shell.response_json(response(401, "no", error=code)))
    assert error == {"id": 4, "status": 401, "message": "no", "error": code}


# --- help and completion ----------------------------------------------------------------------


def test_help_lists_every_op_with_its_role_and_arguments():
    text = shell.help_text()
    heads = re.findall(
        r"^([A-Z_]+) \((anyone|client or merchant|client|merchant)\): ", text, re.MULTILINE
    )
    assert [name for name, _ in heads] == list(OPS)
    for name, role in heads:
        assert role == (OPS[name].role or "anyone")
    for op in OPS.values():
        for arg, spec in op.args.items():
            assert re.search(rf"^    {arg} +{re.escape(spec.describe())}$", text, re.MULTILINE)


def test_help_for_one_op_in_any_case():
    text = shell.help_text(["merchant_add_product"])
    assert text.splitlines()[0] == "MERCHANT_ADD_PRODUCT (merchant): put a new product on the shelf"
    assert "stock        integer from 0 to 1000000000 (optional)" in text
    one_of = shell.help_text(["SET_PRODUCT"])
    assert "give at least one of productname, description, price" in one_of
    assert "(no arguments)" in shell.help_text(["PING"])
    with pytest.raises(shell.UsageError, match="no op named 'NOPE'"):
        shell.help_text(["NOPE"])


def test_completion_of_op_names_and_commands():
    assert shell.completions("", "MERCHANT_ADD") == ["MERCHANT_ADD_PRODUCT "]
    assert shell.completions("", "merchant_add") == ["merchant_add_product "]
    assert shell.completions("", "CLIENT_LOG") == ["CLIENT_LOGIN ", "CLIENT_LOGOUT "]
    everything = shell.completions("", "")
    assert {w.strip() for w in everything} == set(OPS) | {"help", "quit", "exit"}
    assert shell.completions("", "qu") == ["quit "]
    assert shell.completions("help ", "PI") == ["PING "]


def test_completion_of_argument_names():
    assert shell.completions("MERCHANT_ADD_PRODUCT ", "") == [
        "productname=",
        "price=",
        "description=",
        "stock=",
    ]
    assert shell.completions("merchant_add_product price=3 ", "") == [
        "productname=",
        "description=",
        "stock=",
    ]
    assert shell.completions("MERCHANT_ADD_PRODUCT ", "pr") == ["productname=", "price="]
    assert shell.completions("MERCHANT_ADD_PRODUCT ", "price=1") == []
    assert shell.completions("NO_SUCH_OP ", "") == []


# --- against a real server ---------------------------------------------------------------------


@pytest.fixture
def server(launch, migrated_url):
    """A `twistd cybermarket` process of its own on a fixed free port (so
    that it can be restarted on the same one), stopped at the end
    (conftest's launch): for the tests that need a whole market, or stop
    the server.  The others use shared_server (conftest), with a
    shared_store."""
    return launch(migrated_url, *FAST, port=free_port()).server


def create_store(server, storename, password=PASSWORD):
    """A store opened with an operator code, written into the server's
    database (tests/seed.py): signing up is tested over the wire elsewhere."""
    seed_stores(server.database_url, [storename], password)
    return storename


@pytest.fixture
def store(server):
    return create_store(server, "corner")


@pytest.fixture
def shared_store(shared_server):
    """A store of the test's own on the shared server."""
    return create_store(shared_server, unique("corner"))


def call(server, *words):
    """`cybermarket call --port PORT WORDS`, in this process (tests.command):
    a new process for each costs more than the call itself.  The command as
    a process of its own is test_call_ping_prints_the_protocol_version's,
    and the locale's tests at the end."""
    return run_here("call", "--port", str(server.port), *words, cwd=server.workdir)


def shell_env(home):
    env = child_env()
    env["HOME"] = str(home)
    env["TERM"] = "dumb"
    return env


def shell_command(server):
    return [str(BIN / "cybermarket"), "shell", "--host", HOST, "--port", str(server.port)]


def run_shell(server, lines, home):
    """The shell with `lines` on its stdin (a pipe, no terminal)."""
    return subprocess.run(
        shell_command(server),
        check=False,
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        env=shell_env(home),
        cwd=home,
        start_new_session=True,  # no controlling terminal to prompt on
    )


# --- the shell's session token ----------------------------------------------


class FakeClient:
    """A connection that answers each op as told, and follows the session
    token as the real client does."""

    def __init__(self, answers):
        self.answers = answers
        self.token = None
        self.closed = False
        self.sent = []

    def call(self, op, **args):
        self.sent.append(op)
        response = self.answers[op]
        self.token = token_after(op, args, response, self.token)
        return response

    def close(self):
        self.closed = True


def test_the_shell_resumes_its_login_on_the_next_connection(monkeypatch, capsys):
    ok = Response(1, 200, "ok")
    first = FakeClient(
        {
            "CLIENT_LOGIN": Response(1, 200, "ok", {"token": "t-1"}),
            "GET_ACCOUNT": Response(2, 200, "ok", {"role": "client", "name": "alice"}),
        }
    )
    second = FakeClient(
        {"RESUME": Response(1, 200, "ok", {"role": "client", "name": "Alice"}), "PING": ok}
    )
    third = FakeClient({"RESUME": Response(1, 401, "token: unknown, expired or revoked")})
    fourth = FakeClient({"PING": ok})
    clients = [first, second, third, fourth]
    monkeypatch.setattr(shell, "make_client", lambda options: clients.pop(0))
    session = shell.Session(SimpleNamespace(host=HOST, port=1))

    session.call("CLIENT_LOGIN", {"login": "alice", "password": "x"})
    assert session.token == "t-1" and session.prompt == "cybermarket (client alice)> "
    shell.show(first.answers["CLIENT_LOGIN"], "CLIENT_LOGIN")
    assert capsys.readouterr().out == "ok\n"  # the token is not shown

    session.lost("reset")
    assert "the next command reconnects and resumes the login as client 'alice'" in (
        capsys.readouterr().err
    )
    assert session.call("PING", {}) is ok
    assert second.sent == ["RESUME", "PING"]
    assert "resumed the login as client 'Alice'" in capsys.readouterr().err
    assert session.prompt == "cybermarket (client Alice)> "

    # A token revoked meanwhile: the new connection is not logged in.
    session.lost("reset")
    assert session.call("RESUME", {"token": "t-1"}).status == 401
    assert "(not logged in: the login could not be resumed, error 401" in (capsys.readouterr().err)
    assert session.token is None and session.prompt == shell.PROMPT
    session.lost("reset")
    session.call("PING", {})
    assert fourth.sent == ["PING"]
    assert "reconnected to 127.0.0.1:1 (not logged in)" in capsys.readouterr().err


def test_the_prompt_shows_the_name_as_stored_not_as_typed(monkeypatch, capsys):
    """A login by email, or by the name in another case, shows the account's
    name as the server keeps it (GET_ACCOUNT), and a rename shows at once."""
    account = {"role": "merchant", "name": "Corner", "email": "shop@example.com"}
    client = FakeClient(
        {
            "MERCHANT_LOGIN": Response(1, 200, "ok", {"token": "t-1"}),
            "GET_ACCOUNT": Response(2, 200, "ok", account),
            "SET_MERCHANT_STORENAME": Response(3, 200, "ok"),
            "SET_MERCHANT_EMAIL": Response(4, 200, "ok"),
        }
    )
    monkeypatch.setattr(shell, "make_client", lambda options: client)
    session = shell.Session(SimpleNamespace(host=HOST, port=1))
    session.call("MERCHANT_LOGIN", {"login": "SHOP@example.com", "password": "x"})
    assert client.sent == ["MERCHANT_LOGIN", "GET_ACCOUNT"]
    assert session.prompt == "cybermarket (merchant Corner)> "
    account["name"] = "Corner Shop"
    session.call("SET_MERCHANT_STORENAME", {"storename": "corner shop"})
    assert session.prompt == "cybermarket (merchant Corner Shop)> "
    session.call("SET_MERCHANT_EMAIL", {"email": "corner@example.com"})
    assert client.sent[-1] == "SET_MERCHANT_EMAIL"  # the name did not change
    assert capsys.readouterr() == ("", "")  # asked without a word
    assert session.status == shell.EXIT_OK


def test_the_prompt_keeps_the_login_as_typed_from_a_server_before_get_account(monkeypatch, capsys):
    client = FakeClient(
        {
            "CLIENT_LOGIN": Response(1, 200, "ok", {"token": "t-1"}),
            "GET_ACCOUNT": Response(2, 400, "op: unknown op 'GET_ACCOUNT'"),
        }
    )
    monkeypatch.setattr(shell, "make_client", lambda options: client)
    session = shell.Session(SimpleNamespace(host=HOST, port=1))
    session.call("CLIENT_LOGIN", {"login": "alice@example.com", "password": "x"})
    assert session.prompt == "cybermarket (client alice@example.com)> "
    assert capsys.readouterr() == ("", "")
    assert session.status == shell.EXIT_OK


def test_a_connection_lost_while_asking_the_name_is_told_and_resumed(monkeypatch, capsys):
    class Dropping(FakeClient):
        def call(self, op, **args):
            if op == "GET_ACCOUNT":
                raise ConnectionResetError("reset")
            return super().call(op, **args)

    first = Dropping({"CLIENT_LOGIN": Response(1, 200, "ok", {"token": "t-1"})})
    second = FakeClient(
        {
            "RESUME": Response(1, 200, "ok", {"role": "client", "name": "Alice"}),
            "PING": Response(2, 200, "ok"),
        }
    )
    clients = [first, second]
    monkeypatch.setattr(shell, "make_client", lambda options: clients.pop(0))
    session = shell.Session(SimpleNamespace(host=HOST, port=1))
    assert session.call("CLIENT_LOGIN", {"login": "alice@example.com", "password": "x"}).ok
    assert first.closed and session.status == shell.EXIT_CONNECTION
    assert capsys.readouterr().err == (
        "connection lost (reset); the next command reconnects and resumes the login"
        " as client 'alice@example.com'\n"
    )
    session.call("PING", {})
    assert second.sent == ["RESUME", "PING"]
    assert session.prompt == "cybermarket (client Alice)> "


def test_an_unknown_op_is_refused_before_sending_with_the_nearest_one(monkeypatch, capsys):
    client = FakeClient({"PING": Response(1, 200, "ok")})
    monkeypatch.setattr(shell, "make_client", lambda options: client)
    session = shell.Session(SimpleNamespace(host=HOST, port=1))
    assert shell.run_line(session, "merchant_get_proft", None)
    assert shell.run_line(session, "PIGN x=1", None)
    assert shell.run_line(session, "xyzzy", None)
    assert client.sent == []
    assert capsys.readouterr().err.splitlines() == [
        "error: no op named 'merchant_get_proft'; did you mean merchant_get_profit?",
        "error: no op named 'PIGN'; did you mean PING?",
        "error: no op named 'xyzzy'; `help` lists them",
    ]
    assert session.status == shell.EXIT_USAGE  # as for any refused line
    with pytest.raises(shell.UsageError, match="did you mean MERCHANT_LOGIN"):
        shell.help_text(["MERCHANT_LOGN"])


# --- cybermarket call


def test_call_ping_prints_the_protocol_version(shared_server):
    result = run_cli("call", "--port", str(shared_server.port), "ping", cwd=shared_server.workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == PONG
    assert result.stderr == ""


def test_call_creates_a_store_and_lists_it_as_an_aligned_table(server):
    created = call(
        server,
        "MERCHANT_CREATE",
        "storename=greengrocer",
        "description=fruit and veg",
        "email=g@example.com",
        f"password={PASSWORD}",
        "inviter=nil",
        f"code={invitation(server.database_url)}",
    )
    assert (created.returncode, created.stdout) == (0, "created\n"), created.stderr
    create_store(server, "bakery")

    result = call(server, "LIST_MERCHANT")
    assert result.returncode == 0, result.stderr
    header, rule, *rows, footer = result.stdout.splitlines()
    columns = spans(rule)
    assert [header[a:b].strip() for a, b in columns] == ["storename", "description", "email"]
    cells = [[row[a:b].strip() for a, b in columns] for row in rows]
    assert cells == [
        ["bakery", "the bakery store", "bakery@example.com"],
        ["greengrocer", "fruit and veg", "g@example.com"],
    ]
    for row in rows:  # text columns start where their header starts
        assert all(row[a] != " " for a, _ in columns)
    assert footer == "(2 rows)"


def test_call_json_prints_the_whole_response(shared_server, shared_store):
    result = call(shared_server, "--json", "list_product", f"storename={shared_store}")
    assert result.returncode == 0, result.stderr
    whole = json.loads(result.stdout)
    assert whole["status"] == 200 and whole["message"] == "ok"
    assert whole["data"]["columns"][:6] == [
        "product_id",
        "storename",
        "productname",
        "description",
        "price",
        "stock",
    ]
    assert whole["data"]["rows"] == []

    missing = call(shared_server, "--json", "LIST_PRODUCT", "storename=nowhere")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["status"] == 404
    assert "no store named 'nowhere'" in missing.stderr


def test_call_error_status_exits_non_zero_with_the_message_on_stderr(shared_server):
    result = call(shared_server, "LIST_PRODUCT", "storename=nowhere")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error 404: storename: no store named 'nowhere'"

    needs_login = call(shared_server, "MERCHANT_GET_PROFIT")
    assert needs_login.returncode == 1
    assert "error 401: MERCHANT_GET_PROFIT: log in as a merchant first" in needs_login.stderr


def test_call_values_reach_the_server_typed(shared_server, shared_store):
    # Through the shell: a store and three products, with ints, strings,
    # an empty string and money as written.
    session = run_shell(
        shared_server,
        [
            f"MERCHANT_LOGIN login={shared_store} 'password={PASSWORD}'",
            "MERCHANT_ADD_PRODUCT productname=123 price=7 description= stock=4",
            "MERCHANT_ADD_PRODUCT productname='nil' price=0.5 description='x y'",
            "MERCHANT_ADD_PRODUCT productname=third price=19.99 description=z stock=1",
        ],
        shared_server.workdir,
    )
    assert session.returncode == 0 and session.stderr == "", session.stderr
    ids = [int(n) for n in re.findall(r"^product_id: (\d+)$", session.stdout, re.MULTILINE)]
    assert len(ids) == 3

    listed = call(
        shared_server, "--json", "list_product", f"storename={shared_store}", "limit=2", "after=nil"
    )
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)["data"]
    assert data["rows"] == [
        [ids[0], shared_store, "123", "", "7.00", 4, None],
        [ids[1], shared_store, "nil", "x y", "0.50", 0, None],
    ]
    assert data["next"] == ids[1]
    page = call(shared_server, "list_product", f"storename={shared_store}", f"after={ids[1]}")
    assert page.returncode == 0, page.stderr
    assert "third" in page.stdout and "123" not in page.stdout
    assert page.stdout.splitlines()[-1] == "(1 row)"
    text = call(shared_server, "list_product", f"storename={shared_store}", "limit=2")
    assert text.stdout.splitlines()[-1] == f"(2 rows; more: after={ids[1]})"


def test_call_nil_is_nil_and_quoted_nil_is_the_text(server):
    code = invitation(server.database_url)
    created = call(
        server,
        "MERCHANT_CREATE",
        "storename=nilshop",
        'description="nil"',
        "email=n@example.com",
        f"password={PASSWORD}",
        "inviter=nil",
        f"code={code}",
    )
    assert (created.returncode, created.stdout) == (0, "created\n"), created.stderr
    create_store(server, "bakery")
    create_store(server, "zoo")

    def listed(*words):
        result = call(server, "--json", "LIST_MERCHANT", *words)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["data"]["rows"]

    assert listed("after=nil") == listed()  # nil: from the first store
    assert [row[0] for row in listed("after=nil")] == ["bakery", "nilshop", "zoo"]
    assert [row[0] for row in listed('after="nil"')] == ["nilshop", "zoo"]  # after the text
    assert listed()[1][1] == "nil"  # nilshop's description

    refused = call(
        server,
        "MERCHANT_CREATE",
        "storename=other",
        "description=nil",
        "email=o@example.com",
        f"password={PASSWORD}",
        "inviter=nil",
        f"code={invitation(server.database_url)}",
    )
    assert refused.returncode == 2
    assert refused.stderr == (
        "cybermarket call: description: nil is only for optional arguments;"
        """ for the text, quote it: 'description="nil"'\n"""
    )
    assert "other" not in [row[0] for row in listed()]  # not sent


def test_shell_nil_is_nil_and_quoted_nil_is_the_text(server, store):
    session = run_shell(
        server,
        [
            f"MERCHANT_LOGIN login={store} 'password={PASSWORD}'",
            """MERCHANT_ADD_PRODUCT productname="nil" price=1 description='first' stock=1""",
            "SET_PRODUCT product_id=1 description=nil price=2",  # description unchanged
            "MERCHANT_ADD_PRODUCT productname=nil price=1 description=x",  # refused
            "MERCHANT_LIST_PRODUCTS",
            'SET_PRODUCT product_id=1 description="nil"',
            "MERCHANT_LIST_PRODUCTS limit=nil",
        ],
        server.workdir,
    )
    assert session.returncode == 2, session.stderr
    assert session.stderr.startswith("error: productname: nil is only for optional arguments")
    out = session.stdout.splitlines()
    assert out[:3] == ["ok", "product_id: 1", "ok"]
    first_listing, second_listing = out[5], out[10]
    assert first_listing.split() == ["1", "nil", "first", "2.00", "1", "true", "nil"]
    assert out[6] == "(1 row)"  # the refused product was not sent
    assert out[7] == "ok"
    assert second_listing.split() == ["1", "nil", "nil", "2.00", "1", "true", "nil"]


def test_call_checks_integers_before_sending_and_sends_unknown_keys(shared_server):
    not_int = call(shared_server, "LIST_MERCHANT", "limit=ten")
    assert not_int.returncode == 2
    assert "limit: must be an integer, not 'ten'" in not_int.stderr
    out_of_range = call(shared_server, "LIST_MERCHANT", "limit=0")
    assert out_of_range.returncode == 1
    assert "error 400: limit: must be from 1 to 1000" in out_of_range.stderr
    unknown = call(shared_server, "PING", "extra=1")
    assert unknown.returncode == 1
    assert "error 400: extra: unknown argument for PING" in unknown.stderr
    no_op = call(shared_server, "no_such_op")
    assert no_op.returncode == 1
    assert "unknown op 'NO_SUCH_OP'" in no_op.stderr


def test_call_sends_an_op_it_does_not_know_and_names_the_nearest(shared_server):
    """`call` sends any op (a newer server may have it), so the status is
    the server's; beside its 400 it names the op a typo most likely meant."""
    result = call(shared_server, "pign")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error 400: op: unknown op 'PIGN'",
        "cybermarket call: no op named 'pign'; did you mean ping?",
    ]


def test_call_names_the_nearest_op_only_for_an_unknown_op_s_code():
    """The server's refusal of an unknown op is `malformed`; a newer
    server's answer of its own op (any other code) is not a typo.  A 1.1
    server sends no code: any 400 may be the refusal."""
    assert shell.unknown_op(response(400, "op: unknown op 'PIGN'", error={"code": "malformed"}))
    refusal = response(401, "PIGN: log in first", error={"code": "not_logged_in"})
    assert not shell.unknown_op(refusal)
    invalid = response(400, "x: missing", error={"code": "invalid_argument", "field": "x"})
    assert not shell.unknown_op(invalid)
    assert shell.unknown_op(response(400, "op: unknown op 'PIGN'"))
    assert not shell.unknown_op(response(401, "PIGN: log in first"))


def test_call_without_a_server_exits_non_zero(tmp_path):
    port = free_port()
    result = run_here("call", "--port", str(port), "--timeout", "5", "PING", cwd=tmp_path)
    assert result.returncode == 3
    assert f"{HOST}:{port}" in result.stderr


# --- cybermarket shell through a pipe


def test_shell_keeps_one_connection_so_a_login_lasts(shared_server, shared_store):
    result = run_shell(
        shared_server,
        [
            "ping",
            f"merchant_login login={shared_store} 'password={PASSWORD}'",
            "merchant_add_product productname=kettle price=24.5 'description=a tin kettle' stock=3",
            "merchant_list_products",
            "MERCHANT_LOGOUT",
            "merchant_get_profit",
            "# a comment, then a blank line",
            "",
            f"list_product storename={shared_store}",
            "quit",
            "list_product storename=after-quit",
        ],
        shared_server.workdir,
    )
    assert result.returncode == 1, result.stderr  # the 401, below
    out = result.stdout.splitlines()
    # The ping, then the login (its session token is not printed).
    assert out[0:2] == [PONG.strip(), "ok"]
    assert re.fullmatch(r"product_id: \d+", out[2])
    header, rule, row, footer = out[3:7]
    columns = spans(rule)
    assert [header[a:b].strip() for a, b in columns] == [
        "product_id",
        "productname",
        "description",
        "price",
        "stock",
        "on_shelf",
        "photo",
    ]
    cells = [row[a:b].strip() for a, b in columns]
    assert cells[1:] == ["kettle", "a tin kettle", "24.50", "3", "true", "nil"]
    assert footer == "(1 row)"
    assert out[7] == "ok"  # the logout
    # After the logout the next op is refused; the shell carries on.
    assert result.stderr == "error 401: MERCHANT_GET_PROFIT: log in as a merchant first\n"
    assert "kettle" in out[10] and out[-1] == "(1 row)"
    assert "after-quit" not in result.stdout + result.stderr


def test_shell_on_a_pipe_refuses_a_login_without_its_password(shared_server, shared_store):
    # Without a terminal there is nobody to ask: the next line is the next
    # request, never the password.
    result = run_shell(
        shared_server,
        [f"MERCHANT_LOGIN login={shared_store}", "MERCHANT_GET_PROFIT", "ping"],
        shared_server.workdir,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == PONG  # the ping
    assert result.stderr.splitlines() == [
        "error: password: not given, and without a terminal the shell cannot ask for it;"
        " write password=... on the line",
        "error 401: MERCHANT_GET_PROFIT: log in as a merchant first",
    ]


def test_shell_on_a_pipe_sends_a_login_with_its_password(shared_server, shared_store):
    result = run_shell(
        shared_server,
        [f"MERCHANT_LOGIN login={shared_store} 'password={PASSWORD}'", "MERCHANT_GET_PROFIT"],
        shared_server.workdir,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n0.00\n", "")


@pytest.mark.parametrize(
    "lines, status",
    [
        (["ping", "list_product storename=nowhere", "ping"], 1),  # an error status
        (["ping", "ping x='open", "ping"], 2),  # a line that could not be read
        (["ping", "no_such_op", "ping"], 2),  # an op the shell does not know: refused
        (["ping", "list_product storename=nowhere", "help nope", "ping"], 2),  # the worst
        (["ping", "ping"], 0),
    ],
)
def test_shell_on_a_pipe_exits_non_zero_after_any_failure(shared_server, lines, status):
    result = run_shell(shared_server, lines, shared_server.workdir)
    assert result.returncode == status, result.stderr
    assert result.stdout.count(PONG) == lines.count("ping")  # it went on to the end


def test_shell_on_a_pipe_names_the_nearest_op_for_a_typo(shared_server):
    result = run_shell(
        shared_server,
        ["ping", "merchant_get_proft", "LIST_MERCHANTS", "ping"],
        shared_server.workdir,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == PONG * 2
    assert result.stderr.splitlines() == [
        "error: no op named 'merchant_get_proft'; did you mean merchant_get_profit?",
        "error: no op named 'LIST_MERCHANTS'; did you mean LIST_MERCHANT?",
    ]


def test_shell_on_a_pipe_without_a_server_exits_non_zero(tmp_path):
    port = free_port()
    result = run_shell(SimpleNamespace(port=port), ["ping", "ping"], tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""
    assert f"cannot connect to {HOST}:{port}" in result.stderr


def test_shell_help_lists_every_op_and_one_op_in_detail(shared_server):
    lines = ["help", "help MERCHANT_ADD_PRODUCT", "help nope", "exit"]
    result = run_shell(shared_server, lines, shared_server.workdir)
    assert result.returncode == 2, result.stderr  # `help nope`
    listed = re.findall(
        r"^([A-Z_]+) \((?:anyone|client or merchant|client|merchant)\): ",
        result.stdout,
        re.MULTILINE,
    )
    assert listed[: len(OPS)] == list(OPS)
    assert listed[len(OPS) :] == ["MERCHANT_ADD_PRODUCT"]
    detail = result.stdout[result.stdout.rindex("MERCHANT_ADD_PRODUCT (merchant)") :]
    for name, spec in OPS["MERCHANT_ADD_PRODUCT"].args.items():
        assert re.search(rf"^    {name} +{re.escape(spec.describe())}$", detail, re.MULTILINE)
    assert "no op named 'nope'" in result.stderr


def test_shell_errors_and_bad_lines_do_not_end_it(shared_server):
    result = run_shell(
        shared_server,
        ["list_product storename=nowhere", "list_merchant limit=x", "ping x='open", "ping"],
        shared_server.workdir,
    )
    assert result.returncode == 2  # lines refused, and a 404
    assert result.stdout == PONG
    errors = result.stderr.splitlines()
    assert errors[0] == "error 404: storename: no store named 'nowhere'"
    assert errors[1] == "error: limit: must be an integer, not 'x'"
    assert errors[2].startswith("error: cannot read the line")


def test_shell_ends_at_end_of_input(shared_server):
    result = run_shell(shared_server, ["ping"], shared_server.workdir)
    assert (result.returncode, result.stdout) == (0, PONG)


# --- text from the server reaches the terminal escaped

# Clear the screen, back to the line's start, bell, right-to-left override,
# a C1 control (CSI) and a line break: each could rewrite what the terminal
# shows.
HOSTILE = "\x1b[2J\r\x07\u202e\x9b\nx"
ESCAPED = "\\x1b[2J\\r\\x07\\u202e\\x9b\\nx"


def assert_no_control_characters(text):
    assert all(ch == "\n" or ch.isprintable() for ch in text), repr(text)


def test_call_escapes_control_characters_in_the_server_s_message(shared_server):
    result = call(shared_server, "PING", f"{HOSTILE}=1")
    assert result.returncode == 1
    assert result.stderr == f"error 400: {ESCAPED}: unknown argument for PING\n"
    assert_no_control_characters(result.stdout + result.stderr)


def test_shell_escapes_control_characters_in_the_server_s_message(shared_server):
    result = run_shell(
        shared_server, [f"PING '{HOSTILE.replace(chr(10), '')}=1'"], shared_server.workdir
    )
    assert result.returncode == 1
    escaped = ESCAPED.replace("\\n", "")
    assert result.stderr == f"error 400: {escaped}: unknown argument for PING\n"
    assert_no_control_characters(result.stdout + result.stderr)


class CannedServer:
    """A stand-in server on a loopback port that answers every request with
    the canned (status, message, data) of its op: for answers no real
    server gives."""

    def __init__(self, answers):
        self.answers = answers
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            with conn, conn.makefile("rb") as stream:
                while header := stream.read(4):
                    request = msgpack.unpackb(stream.read(struct.unpack(">I", header)[0]))
                    status, message, data = self.answers[request["op"]]
                    answer = {"id": request["id"], "status": status, "message": message}
                    if data is not None:
                        answer["data"] = data
                    conn.sendall(frame(msgpack.packb(answer)))

    def close(self):
        # close() alone does not wake a thread blocked in accept(); a
        # shutdown does (accept then fails), so the join is immediate.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(READ_TIMEOUT)
        assert not self.thread.is_alive()


@pytest.fixture
def canned():
    server = CannedServer(
        {
            "PING": (200, HOSTILE, None),
            "MERCHANT_GET_PROFIT": (200, "ok", HOSTILE),
            "LIST_MERCHANT": (200, "ok", {"columns": ["storename"], "rows": [], "next": HOSTILE}),
            "CLIENT_GET_PRICE": (404, HOSTILE, None),
        }
    )
    yield server
    server.close()


@pytest.mark.parametrize(
    "op, status, out, err",
    [
        ("PING", 0, f"{ESCAPED}\n", ""),
        ("MERCHANT_GET_PROFIT", 0, f"{ESCAPED}\n", ""),
        ("LIST_MERCHANT", 0, f"storename\n-----------\n(0 rows; more: after={ESCAPED})\n", ""),
        ("CLIENT_GET_PRICE", 1, "", f"error 404: {ESCAPED}\n"),
    ],
)
def test_call_escapes_control_characters_in_answers(canned, tmp_path, op, status, out, err):
    result = run_here("call", "--port", str(canned.port), op, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (status, out, err)


def test_call_json_escapes_control_characters_and_still_parses(canned, tmp_path):
    result = run_here("call", "--json", "--port", str(canned.port), "PING", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_control_characters(result.stdout)
    assert json.loads(result.stdout)["message"] == HOSTILE


def test_shell_escapes_control_characters_in_answers(canned, tmp_path):
    lines = ["PING", "MERCHANT_GET_PROFIT", "CLIENT_GET_PRICE"]
    result = run_shell(canned, lines, tmp_path)
    assert result.returncode == 1
    assert result.stdout == f"{ESCAPED}\n{ESCAPED}\n"
    assert result.stderr == f"error 404: {ESCAPED}\n"


# --- cybermarket shell on a terminal


def take_terminal():
    """In the child: a session of its own, with the pty as its terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A process on a pseudo-terminal; reads wait at most READ_TIMEOUT."""

    def __init__(self, argv, env, cwd):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=cwd,
                preexec_fn=take_terminal,  # the test process starts no threads of its own
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master
        self.pending = b""
        self.transcript = b""

    def send(self, text):
        os.write(self.master, text.encode())

    def expect(self, pattern, timeout=READ_TIMEOUT):
        """Everything up to and including the first match of the regular
        expression `pattern` (which is then consumed)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode())
        while True:
            found = regex.search(self.pending)
            if found:
                seen, self.pending = self.pending[: found.end()], self.pending[found.end() :]
                return seen.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(
                    f"no {pattern!r} on the terminal; it shows:\n"
                    + self.transcript.decode(errors="replace")
                )

    def _read(self, timeout):
        """False at end of output."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True  # the caller checks the deadline
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.pending += chunk
        self.transcript += chunk
        return bool(chunk)

    def wait(self, timeout=READ_TIMEOUT):
        return self.process.wait(timeout)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(READ_TIMEOUT)
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    """terminal(server) -> a `cybermarket shell` on a pty, with HOME in a
    temporary directory; killed at the end if still running."""
    opened = []

    def open_shell(server):
        term = Terminal(shell_command(server), shell_env(tmp_path), tmp_path)
        opened.append(term)
        return term

    yield open_shell
    for term in opened:
        term.close()


PROMPT = r"cybermarket> $"


def merchant_prompt(store):
    return rf"cybermarket \(merchant {store}\)> $"


def test_password_prompt_without_echo(shared_server, shared_store, terminal, tmp_path):
    term = terminal(shared_server)
    term.expect(r"connected to .*\r\n" + PROMPT)
    term.send(f"merchant_login login={shared_store}\n")
    term.expect(r"password: $")
    term.send(PASSWORD + "\n")
    after = term.expect(merchant_prompt(shared_store))
    assert after.strip().splitlines()[0] == "ok"
    term.send("merchant_get_profit\n")
    assert "0.00" in term.expect(merchant_prompt(shared_store))
    term.send("quit\n")
    assert term.wait() == 0
    assert PASSWORD not in term.transcript.decode(errors="replace")


def test_the_prompt_shows_the_store_s_name_after_a_login_by_email(
    shared_server, shared_store, terminal
):
    term = terminal(shared_server)
    term.expect(PROMPT)
    email = f"{shared_store}@example.com".upper()
    term.send(f"merchant_login login={email} 'password={PASSWORD}'\n")
    term.expect(merchant_prompt(shared_store))
    term.send("quit\n")
    assert term.wait() == 0


def test_password_on_the_line_stays_out_of_history(shared_server, shared_store, terminal, tmp_path):
    term = terminal(shared_server)
    term.expect(PROMPT)
    term.send(f"MERCHANT_LOGIN login={shared_store} 'password={PASSWORD}'\n")
    term.expect(merchant_prompt(shared_store))
    term.send("MERCHANT_GET_PROFIT\n")
    term.expect(merchant_prompt(shared_store))
    term.send("exit\n")
    assert term.wait() == 0
    history = (tmp_path / ".cybermarket_history").read_text()
    assert "MERCHANT_GET_PROFIT" in history
    assert "MERCHANT_LOGIN" not in history and PASSWORD not in history


def test_tab_completes_op_and_argument_names(shared_server, shared_store, terminal):
    term = terminal(shared_server)
    term.expect(PROMPT)
    term.send(f"merchant_login login={shared_store} 'password={PASSWORD}'\n")
    term.expect(merchant_prompt(shared_store))
    term.send("merchant_add_pr\t")
    term.expect(r"merchant_add_product $")
    term.send("produ\t")
    term.expect(r"productname=$")
    term.send("kettle price=3 desc\t")
    term.expect(r"description=$")
    term.send("tea\n")
    term.expect(r"product_id: \d+\r\n" + merchant_prompt(shared_store))
    term.send("help MERCHANT_GET_PR\t")
    term.expect(r"MERCHANT_GET_PROFIT $")
    term.send("\n")
    helped = term.expect(merchant_prompt(shared_store))
    assert "MERCHANT_GET_PROFIT (merchant): total credited" in helped
    term.send("\x04")  # Ctrl-D on an empty line
    assert term.wait() == 0


def test_a_lost_connection_is_told_and_the_next_command_resumes_the_login(server, store, terminal):
    term = terminal(server)
    term.expect(PROMPT)
    term.send(f"merchant_login login={store} 'password={PASSWORD}'\n")
    term.expect(merchant_prompt(store))
    server.restart()
    term.send("merchant_get_profit\n")
    lost = term.expect(merchant_prompt(store))
    assert "connection lost" in lost
    assert f"the next command reconnects and resumes the login as merchant '{store}'" in lost
    term.send("ping\n")
    resumed = term.expect(merchant_prompt(store))
    assert re.search(
        rf"reconnected to .*; resumed the login as merchant '{store}'\r\nprotocol: 1.3\r\n",
        resumed,
    )
    term.send("merchant_get_profit\n")
    assert "0.00" in term.expect(merchant_prompt(store))
    # After a logout there is nothing to resume.
    term.send("merchant_logout\n")
    term.expect(PROMPT)
    server.restart()
    term.send("ping\n")
    lost = term.expect(PROMPT)
    assert "connection lost" in lost and "resumes" not in lost
    term.send("ping\n")
    assert re.search(
        r"reconnected to .*\(not logged in\)\r\nprotocol: 1.3\r\n", term.expect(PROMPT)
    )
    term.send("quit\n")
    assert term.wait() == 0
    assert "token" not in term.transcript.decode(errors="replace")


# --- cybermarket call over TLS


def test_call_over_tls(launch, tmp_path, migrated_url):
    cert, key = self_signed(tmp_path)
    live = launch(migrated_url, *FAST, server_class=TLSServer, cert=cert, key=key).server
    trusted = call(live, "--tls", "--cafile", str(cert), "PING")
    assert (trusted.returncode, trusted.stdout) == (0, PONG), trusted.stderr
    unchecked = call(live, "--tls", "--insecure", "PING")
    assert (unchecked.returncode, unchecked.stdout) == (0, PONG), unchecked.stderr
    untrusted = call(live, "--tls", "PING")  # the system's trust store
    assert untrusted.returncode == 3
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


# --- languages


def call_in(server, environ, *words):
    env = shell_env(server.workdir)
    env.update(environ)
    return subprocess.run(
        [str(BIN / "cybermarket"), "call", "--port", str(server.port), *words],
        check=False,
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        env=env,
        cwd=server.workdir,
    )


def test_call_speaks_the_locale_and_asks_the_server_for_it(shared_server):
    result = call_in(
        shared_server, {"LANG": "ru_RU.UTF-8"}, "client_add_item", "product_id=x", "quantity=1"
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "cybermarket call: product_id: должно быть целым числом, а не 'x'"
    )
    result = call_in(shared_server, {"LANG": "ru_RU.UTF-8"}, "list_product", "storename=nowhere")
    assert result.returncode == 1
    assert result.stderr.startswith("ошибка 404: ")
    assert any("а" <= ch <= "я" for ch in result.stderr.partition(": ")[2])


def test_language_overrides_the_locale(shared_server):
    result = call_in(
        shared_server,
        {"LANG": "ru_RU.UTF-8"},
        "--language",
        "zh-CN",
        "list_product",
        "storename=nowhere",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("错误 404：")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.stderr.partition("：")[2])


def test_english_when_the_locale_is_c_or_unset(shared_server):
    for environ in ({"LANG": "C"}, {}):
        result = call_in(shared_server, environ, "list_product", "storename=nowhere")
        assert result.stderr.startswith("error 404: "), result.stderr
