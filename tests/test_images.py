"""The photo pipeline (cybermarket/server/images.py): what comes out of an
upload, honest or hostile, with no server around it."""

import io
from unittest import mock

import pytest
from PIL import Image

from cybermarket.server import images
from cybermarket.server.images import ImageRefused, probe, process
from tests import images as make


def opened(encoded):
    image = Image.open(io.BytesIO(encoded.body))
    image.load()
    return image


def test_gps_and_every_other_piece_of_metadata_is_dropped():
    upload = make.with_gps()
    assert b"SpyCam" in upload and b"taken at home" in upload
    photo = process(upload)
    for size in (photo.thumb, photo.large):
        assert b"SpyCam" not in size.body and b"taken at home" not in size.body
        image = opened(size)
        assert not image.getexif()
        assert not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert "xmp" not in image.info


def test_the_exif_orientation_is_applied():
    photo = process(make.oriented(6))
    image = opened(photo.large).convert("RGB")
    # Stored 60 x 20 with red on the left; turned 90 degrees clockwise it
    # is 20 x 60 with red at the top.
    assert image.size == (20, 60) == (photo.large.width, photo.large.height)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 55))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_colours_are_converted_to_srgb_through_the_profile():
    colour = (200, 60, 30)
    photo = process(make.tagged(True, colour))
    image = opened(photo.large)
    assert "icc_profile" not in image.info
    # Under a profile whose red and blue primaries are swapped, the same
    # numbers meant a blue: sRGB says so with other numbers.
    red, _, blue = image.getpixel((5, 5))[:3]
    assert blue > 150 and red < 100
    # Under an sRGB profile they mean what they say.
    same = opened(process(make.tagged(False, colour)).large).getpixel((5, 5))
    assert max(abs(a - b) for a, b in zip(same[:3], colour, strict=True)) <= 6


def test_a_cmyk_jpeg_comes_out_rgb():
    image = opened(process(make.cmyk_jpeg((255, 0, 0, 0))).large)
    assert image.mode in ("RGB", "RGBA")
    red, green, blue = image.getpixel((5, 5))[:3]
    assert red < 80 and green > 180 and blue > 180  # cyan


def test_a_small_image_is_never_enlarged():
    photo = process(make.png((64, 48)))
    assert (photo.large.width, photo.large.height) == (64, 48)
    assert (photo.thumb.width, photo.thumb.height) == (64, 48)


def test_both_sizes_fit_their_boxes_and_keep_the_shape():
    photo = process(make.jpeg((3000, 1500)))
    assert (photo.large.width, photo.large.height) == (1600, 800)
    assert (photo.thumb.width, photo.thumb.height) == (400, 200)
    assert opened(photo.large).size == (1600, 800)
    assert opened(photo.thumb).size == (400, 200)
    tall = process(make.png((500, 2000)))
    assert (tall.large.width, tall.large.height) == (400, 1600)
    assert (tall.thumb.width, tall.thumb.height) == (100, 400)


def test_the_output_is_webp_or_else_jpeg():
    photo = process(make.png())
    expected = "image/webp" if images.WEBP else "image/jpeg"
    assert photo.large.content_type == photo.thumb.content_type == expected
    assert opened(photo.large).format == ("WEBP" if images.WEBP else "JPEG")


def test_without_webp_the_output_is_jpeg_with_transparency_flattened():
    with mock.patch.object(images, "WEBP", False):
        photo = process(make.png(mode="RGBA", colour=(0, 0, 0, 0)))
    assert photo.large.content_type == "image/jpeg"
    image = opened(photo.large)
    assert image.format == "JPEG"
    assert image.getpixel((3, 3))[0] > 240  # white, not black


def test_a_polyglot_is_re_encoded_so_its_script_does_not_come_back():
    upload = make.polyglot()
    assert make.POLYGLOT_HTML in upload
    Image.open(io.BytesIO(upload)).load()  # a valid image indeed
    photo = process(upload)
    for size in (photo.thumb, photo.large):
        assert b"<script" not in size.body and b"<html" not in size.body
        assert size.body != upload


@pytest.mark.parametrize(
    "upload",
    [make.SVG, b"GIF89a" + b"\0" * 40, b"<html>hello</html>", b"", b"\x89PNG\r\n\x1a\n", b"RIFF"],
    ids=["svg", "gif", "html", "empty", "png-signature-only", "riff-only"],
)
def test_anything_but_jpeg_png_or_webp_is_refused(upload):
    with pytest.raises(ImageRefused):
        process(upload)


