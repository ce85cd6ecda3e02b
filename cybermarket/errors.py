"""The one exception hierarchy of the server, and the error codes.

Every error a client can see is a MarketError subclass; its class says the
status and the code (protocol 1.2's `error.code`, which programs read where
people read `message`).  The protocol turns them into responses in one place
(connection.MarketConnection._answer); anything else is a bug, logged with its
traceback and answered with a bare 500 (code `internal`).

The codes are declared once, here, as data (CODES): each with its status and
the extra keys it carries.  The op table (cybermarket/ops.py) names which
codes each op can answer, docs/protocol.md lists them, and the Python
clients raise one exception per code from this same table.

An error keeps its message as an English template marked for translation
(i18n.N_, i18n.Nn_) and the values to fill in, so that each connection can
show it in its own language (translated(language)); `message` is English.
The code and its keys never depend on the language.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cybermarket.i18n import DEFAULT, N_, Template, render


@dataclass(frozen=True)
class Code:
    """One error code of the wire contract: its name (the value of
    `error.code`), its status, the extra keys an answer with it carries, and
    a line for the documentation."""

    name: str
    status: int
    keys: tuple[str, ...] = ()
    doc: str = ""


MALFORMED = Code(
    "malformed", 400, doc="not MessagePack or JSON, not a map, no or bad id/op/args, unknown op"
)
INVALID_ARGUMENT = Code(
    "invalid_argument",
    400,
    ("field",),
    "missing, unknown, mistyped or out-of-range argument, bad `after` cursor",
)
ALREADY_LOGGED_IN = Code("already_logged_in", 400, doc="log out first")
EMPTY_CART = Code("empty_cart", 400, doc="nothing to check out")
NOT_LOGGED_IN = Code(
    "not_logged_in", 401, doc="the op needs a role the connection is not logged in as"
)
BAD_CREDENTIALS = Code(
    "bad_credentials", 401, doc="login, or an unknown/expired/revoked RESUME token"
)
NOT_YOURS = Code("not_yours", 403, doc="another merchant's product")
WRONG_PASSWORD = Code("wrong_password", 403, doc="`old_password`")
NOT_FOUND = Code("not_found", 404, ("what",), "`what`: store, product, order or cart_line")
BAD_INVITATION = Code("bad_invitation", 406, doc="unknown, used, expired or another inviter's")
NAME_TAKEN = Code("name_taken", 409, ("field",), "`field`: username, storename or email")
SHORT_OF_STOCK = Code(
    "short_of_stock",
    409,
    ("products",),
    "`products`: [{product_id, stock, on_shelf}], one per short line, stock on hand now",
)
TOTAL_CHANGED = Code("total_changed", 409, ("total",), "`total`: the cart's total now")
TOO_LARGE = Code("too_large", 409, doc="an order total or a store's profit past the limit")
NOT_PLACED = Code(
    "not_placed", 409, ("status",), "the order (or the store's part) is shipped or cancelled"
)
FRAME_TOO_LARGE = Code("frame_too_large", 413, doc="the connection is then closed")
THROTTLED = Code("throttled", 429, ("retry_after",), "`retry_after`: whole seconds, at least 1")
INTERNAL = Code("internal", 500, doc="the server failed; nothing of it is told")
UNAVAILABLE = Code("unavailable", 503, doc="shutting down, database or hashing queue busy")

CODES: dict[str, Code] = {
    code.name: code
    for code in (
        MALFORMED,
        INVALID_ARGUMENT,
        ALREADY_LOGGED_IN,
        EMPTY_CART,
        NOT_LOGGED_IN,
        BAD_CREDENTIALS,
        NOT_YOURS,
        WRONG_PASSWORD,
        NOT_FOUND,
        BAD_INVITATION,
        NAME_TAKEN,
        SHORT_OF_STOCK,
        TOTAL_CHANGED,
        TOO_LARGE,
        NOT_PLACED,
        FRAME_TOO_LARGE,
        THROTTLED,
        INTERNAL,
        UNAVAILABLE,
    )
}

# What any request may be answered, whatever its op: a body that cannot be
# read, one too large, a server that fails or is busy.  Every op can answer
# these besides its own (ops.Op.codes).
ANY_REQUEST = (MALFORMED, FRAME_TOO_LARGE, INTERNAL, UNAVAILABLE)


class What:
    """What `what` of not_found may say."""

    STORE = "store"
    PRODUCT = "product"
    ORDER = "order"
    CART_LINE = "cart_line"


class Explained(Exception):
    """An error with a message for a person, kept as an English template
    marked for translation and the values to fill in: str() and `message`
    are English (for logs), translated(language) is for the person.  The
    base of MarketError, and of the errors the storage layer raises for the
    command line (no database file, a schema out of date)."""

    default: Template = N_("internal error")

    def __init__(self, message: Template | None = None, /, **params: object) -> None:
        self.template: Template = message or self.default
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return render(self.template, self.params, DEFAULT)

    def translated(self, language: str) -> str:
        return render(self.template, self.params, language)


class MarketError(Explained):
    """An error a client sees: `status`, `code`, and `extra`, the code's
    extra keys (set by the subclasses that have some)."""

    status = 500
    code = INTERNAL
    extra: dict[str, Any] = {}

    @property
    def error(self) -> dict[str, Any]:
        """The answer's `error`: the code and its extra keys."""
        return {"code": self.code.name, **self.extra}


