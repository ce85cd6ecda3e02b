"""The one exception hierarchy of the server.

Every error a client can see is a MarketError subclass; its class says the
status.  The protocol turns them into responses in one place
(connection.MarketConnection._answer); anything else is a bug, logged with its
traceback and answered with a bare 500.

An error keeps its message as an English template marked for translation
(i18n.N_, i18n.Nn_) and the values to fill in, so that each connection can
show it in its own language (translated(language)); `message` is English.
"""

from decimal import Decimal

from cybermarket.i18n import DEFAULT, N_, Template, render


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
    status = 500


class BadRequest(MarketError):
    status = 400
    default = N_("bad request")
    # Set by protocol.decode once the request's id is known.
    request_id: int


class NotLoggedIn(MarketError):
    status = 401
    default = N_("not logged in")


class Forbidden(MarketError):
    status = 403
    default = N_("forbidden")


class NotFound(MarketError):
    status = 404
    default = N_("not found")


class BadInvitation(MarketError):
    status = 406
    default = N_("invitation code unknown, used, expired or not from this inviter")


class Conflict(MarketError):
    status = 409
    default = N_("conflict")


class TooLarge(MarketError):
    status = 413
    default = N_("request frame too large")


class Throttled(MarketError):
    status = 429
    default = N_("too many failed logins; try again later")
    # What reached its limit ("account", "address", ...), set by
    # Throttle.reserve.
    blocked: list[str]


class Unavailable(MarketError):
    status = 503
    default = N_("service unavailable")


# The one message for a failed login, whatever failed: never reveal whether
# the login name exists.
BAD_LOGIN = N_("wrong login or password")

# The one message for a RESUME that fails, whatever failed: unknown, expired
# or revoked are not told apart.
BAD_TOKEN = N_("token: unknown, expired or revoked")


class TotalChanged(Conflict):
    """Checkout's expected_total is not the cart's total now (protocol 1.2)."""

    default = N_("expected_total: the cart's total is now {total}")

    def __init__(self, total: Decimal) -> None:
        self.total = total
        # As values.money gives it (values imports this module).
        super().__init__(self.default, total=str(total.quantize(Decimal("0.01"))))


class NotPlaced(Conflict):
    """The order, or a store's part of it, is shipped or cancelled already
    (protocol 1.2)."""

    default = N_("order_id: the order is {status}, not placed")

    def __init__(self, status: str) -> None:
        # Not `status`, which is the response's (409).
        self.order_status = status
        super().__init__(self.default, status=status)
