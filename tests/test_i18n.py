"""Languages (wire contract 1.1, "Languages"): the catalogs are complete,
tags and Accept-Language headers match as CLDR says, and a real server
answers in each language over TCP and WebSocket with statuses and data
unchanged."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from cybermarket import i18n
from cybermarket.errors import BadRequest, Throttled
from cybermarket.i18n import CATALOGS, LOCALE_DIR, Nn_, from_accept_language, match
from tests.live import running
from tests.server import Server
from tests.wire import Client
from tests.wsclient import WSClient

ROOT = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).parent / "pybabel"


# --- the catalogs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    """The messages marked in the code now, extracted as `make messages`
    does: msgid -> plural msgid or None."""
    pot = tmp_path_factory.mktemp("pot") / "cybermarket.pot"
    subprocess.run(
        [str(PYBABEL), "extract", "-k", "Nn_:1,2", "-o", str(pot), "cybermarket"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as f:
        catalog = read_po(f)
    found = {}
    for message in catalog:
        if message.id:
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            found[key] = message.id[1] if isinstance(message.id, tuple) else None
    assert len(found) > 60
    return found


def read_catalog(locale: str):
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "cybermarket.po", "rb") as f:
        return read_po(f, locale=locale)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", sorted(CATALOGS.values()))
def test_every_message_has_a_translation_neither_empty_nor_fuzzy(template, locale):
    catalog = read_catalog(locale)
    entries = {}
    for message in catalog:
        if message.id:
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            entries[key] = message
    missing = sorted(set(template) - set(entries))
    assert not missing, f"{locale}: no entry for {missing} (run `make messages`)"
    for key, plural in template.items():
        message = entries[key]
        assert "fuzzy" not in message.flags, f"{locale}: fuzzy: {key!r}"
        assert isinstance(message.id, tuple) == (plural is not None), key
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if plural is not None:
            assert len(forms) == catalog.num_plurals, key
        assert all(forms), f"{locale}: empty translation of {key!r}"
        for form in forms:
            # The same placeholders, and the same field or op name first:
            # they are protocol, never translated.
            assert fields(form) == fields(key), (locale, key, form)
            prefix = re.match(r"\{?[a-z_]+\}?: ", key)
            if prefix:
                assert form.startswith(prefix.group()), (locale, key, form)
    # Babel's own checks (placeholders, plural counts) find nothing.
    problems = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert not problems


@pytest.mark.parametrize("locale", sorted(CATALOGS.values()))
def test_the_compiled_catalogs_match_the_po_files(locale):
    language = next(tag for tag, name in CATALOGS.items() if name == locale)
    translations = i18n.translations(language)
    for message in read_catalog(locale):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for n in (1, 2, 5):
                got = translations.ngettext(message.id[0], message.id[1], n)
                assert got in message.string, (message.id, n, got)
        else:
            assert translations.gettext(message.id) == message.string, (
                f"{locale}: the .mo is out of date (run `make messages`)"
            )


def test_the_wheel_carries_the_compiled_catalogs():
    built = [path.relative_to(ROOT) for path in LOCALE_DIR.glob("*/LC_MESSAGES/cybermarket.mo")]
    assert sorted(map(str, built)) == [
        "cybermarket/locale/ru/LC_MESSAGES/cybermarket.mo",
        "cybermarket/locale/zh_CN/LC_MESSAGES/cybermarket.mo",
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", *map(str, built)], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout == ""  # hatchling leaves out what git ignores


# --- matching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-SG", "zh-CN"),
        # Traditional Chinese is another written language, which this
        # server does not have: English, as for any other it lacks.
        ("zh-TW", "en"),
        ("zh-Hant", "en"),
        ("zh-HK", "en"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("ru-UA", "ru"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en-US", "en"),
        ("fr", "en"),
        ("de-CH-1996", "en"),
        ("x-private", "en"),
        ("i-klingon", "en"),
        ("sr-Latn-RS", "en"),
    ],
)
def test_a_tag_gives_the_best_of_the_servers_languages(tag, language):
    assert match(tag) == language


@pytest.mark.parametrize(
    "tag", ["", "en_US", "zh--CN", "-", "en-", "123", "ru RU", "a" * 36, "中文", "*", "en-GB-x"]
)
def test_a_malformed_tag_is_refused(tag):
    with pytest.raises(ValueError):
        match(tag)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("fr-FR, fr;q=0.9, ru;q=0.8, en;q=0.7", "ru"),
        ("en;q=0.5, ru;q=0.8", "ru"),  # by quality, not by order
        ("ru;q=0.8, zh;q=0.8", "ru"),  # equal quality: in order given
        ("ru;q=0, zh-TW, en-GB;q=0.3", "en"),  # q=0: not this one
        ("zh-TW, zh;q=0.5", "zh-CN"),
        ("de, fr", "en"),
        ("*", "en"),
        ("ru;q=abc, zh;q=2, zh-Hans;q=0.1", "zh-CN"),  # bad qualities are passed over
        ("en_US, ru", "ru"),
    ],
)
def test_accept_language_gives_the_best_match_by_quality(header, language):
    assert from_accept_language(header) == language


# --- tags Babel has no locale for, and hostile headers ---------------------------------

# The headers real browsers send for their first language.
BROWSERS = [
    # Chromium set to Norwegian Bokmål: "no" and "nn" have likely subtags
    # but no locale of Babel's; this header once made every upgrade a 500.
    ("nb-NO,nb,no,nn,en-US,en", "en"),
    ("nb-NO,nb;q=0.9,no;q=0.8,nn;q=0.7,en-US;q=0.6,en;q=0.5", "en"),
    # Serbian in the Latin script, Chromium and Firefox.
    ("sr-Latn-RS,sr-Latn;q=0.9,sr;q=0.8,en-US;q=0.7,en;q=0.6", "en"),
    ("sr-Latn,sr;q=0.8,en-US;q=0.5,en;q=0.3", "en"),
    # Chinese in the Traditional script: the plain "zh" after it is
    # Simplified Chinese, which this server has.
    ("zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7", "zh-CN"),
    ("zh-Hant-TW,zh-Hant;q=0.9,en;q=0.8", "en"),
    # Portuguese of Brazil.
    ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "en"),
    # Russian after tags Babel has no locale for.
    ("no,sm,hmn,ru;q=0.5", "ru"),
]
# A header of 16,000 characters (Twisted takes lines of up to 16 KiB), of
# tags Babel has no locale for.
LONG_HEADER = ",".join(["no", "sm", "hmn", "nn"] * 1200)[:16000]


def babel_tags() -> Iterator[str]:
    """Every tag Babel's data can give: its locales, the keys and values of
    its likely subtags and language aliases, and each one's language
    subtag alone."""
    from babel.core import get_global
    from babel.localedata import locale_identifiers

    found = set(locale_identifiers())
    for table in ("likely_subtags", "language_aliases"):
        for key, value in get_global(table).items():
            found |= {key, value}
    for name in list(found):
        found.add(name.split("_")[0])
    for name in sorted(found):
        yield name.replace("_", "-")


def test_every_tag_in_babels_data_matches_one_of_the_servers_languages():
    tags = list(babel_tags())
    assert len(tags) > 8000 and {"no", "sm", "hmn", "nb", "nn", "und"} <= set(tags)
    for tag in tags:
        assert from_accept_language(tag) in i18n.LANGUAGES, tag
        if i18n.well_formed(tag):
            assert match(tag) in i18n.LANGUAGES, tag
        else:
            with pytest.raises(ValueError):
                match(tag)


@pytest.mark.parametrize(
    "tag",
    ["no", "sm", "hmn", "nn", "nb-NO", "no-NO", "und", "und-Latn", "zh-Hant-HK", "sr-Latn-RS"],
)
def test_a_tag_babel_has_no_locale_for_is_english(tag):
    assert match(tag) == "en"
    assert from_accept_language(tag) == "en"


@pytest.mark.parametrize(
    ("tag", "language"),
    [("cmn", "zh-CN"), ("cmn-Hans-CN", "zh-CN"), ("zh-cmn-Hans", "zh-CN"), ("zh-guoyu", "zh-CN")],
)
def test_an_older_or_wider_name_of_a_language_finds_it(tag, language):
    assert match(tag) == language


# Odd and malformed entries: each is passed over, and the header still
# gives a language.
ODD = [
    "en_US",
    "zh--CN",
    "-",
    "x-private",
    "i-klingon",
    "*",
    ";q=1",
    "ru;q=",
    "ru;q=1e999",
    "ru;q=nan",
    "a" * 36,
    "中文",
    "\x00",
    "ru\udc80",
    ",,,,",
    "q=0.5",
    "sgn-BE-FR",
    "qaa-Qaaa-QM-x-southern",
]


@pytest.mark.parametrize("entry", ODD)
def test_any_entry_in_a_header_falls_back_without_raising(entry):
    assert from_accept_language(entry) in i18n.LANGUAGES
    assert from_accept_language(f"{entry}, ru;q=0.5") == "ru"


@pytest.mark.parametrize(("header", "language"), BROWSERS)
def test_real_browsers_headers_give_the_best_match(header, language):
    assert from_accept_language(header) == language


def test_a_long_header_is_read_only_as_far_as_its_first_ranges(monkeypatch):
    asked = []
    best = i18n.best
    monkeypatch.setattr(i18n, "best", lambda tag: asked.append(tag) or best(tag))
    i18n.accept_language.cache_clear()
    assert from_accept_language(LONG_HEADER) == "en"
    assert 0 < len(asked) <= i18n.ACCEPT_LANGUAGE_RANGES
    # A language named only past the ranges considered is not seen...
    far = ",".join(["fr"] * i18n.ACCEPT_LANGUAGE_RANGES + ["ru"])
    assert from_accept_language(far) == "en"
    # ...one within them is.
    near = ",".join(["fr"] * (i18n.ACCEPT_LANGUAGE_RANGES - 1) + ["ru"])
    assert from_accept_language(near) == "ru"
    assert from_accept_language(near, ranges=4) == "en"


def test_the_same_header_again_is_matched_from_the_cache(monkeypatch):
    asked = []
    best = i18n.best
    monkeypatch.setattr(i18n, "best", lambda tag: asked.append(tag) or best(tag))
    i18n.accept_language.cache_clear()
    header = "nb-NO,nb,no,nn,en-US,en"
    assert from_accept_language(header) == "en"
    first = len(asked)
    for _ in range(10):
        assert from_accept_language(header) == "en"
    assert len(asked) == first
    assert i18n.accept_language.cache_info().maxsize is not None  # bounded


# --- messages ------------------------------------------------------------------------


def test_an_error_keeps_its_template_and_is_shown_in_each_language():
    error = BadRequest(i18n.N_("{field}: must be a string"), field="productname")
    assert error.message == str(error) == "productname: must be a string"
    assert error.translated("zh-CN") == "productname: 必须是字符串"
    assert error.translated("ru") == "productname: должно быть строкой"


@pytest.mark.parametrize(
    ("n", "russian"),
    [
        (1, "секунду"),
        (2, "секунды"),
        (4, "секунды"),
        (5, "секунд"),
        (11, "секунд"),
        (21, "секунду"),
    ],
)
def test_counts_take_the_plural_forms_of_each_language(n, russian):
    template = Nn_(
        "too many failed logins; try again in {n} second",
        "too many failed logins; try again in {n} seconds",
    )
    error = Throttled(template, n=n)
    assert error.message.endswith(f"{n} second" + ("" if n == 1 else "s"))
    assert error.translated("ru").endswith(f"через {n} {russian}")
    assert error.translated("zh-CN") == f"登录失败次数过多，请 {n} 秒后重试"


# --- over the wire ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory) -> Iterator[Server]:
    with running(databases, tmp_path_factory) as s:
        yield s


# A request refused in validation, its message in each language.
BAD = ("LIST_PRODUCT", {"storename": 5})
BAD_MESSAGES = {
    "en": "storename: must be a string",
    "zh-CN": "storename: 必须是字符串",
    "ru": "storename: должно быть строкой",
}
PING = {"en": "ok", "zh-CN": "成功", "ru": "готово"}


@pytest.mark.parametrize(
    ("tag", "language"), [("zh", "zh-CN"), ("zh-Hans", "zh-CN"), ("ru-RU", "ru"), ("fr", "en")]
)
def test_set_language_over_tcp(server, tag, language):
    with Client(server.port) as conn:
        english = conn.call(*BAD[:1], **BAD[1])
        assert english["message"] == BAD_MESSAGES["en"]
        answer = conn.call("SET_LANGUAGE", language=tag)
        assert answer["status"] == 200 and answer["data"] == language
        assert answer["message"] == PING[language]
        translated = conn.call(*BAD[:1], **BAD[1])
        assert translated["message"] == BAD_MESSAGES[language]
        assert translated.keys() == english.keys() and translated["status"] == english["status"]
        # Data, field and op names stay as they are.
        listed = conn.call("LIST_MERCHANT", limit=1)
        assert listed["status"] == 200 and listed["data"]["columns"][0] == "storename"
        missing = conn.call("CLIENT_GET_ITEMS")
        assert missing["status"] == 401
        assert missing["message"].startswith("CLIENT_GET_ITEMS: ")
        unknown = conn.call("LIST_PRODUCT", storename="nobody-here")
        assert unknown["status"] == 404 and "'nobody-here'" in unknown["message"]
    with Client(server.port) as conn:  # a new connection starts in English
        assert conn.call("PING")["message"] == "ok"


@pytest.mark.parametrize("tag", ["", "en_US", "zh--CN", "a" * 36, 7, None])
def test_a_malformed_tag_is_400_and_changes_nothing(server, tag):
    with Client(server.port) as conn:
        assert conn.call("SET_LANGUAGE", language="ru")["data"] == "ru"
        answer = conn.call("SET_LANGUAGE", language=tag)
        assert answer["status"] == 400 and answer["message"].startswith("language: ")
        assert "data" not in answer
        assert conn.call("PING")["message"] == PING["ru"]


@pytest.mark.parametrize("tag", ["no", "sm", "hmn", "nn", "nb-NO"])
def test_set_language_with_a_tag_babel_has_no_locale_for_is_english(server, tag):
    with Client(server.port) as conn:
        assert conn.call("SET_LANGUAGE", language="ru")["data"] == "ru"
        answer = conn.call("SET_LANGUAGE", language=tag)
        assert (answer["status"], answer["data"], answer["message"]) == (200, "en", "ok")
        assert conn.call("PING")["message"] == "ok"


def test_plurals_and_values_in_russian_over_tcp(server):
    with Client(server.port) as conn:
        conn.call("SET_LANGUAGE", language="ru")
        answer = conn.call("CLIENT_CREATE", username="x" * 65, email="a@b.c", password="p" * 8)
        assert answer["status"] == 400
        assert answer["message"] == "username: длина должна быть от 1 до 64 символов"
        answer = conn.call("PING", extra=1)
        assert answer["message"] == "extra: неизвестный аргумент для PING"


@pytest.mark.parametrize(
    ("header", "language"),
    [("ru-RU,ru;q=0.9,en;q=0.5", "ru"), ("zh-CN,zh;q=0.9", "zh-CN"), ("fr", "en"), (None, "en")],
)
def test_a_websocket_starts_from_accept_language(server, header, language):
    with WSClient(server.web_port, accept_language=header) as ws:
        assert ws.call("PING")["message"] == PING[language]
        answer = ws.call(BAD[0], json_text=True, **BAD[1])
        assert answer["status"] == 400 and answer["message"] == BAD_MESSAGES[language]
        # SET_LANGUAGE overrides the header.
        assert ws.call("SET_LANGUAGE", json_text=True, language="zh-Hans")["data"] == "zh-CN"
        assert ws.call(BAD[0], **BAD[1])["message"] == BAD_MESSAGES["zh-CN"]
        assert ws.call("SET_LANGUAGE", language="en-GB")["data"] == "en"
        assert ws.call("PING")["message"] == "ok"


@pytest.mark.parametrize(
    ("header", "language"), [*BROWSERS, (LONG_HEADER, "en"), (LONG_HEADER + ",ru", "en")]
)
def test_a_websocket_opens_for_real_browsers_headers(server, header, language):
    for _ in range(3):  # each upgrade gives back its place when it closes
        with WSClient(server.web_port, accept_language=header) as ws:
            assert ws.call("PING")["message"] == PING[language]


# --- the storefront's and the console's words ---------------------------------------

STATIC = ROOT / "cybermarket" / "web" / "static"
STRING = r'"((?:[^"\\]|\\.)*)"'


def scripts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(STATIC.glob("*.js"))}


def storefront_keys() -> tuple[set[str], set[tuple[str, str]]]:
    """Keys used with t() and parts() (and in the HTML's data-i18n
    attributes), and the (singular, plural) of counted sentences (tn()),
    found here independently of the extractor make messages uses."""
    keys: set[str] = set()
    counted: set[tuple[str, str]] = set()
    for name, text in scripts().items():
        if name == "catalog.js":
            continue
        keys |= set(re.findall(rf"\b(?:t|parts)\({STRING}", text))
        counted |= set(re.findall(rf"\btn\({STRING}, {STRING}", text))
        calls = len(re.findall(r"\btn\(", text)) - len(re.findall(r"function tn\(", text))
        assert calls == len(re.findall(rf"\btn\({STRING}, {STRING}", text)), (
            f"{name}: tn() takes the English singular and plural, as literals"
        )
    for path in STATIC.glob("*.html"):
        keys |= set(re.findall(r'data-i18n(?:-label)?="([^"]*)"', path.read_text()))
    return keys, counted


def page_po(locale: str):
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "web.po", "rb") as f:
        return read_po(f, locale=locale)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{\w+\}", text))


@pytest.mark.parametrize("locale", sorted(CATALOGS.values()))
def test_every_storefront_word_has_a_translation(locale):
    """The pages' words live in web.po beside the server's messages: each
    word a page uses has an entry, translated, not fuzzy, with the same
    placeholders, every plural form filled; no entry is left that no page
    uses."""
    catalog = page_po(locale)
    entries = {m.id: m for m in catalog if m.id}
    keys, counted = storefront_keys()
    assert len(keys) > 150 and counted
    missing = sorted(map(str, (keys | counted) - set(entries)))
    assert not missing, f"{locale}: no entry for {missing} (run `make messages`)"
    for key in keys | counted:
        message = entries[key]
        assert "fuzzy" not in message.flags, (locale, key)
        forms = message.string if isinstance(key, tuple) else (message.string,)
        if isinstance(key, tuple):
            assert len(forms) == catalog.num_plurals, (locale, key)
        english = key[1] if isinstance(key, tuple) else key
        for form in forms:
            assert form.strip(), f"{locale}: empty translation of {key!r}"
            assert placeholders(form) == placeholders(english), (locale, key, form)
    unused = sorted(map(str, set(entries) - keys - counted))
    assert not unused, f"{locale}: entries no page uses: {unused} (run `make messages`)"


def test_catalog_js_is_made_from_the_po_files():
    """The pages read catalog.js, which make messages writes from web.po:
    a translation changed in web.po and not carried over fails here."""
    from cybermarket.tools import webmessages

    assert (STATIC / "catalog.js").read_text() == webmessages.catalog_js(), (
        "catalog.js is out of date (run `make messages`)"
    )


def test_a_missing_or_fuzzy_translation_stays_out_of_the_pages_catalog(tmp_path, monkeypatch):
    from cybermarket.tools import webmessages

    po = tmp_path / "ru" / "LC_MESSAGES"
    po.mkdir(parents=True)
    (po / "web.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && '
        'n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"\n\n'
        'msgid "Cart"\nmsgstr "Корзина"\n\n'
        'msgid "Orders"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Stores"\nmsgstr "Магазины"\n\n'
        'msgid "{n} item"\nmsgid_plural "{n} items"\n'
        'msgstr[0] "{n} товар"\nmsgstr[1] "{n} товара"\nmsgstr[2] "{n} товаров"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(webmessages, "LOCALE_DIR", tmp_path)
    assert webmessages.page_catalog("ru") == {
        "Cart": "Корзина",
        "{n} item": {
            "one": "{n} товар",
            "few": "{n} товара",
            "many": "{n} товаров",
            "other": "{n} товаров",
        },
    }


def test_the_extractor_finds_every_kind_of_key():
    import io

    from cybermarket.tools import webmessages

    script = b'h("p", {}, t("Cart"), parts("Hi {name}", {}), tn("{n} item", "{n} items", n));\n'
    found = list(webmessages.extract_js(io.BytesIO(script), None, None, None))
    assert [(f, m) for _, f, m, _ in found] == [
        ("t", "Cart"),
        ("parts", "Hi {name}"),
        ("tn", ("{n} item", "{n} items")),
    ]
    page = b'<a data-i18n="Stores">Stores</a>\n<nav data-i18n-label="Main"></nav>'
    found = list(webmessages.extract_html(io.BytesIO(page), None, None, None))
    assert [(line, m) for line, _, m, _ in found] == [(1, "Stores"), (2, "Main")]


# Words in the code that are not shown to people, though they look like
# words: script subtags, internal reasons that explain() replaces, signs
# with no words, and HTTP's and drag and drop's names (photo.js).
NOT_WORDS = {"Hans", "Cyrl", "Latn", "connection lost", "not connected", "× ", "…"}
NOT_WORDS |= {"Authorization", "Bearer ", "Files"}
LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`')
WORDY = re.compile(r"[A-Z][a-z]|[a-z] [a-z]|[^\x00-\x7f]")


def unwrapped(source: str) -> list[str]:
    """String literals in a module that read like words for people but are
    not a t()/tn()/parts() key: a word someone forgot to translate."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"^\s*//.*$", "", source, flags=re.M)
    source = re.sub(r"^import .*$", "", source, flags=re.M)
    found = []
    for literal in LITERAL.finditer(source):
        before = source[: literal.start()].rstrip()
        after = source[literal.end() :].lstrip()
        if re.search(r"\b(?:t|tn|parts)\($", before):
            continue  # a key
        if re.search(r'\btn\("(?:[^"\\]|\\.)*",$', before):
            continue  # a counted sentence's plural
        if re.search(r"(?:\bclass:|\bclassName =|\bquerySelector(?:All)?\()$", before):
            continue  # a class name or a selector
        if after.startswith(":") and before.endswith(("{", ",")):
            continue  # an attribute's name (not a ternary's "a" : "b")
        text = re.sub(r"\$\{[^}]*\}", "", literal[0][1:-1])
        if WORDY.search(text) and text not in NOT_WORDS:
            found.append(literal[0])
    return found


