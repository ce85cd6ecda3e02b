"""Every op of the protocol, declared as data: its name, the role it needs,
its arguments and their rules, the status of its success, the error codes
it can answer (cybermarket/errors.py's CODES), and a line of help.  This is
wire vocabulary, shared by the server and the clients: the shell's help
and checks come from it, docs/protocol.md's table of ops is checked against
it (tests/test_docs.py), and the server binds one handler to each op
(cybermarket/server/optable.py), refusing to start if any op has none or
any handler no op.
"""

from dataclasses import dataclass, field
from typing import Any

from cybermarket import errors as e
from cybermarket import values as v
from cybermarket.errors import BadRequest, Code, Malformed
from cybermarket.i18n import N_
from cybermarket.values import Arg, shown

CLIENT = "client"
MERCHANT = "merchant"
# The role of an op for a connection logged in as either: a client or a
# merchant (GET_ACCOUNT).
EITHER = "client or merchant"


@dataclass(frozen=True)
class Op:
    name: str
    role: str | None  # None: anyone, logged in or not; EITHER: logged in, as either
    args: dict[str, Arg] = field(default_factory=dict)
    status: int = 200
    doc: str = ""
    one_of: tuple[str, ...] = ()  # optional arguments of which at least one is needed
    # The codes of this op's own errors; Op.codes adds what any request
    # can answer.  The server logs an answer with a code not in Op.codes.
    errors: tuple[Code, ...] = ()

    @property
    def codes(self) -> tuple[Code, ...]:
        """Every code this op can answer, its own last."""
        role = (e.NOT_LOGGED_IN,) if self.role is not None else ()
        return (*ANY_REQUEST, *role, *self.errors)

    def check_args(self, args: object) -> dict[str, Any]:
        """The validated arguments, or BadRequest naming the first bad field."""
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            raise Malformed(N_("args: must be a map"))
        for key in args:
            if key not in self.args:
                raise BadRequest(
                    N_("{key}: unknown argument for {op}"),
                    key=shown(key),
                    op=self.name,
                    field=shown(key),
                )
        checked: dict[str, Any] = {}
        for name, spec in self.args.items():
            if name in args:
                checked[name] = spec.check(name, args[name])
            elif spec.optional:
                checked[name] = spec.default
            else:
                raise BadRequest(N_("{field}: missing"), field=name)
        if self.one_of and all(checked[name] is None for name in self.one_of):
            raise BadRequest(
                N_("{fields}: give at least one"),
                fields=", ".join(self.one_of),
                field=self.one_of[0],
            )
        return checked


def _req(kind: v.Kind) -> Arg:
    return Arg(kind)


# Any request may be answered these, whatever its op: a body that cannot be
# read or is too large, an unknown or bad argument, a server that fails or
# is busy.
ANY_REQUEST = (*e.ANY_REQUEST, e.INVALID_ARGUMENT)
LOGIN_ERRORS = (e.ALREADY_LOGGED_IN, e.BAD_CREDENTIALS, e.THROTTLED)
PASSWORD_ERRORS = (e.WRONG_PASSWORD, e.THROTTLED)
OWN_PRODUCT = (e.NOT_FOUND, e.NOT_YOURS)

LIMIT = Arg(v.Limit, optional=True, default=1000)
PRODUCT = {"product_id": _req(v.Id)}
NEW_PASSWORD = {"old_password": _req(v.GivenPassword), "new_password": _req(v.Password)}
LOGIN = {"login": _req(v.Login), "password": _req(v.GivenPassword)}

