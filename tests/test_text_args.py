"""Text arguments that once passed validation on SQLite and broke on
PostgreSQL: the same answer on every backend, and never a 500."""

import json

import msgpack
import pytest

from cybermarket import values as v
from cybermarket.ops import TABLE
from cybermarket.server.bodies import JSON
from tests.shop import expect, store_args
from tests.wire import frame

PASSWORD = "a-good-password"

# Every argument of every op whose type is text, with the op.
TEXT_ARGS = [
    (op.name, field)
    for op in TABLE
    for field, spec in op.args.items()
    if isinstance(spec.kind, v.Text)
]


def valid(kind):
    """Some value of an argument type that passes its check."""
    if isinstance(kind, v.EmailText):
        return "someone@example.com"
    if isinstance(kind, v.Tag):
        return "en"
    if isinstance(kind, v.Text):
        return "x" * max(kind.low, 1)
    if isinstance(kind, v.Integer):
        return kind.low
    if isinstance(kind, v.Money):
        return "1.00"
    if isinstance(kind, v.SearchAfter):
        return v.After.encode(0, 1)
    raise AssertionError(f"no valid value for {kind!r}")


def with_nul(kind):
    """A value that would pass but for one NUL character."""
    if isinstance(kind, v.EmailText):
        return "some\x00one@example.com"
    return "ab\x00" + "x" * max(kind.low - 3, 1)


def test_every_text_argument_is_covered():
    fields = {field for _, field in TEXT_ARGS}
    assert {
        "username",
        "storename",
        "email",
        "password",
        "new_password",
        "old_password",
        "login",
        "code",
        "inviter",
        "description",
        "productname",
        "after",
    } <= fields


@pytest.mark.parametrize("op_name, field", TEXT_ARGS)
def test_nul_in_a_text_argument_is_400_naming_it(market, op_name, field):
    """PostgreSQL cannot store NUL in text: it used to be a 500 there."""
    op = next(op for op in TABLE if op.name == op_name)
    args = {name: valid(spec.kind) for name, spec in op.args.items()}
    op.check_args(args)  # valid as they are: only the NUL can be refused
    args[field] = with_nul(op.args[field].kind)
    message = expect(market.peer(), 400, op_name, **args)
    assert message.startswith(f"{field}:"), message


def with_surrogate(kind, surrogate="\ud800"):
    """A value that would pass but for one lone surrogate."""
    if isinstance(kind, v.EmailText):
        return f"some{surrogate}one@example.com"
    if isinstance(kind, v.Tag):
        return surrogate
    return "ab" + surrogate + "x" * max(kind.low - 3, 1)


class MessagePackPeer:
    """A TCP connection whose requests may carry lone surrogates: MessagePack
    strings written from them as UTF-8 would be, were they characters
    (surrogatepass)."""

    def __init__(self, market):
        self.peer = market.peer()

    def call(self, op, **args):
        body = {"id": 1, "op": op, "args": args}
        self.peer.feed(frame(msgpack.packb(body, unicode_errors="surrogatepass")))
        (response,) = self.peer.responses()
        return response


class JSONPeer:
    """A connection whose requests come as JSON, as WebSocket text messages
    do: a lone surrogate is the escape \\ud800 there."""

    def __init__(self, market):
        self.answers = []
        self.connection = market.factory.open_connection("10.0.0.9", admit=True)
        self.connection.start(self)

    def call(self, op, **args):
        body = json.dumps({"id": 1, "op": op, "args": args})
        assert "\\ud8" in body or "\\udc" in body or "\\udf" in body
        self.connection.received(body, JSON)
        return json.loads(self.answers.pop())

    # --- the Carrier --------------------------------------------------------

    def register_producer(self, producer):
        pass

    def write_body(self, body):
        self.answers.append(body)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def partial(self):
        return False

    def close(self, too_large=False):
        pass

    def abort(self):
        pass


@pytest.mark.parametrize("op_name, field", TEXT_ARGS)
def test_a_lone_surrogate_in_a_text_argument_is_400_naming_it(market, op_name, field, logged):
    """A lone surrogate passed validation and broke at the database: a 500
    and a traceback in the log, on every backend and in both encodings."""
    op = next(op for op in TABLE if op.name == op_name)
    for surrogate in ("\ud800", "\udfff", "\udc80"):
        for peer in (JSONPeer(market), MessagePackPeer(market)):
            args = {name: valid(spec.kind) for name, spec in op.args.items()}
            args[field] = with_surrogate(op.args[field].kind, surrogate)
            response = peer.call(op_name, **args)
            assert response["status"] == 400, (type(peer).__name__, surrogate, response)
            assert response["message"].startswith(f"{field}:"), response
            assert response["error"] == {"code": "invalid_argument", "field": field}, response
    assert not [event for event in logged if "log_failure" in event]


# An email whose lower-cased key is longer than the email: "İ" (U+0130)
# lower-cases to two characters, "i" and a combining dot above.
DOTTED = "İ" * 120 + "abcd@example.com"


def test_the_dotted_email_grows_when_lower_cased():
    assert len(DOTTED) == 136
    assert len(DOTTED.lower()) == 256  # past the 254 characters of an email


def test_client_with_an_email_that_grows_when_lower_cased(market):
    peer = market.peer()
    expect(peer, 201, "CLIENT_CREATE", username="dot", email=DOTTED, password=PASSWORD)
    expect(peer, 200, "CLIENT_LOGIN", login=DOTTED.upper(), password=PASSWORD)
    taken = expect(
        market.peer(),
        409,
        "CLIENT_CREATE",
        username="dot2",
        email=DOTTED.upper(),
        password=PASSWORD,
    )
    assert taken.startswith("email:")
    other = market.client("other")
    assert expect(other, 409, "SET_CLIENT_EMAIL", email=DOTTED).startswith("email:")


def test_merchant_with_an_email_that_grows_when_lower_cased(market):
    code = market.invite()
    peer = market.peer()
    expect(peer, 201, "MERCHANT_CREATE", **store_args("dots", PASSWORD, code, email=DOTTED))
    expect(peer, 200, "MERCHANT_LOGIN", login=DOTTED, password=PASSWORD)
    shop = market.merchant("shop")
    assert expect(shop, 409, "SET_MERCHANT_EMAIL", email=DOTTED.upper()).startswith("email:")


def test_the_longest_email_of_dotted_capitals(market):
    longest = "İ" * 242 + "@example.com"
    assert len(longest) == 254
    peer = market.peer()
    expect(peer, 201, "CLIENT_CREATE", username="dots", email=longest, password=PASSWORD)
    expect(peer, 200, "CLIENT_LOGIN", login=longest, password=PASSWORD)
    alice = market.client("alice")
    expect(alice, 200, "SET_CLIENT_EMAIL", email="İ" * 241 + "x@example.com")