def test_a_decompression_bomb_is_refused_from_its_header_before_pillow_opens_it():
    bomb = make.png_bomb(50_000)
    assert len(bomb) < 200
    with mock.patch.object(Image, "open", side_effect=AssertionError("opened")) as opening:
        with pytest.raises(ImageRefused, match="side"):
            process(bomb)
    assert not opening.called


def test_the_pixel_and_side_bounds_are_checked_before_load():
    # Within the sides but over 40 megapixels: 7000 x 7000 = 49 M.
    with pytest.raises(ImageRefused, match="pixels"):
        probe(make.png_claiming(7000, 7000))
    with pytest.raises(ImageRefused, match="side"):
        probe(make.png_claiming(10_001, 10))
    # Exactly the bounds are accepted.
    assert probe(make.png_claiming(10_000, 4000)).width == 10_000
    assert probe(make.png_claiming(4000, 10_000)).height == 10_000
    # And Pillow's reading is checked again before load(): a header the
    # probe read small, Pillow read big, is refused without a decode.
    with (
        mock.patch.object(images, "probe", return_value=images.Probe("PNG", 10, 10, 1)),
        mock.patch.object(images.ImageFile.ImageFile, "load", side_effect=AssertionError),
    ):
        with pytest.raises(ImageRefused, match="pixels"):
            process(make.png_claiming(7000, 7000))


def test_the_header_walk_is_bounded():
    # Thousands of tiny comment segments before the frame header, and of
    # tiny chunks before the image data: refused after MAX_PARTS steps.
    whole = make.jpeg()
    comments = b"\xff\xfe\x00\x02" * (images.MAX_PARTS + 10)
    with pytest.raises(ImageRefused, match="segments"):
        probe(whole[:2] + comments + whole[2:])
    png = make.png()
    chunks = make._chunk(b"tEXt", b"a\0b") * (images.MAX_PARTS + 10)
    with pytest.raises(ImageRefused, match="chunks"):
        probe(png[:33] + chunks + png[33:])
    # A few are fine.
    assert probe(whole[:2] + comments[:400] + whole[2:]).format == "JPEG"
    assert probe(png[:33] + chunks[:200] + png[33:]).format == "PNG"


