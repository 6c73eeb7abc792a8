"""Small display helpers: times in the time zone the viewer chose (UTC until they choose), always with
that zone; durations, byte sizes, drawings, and text that came from a client made safe to show inside
Markdown."""

from __future__ import annotations

import io
import re
import string
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st
from PIL import Image

TIME_ZONE_KEY = "time_zone"  # st.session_state: the zone chosen in the sidebar (an IANA name)
DEFAULT_TIME_ZONE = "UTC"


def zone_name() -> str:
    """The IANA name of the zone times are shown in: the one chosen in the sidebar, UTC by default."""
    chosen = st.session_state.get(TIME_ZONE_KEY) or DEFAULT_TIME_ZONE
    try:
        ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_TIME_ZONE
    return str(chosen)


def viewer_timezone() -> ZoneInfo:
    """The zone times are shown in (zone_name)."""
    return ZoneInfo(zone_name())


def _zone(local: datetime) -> str:
    """The zone's abbreviation at that moment ('UTC', 'CET', 'CEST'), else its offset ('+0530')."""
    abbreviation = local.strftime("%Z")
    return abbreviation if abbreviation and abbreviation[0].isalpha() else local.strftime("UTC%z")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """The time in the chosen zone; a format with a clock time gets the zone after it ('14:03:12 UTC')."""
    if value is None or pd.isna(value):
        return "—"
    local = value.astimezone(viewer_timezone())
    text = local.strftime(fmt)
    return f"{text} {_zone(local)}" if "%H" in fmt else text


def when(value: datetime | None, *, with_zone: bool = True) -> str:
    """'14:03:12 UTC' today (in the chosen zone), else '28 Nov 14:03 UTC'. Without the zone only where
    it is said next to it (a card's title: metric())."""
    if value is None or pd.isna(value):
        return "—"
    local = value.astimezone(viewer_timezone())
    clock = local.strftime("%H:%M:%S" if local.date() == datetime.now(local.tzinfo).date() else "%d %b %H:%M")
    return f"{clock} {_zone(local)}" if with_zone else clock


def time_card(label: str, value: datetime | None) -> tuple[str, str]:
    """A card's (title, value) for a time: the zone in the title ('Started (UTC)', '04 Dec 23:15'),
    where the large figure has no room for it at every width."""
    if value is None or pd.isna(value):
        return label, "—"
    return f"{label} ({_zone(value.astimezone(viewer_timezone()))})", when(value, with_zone=False)


def until(value: datetime, now: datetime) -> str:
    """'14:32 UTC (12 min left)' today (chosen zone), '29 Nov 09:15 UTC (1 h 05 min left)' another day."""
    local = value.astimezone(viewer_timezone())
    today = local.date() == now.astimezone(local.tzinfo).date()
    clock = local.strftime("%H:%M" if today else "%d %b %H:%M")
    return f"{clock} {_zone(local)} ({time_left(max(0.0, (value - now).total_seconds()))})"


def zoned(label: str) -> str:
    """A column title for times, with the zone they are in: 'Started (UTC)'."""
    return f"{label} ({zone_name()})"


def day_range(chosen: object) -> tuple[datetime | None, datetime | None]:
    """The days of a date picker as [start of the first, start of the day after the last) in the chosen
    time zone; a range still being picked (one day so far) is that day; nothing picked: (None, None)."""
    picked = [d for d in (chosen if isinstance(chosen, (tuple, list)) else [chosen]) if isinstance(d, date)]
    if not picked:
        return None, None
    zone = viewer_timezone()
    return (
        datetime.combine(min(picked), time(0), tzinfo=zone),
        datetime.combine(max(picked) + timedelta(days=1), time(0), tzinfo=zone),
    )


def localize_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The same frame with these timestamp columns converted to the chosen time zone (title their
    columns with zoned())."""
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
