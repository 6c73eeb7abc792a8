"""The enrollment app knows who is asking (issue 24, item 2), against a real `streamlit run` over its own
websocket protocol, with PostgreSQL's rate-limit rows as the witness (a name check is charged on the
address it counts):

- behind a proxy listed in FORWARDED_ALLOW_IPS (the API's setting; uvicorn under Streamlit reads it) the
  forwarded address is the client's;
- from a peer that is not listed, an X-Forwarded-For header is ignored: anyone can send one;
- with no network address (a peer on this machine), each browser is counted on its own, never one
  "unknown" that every such visitor shares (the tab's stand-in here: a raw websocket keeps nothing).
Words for staff: tests/test_dashboard_sign_in_blocks.py and words.address below."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import psycopg

from dashboard import words
from tests.streamlit_server import streamlit_app
from tests.streamlit_ws import StreamlitSocket


def name_check_subjects(db: psycopg.Connection) -> list[str]:
    rows = db.execute("SELECT subject FROM rate_limits WHERE lookups_full_at IS NOT NULL ORDER BY subject")
    return [row["subject"] for row in rows.fetchall()]


async def check_a_name(url: str, username: str, headers: dict[str, str]) -> list[str]:
    async with StreamlitSocket.connect(url, headers) as app:
        return await app.rerun(f"flow=signup&user={username}")


def run_app(db_url: str, tmp_path: Path, trusted: str) -> object:
    env = {**os.environ, "DATABASE_URL": db_url, "FORWARDED_ALLOW_IPS": trusted}
    return streamlit_app("enrollment_app/app.py", env, tmp_path / f"app-{trusted}.log")


def test_a_trusted_proxys_forwarded_address_is_the_clients(
    db_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    with run_app(db_url, tmp_path, "127.0.0.1") as url:
        drawn = asyncio.run(check_a_name(url, "fwd_fay", {"X-Forwarded-For": "203.0.113.77"}))
        assert "Sign your name" in drawn, drawn
        # A client that put its own header in front of the proxy's: the proxy's (last) entry counts.
        asyncio.run(check_a_name(url, "fwd_fred", {"X-Forwarded-For": "192.0.2.1, 198.51.100.8"}))
    assert name_check_subjects(db) == ["address 198.51.100.8", "address 203.0.113.77"]


def test_an_untrusted_peers_forwarded_header_is_ignored_and_each_browser_counts_alone(
    db_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    with run_app(db_url, tmp_path, "10.9.9.9") as url:  # the only proxy believed is elsewhere
        for username in ("spoof_sam", "spoof_sue"):
            drawn = asyncio.run(check_a_name(url, username, {"X-Forwarded-For": "203.0.113.77"}))
            assert "Sign your name" in drawn, drawn
    subjects = name_check_subjects(db)
    assert len(subjects) == 2, subjects  # two browsers (tabs), two rows: no shared "unknown"
    for subject in subjects:
        assert re.fullmatch(r"address browser [0-9a-f]{16}", subject), subject
        assert "203.0.113.77" not in subject
    browser_key = subjects[0].removeprefix("address ")
    assert words.address(browser_key).startswith("a browser on the server's own machine (no network address")
    assert "unknown" not in words.address(browser_key) + words.address(None) + words.address("")
