"""Property-based tests of the request decoder and argument validation:
whatever bytes or values arrive, the answer is a clean 400 or a valid
request, never a crash and never a 500."""

import msgpack
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from cybermarket.errors import BadRequest
from cybermarket.ops import OPS
from cybermarket.server.protocol import decode
from tests.wire import frame

# Every MessagePack value Python can build, nested.
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=80)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
op_names = st.sampled_from(sorted(OPS)) | st.text(max_size=20)


def arg_maps(op_name):
    """Maps that use the op's own argument names (so validation, not just
    the unknown-key check, is exercised) plus some stray keys."""
    names = sorted(OPS[op_name].args) if op_name in OPS else []
    keys = st.sampled_from(names) | st.text(max_size=8) if names else st.text(max_size=8)
    return st.dictionaries(keys, values, max_size=6)


@st.composite
def envelopes(draw):
    op = draw(op_names)
    message = {"id": draw(st.integers(min_value=-5, max_value=2**64 - 1) | values), "op": op}
    if draw(st.booleans()):
        message["args"] = draw(arg_maps(op) | values)
    return message


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_bad_request(body):
    try:
        request_id, op, args = decode(body)
    except BadRequest:
        return
    assert type(request_id) is int and request_id >= 0
    assert op.name in OPS


@given(envelopes())
@example({"id": 0, "op": "LIST_MERCHANT", "args": None})  # nil args: as if left out
def test_any_envelope_is_valid_or_a_bad_request(message):
    body = msgpack.packb(message)
    try:
        request_id, op, args = decode(body)
    except BadRequest as e:
        # The request id is echoed exactly when it was a valid id.
        valid_id = type(message["id"]) is int and message["id"] >= 0
        assert getattr(e, "request_id", None) == (message["id"] if valid_id else None)
        return
    assert request_id == message["id"]
    # What passed validation is exactly the op's arguments, each checked.
    assert set(args) == set(op.args)
    for name, spec in op.args.items():
        # Only a map or nil gets this far; the server takes nil as no args.
        given_value = (message.get("args") or {}).get(name)
        if given_value is None:
            assert args[name] == spec.default
        else:
            assert args[name] == spec.check(name, given_value)


# --- MERCHANT_ADD_PRODUCT's arguments, one of a wrong type -------------------------
#
# Random maps almost never get past the first check (an unknown or missing
# key), so the type checks are reached from the other side: maps that are
# valid in every argument, and then the same map with exactly one argument
# of a wrong type.

# Text as the rules for names and descriptions take it: letters, digits,
# punctuation and symbols (no control or format characters); descriptions
# also spaces, tabs and line breaks.
NAME_CHARACTERS = st.characters(categories=("L", "N", "P", "S"))
productnames = st.text(NAME_CHARACTERS, min_size=1, max_size=200)
descriptions = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs")) | st.sampled_from("\t\n\r"),
    max_size=300,
)
# 0.01 to 99999999.99, as an integer of money or a decimal string.
prices = st.integers(1, 99_999_999) | st.integers(1, 9_999_999_999).map(
    lambda cents: f"{cents // 100}.{cents % 100:02d}"
)
stocks = st.none() | st.integers(0, 10**9)

VALID = {
    "productname": productnames,
    "price": prices,
    "description": descriptions,
    "stock": stocks,
}
# The types each argument takes; anything else is a wrong type.  (bool is
# not an integer here; nil leaves out an optional argument.)
TAKES = {
    "productname": lambda value: type(value) is str,
    "price": lambda value: type(value) in (int, str),
    "description": lambda value: type(value) is str,
    "stock": lambda value: value is None or type(value) is int,
}


@st.composite
def product_args(draw):
    """A valid MERCHANT_ADD_PRODUCT args map (stock sometimes left out)."""
    args = {name: draw(strategy) for name, strategy in VALID.items()}
    if draw(st.booleans()):
        del args["stock"]
    return args


@st.composite
def product_args_one_wrong(draw):
    """(args, field): a valid args map but for `field`, whose value is of a
    type the field does not take."""
    args = draw(product_args())
    field = draw(st.sampled_from(sorted(VALID)))
    args[field] = draw(values.filter(lambda value: not TAKES[field](value)))
    return args, field


def test_the_strategies_match_the_op_table():
    assert set(VALID) == set(TAKES) == set(OPS["MERCHANT_ADD_PRODUCT"].args)


@given(product_args())
def test_valid_product_args_pass_and_come_out_checked(args):
    checked = OPS["MERCHANT_ADD_PRODUCT"].check_args(args)
    event("reached the assertions (valid)")
    assert isinstance(checked["productname"], str) and 1 <= len(checked["productname"]) <= 200
    assert checked["price"] > 0 and checked["price"].as_tuple().exponent == -2
    assert type(checked["stock"]) is int and 0 <= checked["stock"] <= 10**9


@given(product_args_one_wrong())
def test_product_args_never_pass_with_wrong_types(case):
    """Exactly one argument of a wrong type, the others valid: the request
    is answered 400, naming that argument."""
    args, field = case
    body = msgpack.packb({"id": 9, "op": "MERCHANT_ADD_PRODUCT", "args": args})
    with pytest.raises(BadRequest) as refused:
        decode(body)
    event(f"reached the assertions: {field} of a wrong type")
    assert refused.value.status == 400
    assert getattr(refused.value, "request_id", None) == 9
    message = str(refused.value)
    assert message.startswith(f"{field}: must be "), (args, message)
    if field == "price":
        assert message.endswith(f"not a {type(args[field]).__name__}"), message


@pytest.fixture
def peer(market):
    return market.peer()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(envelopes() | st.binary(max_size=60), min_size=1, max_size=8))
def test_protocol_never_answers_500_to_malformed_input(peer, requests):
    """A connection fed arbitrary frames answers each with a status below
    500 (or 503/others never) and still answers PING afterwards."""
    data = b"".join(frame(msgpack.packb(r) if isinstance(r, dict) else r) for r in requests)
    peer.feed(data)
    answers = peer.responses()
    assert len(answers) == len(requests)
    assert all(a["status"] < 500 for a in answers), answers
    # Log out whatever a random request may have logged in, then PING.
    peer.protocol.connection.session = None
    peer.feed(frame(msgpack.packb({"id": 7, "op": "PING"})))
    assert peer.responses() == [
        {"id": 7, "status": 200, "message": "ok", "data": {"protocol": "1.3"}}
    ]
