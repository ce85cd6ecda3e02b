"""What a search may cost (wire contract 1.2, "Search cost"), played as a
hostile stranger would: queries of many one-letter words, a rare word in a
catalog that grew since the planner last looked, and one address searching
without end while others shop.  In-process (tests/harness.py) on SQLite or
PostgreSQL; the plans are read from the database itself."""

import itertools
import json
import random
from collections import namedtuple
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from twisted.internet import defer

from cybermarket.storage.txn import Txn
from cybermarket.values import Query
from tests.harness import InlineDatabase, Market, inline_searches, texts
from tests.shop import add_product, expect
from tests.wire import frame, request

FLOODER = "10.6.6.6"
# Every word begins some word of these products, and all eight are in one.
LETTERS = "a b c d e f g h"


def names(data):
    return sorted(row[2] for row in data["rows"])


# --- the words of a query ----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "one two three four five six seven eight nine",
        "a b c d e f g h i",
        "a a a a a a a a a",  # words are counted as they come, repeats and all
        "a-b-c-d-e-f-g-h-i",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        " ".join("x" * 10 for _ in range(18)),
    ],
)
def test_a_query_of_more_than_8_words_is_400_naming_query(market, query):
    peer = market.peer()
    message = expect(peer, 400, "SEARCH_PRODUCT", query=query)
    assert message.startswith("query:"), message
    # The contract's words: 400 invalid_argument, `field` query.
    response = peer.call("SEARCH_PRODUCT", query=query)
    assert response["error"] == {"code": "invalid_argument", "field": "query"}


def test_eight_one_letter_words_still_match_as_words_and_beginnings(market, shop):
    add_product(shop, "a b c d e f g h")
    add_product(shop, "apple bread cheese dates", description="eggs figs grapes honey")
    add_product(shop, "apple bread cheese dates")  # no e, f, g or h
    visitor = market.peer()
    assert names(visitor.ok("SEARCH_PRODUCT", query=LETTERS)) == [
        "a b c d e f g h",
        "apple bread cheese dates",
    ]
    # Whole words first: the name that holds every letter as a word.
    data = visitor.ok("SEARCH_PRODUCT", query="h g f e d c b a")
    assert [row[2] for row in data["rows"]] == ["a b c d e f g h", "apple bread cheese dates"]


# --- a rare word after a bulk insert (PostgreSQL's planner) ------------------------------

Recorded = namedtuple("Recorded", "query params")


@pytest.fixture
def statements(monkeypatch):
    """Every statement the handlers run from now on, with its parameters."""
    seen = []
    execute = Txn._execute

    def recording(self, query, params):
        seen.append(Recorded(query, tuple(params)))
        return execute(self, query, params)

    monkeypatch.setattr(Txn, "_execute", recording)
    return seen


# Made-up words of two to four syllables, the first ones the most frequent
# (a Zipf law, as in real text), so that the planner's statistics know the
# common words and not the rare ones, as in a real catalog.
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def vocabulary(count=20000, seed=7):
    rng = random.Random(seed)
    found = {}
    while len(found) < count:
        found["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(found)


WORDS = vocabulary()
# Cumulative, as random.choices takes them without summing them again per call.
WEIGHTS = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(WORDS))))


Product = namedtuple("Product", "id store name text")
# One product in SMALL_EVERY is the small store's (id 2); the rest the big one's.
SMALL_EVERY = 50


def catalog(first, count, rare=None):
    """`count` products, ids from `first` (always the same for the same
    arguments): three words of name and fifteen of description each;
    `rare` maps an id to words only it holds."""
    rng = random.Random(first)
    products = []
    for product_id in range(first, first + count):
        name = " ".join(rng.choices(WORDS, cum_weights=WEIGHTS, k=3))
        words = rng.choices(WORDS, cum_weights=WEIGHTS, k=15)
        words += (rare or {}).get(product_id, [])
        store = 2 if product_id % SMALL_EVERY == 0 else 1
        products.append(Product(product_id, store, name, " ".join(words)))
    return products


