"""Argument types: each checks one value from the wire and returns it in the
form the handlers use, or raises BadRequest naming the field.

They run on the reactor thread, before any database work, so they must stay
cheap and must never trust the value's type: MessagePack hands over whatever
the client sent (bool is an int in Python, floats, bytes, huge ints, ...).
"""

import re
from decimal import Decimal

from cybermarket.errors import BadRequest

MAX_ID = 2**63 - 1
MAX_QUANTITY = 1_000_000
MAX_STOCK = 1_000_000_000
MAX_PRICE = Decimal("99999999.99")
# What a BIGINT column of cents holds: no total (an order's, a store's
# profit) may pass it, on any backend.
MAX_CENTS = 2**63 - 1
_PRICE_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
CENT = Decimal("0.01")


class Arg:
    """One argument: its type, whether it may be left out, and its default.
    A nil value counts as left out for an optional argument."""

    def __init__(self, kind, optional=False, default=None):
        self.kind = kind
        self.optional = optional
        self.default = default

    def check(self, field, value):
        if value is None and self.optional:
            return self.default
        return self.kind.check(field, value)

    def describe(self):
        return self.kind.describe() + (" (optional)" if self.optional else "")


class Text:
    def __init__(self, low, high, no_at=False):
        self.low, self.high, self.no_at = low, high, no_at

    def check(self, field, value):
        if type(value) is not str:
            raise BadRequest(f"{field}: must be a string")
        # PostgreSQL cannot store NUL in text (and SQLite cuts text at it in
        # places): refused here, the same on every backend.
        if "\x00" in value:
            raise BadRequest(f"{field}: must not contain the NUL character")
        if not self.low <= len(value) <= self.high:
            raise BadRequest(
                f"{field}: must be {self.low} to {self.high} characters long"
            )
        if self.no_at and "@" in value:
            raise BadRequest(f"{field}: must not contain '@'")
        return value

    def describe(self):
        return f"string of {self.low} to {self.high} characters"


class EmailText(Text):
    def __init__(self):
        super().__init__(3, 254)

    def check(self, field, value):
        value = super().check(field, value)
        # Exactly the contract's rule: one '@' with text on both sides and a
        # dot in the domain.  Deliverability is not the server's to judge.
        local, at, domain = value.partition("@")
        if not at or not local or "@" in domain or "." not in domain:
            raise BadRequest(
                f"{field}: must have one '@' with text on both sides and a dot in the domain"
            )
        return value

    def describe(self):
        return "email address (up to 254 characters)"


class Integer:
    def __init__(self, low, high):
        self.low, self.high = low, high

    def check(self, field, value):
        # bool is a subclass of int; true is not a quantity.
        if type(value) is not int:
            raise BadRequest(f"{field}: must be an integer")
        if not self.low <= value <= self.high:
            raise BadRequest(f"{field}: must be from {self.low} to {self.high}")
        return value

    def describe(self):
        return f"integer from {self.low} to {self.high}"


class Money:
    """A price: "19", "19.9", "19.99" or an integer; 0.01 to 99,999,999.99.
    Returned as a Decimal with two places."""

    def check(self, field, value):
        if type(value) is int:
            amount = Decimal(value)
        elif type(value) is str:
            if not _PRICE_TEXT.fullmatch(value):
                raise BadRequest(
                    f"{field}: must be a decimal string with at most two "
                    f"fraction digits, such as \"19.99\", or an integer"
                )
            amount = Decimal(value)
        else:
            raise BadRequest(
                f"{field}: must be a decimal string such as \"19.99\" or an "
                f"integer, not a {type(value).__name__}"
            )
        if not CENT <= amount <= MAX_PRICE:
            raise BadRequest(f"{field}: must be from 0.01 to 99999999.99")
        return amount.quantize(CENT)

    def describe(self):
        return 'money: decimal string such as "19.99", or an integer'


def money(amount):
    """The wire form of an amount: a string with exactly two fraction digits."""
    if type(amount) is not Decimal:
        amount = Decimal(amount)
    return str(amount.quantize(CENT))


def cents(amount):
    """A Decimal amount as whole cents, for storage."""
    return int(Decimal(amount).scaleb(2).to_integral_exact())


def from_cents(value):
    # scaleb keeps the exponent at -2: Decimal(1999).scaleb(-2) is 19.99,
    # Decimal(0).scaleb(-2) is 0.00.
    return Decimal(value).scaleb(-2)


# The argument types of the contract.
Username = Text(1, 64, no_at=True)
Storename = Text(1, 64, no_at=True)
Description = Text(0, 2000)
Productname = Text(1, 200)
Password = Text(8, 128)
# A password given to be checked (login, old password) is not held to the
# rules for new ones, so a wrong one is a 401/403 rather than a 400.
GivenPassword = Text(0, 128)
Email = EmailText()
Price = Money()
Login = Text(1, 254)
Code = Text(1, 128)
Id = Integer(1, MAX_ID)
Quantity = Integer(1, MAX_QUANTITY)
Stock = Integer(0, MAX_STOCK)
Limit = Integer(1, 1000)