class BadRequest(MarketError):
    """400 invalid_argument: `field` names the argument.  Given or not, the
    message begins with the field's name ("quantity: ..."), so without
    `field` the message's first word is taken."""

    status = 400
    code = INVALID_ARGUMENT
    default = N_("bad request")
    # Set by protocol.decode once the request's id is known.
    request_id: int

    def __init__(self, message: Template | None = None, /, **params: object) -> None:
        super().__init__(message, **params)
        if self.code.keys:
            field = params.get("field")
            if not isinstance(field, str):
                field = self.message.partition(":")[0]
            self.extra = {"field": field}


class Malformed(BadRequest):
    """400 malformed: the request itself cannot be read (id nil until known)."""

    code = MALFORMED


class AlreadyLoggedIn(BadRequest):
    code = ALREADY_LOGGED_IN


class EmptyCart(BadRequest):
    code = EMPTY_CART


class NotLoggedIn(MarketError):
    status = 401
    code = NOT_LOGGED_IN
    default = N_("not logged in")


class BadCredentials(NotLoggedIn):
    """401 for a wrong login or password, or a RESUME token that is unknown,
    expired or revoked: one code for all, as one message for all."""

    code = BAD_CREDENTIALS


class Forbidden(MarketError):
    """403 not_yours: another merchant's product."""

    status = 403
    code = NOT_YOURS
    default = N_("forbidden")


class WrongPassword(Forbidden):
    code = WRONG_PASSWORD


class NotFound(MarketError):
    """404 not_found; `what` is one of What's."""

    status = 404
    code = NOT_FOUND
    default = N_("not found")

    def __init__(self, message: Template | None = None, /, *, what: str, **params: object) -> None:
        super().__init__(message, **params)
        self.extra = {"what": what}


class BadInvitation(MarketError):
    status = 406
    code = BAD_INVITATION
    default = N_("invitation code unknown, used, expired or not from this inviter")


class Conflict(MarketError):
    """409 too_large: a total or a profit past what this server holds.  The
    other 409s are its subclasses."""

    status = 409
    code = TOO_LARGE
    default = N_("conflict")


class NameTaken(Conflict):
    """409 name_taken; `field` is username, storename or email."""

    code = NAME_TAKEN

    def __init__(self, message: Template | None = None, /, *, field: str, **params: object) -> None:
        super().__init__(message, field=field, **params)
        self.extra = {"field": field}


class ShortOfStock(Conflict):
    """409 short_of_stock; `products` holds a map per short line."""

    code = SHORT_OF_STOCK

    def __init__(
        self,
        message: Template | None = None,
        /,
        *,
        short: list[dict[str, Any]],
        **params: object,
    ) -> None:
        super().__init__(message, **params)
        self.extra = {"products": short}


class TotalChanged(Conflict):
    """409 total_changed: the cart's total at current prices is not the one
    the customer saw; `total` is the total now (a money string).  Raised by
    checkout's `expected_total` (protocol 1.2)."""

    code = TOTAL_CHANGED
    default = N_("expected_total: the cart's total is now {total}")

    def __init__(
        self, total: Decimal | str, message: Template | None = None, /, **params: object
    ) -> None:
        if isinstance(total, Decimal):
            # As values.money gives it (values imports this module).
            total = str(total.quantize(Decimal("0.01")))
        super().__init__(message, total=total, **params)
        self.total = total
        self.extra = {"total": total}


class NotPlaced(Conflict):
    """409 not_placed: the order, or the store's part of it, is no longer
    `placed`; the answer's `status` key is its status now (this class's
    `status` stays the answer's 409, so the order's is `order_status`).
    Raised by shipping and cancelling (protocol 1.2)."""

    code = NOT_PLACED
    default = N_("order_id: the order is {status}, no longer placed")

    def __init__(self, status: str, message: Template | None = None, /, **params: object) -> None:
        super().__init__(message, status=status, **params)
        self.order_status = status
        self.extra = {"status": status}


class TooLarge(MarketError):
    status = 413
    code = FRAME_TOO_LARGE
    default = N_("request frame too large")


class Throttled(MarketError):
    """429 throttled; `retry_after` in whole seconds, at least 1 (the `n`
    of its message)."""

    status = 429
    code = THROTTLED
    default = N_("too many failed logins; try again later")
    # What reached its limit ("account", "address", ...), set by
    # Throttle.reserve.
    blocked: list[str]

    def __init__(self, message: Template | None = None, /, **params: object) -> None:
        super().__init__(message, **params)
        n = params.get("n")
        self.extra = {"retry_after": max(1, n if isinstance(n, int) else 1)}


class Unavailable(MarketError):
    status = 503
    code = UNAVAILABLE
    default = N_("service unavailable")


# The one message for a failed login, whatever failed: never reveal whether
# the login name exists.
BAD_LOGIN = N_("wrong login or password")

# The one message for a RESUME that fails, whatever failed: unknown, expired
# or revoked are not told apart.
BAD_TOKEN = N_("token: unknown, expired or revoked")


def internal_error() -> dict[str, Any]:
    """The `error` of a bare 500."""
    return {"code": INTERNAL.name}
