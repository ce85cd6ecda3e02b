"""Names people can trust (wire contract 1.1): usernames and storenames are
stored in NFC, hold no control or format characters, do not begin or end
with white space, and are one name when they fold alike (NFKC and full
case folding); productnames and descriptions hold no control characters
that hide or reorder text."""

import itertools
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from cybermarket import values as v
from cybermarket.errors import BadRequest
from cybermarket.storage.models import clients, merchants
from tests.shop import add_product, column, expect, records, store_args

PASSWORD = "a-good-password"

# Every character with the Unicode White_Space property (PropList.txt).
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# One or more of each category a name may not hold.
FORBIDDEN_IN_NAMES = {
    "Cc": "\x01\x07\x1b\x7f\x85\x9f",
    "Cf": "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2060\u2066\u2069\ufeff",
    "Co": "\ue000\uf8ff\U000f0000\U0010fffd",
    "Cs": "\ud800\udfff",
    "Zl": "\u2028",
    "Zp": "\u2029",
}
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def rejects(kind, value, field="field"):
    with pytest.raises(BadRequest) as caught:
        kind.check(field, value)
    assert caught.value.message.startswith(f"{field}:"), caught.value.message
    return caught.value.message


def test_the_forbidden_characters_are_of_their_categories():
    for category, characters in FORBIDDEN_IN_NAMES.items():
        assert {unicodedata.category(c) for c in characters} == {category}


# --- fold ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["alice", "Alice", "ALICE", "ａｌｉｃｅ", "ＡＬＩＣＥ"],  # case, full width
        ["straße", "STRASSE", "Strasse", "STRAẞE"],  # full case folding
        ["café", "cafe\u0301", "CAFÉ", "CAFE\u0301"],  # composed or not
        ["ﬁne", "fine", "FINE"],  # a ligature
        ["k", "K", "\u212a"],  # the Kelvin sign
        ["x²", "x2"],  # a compatibility superscript
        ["ὀδυσσεύς", "ὈΔΥΣΣΕΎΣ", "ὀδυσσεύσ"],  # final sigma
        ["i̇stanbul", "İstanbul"],  # a capital I with a dot
    ],
)
def test_fold_makes_look_alikes_equal(spellings):
    assert len({v.fold(name) for name in spellings}) == 1, [v.fold(s) for s in spellings]


@pytest.mark.parametrize("a, b", [("alice", "alicia"), ("i", "ı"), ("a", "а")])
def test_fold_keeps_different_letters_apart(a, b):
    # ı (dotless i) and Cyrillic а are other letters, not other spellings.
    assert v.fold(a) != v.fold(b)


def test_fold_is_nfkc_of_the_full_case_fold_of_nfkc():
    name = "ＳｔｒａßＥ\u212a"
    nfkc = unicodedata.normalize("NFKC", name)
    assert v.fold(name) == unicodedata.normalize("NFKC", nfkc.casefold()) == "strassek"


# Characters whose fold is most likely to need the second NFKC.
TRICKY = (
    "\u0345\u0390\u03b0\u1e96\u1e9e\u1f80\u1fb3\u1fbc\u01f0\u0130\u0131\u00df\u212a\u2126"
    "\u0301\u0308\u0342\u0313\u0314\u0323\u0327\u1e9b\ufb00\ufb05\ufdfa\u3300\u00b2\u2075"
    "aeiouyAEIOUYsSkKıİ "
)


@settings(max_examples=400, deadline=None)
@given(st.text() | st.text(alphabet=TRICKY))
@example("\u0390")  # ΐ: its case fold needs NFKC again to be stable
@example("\u1e9e\u0301")
@example("\u0345\u0301")
def test_fold_is_idempotent(name):
    assert v.fold(v.fold(name)) == v.fold(name)


