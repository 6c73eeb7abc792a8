"""People: one person, found by username (any case, whole or a part of it) or by one of their session
ids. Their account and enrolled drawings, every sign-in attempt with its verdict and drawing beside the
enrolled signatures, and every enrollment session whatever became of it. Answers "why can't this
person sign in?"."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import (
    auth,
    browser,
    data,
    devices,
    formatting,
    outage,
    selection,
    session_view,
    sign_in_blocks,
    view,
    words,
)
from dashboard.confirm import confirm_then_run
from enrollment_core import device_tokens, monitoring, rate_limits
from enrollment_core.errors import DATABASE_UNAVAILABLE

SEARCH_KEY = "person_search"
ATTEMPTS, CHOSEN_ATTEMPT = "person_attempts", "person_chosen_attempt"  # by its sign-in session id
SESSIONS, CHOSEN_SESSION = "person_sessions", "person_chosen_session"
SIGNATURES_PER_ROW = 5
PENDING_FIX = "person_pending_fix"  # the Unlock / Clear block / Revoke waiting for its confirmation
FIX_RESULT = "person_fix_result"  # ("done" | "nothing" | "failed", what it did), shown until another search
REFUSED_TABLE, REFUSED_ROWS = "refused_now", "refused_now_rows"  # the list shown before any search
DEVICES_TABLE = "person_devices"
DEVICE_RESULT = "person_device_result"  # a Revoke's ("done" | "nothing", what it did); failures: FIX_RESULT
# Why a device token stopped counting (device_tokens.revoked_reason), for staff.
REVOKED_WORDS = {
    "staff": "Revoked by staff",
    "failures": "Revoked after rejected sign-ins in a row",
    "replaced": "Replaced by newer devices",
}
MATCHES_TABLE, MATCHES_ROWS = "people_matches", "people_matches_rows"  # people matching part of a name
MATCH_OPENED = "people_match_opened"  # a person was just chosen from the matches
SESSION_DRAWINGS = "person_session_drawings"  # the chosen session's drawings (scrolled into view)


def _new_search() -> None:
    browser.forget_scroll(SESSION_DRAWINGS)
    st.session_state.pop(PENDING_FIX, None)
    st.session_state.pop(FIX_RESULT, None)
    st.session_state.pop(DEVICE_RESULT, None)
    selection.reset(ATTEMPTS, CHOSEN_ATTEMPT)
    selection.reset(SESSIONS, CHOSEN_SESSION)


def account_cards(person: monitoring.Person) -> None:
    account = person.account
    if account is None:
        st.info(
            "No account has this username: this person never completed a sign-up. Their sessions are "
            "listed below.",
            icon=":material/person_off:",
        )
        return
    created, drawings, attempts = st.columns(3, border=True)
    created.metric("Account created", formatting.local_time(account.created_at, "%d %b %Y"))
    created.caption(f"at {formatting.local_time(account.created_at, '%H:%M')}")
    drawings.metric("Enrolled drawings", f"{account.enrolled_drawings}")
    total = person.attempt_total
    limit = monitoring.people.ATTEMPT_COUNT_LIMIT
    shown_total = f"more than {limit:,}" if total > limit else f"{total:,}"
    attempts.metric("Sign-in attempts", shown_total)
    if not person.attempts.empty:
        latest = person.attempts.iloc[0]
        verdict = "accepted" if latest["accepted"] else "rejected"
        attempts.caption(f"Latest {formatting.when(latest['attempted_at'])}, {verdict}")


def lock_and_blocks(person: monitoring.Person) -> None:
    """What stops this person from signing in now, in words, each with the action that lifts it (asked
    for, confirmed, then run and logged under the staff member's name); the result and the state read
    afresh follow at once."""
    st.markdown("**Sign-in locks and limits**")
    if person.account is None:
        st.caption("Only a registered person can sign in.")
        return
    now = datetime.now(UTC)
    found = sign_in_blocks.read(
        data.reads(), person.account.username, person.attempts, data.service().settings, now
    )
    pending = st.session_state.get(PENDING_FIX)
    fix_result()
    if not found.blocks:
        st.success("Nothing stops this person from signing in.", icon=":material/lock_open:")
    for number, block in enumerate(found.blocks):
        icon = ":material/lock:" if block.kind == "lock" else ":material/hourglass_top:"
        st.warning(block.text, icon=icon)
        _fix_button(block.fix, f"sign_in_fix_{number}", pending)
    if found.unlock_all is not None:
        _fix_button(found.unlock_all, "sign_in_fix_all", pending)
    for note in found.notes:
        st.caption(note)
    confirmation()
    staff_name = formatting.plain(auth.staff_name())
    st.caption(f"Actions are recorded in the staff log (Maintenance) as {staff_name}.")


def remembered_devices(username: str) -> None:
    """The account's device tokens (never the token itself): a sign-in from a remembered device is not
    stopped by what other devices did. Revoke one (chosen in the table) or all, confirmed and logged."""
    st.markdown("**Remembered devices**")
    tokens = data.reads().device_tokens(username)
    if not tokens:
        st.caption("No device is remembered: each sign-in of this person counts as from an unknown device.")
        return

    def shown(value: datetime | None, missing: str) -> str:
        return missing if value is None else formatting.local_time(value, "%Y-%m-%d %H:%M")

    frame = pd.DataFrame(
        {
            "state": [_device_state(t) for t in tokens],
            "created": [shown(t.created_at, "—") for t in tokens],
            "last_used": [shown(t.last_used_at, "never") for t in tokens],
            "expires": [shown(t.expires_at, "—") for t in tokens],
            "failures": [t.failures for t in tokens],
            "device": [t.user_agent or "unknown" for t in tokens],
            "address": [t.ip or "unknown" for t in tokens],
        }
    )
    picked = st.dataframe(
        frame,
        key=DEVICES_TABLE,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        column_config={
            "state": st.column_config.TextColumn("State"),
            "created": st.column_config.TextColumn("Remembered since"),
            "last_used": st.column_config.TextColumn("Last sign-in"),
            "expires": st.column_config.TextColumn("Forgotten after"),
            "failures": st.column_config.NumberColumn("Rejected in a row"),
            "device": st.column_config.TextColumn("Device"),
            "address": st.column_config.TextColumn("Address", help="Where the device was first remembered"),
        },
    )
    live = [t for t in tokens if t.live]
    st.caption(
        f"{len(live)} of {len(tokens)} remembered now; a device is forgotten "
        f"{data.service().settings.device_token_days} days after its last accepted sign-in. Choose a row to "
        "revoke that device."
    )
    device_result = st.session_state.get(DEVICE_RESULT)
    if device_result:
        show = st.success if device_result[0] == "done" else st.info
        show(device_result[1], icon=":material/check_circle:")
    rows = picked.selection.rows if picked is not None else []
    chosen = tokens[rows[0]] if rows and rows[0] < len(tokens) else None
    pending = st.session_state.get(PENDING_FIX)
    name = formatting.plain(username)
    if chosen is not None and chosen.live:
        device = f"the device remembered since {formatting.local_time(chosen.created_at, '%d %b %Y %H:%M')}"
        revoke = sign_in_blocks.Fix(
            kind="revoke",
            button="Revoke this device",
            question=(
                f"Revoke {device} for **{name}**? Its next sign-ins count as from an unknown device: "
                "address locks and the account's slowdown apply to them."
            ),
            confirm="Revoke",
            username=username,
            token_id=chosen.id,
            shown_as=device,
        )
        _fix_button(revoke, "revoke_device", pending)
    if len(live) > 1:
        every = f"all {len(live)} remembered devices"
        revoke_all = sign_in_blocks.Fix(
            kind="revoke",
            button=f"Revoke {every}",
            question=f"Revoke {every} of **{name}**? Every device then signs in as an unknown one.",
            confirm="Revoke all",
            username=username,
            shown_as=every,
        )
        _fix_button(revoke_all, "revoke_all_devices", pending)
    confirmation(kinds=("revoke",))


def _device_state(token: device_tokens.DeviceToken) -> str:
    return "Remembered" if token.live else REVOKED_WORDS.get(token.revoked_reason or "", "Expired")


def fix_result() -> None:
    result = st.session_state.get(FIX_RESULT)
    if result and result[0] != "failed":
        kind, message = result
        (st.success if kind == "done" else st.info)(message, icon=":material/check_circle:")


def fix_not_done() -> None:
    """An Unlock / Clear block the database did not answer: said above the part that offered it, which
    shows the database's notice instead when it cannot read the database either."""
    result = st.session_state.get(FIX_RESULT)
    if result and result[0] == "failed":
        st.error(result[1], icon=":material/cloud_off:")


def confirmation(kinds: tuple[str, ...] = ("unlock", "clear")) -> None:
    """The action waiting for its confirmation, if any of these kinds: what exactly it will do, Confirm
    or Cancel (shown beside what offered it)."""
    pending: sign_in_blocks.Fix | None = st.session_state.get(PENDING_FIX)
    if pending is None or pending.kind not in kinds:
        return
    confirm_then_run(
        pending.question,
        pending.confirm,
        _run_fix,
        pending_key=PENDING_FIX,
        key="sign_in_fix",
        icon=":material/help:",
    )


@outage.section()
def refused_now() -> None:
    """Who is refused now, without knowing a name: click a person to open them, an address to clear
    its block."""
    st.markdown("**Refused now**")
    now = datetime.now(UTC)
    rows = sign_in_blocks.refused_now(data.reads(), now)
    st.session_state[REFUSED_ROWS] = rows
    fix_result()
    if not rows:
        st.caption(
            "Nobody is refused now: no address is locked out of an account, no account is slowed and no "
            "address is over a limit."
        )
        return
    shown = pd.DataFrame(
        {
            "who": [r.who for r in rows],
            "what": [r.what for r in rows],
            "until": formatting.localize_columns(pd.DataFrame({"u": [r.until for r in rows]}), ["u"])["u"],
            "left": [formatting.time_left((r.until - now).total_seconds()) for r in rows],
        }
    )
    selection.clickable_table(
        shown,
        REFUSED_TABLE,
        _open_refused,
        hide_index=True,
        column_config={
            "who": st.column_config.TextColumn("Who"),
            "what": st.column_config.TextColumn("Why", width="large"),
            "until": st.column_config.DatetimeColumn(formatting.zoned("Until"), format="HH:mm"),
            "left": st.column_config.TextColumn("Left"),
        },
    )
    st.caption("Click a person to open them, or an address to clear its block.")
    confirmation()


def _open_refused() -> None:
    rows: list[sign_in_blocks.RefusedNow] = st.session_state.get(REFUSED_ROWS, [])
    picked = st.session_state[REFUSED_TABLE]["selection"]["rows"]
    if not picked or picked[0] >= len(rows):
        return
    row = rows[picked[0]]
    if row.username is not None:
        st.session_state[SEARCH_KEY] = row.username
        _new_search()
    elif row.fix is not None:
        _ask(row.fix)


def _fix_button(fix: sign_in_blocks.Fix, key: str, pending: sign_in_blocks.Fix | None) -> None:
    """The button that asks to confirm `fix` (disabled while another waits for its answer)."""
    st.button(fix.button, key=key, on_click=_ask, args=(fix,), disabled=pending is not None)


def _ask(fix: sign_in_blocks.Fix) -> None:
    st.session_state[PENDING_FIX] = fix
    st.session_state.pop(FIX_RESULT, None)
    st.session_state.pop(DEVICE_RESULT, None)


def _run_fix() -> None:
    fix: sign_in_blocks.Fix | None = st.session_state.pop(PENDING_FIX, None)
    if fix is None:
        return
    name = formatting.plain(fix.username)
    try:
        st.session_state[DEVICE_RESULT if fix.kind == "revoke" else FIX_RESULT] = _fixed(fix, name)
    except DATABASE_UNAVAILABLE as error:
        if fix.kind == "unlock":
            what = f"Sign-in was not unlocked for {name} {fix.shown_as}"
        elif fix.kind == "revoke":
            what = f"{fix.shown_as.capitalize()} of {name} was not revoked"
        else:
            what = f"The {words.limit_name(fix.limit)} for {fix.shown_as} was not cleared"
        st.session_state[FIX_RESULT] = ("failed", outage.not_done(what, error))


def _fixed(fix: sign_in_blocks.Fix, name: str) -> tuple[str, str]:
    """Run the fix; what it did, for fix_result()."""
    staff = data.staff()
    if fix.kind == "revoke":
        revoked = staff.revoke_device_token(fix.username, fix.token_id)
        if revoked:
            return ("done", f"{name} is no longer remembered on {fix.shown_as}.")
        return ("nothing", f"Nothing to revoke for {name}: {fix.shown_as} was no longer remembered.")
    if fix.kind == "unlock":
        if staff.unlock_sign_in(fix.username, fix.address):
            return ("done", f"Unlocked sign-in for {name} {fix.shown_as}.")
        return ("nothing", f"Nothing to unlock for {name} {fix.shown_as}: the lock had already ended.")
    family = rate_limits.Family(fix.limit) if fix.limit else None
    if staff.clear_rate_limit(fix.subject, family):
        return ("done", f"Cleared the {words.limit_name(fix.limit)} for {fix.shown_as}.")
    return ("nothing", f"Nothing to clear for {fix.shown_as}: its limit was already whole again.")


def attempts_table(person: monitoring.Person) -> str | None:
    """The attempts, newest first; returns the sign-in session of the attempt chosen (the latest until
    another is clicked)."""
    attempts = person.attempts
    shown = pd.DataFrame(
        {
            "when": formatting.localize_columns(attempts, ["attempted_at"])["attempted_at"],
            "verdict": attempts["accepted"].map({True: "Accepted", False: "Rejected"}),
            "reason": [
                words.reason(code, check)
                for code, check in zip(attempts["reason_code"], attempts["decided_by"])
            ],
            "score": attempts["score"],
            "threshold": attempts["threshold"],
            "ip": attempts["ip"].map(words.address),
            "device": attempts["user_agent"].map(devices.describe),
            "drawing": [
                "kept" if kept else "summary only" if summarised else "removed"
                for kept, summarised in zip(attempts["drawing_kept"], attempts["summarised"])
            ],
        }
    )
    ids = list(attempts["session_id"])
    chosen = selection.sticky_table(
        ATTEMPTS,
        shown,
        ids,
        CHOSEN_ATTEMPT,
        default=ids[0],
        hide_index=True,
        height=selection.table_height(len(shown), 420),
        column_config={
            "when": st.column_config.DatetimeColumn(formatting.zoned("When"), format="YYYY-MM-DD HH:mm:ss"),
            "verdict": st.column_config.TextColumn("Verdict"),
            "reason": st.column_config.TextColumn("Reason", width="medium"),
            "score": st.column_config.NumberColumn(
                "Score",
                format="%.2f",
                help="How far the drawing is from the enrolled signatures (no unit): lower is closer.",
            ),
            "threshold": st.column_config.NumberColumn(
                "Limit", format="%.2f", help="Accepted when the score is at or below this person's limit."
            ),
            "ip": st.column_config.TextColumn("Client address"),
            "device": st.column_config.TextColumn("Device", width="medium"),
            "drawing": st.column_config.TextColumn("Drawing"),
        },
    )
    if person.attempts_truncated:
        st.caption(f"The latest {len(attempts):,} of {person.attempt_total:,} attempts.")
    return str(chosen) if chosen in ids else None


def attempt_beside_signatures(
    person: monitoring.Person, row: int, enrolled: list[monitoring.EnrolledDrawing]
) -> None:
    attempt = person.attempts.iloc[row]
    verdict = "Accepted" if attempt["accepted"] else "Rejected"
    score = (
        ""
        if pd.isna(attempt["score"])
        else f", score {attempt['score']:.2f} (limit {attempt['threshold']:.2f})"
    )
    st.markdown(
        f"**Attempt of {formatting.when(attempt['attempted_at'])}**: {verdict}, "
        f"{formatting.plain(words.reason(attempt['reason_code'], attempt['decided_by']).lower())}{score}"
    )
    address, device = st.columns([1, 3])
    with address:
        st.caption("Client address")
        st.text(words.address(attempt["ip"]))
    with device:
        st.caption("Device")
        session_view.device(attempt["user_agent"])
    mine, theirs = st.columns([1, SIGNATURES_PER_ROW - 1])
    with mine:
        st.caption("This attempt")
        detail = data.reads().session_detail(attempt["session_id"])
        if detail is not None and detail.steps:
            step = detail.steps[0]
            session_view.drawing(step.image, step.image_problem, alt="The drawing of this sign-in attempt")
        else:
            where = "archived" if attempt["summarised"] else "removed"
            st.info(
                f"Not kept any more: its sign-in session was {where} (the archive keeps a summary only, "
                "without drawings).",
                icon=":material/hide_image:",
            )
    signatures = [d for d in enrolled if d.step_type == "signature"]
    with theirs:
        st.caption(f"Enrolled signatures ({len(signatures)})")
        if not signatures:
            st.warning("This account has no enrolled signature.", icon=":material/warning:")
        for column, signature in zip(st.columns(max(1, len(signatures))), signatures):
            with column:
                session_view.drawing(
                    signature.image,
                    signature.image_problem,
                    alt=f"Enrolled signature, sign-up step {signature.step_number}",
                )


def sign_in_attempts(person: monitoring.Person, enrolled: list[monitoring.EnrolledDrawing]) -> None:
    st.markdown("**Sign-in attempts**")
    if person.account is None:
        st.caption("Only a registered person can sign in.")
        return
    if person.attempts.empty:
        st.info("No sign-in attempt yet.", icon=":material/login:")
        return
    chosen = attempts_table(person)
    if chosen is None:
        st.caption("Click an attempt to see its drawing beside the enrolled signatures.")
        return
    attempt_beside_signatures(person, list(person.attempts["session_id"]).index(chosen), enrolled)


def sessions_table(person: monitoring.Person) -> None:
    st.markdown("**Enrollment sessions**")
    sessions = person.sessions
    now = pd.Timestamp.now(tz="UTC")
    shown = pd.DataFrame(
        {
            "started": formatting.localize_columns(sessions, ["created_at"])["created_at"],
            "flow": sessions["flow_type"].map(words.flow),
            "status": [
                words.status(code, summary)
                for code, summary in zip(sessions["status"], sessions["summary_only"])
            ],
            "steps": [
                words.steps(done, total)
                for done, total in zip(sessions["step_count"], sessions["total_steps"])
            ],
            "ended": [
                _ended(status, completed, expires, now)
                for status, completed, expires in zip(
                    sessions["status"], sessions["completed_at"], sessions["expires_at"]
                )
            ],
            "session_id": sessions["session_id"],
        }
    )
    ids = list(sessions["session_id"])
    chosen = selection.sticky_table(
        SESSIONS,
        shown,
        ids,
        CHOSEN_SESSION,
        default=person.searched_session_id,
        hide_index=True,
        height=selection.table_height(len(shown), 420),
        column_config={
            "started": st.column_config.DatetimeColumn(
                formatting.zoned("Started"), format="YYYY-MM-DD HH:mm"
            ),
            "flow": st.column_config.TextColumn("Flow"),
            "status": st.column_config.TextColumn("Status"),
            "steps": st.column_config.TextColumn("Steps saved"),
            "ended": st.column_config.TextColumn("Ended"),
            "session_id": st.column_config.TextColumn("Session id"),
        },
    )
    if len(sessions) >= monitoring.SESSION_LIMIT:
        st.caption(f"The latest {monitoring.SESSION_LIMIT} sessions.")
    if chosen not in ids:
        st.caption("Click a session to see its drawings.")
        return
    with st.container(key=SESSION_DRAWINGS):
        detail = data.reads().session_detail(str(chosen))
        if detail is None:
            session_view.session_gone(data.reads(), str(chosen))
        else:
            session_view.show_session(detail)
    if st.session_state.get(CHOSEN_SESSION) == chosen:  # clicked (not the session searched by): show it
        browser.scroll_into_view_once(SESSION_DRAWINGS, chosen)


def _ended(
    status: str, completed_at: pd.Timestamp | None, expires_at: pd.Timestamp | None, now: pd.Timestamp
) -> str:
    if status == "completed":
        return f"completed {formatting.when(completed_at)}"
    if expires_at is None or pd.isna(expires_at):
        return "—"
    if status == "expired" or expires_at <= now:
        return f"expired {formatting.when(expires_at)}"
    return formatting.time_left((expires_at - now).total_seconds())


def enrolled_gallery(enrolled: list[monitoring.EnrolledDrawing]) -> None:
    with st.expander(f"All enrolled drawings ({len(enrolled)})"):
        for start in range(0, len(enrolled), session_view.STEPS_PER_ROW):
            row = enrolled[start : start + session_view.STEPS_PER_ROW]
            for column, drawn in zip(st.columns(session_view.STEPS_PER_ROW), row):
                with column:
                    st.markdown(f"**Step {drawn.step_number}** · {drawn.step_type.capitalize()}")
                    st.caption(formatting.plain(drawn.instruction))
                    session_view.drawing(
                        drawn.image,
                        drawn.image_problem,
                        alt=f"Step {drawn.step_number} drawing: {drawn.instruction}",
                    )


@st.fragment(run_every=view.refresh_seconds())
def person_page(search: str) -> None:
    if st.session_state.pop(MATCH_OPENED, False):
        st.rerun()
    fix_not_done()
    person_details(search)


def _open_match() -> None:
    names: list[str] = st.session_state.get(MATCHES_ROWS, [])
    picked = st.session_state[selection.table_key(MATCHES_TABLE)]["selection"]["rows"]
    if picked and picked[0] < len(names):
        st.session_state[SEARCH_KEY] = names[picked[0]]
        _new_search()
        selection.reset(MATCHES_TABLE, MATCHES_ROWS + "_chosen")
        # The table is in the person fragment, whose reruns keep the search it was given: the whole page
        # runs again instead (person_page), so the box and the person both show the name chosen.
        st.session_state[MATCH_OPENED] = True


def matching_people(text: str, matches: pd.DataFrame, exact: bool) -> None:
    """The people whose username holds the text, to click one open."""
    how = "start with" if len(text) < 3 else "contain"
    others = matches[matches["username"].str.lower() != text.lower()] if exact else matches
    if others.empty:
        return
    st.session_state[MATCHES_ROWS] = list(others["username"])
    # A short title: the table's tools, shown over the line above it, would hide the end of a long one.
    st.markdown("**Other people found**" if exact else "**People found**")
    shown = pd.DataFrame(
        {
            "username": others["username"],
            "account": others["has_account"].map({True: "Registered", False: "No account"}),
            "last_seen": formatting.localize_columns(others, ["last_seen"])["last_seen"],
        }
    )
    selection.clickable_table(
        shown,
        selection.table_key(MATCHES_TABLE),
        _open_match,
        hide_index=True,
        column_config={
            "username": st.column_config.TextColumn("Username"),
            "account": st.column_config.TextColumn("Account"),
            "last_seen": st.column_config.DatetimeColumn(
                formatting.zoned("Latest session"),
                format="YYYY-MM-DD HH:mm",
                help="When their latest session started (or their account was made).",
            ),
        },
    )
    limit = monitoring.PEOPLE_MATCH_LIMIT
    more = (
        f" The first {limit} are listed: type more of the name to narrow them."
        if len(matches) >= limit
        else ""
    )
    st.caption(f"Their usernames {how} “{formatting.plain(text)}”. Click a person to open them.{more}")


@outage.section(refreshes=True)
def person_details(search: str) -> None:
    reads = data.reads()
    text = search.strip()
    try:
        person = reads.find_person(search)
        by_name = not text.startswith(monitoring.people.SESSION_ID_PREFIX)
        matches = reads.people_matching(text) if by_name else pd.DataFrame()
    except ValueError as error:
        st.error(f"Username or session id: {formatting.plain(error)}.", icon=":material/error:")
        return
    if person is None and len(matches) == 1:  # the one person holding that part of a name
        person = reads.find_person(str(matches["username"].iloc[0]))
        if person is not None:
            how = "starting with" if len(text) < 3 else "containing"
            st.caption(f"The only username {how} “{formatting.plain(text)}”.")
    elif person is None and len(matches) > 1:
        with st.container(border=True):
            matching_people(text, matches, exact=False)
        return
    if person is None:
        st.info(
            f"Nobody is known as {formatting.plain(text)}: no account, no session and no summary has a "
            "username containing it, or this session id.",
            icon=":material/person_search:",
        )
        return
    st.subheader(formatting.plain(person.username), anchor=False)
    if person.searched_session_id:
        st.caption(f"Found by the session id {formatting.plain(person.searched_session_id)}.")
    if len(matches) > 1:
        with st.expander(f"Other people whose username contains “{formatting.plain(text)}”"):
            matching_people(text, matches, exact=True)
    account_cards(person)
    with st.container(border=True):
        lock_and_blocks(person)
    enrolled = reads.enrolled_drawings(person.account.user_id) if person.account else []
    with st.container(border=True):
        sign_in_attempts(person, enrolled)
    with st.container(border=True):
        sessions_table(person)
    if person.account is not None:  # after the attempts and sessions: the order staff already know
        with st.container(border=True):
            remembered_devices(person.account.username)
    if enrolled:
        enrolled_gallery(enrolled)
    st.caption(view.updated_note())


st.title("People", anchor=False)
st.text_input(
    "Username or session id",
    key=SEARCH_KEY,
    on_change=_new_search,
    max_chars=monitoring.people.SEARCH_MAX_LENGTH,
    placeholder="e.g. maria, john_doe, or sess_…",
    help="A username or a part of it (any case; under 3 characters, the start of a username), or the "
    "id of any of the person's sessions.",
)
search = st.session_state.get(SEARCH_KEY) or ""
if search.strip():
    person_page(search)
else:
    st.info(
        "Type a username, a part of one, or a session id to see that person's account, sign-in attempts "
        "and sessions.",
        icon=":material/person_search:",
    )
    with st.container(border=True):
        fix_not_done()
        refused_now()
