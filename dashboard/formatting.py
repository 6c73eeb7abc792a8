"""Small display helpers: times in the viewer's time zone, durations, byte sizes, drawings, and text
that came from a client made safe to show inside Markdown."""

from __future__ import annotations

import io
import re
import string
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st
from PIL import Image


def viewer_timezone() -> ZoneInfo:
    """The browser's time zone when Streamlit knows it, else UTC."""
    try:
        return ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if value is None or pd.isna(value):
        return "—"
    return value.astimezone(viewer_timezone()).strftime(fmt)


def when(value: datetime | None) -> str:
    """'14:03:12' today (in the viewer's time zone), else '28 Nov 14:03'."""
    if value is None or pd.isna(value):
        return "—"
    local = value.astimezone(viewer_timezone())
    if local.date() == datetime.now(local.tzinfo).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%d %b %H:%M")


def until(value: datetime, now: datetime) -> str:
    """'14:32 (12 min left)' today (viewer's time zone), '29 Nov 09:15 (1 h 05 min left)' on another day."""
    local = value.astimezone(viewer_timezone())
    today = local.date() == now.astimezone(local.tzinfo).date()
    clock = local.strftime("%H:%M" if today else "%d %b %H:%M")
    return f"{clock} ({time_left(max(0.0, (value - now).total_seconds()))})"


def localize_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The same frame with these timestamp columns converted to the viewer's time zone."""
    frame = frame.copy()
    tz = viewer_timezone()
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(tz)
    return frame


def duration(seconds: float | None) -> str:
    """'45 s', '12 min', '1 h 05 min'; negative values read as 'ago'."""
    if seconds is None or pd.isna(seconds):
        return "—"
    ago = seconds < 0
    s = abs(int(round(seconds)))
    if s < 60:
        text = f"{s} s"
    elif s < 3600:
        text = f"{s // 60} min"
    else:
        text = f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{text} ago" if ago else text


def time_left(seconds: float | None) -> str:
    """'1 h 54 min left', 'expired 12 min ago'."""
    if seconds is None or pd.isna(seconds):
        return "—"
    if seconds >= 0:
        return f"{duration(seconds)} left"
    return f"expired {duration(-seconds)} ago"


# Every ASCII punctuation character may be backslash-escaped in CommonMark: escaped, none of them can
# start Markdown, HTML, a Streamlit directive (:red[…], :material/…:) or LaTeX ($).
_MARKDOWN_ESCAPES = str.maketrans({ch: "\\" + ch for ch in string.punctuation})
# GitHub's autolinks ("http://…", "www.…", "name@host…") ignore those escapes: an invisible word joiner
# after "://", "www" and "@" breaks them, and only there, so ordinary names copy as they read.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=(?i:www))(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """Text from a client (a username, an instruction, a user agent, an address …) escaped so that
    Markdown shows it literally: never a link, an image, HTML or formatting. Line breaks and other
    control characters become spaces."""
    value = "" if text is None else str(text)
    value = "".join(" " if ch.isspace() or not ch.isprintable() else ch for ch in value)
    value = _AUTOLINK.sub(WORD_JOINER, value)
    return value.translate(_MARKDOWN_ESCAPES)


def human_bytes(n: int | float) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def drawing_on_white(image: bytes) -> bytes:
    """Drawings are black ink on a transparent canvas: flatten onto white so they read on any theme."""
    try:
        with Image.open(io.BytesIO(image)) as picture:
            rgba = picture.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            out = io.BytesIO()
            Image.alpha_composite(white, rgba).convert("RGB").save(out, format="PNG")
            return out.getvalue()
    except Exception:  # an undecodable image is shown as stored; st.image reports what it can
        return image
