"""--log-format json, --access-log and the security events, in a real
server's log: every line parses, the events are there, and no secret is."""

import json
import socket

import pytest

from cybermarket.server.logs import KEYS, json_line
from tests.live import FAST, PASSWORD
from tests.server import HOST, wait_until

WRONG = "not-the-password-7f3a"


def test_json_log_has_the_security_events_and_no_secret(launch, migrated_url):
    live = launch(
        migrated_url,
        *FAST,
        "--log-format",
        "json",
        "--access-log",
        "--login-failures",
        "2",
        "--login-failures-per-address",
        "2",
        "--max-connections-per-address",
        "4",
    )
    server = live.server
    operator_code = server.invite()
    shop = live.merchant("loggedshop", code=operator_code)
    store_code = shop.ok("MERCHANT_CREATE_INVITATION")
    live.merchant("secondshop", code=store_code, inviter="loggedshop")
    (alice,) = live.customers(["alice"])
    conn = live.connect()
    assert conn.call("CLIENT_LOGIN", login="alice", password=WRONG)["status"] == 401
    assert conn.call("CLIENT_LOGIN", login="alice", password=WRONG)["status"] == 401
    assert conn.call("CLIENT_LOGIN", login="alice", password=WRONG)["status"] == 429
    assert conn.call("CLIENT_LOGIN", login="ghost", password=WRONG)["status"] == 429
    # Four connections open from here: a fifth is refused by the cap.
    with socket.create_connection((HOST, server.port), timeout=10) as extra:
        extra.settimeout(10)
        assert extra.recv(1) == b""
    wait_until(lambda: "connection_refused" in server.log, 10, what="the refusal logged")
    alice.ok("PING")
    live.close_connections()
    server.stop()

    text = server.log
    lines = text.splitlines()
    assert lines
    events = [json.loads(line) for line in lines]  # every line is JSON
    for event in events:
        assert list(event)[: len(KEYS)] == list(KEYS), event

    security = {}
    for event in events:
        if "security" in event:
            security.setdefault(event["security"], []).append(event)
    failed = security["login_failed"]
    assert {(e["login"], e["kind"], e["peer"]) for e in failed} == {
        ("alice", "wrong_password", "127.0.0.1")
    }
    assert security["throttled"][0]["reason"] == "login-throttle"
    assert security["throttled"][0]["peer"] == "127.0.0.1"
    refused = security["connection_refused"][0]
    assert refused["reason"] == "max-connections-per-address"
    assert "--max-connections-per-address" in refused["message"]
    assert len(security["invitation_created"]) == 1
    used = security["invitation_used"]
    assert {e["storename"] for e in used} == {"loggedshop", "secondshop"}
    assert any("the operator" in e["message"] for e in used)

    access = [e for e in events if e["namespace"] == "cybermarket.access"]
    ops = {(e["op"], e["status"]) for e in access}
    assert {("CLIENT_LOGIN", 401), ("CLIENT_LOGIN", 429), ("PING", 200)} <= ops
    assert {("MERCHANT_CREATE", 201), ("MERCHANT_CREATE_INVITATION", 200)} <= ops
    assert all(e["duration"] >= 0 and e["peer"] == "127.0.0.1" for e in access)
    assert not any("password" in e or "args" in e for e in access)

    # No secret anywhere: the passwords, the invitation codes, the hashes.
    for secret in (PASSWORD, WRONG, operator_code, store_code, "$argon2"):
        assert secret not in text, secret


@pytest.mark.backend_free("the log's format")
def test_text_log_stays_the_default(launch, migrated_url):
    server = launch(migrated_url, *FAST).server
    with server.client() as conn:
        assert conn.call("CLIENT_LOGIN", login="bob", password=WRONG)["status"] == 401
    server.stop()
    assert "failed client login 'bob' from 127.0.0.1: no such account" in server.log
    assert not server.log.lstrip().startswith("{")
    assert "cybermarket.access" not in server.log  # no access log unless asked


def test_json_line_of_a_failure_and_odd_values():
    from twisted.logger import LogLevel
    from twisted.python.failure import Failure

    try:
        raise ValueError("boom")
    except ValueError:
        failure = Failure()
    event = {
        "log_format": "{what} failed",
        "log_level": LogLevel.error,
        "log_namespace": "x",
        "log_time": 0.0,
        "log_failure": failure,
        "what": object(),
        "count": 3,
    }
    line = json_line(event)
    assert line.endswith("\n") and line.count("\n") == 1
    parsed = json.loads(line)
    assert parsed["level"] == "error" and parsed["count"] == 3
    assert "ValueError: boom" in parsed["traceback"]
    assert parsed["time"] == "1970-01-01T00:00:00.000Z"
