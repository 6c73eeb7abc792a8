"""The signature's check: its base64 test against the standard library's strict decoder, and the
bytes it keeps for the content hash."""

from __future__ import annotations

import base64
import binascii
import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.validation import base64_size, parse_drawing_step

# Valid encodings, and text made of base64's own characters, padding and a few strangers in any order.
base64_like = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()) | st.text(
    st.sampled_from("AQgw+/09=\n !-_"), max_size=24
)


@settings(max_examples=500, deadline=None)
@given(base64_like)
def test_base64_check_agrees_with_strict_decoding(text: str) -> None:
    try:
        decoded = binascii.a2b_base64(text, strict_mode=True)
        valid = len(text) % 4 == 0  # the decoder accepts unpadded text; data URLs must be padded
    except binascii.Error:
        valid = False
    prefix = b"data:image/png;base64,"
    assert base64_size(prefix + text.encode(), len(prefix)) == (len(decoded) if valid else None)


def test_content_hash_is_the_same_with_or_without_the_checked_bytes() -> None:
    drawing = parse_drawing_step(sample_drawing("hash_user", 1, flow_type="signup"))
    assert drawing.signature_bytes == drawing.signature.encode()
    copy = dataclasses.replace(drawing)  # the checked bytes are not an init field: not carried over
    assert copy.signature_bytes == b"" and copy.content_hash == drawing.content_hash
    changed = dataclasses.replace(drawing, signature=drawing.signature[:-8] + "AAAAAAAA")
    assert changed.content_hash != drawing.content_hash
