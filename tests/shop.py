"""Small steps shared by the op tests: asserting a status, adding products,
buying, and reading tables and pages the way the wire contract describes
them."""

ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def expect(peer, status, op, **args):
    """Call `op`, insisting on `status`; returns the response's message."""
    response = peer.call(op, **args)
    assert response["status"] == status, (op, args, response)
    assert isinstance(response["message"], str)
    if status >= 400:
        assert "data" not in response, response
    return response["message"]


def store_args(storename, password, code, **override):
    """MERCHANT_CREATE's arguments for a new store named `storename`, opened
    with an operator's code unless `inviter` is overridden."""
    args = {
        "storename": storename,
        "description": f"the {storename} store",
        "email": f"{storename}@example.com",
        "password": password,
        "inviter": None,
        "code": code,
    }
    args.update(override)
    return args


def log_in(market, op, login, password):
    """A login (CLIENT_LOGIN or MERCHANT_LOGIN) on a new connection; the
    response."""
    return market.peer().call(op, login=login, password=password)


def login_failure_messages(market, op, attempts):
    """The messages of logins that must fail with 401, one per
    (login, password) attempt, as a set."""
    messages = set()
    for login, password in attempts:
        response = log_in(market, op, login, password)
        assert response["status"] == 401, (login, response)
        messages.add(response["message"])
    return messages


def add_product(merchant, productname="apple", price="1.50", description="", stock=10):
    data = merchant.ok(
        "MERCHANT_ADD_PRODUCT",
        productname=productname,
        price=price,
        description=description,
        stock=stock,
    )
    return data["product_id"]


def fill_cart(client, *lines):
    """Put (product_id, quantity) lines in the client's cart."""
    for product_id, quantity in lines:
        client.ok("CLIENT_ADD_ITEM", product_id=product_id, quantity=quantity)


def buy(client, *lines):
    """Check out a cart of (product_id, quantity) lines; the order's data."""
    fill_cart(client, *lines)
    return client.ok("CLIENT_CHECKOUT_ITEM")


def assert_columns(table, expected):
    """The contract's columns come first, in its order (more may follow)."""
    assert table["columns"][: len(expected)] == expected, table["columns"]


def records(table):
    """A table's rows as dicts by column name."""
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def column(table, name):
    return [record[name] for record in records(table)]


def head(table, width):
    """Each row cut to its first `width` values (the contract's columns)."""
    return [row[:width] for row in table["rows"]]


def all_pages(peer, op, key, limit, **args):
    """Follow a paged op's `next` until nil; the list of pages' rows.  Each
    `next` must be the key of the page's last row, and each page at most
    `limit` rows."""
    pages, after = [], None
    while True:
        extra = {} if after is None else {"after": after}
        data = peer.ok(op, limit=limit, **args, **extra)
        assert len(data["rows"]) <= limit
        pages.append(data["rows"])
        after = data["next"]
        if after is None:
            return pages
        assert data["rows"], "a page with a next key must hold rows"
        assert after == data["rows"][-1][data["columns"].index(key)]
        assert len(pages) <= 100, "paging does not end"


def flatten(pages):
    return [row for rows in pages for row in rows]


def products_by_id(merchant):
    """MERCHANT_LIST_PRODUCTS as {product_id: record}."""
    table = merchant.ok("MERCHANT_LIST_PRODUCTS")
    return {record["product_id"]: record for record in records(table)}


def stock(merchant, product_id):
    return products_by_id(merchant)[product_id]["stock"]
