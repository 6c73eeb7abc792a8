"""The benchmarks' code paths on tiny sizes (`python -m bench --quick`), so the scripts do not rot.
Nothing here asserts on time: the figures are printed by `./dev bench`, not checked by tests."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import psycopg
import pytest

from api import serve
from bench import app_roundtrip, queries
from bench.cli import main


def test_quick_bench_runs_every_benchmark_and_drops_its_databases(server_url, tmp_path, capsys):
    with psycopg.connect(server_url, autocommit=True) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    # http and app have their own smoke tests below (they need wrk and Chromium).
    args = ["save", "queries", "cleanup", "--quick", "--server-url", server_url, "--out", str(tmp_path)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for heading in ("=== save (quick) ===", "=== queries (quick) ===", "=== cleanup (quick) ==="):
        assert heading in printed
    figures = {p.name.split("-")[0]: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(figures) == {"save", "queries", "cleanup"}
    assert [r["clients"] for r in figures["save"]["rows"]] == [1, 2]
    assert all(r["save_ops"] > 0 and r["raw_ops"] > 0 for r in figures["save"]["rows"])
    levels = figures["queries"]["levels"]
    assert [lv["sessions"] for lv in levels] == [200, 1000]
    assert levels[-1]["tables"]["temp_enrollments"]["row_count"] >= 1000
    for name in queries.MONITORING:  # the seed's three are always measured
        assert "ms" in levels[-1]["queries"][name], levels[-1]["queries"][name]
    for mode in ("batched", "one_call"):
        run = figures["cleanup"]["modes"][mode]
        assert (run["removed"], run["remaining_expired"], run["saver_errors"]) == (2000, 0, [])
        assert run["live_sessions"] > 0  # the concurrent saver's sessions survived the cleanup
    assert list(tmp_path.glob("plans-1000-quick.txt"))
    with psycopg.connect(server_url, autocommit=True) as conn:
        after = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert {d for d in after - before if d.startswith("bench_")} == set()


def test_quick_restart_bench_kills_its_own_server_under_the_supervisor_and_removes_it(tmp_path, capsys):
    assert main(["restart", "--quick", "--out", str(tmp_path)]) == 0
    assert "=== restart (quick) ===" in capsys.readouterr().out
    (path,) = tmp_path.glob("restart-quick-*.json")
    figures = json.loads(path.read_text())
    assert figures["kills"] == 2 and len(figures["seconds"]) == 2
    assert len(figures["supervisor_restart_s"]) == 2  # the supervisor logged each restart
    assert not Path(figures["data_dir"]).exists()


def _databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (./dev test installs it)")
def test_quick_http_bench_saves_through_the_server_and_in_process(server_url, tmp_path, capsys):
    before = _databases(server_url)
    assert main(["http", "--quick", "--server-url", server_url, "--out", str(tmp_path)]) == 0
    assert "=== http (quick) ===" in capsys.readouterr().out
    (path,) = tmp_path.glob("http-quick-*.json")
    figures = json.loads(path.read_text())
    cells = [(w, c) for w in sorted({serve.default_workers(), 2}) for c in (1, 2)]
    assert [(r["workers"], r["clients"]) for r in figures["rows"]] == cells
    for row in figures["rows"]:
        # Every request was a saved step, on both sides, and every figure was measured.
        assert row["refused"] == 0 and row["http_ops"] > 0 and row["in_process_ops"] > 0, row
        for name in ("ratio", "http_p99_ms", "in_process_p99_ms", "wrk_cpu_ms", "http_app_cpu_ms"):
            assert math.isfinite(row[name]) and row[name] > 0, (name, row)
    assert figures["load_average_before"] and figures["load_average_after"]
    assert {d for d in _databases(server_url) - before if d.startswith("bench_")} == set()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (./dev test installs it)")
def test_quick_overload_bench_loads_the_server_with_and_without_shedding(server_url, tmp_path, capsys):
    before = _databases(server_url)
    assert main(["overload", "--quick", "--server-url", server_url, "--out", str(tmp_path)]) == 0
    assert "shedding / queueing, same round:" in capsys.readouterr().out
    (path,) = tmp_path.glob("overload-quick-*.json")
    cells = json.loads(path.read_text())["cells"]
    assert sorted((c["variant"], c["clients"]) for c in cells) == [
        ("queueing", 4), ("queueing", 8), ("shedding", 4), ("shedding", 8)
    ]
    for cell in cells:  # saves went through, and the probes were answered
        assert cell["saves_per_second"] > 0 and math.isfinite(cell["healthz_p99_ms"]), cell
    assert all(c["refused_share"] == 0 for c in cells if c["variant"] == "queueing")
    assert {d for d in _databases(server_url) - before if d.startswith("bench_")} == set()


def test_quick_recovery_bench_kills_its_own_server_and_loses_nothing(tmp_path, capsys):
    assert main(["recovery", "--quick", "--out", str(tmp_path)]) == 0
    assert "=== recovery (quick) ===" in capsys.readouterr().out
    (path,) = tmp_path.glob("recovery-quick-*.json")
    outages = json.loads(path.read_text())["outages"]
    assert sorted(o["variant"] for o in outages) == ["bounded", "psycopg_pool"]
    for outage in outages:  # the phones recovered, and every acknowledged step is stored as sent
        assert math.isfinite(outage["recovery_seconds"]) and outage["acknowledged"] > 0, outage
        assert outage["lost"] == 0, outage


@pytest.mark.browser
@pytest.mark.skipif(not Path(app_roundtrip.CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_quick_app_bench_times_each_save_in_the_browser(server_url, tmp_path, capsys):
    assert main(["app", "--quick", "--server-url", server_url, "--out", str(tmp_path)]) == 0
    assert "tap -> next pad drawn" in capsys.readouterr().out
    (path,) = tmp_path.glob("app-quick-*.json")
    figures = json.loads(path.read_text())
    assert [t["step"] for t in figures["trips"]] == [1, 2, 3]
    # The pad is drawn before the app has finished the rerun the pad's "loaded" report starts.
    assert all(0 < t["drawn_ms"] <= t["idle_ms"] for t in figures["trips"]), figures["trips"]


def test_query_parameters_are_filled_in_by_name():
    sample = {"id": 7, "session_id": "sess_" + "a" * 32, "username": "someone"}
    params, problem = queries.parameters_for(
        "SELECT %(session_id)s, %(limit)s, %(hours)s, %(bucket_seconds)s, %(flow_type)s", sample
    )
    assert problem is None
    assert params == {
        "session_id": sample["session_id"],
        "limit": 50,
        "hours": 24,
        "bucket_seconds": 3600,
        "flow_type": "signup",
    }
    assert queries.parameters_for("SELECT %(mystery)s", sample) == (None, "no value for parameter(s) mystery")
    assert queries.is_read_only("-- INSERT in a comment\nSELECT 1")
    assert not queries.is_read_only("WITH x AS (DELETE FROM t RETURNING 1) SELECT * FROM x")
