"""Product photos as they come in: hostile bytes, made into two clean
images (protocol 1.3, "Product photos").

Pure functions, run on the photo pool's threads (photopool.py), never on
the reactor.  An upload goes through these steps, and each refusal is
ImageRefused (400 invalid_argument, field photo):

1. probe(): the format and the size read from the bytes' own header, by
   this module's code and not Pillow's, before Pillow sees anything, in
   a bounded number of steps (the upload endpoint runs it on the reactor,
   so that a hostile header is refused without waiting for a thread).  Only
   JPEG, PNG and WebP are known (by their signatures, never by a name or a
   Content-Type: an SVG, a GIF or HTML is none of them).  The pixels and
   each side are held to the contract's bounds here, and an animation to
   MAX_FRAMES frames: a decompression bomb (a small PNG that claims
   50,000 x 50,000) is refused having cost a few bytes of parsing.
   Pillow's own bomb limit (Image.MAX_IMAGE_PIXELS) is process-wide and
   not the contract's, so it is not what decides.
2. A PNG must be whole (whole_png()): every chunk's CRC right, the image
   data's zlib stream complete, and IEND present, as Pillow alone does not
   ask (it decodes the pixels of a PNG cut short or with a wrong CRC, and
   stops reading at the last pixel).  Bytes after IEND are allowed (a
   polyglot is accepted and served re-encoded, step 5).  One pass over the
   bytes, in bounded memory, on the photo pool's thread.
3. Pillow opens the bytes lazily (formats limited to the three), and the
   size it read is checked again, before load(): a header the probe read
   one way and Pillow another is held to the same bounds.
4. load() decodes the first frame; a truncated or corrupt image fails here
   (ImageFile.LOAD_TRUNCATED_IMAGES stays off).  A large JPEG is decoded
   already scaled down (draft), which costs a fraction of the memory.
5. The EXIF orientation is applied; colours go to sRGB through the image's
   ICC profile (CMYK too); 16-bit greyscale is brought to 8 bits.
6. Two sizes, each fitting its box and never enlarged, are drawn on fresh
   images, which carry no metadata at all (EXIF, GPS, XMP, comments,
   profiles), and encoded as WebP, or JPEG where Pillow has no WebP.
   Their bytes are never the upload's: a file that is both an image and
   HTML comes out as an image only.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageFile, ImageOps, features

# The contract's bounds (1.3): exactly these are accepted.
MAX_PIXELS = 40_000_000
MAX_SIDE = 10_000
# An animated PNG or WebP is kept as its first frame; more frames than
# this are refused, so that a file of a million tiny frames is not walked.
MAX_FRAMES = 100
# Header parts (PNG chunks before the image data, JPEG segments before the
# frame header) walked at most: real files have a few dozen.  So probe()
# costs at most this many steps, whatever the bytes, and can run on the
# reactor.
MAX_PARTS = 1000
# The boxes the two sizes fit in (contract: at least these two).
THUMB = 400
LARGE = 1600
SIZES = {"thumb": THUMB, "large": LARGE}

WEBP = features.check("webp")
QUALITY = 82

# What a truncated image does: fail, never come out half grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow warns of what it reads in hostile files (corrupt EXIF, tags past
# the end, its own bomb limit): a line in the log for each would let
# uploads write the log.  What decides is this module's bounds and its
# refusals.  Set once, at import: warnings.catch_warnings() around each
# decode would race between threads.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_SRGB = ImageCms.createProfile("sRGB")


class ImageRefused(ValueError):
    """Not a whole JPEG, PNG or WebP within the bounds; says why (for the
    log, not for the client: the answer is the contract's one message)."""


@dataclass(frozen=True)
class Probe:
    format: str  # JPEG, PNG or WEBP
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Photo:
    """What is kept of an upload: its digest (which names its path) and
    the two sizes."""

    digest: str
    thumb: Encoded
    large: Encoded


# --- 1. the header ---------------------------------------------------------


def probe(data: bytes) -> Probe:
    """The format, size and frame count the bytes claim, held to the
    bounds; ImageRefused otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        found = _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        found = _jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = _webp(data)
    else:
        raise ImageRefused("not a JPEG, PNG or WebP")
    check_size(found.width, found.height)
    if found.frames > MAX_FRAMES:
        raise ImageRefused(f"{found.frames} frames")
    return found


def check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageRefused("no pixels")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageRefused(f"a side of {max(width, height)} pixels")
    if width * height > MAX_PIXELS:
        raise ImageRefused(f"{width} x {height} pixels")


def _png(data: bytes) -> Probe:
    # IHDR comes first; an acTL (animation) chunk, if any, before IDAT.
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ImageRefused("PNG without its header")
    width, height = struct.unpack(">II", data[16:24])
    frames = 1
    at = 8
    for _ in range(MAX_PARTS):
        if at + 8 > len(data):
            break
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"acTL" and length >= 8 and at + 12 <= len(data):
            (frames,) = struct.unpack(">I", data[at + 8 : at + 12])
        if kind in (b"IDAT", b"IEND"):
            break
        at += 12 + length
    else:
        raise ImageRefused(f"more than {MAX_PARTS} chunks before the image data")
    return Probe("PNG", width, height, frames)


# The SOF markers: every frame header that carries the image's size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> Probe:
    at = 2
    for _ in range(MAX_PARTS):
        if at + 4 > len(data):
            break
        if data[at] != 0xFF:
            raise ImageRefused("JPEG markers out of step")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF:
            if at + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return Probe("JPEG", width, height, 1)
        if marker in (0xD9, 0xDA) or length < 2:  # end, or the scan before a frame
            break
        at += 2 + length
    else:
        raise ImageRefused(f"more than {MAX_PARTS} segments before the frame header")
    raise ImageRefused("JPEG without a frame header")


def _webp(data: bytes) -> Probe:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return Probe("WEBP", width & 0x3FFF, height & 0x3FFF, 1)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return Probe("WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return Probe("WEBP", width, height, _webp_frames(data))
    raise ImageRefused("WebP without a frame header")


def _webp_frames(data: bytes) -> int:
    """ANMF chunks at the top level (an animation's frames), counted only
    up to MAX_FRAMES + 1; a still image has none and counts one."""
    frames = 0
    at = 12
    while at + 8 <= len(data) and frames <= MAX_FRAMES:
        kind = data[at : at + 4]
        (length,) = struct.unpack("<I", data[at + 4 : at + 8])
        if kind == b"ANMF":
            frames += 1
        at += 8 + length + (length & 1)
    return max(frames, 1)


# --- 2. a whole PNG ---------------------------------------------------------

# PNG's colour types and their channels (IHDR's byte 9).
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# What the image data is inflated by at a time: memory, not time, is bounded.
_INFLATE_STEP = 1 << 20


def whole_png(data: bytes) -> None:
    """ImageRefused unless every chunk up to IEND is there with its CRC
    right and the image data (the IDAT chunks) is one complete zlib stream.
    The stream is inflated to check that it ends, a megabyte at a time, and
    never past twice the size the header gives the pixels: a stream that
    would inflate further (a bomb in the data) is refused there.  So the
    cost is one pass over at most --photo-max-bytes and a bounded inflate,
    whatever the number of chunks."""
    view = memoryview(data)
    width, height = struct.unpack_from(">II", data, 16)
    depth, colour, interlace = data[24], data[25], data[28]
    row = (width * _CHANNELS.get(colour, 4) * depth + 7) // 8 + 1
    # Adam7 interlacing adds a filter byte and a partial byte per row of
    # each pass: twice the plain size covers it with room to spare.
    most = 2 * height * row + 65536 if interlace else height * row + 65536
    inflate = zlib.decompressobj()
    inflated = 0
    at = 8
    while True:
        if at + 12 > len(data):
            raise ImageRefused("PNG cut short: no IEND")
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(data):
            raise ImageRefused(f"PNG cut short in a {kind!r} chunk")
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(view[at + 4 : end]) != crc:
            raise ImageRefused(f"PNG {kind!r} chunk with a wrong CRC")
        if kind == b"IDAT":
            inflated = _inflate(inflate, view[at + 8 : end], inflated, most)
        elif kind == b"IEND":
            # What the last step held back for want of room comes out now.
            inflated = _inflate(inflate, b"", inflated, most)
            if not inflate.eof:
                raise ImageRefused("PNG image data is not a whole zlib stream")
            return  # what follows IEND is not read
        at = end + 4


def _inflate(inflate: Any, pending: bytes | memoryview, inflated: int, most: int) -> int:
    """Feed `pending` to the stream a step at a time; the bytes inflated
    so far, which may not pass `most`."""
    try:
        while not inflate.eof:
            piece = inflate.decompress(pending, _INFLATE_STEP)
            inflated += len(piece)
            if inflated > most:
                raise ImageRefused("PNG image data larger than its pixels")
            pending = inflate.unconsumed_tail
            if not pending and len(piece) < _INFLATE_STEP:
                break  # all taken in, nothing held back: wants the next chunk
    except zlib.error:
        raise ImageRefused("PNG image data is not a whole zlib stream") from None
    return inflated


# --- 3 to 6: decode, clean, encode -----------------------------------------


def process(data: bytes) -> Photo:
    """The upload made into what is kept; ImageRefused for anything that
    is not a whole image within the bounds."""
    found = probe(data)
    if found.format == "PNG":
        whole_png(data)
    try:
        image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise ImageRefused(f"cannot be opened ({type(e).__name__})") from None
    with image:
        if image.format != found.format:
            raise ImageRefused(f"{found.format} read as {image.format}")
        check_size(*image.size)  # Pillow's reading of the header: before load()
        try:
            clean = _decode(image)
        except ImageRefused:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, ImageCms.PyCMSError) as e:
            raise ImageRefused(f"cannot be decoded ({type(e).__name__})") from None
    large = _encode(clean, LARGE)
    thumb = _encode(clean, THUMB)
    digest = hashlib.sha256(large.body + thumb.body).hexdigest()[:32]
    return Photo(digest, thumb, large)


def _decode(image: ImageFile.ImageFile) -> Image.Image:
    if image.format == "JPEG":
        # Decoded at 1/2, 1/4 or 1/8 while that still covers the large
        # size: a 40-megapixel JPEG never takes 40 megapixels of memory.
        # The orientation may swap the sides, so both sides must cover.
        image.draft(image.mode, (LARGE, LARGE))
    image.load()
    profile = image.info.get("icc_profile")
    oriented = ImageOps.exif_transpose(image)
    return _to_srgb(oriented, profile)


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16-bit greyscale: the top 8 bits.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    target = "RGBA" if alpha else "RGB"
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            if image.mode not in ("RGB", "RGBA", "L", "CMYK"):
                image = image.convert(target)
            if alpha and image.mode != "RGBA":
                image = image.convert("RGBA")
            converted = ImageCms.profileToProfile(
                image, source, _SRGB, outputMode=target if image.mode != "CMYK" else "RGB"
            )
            assert converted is not None  # inPlace is False
            image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a profile that cannot be read or applied: the pixels as they are
    if image.mode != target:
        image = image.convert(target)
    return image


def _encode(image: Image.Image, box: int) -> Encoded:
    width, height = image.size
    scale = min(1.0, box / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
    # A fresh image: nothing of the upload's info (EXIF, XMP, ICC,
    # comments) can ride along into the encoder.
    fresh = Image.new(resized.mode, resized.size)
    fresh.paste(resized)
    out = io.BytesIO()
    if WEBP:
        fresh.save(out, "WEBP", quality=QUALITY, method=4)
        kind = "image/webp"
    else:
        if fresh.mode == "RGBA":
            flat = Image.new("RGB", fresh.size, (255, 255, 255))
            flat.paste(fresh, mask=fresh.getchannel("A"))
            fresh = flat
        fresh.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        kind = "image/jpeg"
    return Encoded(out.getvalue(), kind, *fresh.size)