def bulk_insert(url, products):
    """`products` of two stores straight into the database (the stores
    made with the first)."""
    when = datetime(2026, 12, 1)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # No triggers: the store's page version (migration 0005)
                # would be bumped once per product, ten times the load's
                # own cost here, and nothing in these tests reads it.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            if products[0].id == 1:
                for store_id, name in ((1, "Bulk"), (2, "Small")):
                    conn.execute(
                        text(
                            "INSERT INTO merchants (id, storename, storename_key, description,"
                            " email, email_key, password_hash, profit_cents, created_at) VALUES"
                            " (:id, :name, :key, '', :email, :email, 'x', 0, :when)"
                        ),
                        {
                            "id": store_id,
                            "name": name,
                            "key": name.lower(),
                            "email": f"{name.lower()}@example.com",
                            "when": when,
                        },
                    )
            conn.execute(
                text(
                    "INSERT INTO products (id, merchant_id, productname, description, price_cents,"
                    " stock, on_shelf, created_at, name_words, description_words) VALUES (:id,"
                    " :store, :name, :text, 100, 5, true, :when, :name_words, :text_words)"
                ),
                [
                    {
                        "id": p.id,
                        "store": p.store,
                        "name": p.name,
                        "text": p.text,
                        "name_words": p.name,
                        "text_words": p.text,
                        "when": when,
                    }
                    for p in products
                ],
            )
            if conn.dialect.name == "postgresql":
                for table, last in (("merchants", 2), ("products", products[-1].id)):
                    conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
                        {"last": last},
                    )
    finally:
        engine.dispose()


def analyze(url):
    """What autovacuum would do: the planner's statistics, the GIN indexes'
    pending entries merged."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"
            )
    finally:
        engine.dispose()


def products_read(node):
    """Rows of products a PostgreSQL plan node and its children read
    (EXPLAIN ANALYZE, JSON): those they returned and those they threw away."""
    read = 0
    if node.get("Relation Name") == "products":
        kept = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read += (kept + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    for child in node.get("Plans", []):
        read += products_read(child)
    return read


def full_scans(plan):
    """SQLite: the steps of an EXPLAIN QUERY PLAN that read the whole of
    products."""
    return [row[-1] for row in plan if row[-1].split()[:2] in (["SCAN", "p"], ["SCAN", "products"])]


Grown = namedtuple("Grown", "url products")


@pytest.fixture(scope="module")
def grown(databases, tmp_path_factory):
    """A catalog of 20,000 products the planner has seen (analysed, as
    autovacuum leaves it), then 1,500 more it has not: fewer than
    autovacuum waits for.  One product of those holds "quokka"."""
    with databases.migrated(tmp_path_factory.mktemp("grown") / "market.sqlite3") as url:
        seen, added = catalog(1, 20000), catalog(20001, 1500, rare={20333: ["quokka"]})
        bulk_insert(url, seen)
        analyze(url)
        bulk_insert(url, added)
        yield Grown(url, seen + added)


@pytest.mark.parametrize(
    "query, expected",
    [("zzzzq", []), ("quokka", [20333]), ("quo", [20333]), ("zz", []), ("quokka zzzzq", [])],
)
def test_a_rare_word_after_a_bulk_insert_reads_only_through_the_index(
    grown, statements, query, expected
):
    """1,500 products added since the last vacuum, below autovacuum's
    thresholds, made PostgreSQL's planner walk every product in id order,
    building each one's search vector, for a word no product holds (400 to
    860 ms a search at 21,500 products, instead of 2)."""
    market = Market(grown.url)  # connects after the insert, as a new process would
    try:
        data = market.peer().ok("SEARCH_PRODUCT", query=query)
        assert [row[0] for row in data["rows"]] == expected
    finally:
        market.close()
    assert read_of(grown.url, statements) <= 1000


def read_of(url, statements):
    """The products the recorded search statements read, run again with
    EXPLAIN ANALYZE on PostgreSQL; on SQLite, where no plan says how many,
    0, once each plan is seen to read products through the index only."""
    searched = [s for s in statements if "products" in s.query.qmark]
    assert searched
    read = 0
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            for statement in searched:
                if conn.dialect.name == "postgresql":
                    cursor = raw.execute(
                        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement.query.format,
                        statement.params,
                    )
                    plan = cursor.fetchone()[0]
                    plan = json.loads(plan) if isinstance(plan, str) else plan
                    read += products_read(plan[0]["Plan"])
                else:
                    plan = raw.execute(
                        "EXPLAIN QUERY PLAN " + statement.query.qmark, statement.params
                    ).fetchall()
                    assert not full_scans(plan), (statement.query.qmark, plan)
    finally:
        engine.dispose()
    return read


def expected_order(products, query, store=None):
    """The ids a search must give, in order, worked out here the slow way:
    rank (storage/search.py), then id."""
    terms = Query.check("query", query)

    def whole(words):
        return all(term.text in words for term in terms)

    def begins(words):
        return all(any(w.startswith(term.text) for w in words) for term in terms)

    ranked = []
    for product in products:
        if store is not None and product.store != store:
            continue
        name = product.name.split()
        every = name + product.text.split()
        for rank, holds in enumerate((whole(name), begins(name), whole(every), begins(every))):
            if holds:
                ranked.append((rank, product.id))
                break
    return [product_id for _, product_id in sorted(ranked)]


def pages(peer, query, most, **args):
    """The ids of a search's pages of 100, up to `most` of them."""
    ids, after = [], None
    for _ in range(most):
        data = peer.ok("SEARCH_PRODUCT", query=query, limit=100, after=after, **args)
        ids += [row[0] for row in data["rows"]]
        after = data["next"]
        if after is None:
            break
    return ids


