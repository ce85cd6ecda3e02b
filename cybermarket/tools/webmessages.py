"""The storefront's and the console's words in the same gettext catalogs
as the server's messages, so that a translator works in one place.

`make messages` extracts the words of the pages (t("..."), parts("...")
and tn("one", "other", n) in cybermarket/web/static/*.js, data-i18n and
data-i18n-label in its *.html) with the two Babel extraction methods below
into cybermarket/locale/web.pot, merges them into each language's web.po,
and then runs this module, which writes cybermarket/web/static/catalog.js
from the .po files: the pages' catalogs, checked in like the .mo files, so
that the browser app needs no build step.  An entry that is empty or fuzzy
is left out of catalog.js (the page shows the English) and fails
tests/test_i18n.py.

    .venv/bin/python -m cybermarket.tools.webmessages
"""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from babel import Locale
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
CATALOG_JS = ROOT / "web" / "static" / "catalog.js"
# The pages' language tags, by gettext's directory name.
LANGUAGES = {"zh_CN": "zh-CN", "ru": "ru"}

STRING = r'"((?:[^"\\\n]|\\.)*)"'
CALL = re.compile(rf"\b(t|parts)\(\s*{STRING}")
COUNTED = re.compile(rf"\btn\(\s*{STRING},\s*{STRING}")
ATTRIBUTE = re.compile(r'data-i18n(?:-label)?="([^"]*)"')


def _unquote(text: str) -> str:
    """A JavaScript string literal's text (the escapes JSON shares with it)."""
    result: str = json.loads(f'"{text}"')
    return result


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def extract_js(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel extraction method for the pages' scripts.  Only literal keys
    count: a key that is a variable would have no entry, and the test of
    the catalogs would not see it (the pages use none)."""
    source = fileobj.read().decode("utf-8")
    for match in CALL.finditer(source):
        yield _line(source, match.start()), match[1], _unquote(match[2]), []
    for match in COUNTED.finditer(source):
        one, other = _unquote(match[1]), _unquote(match[2])
        yield _line(source, match.start()), "tn", (one, other), []


def extract_html(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel extraction method for the pages' HTML: the keys of data-i18n
    (an element's text) and data-i18n-label (its aria-label)."""
    source = fileobj.read().decode("utf-8")
    for match in ATTRIBUTE.finditer(source):
        yield _line(source, match.start()), "t", match[1], []


def plural_forms(locale: Locale, expression: str) -> dict[str, int]:
    """Which of gettext's plural forms (msgstr[i]) each of CLDR's plural
    categories (what the browser's Intl.PluralRules chooses) takes: found
    by asking both for the counts 0 to 199.  A category no whole count
    reaches (Russian "other", for fractions) takes the last form."""
    chooses = gettext.c2py(expression)
    forms: dict[str, int] = {}
    for n in range(200):
        forms.setdefault(locale.plural_form(n), chooses(n))
    last = max(forms.values(), default=0)
    for category in locale.plural_form.tags | {"other"}:
        forms.setdefault(category, last)
    return forms


def page_catalog(directory: str) -> dict[str, str | dict[str, str]]:
    """One language's catalog for the pages, from its web.po: a key's text,
    or for a counted sentence its text per CLDR category (keyed by the
    English singular, as tn() looks it up).  Empty and fuzzy entries are
    left out."""
    path = LOCALE_DIR / directory / "LC_MESSAGES" / "web.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=directory)
    assert catalog.locale is not None
    forms = plural_forms(catalog.locale, catalog.plural_expr)
    entries: dict[str, str | dict[str, str]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple) and isinstance(message.string, tuple):
            strings = list(message.string)
            if not all(strings):
                continue
            entries[message.id[0]] = {category: strings[i] for category, i in forms.items()}
        elif isinstance(message.id, str) and isinstance(message.string, str) and message.string:
            entries[message.id] = message.string
    return dict(sorted(entries.items()))


def catalog_js() -> str:
    """The text of catalog.js."""
    catalogs = {tag: page_catalog(directory) for directory, tag in LANGUAGES.items()}
    body = json.dumps(catalogs, ensure_ascii=False, indent=2, sort_keys=True)
    return (
        "// Made by `make messages` from cybermarket/locale/*/LC_MESSAGES/web.po:\n"
        "// translate there, not here.  English is the keys themselves.\n"
        "/** @type {Record<string, Record<string, string | Record<string, string>>>} */\n"
        f"export const CATALOGS = {body};\n"
    )


def main() -> None:
    CATALOG_JS.write_text(catalog_js(), encoding="utf-8")
    print(f"wrote {CATALOG_JS.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
