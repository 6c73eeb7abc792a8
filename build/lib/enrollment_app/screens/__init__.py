"""The screens of the enrollment app, one module per stage of the flow:

  start.py       choose Create account or Sign in and a username
  drawing.py     a drawing step: the pad, Undo / Clear, Save and continue (Sign), Start over
  done.py        the end: account created, or the sign-in's outcome (also when its link is reopened)
  problems.py    expired, not found, continues in another browser, something went wrong, server
                 unreachable, locked, please wait
  navigation.py  going to another screen (the URL is the state), a confirmation for the next one

Which screen to show is decided in flow.py (from the URL and the database); what a tab remembers
between reruns is in state.py; the rules are the core service's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from enrollment_core import EnrollmentService

from .. import browser, client, flow, state
from ..flow import Where
from .done import completed_screen, finish_screen
from .drawing import drawing_screen
from .navigation import take_flash
from .problems import elsewhere_screen, expired_screen, missing_screen, unreachable_screen, waiting_screen
from .start import checked_name, start_screen

__all__ = ["place", "show", "unreachable_screen"]


def place(service: EnrollmentService, params: Mapping[str, str]) -> Where:
    """The place in the flow these URL parameters name (flow.locate_or_last: when the database cannot
    answer, the drawing step this tab showed for them last)."""
    kept = browser.current()
    where = flow.locate_or_last(
        params, service, checked_name, state.last_place(params), client.client_info(), kept.answered
    )
    state.remember_place(params, where)
    return where


def show(service: EnrollmentService, where: Where) -> None:
    """Draw the screen for this place in the flow."""
    if where.kind != "drawing":
        take_flash()  # a confirmation is for the next drawing step only: none lingers elsewhere
    if where.kind == "start":
        start_screen(service, where)
    elif where.kind == "drawing":
        drawing_screen(service, where)
    elif where.kind == "finish":
        finish_screen(service, where)
    elif where.kind == "completed":
        completed_screen(service, where)
    elif where.kind == "expired":
        expired_screen(service, where)
    elif where.kind == "missing":
        missing_screen(where)
    elif where.kind == "elsewhere":
        elsewhere_screen(where)
    elif where.kind == "waiting":
        waiting_screen()
    else:
        assert_never(where.kind)
