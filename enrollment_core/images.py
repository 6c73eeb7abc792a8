"""Image inspection, one place for the save (validation) and the staff screens (monitoring).

A drawing arrives as a base64 data URL that claims a type (PNG, JPEG or WebP). Its bytes are opened by
Pillow as that type only, its size is read from the header, and nothing over MAX_PIXELS is ever
decoded: a 10 kB PNG can claim 9000 x 9000 pixels, which would take 1.5 GB to decode.

- check(kind, data): what the save affords (~25 us for a phone's 13 kB PNG): the header, the
  dimensions and a bounded verify (PNG: every chunk's CRC; JPEG: a decode at 1/8 scale; WebP: a full
  decode, which the pixel limit bounds). A PNG header followed by HTML, or a WAVE file labelled WebP,
  fails here.
- read_data_url(url): what a screen that shows the image needs: all of that, then a full decode.
Both say what is wrong in plain words (ImageProblem), for a person, never with an exception's type.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

# The enrollment pad's canvas is 350 x 250 CSS pixels; a phone exports it at its pixel density (2x:
# 700 x 500). 4 x the canvas area admits that export and nothing that needs much memory to decode
# (350,000 RGBA pixels are 1.4 MB).
PAD_CANVAS_AREA = 350 * 250
MAX_PIXELS = 4 * PAD_CANVAS_AREA

# data URL type -> Pillow's format name (Pillow opens the bytes as this format only), and the name
# people know it by.
KINDS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
_DATA_URL = re.compile(r"^data:image/([a-z0-9.+-]+);base64,", re.ASCII)


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


def check(kind: str, data: bytes, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Check that `data` is a `kind` image (png, jpeg, webp) within max_pixels, without decoding the
    pixels of a PNG; raise ImageProblem otherwise."""
    return _inspect(kind, data, max_pixels, full_decode=False)


def read_data_url(url: object, *, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """The image of a stored data URL, decoded in full (so a screen can show it), within max_pixels;
    raise ImageProblem with the reason when it cannot be shown."""
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
    return DecodedImage(_inspect(kind, data, max_pixels, full_decode=True), data)


def _inspect(kind: str, data: bytes, max_pixels: int, *, full_decode: bool) -> ImageInfo:
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
                elif kind == "png":
                    image.verify()  # every chunk's CRC, up to IEND; no decompression
                elif kind == "jpeg":
                    image.draft("L", (max(1, width // 8), max(1, height // 8)))  # decodes at 1/8 scale
                    image.load()
                else:
                    image.load()  # WebP has no cheaper check; the pixel limit bounds this
            except Exception as exc:  # truncated, bad CRC, bad compressed data...
                raise ImageProblem(f"its {name} data is corrupt ({_plain(exc)})") from None
    return ImageInfo(kind, width, height)


def _plain(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:120] if text else "unreadable"
