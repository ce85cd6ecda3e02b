"""The command line's own words, in the user's language.

Each `cybermarket` command is one user's process, so its language is
chosen once, when it starts (cli.main: the locale, or --language), and
kept here; the server's matcher (i18n) picks it, and the same catalogs
hold the translations.  Messages are marked with _ (one form) and ngettext
(counted) and extracted by `make messages`.  Numbers and dates in English
keep their plain forms (1234.50, 2024-05-01), as scripts read them; in
Chinese and Russian they are written as Babel's CLDR data says.
"""

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal

from cybermarket import i18n

_current = {"language": i18n.DEFAULT}


def use(language: str) -> None:
    """Speak `language` (one of i18n.LANGUAGES) from now on."""
    _current["language"] = language


def language() -> str:
    return _current["language"]


def _(message: str) -> str:
    return i18n.translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(language()).ngettext(singular, plural, n)


def integer(n: int) -> str:
    """A count, grouped as the language groups digits."""
    if language() == i18n.DEFAULT:
        return str(n)
    return format_decimal(n, locale=i18n.FORMAT_LOCALES[language()])


def money(amount: Decimal) -> str:
    """An exact amount with its two fraction digits (a Decimal, never a
    float), grouped and with the language's decimal sign."""
    if language() == i18n.DEFAULT:
        return f"{amount:.2f}"
    return format_decimal(
        amount,
        format="#,##0.00",
        locale=i18n.FORMAT_LOCALES[language()],
        decimal_quantization=False,
    )


def day(value: date, form: str = "short") -> str:
    """A day: ISO in English, the language's own form otherwise."""
    if language() == i18n.DEFAULT:
        return value.isoformat()
    return format_date(value, format=form, locale=i18n.FORMAT_LOCALES[language()])


def number(value: float) -> str:
    """A number as short as it goes (7, 1.5), with the language's decimal sign."""
    if language() == i18n.DEFAULT:
        return f"{value:g}"
    return format_decimal(Decimal(f"{value:g}"), locale=i18n.FORMAT_LOCALES[language()])
