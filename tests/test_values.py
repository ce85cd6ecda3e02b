"""The argument types of cybermarket/values.py, checked directly."""

from decimal import Decimal

import pytest

from cybermarket import values as v
from cybermarket.errors import BadRequest


def rejects(kind, value, field="field"):
    with pytest.raises(BadRequest) as caught:
        kind.check(field, value)
    assert caught.value.status == 400
    assert caught.value.message.startswith(f"{field}:")
    return caught.value.message


# --- money ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("19", "19.00"),
        ("19.9", "19.90"),
        ("19.99", "19.99"),
        (19, "19.00"),
        ("0.01", "0.01"),
        ("0.10", "0.10"),
        ("99999999.99", "99999999.99"),
        (99999999, "99999999.00"),
        ("007.5", "7.50"),
    ],
)
def test_money_accepts(value, expected):
    amount = v.Price.check("price", value)
    assert isinstance(amount, Decimal)
    assert amount.as_tuple().exponent == -2
    assert str(amount) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0",
        0,
        "0.00",
        "-1",
        -5,
        "19.999",
        "0.001",
        "1e3",
        " 19",
        "19 ",
        "19\n",
        "+19",
        "NaN",
        "Infinity",
        "19.",
        ".5",
        "1,5",
        "",
        "١٩",  # Arabic-Indic digits: numeric to Python, not to the contract
        19.99,
        19.0,
        True,
        False,
        None,
        b"19",
        [19],
        "100000000",
        100000000,
        "99999999.991",
    ],
)
def test_money_rejects(value):
    rejects(v.Price, value, "price")


def test_money_names_the_type_of_a_float():
    assert "float" in rejects(v.Price, 19.99, "price")


# --- text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, low, high",
    [
        (v.Username, 1, 64),
        (v.Storename, 1, 64),
        (v.Description, 0, 2000),
        (v.Productname, 1, 200),
        (v.Password, 8, 128),
        (v.GivenPassword, 0, 128),
        (v.Login, 1, 254),
        (v.Code, 1, 128),
    ],
)
def test_text_length_limits(kind, low, high):
    assert kind.check("field", "x" * low) == "x" * low
    assert kind.check("field", "x" * high) == "x" * high
    rejects(kind, "x" * (high + 1))
    if low > 0:
        rejects(kind, "x" * (low - 1))


def test_text_counts_characters_not_bytes():
    name = "é" * 64
    assert v.Username.check("username", name) == name
    rejects(v.Username, "é" * 65, "username")


@pytest.mark.parametrize("value", [5, None, True, b"alice", ["alice"], {"a": 1}, 1.5])
def test_text_rejects_non_strings(value):
    assert "must be a string" in rejects(v.Username, value, "username")


@pytest.mark.parametrize("kind", [v.Username, v.Storename])
def test_names_must_not_contain_at(kind):
    assert "@" in rejects(kind, "al@ice", "name")


def test_other_text_may_contain_at():
    assert v.Description.check("description", "mail me @ home") == "mail me @ home"
    assert v.Login.check("login", "alice@example.com") == "alice@example.com"


def test_long_value_is_not_echoed_in_the_message():
    assert len(rejects(v.Username, "x" * 5000, "username")) < 100


# --- a client's value, repeated in a message or a log line --------------------


def test_shown_leaves_short_printable_text_as_it_is():
    assert v.shown("extra") == "extra"
    assert v.shown("café ☕") == "café ☕"
    assert v.shown("x" * 60) == "x" * 60


def test_shown_cuts_long_text_short():
    assert v.shown("x" * 61) == "x" * 57 + "..."
    assert v.shown("abcdef", width=5) == "ab..."


def test_shown_escapes_what_a_terminal_would_act_on():
    assert v.shown("\x1b[2J\u202eevil\n") == "\\x1b[2J\\u202eevil\\n"
    assert v.shown("\x1b" + "k" * 100).startswith("\\x1b") and "\x1b" not in v.shown("\x1b")


def test_shown_gives_other_values_as_their_repr():
    assert v.shown(7) == "7"
    assert v.shown(b"\x00") == "b'\\x00'"
    assert v.shown(None) == "None"


