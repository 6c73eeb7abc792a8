"""Drawings are checked by decoding (enrollment_core.images), in the save and in the staff drill-down:
the bytes must open as the type the data URL claims, within the pixel limit read from the header,
and a stored image that cannot be shown becomes a reason, never an exception or a huge decode."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import psycopg
import pytest
from PIL import Image, ImageFile
from psycopg.types.json import Jsonb

from enrollment_core import images, monitoring
from enrollment_core.sample_drawings import sample_drawing


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


DRAWING = Image.new("RGBA", (700, 500), (0, 0, 0, 0))  # a phone's 2x export of the 350 x 250 pad
BOMB = encoded(Image.new("1", (9000, 9000)), "PNG")
NOISE_JPEG = encoded(Image.effect_noise((400, 300), 64).convert("RGB"), "JPEG")
# A PNG whose chunks and CRCs are all in order but whose compressed pixels are garbage.
GARBLED_PIXELS = (
    b"\x89PNG\r\n\x1a\n"
    + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100, 50, 8, 0, 0, 0, 0))
    + png_chunk(b"IDAT", b"this is not zlib data at all")
    + png_chunk(b"IEND", b"")
)


@pytest.mark.parametrize("kind, fmt", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_each_kind_is_accepted_at_the_pads_size(kind: str, fmt: str) -> None:
    data = encoded(DRAWING if fmt != "JPEG" else DRAWING.convert("RGB"), fmt)
    assert images.check(kind, data) == images.ImageInfo(kind, 700, 500)


@pytest.mark.parametrize(
    "kind, data, reason",
    [
        ("png", BOMB, "9000 x 9000 pixels; at most 350,000"),
        ("png", encoded(Image.new("L", (701, 500)), "PNG"), "701 x 500 pixels"),
        ("png", b"\x89PNG\r\n\x1a\n" + b"<html><body>not an image</body></html>" * 3, "not a PNG image"),
        ("jpeg", b"\xff\xd8\xff\xe0" + b"<html>hello</html>" * 5, "not a JPEG image"),
        ("webp", b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(64), "not a WebP image"),
        ("jpeg", encoded(DRAWING, "PNG"), "says image/jpeg"),  # a real PNG labelled JPEG
        ("png", encoded(DRAWING, "PNG")[:-30], "PNG data is corrupt"),  # truncated
        ("jpeg", NOISE_JPEG[: len(NOISE_JPEG) // 2], "JPEG data is corrupt"),  # truncated
    ],
)
def test_what_is_not_the_claimed_image_or_too_large_is_refused(kind: str, data: bytes, reason: str) -> None:
    with pytest.raises(images.ImageProblem, match=reason):
        images.check(kind, data)


PNG = encoded(DRAWING, "PNG")
STRUCTURE_CASES = [
    (PNG, None),
    (PNG + b"<html><script>alert(1)</script></html>", "followed by 38 other bytes"),  # a polyglot
    (PNG[:33] + b"<html><body>hello</body></html>" * 4, "chunks do not add up"),  # IHDR, then HTML
    (PNG[:-12], "ends before its IEND"),  # IEND cut off
    (PNG[:33] + png_chunk(b"IEND", b""), "holds no image data"),
    (PNG[:33] + png_chunk(b"tEXt", b"a\x00b") * 300 + PNG[33:], "more than 256 chunks"),
]


@pytest.mark.parametrize("data, problem", STRUCTURE_CASES)
def test_a_png_is_walked_chunk_by_chunk_from_its_base64(data: bytes, problem: str | None) -> None:
    """The save reads the chunk headers where they lie in the base64 text, and agrees with the check
    of the decoded bytes."""
    text = base64.b64encode(data)
    for check in (lambda: images.check("png", data), lambda: images.check_base64("png", text, len(data))):
        if problem is None:
            assert check() == images.ImageInfo("png", 700, 500)
        else:
            with pytest.raises(images.ImageProblem, match=problem):
                check()


def test_the_save_check_reads_chunks_and_the_screen_check_decodes() -> None:
    """The save's check is bounded (no pixel decoding); the staff screen decodes fully, so garbage
    behind valid chunks is caught there, as a reason to show."""
    assert images.check("png", GARBLED_PIXELS).width == 100
    with pytest.raises(images.ImageProblem, match="PNG data is corrupt"):
        images.read_data_url("data:image/png;base64," + base64.b64encode(GARBLED_PIXELS).decode())


def test_nothing_over_the_limit_is_ever_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        loaded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    url = "data:image/png;base64," + base64.b64encode(BOMB).decode()
    with pytest.raises(images.ImageProblem, match="9000 x 9000"):
        images.read_data_url(url)
    assert loaded == []
    images.read_data_url("data:image/png;base64," + base64.b64encode(encoded(DRAWING, "PNG")).decode())
    assert loaded == [(700, 500)]


def store_step(db: psycopg.Connection, signature_data: str) -> str:
    """A session whose one step holds this image, written as another writer would (no checks)."""
    step = sample_drawing("stored_sam", 1)
    session_id = "sess_" + "S" * 32
    enrollment = db.execute(
        "INSERT INTO temp_enrollments (session_id, username, flow_type) VALUES (%s, 'stored_sam', 'signup')"
        " ON CONFLICT (session_id) DO UPDATE SET updated_at = NOW() RETURNING id",
        (session_id,),
    ).fetchone()
    db.execute("DELETE FROM temp_enrollment_steps WHERE enrollment_id = %s", (enrollment["id"],))
    db.execute(
        "INSERT INTO temp_enrollment_steps (enrollment_id, step_number, step_type, instruction,"
        " signature_data, raw_data, metrics) VALUES (%s, 1, 'signature', 'Sign', %s, %s, %s)",
        (enrollment["id"], signature_data, Jsonb(step.raw), Jsonb(step.metrics)),
    )
    return session_id


@pytest.mark.parametrize(
    "signature_data, problem",
    [
        ("data:image/png;base64," + base64.b64encode(BOMB).decode(), "9000 x 9000 pixels"),
        (
            "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n<html>x</html>").decode(),
            "not a PNG",
        ),
        (
            "data:image/webp;base64," + base64.b64encode(b"RIFF\x00\x00\x00\x00WAVE" + bytes(40)).decode(),
            "WebP",
        ),
        ("data:image/png;base64," + base64.b64encode(GARBLED_PIXELS).decode(), "corrupt"),
        ("data:image/png;base64,%%%not-base64", "base64"),
        ("data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", "image/svg+xml is not one of"),
    ],
)
def test_the_drill_down_shows_a_reason_instead_of_a_bad_stored_image(
    db: psycopg.Connection, signature_data: str, problem: str
) -> None:
    detail = monitoring.session_detail(db, store_step(db, signature_data))
    assert detail is not None
    step = detail.steps[0]
    assert step.image is None and step.image_mime is None
    assert step.image_problem and problem in step.image_problem
    assert step.image_problem.startswith("The drawing cannot be shown: ")


def test_the_drill_down_shows_a_good_image(db: psycopg.Connection) -> None:
    signature = sample_drawing("stored_sam", 1).signature
    step = monitoring.session_detail(db, store_step(db, signature)).steps[0]  # type: ignore[union-attr]
    assert step.image_problem is None and step.image_mime == "image/png"
    assert step.image == base64.b64decode(signature.split(",", 1)[1])


def test_an_enrolled_drawing_that_cannot_be_read_says_why(db: psycopg.Connection) -> None:
    """The People page's enrolled signatures: a bad stored image gives the reason, a good one its bytes."""
    user_id = db.execute(
        "INSERT INTO users (username, enrollment_session_id) VALUES ('stored_una', 'sess_x') RETURNING id"
    ).fetchone()["id"]
    good = sample_drawing("stored_una", 1).signature
    for step, data in ((1, good), (2, "data:image/png;base64," + base64.b64encode(BOMB).decode())):
        db.execute(
            "INSERT INTO user_enrolled_drawings (user_id, step_number, step_type, instruction, "
            " signature_data, captured_at) VALUES (%s, %s, 'signature', 'Sign', %s, now())",
            (user_id, step, data),
        )
    first, second = monitoring.enrolled_drawings(db, user_id)
    assert first.image == base64.b64decode(good.split(",", 1)[1]) and first.image_problem is None
    assert second.image is None and second.image_problem and "pixels" in second.image_problem
