"""The schema, as SQLAlchemy 2 typed models.

Money is stored as whole cents in BIGINT columns (the *_cents names say so).
SQLite has no decimal type: a NUMERIC column there holds binary floats, and
SUM() over them drifts.  Whole cents are exact on every backend, the same SQL
serves both, and values.from_cents turns them into Decimal at the edge.

The handlers use these tables through SQLAlchemy Core and return plain values;
no ORM object ever leaves a transaction.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cybermarket.values import EMAIL_KEY_LENGTH, NAME_KEY_LENGTH

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid); elsewhere
# ids are 64-bit.
IdType = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # values.fold(username): the unique key under which names that look
    # alike are one name, and by which a login finds the account.  Computed
    # in Python, the same on every backend.
    username_key: Mapped[str] = mapped_column(String(NAME_KEY_LENGTH), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    # Lower-cased email: the unique key that makes emails case-insensitive
    # the same way on every backend (SQLite's lower() and collations differ
    # from PostgreSQL's).  Wider than an email: lower-casing can lengthen.
    email_key: Mapped[str] = mapped_column(String(EMAIL_KEY_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Moved on by every password change; a session token is good only while
    # it is the one the token was issued under (migration 0007).
    password_generation: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime())


class Merchant(Base):
    __tablename__ = "merchants"
    __table_args__ = (CheckConstraint("profit_cents >= 0", name="profit"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    storename: Mapped[str] = mapped_column(String(64), unique=True)
    storename_key: Mapped[str] = mapped_column(String(NAME_KEY_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(2000))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(EMAIL_KEY_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # As Client.password_generation.
    password_generation: Mapped[int] = mapped_column(BigInteger, server_default="0")
    profit_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    invited_by: Mapped[int | None] = mapped_column(IdType, ForeignKey("merchants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    # Moves whenever what the store's LIST_PRODUCT page shows changes, in
    # the same transaction (triggers of migration 0005): the page cache
    # checks it before serving a kept page (cybermarket/server/pages.py).
    page_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class StoreListVersion(Base):
    """One row (id 1), whose version moves whenever what LIST_MERCHANT
    shows changes (a store created, renamed, or its description or email
    changed), by triggers of migration 0005: the page cache's check for
    the store list."""

    __tablename__ = "store_list_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # SHA-256 of the code: a copy of the database does not hand out codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # NULL: issued by the operator's CLI.
    inviter_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("merchants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime] = mapped_column(DateTime())
    used_at: Mapped[datetime | None] = mapped_column(DateTime())
    used_by: Mapped[int | None] = mapped_column(IdType, ForeignKey("merchants.id"))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock"),
        CheckConstraint("price_cents > 0", name="price"),
        Index("ix_products_merchant", "merchant_id", "id"),
        # PostgreSQL's search indexes (migration 0009): the search vectors
        # (cybermarket_search_vector, a function of that migration) of all
        # the terms and of the name's, for the products on the shelf, with
        # no pending list.  The search statements
        # (cybermarket/storage/search.py) repeat the expressions, so
        # that the planner matches them to these.  (The parentheses are how
        # PostgreSQL gives an expression back, which Alembic compares.)
        # SQLite's search index is an FTS5 virtual table, which models
        # cannot declare: migration 0004 makes it.
        Index(
            "ix_products_search",
            text("cybermarket_search_vector((name_words || ' ') || description_words)"),
            postgresql_using="gin",
            postgresql_where=text("on_shelf"),
            postgresql_with={"fastupdate": "off"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_products_search_name",
            text("cybermarket_search_vector(name_words)"),
            postgresql_using="gin",
            postgresql_where=text("on_shelf"),
            postgresql_with={"fastupdate": "off"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(IdType, ForeignKey("merchants.id"))
    productname: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(BigInteger)
    on_shelf: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    # The productname's and the description's search terms
    # (values.search_terms: the words as search compares them, CJK text as
    # its characters and their pairs), joined by single spaces.  Computed by
    # the server, in Python, so that both backends' indexes hold the same
    # terms whatever their own idea of letters, case and accents.
    name_words: Mapped[str] = mapped_column(Text, server_default="")
    description_words: Mapped[str] = mapped_column(Text, server_default="")


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    client_id: Mapped[int] = mapped_column(IdType, ForeignKey("clients.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(IdType, ForeignKey("products.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_client", "client_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    client_id: Mapped[int] = mapped_column(IdType, ForeignKey("clients.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    total_cents: Mapped[int] = mapped_column(BigInteger)
    # The customer's username at purchase, which the stores see (protocol
    # 1.2; the account's name now for orders made before, by migration 0010).
    username: Mapped[str] = mapped_column(String(64), server_default="")
    # Where the order goes, as given at checkout; it belongs to the order,
    # not the account (NULL: none given, and every order made before 1.2).
    address: Mapped[str | None] = mapped_column(String(500))


class OrderPart(Base):
    """One store's part of an order (protocol 1.2): the lines of that store,
    with a status of their own, `placed` at checkout, then `shipped` by the
    store or `cancelled` by the customer, never anything after either.

    A row per order and store rather than a status on each line: the status
    belongs to the store's group of lines, never to one line, and one row
    is what a ship and a cancel race for (a conditional UPDATE ... WHERE
    status = 'placed' on it: exactly one of them changes it).  It also
    keeps the part's total, which a cancel takes off the store's profit,
    and the store's name at purchase, which the cancel names, so neither
    is summed or looked up again, and a store lists its orders from its
    own rows (ix_order_parts_merchant_status pages them by status)."""

    __tablename__ = "order_parts"
    __table_args__ = (
        CheckConstraint("status IN ('placed', 'shipped', 'cancelled')", name="status"),
        CheckConstraint("total_cents >= 0", name="total"),
        Index("ix_order_parts_merchant", "merchant_id", "order_id"),
        Index("ix_order_parts_merchant_status", "merchant_id", "status", "order_id"),
    )

    order_id: Mapped[int] = mapped_column(IdType, ForeignKey("orders.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(IdType, ForeignKey("merchants.id"), primary_key=True)
    storename: Mapped[str] = mapped_column(String(64))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    # The store's shipping note (a carrier and tracking number), given with
    # MERCHANT_SHIP_ORDER.
    note: Mapped[str | None] = mapped_column(String(200))
    # When the part was shipped or cancelled (NULL for the orders made
    # before 1.2, which migration 0010 marks shipped).
    changed_at: Mapped[datetime | None] = mapped_column(DateTime())


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_order_lines_merchant", "merchant_id", "product_id"),
    )

    order_id: Mapped[int] = mapped_column(IdType, ForeignKey("orders.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(IdType, ForeignKey("products.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(IdType, ForeignKey("merchants.id"))
    # What the customer saw at purchase: later renames and price changes
    # leave past orders as they were.
    storename: Mapped[str] = mapped_column(String(64))
    productname: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)


class LoginAttempt(Base):
    """One login attempt that counts toward the failed-login limit (429):
    a failure, or an attempt whose password is being checked (pending).
    Kept in the database so that every server process sees every other's
    (throttle.py)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key", "key", "at"),
        Index("ix_login_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # SHA-256 (hex) of what is counted, such as an account or a peer
    # address: a login name typed by mistake (a password, say) is not kept.
    key: Mapped[str] = mapped_column(String(64))
    # Milliseconds since the epoch, by the server's clock.
    at: Mapped[int] = mapped_column(BigInteger)
    pending: Mapped[bool] = mapped_column(Boolean)


class SessionToken(Base):
    """A session token, by which a login carries over to a new connection
    (RESUME).  Only its SHA-256 is kept.  Times are milliseconds since the
    epoch, by the server's clock; a token not used for --session-days
    expires, and the sweep deletes expired and revoked rows.  A token of
    an older password generation than its account's does not resume
    either (cybermarket/storage/sessions.py)."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_account", "role", "account_id"),
        Index("ix_sessions_last_used_at", "last_used_at"),
        Index("ix_sessions_revoked_at", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # "client" or "merchant": which table account_id is an id of (so no
    # foreign key; accounts are never deleted).
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(IdType)
    # SHA-256 (hex) of the token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    # The account's password generation when the token was issued: a token
    # of another generation than the account's never resumes.
    password_generation: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Photo(Base):
    """A product's photo (protocol 1.3): the two re-encoded sizes that
    cybermarket/server/images.py made of an upload, never the upload
    itself.  `digest` names the path (/photos/<product_id>/<digest>): a new
    upload gets a new one.  One row per product; a replacement overwrites
    it, a removal deletes it.  Kept in the database so that a backup holds
    the photos and every process serves them."""

    __tablename__ = "photos"

    product_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("products.id"), primary_key=True, autoincrement=False
    )
    digest: Mapped[str] = mapped_column(String(64))
    thumb: Mapped[bytes] = mapped_column(LargeBinary)
    thumb_type: Mapped[str] = mapped_column(String(32))
    thumb_width: Mapped[int] = mapped_column(Integer)
    thumb_height: Mapped[int] = mapped_column(Integer)
    large: Mapped[bytes] = mapped_column(LargeBinary)
    large_type: Mapped[str] = mapped_column(String(32))
    large_width: Mapped[int] = mapped_column(Integer)
    large_height: Mapped[int] = mapped_column(Integer)
    # Milliseconds since the epoch, by the server's clock.
    uploaded_at: Mapped[int] = mapped_column(BigInteger)


clients = Client.__table__
merchants = Merchant.__table__
store_list_version = StoreListVersion.__table__
invitations = Invitation.__table__
products = Product.__table__
cart_lines = CartLine.__table__
orders = Order.__table__
order_lines = OrderLine.__table__
order_parts = OrderPart.__table__
login_attempts = LoginAttempt.__table__
sessions = SessionToken.__table__
photos = Photo.__table__
