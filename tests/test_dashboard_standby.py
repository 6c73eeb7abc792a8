"""The dashboard reading from another server (DASHBOARD_READ_URL, a hot standby in deployments): the
pages read there, writes stay on DATABASE_URL, and the sidebar says how old the figures may be. The real
standby is in tests/test_cluster.py; here the read URL is the test's own database (a primary), which the
words must call current."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dashboard import data, standby
from enrollment_core.monitoring.standby import Staleness, staleness
from tests.test_dashboard_app import captions, signed_in_app


@pytest.fixture
def read_elsewhere(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DASHBOARD_READ_URL", db_url)
    monkeypatch.setenv("DASHBOARD_BACKGROUND_CLEANUP", "0")
    data.close_service()
    yield db_url
    data.close_service()  # closes both pools before the database is dropped


def test_the_sidebar_says_where_the_figures_come_from(
    read_elsewhere: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_app(monkeypatch)
    assert "Figures are read from the main database: they are current." in captions(at)
    assert not at.exception


def test_without_a_read_url_the_sidebar_says_nothing_of_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("DASHBOARD_READ_URL", raising=False)
    monkeypatch.setenv("DASHBOARD_BACKGROUND_CLEANUP", "0")
    data.close_service()
    try:
        at = signed_in_app(monkeypatch)
        assert not [c for c in captions(at) if "Figures are read from" in c]
    finally:
        data.close_service()


def test_a_primary_reads_as_no_standby(db_url: str, settings, service) -> None:
    assert staleness(service.pool) == Staleness(False, False, 0.0, None)


@pytest.mark.parametrize(
    ("lag", "words"),
    [
        (Staleness(True, True, 0.0, None), "up to date with the main one (under 1 s behind)"),
        (
            Staleness(True, True, 42.4, datetime(2026, 12, 5, 9, 30, 5, tzinfo=UTC)),
            "about 42 s behind the main one",
        ),
        (
            Staleness(True, False, 900.0, datetime(2026, 12, 5, 9, 30, 5, tzinfo=UTC)),
            "not receiving changes now",
        ),
    ],
)
def test_the_staleness_in_words(lag: Staleness, words: str) -> None:
    assert words in standby.describe(lag)