# --- email ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a@b.co",
        "Alice.Smith@Example.COM",
        "a+tag@mail.example.org",
        "x" * 64 + "@" + "d" * 185 + ".com",  # 254 characters
        # The contract's rule is only: one '@', text on both sides, a dot in
        # the domain.
        "a@.co",
        "a@b.",
        "a b@c.co",
        "a@b.co ",
        "a@b\t.co",
    ],
)
def test_email_accepts(value):
    assert v.Email.check("email", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "ab",
        "alice",
        "alice.example.com",
        "a@b",
        "@b.co",
        "a@",
        "a@@b.co",
        "a@b@c.co",
        "x" * 64 + "@" + "d" * 186 + ".com",  # 255 characters
        5,
        None,
        b"a@b.co",
    ],
)
def test_email_rejects(value):
    rejects(v.Email, value, "email")


# --- integers -------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, low, high",
    [
        (v.Quantity, 1, 1_000_000),
        (v.Stock, 0, 1_000_000_000),
        (v.Limit, 1, 1000),
        (v.Id, 1, 2**63 - 1),
    ],
)
def test_integer_bounds(kind, low, high):
    assert kind.check("n", low) == low
    assert kind.check("n", high) == high
    assert "must be from" in rejects(kind, low - 1, "n")
    assert "must be from" in rejects(kind, high + 1, "n")


@pytest.mark.parametrize("kind", [v.Quantity, v.Stock, v.Limit, v.Id])
@pytest.mark.parametrize("value", [True, False])
def test_integer_rejects_bool(kind, value):
    assert "must be an integer" in rejects(kind, value, "n")


@pytest.mark.parametrize("value", [1.0, "1", None, b"1", [1]])
def test_integer_rejects_non_integers(value):
    assert "must be an integer" in rejects(v.Quantity, value, "quantity")


# --- Arg --------------------------------------------------------------------


def test_optional_arg_takes_its_default_for_nil():
    assert v.Arg(v.Limit, optional=True, default=1000).check("limit", None) == 1000


def test_required_arg_rejects_nil():
    with pytest.raises(BadRequest, match="^limit: must be an integer"):
        v.Arg(v.Limit).check("limit", None)


def test_arg_checks_a_present_value():
    with pytest.raises(BadRequest, match="^limit:"):
        v.Arg(v.Limit, optional=True, default=1000).check("limit", 0)


# --- money(), cents(), from_cents() -------------------------------------------


@pytest.mark.parametrize(
    "amount, text",
    [
        (Decimal("19.9"), "19.90"),
        (Decimal("19.99"), "19.99"),
        (Decimal("19"), "19.00"),
        (Decimal("1E+2"), "100.00"),
        (Decimal("0"), "0.00"),
        (Decimal("99999999.99"), "99999999.99"),
        (Decimal("99999999.99") * 1_000_000_000, "99999999990000000.00"),
        (7, "7.00"),
        ("5.5", "5.50"),
    ],
)
def test_money_text(amount, text):
    assert v.money(amount) == text


@pytest.mark.parametrize(
    "amount, whole_cents",
    [
        (Decimal("19.99"), 1999),
        (Decimal("0.01"), 1),
        (Decimal("19"), 1900),
        (Decimal("19.90"), 1990),
        (Decimal("99999999.99"), 9_999_999_999),
    ],
)
def test_cents(amount, whole_cents):
    result = v.cents(amount)
    assert type(result) is int
    assert result == whole_cents


@pytest.mark.parametrize(
    "whole_cents, text", [(1999, "19.99"), (1, "0.01"), (100, "1.00"), (0, "0.00"), (1990, "19.90")]
)
def test_from_cents(whole_cents, text):
    amount = v.from_cents(whole_cents)
    assert isinstance(amount, Decimal)
    assert str(amount) == text


@pytest.mark.parametrize("whole_cents", [1, 9, 10, 99, 100, 101, 1999, 9_999_999_999])
def test_cents_round_trip(whole_cents):
    assert v.cents(v.from_cents(whole_cents)) == whole_cents
    assert v.money(v.from_cents(whole_cents)) == str(v.from_cents(whole_cents))


def test_checked_price_round_trips_through_cents():
    price = v.Price.check("price", "19.9")
    assert v.from_cents(v.cents(price)) == price
    assert v.money(v.from_cents(v.cents(price))) == "19.90"
