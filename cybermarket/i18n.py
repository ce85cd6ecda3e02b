"""Languages: the server's message catalogs and the matching of BCP 47 tags.

The server speaks English (`en`, the messages as written in the code),
Simplified Chinese (`zh-CN`) and Russian (`ru`).  Messages are marked in the
code with N_ (one form) or Nn_ (a singular and a plural form, chosen by the
parameter `n`) and translated only when a person is about to read them: an
error keeps its English template and its parameters (errors.MarketError),
and each connection formats it with its own translations.  Nothing here is
global state that one connection could change for another.

Catalogs: cybermarket/locale/<locale>/LC_MESSAGES/cybermarket.po, extracted
and compiled with Babel (`make messages`); the .mo files are checked in.

Matching a tag: the tag must be well formed (RFC 5646); it is then filled
out with CLDR's likely subtags (Babel's copy of them) and matched by
language and script.  "zh", "zh-Hans", "zh-CN" and "zh-SG" are Chinese in
the Simplified script, so zh-CN.  "zh-TW", "zh-HK" and "zh-Hant" are
Traditional Chinese, a written language this server does not have, so
English, as for any other language it lacks ("fr", "de").  "ru-RU", "ru-UA"
give ru; "en-GB" gives en.  Every tag gives an answer: CLDR names thousands
of languages Babel has no locale for ("no", "sm", "hmn"), and those are
read from the subtags' text, never looked up as locales.

Matching runs on the reactor thread, for every WebSocket upgrade's
Accept-Language, a header the client writes: it reads only the header's
first ranges, and remembers its answers (bounded caches), so that no header
costs more than a few hundred microseconds.
"""

from __future__ import annotations

import gettext
import os
import re
from functools import cache, lru_cache
from pathlib import Path

from babel.core import get_global

DOMAIN = "cybermarket"
LOCALE_DIR = Path(__file__).parent / "locale"

# The server's own tags, English first (the default), and their catalogs.
DEFAULT = "en"
LANGUAGES = ("en", "zh-CN", "ru")
CATALOGS = {"zh-CN": "zh_CN", "ru": "ru"}
# The names of the languages in themselves, for switchers and help.
NAMES = {"en": "English", "zh-CN": "简体中文", "ru": "Русский"}

Plural = tuple[str, str]
Template = str | Plural


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def Nn_(singular: str, plural: str) -> Plural:
    """Mark a message with a plural form; the parameter `n` chooses."""
    return (singular, plural)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The translations of one of the server's languages (English: none)."""
    catalog = CATALOGS.get(language)
    if catalog is None:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, [catalog])


def render(template: Template, params: dict[str, object], language: str = DEFAULT) -> str:
    """A message in `language`: its template translated, then filled in.
    Parameters are values (field names, op names, product names, numbers)
    and are never translated."""
    t = translations(language)
    if isinstance(template, tuple):
        n = params.get("n")
        text = t.ngettext(template[0], template[1], n if isinstance(n, int) else 0)
    else:
        text = t.gettext(template)
    return text.format(**params) if params else text


# --- BCP 47 ---------------------------------------------------------------

