"""A checkout storm: shoppers on their own threads filling carts and checking
out until stopped, and the catalog of what they buy from; used by the fault
and backup tests, whose books tests/ledger.py then checks."""

import random
import threading
import time
from collections import Counter

from tests.live import PASSWORD, cents
from tests.server import HOST, wait_until
from tests.wire import Client, frame, request

# Live.customers() logs 40 shoppers in at once, all from the tests' one address.
# A login counts toward the address's failed-login limit while its password
# is checked, so the limit must let 40 be checked at once.
CROWD = ("--login-failures", "40")


class Catalog:
    """The products a test created: id -> (storename, productname, price,
    initial stock), and the stores' logged-in connections."""

    def __init__(self):
        self.products = {}
        self.shops = {}

    def open_shop(self, live, storename, items, code=None, inviter=None):
        """A new store with `items` [(productname, price, stock)] on sale:
        signed up with the invitation `code` of `inviter` when given, else
        written into the database (tests/seed.py)."""
        if code is None:
            conn = live.store(storename)
        else:
            conn = live.merchant(storename, code=code, inviter=inviter)
        self.shops[storename] = conn
        ids = []
        for name, price, stock in items:
            product_id = conn.ok(
                "MERCHANT_ADD_PRODUCT", productname=name, price=price, description="", stock=stock
            )["product_id"]
            self.products[product_id] = (storename, name, price, stock)
            ids.append(product_id)
        return ids

    @property
    def initial(self):
        return {pid: p[3] for pid, p in self.products.items()}

    def line(self, product_id, quantity):
        """A line as CLIENT_GET_ORDER shows it."""
        storename, name, price, _ = self.products[product_id]
        return (storename, product_id, name, price, quantity)


