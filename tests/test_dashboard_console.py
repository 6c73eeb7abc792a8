"""The console staff need (issue 25), on a real database and as the pages show it (AppTest): people found
by part of their username, through the username trigram indexes; sessions of every kind (completed,
expired, cleaned up, archived) started in a date range; the staff log paged and filtered by who, what
and when; every time in the zone chosen in the sidebar (UTC by default), saying so; devices in words."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dashboard import devices, formatting
from enrollment_core import monitoring
from enrollment_core.queries import query
from tests import test_dashboard_app as app_tests
from tests.test_dashboard_app import add_session, captions, signed_in_app

dashboard_env = app_tests.dashboard_env  # the same fixture: this test's database, no background work

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


def add_user(db: psycopg.Connection, username: str, signup_session: str) -> None:
    db.execute(
        "INSERT INTO users (username, enrollment_session_id) VALUES (%s, %s)", (username, signup_session)
    )


def log_action(
    db: psycopg.Connection, who: str, action: str, at: datetime, target: str | None = None
) -> None:
    db.execute(
        "INSERT INTO staff_actions (staff_name, action, target, succeeded, result, acted_at) "
        "VALUES (%s, %s, %s, true, %s, %s)",
        (who, action, target, Jsonb({"removed": 1} if action == "cleanup" else {"moved": 1}), at),
    )


# ------------------------------------------------------------------ people by part of a name


def test_people_are_found_by_any_part_of_their_username_in_every_source(db) -> None:
    registered = add_session(db, username="Maria_Kowalska", status="completed", steps=11)
    add_user(db, "Maria_Kowalska", registered)
    add_session(db, username="anna.maria", steps=3)  # in the middle of a sign-up, no account
    gone = add_session(db, username="Mariam-B", steps=4, started_ago=timedelta(hours=3))
    db.execute("SELECT cleanup_expired_enrollments()")  # only its summary is left
    assert (
        db.execute("SELECT count(*) AS n FROM temp_enrollments WHERE session_id = %s", (gone,)).fetchone()[
            "n"
        ]
        == 0
    )
    add_session(db, username="bob_builder")

    found = monitoring.people_matching(db, "MARIA")
    assert list(found["username"]) == ["Maria_Kowalska", "Mariam-B", "anna.maria"]  # starting ones first
    assert list(found["has_account"]) == [True, False, False]
    assert monitoring.people_matching(db, "ria_k")["username"].tolist() == ["Maria_Kowalska"]
    assert monitoring.people_matching(db, "maria_kowalska")["username"].tolist()[0] == "Maria_Kowalska"
    # Under 3 characters: the start of a name (a 2-letter part anywhere would match half the people).
    assert monitoring.people_matching(db, "ma")["username"].tolist() == ["Maria_Kowalska", "Mariam-B"]
    assert monitoring.people_matching(db, "b")["username"].tolist() == ["bob_builder"]
    assert monitoring.people_matching(db, "nobody").empty and monitoring.people_matching(db, "  ").empty
    # LIKE's wildcards are plain characters here.
    assert monitoring.people_matching(db, "%").empty and monitoring.people_matching(db, "a_m").empty
    with pytest.raises(ValueError, match="search must be at most 255 characters"):
        monitoring.people_matching(db, "x" * 256)


def test_the_names_sessions_start_with_are_remembered_once_and_outlive_their_sessions(db) -> None:
    # Any writer of temp_enrollments (here the demo data's statement, and a bulk INSERT ... SELECT).
    add_session(db, username="Olga.K", steps=1, started_ago=timedelta(hours=3))
    add_session(db, username="OLGA.k", steps=1)
    db.execute(
        "INSERT INTO temp_enrollments (session_id, username, flow_type, expires_at) "
        "SELECT 'bulk-' || i, 'bulk_' || (i % 3), 'signup', NOW() + interval '1 hour' "
        "FROM generate_series(1, 9) AS i"
    )
    names = [r["username"] for r in db.execute("SELECT username FROM session_usernames ORDER BY 1")]
    assert names == ["bulk_0", "bulk_1", "bulk_2", "olga.k"]
    db.execute("SELECT cleanup_expired_enrollments()")  # the 3-hour-old session goes to the archive
    assert db.execute("SELECT count(*) AS n FROM session_usernames").fetchone()["n"] == 4
    # The summary is found by part of its name through the remembered name; the live one as before.
    listed = monitoring.list_sessions(db, monitoring.SessionFilter(scope="any", username="lga.")).rows
    assert sorted(zip(listed["username"], listed["summary_only"], strict=True)) == [
        ("OLGA.k", False),
        ("Olga.K", True),
    ]
    assert monitoring.people_matching(db, "lga.")["username"].tolist() == ["OLGA.k"]


def test_the_name_search_reads_the_trigram_indexes(db) -> None:
    for n in range(300):
        add_session(db, username=f"user_{n:04d}", steps=1)
    db.execute("ANALYZE temp_enrollments")
    db.execute("SET enable_seqscan = off")  # what the planner does on a large table
    plan = "\n".join(
        r["QUERY PLAN"]
        for r in db.execute(
            "EXPLAIN " + query("people_matching"), {"part": "r_0042", "candidates": 200, "limit": 20}
        ).fetchall()
    )
    assert "idx_temp_enrollments_username_grams" in plan and "idx_users_username_grams" in plan
    assert "idx_session_usernames_grams" in plan  # the summaries' names (migration 0019)
    # The grams themselves: padded starts, then every trigram, lower-cased.
    grams = db.execute("SELECT username_grams('Maria') AS g, username_search_grams('ma') AS s").fetchone()
    assert sorted(grams["g"]) == sorted(["  m", " ma", "mar", "ari", "ria"]) and grams["s"] == [" ma"]


def test_people_page_lists_the_people_matching_part_of_a_name_and_opens_the_only_one(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_session(db, username="Maria_K", steps=3)
    add_session(db, username="anna.maria", steps=2)
    add_session(db, username="Zoltan", steps=2)
    at = signed_in_app(monkeypatch, "app_pages/people.py")
    at.text_input(key="person_search").input("aria").run()
    assert not at.exception and not at.subheader  # nobody opened yet: a choice
    [matches] = [d.value for d in at.dataframe]
    assert list(matches["username"]) == ["anna.maria", "Maria_K"]
    assert list(matches["account"]) == ["No account", "No account"]
    assert any(m.value == "**People found**" for m in at.markdown)
    assert "Their usernames contain “aria”. Click a person to open them." in captions(at)

    at.text_input(key="person_search").input("zolt").run()  # only one: opened at once
    assert [s.value for s in at.subheader] == ["Zoltan"]
    assert "The only username containing “zolt”." in captions(at)

    at.text_input(key="person_search").input("Maria_K").run()  # the exact name, and the others folded
    assert [s.value for s in at.subheader][0] == "Maria\\_K"
    assert not any(e.label.startswith("Other people") for e in at.expander)  # no other contains "maria_k"
    at.text_input(key="person_search").input("maria").run()
    assert [s.value for s in at.subheader] == []  # two hold "maria", neither is it exactly
    at.text_input(key="person_search").input("nobody_like_this").run()
    assert any("Nobody is known as nobody\\_like\\_this" in i.value for i in at.info)


# ------------------------------------------------------------------ sessions of every kind


def test_sessions_of_every_kind_are_listed_within_the_days_chosen(db) -> None:
    now = datetime.now(UTC)
    live = add_session(db, username="live_one", steps=2)
    done = add_session(db, username="done_one", status="completed", steps=11, started_ago=timedelta(hours=1))
    overdue = add_session(db, username="late_one", steps=3, started_ago=timedelta(hours=3))
    cleaned = add_session(db, username="gone_one", steps=4, started_ago=timedelta(hours=5))
    old = add_session(db, username="old_one", status="completed", steps=11, started_ago=timedelta(days=20))
    archived = add_session(
        db, username="kept_one", status="completed", steps=11, started_ago=timedelta(days=2)
    )
    db.execute("UPDATE temp_enrollments SET status = 'expired' WHERE session_id = %s", (cleaned,))
    db.execute("SELECT cleanup_expired_enrollments()")  # removes the two expired ones: summaries remain
    db.execute(query("archive_completed_batch"), {"older_than_seconds": 86400, "batch_size": 100})
    week = {"started_from": now - timedelta(days=7)}

    def listed(scope: str, **extra: object) -> dict[str, str]:
        page = monitoring.list_sessions(db, monitoring.SessionFilter(scope=scope, **{**week, **extra}))  # type: ignore[arg-type]
        return dict(
            zip(
                page.rows["session_id"],
                page.rows["status"] + page.rows["summary_only"].map({True: "*", False: ""}),
            )
        )

    assert listed("completed") == {done: "completed", archived: "completed*"}
    assert listed("expired") == {overdue: "expired*", cleaned: "expired*"}
    assert listed("any") == {
        live: "in_progress",
        done: "completed",
        archived: "completed*",
        overdue: "expired*",
        cleaned: "expired*",
    }
    assert old not in listed("completed")  # 20 days ago: outside the last 7 days
    assert listed("completed", started_from=now - timedelta(days=30))[old] == "completed*"  # archived
    everything = monitoring.list_sessions(
        db, monitoring.SessionFilter(scope="any", started_from=now - timedelta(days=30))
    )
    assert old in set(everything.rows["session_id"]) and everything.total_matching == 6
    assert list(everything.rows["created_at"]) == sorted(everything.rows["created_at"], reverse=True)
    oldest = monitoring.list_sessions(db, monitoring.SessionFilter(scope="any", order_by="oldest", **week))
    assert list(oldest.rows["session_id"])[0] == archived
    assert listed("any", username="ONE", flow_type="signup", limit=2).keys() == {live, done}
    assert set(listed("any", username="gone")) == {cleaned}  # a summary found by name (trigrams)
    assert listed("completed", started_before=now - timedelta(days=1)) == {archived: "completed*"}

    with pytest.raises(ValueError, match="started_from .* must be before started_before"):
        monitoring.SessionFilter(started_from=now, started_before=now - timedelta(days=1))
    with pytest.raises(ValueError, match="started_from must be a datetime with a time zone"):
        monitoring.SessionFilter(started_from=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="order_by 'expiring' lists sessions in progress only"):
        monitoring.SessionFilter(scope="completed", order_by="expiring")


def test_sessions_page_shows_completed_and_expired_ones_and_filters_by_day(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = add_session(db, username="done_one", status="completed", steps=11, started_ago=timedelta(hours=1))
    late = add_session(db, username="late_one", steps=3, started_ago=timedelta(hours=3))
    long_ago = add_session(
        db, username="long_ago", status="completed", steps=11, started_ago=timedelta(days=9)
    )
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    at.segmented_control(key="filter_scope").set_value("completed").run()
    table = at.dataframe[0].value
    assert list(table["session_id"]) == [done]  # 9 days ago is outside the last 7 days
    assert list(table["status_text"]) == ["Completed"] and table["time_left"].iloc[0].startswith("completed ")
    assert table["time_left"].iloc[0].endswith(" UTC")
    today = datetime.now(UTC).date()
    at.date_input(key="filter_started").set_value(
        (today - timedelta(days=10), today - timedelta(days=8))
    ).run()
    assert list(at.dataframe[0].value["session_id"]) == [long_ago]
    at.date_input(key="filter_started").set_value((today - timedelta(days=6), today)).run()
    at.segmented_control(key="filter_scope").set_value("expired").run()
    table = at.dataframe[0].value
    assert list(table["session_id"]) == [late] and table["time_left"].iloc[0].startswith("expired ")
    assert "Expiring soonest" not in [o for o in at.selectbox(key="filter_order").options]
    assert not at.exception


# ------------------------------------------------------------------ the staff log


def test_staff_log_is_paged_and_filtered_by_who_what_and_when(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    for n in range(60):  # 60 cleanups by Sam over the last hour, newest last
        log_action(db, "Sam Support", "cleanup", now - timedelta(minutes=60 - n))
    # Ola's five unlocks at noon three days ago: one day in any zone the filter below might cross
    # (at 00:02 "3 days and 4 minutes ago" was the day before: found by the run at 23:50).
    ola_day = now.date() - timedelta(days=3)
    for n in range(5):
        log_action(
            db,
            "Ola Nordmann",
            "unlock_sign_in",
            datetime.combine(ola_day, time(12), UTC) - timedelta(minutes=n),
            target=f"user{n} from 192.0.2.{n}",
        )
    page = monitoring.staff_log_page(db)
    assert len(page.rows) == 50 and page.total_matching == 65 and page.pages == 2
    assert list(page.rows["acted_at"]) == sorted(page.rows["acted_at"], reverse=True)
    second = monitoring.staff_log_page(db, monitoring.StaffLogFilter(page=2))
    assert len(second.rows) == 15 and not set(second.rows["acted_at"]) & set(page.rows["acted_at"])
    ola = monitoring.staff_log_page(db, monitoring.StaffLogFilter(staff_name=" nORD "))
    assert set(ola.rows["staff_name"]) == {"Ola Nordmann"} and ola.total_matching == 5
    unlocks = monitoring.staff_log_page(db, monitoring.StaffLogFilter(action="unlock_sign_in"))
    assert unlocks.total_matching == 5
    recent = monitoring.staff_log_page(db, monitoring.StaffLogFilter(acted_from=now - timedelta(days=1)))
    assert recent.total_matching == 60 and set(recent.rows["action"]) == {"cleanup"}
    with pytest.raises(ValueError, match="page must be between 1 and"):
        monitoring.StaffLogFilter(page=0)
    with pytest.raises(ValueError, match="staff_name must be at most 100 characters"):
        monitoring.StaffLogFilter(staff_name="x" * 101)
    with pytest.raises(ValueError, match="acted_from .* must be before acted_before"):
        monitoring.StaffLogFilter(acted_from=now, acted_before=now)

    at = signed_in_app(monkeypatch, "app_pages/maintenance.py")
    log = at.dataframe[-1].value
    assert len(log) == 50 and set(log["who"]) == {"Sam Support"}
    assert any(m.value.startswith("Lines 1–50 of 65, newest first · page 1 of 2") for m in at.markdown)
    assert at.button(key="log_newer").disabled
    at.button(key="log_older").click().run()
    log = at.dataframe[-1].value
    assert len(log) == 15 and (log["who"] == "Ola Nordmann").sum() == 5
    assert any(m.value.startswith("Lines 51–65 of 65") for m in at.markdown)
    at.selectbox(key="log_what").set_value("unlock_sign_in").run()  # a new filter: its first page
    log = at.dataframe[-1].value
    assert len(log) == 5 and set(log["what"]) == {"Sign-in unlocked"}
    assert any(m.value.startswith("Lines 1–5 of 5") for m in at.markdown)
    at.text_input(key="log_who").input("sam").run()
    assert any("No action matches these filters." in i.value for i in at.info)
    at.text_input(key="log_who").input("").run()
    at.selectbox(key="log_what").set_value("").run()  # every action
    at.date_input(key="log_when").set_value((ola_day, ola_day)).run()
    assert len(at.dataframe[-1].value) == 5
    assert not at.exception


# ------------------------------------------------------------------ time zones and devices


def test_every_time_says_its_zone_utc_by_default_or_the_one_chosen(
    dashboard_env: str, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = add_session(db, username="zoned", steps=2)
    at = signed_in_app(monkeypatch, "app_pages/sessions.py")
    assert at.selectbox(key="time_zone").value == "UTC"
    at.text_input(key="drill_input").input(session).run()
    assert [m for m in at.metric if m.label == "Started (UTC)"]  # the zone in the card's title
    assert all(c.endswith(" UTC · refreshes every 30 s") for c in captions(at) if c.startswith("Updated "))
    saved = db.execute("SELECT min(completed_at) AS t FROM temp_enrollment_steps").fetchone()["t"]

    at.selectbox(key="time_zone").set_value("Asia/Kolkata").run()  # UTC+05:30, no summer time
    assert [m for m in at.metric if m.label == "Started (IST)"]
    kolkata = saved.astimezone(ZoneInfo("Asia/Kolkata"))
    assert any(c.startswith(f"Saved {kolkata:%H:%M:%S} IST") for c in captions(at))
    assert "Asia/Kolkata" in at.date_input(key="filter_started").label
    assert not at.exception


def test_times_and_day_ranges_follow_the_chosen_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    monkeypatch.setattr(st, "session_state", {formatting.TIME_ZONE_KEY: "America/New_York"})
    moment = datetime(2026, 7, 1, 18, 30, tzinfo=UTC)
    assert formatting.local_time(moment, "%H:%M") == "14:30 EDT"
    assert formatting.local_time(moment, "%d %b %Y") == "01 Jul 2026"  # a date alone: no zone
    assert formatting.zoned("Started") == "Started (America/New_York)"
    start, end = formatting.day_range((moment.date(), moment.date()))
    assert start == datetime(2026, 7, 1, 4, 0, tzinfo=UTC) and end == datetime(2026, 7, 2, 4, 0, tzinfo=UTC)
    assert formatting.day_range(()) == (None, None)
    monkeypatch.setattr(st, "session_state", {formatting.TIME_ZONE_KEY: "Not/AZone"})
    assert formatting.zone_name() == "UTC"  # never trusted blindly
    monkeypatch.setattr(st, "session_state", {formatting.TIME_ZONE_KEY: "Asia/Kathmandu"})
    assert formatting.local_time(moment, "%H:%M") == "00:15 UTC+0545"  # no abbreviation: the offset


def test_devices_are_named_in_words_never_as_the_raw_string() -> None:
    assert devices.describe(ANDROID_CHROME) == "Chrome 131 on Android 14"
    assert devices.describe(IPHONE_SAFARI) == "Mobile Safari 17 on iOS 17"
    assert devices.describe(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    ) == ("Firefox 133 on Windows 10")
    assert devices.describe("curl/8.5.0") == "curl 8"
    assert devices.describe(None) == devices.describe("  ") == "Unknown device"
    assert devices.describe("<img src=x onerror=alert(1)>") == "Unrecognised device"
    assert devices.describe("x" * 100_000) == "Unrecognised device"  # bounded work on a huge header
