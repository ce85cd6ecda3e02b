"""A customer's cart as stored: one row per product in it (cart_lines).
Checkout, which empties it into an order, is cybermarket/storage/orders.py.

Every function runs inside a transaction on a database thread (txn:
storage.txn.Txn) and returns plain values; money in whole cents.
"""

from typing import Any

from cybermarket.storage import photos
from cybermarket.storage.txn import Query, Txn

# One statement adds to the line or creates it, and only for a product on
# the shelf, and only within the line's cap; 0 rows changed means one of
# those failed, and DIAGNOSE tells which.
ADD = Query(
    "INSERT INTO cart_lines (client_id, product_id, quantity)"
    " SELECT ?, id, ? FROM products WHERE id = ? AND on_shelf"
    " ON CONFLICT (client_id, product_id) DO UPDATE"
    " SET quantity = cart_lines.quantity + excluded.quantity"
    " WHERE cart_lines.quantity + excluded.quantity <= ?"
)
DIAGNOSE = Query("SELECT on_shelf FROM products WHERE id = ?")
REMOVE = Query("DELETE FROM cart_lines WHERE client_id = ? AND product_id = ?")
ITEMS = Query(
    "SELECT m.storename, p.id, p.productname, p.price_cents, c.quantity, p.on_shelf, p.stock,"
    f" {photos.path_of('p.id')}"
    " FROM cart_lines c JOIN products p ON p.id = c.product_id"
    " JOIN merchants m ON m.id = p.merchant_id"
    " WHERE c.client_id = ? ORDER BY p.id"
)
PRICES = Query(
    "SELECT p.price_cents, c.quantity FROM cart_lines c"
    " JOIN products p ON p.id = c.product_id WHERE c.client_id = ?"
)


def add_txn(txn: Txn, customer: int, product_id: int, quantity: int, most: int) -> bool:
    """Add `quantity` units of a product on the shelf to the cart, within
    `most` units in its line; False when the product is not on sale or the
    line would pass `most` (on_shelf_txn tells which).  One statement that
    alone writes, all-or-nothing: the request may run in autocommit."""
    txn.one_statement()
    return txn.run(ADD, customer, quantity, product_id, most) == 1


def on_shelf_txn(txn: Txn, product_id: int) -> bool:
    """Whether the product exists and is on the shelf."""
    return bool(txn.value(DIAGNOSE, product_id))


def remove_txn(txn: Txn, customer: int, product_id: int) -> bool:
    """Take the product's line out of the cart; whether it was there."""
    return txn.run(REMOVE, customer, product_id) == 1


def items_txn(txn: Txn, customer: int) -> list[tuple[Any, ...]]:
    """The cart's lines by product id: (storename, product_id,
    productname, price_cents, quantity, on_shelf, stock, photo path)."""
    return txn.rows(ITEMS, customer)


def total_cents_txn(txn: Txn, customer: int) -> int:
    """The cart's total at today's prices.  Summed in Python: exact
    whatever the sizes, where SQL would overflow."""
    return sum(price * quantity for price, quantity in txn.rows(PRICES, customer))