# Words of the catalog by how many products hold them: about a quarter,
# one in twenty, one in a hundred and fifty, a handful.
COMMON, FREQUENT, SOME, RARE = WORDS[0], WORDS[30], WORDS[300], WORDS[5000]


@pytest.mark.parametrize(
    "query, store",
    [
        (COMMON, None),
        (FREQUENT, None),
        (SOME, None),
        (RARE, None),
        (f"{COMMON} {FREQUENT}", None),
        (SOME[:3], None),
        (COMMON[:2], None),
        ("b", None),
        ("b d f g k l m n", None),
        ("z", "small"),
        (FREQUENT, "small"),
        (SOME, "small"),
    ],
)
def test_pages_of_a_grown_catalog_come_in_order_and_complete(grown, query, store):
    """Every way a rank may go (walks, the index after them, a store's
    products) gives the same pages: the matches by rank and id, none twice,
    none missed."""
    market = Market(grown.url)
    try:
        args = {} if store is None else {"storename": store}
        found = pages(market.peer(), query, 3, **args)
    finally:
        market.close()
    expected = expected_order(grown.products, query, None if store is None else 2)
    assert found == expected[:300]


def test_short_words_are_looked_up_as_indexed_prefixes(grown, statements):
    """A word of one or two letters is the beginning of thousands of words;
    the index answers it from one list of its own, not from all of
    theirs."""
    market = Market(grown.url)
    try:
        found = pages(market.peer(), "b d f g k l m n", 1)
    finally:
        market.close()
    assert found == expected_order(grown.products, "b d f g k l m n")[:100]
    engine = create_engine(grown.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # FTS5's prefix indexes of one and two characters.
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'product_search'"
                ).scalar_one()
                assert "prefix='1 2'" in ddl, ddl
                return
    finally:
        engine.dispose()
    queries = [p for s in statements for p in s.params if isinstance(p, str) and "&" in p]
    assert queries, "the index was never asked"
    # Beginnings as 'b*', the index's own term; never 'b':*.
    assert all(":*" not in query for query in queries), queries
    assert any("'b*' & 'd*'" in query for query in queries), queries


# --- one address searching without end ---------------------------------------------------

Job = namedtuple("Job", "db desc deferred call")


class Held:
    """Every database job waits, in the order handed in (whichever database
    it is for), until the test runs it."""

    def __init__(self):
        self.jobs = []

    def submit(self, db, desc, func, args, kwargs, write, autocommit=False):
        d = defer.Deferred()
        self.jobs.append(
            Job(db, desc, d, lambda: db.run_sync(desc, func, args, kwargs, write, autocommit))
        )
        return d

    def finish(self, index=0):
        job = self.jobs.pop(index)
        try:
            result = job.call()
        except Exception:
            job.deferred.errback()
        else:
            job.deferred.callback(result)

    def finish_all(self):
        while self.jobs:
            self.finish()

    def ahead_of(self, desc):
        """The jobs waiting before the one job `desc` in its database's queue."""
        (job,) = [j for j in self.jobs if j.desc == desc]
        return [j for j in self.jobs[: self.jobs.index(job)] if j.db is job.db]


@pytest.fixture
def hold(monkeypatch):
    """hold() -> Held: from then on, every database job waits for the test."""

    def start():
        jobs = Held()

        def run(self, desc, func, *args, write=True, autocommit=False, **kwargs):
            return jobs.submit(self, desc, func, args, kwargs, write, autocommit)

        monkeypatch.setattr(InlineDatabase, "run", run)
        return jobs

    return start


def send(market, op, host, **args):
    """One request on a new connection from `host`; the connection."""
    peer = market.peer(host=host)
    peer.feed(frame(request(op, 1, **args)))
    return peer


def answer(peer):
    responses = peer.responses()
    assert len(responses) <= 1
    return responses[0] if responses else None