TABLE = [
    # --- anyone ---
    Op("PING", None, {}, doc="check the server is up"),
    Op(
        "SET_LANGUAGE",
        None,
        {"language": _req(v.LanguageTag)},
        doc="choose the language of this connection's messages: en, zh-CN or ru",
    ),
    Op(
        "LIST_MERCHANT",
        None,
        {"limit": LIMIT, "after": Arg(v.StorenameKey, optional=True)},
        doc="list the stores, by storename",
    ),
    Op(
        "LIST_PRODUCT",
        None,
        {
            "storename": _req(v.StoreLookup),
            "limit": LIMIT,
            "after": Arg(v.Id, optional=True),
        },
        errors=(e.NOT_FOUND,),
        doc="list a store's products on the shelf, by product_id",
    ),
    Op(
        "GET_PRODUCT",
        None,
        {"product_id": _req(v.Id)},
        doc="one product on the shelf, with its photo (a product page)",
        errors=(e.NOT_FOUND,),
    ),
    Op(
        "SEARCH_PRODUCT",
        None,
        {
            "query": _req(v.Query),
            "storename": Arg(v.StoreLookup, optional=True),
            "limit": Arg(v.SearchLimit, optional=True, default=20),
            "after": Arg(v.After, optional=True),
        },
        errors=(e.NOT_FOUND,),
        doc="find products on the shelf by the words of their name or description",
    ),
    Op(
        "RESUME",
        None,
        {"token": _req(v.Token)},
        errors=LOGIN_ERRORS,
        doc="log in with the token of an earlier login, on a new connection",
    ),
    # --- either role (protocol 1.2) ---
    Op(
        "GET_ACCOUNT",
        EITHER,
        {},
        doc="the account you are logged in as: its role, name, email (and description)",
    ),
    # --- customers ---
    Op(
        "CLIENT_CREATE",
        None,
        {"username": _req(v.Username), "email": _req(v.Email), "password": _req(v.Password)},
        status=201,
        errors=(e.NAME_TAKEN,),
        doc="create a customer account",
    ),
    Op("CLIENT_LOGIN", None, LOGIN, errors=LOGIN_ERRORS, doc="log in by username or email"),
    Op("CLIENT_LOGOUT", CLIENT, {}, doc="log out"),
    Op(
        "SET_CLIENT_USERNAME",
        CLIENT,
        {"username": _req(v.Username)},
        errors=(e.NAME_TAKEN,),
        doc="change your username",
    ),
    Op(
        "SET_CLIENT_EMAIL",
        CLIENT,
        {"email": _req(v.Email)},
        errors=(e.NAME_TAKEN,),
        doc="change your email",
    ),
    Op(
        "SET_CLIENT_PASSWORD",
        CLIENT,
        NEW_PASSWORD,
        errors=PASSWORD_ERRORS,
        doc="change your password",
    ),
    Op(
        "CLIENT_ADD_ITEM",
        CLIENT,
        {"product_id": _req(v.Id), "quantity": _req(v.Quantity)},
        errors=(e.NOT_FOUND,),
        doc="add units of a product to your cart",
    ),
    Op(
        "CLIENT_REMOVE_ITEM",
        CLIENT,
        PRODUCT,
        errors=(e.NOT_FOUND,),
        doc="remove a product's line from your cart",
    ),
    Op("CLIENT_GET_ITEMS", CLIENT, {}, doc="list your cart"),
    Op(
        "CLIENT_GET_PRICE",
        CLIENT,
        {},
        doc="your cart's total at current prices",
    ),
    Op(
        "CLIENT_CHECKOUT_ITEM",
        CLIENT,
        {
            "expected_total": Arg(v.ExpectedTotal, optional=True),
            "address": Arg(v.Address, optional=True),
        },
        errors=(e.EMPTY_CART, e.SHORT_OF_STOCK, e.TOTAL_CHANGED, e.TOO_LARGE),
        doc="buy everything in your cart (at the total you saw, to an address)",
    ),
    Op(
        "CLIENT_LIST_ORDERS",
        CLIENT,
        {"limit": LIMIT, "after": Arg(v.Id, optional=True)},
        doc="your orders, newest first",
    ),
    Op(
        "CLIENT_GET_ORDER",
        CLIENT,
        {"order_id": _req(v.Id)},
        errors=(e.NOT_FOUND,),
        doc="the lines of one of your orders",
    ),
    Op(
        "CLIENT_CANCEL_ORDER",
        CLIENT,
        {"order_id": _req(v.Id)},
        errors=(e.NOT_FOUND, e.NOT_PLACED),
        doc="cancel every part of one of your orders that is not shipped yet",
    ),
    # --- merchants ---
    Op(
        "MERCHANT_CREATE_INVITATION",
        MERCHANT,
        {},
        doc="a new single-use invitation code for another store",
    ),
    Op(
        "MERCHANT_CREATE",
        None,
        {
            "storename": _req(v.Storename),
            "description": _req(v.Description),
            "email": _req(v.Email),
            "password": _req(v.Password),
            "inviter": Arg(v.StoreLookup, optional=True),
            "code": _req(v.Code),
        },
        status=201,
        errors=(e.NAME_TAKEN, e.BAD_INVITATION),
        doc="open a store with an invitation code",
    ),
    Op(
        "MERCHANT_LOGIN",
        None,
        LOGIN,
        errors=LOGIN_ERRORS,
        doc="log in by storename or email",
    ),
    Op("MERCHANT_LOGOUT", MERCHANT, {}, doc="log out"),
    Op(
        "SET_MERCHANT_STORENAME",
        MERCHANT,
        {"storename": _req(v.Storename)},
        errors=(e.NAME_TAKEN,),
        doc="rename your store",
    ),
    Op(
        "SET_MERCHANT_EMAIL",
        MERCHANT,
        {"email": _req(v.Email)},
        errors=(e.NAME_TAKEN,),
        doc="change your store's email",
    ),
    Op(
        "SET_MERCHANT_DESCRIPTION",
        MERCHANT,
        {"description": _req(v.Description)},
        doc="change your store's description",
    ),
    Op(
        "SET_MERCHANT_PASSWORD",
        MERCHANT,
        NEW_PASSWORD,
        errors=PASSWORD_ERRORS,
        doc="change your password",
    ),
    Op(
        "MERCHANT_ADD_PRODUCT",
        MERCHANT,
        {
            "productname": _req(v.Productname),
            "price": _req(v.Price),
            "description": _req(v.Description),
            "stock": Arg(v.Stock, optional=True, default=0),
        },
        doc="put a new product on the shelf",
    ),
    Op(
        "MERCHANT_DEL_PRODUCT",
        MERCHANT,
        PRODUCT,
        errors=OWN_PRODUCT,
        doc="take a product off the shelf (its history stays)",
    ),
    Op(
        "MERCHANT_PUT_ON_SHELF",
        MERCHANT,
        PRODUCT,
        errors=OWN_PRODUCT,
        doc="put a product back on the shelf",
    ),
    Op(
        "MERCHANT_RESTOCK_PRODUCT",
        MERCHANT,
        {"product_id": _req(v.Id), "quantity": _req(v.Quantity)},
        errors=OWN_PRODUCT,
        doc="add units to a product's stock",
    ),
    Op(
        "MERCHANT_GET_PROFIT",
        MERCHANT,
        {},
        errors=(e.TOO_LARGE,),
        doc="total credited to your store by checkouts",
    ),
    Op(
        "MERCHANT_GET_SALES",
        MERCHANT,
        {},
        errors=(e.TOO_LARGE,),
        doc="units sold and revenue per product",
    ),
    Op(
        "MERCHANT_LIST_ORDERS",
        MERCHANT,
        {
            "status": Arg(v.OrderStatus, optional=True),
            "limit": LIMIT,
            "after": Arg(v.Id, optional=True),
        },
        doc="your store's parts of orders, newest first (placed, shipped or cancelled)",
    ),
    Op(
        "MERCHANT_GET_ORDER",
        MERCHANT,
        {"order_id": _req(v.Id)},
        errors=(e.NOT_FOUND,),
        doc="your store's lines of one order",
    ),
    Op(
        "MERCHANT_SHIP_ORDER",
        MERCHANT,
        {"order_id": _req(v.Id), "note": Arg(v.Note, optional=True)},
        errors=(e.NOT_FOUND, e.NOT_PLACED),
        doc="mark your store's part of an order shipped (note: carrier and tracking number)",
    ),
    Op(
        "MERCHANT_LIST_PRODUCTS",
        MERCHANT,
        {"limit": LIMIT, "after": Arg(v.Id, optional=True)},
        doc="all your products, on or off the shelf",
    ),
    Op(
        "SET_PRODUCT",
        MERCHANT,
        {
            "product_id": _req(v.Id),
            "productname": Arg(v.Productname, optional=True),
            "description": Arg(v.Description, optional=True),
            "price": Arg(v.Price, optional=True),
        },
        one_of=("productname", "description", "price"),
        errors=OWN_PRODUCT,
        doc="change a product's name, description or price",
    ),
]

OPS = {op.name: op for op in TABLE}
