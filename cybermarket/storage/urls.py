"""Database URLs as people give them: the default, and the check that a
--database value is a URL at all.  Kept free of heavy imports: twistd's
option parsing uses it before anything else is loaded."""

import re

DEFAULT_DATABASE = "sqlite:///cybermarket.sqlite3"

_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def database_url(text: str) -> str:
    """A --database value, which must be a URL.  A bare file name is the
    usual slip, and SQLAlchemy's answer to it is a traceback."""
    if not _URL_SCHEME.match(text):
        raise ValueError(
            f"{text!r} is not a database URL; for a SQLite file write sqlite:///{text}"
        )
    return text
