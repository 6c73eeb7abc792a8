"""Realistic demo data: sessions in every state, both flows, spread over the last day.

Timestamps are set explicitly (a session seen three hours ago must look three hours old), so rows are
written with the demo_* named queries rather than through save_drawing, which stamps NOW().
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb
from tqdm import tqdm

from . import step_plan
from .database import Connection, Pool, one
from .errors import AccountLocked, RateLimited
from .maintenance import CLEANUP_JOB
from .queries import query
from .sample_drawings import sample_drawing
from .service import ClientInfo, EnrollmentService, new_session_id
from .step_plan import FlowType
from .validation import parse_drawing_step

FIRST_NAMES = [
    "alice",
    "bruno",
    "chloe",
    "dmitri",
    "emma",
    "farid",
    "grace",
    "hiro",
    "ines",
    "jonas",
    "kemal",
    "lena",
    "mateo",
    "nadia",
    "oscar",
    "priya",
    "quentin",
    "rosa",
    "sami",
    "tara",
    "ugo",
    "vera",
    "wei",
    "yara",
    "zoe",
]
USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
]


@dataclass(frozen=True)
class DemoSummary:
    sessions: int
    steps: int
    users: int
    usernames: tuple[str, ...] = ()  # the registered demo users, in the order they were made


def _state_mix(rng: random.Random) -> tuple[FlowType, str]:
    """(flow, state) with a realistic mix: most signups finish, some drop off, some expire."""
    flow: FlowType = "signup" if rng.random() < 0.7 else "signin"
    state = rng.choices(
        ["active", "completed", "expired_backlog", "marked_expired"], [0.35, 0.4, 0.18, 0.07]
    )[0]
    return flow, state


def insert_demo_step(
    conn: Connection,
    enrollment_id: int,
    username: str,
    flow: FlowType,
    number: int,
    saved_at: datetime,
    sample: int = 0,
) -> None:
    """One realistic step, saved at `saved_at` (save_drawing would stamp NOW())."""
    step = parse_drawing_step(sample_drawing(username, number, flow_type=flow, sample=sample))
    conn.execute(
        query("demo_insert_step"),
        {
            "enrollment_id": enrollment_id,
            "step_number": number,
            "step_type": step.type,
            "instruction": step.instruction,
            "signature_data": step.signature,
            "raw_data": Jsonb(step.raw),
            "metrics": Jsonb(step.metrics),
            "content_hash": step.content_hash,
            "completed_at": saved_at,
        },
    )


def seed_demo_data(
    pool: Pool, sessions: int = 80, seed: int = 7, ttl_hours: float = 2.0
) -> DemoSummary:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ttl = timedelta(hours=ttl_hours)
    total_steps = users = 0
    registered: list[str] = []
    with pool.connection() as conn:
        for i in tqdm(range(sessions), desc="demo sessions", unit="session", disable=sessions < 200):
            flow, state = _state_mix(rng)
            if flow == "signin" and not registered:
                flow = "signup"
            username = rng.choice(registered) if flow == "signin" else f"{rng.choice(FIRST_NAMES)}_{i:03d}"
            plan = step_plan.steps_of(flow)
            if state == "active":  # started within the TTL, part-way through
                created = now - timedelta(minutes=rng.uniform(1, ttl.total_seconds() / 60 - 5))
                # A live signin session has its one drawing and awaits the verdict.
                n_steps = rng.randint(1, len(plan) - 1) if len(plan) > 1 else 1
            elif state == "completed":
                created = now - timedelta(hours=rng.uniform(0.2, 30))
                n_steps = len(plan)
            else:  # abandoned long enough ago to be past expiry
                created = now - ttl - timedelta(minutes=rng.uniform(5, 600))
                n_steps = rng.randint(1, len(plan))
            if flow == "signup" and n_steps == len(plan) and state != "completed":
                n_steps -= 1  # a fully drawn signup would have been registered
            step_times = sorted(
                created + timedelta(seconds=rng.uniform(5, 40) * (k + 1)) for k in range(n_steps)
            )
            status = {"completed": "completed", "marked_expired": "expired"}.get(state, "in_progress")
            completed_at = (step_times[-1] + timedelta(seconds=5)) if status == "completed" else None
            session_id = new_session_id()
            enrollment_id = one(conn.execute(
                query("demo_insert_enrollment"),
                {
                    "session_id": session_id,
                    "username": username,
                    "flow_type": flow,
                    "status": status,
                    "device_info": rng.choice(USER_AGENTS),
                    "metadata": Jsonb({"ip": f"192.0.2.{rng.randint(1, 254)}", "demo": True}),
                    "created_at": created,
                    "updated_at": step_times[-1] if step_times else created,
                    "expires_at": created + ttl,
                    "completed_at": completed_at,
                    "step_count": n_steps,  # the steps inserted just below
                },
            ).fetchone())["id"]
            for number, saved_at in zip(range(1, n_steps + 1), step_times):
                insert_demo_step(conn, enrollment_id, username, flow, number, saved_at, sample=i)
                total_steps += 1
            if flow == "signup" and status == "completed":
                params = {"username": username, "session_id": session_id}
                user = one(conn.execute(query("insert_user"), params).fetchone())
                conn.execute(
                    query("copy_steps_to_user"), {"user_id": user["id"], "enrollment_id": enrollment_id}
                )
                registered.append(username)
                users += 1
        # The demo shows an expiry backlog: count this as the hourly cleanup's run, so that apps
        # starting now leave the backlog for the next interval instead of clearing it at once.
        conn.execute(
            query("mark_periodic_job_run"),
            {"job": CLEANUP_JOB, "result": Jsonb({"removed": 0, "note": "demo data seeded"})},
        )
    return DemoSummary(sessions=sessions, steps=total_steps, users=users, usernames=tuple(registered))


@dataclass(frozen=True)
class DemoSignIns:
    accepted: int
    no_match: int
    replays: int
    locked: tuple[str, str] | None  # (username, client address) locked out, if the demo had the users


# Documentation addresses (RFC 5737), one per demo device.
OWN_PHONE, OWN_LAPTOP, OTHER_NETWORK = "192.0.2.20", "192.0.2.21", "192.0.2.22"
FORGER_NETWORK = "198.51.100.23"


def seed_demo_sign_ins(service: EnrollmentService, usernames: Sequence[str]) -> DemoSignIns:
    """Real sign-ins of the first three registered demo users, through the service (real verdicts,
    locks and limits, stamped now), so the dashboard's People page has something to show: the first
    signs in, then sends the same drawing again (a replay); the second signs in, then someone else
    draws for them from another network (no match); the third gets forged sign-ins from one address
    until it is locked out of the account (LOGIN_MAX_FAILURES, for LOGIN_LOCK_SECONDS). Deterministic
    drawings; a dozen verifications."""
    accepted = no_match = replays = 0
    locked: tuple[str, str] | None = None

    def sign_in(username: str, address: str, sample: int, person: str | None = None) -> str:
        command = sample_drawing(username, 1, flow_type="signin", sample=sample, person=person)
        session_id = service.save_drawing(command).session_id
        result = service.login(username, session_id, client=ClientInfo(USER_AGENTS[sample % 3], address))
        return result.reason_code

    if len(usernames) >= 1:
        first = usernames[0]
        accepted += sign_in(first, OWN_PHONE, 1001) == "match"
        replays += sign_in(first, OWN_PHONE, 1001) == "replay"  # the very same drawing again
    if len(usernames) >= 2:
        second = usernames[1]
        accepted += sign_in(second, OWN_LAPTOP, 1002) == "match"
        no_match += sign_in(second, OTHER_NETWORK, 1003, person="demo_forger") == "no_match"
    if len(usernames) >= 3:
        third = usernames[2]
        for sample in range(service.settings.login_max_failures):
            try:
                no_match += sign_in(third, FORGER_NETWORK, 1010 + sample, person="demo_forger") == "no_match"
            except (AccountLocked, RateLimited):  # locked already, or the account slowed first
                break
        if service.check_user_exists(third, ClientInfo(None, FORGER_NETWORK)).code == "account_locked":
            locked = (third, FORGER_NETWORK)
    return DemoSignIns(accepted=accepted, no_match=no_match, replays=replays, locked=locked)
