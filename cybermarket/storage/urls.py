"""Database URLs as people give them: the default, and the check that a
--database value is a URL at all.  Kept free of heavy imports: twistd's
option parsing uses it before anything else is loaded."""

import re

DEFAULT_DATABASE = "sqlite:///cybermarket.sqlite3"

_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def N_(message: str) -> str:
    """cybermarket.i18n's marker, without the imports of that module."""
    return message


class NotAURL(ValueError):
    """A --database value that is not a URL: str() is the English message;
    `template` (marked for translation) and `params` are for the command
    line, which shows it in the user's language."""

    template = N_("{text!r} is not a database URL; for a SQLite file write sqlite:///{text}")

    def __init__(self, text: str) -> None:
        self.params = {"text": text}
        super().__init__(self.template.format(**self.params))


def database_url(text: str) -> str:
    """A --database value, which must be a URL.  A bare file name is the
    usual slip, and SQLAlchemy's answer to it is a traceback."""
    if not _URL_SCHEME.match(text):
        raise NotAURL(text)
    return text
