"""Accounts of both roles as stored: customers ("client" accounts, table
clients) and merchants (merchants), with their login names, emails and
password hashes.

Names are compared by their key, values.fold(name), kept in the {name}_key
column: "ALICE" is taken when "Alice" is, and finds it.  Emails are
compared by their lower-cased key, email_key.  A login with '@' is an
email, else a user/store name (which cannot hold '@').

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; which error a client sees is
the handlers' (cybermarket/server/handlers/accounts.py).
"""

from collections.abc import Callable
from typing import Any

from cybermarket.storage.txn import Query, Txn, now
from cybermarket.values import fold

# An account as a login finds it: (id, password hash, password generation).
Account = tuple[int, str, int]


class Kind:
    """One role's accounts: its table, its login-name column, and the
    statements on them."""

    def __init__(
        self, role: str, table: str, name: str, columns: tuple[str, ...], shown: tuple[str, ...]
    ) -> None:
        self.role = role
        self.name = name  # the login name column: username or storename
        key = f"{name}_key"
        # What an insert gives, besides the two keys and created_at.
        self.columns = columns
        # What GET_ACCOUNT answers besides the role and the name.
        self.shown = shown
        self.account = Query(f"SELECT {', '.join((name,) + shown)} FROM {table} WHERE id = ?")
        names = ", ".join(columns + (key, "email_key", "created_at"))
        marks = ", ".join("?" * (len(columns) + 3))
        self.insert = Query(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id")
        self.name_taken = Query(f"SELECT 1 FROM {table} WHERE {key} = ? AND id <> ?")
        self.email_taken = Query(f"SELECT 1 FROM {table} WHERE email_key = ? AND id <> ?")
        found = "id, password_hash, password_generation"
        self.by_name = Query(f"SELECT {found} FROM {table} WHERE {key} = ?")
        self.by_email = Query(f"SELECT {found} FROM {table} WHERE email_key = ?")
        self.name_of = Query(f"SELECT {name} FROM {table} WHERE id = ?")
        self.hash = Query(f"SELECT password_hash FROM {table} WHERE id = ?")
        # A new hash is a new password generation (cybermarket/storage/sessions.py).
        self.set_hash = Query(
            f"UPDATE {table} SET password_hash = ?, password_generation = password_generation + 1"
            " WHERE id = ? AND password_hash = ? RETURNING password_generation"
        )
        self.set_name = Query(f"UPDATE {table} SET {name} = ?, {key} = ? WHERE id = ?")
        self.set_email = Query(f"UPDATE {table} SET email = ?, email_key = ? WHERE id = ?")


CLIENT = Kind("client", "clients", "username", ("username", "email", "password_hash"), ("email",))
MERCHANT = Kind(
    "merchant",
    "merchants",
    "storename",
    ("storename", "description", "email", "password_hash", "profit_cents", "invited_by"),
    ("email", "description"),
)
SET_DESCRIPTION = Query("UPDATE merchants SET description = ? WHERE id = ?")
KINDS = {kind.role: kind for kind in (CLIENT, MERCHANT)}


def name_taken_txn(txn: Txn, kind: Kind, name: str, me: int = 0) -> bool:
    """Whether another account of this kind than `me` has the name (by
    its fold)."""
    return txn.row(kind.name_taken, fold(name), me) is not None


def email_taken_txn(txn: Txn, kind: Kind, email: str, me: int = 0) -> bool:
    """Whether another account of this kind than `me` has the email (by
    its lower case)."""
    return txn.row(kind.email_taken, email.lower(), me) is not None


def _unique(
    txn: Txn, execute: Callable[..., Any], query: Query, *params: object
) -> tuple[bool, Any]:
    """(True, execute(query, *params)) where the statement may break a
    unique key; (False, None) when it broke one (a race lost to another
    connection), undone alone: the rest of the transaction stays."""
    try:
        with txn.savepoint():
            return True, execute(query, *params)
    except txn.IntegrityError:
        return False, None


def insert_txn(txn: Txn, kind: Kind, values: dict[str, Any]) -> int | None:
    """The new account's id; None when its name or email broke a unique
    key.  `values`: kind.columns, by name."""
    params = [values[column] for column in kind.columns]
    params += [fold(values[kind.name]), values["email"].lower(), txn.time(now())]
    done, account_id = _unique(txn, txn.value, kind.insert, *params)
    return account_id if done else None


def set_name_txn(txn: Txn, kind: Kind, me: int, value: str) -> bool:
    """Rename; False when the name broke a unique key."""
    return _unique(txn, txn.run, kind.set_name, value, fold(value), me)[0]


def set_email_txn(txn: Txn, kind: Kind, me: int, value: str) -> bool:
    """Change the email; False when it broke a unique key."""
    return _unique(txn, txn.run, kind.set_email, value, value.lower(), me)[0]


def set_description_txn(txn: Txn, me: int, description: str) -> None:
    txn.run(SET_DESCRIPTION, description, me)


def login_key(login: str) -> str:
    """What a login is looked up (and throttled) by: an email lower-cased,
    a name by its fold."""
    return login.lower() if "@" in login else fold(login)


def find_login_txn(txn: Txn, kind: Kind, login: str) -> Account | None:
    """(id, password hash, password generation) of the account a login
    names, or None."""
    by = kind.by_email if "@" in login else kind.by_name
    row = txn.row(by, login_key(login))
    return None if row is None else (row[0], row[1], row[2])


def password_hash_txn(txn: Txn, kind: Kind, me: int) -> str | None:
    found: str | None = txn.value(kind.hash, me)
    return found


def set_password_hash_txn(txn: Txn, kind: Kind, me: int, old: str, new: str) -> int | None:
    """Compare-and-set: the new hash if the account's is still `old`; the
    new password generation, or None when a change made meanwhile on
    another connection won."""
    generation: int | None = txn.value(kind.set_hash, new, me, old)
    return generation


def account_txn(txn: Txn, kind: Kind, me: int) -> dict[str, str] | None:
    """The account's name as stored and the rest of kind.shown, by column;
    None for no such account."""
    row = txn.row(kind.account, me)
    if row is None:
        return None
    return {"name": row[0], **dict(zip(kind.shown, row[1:], strict=True))}


def name_of_txn(txn: Txn, role: str, account_id: int) -> str:
    name: str = txn.value(KINDS[role].name_of, account_id)
    return name
