"""Image inspection, one place for the save (validation) and the staff screens (monitoring).

A drawing arrives as a base64 data URL that claims a type (PNG, JPEG or WebP). Its bytes are opened by
Pillow as that type only, its size is read from the header, and nothing over MAX_PIXELS is ever
decoded: a 10 kB PNG can claim 9000 x 9000 pixels, which would take 1.5 GB to decode.

- check_base64(kind, text, size): what the save affords, on the base64 text itself. A PNG (nearly
  every drawing) is walked chunk by chunk, each chunk header decoded from the base64 where it lies
  (~10 us instead of decoding all ~25 kB): the signature, IHDR first, then chunks that add up to
  exactly the data, ending with IEND; Pillow then reads the header (the bytes before the first IDAT).
  So a PNG header followed by HTML, or a PNG with something appended after IEND, is refused. JPEG and
  WebP are decoded from base64 and checked by Pillow: the header, then a bounded decode (JPEG at 1/8
  scale; WebP in full, which the pixel limit bounds).
- read_data_url(url): what a screen that shows the image needs: the same checks, then a full decode.
Both say what is wrong in plain words (ImageProblem), for a person, never with an exception's type.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

# The enrollment pad's canvas is 350 x 250 CSS pixels; a phone exports it at its pixel density (2x:
# 700 x 500). 4 x the canvas area admits that export and nothing that needs much memory to decode
# (350,000 RGBA pixels are 1.4 MB).
PAD_CANVAS_AREA = 350 * 250
MAX_PIXELS = 4 * PAD_CANVAS_AREA
# A canvas export has a handful of chunks (IDATs of 64 kB at most up to the size limit: under 20).
MAX_PNG_CHUNKS = 256

# data URL type -> Pillow's format name (Pillow opens the bytes as this format only), and the name
# people know it by.
KINDS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
_DATA_URL = re.compile(r"^data:image/([a-z0-9.+-]+);base64,", re.ASCII)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# read(offset, length) -> the image's bytes there (fewer at its end).
Reader = Callable[[int, int], bytes]


class ImageProblem(ValueError):
    """Why these bytes are not an image that can be stored or shown; str() is the reason in plain words
    ("it is 9000 x 9000 pixels; ..."), to follow the field's name."""


@dataclass(frozen=True)
class ImageInfo:
    kind: str  # png, jpeg or webp
    width: int
    height: int

    @property
    def mime(self) -> str:
        return f"image/{self.kind}"


@dataclass(frozen=True)
class DecodedImage:
    info: ImageInfo
    data: bytes  # the image file's bytes, as stored (decoded from base64)


def check_base64(
    kind: str, text: bytes | memoryview, size: int, *, max_pixels: int = MAX_PIXELS
) -> ImageInfo:
    """Check the image in `text`, strict and padded base64 of `size` bytes (validation checked it), as
    described above; raise ImageProblem otherwise."""
    if kind != "png":
        return check(kind, binascii.a2b_base64(text), max_pixels=max_pixels)

    def read(offset: int, length: int) -> bytes:
        # Base64 maps each 3 bytes to 4 characters: decode only the characters around the window.
        first, last = offset // 3 * 4, -(-(offset + length) // 3) * 4
        return binascii.a2b_base64(text[first:last])[offset % 3 : offset % 3 + length]

    return _check_png(read, size, max_pixels)


def check(kind: str, data: bytes, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """check_base64 for bytes already decoded."""
    if kind == "png":
        return _check_png(_bytes_reader(data), len(data), max_pixels)
    return _open(kind, data, max_pixels, full_decode=False)


def read_data_url(url: object, *, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """The image of a stored data URL, checked and decoded in full (so a screen can show it), within
    max_pixels; raise ImageProblem with the reason when it cannot be shown."""
    if not isinstance(url, str):
        raise ImageProblem("it is not a data URL")
    match = _DATA_URL.match(url)
    if match is None:
        raise ImageProblem("it is not a base64 image data URL (data:image/png;base64,...)")
    kind = match.group(1)
    if kind not in KINDS:
        raise ImageProblem(f"its type image/{kind} is not one of PNG, JPEG or WebP")
    try:
        data = base64.b64decode(url[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise ImageProblem("its base64 data is not valid") from None
    if kind == "png":
        _png_first_idat(_bytes_reader(data), len(data))  # nothing appended, nothing missing
    return DecodedImage(_open(kind, data, max_pixels, full_decode=True), data)


def _bytes_reader(data: bytes) -> Reader:
    view = memoryview(data)
    return lambda offset, length: bytes(view[offset : offset + length])


def _check_png(read: Reader, size: int, max_pixels: int) -> ImageInfo:
    """The PNG's chunks, then Pillow on its header: the bytes before the first IDAT."""
    return _open("png", read(0, _png_first_idat(read, size)), max_pixels, full_decode=False)


def _png_first_idat(read: Reader, size: int) -> int:
    """Walk the chunks: the signature, IHDR first, chunk lengths that add up to exactly `size` bytes,
    ending with IEND, at least one IDAT. Return where the first IDAT's data begins: the bytes before it
    are all Pillow needs to read the header."""
    if read(0, 8) != PNG_SIGNATURE:
        raise ImageProblem("it says image/png but its bytes are not a PNG image")
    offset, first_idat = 8, 0
    for number in range(1, MAX_PNG_CHUNKS + 1):
        head = read(offset, 8)
        if len(head) < 8:
            raise ImageProblem("its PNG data is corrupt (it ends before its IEND chunk)")
        length, kind = struct.unpack(">I4s", head)
        if number == 1 and kind != b"IHDR":
            raise ImageProblem("it says image/png but its bytes are not a PNG image")
        if not kind.isalpha() or offset + 12 + length > size:
            raise ImageProblem("its PNG data is corrupt (its chunks do not add up)")
        if kind == b"IDAT" and not first_idat:
            first_idat = offset + 8
        offset += 12 + length
        if kind == b"IEND":
            if not first_idat:
                raise ImageProblem("its PNG data is corrupt (it holds no image data)")
            if offset != size:
                raise ImageProblem(f"its PNG data is followed by {size - offset:,} other bytes")
            return first_idat
    raise ImageProblem(f"its PNG data has more than {MAX_PNG_CHUNKS} chunks")


def _open(kind: str, data: bytes, max_pixels: int, full_decode: bool) -> ImageInfo:
    """Pillow on `data` as `kind` only: the header and the pixel limit, then (full_decode) every pixel,
    or for JPEG and WebP the bounded decode that stands for a verify."""
    format_name, name = KINDS[kind], _NAMES[kind]
    # Pillow warns (and past twice its own limit, raises) about large images; ours is far lower, and
    # is checked from the header before any decoding.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[format_name])
        except Exception:  # Pillow raises many types for unreadable bytes; all mean this
            raise ImageProblem(f"it says image/{kind} but its bytes are not a {name} image") from None
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageProblem(
                    f"it is {width} x {height} pixels; at most {max_pixels:,} pixels are accepted"
                )
            try:
                if full_decode:
                    image.load()
                elif kind == "jpeg":
                    image.draft("L", (max(1, width // 8), max(1, height // 8)))  # decodes at 1/8 scale
                    image.load()
                elif kind == "webp":
                    image.load()  # WebP has no cheaper check; the pixel limit bounds this
            except Exception as exc:  # truncated, bad compressed data...
                raise ImageProblem(f"its {name} data is corrupt ({_plain(exc)})") from None
    return ImageInfo(kind, width, height)


def _plain(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:120] if text else "unreadable"