def test_a_truncated_jpeg_is_refused():
    whole = make.jpeg((200, 200), quality=95)
    with pytest.raises(ImageRefused):
        process(whole[: len(whole) // 2])


def test_a_truncated_png_is_refused():
    whole = make.png((200, 200))
    with pytest.raises(ImageRefused):
        process(whole[: len(whole) - 30])


def test_a_webp_with_a_huge_frame_count_is_refused_before_pillow_opens_it():
    many = make.webp_frames(5000)
    with mock.patch.object(Image, "open", side_effect=AssertionError("opened")):
        with pytest.raises(ImageRefused, match="frames"):
            process(many)


def test_an_animation_within_the_bound_keeps_its_first_frame():
    photo = process(make.webp_frames(3))
    assert (photo.large.width, photo.large.height) == (8, 8)


@pytest.mark.parametrize(
    "upload",
    [
        make.png(mode="L", colour=128),
        make.png(mode="P", colour=3),
        make.png(mode="RGBA", colour=(1, 2, 3, 100)),
        make.png(mode="LA", colour=(50, 100)),
        make.png(mode="I;16", colour=40000),
        make.png(mode="1", colour=1),
        make.jpeg(progressive=True),
        make.jpeg(),
        make.cmyk_jpeg(),
        make.encode(Image.new("L", (30, 30), 90), "JPEG"),
        make.webp(),
        make.webp(lossless=True),
        make.webp(mode="RGBA", colour=(1, 2, 3, 100)),
        make.webp(mode="RGBA", colour=(1, 2, 3, 100), lossless=True),
    ],
    ids=[
        "png-grey",
        "png-palette",
        "png-rgba",
        "png-grey-alpha",
        "png-16-bit",
        "png-bilevel",
        "jpeg-progressive",
        "jpeg",
        "jpeg-cmyk",
        "jpeg-grey",
        "webp-lossy",
        "webp-lossless",
        "webp-lossy-alpha",
        "webp-lossless-alpha",
    ],
)
def test_every_common_kind_of_the_three_formats_is_accepted(upload):
    photo = process(upload)
    assert opened(photo.large).mode in ("RGB", "RGBA")


def test_transparency_is_kept_in_webp():
    photo = process(make.png(mode="RGBA", colour=(1, 2, 3, 0)))
    if images.WEBP:
        assert opened(photo.large).mode == "RGBA"


def test_a_16_bit_grey_png_keeps_its_brightness():
    image = opened(process(make.png(mode="I;16", colour=32768)).large).convert("L")
    assert 120 <= image.getpixel((3, 3)) <= 136


def test_the_digest_names_the_content():
    one, again, other = process(make.png()), process(make.png()), process(make.jpeg())
    assert one.digest == again.digest
    assert one.digest != other.digest
    assert len(one.digest) == 32 and int(one.digest, 16) >= 0


def test_the_format_is_told_by_the_bytes_not_by_anything_else():
    # A PNG whose first bytes say JPEG is no JPEG: refused, not guessed.
    with pytest.raises(ImageRefused):
        process(b"\xff\xd8\xff" + make.png()[3:])


# --- a PNG must be whole -------------------------------------------------------


def _chunks(png):
    """(offset, kind) of each chunk of a PNG."""
    at, found = 8, []
    while at + 8 <= len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        found.append((at, png[at + 4 : at + 8]))
        at += 12 + length
    return found


def _rechunk(png, pieces):
    """The same PNG with its image data cut into `pieces` IDAT chunks."""
    head = [c for c in _chunks(png) if c[1] not in (b"IDAT", b"IEND")]
    data = b"".join(
        png[at + 8 : at + 8 + int.from_bytes(png[at : at + 4], "big")]
        for at, kind in _chunks(png)
        if kind == b"IDAT"
    )
    size = -(-len(data) // pieces)
    first_idat = next(at for at, kind in _chunks(png) if kind == b"IDAT")
    assert all(at < first_idat for at, _ in head)
    parts = [make._chunk(b"IDAT", data[at : at + size]) for at in range(0, len(data), size)]
    return png[:first_idat] + b"".join(parts) + make._chunk(b"IEND", b"")


@pytest.mark.parametrize("cut", [12, *range(13, 21)])
def test_a_png_cut_short_is_refused(cut):
    # Without its IEND (12 bytes), then without the image data's CRC and
    # the end of its zlib stream too: Pillow alone decodes every pixel of
    # these, and they used to be accepted.
    whole = make.png((300, 200)) if cut == 12 else make.noise((300, 200))
    process(whole)  # whole, it is accepted
    with pytest.raises(ImageRefused):
        process(whole[:-cut])


def test_a_png_with_a_wrong_crc_is_refused():
    whole = make.png((300, 200))
    for at, _ in _chunks(whole):
        end = at + 8 + int.from_bytes(whole[at : at + 4], "big")
        bad = whole[:end] + bytes([whole[end] ^ 1]) + whole[end + 1 :]
        with pytest.raises(ImageRefused, match="CRC"):
            process(bad)


def test_a_png_whose_zlib_stream_stops_short_is_refused():
    # Every chunk whole and right, IEND last: only the image data's
    # compressed stream lacks its end (the Adler-32 checksum).
    whole = make.noise((120, 80))
    idat = next(at for at, kind in _chunks(whole) if kind == b"IDAT")
    length = int.from_bytes(whole[idat : idat + 4], "big")
    stream = whole[idat + 8 : idat + 8 + length]
    short = whole[:idat] + make._chunk(b"IDAT", stream[:-4]) + make._chunk(b"IEND", b"")
    with pytest.raises(ImageRefused, match="zlib|image data"):
        process(short)


def test_data_after_iend_is_accepted_and_not_kept():
    # The contract serves a polyglot re-encoded: the bytes after IEND are
    # allowed, and never come back.
    photo = process(make.png() + b"<html>after the end</html>")
    assert b"<html>" not in photo.large.body


def test_a_png_of_many_image_data_chunks_is_checked_in_bounded_time():
    import time

    whole = make.noise((1500, 1500))
    many = _rechunk(whole, len(whole) // 16)  # chunks of 16 bytes
    assert len(many) > 6 * 1024 * 1024
    started = time.perf_counter()
    process(many)
    assert time.perf_counter() - started < 20
    with pytest.raises(ImageRefused):
        process(many[:-13])


def test_image_data_that_inflates_past_its_pixels_is_refused_at_the_bound():
    import zlib

    # A 10 x 10 PNG whose data inflates to 50 MB: stopped near its bound.
    header = make.png_claiming(10, 10)[:33]
    bomb = zlib.compress(b"\0" * 50_000_000, 9)
    upload = header + make._chunk(b"IDAT", bomb) + make._chunk(b"IEND", b"")
    with pytest.raises(ImageRefused, match="larger than its pixels"):
        images.whole_png(upload)
