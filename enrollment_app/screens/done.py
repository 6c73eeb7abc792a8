"""The end of the flow: every step is saved, so the account is created (signup) or the signature is
checked (sign-in), and the person sees the outcome: account created, signed in, rejected with the
reason and the attempts left, or locked for this network until when. Never the verifier's score or
threshold: they would tell a forger how close they came (staff see them in the dashboard)."""

from __future__ import annotations

import streamlit as st

from enrollment_core import EnrollmentService, errors, step_plan

from .. import browser, client, flow, state
from ..flow import Where
from ..state import LockedBeforeChecking, SignInOutcome, SignInVerdict
from .navigation import go, start_page_button, stay
from .problems import locked_message, problem_screen, support, unreachable_screen, wait_screen

# The session cannot be completed (here): locate() shows why (ended, or it continues in another browser).
SESSION_GONE = (errors.SessionClosed, errors.SessionExpired, errors.SessionNotFound, errors.SessionElsewhere)


def finish_screen(service: EnrollmentService, where: Where) -> None:
    """Every step is saved: register (signup) or verify (signin). Also reached after a reload that
    lost the answer, so this is the one place that completes a session."""
    if where.flow_type == "signup":
        create_account(service, where)
    else:
        check_signature(service, where)


def create_account(service: EnrollmentService, where: Where) -> None:
    try:
        with st.spinner("Creating your account…"):
            created = service.register(
                where.username, where.session_id, use_temporary_data=True, client=client.client_info()
            )
    except errors.UsernameUnavailable:
        problem_screen(
            f"Someone registered the username '{where.username}' while you were drawing, so "
            "this enrollment cannot become an account. Please start again with another name."
        )
    except SESSION_GONE:
        stay()  # locate() shows what became of the session
    except errors.DATABASE_UNAVAILABLE as exc:  # nothing done; Try again registers (this screen again)
        unreachable_screen(exc, "Your account is not created yet", flow.ACCOUNT_NOT_CREATED)
    else:
        # This browser now knows the account: its sign-ins are a known device's (device_tokens.py).
        browser.keep_device_token(created.username, created.device_token)
        signup_done_screen(where)


def check_signature(service: EnrollmentService, where: Where) -> None:
    """Call login once, keep its outcome for this tab (a rerun shows it without asking again), show it."""
    session_id = where.session_id
    assert session_id is not None  # locate() names the session of every finished flow
    outcome: SignInOutcome
    try:
        with st.spinner("Checking your signature…"):
            result = service.login(
                where.username, session_id, use_temporary_data=True, client=client.client_info(where.username)
            )
    except errors.AccountLocked as exc:
        outcome = LockedBeforeChecking(exc.locked_until)
    except errors.RateLimited as exc:  # nothing was checked: the same drawing can be checked later
        wait_screen(exc.message)
        return
    except SESSION_GONE:
        stay()
    except errors.DATABASE_UNAVAILABLE as exc:  # nothing checked: Try again checks it
        unreachable_screen(exc, "Your signature is not checked yet", flow.SIGNATURE_NOT_CHECKED)
        return
    except errors.EnrollmentError as exc:
        reason = flow.error_message(exc, service.settings.session_lifetime)
        problem_screen(f"Your signature could not be checked: {reason}")
        return
    else:
        outcome = SignInVerdict.of(result)
        if result.device_token_revoked:  # rejections in a row with it: this browser is unknown again
            browser.forget_device_token(result.username)
        elif result.accepted:
            browser.keep_device_token(result.username, result.device_token)
    state.forget_name_checks()  # "Try again" asks afresh whether this address is locked
    state.remember_sign_in(session_id, outcome)
    sign_in_outcome_screen(where, outcome)


# ---------------------------------------------------------------- outcomes


def signup_done_screen(where: Where) -> None:
    st.title("Account created")
    st.success(f"Welcome, **{where.username}**! Your account is ready.", icon=":material/verified:")
    steps = where.progress.total_steps if where.progress else step_plan.total_steps("signup")
    st.write(
        f"Your signature and drawings ({steps} steps) are saved. "
        "Next time, sign in by drawing your signature."
    )
    sign_in_button(where, "Sign in now", ":material/login:")
    start_page_button()


def sign_in_button(where: Where, label: str, icon: str) -> None:
    """The main button that starts a sign-in for this username."""
    if st.button(label, type="primary", icon=icon):
        go(sign_in_params(where))


def sign_in_outcome_screen(where: Where, outcome: SignInOutcome) -> None:
    if isinstance(outcome, LockedBeforeChecking):
        locked_screen(outcome)
    elif outcome.accepted:
        signed_in_screen(where)
    else:
        rejected_screen(where, outcome)


def signed_in_screen(where: Where) -> None:
    st.title("Signed in")
    st.success(f"Welcome back, **{where.username}**! {flow.verdict_words('match')}",
               icon=":material/verified:")
    start_page_button("Done")


def rejected_screen(where: Where, verdict: SignInVerdict) -> None:
    st.title("Sign-in rejected")
    words = flow.verdict_words(verdict.reason_code)
    if verdict.locked_until is not None:  # this rejection locked signing in from here: one notice says both
        st.error(f"{words} {locked_message(verdict.locked_until)}", icon=":material/lock:")
        support()
        start_page_button()
        return
    st.error(words, icon=":material/block:")
    left = verdict.failures_left
    st.caption(
        f"{left} more rejected attempt{'s' if left != 1 else ''} will lock the account "
        "from this network for a while."
    )
    sign_in_button(where, "Try again", ":material/replay:")
    support()
    start_page_button()


def locked_screen(outcome: LockedBeforeChecking) -> None:
    st.title("Signing in is locked for now")
    st.error(locked_message(outcome.locked_until), icon=":material/lock:")
    support()
    start_page_button()


def sign_in_params(where: Where) -> dict[str, str]:
    """The URL of a new sign-in attempt by the same person (step 1, nothing drawn)."""
    assert where.username is not None  # every session has its username
    return flow.start_params("signin", where.username)


# ---------------------------------------------------------------- reopened links


def completed_screen(service: EnrollmentService, where: Where) -> None:
    """Reopening the link of a finished enrollment."""
    if where.flow_type == "signup":
        signup_done_screen(where)
        return
    session_id = where.session_id
    assert session_id is not None  # locate() names the session of every completed flow
    outcome = state.remembered_sign_in(session_id)
    if outcome is None:  # reopened after a reload or in another tab: the database kept the verdict
        verdict = service.get_login_result(session_id, client.client_info(where.username))
        outcome = SignInVerdict.of(verdict) if verdict else None
    if outcome is not None:
        sign_in_outcome_screen(where, outcome)
        return
    st.title("Sign-in already checked")
    st.info(
        "This sign-in attempt was already used. To sign in again, draw your signature once more.",
        icon=":material/info:",
    )
    if st.button("Sign in again", type="primary", icon=":material/login:"):
        go(sign_in_params(where))
    start_page_button()
