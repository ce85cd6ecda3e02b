"""SEARCH_PRODUCT (protocol 1.1): which products a query finds, in what
order, page by page, and what it refuses; on the in-process server with a
real database, SQLite or PostgreSQL (see conftest.py)."""

import base64

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cybermarket.server.handlers.catalog import PRODUCT_COLUMNS
from cybermarket.storage import database
from cybermarket.storage.search import (
    _RANKS_POSTGRESQL,
    POSTGRESQL_SEARCH,
    POSTGRESQL_SEARCH_STORE,
    SQLITE_SEARCH,
    SQLITE_SEARCH_STORE,
    WALK,
    like_patterns,
    tsqueries,
)
from cybermarket.values import After, Query, search_words
from tests.harness import Market
from tests.shop import add_product, expect, records


def cursor(text):
    """`text` made to look like a `next` value."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def names(data):
    return [row[2] for row in data["rows"]]


def found(peer, query, **args):
    """The productnames a query finds, every page read."""
    return names(everything(peer, query, **args))


def everything(peer, query, **args):
    """All pages of a search as one table (next: the pages' nexts)."""
    data = peer.ok("SEARCH_PRODUCT", query=query, **args)
    rows, nexts = list(data["rows"]), []
    while data["next"] is not None:
        nexts.append(data["next"])
        data = peer.ok("SEARCH_PRODUCT", query=query, after=data["next"], **args)
        rows += data["rows"]
    return {"columns": data["columns"], "rows": rows, "next": nexts}


@pytest.fixture
def shelf(shop):
    """Add products to the "shop" store: shelf(name, description) -> id."""

    def add(productname, description=""):
        return add_product(shop, productname=productname, description=description)

    return add


# --- what matches ----------------------------------------------------------


def test_a_word_matches_a_whole_word_or_the_beginning_of_one(market, shelf):
    shelf("apples")
    shelf("apple pie")
    shelf("pineapple")
    visitor = market.peer()
    assert sorted(found(visitor, "app")) == ["apple pie", "apples"]
    assert sorted(found(visitor, "apple")) == ["apple pie", "apples"]
    assert found(visitor, "apples") == ["apples"]
    assert found(visitor, "pie") == ["apple pie"]
    # Not inside a word, nor past its end.
    assert found(visitor, "ple") == []
    assert found(visitor, "applesauce") == []


def test_every_word_must_match(market, shelf):
    shelf("red chair")
    shelf("red sofa")
    shelf("blue chair", "a red cushion")
    visitor = market.peer()
    assert sorted(found(visitor, "red chair")) == ["blue chair", "red chair"]
    assert found(visitor, "red sofa") == ["red sofa"]
    assert found(visitor, "green chair") == []
    assert sorted(found(visitor, "chair cush")) == ["blue chair"]


def test_case_does_not_matter(market, shelf):
    shelf("Lamp", "BRIGHT Light")
    visitor = market.peer()
    for query in ("lamp", "LAMP", "lAmP", "bright", "light LAMP"):
        assert found(visitor, query) == ["Lamp"], query


@pytest.mark.parametrize(
    "stored, query",
    [
        ("Café", "cafe"),  # an accent in the product, none in the query
        ("cafe", "CAFÉ"),  # and the other way
        ("Café", "CAFE\u0301"),  # the query decomposed (NFD)
        ("naïve résumé", "naive resume"),
        ("Crème brûlée", "creme brulee"),
        ("Ångström", "angstrom"),
        ("Straße", "strasse"),  # full case folding
        ("STRASSE", "straße"),
        ("ｃａｆｅ", "cafe"),  # full width: NFKC
        ("cafe", "ｃａｆｅ"),
        ("ﬁne tea", "fine"),  # the fi ligature
        ("office", "ofﬁ"),
        ("Ⅻ chairs", "xii"),  # a Roman numeral, letters under NFKC
        ("H₂O bottle", "h2o"),
        ("Ελληνικό μέλι", "ελληνικο"),  # Greek, with its tonos
        ("İstanbul rug", "istanbul"),
        ("Москва", "москва"),
        ("東京タワー", "東京"),  # a run of letters is one word: its beginning matches
    ],
)
def test_accents_case_and_forms(market, shelf, stored, query):
    shelf(stored)
    assert found(market.peer(), query) == [stored]


@pytest.mark.parametrize(
    "stored, query",
    [
        ("绿茶", "茶"),  # contract 1.2: "茶" finds "绿茶"
        ("有机绿茶叶", "绿茶"),
        ("有机绿茶叶", "茶叶"),
        ("有机绿茶叶", "机绿茶"),
        ("東京タワー", "タワー"),
        ("東京タワー", "京タ"),
        ("서울특별시 지도", "특별"),
        ("iPhone用ケース", "ケース"),
        ("iPhone用ケース", "iphone"),
        ("iPhone用ケース", "用"),
        ("ｉＰｈｏｎｅ用ｹｰｽ", "iphone用ケース"),  # full and half width: NFKC
    ],
)
def test_cjk_text_is_matched_by_its_characters(market, shelf, stored, query):
    shelf(stored)
    shelf("green tea", "plain")
    assert found(market.peer(), query) == [stored]


def test_cjk_characters_apart_are_not_the_word(market, shelf):
    shelf("红茶")
    shelf("绿色的茶")
    shelf("绿茶")
    visitor = market.peer()
    assert found(visitor, "绿茶") == ["绿茶"]
    assert sorted(found(visitor, "茶")) == ["红茶", "绿色的茶", "绿茶"]
    assert sorted(found(visitor, "绿")) == ["绿色的茶", "绿茶"]


def test_a_long_cjk_query_is_one_word_and_finds_its_text(market, shelf):
    # Forty-eight characters: one word, of more pairs than a query is
    # looked up by.
    run = (
        "天地玄黄宇宙洪荒日月盈昃辰宿列张"
        "寒来暑往秋收冬藏闰余成岁律吕调阳"
        "云腾致雨露结为霜金生丽水玉出昆冈"
    )
    shelf("千字文", "开篇：" + run + "。")
    shelf("千字文摘录", run[:30])
    visitor = market.peer()
    assert found(visitor, run) == ["千字文"]
    assert sorted(found(visitor, run[:30])) == ["千字文", "千字文摘录"]


def test_accents_in_a_decomposed_description(market, shelf):
    # A description is stored as given, here decomposed; the name in NFC.
    shelf("drink", "cafe\u0301 au lait")
    shelf("Cafe\u0301 table")
    visitor = market.peer()
    assert sorted(found(visitor, "café")) == ["Café table", "drink"]
    assert sorted(found(visitor, "CAFE")) == ["Café table", "drink"]


def test_the_words_of_a_query_are_runs_of_letters_and_digits(market, shelf):
    shelf("USB-C cable, 2m")
    shelf("usb hub")
    visitor = market.peer()
    assert found(visitor, "usb-c") == ["USB-C cable, 2m"]
    assert found(visitor, "cable 2") == ["USB-C cable, 2m"]
    assert found(visitor, "c,2M") == ["USB-C cable, 2m"]
    assert sorted(found(visitor, "usb")) == ["USB-C cable, 2m", "usb hub"]


@pytest.mark.parametrize(
    "query",
    [
        '"red',
        'red"',
        '"red" "chair"',
        "red*",
        "*red",
        "red:*",
        "red & chair",
        "red&chair",
        "!red",
        "(red) (chair)",
        "red | chair",
        "red OR chair",
        "red AND chair",
        "red NOT chair",
        "-red",
        "red -chair",
        "NEAR(red chair)",
        "NEAR(red chair, 2)",
        "{productname description}: red",
        "name_words: red",
        "description_words : red",
        "^red",
        "red + chair",
        "red'",
        "'red':*",
        "red\\",
        "red <-> chair",
        "red:A",
        "red%",
        "red_chair",
        "red;DROP TABLE products",
    ],
)
def test_query_language_syntax_finds_what_its_words_find(market, shelf, query):
    shelf("red chair")
    shelf("red sofa")
    shelf("chair", "a near red one")
    shelf("or and not", "drop table products")
    visitor = market.peer()
    response = visitor.call("SEARCH_PRODUCT", query=query)
    assert response["status"] == 200, response
    assert sorted(names(response["data"])) == sorted(found(visitor, " ".join(search_words(query))))


def test_syntax_words_are_words(market, shelf):
    shelf("near the door", "or so")
    visitor = market.peer()
    assert found(visitor, "NEAR") == ["near the door"]
    assert found(visitor, "OR") == ["near the door"]
    assert found(visitor, "AND") == []


@pytest.mark.parametrize("query", ['"', "*", '"*:&!()', "  ", "-", "--", "\t\n", "!!!", "…", "😀"])
def test_a_query_without_a_word_is_400_naming_query(market, query):
    message = expect(market.peer(), 400, "SEARCH_PRODUCT", query=query)
    assert message.startswith("query:"), message


def test_emoji_are_not_words_but_do_not_hide_the_words(market, shelf):
    shelf("🍎 apple")
    assert found(market.peer(), "🍎apple") == ["🍎 apple"]


# --- what is returned ------------------------------------------------------


def test_rows_are_list_products_rows(market, shop):
    lamp = add_product(shop, "brass lamp", price="19.99", description="warm light", stock=7)
    add_product(shop, "brass bell", price="3", description="", stock=0)
    visitor = market.peer()
    data = visitor.ok("SEARCH_PRODUCT", query="brass lamp")
    assert data["columns"] == PRODUCT_COLUMNS
    assert data["next"] is None
    listed = {
        row["product_id"]: row for row in records(visitor.ok("LIST_PRODUCT", storename="shop"))
    }
    assert records(data) == [listed[lamp]]
    assert records(data)[0] == {
        "product_id": lamp,
        "storename": "shop",
        "productname": "brass lamp",
        "description": "warm light",
        "price": "19.99",
        "stock": 7,
        "photo": None,
    }


def test_name_matches_come_before_description_matches(market, shelf):
    # Ids interleave the two kinds, and the description matches are the
    # "better" ones by any count of words.
    expected_first = []
    for i in range(6):
        shelf(f"gadget {i}", "tea tea tea kettle kettle kettle")
        expected_first.append(shelf(f"tea kettle {i}"))
    visitor = market.peer()
    rows = records(everything(visitor, "kettle tea"))
    assert len(rows) == 12
    assert {r["product_id"] for r in rows[:6]} == set(expected_first)
    assert all(r["productname"].startswith("gadget") for r in rows[6:])


def test_words_split_between_name_and_description_need_the_description(market, shelf):
    both_in_name = shelf("red chair", "")
    split = shelf("red stool", "a chair of sorts")
    rows = records(everything(market.peer(), "chair red"))
    assert [r["product_id"] for r in rows] == [both_in_name, split]


def test_whole_words_come_before_beginnings_within_each_group(market, shelf):
    # Created in the reverse of the order they are found in.
    rank3 = shelf("redwood box", "for a catalogue")
    rank2 = shelf("red box", "for a cat")
    rank1_late = shelf("reddish cattle")
    rank1 = shelf("red catalogue")
    rank0_late = shelf("cat, red")
    rank0 = shelf("red cat")
    rows = records(everything(market.peer(), "red cat", limit=2))
    # Within a rank, by product_id.
    assert [r["product_id"] for r in rows] == sorted([rank0, rank0_late]) + sorted(
        [rank1, rank1_late]
    ) + [rank2, rank3]


def test_equal_matches_go_by_product_id(market, shelf):
    ids = [shelf("plain mug") for _ in range(5)]
    rows = records(everything(market.peer(), "mug", limit=2))
    assert [r["product_id"] for r in rows] == ids


@pytest.mark.parametrize("limit", [1, 2])
def test_pages_neither_repeat_nor_skip(market, shop, limit):
    expected = set()
    for i in range(36):
        # Nine of each rank, interleaved by product_id.
        name, description = [
            (f"lantern {i}", "plain"),
            (f"big lanterns {i}", ""),
            (f"item {i}", "an old lantern"),
            (f"item {i}", "lanterns, no. 5"),
        ][i % 4]
        expected.add(add_product(shop, name, description=description))
    add_product(shop, "candle", description="no match here")
    visitor = market.peer()
    whole = visitor.ok("SEARCH_PRODUCT", query="lantern", limit=100)
    assert whole["next"] is None
    order = [row[0] for row in whole["rows"]]
    assert set(order) == expected and len(order) == 36

    paged = everything(visitor, "lantern", limit=limit)
    ids = [row[0] for row in paged["rows"]]
    assert ids == order  # the same order, none twice, none missed
    assert len(paged["next"]) in (36 // limit - 1, 36 // limit)
    # Every page but perhaps an empty last one holds `limit` rows.
    data = visitor.ok("SEARCH_PRODUCT", query="lantern", limit=limit)
    assert len(data["rows"]) == limit


def test_the_store_filter(market, shop):
    other = market.merchant("Other Store")
    mine = add_product(shop, "wool hat")
    theirs = add_product(other, "wool scarf")
    visitor = market.peer()
    assert sorted(found(visitor, "wool")) == ["wool hat", "wool scarf"]
    assert found(visitor, "wool", storename="shop") == ["wool hat"]
    # The storename is found by its fold, as LIST_PRODUCT's is.
    assert found(visitor, "wool", storename="OTHER STORE") == ["wool scarf"]
    assert found(visitor, "wool", storename="ｏｔｈｅｒ ｓｔｏｒｅ") == ["wool scarf"]
    assert found(visitor, "hat", storename="Other Store") == []
    rows = records(visitor.ok("SEARCH_PRODUCT", query="wool", storename="other store"))
    assert [(r["product_id"], r["storename"]) for r in rows] == [(theirs, "Other Store")]
    assert mine != theirs


def test_an_unknown_store_is_404(market, shelf):
    shelf("wool hat")
    message = expect(market.peer(), 404, "SEARCH_PRODUCT", query="wool", storename="nowhere")
    assert message.startswith("storename:"), message


def test_paging_within_a_store(market, shop):
    other = market.merchant("other")
    ids = []
    for i in range(5):
        ids.append(add_product(shop, f"spoon {i}"))
        add_product(other, f"spoon {i}")
    paged = everything(market.peer(), "spoon", storename="shop", limit=2)
    assert sorted(row[0] for row in paged["rows"]) == ids


# --- the shelf and changes -------------------------------------------------


def test_off_the_shelf_is_not_found_and_back_on_it_is(market, shop):
    kept = add_product(shop, "teapot white")
    gone = add_product(shop, "teapot black")
    visitor = market.peer()
    shop.ok("MERCHANT_DEL_PRODUCT", product_id=gone)
    assert found(visitor, "teapot") == ["teapot white"]
    assert found(visitor, "black") == []
    assert found(visitor, "teapot", storename="shop") == ["teapot white"]
    shop.ok("MERCHANT_PUT_ON_SHELF", product_id=gone)
    assert sorted(found(visitor, "teapot")) == ["teapot black", "teapot white"]
    assert found(visitor, "black") == ["teapot black"]
    assert kept != gone


def test_an_edited_product_is_found_by_its_new_words_only(market, shop):
    product = add_product(shop, "green vase", description="glass")
    visitor = market.peer()
    shop.ok("SET_PRODUCT", product_id=product, productname="blue bowl")
    assert found(visitor, "green") == []
    assert found(visitor, "vase") == []
    assert found(visitor, "bowl") == ["blue bowl"]
    assert found(visitor, "glass") == ["blue bowl"]  # the description stayed
    shop.ok("SET_PRODUCT", product_id=product, description="ceramic, hand made")
    assert found(visitor, "glass") == []
    assert found(visitor, "ceramic hand") == ["blue bowl"]
    shop.ok("SET_PRODUCT", product_id=product, price="4.50")  # words unchanged
    assert found(visitor, "blue ceramic") == ["blue bowl"]
    shop.ok("SET_PRODUCT", product_id=product, description="")
    assert found(visitor, "ceramic") == []
    assert found(visitor, "bowl") == ["blue bowl"]


def test_checkout_and_restock_keep_the_product_findable(market, shop):
    product = add_product(shop, "rare stamp", stock=1)
    shop.ok("MERCHANT_RESTOCK_PRODUCT", product_id=product, quantity=2)
    alice = market.client("alice")
    alice.ok("CLIENT_ADD_ITEM", product_id=product, quantity=3)
    alice.ok("CLIENT_CHECKOUT_ITEM")
    rows = records(market.peer().ok("SEARCH_PRODUCT", query="stamp"))
    assert [(r["product_id"], r["stock"]) for r in rows] == [(product, 0)]


def test_a_rolled_back_product_is_not_found(market, shop):
    from cybermarket.errors import Conflict
    from cybermarket.server.handlers.store import add_product as add

    def add_then_fail(txn):
        add(txn, shop.protocol.connection.session.account_id, "ghost lamp", 100, "", 1)
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        market.app.db.run_sync("test", add_then_fail)
    assert found(market.peer(), "ghost") == []
    add_product(shop, "ghost lamp")
    assert found(market.peer(), "ghost") == ["ghost lamp"]


def test_the_page_byte_budget_holds(market, shop, monkeypatch):
    for i in range(4):
        add_product(shop, f"poster {i}", description="x" * 1500)
    monkeypatch.setattr(market.app.settings, "page_bytes", 2000)
    visitor = market.peer()
    first = visitor.ok("SEARCH_PRODUCT", query="poster", limit=100)
    assert len(first["rows"]) == 1 and first["next"] is not None
    assert len(everything(visitor, "poster", limit=100)["rows"]) == 4


# --- what is refused -------------------------------------------------------


@pytest.mark.parametrize(
    "args, field",
    [
        ({"query": ""}, "query"),
        ({"query": "x" * 201}, "query"),
        ({"query": "é" * 201}, "query"),
        ({"query": 5}, "query"),
        ({"query": None}, "query"),
        ({"query": b"bytes"}, "query"),
        ({"query": "a\x00b"}, "query"),
        ({"query": "lamp", "limit": 0}, "limit"),
        ({"query": "lamp", "limit": 101}, "limit"),
        ({"query": "lamp", "limit": "5"}, "limit"),
        ({"query": "lamp", "limit": 1.5}, "limit"),
        ({"query": "lamp", "limit": True}, "limit"),
        ({"query": "lamp", "after": ""}, "after"),
        ({"query": "lamp", "after": "not a cursor"}, "after"),
        ({"query": "lamp", "after": "x" * 300}, "after"),
        ({"query": "lamp", "after": 12}, "after"),
        ({"query": "lamp", "after": After.encode(2, 17)[:-1]}, "after"),
        ({"query": "lamp", "after": After.encode(2, 17) + "!"}, "after"),
        ({"query": "lamp", "after": After.encode(2, 17) + "="}, "after"),
        ({"query": "lamp", "after": cursor("4:1")}, "after"),  # ranks are 0 to 3
        ({"query": "lamp", "after": cursor("-1:1")}, "after"),
        ({"query": "lamp", "after": cursor("0:-1")}, "after"),
        ({"query": "lamp", "after": cursor("0:01")}, "after"),  # not as encoded
        ({"query": "lamp", "after": cursor("0: 1")}, "after"),
        ({"query": "lamp", "after": cursor("0:1:1")}, "after"),
        ({"query": "lamp", "after": cursor("0:9223372036854775808")}, "after"),
        ({"query": "lamp", "after": cursor("0:1.5")}, "after"),
        ({"query": "lamp", "after": cursor("zero:1")}, "after"),
        ({"query": "lamp", "storename": ""}, "storename"),
        ({"query": "lamp", "storename": "x" * 65}, "storename"),
        ({"query": "lamp", "store": "shop"}, "store"),
    ],
)
def test_bad_arguments_are_400_naming_them(market, shelf, args, field):
    shelf("lamp")
    message = expect(market.peer(), 400, "SEARCH_PRODUCT", **args)
    assert message.startswith(f"{field}:"), message


def test_a_query_of_200_characters_and_limits_1_and_100_are_fine(market, shelf):
    shelf("lamp")
    visitor = market.peer()
    assert found(visitor, "lamp " + "x" * 195) == []
    assert found(visitor, "lamp" + " " * 196) == ["lamp"]
    assert len(visitor.ok("SEARCH_PRODUCT", query="lamp", limit=1)["rows"]) == 1
    assert len(visitor.ok("SEARCH_PRODUCT", query="lamp", limit=100)["rows"]) == 1
    assert len(visitor.ok("SEARCH_PRODUCT", query="lamp", limit=None)["rows"]) == 1


def test_the_default_limit_is_20(market, shop):
    for i in range(21):
        add_product(shop, f"pencil {i}")
    data = market.peer().ok("SEARCH_PRODUCT", query="pencil")
    assert len(data["rows"]) == 20 and data["next"] is not None


def test_a_cursor_from_another_query_only_says_where_to_go_on(market, shelf):
    for word in ("pen", "pad", "pin"):
        shelf(f"{word} one")
        shelf(f"{word} two")
    visitor = market.peer()
    after = visitor.ok("SEARCH_PRODUCT", query="pen", limit=1)["next"]
    response = visitor.call("SEARCH_PRODUCT", query="pad", after=after)
    assert response["status"] == 200


def test_search_needs_no_login_and_works_logged_in(market, shelf):
    shelf("kite")
    assert found(market.client("alice"), "kite") == ["kite"]
    assert found(market.merchant("other"), "kite") == ["kite"]


# --- the index -------------------------------------------------------------


def test_the_statements_use_the_search_indexes(migrated_url):
    """Each rank's statements reach the products through a search index, or
    (PostgreSQL's walk) in id order through the primary key or the store's
    index, not by reading every product."""
    engine = create_engine(migrated_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                for query in (SQLITE_SEARCH, SQLITE_SEARCH_STORE):
                    params = ('"lamp"*', 1, 0, 10) if query is SQLITE_SEARCH_STORE else None
                    plan = conn.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + query.qmark, params or ('"lamp"*', 0, 10)
                    ).fetchall()
                    details = " / ".join(row[-1] for row in plan)
                    assert "SCAN f VIRTUAL TABLE INDEX" in details, details
                    assert "SEARCH p USING INTEGER PRIMARY KEY" in details, details
                    assert not [r for r in plan if r[-1].split()[:2] == ["SCAN", "p"]], details
                    # Rows come in product_id order from the index: no sort.
                    assert "TEMP B-TREE" not in details, details
            else:
                # On an empty table the planner would rightly read it all;
                # without sequential scans it shows the index it can use.
                # (tests/test_search_cost.py reads the plans of a grown
                # catalog, with nothing turned off.)
                # The database may be one an earlier test filled and
                # emptied: statistics of rows gone would steer the plan, so
                # they are made anew, as of this empty table.
                conn.exec_driver_sql("ANALYZE products")
                conn.exec_driver_sql("SET enable_seqscan = off")
                terms = Query.check("query", "lamp")
                queries, patterns = tsqueries(terms), like_patterns(terms)
                for rank, (_, kinds, _, kind) in enumerate(_RANKS_POSTGRESQL):
                    condition = [patterns[k] for k in kinds]
                    for statements, store in (
                        (POSTGRESQL_SEARCH, []),
                        (POSTGRESQL_SEARCH_STORE, [1]),
                    ):
                        walk = plan_of(conn, statements.walk(rank), *store, 0, WALK, *condition, 10)
                        # The walk reads products in id order, a store's
                        # through its index on (merchant_id, id).
                        order = "ix_products_merchant" if store else "pk_products"
                        assert order in walk, (rank, walk)
                        found = plan_of(
                            conn, statements.found(rank), queries[kind], *condition, *store, 0, 10
                        )
                        index = "ix_products_search_name" if rank < 2 else "ix_products_search "
                        # A store's products may come through the store's
                        # index instead: at most the store's own products.
                        indexes = [index, "ix_products_merchant"] if store else [index]
                        assert any(i in found + " " for i in indexes), (rank, found)
                        assert "Seq Scan on products" not in found, (rank, found)
    finally:
        engine.dispose()


def plan_of(conn, query, *params):
    """PostgreSQL's plan of a statement, as text."""
    plan = conn.exec_driver_sql("EXPLAIN " + query.format, tuple(params)).fetchall()
    return "\n".join(row[0] for row in plan)


def test_the_migration_indexes_the_products_it_finds(database_url):
    database.upgrade(database_url, "0003")
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO merchants (id, storename, storename_key, description, email,"
                    " email_key, password_hash, profit_cents, created_at) VALUES (1, 'Old Shop',"
                    " 'old shop', '', 'old@example.com', 'old@example.com', 'x', 0,"
                    " '2026-11-20 10:00:00')"
                )
            )
            for product_id, name, description, on_shelf in [
                (1, "Crème Brûlée", "a dessert", True),
                (2, "Cafe\u0301 noir", "STRONG coffee", True),
                (3, "brûlée torch", "kitchen tool", False),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO products (id, merchant_id, productname, description,"
                        " price_cents, stock, on_shelf, created_at) VALUES (:id, 1, :name,"
                        " :description, 100, 5, :on_shelf, '2026-11-20 10:00:00')"
                    ),
                    {
                        "id": product_id,
                        "name": name,
                        "description": description,
                        "on_shelf": on_shelf,
                    },
                )
            if conn.dialect.name == "postgresql":
                for table in ("merchants", "products"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT max(id) FROM {table}))"
                        )
                    )
    finally:
        engine.dispose()
    database.upgrade(database_url)
    market = Market(database_url)
    try:
        visitor = market.peer()
        assert found(visitor, "brulee") == ["Crème Brûlée"]
        assert found(visitor, "CAFÉ coffee") == ["Cafe\u0301 noir"]  # as it was stored
        assert found(visitor, "strong", storename="old shop") == ["Cafe\u0301 noir"]
        assert found(visitor, "torch") == []
        # The index goes on from there.
        shop = market.peer()
        expect(shop, 200, "RESUME", token=issue_token(market, "merchant", 1))
        shop.ok("MERCHANT_PUT_ON_SHELF", product_id=3)
        assert sorted(found(visitor, "brûlée")) == ["Crème Brûlée", "brûlée torch"]
        add_product(shop, "torch light")
        assert sorted(found(visitor, "torch")) == ["brûlée torch", "torch light"]
    finally:
        market.close()


def issue_token(market, role, account_id):
    """A session token for an account, straight from the storage layer
    (for accounts made without a password anyone knows)."""
    from cybermarket.storage import sessions

    now = int(market.clock.seconds() * 1000)
    # Of the password generation the accounts were made with.
    return market.app.db.run_sync("token", sessions.issue, (now, role, account_id, 0))