def test_the_unwrapped_word_check_finds_words_and_passes_keys():
    source = """
import { t } from "./i18n.js";
// "A comment" is not a word on the page.
node.textContent = "Sold out";
h("p", { class: "muted big" }, `Order #${id}`, t("Please log in first."));
input.placeholder = ok ? "search here" : "Find";
h("span", { "aria-label": "Главная" }, tn("Only {n} left", "Only {n} left", n));
"""
    found = ['"Sold out"', "`Order #${id}`", '"search here"', '"Find"', '"Главная"']
    assert unwrapped(source) == found


@pytest.mark.parametrize("name", sorted(scripts()))
def test_no_word_on_the_pages_escapes_translation(name):
    source = scripts()[name]
    if name == "catalog.js":
        return  # the translations themselves
    if name == "i18n.js":
        # The languages' own names.
        source = source[source.index("export function matchTag") :]
    assert not unwrapped(source), f"{name}: not wrapped in t(): {unwrapped(source)}"


class HTMLWords(HTMLParser):
    """Text and labels in a page that no data-i18n attribute covers."""

    VOID = {"meta", "link", "img", "input", "br", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.bare: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        label = attributes.get("aria-label")
        if label and attributes.get("data-i18n-label") != label:
            self.bare.append(f"aria-label={label!r}")
        for name in ("placeholder", "title"):
            if attributes.get(name):
                self.bare.append(f"{name}={attributes[name]!r}")
        if tag not in self.VOID:
            self.stack.append(attributes.get("data-i18n"))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        text = data.strip()
        if not re.search(r"[^\W\d_]", text) or text == "cybermarket":
            return
        key = next((k for k in reversed(self.stack) if k is not None), None)
        if key != text:
            self.bare.append(text)


@pytest.mark.parametrize("name", ["index.html", "console.html"])
def test_every_word_in_the_html_is_a_key(name):
    parser = HTMLWords()
    parser.feed((STATIC / name).read_text())
    assert not parser.bare, f"{name}: not marked with data-i18n: {parser.bare}"
