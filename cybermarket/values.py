"""Argument types: each checks one value from the wire and returns it in the
form the handlers use, or raises BadRequest naming the field.

They run on the reactor thread, before any database work, so they must stay
cheap and must never trust the value's type: MessagePack hands over whatever
the client sent (bool is an int in Python, floats, bytes, huge ints, ...).
"""

import base64
import binascii
import re
import unicodedata
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from cybermarket.errors import BadRequest
from cybermarket.i18n import MAX_TAG, N_, Nn_, well_formed

MAX_ID = 2**63 - 1
MAX_QUANTITY = 1_000_000
MAX_STOCK = 1_000_000_000
MAX_PRICE = Decimal("99999999.99")
# What a BIGINT column of cents holds: no total (an order's, a store's
# profit) may pass it, on any backend.
MAX_CENTS = 2**63 - 1
# An order's total must fit a BIGINT of cents with room to spare for the
# merchants' running profit (which checkout keeps within MAX_CENTS).
MAX_TOTAL_CENTS = 10**17
_PRICE_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_SURROGATE = re.compile("[\ud800-\udfff]")
CENT = Decimal("0.01")


class Kind(Protocol):
    """An argument type: Text, Integer, Money and their kin."""

    def check(self, field: str, value: object) -> Any: ...

    def describe(self) -> str: ...


class Arg:
    """One argument: its type, whether it may be left out, and its default.
    A nil value counts as left out for an optional argument."""

    def __init__(self, kind: Kind, optional: bool = False, default: object = None) -> None:
        self.kind = kind
        self.optional = optional
        self.default = default

    def check(self, field: str, value: object) -> Any:
        if value is None and self.optional:
            return self.default
        return self.kind.check(field, value)

    def describe(self) -> str:
        return self.kind.describe() + (" (optional)" if self.optional else "")


class Text:
    """A string of low to high characters, taken as given."""

    def __init__(self, low: int, high: int, no_at: bool = False) -> None:
        self.low, self.high, self.no_at = low, high, no_at

    def check(self, field: str, value: object) -> str:
        if type(value) is not str:
            raise BadRequest(N_("{field}: must be a string"), field=field)
        # PostgreSQL cannot store NUL in text (and SQLite cuts text at it in
        # places): refused here, the same on every backend.
        if "\x00" in value:
            raise BadRequest(N_("{field}: must not contain the NUL character"), field=field)
        # A lone surrogate (JSON's "\ud800"; in MessagePack, its three bytes
        # as UTF-8 would have them) is no character: no backend can store
        # it, and it would reach the database as a 500.
        if not value.isascii() and _SURROGATE.search(value):
            raise BadRequest(
                N_("{field}: must not contain a lone surrogate (U+D800 to U+DFFF)"), field=field
            )
        value = self.normal(value)
        if not self.low <= len(value) <= self.high:
            raise BadRequest(
                Nn_(
                    "{field}: must be {low} to {n} character long",
                    "{field}: must be {low} to {n} characters long",
                ),
                field=field,
                low=self.low,
                n=self.high,
            )
        if self.no_at and "@" in value:
            raise BadRequest(N_("{field}: must not contain '@'"), field=field)
        self.check_characters(field, value)
        return value

    def normal(self, value: str) -> str:
        """The form stored and measured: the text as given, here."""
        return value

    def check_characters(self, field: str, value: str) -> None:
        pass

    def describe(self) -> str:
        return f"string of {self.low} to {self.high} characters"


# --- names people can trust (contract 1.1) -------------------------------

# Characters with the Unicode White_Space property (PropList.txt), which
# the contract names.  str.isspace() goes by other properties and also
# takes U+001C to U+001F.
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Control, format, private-use and surrogate characters and the line and
# paragraph separators: invisible, or shown differently by every font, so
# two names holding them can look alike (zero-width spaces, right-to-left
# overrides).
NOT_IN_NAMES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
# Control characters (category Cc, which is exactly U+0000 to U+001F and
# U+007F to U+009F) and the bidirectional embeddings, overrides and
# isolates (U+202A to U+202E, U+2066 to U+2069), which reorder the text
# around them.  Searched with a pattern: descriptions are long, and a
# pattern is far cheaper there than a category lookup per character.
_CONTROL_OR_BIDI = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same but for tab, line feed and carriage return, which a description
# may hold.
_DESCRIPTION_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)

