"""The one exception hierarchy of the server.

Every error a client can see is a MarketError subclass; its class says the
status.  The protocol turns them into responses in one place
(protocol.MarketProtocol._answer); anything else is a bug, logged with its
traceback and answered with a bare 500.
"""


class MarketError(Exception):
    status = 500
    default = "internal error"

    def __init__(self, message=None):
        super().__init__(message or self.default)
        self.message = message or self.default


class BadRequest(MarketError):
    status = 400
    default = "bad request"


class NotLoggedIn(MarketError):
    status = 401
    default = "not logged in"


class Forbidden(MarketError):
    status = 403
    default = "forbidden"


class NotFound(MarketError):
    status = 404
    default = "not found"


class BadInvitation(MarketError):
    status = 406
    default = "invitation code unknown, used, expired or not from this inviter"


class Conflict(MarketError):
    status = 409
    default = "conflict"


class TooLarge(MarketError):
    status = 413
    default = "request frame too large"


class Throttled(MarketError):
    status = 429
    default = "too many failed logins; try again later"


class Unavailable(MarketError):
    status = 503
    default = "service unavailable"


# The one message for a failed login, whatever failed: never reveal whether
# the login name exists.
BAD_LOGIN = "wrong login or password"

# The one message for a RESUME that fails, whatever failed: unknown, expired
# or revoked are not told apart.
BAD_TOKEN = "token: unknown, expired or revoked"