# RFC 5646, section 2.1: langtag, privateuse and the grandfathered tags.
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"  # language, extlang
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"  # private use
)
_PRIVATE = r"x(?:-[a-z0-9]{1,8})+"
_GRANDFATHERED = (
    r"en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo"
    r"|i-pwn|i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de"
    r"|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_TAG = re.compile(rf"(?:{_LANGTAG}|{_PRIVATE}|{_GRANDFATHERED})", re.ASCII)
MAX_TAG = 35


def well_formed(tag: str) -> bool:
    return 1 <= len(tag) <= MAX_TAG and _TAG.fullmatch(tag.lower()) is not None


def _language_script(identifier: str) -> tuple[str, str | None]:
    """(language, script) of an identifier in CLDR's data, such as
    no_Latn_NO or sr_Latn, read from its parts.  Never babel.Locale.parse:
    Babel has locale data for about a thousand of the identifiers CLDR's
    likely subtags name, and raises UnknownLocaleError for the others
    ("no_Latn_NO", "sm_Latn_WS", "hmn_Latn_CN")."""
    parts = identifier.split("_")
    script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    return parts[0].lower(), script.title() if script else None


def _maximize(language: str, script: str | None, region: str | None) -> tuple[str, str | None]:
    """(language, script) of a tag, the script filled in from CLDR's likely
    subtags where the tag leaves it out: zh-TW is zh-Hant, zh is zh-Hans.
    An older or wider name of a language is that language first (CLDR's
    aliases: cmn is zh, sh is sr-Latn)."""
    alias = get_global("language_aliases").get(language)
    if alias:
        language, implied = _language_script(alias)
        script = script or implied
    if script:
        return language, script
    likely = get_global("likely_subtags")
    keys = [f"{language}_{region}"] if region else []
    keys.append(language)
    for key in keys:
        full = likely.get(key)
        if full:
            return _language_script(full)
    return language, None


def _key(tag: str) -> tuple[str, str | None] | None:
    """The (language, script) of a well-formed tag, or None when it names
    no language Babel knows of."""
    parts = tag.replace("_", "-").split("-")
    if parts[0].lower() in ("x", "i") or len(parts[0]) > 3:
        return None
    language = parts[0].lower()
    script = region = None
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha() and script is None and region is None:
            script = part.title()
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            if region is None:
                region = part.upper()
        elif len(part) == 1:
            break  # extensions and private use say nothing of the language
    return _maximize(language, script, region)


_OURS = {
    _maximize(*_parts): tag
    for tag, _parts in (
        ("en", ("en", None, None)),
        ("zh-CN", ("zh", None, "CN")),
        ("ru", ("ru", None, None)),
    )
}


# Tags remembered with their match.  A tag is at most 35 characters, so
# the cache holds at most a few hundred kilobytes.
TAG_CACHE = 4096


@lru_cache(maxsize=TAG_CACHE)
def best(tag: str) -> str | None:
    """The server's language for one well-formed tag, or None if it has
    none for it."""
    key = _key(tag)
    return _OURS.get(key) if key else None


def match(tag: str) -> str:
    """SET_LANGUAGE: the server's language for `tag` (English when it has
    none); ValueError when the tag is not well formed."""
    if not well_formed(tag):
        raise ValueError(tag)
    return best(tag) or DEFAULT


# Accept-Language is read as far as its first ACCEPT_LANGUAGE_RANGES ranges
# (--accept-language-ranges), and at most RANGE_CHARS characters for each:
# a range is a tag of at most 35 characters, a quality ";q=0.xyz" and a
# separator, and no browser sends more than a dozen.  What lies beyond is
# never parsed: a header of 16 KB costs what its first ranges cost.
ACCEPT_LANGUAGE_RANGES = 32
RANGE_CHARS = 64
# Headers remembered with their match: browsers of one kind send the same
# few headers again and again.  Each is at most
# ACCEPT_LANGUAGE_RANGES * RANGE_CHARS characters (2 KiB) as remembered.
HEADER_CACHE = 512


def from_accept_language(header: str | None, ranges: int = ACCEPT_LANGUAGE_RANGES) -> str:
    """The best of the server's languages for an Accept-Language header
    (RFC 9110, 12.5.4): ranges by quality, highest first, and among equal
    qualities in the order given; the first range that names one of the
    server's languages wins.  q=0 means "not this"; malformed entries are
    passed over; no match is English.  Only the first `ranges` ranges
    count (see cut_short)."""
    if not header:
        return DEFAULT
    limit = ranges * RANGE_CHARS
    if len(header) > limit:
        # Cut at a comma: the range the limit falls in is left out whole,
        # since a part of it may be another tag ("zh-Hant" cut to "zh").
        header = header[: header.rfind(",", 0, limit + 1) + 1]
    return accept_language(header, ranges)


def cut_short(header: str | None, ranges: int = ACCEPT_LANGUAGE_RANGES) -> bool:
    """True when from_accept_language reads only part of `header`."""
    if not header:
        return False
    limit = ranges * RANGE_CHARS
    return len(header) > limit or header.count(",", 0, limit) >= ranges


@lru_cache(maxsize=HEADER_CACHE)
def accept_language(header: str, ranges: int) -> str:
    """from_accept_language, for a header already cut to its length bound."""
    entries: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",", ranges)[:ranges]):
        name, _, rest = item.strip().partition(";")
        name = name.strip()
        quality = 1.0
        if rest:
            key, _, value = rest.strip().partition("=")
            if key.strip().lower() != "q":
                continue
            try:
                quality = float(value.strip())
            except ValueError:
                continue
            if not 0 <= quality <= 1:  # NaN too
                continue
        if quality > 0 and name != "*" and well_formed(name):
            entries.append((-quality, position, name))
    for _, _, name in sorted(entries):
        found = best(name)
        if found:
            return found
    return DEFAULT


def negotiate(tags: list[str]) -> str:
    """The best of the server's languages for a list of preferences, best
    first (a user's locale, LANGUAGE's list); malformed ones are skipped."""
    for tag in tags:
        tag = tag.split(".")[0].split("@")[0].replace("_", "-")
        if tag and tag not in ("C", "POSIX") and well_formed(tag):
            found = best(tag)
            if found:
                return found
    return DEFAULT


# The variables a user's locale is read from, as gettext reads them: LANGUAGE
# (a list, A:B:C) first unless the locale is C or POSIX, then the first of
# LC_ALL, LC_MESSAGES and LANG that is set.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def from_environment(environ: dict[str, str] | os._Environ[str]) -> str:
    """The best of the server's languages for a user's locale (the command
    line's): LANG=ru_RU.UTF-8 gives ru, LANGUAGE=zh_CN:en gives zh-CN; an
    unset locale, C or POSIX gives English."""
    locale = next((environ[name] for name in LOCALE_VARIABLES if environ.get(name)), "")
    tags = [locale] if locale else []
    if locale and locale.split(".")[0] not in ("C", "POSIX"):
        tags = [tag for tag in environ.get("LANGUAGE", "").split(":") if tag] + tags
    return negotiate(tags)


# Babel's locales for formatting numbers and dates in each language.
FORMAT_LOCALES = {"en": "en", "zh-CN": "zh_Hans_CN", "ru": "ru"}
