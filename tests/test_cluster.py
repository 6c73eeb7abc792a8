"""The product in the several-machine shape (deploy/, `./dev cluster`): HAProxy in front of two API
instances and two instances of each Streamlit app, PgBouncer in transaction mode before PostgreSQL, a
hot standby for the dashboard's reads. Marked `cluster`: not in the default run; `./dev cluster test`
starts the cluster if it is not running (and stops it afterwards), or uses the running one.

Every test talks from loopback addresses of its own (127.a.b.c, picked at random per run): HAProxy
sets X-Forwarded-For from the connection's address, so each test has its own per-address rate-limit
buckets, as separate people would, whatever earlier runs left in the database."""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from deploy import cluster
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.monitoring import overview
from enrollment_core.monitoring.standby import staleness
from enrollment_core.step_plan import total_steps
from tests.flows import drawing_json

pytestmark = pytest.mark.cluster

API = f"http://127.0.0.1:{cluster.API_FRONT}"
SIGNUP_STEPS = total_steps("signup")
# A haproxy httplog line: client address, frontend, backend/server, timers, status, ..., request line.
LOG_LINE = re.compile(r'^(?P<client>[\d.]+):\d+ \[[^\]]+\] (?P<frontend>\S+) (?P<backend>[^/\s]+)/'
                      r'(?P<server>\S+) \S+ (?P<status>-?\d+) .*"(?P<method>\S+) (?P<path>\S+)')  # fmt: skip


@pytest.fixture(scope="module")
def cluster_up() -> Iterator[None]:
    with cluster.running_cluster():
        yield


@pytest.fixture
def running(cluster_up: None) -> None:
    """Each test starts with every frontend answering: a test that saturates PgBouncer (1,000 clients)
    makes the API instances not ready for a moment, and HAProxy takes them out until /readyz says so."""
    cluster.wait_for_frontends()


class Addresses:
    """Fresh loopback source addresses: a random 127.a.b.0/24 per run, one address per use."""

    def __init__(self) -> None:
        self.prefix = f"127.{random.randint(2, 254)}.{random.randint(0, 254)}"
        self.next = 10

    def take(self) -> str:
        self.next += 1
        return f"{self.prefix}.{self.next}"


@pytest.fixture(scope="module")
def addresses() -> Addresses:
    return Addresses()


