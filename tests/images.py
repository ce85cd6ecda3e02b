"""Images for the photo tests, honest and hostile, made here with Pillow
(nothing is downloaded)."""

import io
import struct
import zlib

from PIL import Image, ImageCms

# The GPS position an upload carries, which must not survive.
GPS = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}


def encode(image, kind, **options):
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def jpeg(size=(64, 48), colour=(200, 30, 30), **options):
    return encode(Image.new("RGB", size, colour), "JPEG", **options)


def png(size=(64, 48), mode="RGB", colour=(200, 30, 30), **options):
    return encode(Image.new(mode, size, colour), "PNG", **options)


def webp(size=(64, 48), mode="RGB", colour=(200, 30, 30), **options):
    return encode(Image.new(mode, size, colour), "WEBP", **options)


def with_gps(size=(64, 48)):
    """A JPEG whose EXIF holds a GPS position, a camera and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = GPS  # GPSInfo
    return jpeg(size, exif=exif.tobytes(), comment=b"taken at home")


def oriented(orientation=6, size=(60, 20)):
    """A JPEG stored 60 x 20, left half red and right half blue, whose EXIF
    says to show it rotated (6: 90 degrees clockwise, shown 20 x 60)."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def swapped_profile():
    """An RGB profile other than sRGB: sRGB with its red and blue
    primaries swapped (their tags' places exchanged)."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", profile[128:132])
    places = {}
    for n in range(count):
        at = 132 + 12 * n
        places[bytes(profile[at : at + 4])] = at
    red, blue = places[b"rXYZ"], places[b"bXYZ"]
    profile[red + 4 : red + 12], profile[blue + 4 : blue + 12] = (
        profile[blue + 4 : blue + 12],
        profile[red + 4 : red + 12],
    )
    return bytes(profile)


def tagged(swapped=True, colour=(200, 60, 30)):
    """An RGB PNG tagged with a colour profile: one other than sRGB, or
    sRGB itself."""
    if swapped:
        profile = swapped_profile()
    else:
        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return png(colour=colour, icc_profile=profile)


def cmyk_jpeg(colour=(255, 0, 0, 0)):
    return encode(Image.new("CMYK", (32, 32), colour), "JPEG")


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width, height):
    """A PNG of a few dozen bytes whose header claims width x height (a
    decompression bomb's header, with a token of data)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def png_bomb(side=50_000):
    return png_claiming(side, side)


def webp_frames(frames, size=(8, 8)):
    """An animated WebP (VP8X with ANMF chunks) of `frames` frames, each
    the same tiny lossless frame: a huge frame count in few bytes."""
    still = webp(size, lossless=True)
    # The VP8L chunk of the still image, to put in each frame.
    vp8l = still[12:]
    w, h = size
    anmf = (
        (0).to_bytes(3, "little") * 2
        + (w - 1).to_bytes(3, "little")
        + (h - 1).to_bytes(3, "little")
        + (100).to_bytes(3, "little")
        + b"\0"
        + vp8l
    )
    anmf_chunk = b"ANMF" + struct.pack("<I", len(anmf)) + anmf + (b"\0" if len(anmf) & 1 else b"")
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0])
    vp8x += (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    anim = b"ANIM" + struct.pack("<I", 6) + b"\0\0\0\0" + b"\0\0"
    body = b"WEBP" + vp8x + anim + anmf_chunk * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def noise(size=(100, 100)):
    """A PNG of random pixels: as large as its pixels (no compression)."""
    import os

    return encode(Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)), "PNG")


POLYGLOT_HTML = b"<html><script>alert(document.cookie)</script></html>"


def polyglot():
    """A valid PNG that is HTML too: script in a text chunk and after IEND."""
    body = png(pnginfo=_text_info(POLYGLOT_HTML.decode()))
    return body + POLYGLOT_HTML


def _text_info(text):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return info


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>1</script></svg>'