def test_a_name_folds_to_at_most_the_key_column():
    """Each character folds to at most 18 (U+FDFA), even before composing;
    a name of 64 fits the key column with room for the suffix the 0002
    migration gives names that collided."""
    longest = max(
        len(unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", chr(c)).casefold()))
        for c in range(sys.maxunicode + 1)
    )
    assert longest == 18
    assert 64 * longest + len("@9223372036854775807") <= v.NAME_KEY_LENGTH
    assert len(v.fold("\ufdfa" * 64)) == 64 * 18


def test_the_longest_email_key_fits_its_column():
    assert max(len(chr(c).lower()) for c in range(sys.maxunicode + 1)) == 2
    assert 254 * 2 <= v.EMAIL_KEY_LENGTH


# --- usernames and storenames, checked ---------------------------------------------


NAME_KINDS = [v.Username, v.Storename]


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_a_name_is_stored_in_nfc(kind):
    assert kind.check("name", "Cafe\u0301") == "Café"
    assert kind.check("name", "\u212b") == "\u00c5"  # Ångström sign: NFC is Å
    # NFC, not NFKC: a full-width name keeps its spelling (it folds alike).
    assert kind.check("name", "ａｌｉｃｅ") == "ａｌｉｃｅ"


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_a_names_length_is_that_of_its_nfc_form(kind):
    assert kind.check("name", "e\u0301" * 64) == "é" * 64  # 128 code points given
    rejects(kind, "e\u0301" * 65, "name")
    rejects(kind, "", "name")


@pytest.mark.parametrize("kind", NAME_KINDS)
@pytest.mark.parametrize(
    "character",
    [c for characters in FORBIDDEN_IN_NAMES.values() for c in characters],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_name_with_a_control_or_format_character_is_refused(kind, character):
    for name in (f"al{character}ice", f"{character}alice", f"alice{character}"):
        message = rejects(kind, name, "username")
        assert f"U+{ord(character):04X}" in message


@pytest.mark.parametrize("kind", NAME_KINDS)
@pytest.mark.parametrize("space", WHITE_SPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_name_beginning_or_ending_with_white_space_is_refused(kind, space):
    rejects(kind, f"{space}alice", "storename")
    rejects(kind, f"alice{space}", "storename")


@pytest.mark.parametrize("kind", NAME_KINDS)
@pytest.mark.parametrize("space", [" ", "\u00a0", "\u2003", "\u3000", "\u202f"])
def test_a_name_may_hold_white_space_inside(kind, space):
    assert kind.check("name", f"alice{space}smith") == f"alice{space}smith"


@pytest.mark.parametrize("kind", NAME_KINDS)
@pytest.mark.parametrize("name", ["a@b", "a\uff20b", "a\ufe6bb"])
def test_a_name_with_an_at_sign_or_one_that_folds_to_it_is_refused(kind, name):
    # A name that folds to hold '@' could be taken for an email, and no
    # name's key may look like the keys 0002 gives names that collided.
    assert "@" in rejects(kind, name, "name")


@pytest.mark.parametrize("kind", NAME_KINDS)
@pytest.mark.parametrize("name", ["alice", "Ωmega", "名前", "x²", "a.b-c_d", "👩", "é"])
def test_ordinary_names_pass(kind, name):
    assert kind.check("name", name) == unicodedata.normalize("NFC", name)


# --- productnames and descriptions -------------------------------------------------


def test_a_productname_is_stored_in_nfc_and_may_hold_joiners():
    assert v.Productname.check("productname", "Cafe\u0301 au lait") == "Café au lait"
    emoji = "👩\u200d💻 sticker"  # the zero-width joiner inside an emoji
    assert v.Productname.check("productname", emoji) == emoji
    assert v.Productname.check("productname", "e\u0301" * 200) == "é" * 200
    rejects(v.Productname, "e\u0301" * 201, "productname")


@pytest.mark.parametrize(
    "character",
    ["\x01", "\x07", "\t", "\n", "\x7f", "\x85", *BIDI_CONTROLS],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_productname_with_a_control_or_bidi_control_is_refused(character):
    message = rejects(v.Productname, f"apple{character}pie", "productname")
    assert f"U+{ord(character):04X}" in message


@pytest.mark.parametrize("space", WHITE_SPACE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_productname_beginning_or_ending_with_white_space_is_refused(space):
    rejects(v.Productname, f"{space}apple", "productname")
    rejects(v.Productname, f"apple{space}", "productname")


def test_productnames_and_descriptions_refuse_exactly_controls_and_bidi_controls():
    """Checked over every character: the checks go by code point ranges,
    which must be Unicode's category Cc plus the bidirectional controls,
    and the surrogates (category Cs), which every text argument refuses."""
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        refused = unicodedata.category(character) in ("Cc", "Cs") or character in BIDI_CONTROLS
        text = f"a{character}b"
        for kind, allowed in ((v.Productname, ""), (v.Description, "\t\n\r")):
            try:
                kind.check("text", text)
            except BadRequest:
                assert refused and character not in allowed, f"U+{code:04X}"
            else:
                assert not refused or character in allowed, f"U+{code:04X}"


def test_a_description_may_hold_line_breaks_and_tabs():
    text = "  Fresh apples.\nPicked daily.\r\n\tOrganic.  "
    assert v.Description.check("description", text) == text
    assert v.Description.check("description", "") == ""
    assert v.Description.check("description", "zero\u200bwidth") == "zero\u200bwidth"


@pytest.mark.parametrize(
    "character",
    ["\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", *BIDI_CONTROLS],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_description_with_another_control_or_a_bidi_control_is_refused(character):
    message = rejects(v.Description, f"fresh{character}apples", "description")
    assert f"U+{ord(character):04X}" in message


# --- on the wire -----------------------------------------------------------------


def stored(market, table, column, key_column, key):
    engine = create_engine(market.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(select(column).where(key_column == key)).scalar_one()
    finally:
        engine.dispose()


SERIAL = itertools.count()


def new_email():
    return f"someone{next(SERIAL)}@example.com"


def create_client(market, username, email=None):
    return market.peer().call(
        "CLIENT_CREATE", username=username, email=email or new_email(), password=PASSWORD
    )


def join(market, storename, **override):
    """MERCHANT_CREATE on a new connection, with an operator's code unless
    `code` is given; the response."""
    args = store_args(storename, PASSWORD, market.invite(), email=new_email())
    args.update(override)
    return market.peer().call("MERCHANT_CREATE", **args)


def logs_in(market, op, login):
    return market.peer().call(op, login=login, password=PASSWORD)["status"] == 200


@pytest.mark.parametrize("other", ["alice", "ALICE", "ａｌｉｃｅ", "Ａlice"])
def test_a_username_that_folds_like_a_taken_one_is_409(market, other):
    assert create_client(market, "Alice")["status"] == 201
    response = create_client(market, other, email="other@example.com")
    assert response["status"] == 409, response
    assert response["message"].startswith("username:")


@pytest.mark.parametrize("login", ["Alice", "ALICE", "alice", "ａｌｉｃｅ"])
def test_a_client_logs_in_by_any_spelling_of_the_name_and_keeps_its_own(market, login):
    assert create_client(market, "Alice")["status"] == 201
    assert logs_in(market, "CLIENT_LOGIN", login)
    assert stored(market, clients, clients.c.username, clients.c.username_key, "alice") == "Alice"


@pytest.mark.parametrize("login", ["alice\u200b", "al ice", "alicia", "\u0430lice"])
def test_a_login_that_only_looks_like_the_name_fails(market, login):
    assert create_client(market, "alice")["status"] == 201
    assert not logs_in(market, "CLIENT_LOGIN", login)


def test_a_username_is_stored_in_nfc(market):
    assert create_client(market, "Cafe\u0301")["status"] == 201
    assert stored(market, clients, clients.c.username, clients.c.username_key, "café") == "Café"
    assert logs_in(market, "CLIENT_LOGIN", "Café")
    assert logs_in(market, "CLIENT_LOGIN", "CAFE\u0301")


def test_set_client_username_that_folds_like_another_is_409(market):
    market.client("bob")
    alice = market.client("alice", password=PASSWORD)
    assert expect(alice, 409, "SET_CLIENT_USERNAME", username="BOB").startswith("username:")
    expect(alice, 200, "SET_CLIENT_USERNAME", username="ALICE")  # its own name, respelled
    assert stored(market, clients, clients.c.username, clients.c.username_key, "alice") == "ALICE"
    expect(alice, 200, "SET_CLIENT_USERNAME", username="Alicia")
    assert logs_in(market, "CLIENT_LOGIN", "alicia")
    assert not logs_in(market, "CLIENT_LOGIN", "alice")
    assert create_client(market, "alice")["status"] == 201  # the old name is free again


def test_a_storename_that_folds_like_a_taken_one_is_409(market):
    assert join(market, "Corner Shop")["status"] == 201
    for other in ("corner shop", "CORNER SHOP", "Ｃｏｒｎｅｒ Ｓｈｏｐ"):
        response = join(market, other)
        assert response["status"] == 409, (other, response)
        assert response["message"].startswith("storename:")
    assert column(market.peer().ok("LIST_MERCHANT"), "storename") == ["Corner Shop"]


def test_a_store_is_found_by_any_spelling_of_its_name(market):
    shop = market.merchant("Shop", password=PASSWORD)
    apple = add_product(shop, "apple")
    for spelling in ("shop", "SHOP", "Ｓｈｏｐ"):
        rows = records(market.peer().ok("LIST_PRODUCT", storename=spelling))
        assert [(r["product_id"], r["storename"]) for r in rows] == [(apple, "Shop")]
        assert logs_in(market, "MERCHANT_LOGIN", spelling)
    expect(market.peer(), 404, "LIST_PRODUCT", storename="Shop\u200b")


def test_an_inviter_is_found_by_any_spelling_of_its_name(market):
    shop = market.merchant("Shop", password=PASSWORD)
    code = shop.ok("MERCHANT_CREATE_INVITATION")
    assert join(market, "newcomer", code=code, inviter="sHoP")["status"] == 201
    code = shop.ok("MERCHANT_CREATE_INVITATION")
    assert join(market, "stranger", code=code, inviter="Shop\u200b")["status"] == 406


def test_a_storename_is_stored_in_nfc(market):
    assert join(market, "Cafe\u0301")["status"] == 201
    assert column(market.peer().ok("LIST_MERCHANT"), "storename") == ["Café"]
    assert (
        stored(market, merchants, merchants.c.storename, merchants.c.storename_key, "café")
        == "Café"
    )


def test_set_merchant_storename_that_folds_like_another_is_409(market):
    market.merchant("other")
    shop = market.merchant("shop", password=PASSWORD)
    assert expect(shop, 409, "SET_MERCHANT_STORENAME", storename="OTHER").startswith("storename:")
    expect(shop, 200, "SET_MERCHANT_STORENAME", storename="SHOP")
    assert column(market.peer().ok("LIST_MERCHANT"), "storename") == ["SHOP", "other"]
    assert logs_in(market, "MERCHANT_LOGIN", "shop")


@pytest.mark.parametrize(
    "username",
    ["al\u200bice", " alice", "alice\u00a0", "ali\u202ece", "alice\u2028", "\uff20alice"],
)
def test_client_create_with_a_bad_username_is_400_naming_it(market, username):
    response = create_client(market, username)
    assert response["status"] == 400, response
    assert response["message"].startswith("username:")


@pytest.mark.parametrize(
    "field, value",
    [
        ("storename", "shop\u202e"),
        ("storename", "\u3000shop"),
        ("storename", "sh\u0007op"),
        ("description", "fresh\u202eseilppa"),
        ("description", "bell\u0007"),
    ],
)
def test_merchant_create_with_a_bad_name_or_description_is_400_naming_it(market, field, value):
    args = {"storename": "shop", field: value}
    response = join(market, **args)
    assert response["status"] == 400, response
    assert response["message"].startswith(f"{field}:")
    assert market.peer().ok("LIST_MERCHANT")["rows"] == []


@pytest.mark.parametrize(
    "op, args",
    [
        ("SET_CLIENT_USERNAME", {"username": "alice\u200d"}),
        ("SET_CLIENT_USERNAME", {"username": "alice "}),
    ],
)
def test_a_client_rename_to_a_bad_name_is_400(market, op, args):
    alice = market.client("alice")
    assert expect(alice, 400, op, **args).startswith("username:")


PRODUCT = {"productname": "apple", "price": "1", "description": ""}


@pytest.mark.parametrize(
    "op, field, value",
    [
        ("SET_MERCHANT_STORENAME", "storename", "\u2066shop"),
        ("SET_MERCHANT_STORENAME", "storename", "shop\t"),
        ("SET_MERCHANT_DESCRIPTION", "description", "\u202dreversed"),
        ("SET_MERCHANT_DESCRIPTION", "description", "escape\x1b[31m"),
        ("MERCHANT_ADD_PRODUCT", "productname", "apple\u202e"),
        ("MERCHANT_ADD_PRODUCT", "productname", " apple"),
        ("MERCHANT_ADD_PRODUCT", "productname", "app\nle"),
        ("MERCHANT_ADD_PRODUCT", "description", "\u2067x"),
    ],
)
def test_a_merchant_op_with_a_bad_name_or_text_is_400_naming_it(market, op, field, value):
    shop = market.merchant("shop")
    args = dict(PRODUCT) if op == "MERCHANT_ADD_PRODUCT" else {}
    args[field] = value
    assert expect(shop, 400, op, **args).startswith(f"{field}:")


@pytest.mark.parametrize(
    "field, value",
    [("productname", "apple\u2069"), ("productname", "apple\u3000"), ("description", "\u202ax")],
)
def test_set_product_with_bad_text_is_400_naming_it(market, field, value):
    shop = market.merchant("shop")
    apple = add_product(shop, "apple", description="red")
    assert expect(shop, 400, "SET_PRODUCT", product_id=apple, **{field: value}).startswith(
        f"{field}:"
    )
    record = records(shop.ok("MERCHANT_LIST_PRODUCTS"))[0]
    assert (record["productname"], record["description"]) == ("apple", "red")


def test_a_productname_is_stored_in_nfc(market):
    shop = market.merchant("shop")
    latte = add_product(shop, "Cafe\u0301 au lait", description="line one\n\tline two")
    emoji = add_product(shop, "👩\u200d💻 sticker")
    shop.ok("SET_PRODUCT", product_id=emoji, productname="👩\u200d💻 sticker, large")
    listed = market.peer().ok("LIST_PRODUCT", storename="shop")
    rows = {record["product_id"]: record for record in records(listed)}
    assert rows[latte]["productname"] == "Café au lait"
    assert rows[latte]["description"] == "line one\n\tline two"
    assert rows[emoji]["productname"] == "👩\u200d💻 sticker, large"


def test_no_fold_holds_an_upper_case_ascii_letter():
    """Migration 0002 gives names that had come to collide the key
    fold + "@ID" + id; that no name can fold to it rests on this."""
    upper = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    found = [
        hex(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and upper & set(v.fold(chr(cp)))
    ]
    assert found == []
