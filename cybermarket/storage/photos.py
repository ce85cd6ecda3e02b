"""Product photos as stored (protocol 1.3): one row per product with a
photo, holding the two sizes the server made of the upload and the digest
that names their path, /photos/<product_id>/<digest>.  The statements run
inside a transaction on a database thread (txn: storage.txn.Txn) and
return plain values.

Writing a row (insert, replace, delete) moves the store's page version by
migration 0011's triggers, in the same transaction: a kept LIST_PRODUCT
page never shows an old path.  It also moves the photo version (migration
0012's one row), in the same transaction: what every process checks its
kept thumbnails against.
"""

from typing import NamedTuple

from cybermarket.storage.txn import Query, Txn

SIZES = ("thumb", "large")

OWNER = Query("SELECT merchant_id FROM products WHERE id = ?")
# One statement on both backends, insert or replace.
PUT = Query(
    "INSERT INTO photos (product_id, digest, thumb, thumb_type, thumb_width, thumb_height,"
    " large, large_type, large_width, large_height, uploaded_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (product_id) DO UPDATE SET digest = excluded.digest,"
    " thumb = excluded.thumb, thumb_type = excluded.thumb_type,"
    " thumb_width = excluded.thumb_width, thumb_height = excluded.thumb_height,"
    " large = excluded.large, large_type = excluded.large_type,"
    " large_width = excluded.large_width, large_height = excluded.large_height,"
    " uploaded_at = excluded.uploaded_at"
)
REMOVE = Query("DELETE FROM photos WHERE product_id = ?")
CHANGED = Query("UPDATE photo_version SET version = version + 1 WHERE id = 1")
VERSION = Query("SELECT version FROM photo_version WHERE id = 1")
# The size asked for only: a thumbnail's read never carries the large one.
FIND = {
    size: Query(f"SELECT {size}, {size}_type FROM photos WHERE product_id = ? AND digest = ?")
    for size in SIZES
}


class Image(NamedTuple):
    body: bytes
    content_type: str
    width: int
    height: int


def path_of(product: str) -> str:
    """SQL for the path of the photo of the product whose id is the
    expression `product`, or NULL: one primary-key look-up per row, for
    the `photo` column of the listings, search and cart."""
    return (
        "(SELECT '/photos/' || ph.product_id || '/' || ph.digest"
        f" FROM photos ph WHERE ph.product_id = {product})"
    )


def path(product_id: int, digest: str) -> str:
    return f"/photos/{product_id}/{digest}"


def owner(txn: Txn, product_id: int) -> int | None:
    """The merchant id of the product; None for no such product."""
    found: int | None = txn.value(OWNER, product_id)
    return found


def put(txn: Txn, product_id: int, digest: str, thumb: Image, large: Image, now_ms: int) -> str:
    """Keep the product's photo, replacing any it had; its path."""
    txn.run(PUT, product_id, digest, *thumb, *large, now_ms)
    txn.run(CHANGED)
    return path(product_id, digest)


def remove(txn: Txn, product_id: int) -> bool:
    """Remove the product's photo; whether it had one."""
    if txn.run(REMOVE, product_id) == 0:
        return False
    txn.run(CHANGED)
    return True


def version(txn: Txn) -> int:
    """The photo version: it has moved since an earlier read if and only
    if some photo was uploaded, replaced or removed meanwhile."""
    found: int = txn.value(VERSION)
    return found


def find(txn: Txn, product_id: int, digest: str, size: str) -> tuple[bytes, str] | None:
    """(the bytes, their type) of one size of the photo at that path; None
    for a path that is not the product's current photo."""
    row = txn.row(FIND[size], product_id, digest)
    return None if row is None else (bytes(row[0]), row[1])