# The longest fold of one character is 18 characters (U+FDFA, an Arabic
# ligature, under NFKC; no case folding is longer), so a name of 64 folds
# to at most 1152.  The rest leaves room for the "@ID" and id that the 0002
# migration appends to the keys of names that had come to collide.
NAME_KEY_LENGTH = 1200
# str.lower() makes at most two characters of one (U+0130), so an email of
# 254 has a key of at most 508.
EMAIL_KEY_LENGTH = 1024


def fold(name: str) -> str:
    """The key under which two usernames (or two storenames) are the same
    name: NFKC, then full case folding (str.casefold), then NFKC again,
    because case folding can leave text that is not in NFKC (the case fold
    of U+0390 is decomposed), and a key should have one form.
    fold(fold(x)) == fold(x)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def shown(value: object, width: int = 60) -> str:
    """A client's value, fit to repeat in a message or a log line: its text
    (a value of another type as its repr), cut short to `width` characters,
    and with anything unprintable (terminal escapes, bidi controls)
    escaped.  Whatever a client sends, what comes back is one line of at
    most a few hundred characters."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > width:
        text = text[: width - 3] + "..."
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text


def _code(character: str) -> str:
    return f"U+{ord(character):04X}"


class Name(Text):
    """A username or storename: stored in NFC, measured in NFC, and free of
    what makes names look alike or hide.  No '@', nor any character that
    folds to one (U+FF20, U+FE6B): a login with '@' is an email, and the
    keys of names that collided before these rules hold one."""

    def __init__(self) -> None:
        super().__init__(1, 64, no_at=True)

    def normal(self, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    def check_characters(self, field: str, value: str) -> None:
        for character in value:
            if unicodedata.category(character) in NOT_IN_NAMES:
                raise BadRequest(
                    N_(
                        "{field}: must not contain {character}"
                        " (a control, format or separator character)"
                    ),
                    field=field,
                    character=_code(character),
                )
        if value[0] in WHITE_SPACE or value[-1] in WHITE_SPACE:
            raise BadRequest(N_("{field}: must not begin or end with white space"), field=field)
        if "@" in fold(value):
            raise BadRequest(
                N_("{field}: must not contain '@' or a character that folds to it"), field=field
            )

    def describe(self) -> str:
        return "name of 1 to 64 characters, no '@' (compared ignoring case and width)"


class NameLookup(Text):
    """A username or storename given to find an account or store: measured
    in NFC like a new name, but not held to the rules for new ones, which
    some names kept from before them break; one that names nothing is
    simply not found."""

    def __init__(self) -> None:
        super().__init__(1, 64, no_at=True)

    def normal(self, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    def describe(self) -> str:
        return "name of 1 to 64 characters (any spelling that folds alike)"


class ProductnameText(Text):
    """Stored in NFC; no control character and no bidirectional control,
    no white space at either end.  Other format characters stay allowed:
    the zero-width joiner holds emoji together."""

    def __init__(self) -> None:
        super().__init__(1, 200)

    def normal(self, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    def check_characters(self, field: str, value: str) -> None:
        found = _CONTROL_OR_BIDI.search(value)
        if found:
            raise BadRequest(
                N_(
                    "{field}: must not contain {character}"
                    " (a control or bidirectional control character)"
                ),
                field=field,
                character=_code(found.group()),
            )
        if value[0] in WHITE_SPACE or value[-1] in WHITE_SPACE:
            raise BadRequest(N_("{field}: must not begin or end with white space"), field=field)


class DescriptionText(Text):
    """Free text, taken as given: line breaks and tabs, but no other control
    character and no bidirectional control.  A product's or store's
    description; by the same rules, an order's address and a shipping
    note (protocol 1.2), of their own lengths."""

    def __init__(self, low: int = 0, high: int = 2000) -> None:
        super().__init__(low, high)

    def check_characters(self, field: str, value: str) -> None:
        found = _DESCRIPTION_FORBIDDEN.search(value)
        if found:
            raise BadRequest(
                N_(
                    "{field}: must not contain {character} (a control or"
                    " bidirectional control character; line breaks and tabs are fine)"
                ),
                field=field,
                character=_code(found.group()),
            )


class EmailText(Text):
    def __init__(self) -> None:
        super().__init__(3, 254)

    def check(self, field: str, value: object) -> str:
        value = super().check(field, value)
        # Exactly the contract's rule: one '@' with text on both sides and a
        # dot in the domain.  Deliverability is not the server's to judge.
        local, at, domain = value.partition("@")
        if not at or not local or "@" in domain or "." not in domain:
            raise BadRequest(
                N_("{field}: must have one '@' with text on both sides and a dot in the domain"),
                field=field,
            )
        return value

    def describe(self) -> str:
        return "email address (up to 254 characters)"


class Tag(Text):
    """A BCP 47 language tag (RFC 5646), well formed, 1 to 35 characters."""

    def __init__(self) -> None:
        super().__init__(1, MAX_TAG)

    def check_characters(self, field: str, value: str) -> None:
        if not well_formed(value):
            raise BadRequest(N_("{field}: not a well-formed BCP 47 language tag"), field=field)

    def describe(self) -> str:
        return "BCP 47 language tag, such as en, zh-CN or ru"


class Integer:
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def check(self, field: str, value: object) -> int:
        # bool is a subclass of int; true is not a quantity.
        if type(value) is not int:
            raise BadRequest(N_("{field}: must be an integer"), field=field)
        if not self.low <= value <= self.high:
            raise BadRequest(
                N_("{field}: must be from {low} to {high}"),
                field=field,
                low=self.low,
                high=self.high,
            )
        return value

    def describe(self) -> str:
        return f"integer from {self.low} to {self.high}"


class Money:
    """A price: "19", "19.9", "19.99" or an integer; 0.01 to 99,999,999.99.
    Returned as a Decimal with two places.  `high`: another most, for an
    amount that is not a price (checkout's expected_total, up to the
    order-total limit)."""

    def __init__(self, high: Decimal = MAX_PRICE) -> None:
        self.high = high

    def check(self, field: str, value: object) -> Decimal:
        if type(value) is int:
            amount = Decimal(value)
        elif type(value) is str:
            if not _PRICE_TEXT.fullmatch(value):
                raise BadRequest(
                    N_(
                        "{field}: must be a decimal string with at most two "
                        'fraction digits, such as "19.99", or an integer'
                    ),
                    field=field,
                )
            amount = Decimal(value)
        else:
            raise BadRequest(
                N_('{field}: must be a decimal string such as "19.99" or an integer, not a {type}'),
                field=field,
                type=type(value).__name__,
            )
        if not CENT <= amount <= self.high:
            if self.high == MAX_PRICE:
                raise BadRequest(N_("{field}: must be from 0.01 to 99999999.99"), field=field)
            raise BadRequest(
                N_("{field}: must be from {low} to {high}"),
                field=field,
                low=money(CENT),
                high=money(self.high),
            )
        return amount.quantize(CENT)

    def describe(self) -> str:
        return 'money: decimal string such as "19.99", or an integer'


def money(amount: Decimal | int | str) -> str:
    """The wire form of an amount: a string with exactly two fraction digits."""
    if type(amount) is not Decimal:
        amount = Decimal(amount)
    return str(amount.quantize(CENT))


def cents(amount: Decimal | int | str) -> int:
    """A Decimal amount as whole cents, for storage."""
    return int(Decimal(amount).scaleb(2).to_integral_exact())


def from_cents(value: int | Decimal) -> Decimal:
    # scaleb keeps the exponent at -2: Decimal(1999).scaleb(-2) is 19.99,
    # Decimal(0).scaleb(-2) is 0.00.
    return Decimal(value).scaleb(-2)


class Choice:
    """One of a few words, exactly as written (an order part's status)."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def check(self, field: str, value: object) -> str:
        if type(value) is not str or value not in self.words:
            raise BadRequest(
                N_("{field}: must be one of {words}"), field=field, words=", ".join(self.words)
            )
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(self.words)


# --- product search (contract 1.1; 1.2, "Search cost") -----------------------

# A word is a run of letters and digits: \w without the underscore.
_SEARCH_WORD = re.compile(r"[^\W_]+")
MAX_QUERY = 200
# Contract 1.2: a query of more words is refused.  Eight one-letter words
# are the costliest query it allows (docs/security.md).
MAX_QUERY_WORDS = 8
# The index terms a query is looked up by, at most: a run of CJK characters
# is one word but many terms (below), and a query may match more products
# than it names, never fewer, so the rest of a long run is left out.
MAX_QUERY_TERMS = 16

# Scripts written without spaces between words (Chinese, Japanese), and
# Korean, whose words are spaced but whose compounds run long.  Contract
# 1.2 has their text matched by its characters ("茶" finds "绿茶"), so a run
# of them is indexed as its single characters and each pair of neighbours:
# a query of one character finds it anywhere, a longer one by its pairs.
_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # iteration marks, numerals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u31bf\u31f0-\u31ff"  # Bopomofo, Hangul Jamo, Katakana extension
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # CJK ideographs, extensions B and on
)
# A word's pieces: (a run of CJK characters, "") or ("", the rest).
_PIECES = re.compile(f"([{_CJK}]+)|([^{_CJK}]+)")


def searchable(text: str) -> str:
    """Text as search compares it: NFKC, full case folding, then without
    combining marks (Unicode categories Mn, Mc, Me, found by decomposing
    first), composed again.  A query and a product typed in any normal form
    give the same text: "Café", "CAFE\u0301" and "ｃａｆｅ" all give "cafe"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return unicodedata.normalize("NFC", bare)


def search_words(text: str) -> list[str]:
    """The words of `text` as search compares them, in order."""
    return _SEARCH_WORD.findall(searchable(text))


def search_terms(text: str) -> list[str]:
    """What the search index holds for `text`, in order: its words, except
    that a run of CJK characters within a word gives each of its characters
    and each pair of neighbours ("绿茶叶" gives 绿, 绿茶, 茶, 茶叶, 叶).  Joined
    by spaces, what products.name_words and description_words hold."""
    terms: list[str] = []
    for word in search_words(text):
        if word.isascii():
            terms.append(word)
            continue
        for run, other in _PIECES.findall(word):
            if other:
                terms.append(other)
                continue
            for i, character in enumerate(run):
                terms.append(character)
                if i + 1 < len(run):
                    terms.append(run[i : i + 2])
    return terms


class Term(NamedTuple):
    """One term a query is looked up by."""

    text: str
    # Whether it also matches as the beginning of a longer word; False for
    # CJK characters and pairs, which the index holds one by one and which
    # match as they are.
    grows: bool


def query_terms(words: list[str]) -> tuple[Term, ...]:
    """The terms of a query's words, each once, at most MAX_QUERY_TERMS: a
    word as it is; a run of CJK characters as its one character, or as
    pairs that cover it (绿茶叶 as 绿茶 and 茶叶), which a product holding the
    run holds too."""
    terms: dict[Term, None] = {}
    for word in words:
        for run, other in _PIECES.findall(word):
            if other:
                terms[Term(other, True)] = None
            elif len(run) == 1:
                terms[Term(run, False)] = None
            else:
                starts = list(range(0, len(run) - 1, 2))
                if len(run) % 2:
                    starts.append(len(run) - 2)
                for start in starts:
                    terms[Term(run[start : start + 2], False)] = None
    return tuple(terms)[:MAX_QUERY_TERMS]


class SearchQuery(Text):
    """SEARCH_PRODUCT's query: 1 to 200 characters (of the NFC form) with
    one to eight words.  Checked into the terms it is looked up by
    (query_terms)."""

    def __init__(self) -> None:
        super().__init__(1, MAX_QUERY)

    def normal(self, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    def check(self, field: str, value: object) -> tuple[Term, ...]:  # type: ignore[override]
        words = search_words(super().check(field, value))
        if not words:
            raise BadRequest(
                N_("{field}: must hold at least one word (letters or digits)"), field=field
            )
        # Counted as they come, repeats and all: the contract's words.
        if len(words) > MAX_QUERY_WORDS:
            raise BadRequest(N_("{field}: must hold at most 8 words"), field=field)
        return query_terms(words)

    def describe(self) -> str:
        return "text of 1 to 200 characters; its words (1 to 8) are its runs of letters and digits"


class SearchAfter:
    """SEARCH_PRODUCT's `after`: the `next` of the page before, an opaque
    string.  Inside: the last row's rank (0 to 3, see
    cybermarket/storage/search.py) and product_id.  Checked into
    that pair."""

    RANKS = 4

    @staticmethod
    def encode(rank: int, product_id: int) -> str:
        text = f"{rank}:{product_id}"
        return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")

    def check(self, field: str, value: object) -> tuple[int, int]:
        if type(value) is not str:
            raise BadRequest(N_("{field}: must be a string"), field=field)
        try:
            if not 1 <= len(value) <= 64 or not value.isascii():
                raise ValueError
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
            rank, product_id = text.split(":")
            cursor = (int(rank), int(product_id))
            # Only what encode() gives: the round trip refuses any other
            # spelling, and anything base64 would skip over.
            if not (0 <= cursor[0] < self.RANKS and 0 <= cursor[1] <= MAX_ID):
                raise ValueError
            if self.encode(*cursor) != value:
                raise ValueError
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                N_("{field}: not a `next` value from SEARCH_PRODUCT"), field=field
            ) from None
        return cursor

    def describe(self) -> str:
        return "the `next` of the page before (an opaque string)"


# The argument types of the contract.
Username = Name()
Storename = Name()
# LIST_PRODUCT's storename, MERCHANT_CREATE's inviter: found by fold.
StoreLookup = NameLookup()
# LIST_MERCHANT's `after`: the last storename of a page, compared with the
# stored names by code point, so taken exactly as given.
StorenameKey = Text(1, 64, no_at=True)
Description = DescriptionText()
Productname = ProductnameText()
Password = Text(8, 128)
# A password given to be checked (login, old password) is not held to the
# rules for new ones, so a wrong one is a 401/403 rather than a 400.
GivenPassword = Text(0, 128)
Email = EmailText()
Price = Money()
# Checkout's expected_total (protocol 1.2): a price's form, up to the
# order-total limit.
ExpectedTotal = Money(Decimal(MAX_TOTAL_CENTS).scaleb(-2))
# Where an order goes, and a store's shipping note (protocol 1.2): the
# description's rules, line breaks allowed.
Address = DescriptionText(1, 500)
Note = DescriptionText(0, 200)
# The status of a store's part of an order (protocol 1.2).
PLACED, SHIPPED, CANCELLED = "placed", "shipped", "cancelled"
OrderStatus = Choice(PLACED, SHIPPED, CANCELLED)
Login = Text(1, 254)
Code = Text(1, 128)
Id = Integer(1, MAX_ID)
Quantity = Integer(1, MAX_QUANTITY)
Stock = Integer(0, MAX_STOCK)
Limit = Integer(1, 1000)
LanguageTag = Tag()
SearchLimit = Integer(1, 100)
Query = SearchQuery()
After = SearchAfter()
# A session token (RESUME): the server's are 43 characters; the contract
# allows up to 128.
Token = Text(1, 128)