def test_an_address_searching_without_end_holds_up_no_other_request(market, shop, hold):
    """Four connections of one address looping the costliest search kept
    the single SQLite database thread busy: another client's requests
    waited behind their searches (p50 0.39 ms to 91 ms)."""
    add_product(shop, "apple bread cheese dates", description="eggs figs grapes honey")
    held = hold()
    flood = [send(market, "SEARCH_PRODUCT", FLOODER, query=LETTERS) for _ in range(4)]
    victim = send(market, "LIST_PRODUCT", "10.7.7.7", storename="shop")
    assert held.ahead_of("LIST_PRODUCT") == []
    held.finish_all()
    assert answer(victim)["status"] == 200
    assert [answer(peer)["status"] for peer in flood] == [200] * 4


def test_another_address_searches_after_at_most_one_search_of_the_flood(market, shop, hold):
    add_product(shop, "apple bread cheese dates", description="eggs figs grapes honey")
    held = hold()
    flood = [send(market, "SEARCH_PRODUCT", FLOODER, query=LETTERS) for _ in range(6)]
    victim = send(market, "SEARCH_PRODUCT", "10.7.7.7", query="apple")
    searches_before = 0
    while answer(victim) is None:
        held.finish()
        searches_before += 1
    # The flood's search already running, then the victim's own.
    assert searches_before <= 2
    held.finish_all()
    assert [answer(peer)["status"] for peer in flood] == [200] * 6


# --- the search queues' bounds ------------------------------------------------------------

BUSY = "server busy searching; try again"


def share(market, threads=1, **limits):
    """Give `market` search threads with these limits (their jobs held as
    the test holds the database's)."""
    market.app.searches.stop()
    market.app.searches = inline_searches(market.url, market.clock, threads, **limits)


def test_a_full_address_queue_is_refused_with_503_and_logged(market, shop, hold, logged):
    add_product(shop, "apple pie")
    share(market, queue_per_address=2)
    held = hold()
    waiting = [send(market, "SEARCH_PRODUCT", FLOODER, query="apple") for _ in range(3)]
    refused = answer(send(market, "SEARCH_PRODUCT", FLOODER, query="apple"))
    assert (refused["status"], refused["message"]) == (503, BUSY)
    assert refused["error"] == {"code": "unavailable"}
    assert any(FLOODER in line and "search queue full" in line for line in texts(logged))
    # Other addresses still get in.
    other = send(market, "SEARCH_PRODUCT", "10.7.7.7", query="apple")
    held.finish_all()
    assert [answer(peer)["status"] for peer in waiting + [other]] == [200] * 4


def test_refusals_for_searching_do_not_flood_the_log(market, shop, hold, logged):
    share(market, queue_per_address=1)
    hold()
    send(market, "SEARCH_PRODUCT", FLOODER, query="apple")  # running
    send(market, "SEARCH_PRODUCT", FLOODER, query="apple")  # fills the queue
    for _ in range(100):
        assert answer(send(market, "SEARCH_PRODUCT", FLOODER, query="apple"))["status"] == 503
    lines = [line for line in texts(logged) if "search queue full" in line]
    assert len(lines) == 1, lines


def test_a_few_busy_addresses_cannot_fill_the_search_queue_for_everyone(market, shop, hold):
    share(market, queue=8, queue_per_address=4)
    held = hold()
    floods = [send(market, "SEARCH_PRODUCT", f"10.7.0.{i % 3}", query="apple") for i in range(12)]
    victim = send(market, "SEARCH_PRODUCT", "10.9.9.9", query="apple")
    assert answer(victim) is None  # waiting, not refused
    shed = [a for a in (answer(peer) for peer in floods) if a is not None]
    assert shed and all((a["status"], a["message"]) == (503, BUSY) for a in shed)
    held.finish_all()
    assert answer(victim)["status"] == 200


def test_one_address_uses_at_most_its_share_of_the_search_threads(market, shop, hold):
    share(market, threads=3, per_address=1)
    held = hold()
    for _ in range(4):
        send(market, "SEARCH_PRODUCT", FLOODER, query="apple")
    assert len(held.jobs) == 1
    send(market, "SEARCH_PRODUCT", "10.7.7.7", query="apple")
    assert len(held.jobs) == 2
    held.finish_all()


def test_searches_waiting_at_shutdown_are_answered(market, shop, hold):
    hold()
    running = send(market, "SEARCH_PRODUCT", FLOODER, query="apple")
    waiting = send(market, "SEARCH_PRODUCT", FLOODER, query="apple")
    market.app.searches.share.stop()
    assert answer(waiting)["status"] == 503
    assert answer(running) is None  # its transaction is the database's to finish
