"""Alembic environment for cybermarket.

The server and `cybermarket db upgrade` hand in a connection that is already
inside a transaction (config.attributes["connection"]); `alembic upgrade
head` run by hand builds its own engine from CYBERMARKET_DATABASE or
alembic.ini, with the same SQLite settings the server uses.
"""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from cybermarket.storage.database import (
    check_foreign_keys,
    foreign_keys_off_for_migrations,
    make_engine,
)
from cybermarket.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies tables.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
        check_foreign_keys(connection)


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    url = os.environ.get("CYBERMARKET_DATABASE") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set CYBERMARKET_DATABASE, or sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            foreign_keys_off_for_migrations(connection)
            run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