def client_from(address: str, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client whose connections come from `address` (all of 127/8 is loopback)."""
    return httpx.Client(base_url=API, transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def served_by(address: str) -> list[tuple[str, str, str]]:
    """(server, method, path) of every API request HAProxy logged from `address`, in order."""
    lines = cluster.log_path("haproxy").read_text(errors="replace").splitlines()
    found = []
    for line in lines:
        match = LOG_LINE.match(line)
        if match and match["client"] == address and match["frontend"] == "api":
            found.append((match["server"], match["method"], match["path"]))
    return found


def wait_for_log(address: str, count: int, timeout: float = 5.0) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + timeout
    while len(found := served_by(address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def enroll(http: httpx.Client, username: str) -> str:
    """The 11 signup steps through the API; the session id."""
    first = http.post("/api/save-drawing", json=drawing_json(username, 1))
    assert first.status_code == 200, first.text
    session_id = str(first.json()["sessionId"])
    for step in range(2, SIGNUP_STEPS + 1):
        answer = http.post("/api/save-drawing", json=drawing_json(username, step, session_id=session_id))
        assert answer.status_code == 200, answer.text
    return session_id


def in_primary(sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows from the primary itself (not through PgBouncer)."""
    with psycopg.connect(cluster.primary_url(), row_factory=dict_row, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_enrollment_and_sign_in_through_haproxy_each_request_on_the_other_instance(
    running: None, addresses: Addresses
) -> None:
    address = addresses.take()
    username = f"cl_{address.replace('.', '_')}"[:32]
    with client_from(address) as http:
        check = http.post("/api/check-username", json={"username": username})
        assert check.status_code == 200 and check.json()["available"] is True, check.text
        session_id = enroll(http, username)
        registered = http.post("/register", json={"username": username, "sessionId": session_id,
                                                  "useTemporaryData": True})  # fmt: skip
        assert registered.status_code == 201, registered.text
        signin = http.post("/api/save-drawing", json=drawing_json(username, 1, flow_type="signin", sample=50))
        assert signin.status_code == 200, signin.text
        login = http.post("/login", json={"username": username, "sessionId": signin.json()["sessionId"],
                                          "useTemporaryData": True})  # fmt: skip
        assert login.status_code == 200, login.text
        assert login.json()["accepted"] is True, login.text
    requests = 1 + SIGNUP_STEPS + 1 + 1 + 1
    log = wait_for_log(address, requests)
    assert [(m, p) for _, m, p in log][:2] == [("POST", "/api/check-username"), ("POST", "/api/save-drawing")]
    servers = [server for server, _, _ in log]
    assert len(servers) == requests, log
    assert set(servers) == {i.name for i in cluster.api_instances()}
    # Round-robin: each request went to the other instance than the one before it.
    assert all(a != b for a, b in zip(servers, servers[1:])), servers
    rows = in_primary("SELECT count(*) AS n FROM user_enrolled_drawings d JOIN users u ON u.id = d.user_id "
                               "WHERE u.username = %s", username)  # fmt: skip
    assert rows[0]["n"] == SIGNUP_STEPS


def test_rate_limits_are_shared_by_every_instance(running: None, addresses: Addresses) -> None:
    address = addresses.take()
    with client_from(address) as http:
        answers = [http.post("/api/check-username", json={"username": f"free_name_{i}"}) for i in range(125)]
    statuses = [a.status_code for a in answers]
    # The default limit is 120 look-ups an hour per address, counted in PostgreSQL: the two instances
    # together let exactly 120 through, not 120 each.
    assert statuses == [200] * 120 + [429] * 5, statuses
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    servers = [s for s, _, _ in wait_for_log(address, 125)]
    assert servers.count("api1") >= 60 and servers.count("api2") >= 60, servers


def test_a_retried_register_is_answered_once_across_instances(
    running: None, addresses: Addresses
) -> None:
    address = addresses.take()
    username = f"rr_{address.replace('.', '_')}"[:32]
    with client_from(address) as http:
        session_id = enroll(http, username)
        body = {"username": username, "sessionId": session_id, "useTemporaryData": True}
        # Sent twice at once (a client that timed out and retried): HAProxy gives them to the two
        # instances; both answer the one registration.
        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(lambda _: http.post("/register", json=body), range(2)))
        again = http.post("/register", json=body)  # and once more later
    assert [a.status_code for a in both + [again]] == [201, 201, 201], [a.text for a in both + [again]]
    assert both[0].content == both[1].content == again.content
    log = wait_for_log(address, SIGNUP_STEPS + 3)
    registers = [server for server, _, path in log if path == "/register"]
    assert len(registers) == 3 and set(registers[:2]) == {"api1", "api2"}, log
    users = in_primary("SELECT id FROM users WHERE lower(username) = lower(%s)", username)
    assert len(users) == 1
    drawings = in_primary("SELECT count(*) AS n FROM user_enrolled_drawings WHERE user_id = %s",
                          users[0]["id"])  # fmt: skip
    assert drawings[0]["n"] == SIGNUP_STEPS


@dataclass
class Saver:
    """One phone saving steps over and over, retrying a step until it is acknowledged, as the mobile
    client does (every save is idempotent)."""

    address: str
    number: int
    templates: list[dict[str, Any]]
    stop: threading.Event
    acknowledged: list[tuple[str, int]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # first send -> acknowledged, per step
    retries: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        with client_from(self.address, timeout=5.0) as http:
            # 4 enrollments (44 saves) at most: within the 60 saves a minute one address may make.
            for enrollment in range(4):
                username = f"k{self.number}_{enrollment}_{self.address.replace('.', '')}"[:32]
                session_id: str | None = None
                for step in range(1, SIGNUP_STEPS + 1):
                    if self.stop.is_set():
                        return
                    body = dict(self.templates[step - 1], username=username)
                    if session_id:
                        body["sessionId"] = session_id
                    session_id = self.save(http, body, step)
                    if session_id is None:
                        return

    def save(self, http: httpx.Client, body: dict[str, Any], step: int) -> str | None:
        started = time.monotonic()
        while time.monotonic() - started < 10:
            try:
                answer = http.post("/api/save-drawing", json=body)
            except httpx.TransportError as error:
                self.retries += 1
                self.failures.append(f"{type(error).__name__}")
                continue
            if answer.status_code == 200:
                self.waits.append(time.monotonic() - started)
                session_id = str(answer.json()["sessionId"])
                self.acknowledged.append((session_id, step))
                return session_id
            if answer.status_code in (502, 503, 504):
                self.retries += 1
                self.failures.append(str(answer.status_code))
                time.sleep(0.05)
                continue
            self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            return None
        self.failures.append("gave up after 10 s")
        return None


def test_one_api_instance_killed_under_8_saving_clients_loses_no_acknowledged_step(
    running: None, addresses: Addresses
) -> None:
    templates = [drawing_json("template_user", step) for step in range(1, SIGNUP_STEPS + 1)]
    for body in templates:
        body.pop("sessionId", None)
    stop = threading.Event()
    savers = [Saver(addresses.take(), i, templates, stop) for i in range(8)]
    threads = [threading.Thread(target=s.run) for s in savers]
    for t in threads:
        t.start()
    try:
        # Kill one instance once the clients are well under way.
        deadline = time.monotonic() + 20
        while sum(len(s.acknowledged) for s in savers) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        cluster.kill("api1")
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        cluster.restart("api1")
    acknowledged = [ack for s in savers for ack in s.acknowledged]
    assert all(not s.failures or set(s.failures) <= {"502", "503", "504", "RemoteProtocolError",
                                                    "ReadError", "ConnectError"} for s in savers), \
        [s.failures for s in savers]  # fmt: skip
    assert all(len(s.acknowledged) == 4 * SIGNUP_STEPS for s in savers), [len(s.acknowledged) for s in savers]
    # Every acknowledged step is in PostgreSQL.
    sessions = sorted({session for session, _ in acknowledged})
    stored = in_primary("SELECT e.session_id, s.step_number FROM temp_enrollment_steps s "
                        "JOIN temp_enrollments e ON e.id = s.enrollment_id WHERE e.session_id = ANY(%s)",
                        sessions)  # fmt: skip
    stored_pairs = {(r["session_id"], r["step_number"]) for r in stored}
    lost = [ack for ack in acknowledged if ack not in stored_pairs]
    assert lost == [], f"{len(lost)} acknowledged steps lost of {len(acknowledged)}"
    longest = max(w for s in savers for w in s.waits)
    assert longest <= 2.0, f"a client waited {longest:.2f} s for a step"
    print(
        f"\nkill -9 api1 under 8 savers: {len(acknowledged)} steps acknowledged, 0 lost, "
        f"longest wait {longest * 1000:.0f} ms, client retries {sum(s.retries for s in savers)}"
    )


def test_1000_client_connections_through_pgbouncer_use_the_pool_size_of_postgresql(
    running: None
) -> None:
    peak = {"server": 0}
    stop = threading.Event()

    def watch() -> None:  # PostgreSQL's own count of the product's connections, every 10 ms
        with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = "
                    "'client backend' AND application_name IS DISTINCT FROM %s",
                    [cluster.DATABASE, cluster.SESSION_APPLICATION],
                ).fetchone()
                peak["server"] = max(peak["server"], row[0] if row else 0)
                time.sleep(0.01)

    async def clients() -> list[int]:
        semaphore = asyncio.Semaphore(100)  # connect 100 at a time (SCRAM costs CPU at PgBouncer)

        async def connect() -> psycopg.AsyncConnection[Any]:
            async with semaphore:
                return await psycopg.AsyncConnection.connect(
                    cluster.pooled_url(), prepare_threshold=None, autocommit=True, connect_timeout=10
                )

        conns = await asyncio.gather(*(connect() for _ in range(1000)))
        try:
            async def ask(conn: psycopg.AsyncConnection[Any], i: int) -> int:
                cur = await conn.execute("SELECT %s::int + 0 FROM pg_sleep(0.02)", [i])
                row = await cur.fetchone()
                return int(row[0]) if row else -1

            return await asyncio.gather(*(ask(c, i) for i, c in enumerate(conns)))
        finally:
            await asyncio.gather(*(c.close() for c in conns))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answers = asyncio.run(clients())
    finally:
        stop.set()
        watcher.join()
    assert answers == list(range(1000))
    # 1,000 clients at once, and PostgreSQL held at most the pool's connections for them (and the API
    # instances, which go through the same pool); all of them were in use.
    assert peak["server"] == cluster.POOL_SIZE, peak


def test_dashboard_reads_from_the_standby_while_the_primary_takes_writes(
    running: None, addresses: Addresses
) -> None:
    settings = Settings(database_url=cluster.pooled_url(), transaction_pooling=True,
                        session_database_url=cluster.primary_url(),
                        pool_min_size=1, pool_max_size=2)  # fmt: skip
    written: list[str] = []
    refused: list[str] = []

    def write() -> None:  # 20 sessions started through the API, on the primary
        with client_from(addresses.take()) as http:
            for i in range(20):
                username = f"standby_{i}_{random.randint(0, 10**6)}"
                answer = http.post("/api/save-drawing", json=drawing_json(username, 1))
                if answer.status_code != 200:
                    refused.append(answer.text)
                    return
                written.append(answer.json()["sessionId"])

    with create_pool(cluster.pooled_url(), settings, name="test-writer") as writer, \
         create_pool(cluster.standby_url(), settings, name="test-reader", transaction_pooling=False,
                     writer=writer) as reader:  # fmt: skip
        with reader.connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"] is True
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO maintenance_runs (job, last_run_at) VALUES ('x', NOW())")
        thread = threading.Thread(target=write)
        thread.start()
        reads, lags = 0, []
        while thread.is_alive() or reads < 3:  # the dashboard's reads, on the standby, meanwhile
            figures = overview(reader, 24)  # a stale snapshot is refreshed on the primary, read here
            lag = staleness(reader)
            assert lag.standby
            lags.append(lag.behind_seconds if lag.streaming else None)
            reads += 1
        thread.join()
        assert refused == [] and len(written) == 20
        assert figures.as_of is not None
        # Streaming all along, and never more than a second behind the primary.
        assert all(lag is not None and lag < 1 for lag in lags), lags
        # What the primary took is on the standby within moments.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with reader.connection() as conn:
                seen = conn.execute("SELECT count(*) AS n FROM temp_enrollments WHERE session_id = ANY(%s)",
                                    [written]).fetchone()["n"]  # fmt: skip
            if seen == len(written):
                break
            time.sleep(0.05)
        assert seen == len(written)


def test_the_app_keeps_the_enrollment_when_its_instance_is_killed(running: None) -> None:
    """A person half-way through a signup in the browser; the Streamlit instance their websocket is
    on is killed (-9). HAProxy sends the reconnecting browser to the other instance, where the page's
    ?session= continues the enrollment at the next unsaved step, with nothing lost."""
    from tests.browser import test_enrollment_app_browser as ui
    from tests.streamlit_server import CHROME_ARGS, CHROMIUM

    if not cluster.Path(ui.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev cluster test installs it)")
    username = f"browser_{random.randint(0, 10**8)}"
    url = f"http://127.0.0.1:{cluster.APP_FRONT}/"
    killed = None
    with ui.sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            context = ui.desktop(browser)
            page, errors = ui.open_page(context)
            mouse = ui.mouse_stroker(context, page)
            ui.begin(page, url, "Create account", username, touch=False)
            ui.enroll_steps(page, mouse, username, range(1, 3), touch=False)
            ui.wait_for_step(page, 3)
            sticky = {c["name"]: c["value"] for c in context.cookies()}["ENROLLMENT_APP"]
            assert sticky in {i.name for i in cluster.app_instances()}
            killed = sticky
            cluster.kill(sticky)
            # The browser notices, reconnects, and HAProxy sends it to the other instance (the
            # cookie then names it); that instance picks the page up at step 3, an empty pad.
            deadline = time.monotonic() + 30
            while {c["name"]: c["value"] for c in context.cookies()}["ENROLLMENT_APP"] == sticky:
                assert time.monotonic() < deadline, "the browser was not sent to the other instance"
                page.wait_for_timeout(100)
            ui.wait_for_step(page, 3)
            ui.screenshot(page, "cluster_after_instance_killed")
            # The first drawing after the move: the pen recorder, reconnected to another server
            # without a reload, may not have recorded it; the app then says so on Save and asks for
            # Clear and a new drawing (see docs/scaling.md), which is what the person does.
            strokes = ui.step_strokes(3, username)
            ui.draw(page, mouse, strokes)
            ui.press(page, "Save and continue", touch=False)
            incomplete = page.get_by_text("was not recorded completely")
            saved = page.get_by_text("Step 4 of 11", exact=True)
            ui.expect(incomplete.or_(saved)).to_be_visible(timeout=ui.WAIT_MS)
            if incomplete.count():
                ui.screenshot(page, "cluster_after_instance_killed_incomplete")
                ui.press(page, "Clear", touch=False)
                ui.wait_for_step(page, 3)
                ui.draw(page, mouse, strokes)
                ui.press(page, "Save and continue", touch=False)
            ui.enroll_steps(page, mouse, username, range(4, 5), touch=False)
            ui.wait_for_step(page, 5)
            assert errors == []
        finally:
            browser.close()
            if killed:
                cluster.restart(killed)
    steps = in_primary("SELECT s.step_number FROM temp_enrollment_steps s JOIN temp_enrollments e "
                       "ON e.id = s.enrollment_id WHERE e.username = %s ORDER BY 1", username)  # fmt: skip
    assert [r["step_number"] for r in steps] == [1, 2, 3, 4]
    sessions = in_primary("SELECT count(*) AS n FROM temp_enrollments WHERE username = %s", username)
    assert sessions[0]["n"] == 1


def test_the_dashboard_on_the_cluster_says_its_figures_come_from_the_standby(
    running: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import data
    from tests.test_dashboard_app import captions, signed_in_app

    for name, value in {"DATABASE_URL": cluster.pooled_url(), "DB_TRANSACTION_POOLING": "1",
                        "DATABASE_SESSION_URL": cluster.primary_url(),
                        "DASHBOARD_READ_URL": cluster.standby_url(),
                        "DASHBOARD_BACKGROUND_CLEANUP": "0"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    data.close_service()
    try:
        at = signed_in_app(monkeypatch)
        notes = [c for c in captions(at) if c.startswith("Figures are read from")]
        assert notes == ["Figures are read from a copy of the database, up to date with the main one "
                         "(under 1 s behind)."], notes  # fmt: skip
    finally:
        data.close_service()


def test_quick_cluster_bench_compares_the_paths_and_drops_its_database(
    running: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bench.cli import main

    assert main(["cluster", "--quick", "--out", str(tmp_path)]) == 0
    assert "=== cluster (quick) ===" in capsys.readouterr().out
    (path,) = tmp_path.glob("cluster-quick-*.json")
    figures = json.loads(path.read_text())
    (row,) = figures["rows"]
    for kind in ("direct", "proxied"):
        assert row[kind]["rate"] > 0 and row[kind]["refused"] == 0
        assert 10_000 < row[kind]["wal_bytes_per_save"] < 200_000  # a save writes its ~30 kB drawing
        assert row[kind]["api_cpu_ms_per_save"] > 0 and row[kind]["db_cpu_ms_per_save"] > 0
    # HAProxy and PgBouncer are only on the proxied path (the direct one has no such processes: NaN).
    assert row["proxied"]["proxy_cpu_ms_per_save"] > 0
    assert math.isnan(row["direct"]["proxy_cpu_ms_per_save"])
    assert figures["whole_run"]["saves"] > 0
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_cluster_%'").fetchall()
    assert left == []


def test_the_proxy_names_the_client_and_refuses_oversized_requests(
    running: None, addresses: Addresses
) -> None:
    address = addresses.take()
    username = f"xff_{random.randint(0, 10**8)}"
    with client_from(address) as http:
        # A client's own X-Forwarded-For names another address: the proxy replaces it with the real one.
        saved = http.post("/api/save-drawing", json=drawing_json(username, 1),
                          headers={"X-Forwarded-For": "203.0.113.9"})  # fmt: skip
        assert saved.status_code == 200, saved.text
        huge_headers = http.post("/api/check-username", json={"username": "anyone"},
                                 headers={f"X-Padding-{i}": "x" * 1000 for i in range(20)})  # fmt: skip
        too_big = http.post("/api/save-drawing", content=b"{" + b" " * 3_300_000 + b"}",
                            headers={"Content-Type": "application/json"})  # fmt: skip
    rows = in_primary("SELECT metadata->>'ip' AS ip FROM temp_enrollments WHERE session_id = %s",
                      saved.json()["sessionId"])  # fmt: skip
    assert rows == [{"ip": address}]
    assert huge_headers.status_code == 431
    assert huge_headers.json()["error"]["code"] == "headers_too_large"
    assert too_big.status_code == 413
    refusal = too_big.json()["error"]
    assert refusal == {"code": "payload_too_large", "field": None,
                       "message": "The request body is larger than 3200000 bytes."}  # fmt: skip


def test_with_no_api_instance_ready_the_proxy_answers_in_the_apis_error_format(running: None) -> None:
    servers = [f"api/{i.name}" for i in cluster.api_instances()]
    try:
        for server in servers:  # as when every instance fails /readyz
            cluster.haproxy_admin(f"disable server {server}")
        answer = httpx.post(f"{API}/api/check-username", json={"username": "anyone"}, timeout=5)
    finally:
        for server in servers:
            cluster.haproxy_admin(f"enable server {server}")
        cluster.wait_for_frontends()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["error"]["code"] == "server_busy"