class Storm:
    """Shoppers, one thread and one connection each, that keep adding to
    their carts and checking out, pipelined: a batch of `batch` carts
    (CLIENT_ADD_ITEM per line, then CLIENT_CHECKOUT_ITEM) is written at
    once, then its answers read, until stop().  cart(shopper, n) gives the
    n-th cart of a shopper as {product_id: quantity}.

    A connection the server closes ends that shopper's run, unless
    `reconnect`: then it connects again to the port, logs in again and
    carries on.  Every answer is kept, per connection (`segments`), with
    its op; `cut` counts connections that ended with requests unanswered.
    """

    def __init__(self, port, shoppers, cart, batch=5, reconnect=False, reconnect_timeout=20.0):
        self.port = port
        self.shoppers = shoppers  # [(username, logged-in connection)]
        self.cart = cart
        self.batch = batch
        self.reconnect = reconnect
        self.reconnect_timeout = reconnect_timeout
        self.segments = [[] for _ in shoppers]  # per shopper: [[(op, response)] per connection]
        self.cut = 0
        self.reconnects = 0
        self.errors = []
        self.conns = [conn for _, conn in shoppers]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._orders = 0
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True, name=f"shopper-{i}")
            for i in range(len(shoppers))
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    # --- the shoppers' side ---------------------------------------------------

    def _run(self, index):
        name, conn = self.shoppers[index]
        segment = []
        self.segments[index].append(segment)
        rounds = 0
        try:
            while not self._stop.is_set():
                if conn is None:
                    conn = self._log_in_again(name)
                    if conn is None:
                        return
                    self.conns[index] = conn
                    segment = []
                    self.segments[index].append(segment)
                frames, expected = [], []
                for _ in range(self.batch):
                    for product_id, quantity in self.cart(index, rounds).items():
                        conn.next_id += 1
                        frames.append(
                            frame(
                                request(
                                    "CLIENT_ADD_ITEM",
                                    conn.next_id,
                                    product_id=product_id,
                                    quantity=quantity,
                                )
                            )
                        )
                        expected.append((conn.next_id, "CLIENT_ADD_ITEM"))
                    conn.next_id += 1
                    frames.append(frame(request("CLIENT_CHECKOUT_ITEM", conn.next_id)))
                    expected.append((conn.next_id, "CLIENT_CHECKOUT_ITEM"))
                    rounds += 1
                try:
                    conn.send_raw(b"".join(frames))
                    for request_id, op in expected:
                        response = conn.receive()
                        assert response["id"] == request_id, (request_id, response)
                        segment.append((op, response))
                        if op == "CLIENT_CHECKOUT_ITEM" and response["status"] == 200:
                            with self._lock:
                                self._orders += 1
                except TimeoutError:
                    raise AssertionError(
                        f"shopper {index}: no answer within the socket timeout"
                    ) from None
                except (ConnectionError, OSError):
                    if self._stop.is_set() and conn.sock.fileno() == -1:
                        return  # closed by stop()
                    with self._lock:
                        self.cut += 1
                    conn.close()
                    conn = None
                    if not self.reconnect:
                        return
        except BaseException as e:  # reported by the test's thread
            self.errors.append(e)

    def _log_in_again(self, name):
        """A new connection to the port, logged in as `name`; None once
        stopped.  Fails after reconnect_timeout seconds of trying."""
        deadline = time.monotonic() + self.reconnect_timeout
        while not self._stop.is_set():
            conn = None
            try:
                conn = Client(self.port, HOST, timeout=30.0)
                response = conn.call("CLIENT_LOGIN", login=name, password=PASSWORD)
            except (ConnectionError, OSError):
                pass  # refused, or closed by a process going down
            else:
                if response["status"] == 200:
                    with self._lock:
                        self.reconnects += 1
                    return conn
                assert response["status"] == 503, response
            if conn is not None:
                conn.close()
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{name}: could not log in again within {self.reconnect_timeout:g} s"
                )
            time.sleep(0.05)
        return None

    # --- the test's side --------------------------------------------------------

    @property
    def orders(self):
        """Checkouts answered 200 so far."""
        with self._lock:
            return self._orders

    def wait_for_orders(self, count, timeout=30.0, what="orders"):
        def enough():
            assert not self.errors, self.errors
            return self.orders >= count

        wait_until(enough, timeout, what=f"{count} {what}")

    def responses(self, op=None):
        return [
            r
            for shopper in self.segments
            for segment in shopper
            for answered_op, r in segment
            if op is None or answered_op == op
        ]

    def statuses(self, op=None):
        return Counter(r["status"] for r in self.responses(op))

    def answered(self):
        """{order_id: total in cents} of every checkout answered 200."""
        return {
            r["data"]["order_id"]: cents(r["data"]["total"])
            for r in self.responses("CLIENT_CHECKOUT_ITEM")
            if r["status"] == 200
        }

    def stop(self, timeout=60.0, raise_on_error=True):
        """Let every shopper finish its batch, then join; idempotent."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:  # unblock them: closing makes their reads fail
            for conn in self.conns:
                if conn is not None:
                    conn.close()
            for thread in self.threads:
                thread.join(10)
        for conn in self.conns:
            if conn is not None:
                conn.close()
        if raise_on_error:
            assert not alive, f"shoppers still running {timeout:g} s after stop: {alive}"
            assert not self.errors, self.errors


def shoppers(live, count, prefix):
    """`count` new customers, logged in on their own connections, as
    (username, connection) pairs for a Storm.  The connections are the
    storm's to close."""
    names = [f"{prefix}{i}" for i in range(count)]
    conns = live.customers(names)
    for conn in conns:
        live.connections.remove(conn)
    return list(zip(names, conns, strict=True))


def random_carts(product_ids, seed, lines=(1, 2), quantity=(1, 3)):
    """cart(shopper, n): a reproducible random cart of `lines` distinct
    products, `quantity` units each."""

    def cart(shopper, n):
        rng = random.Random(f"{seed}/{shopper}/{n}")
        chosen = rng.sample(product_ids, rng.randint(*lines))
        return {p: rng.randint(*quantity) for p in chosen}

    return cart
