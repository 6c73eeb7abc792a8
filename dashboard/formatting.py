"""Small display helpers: times in the viewer's time zone, durations, byte sizes, drawings."""

from __future__ import annotations

import io
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
