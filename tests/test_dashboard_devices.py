"""People page: a person's remembered devices (device tokens: when remembered, last used, forgotten
after; never the token) and Revoke, confirmed and written to the staff log (Streamlit AppTest on a real
database, the real service issuing the tokens)."""

from __future__ import annotations

import psycopg
import pytest

from enrollment_core import device_tokens
from enrollment_core.service import ClientInfo, EnrollmentService
from tests.flows import draw_signin, draw_signup
from tests.test_dashboard_app import click, signed_in_app
from tests.test_dashboard_sign_in_blocks import env, find, real, staff_log  # noqa: F401 (fixtures)

PHONE = ClientInfo("iPhone Safari", "198.51.100.7")


def test_remembered_devices_are_listed_and_revoked_after_confirmation(
    env: str,  # noqa: F811
    db: psycopg.Connection,
    real: EnrollmentService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = real.register("nina", draw_signup(real, "nina"), client=PHONE).device_token
    second = real.login("nina", draw_signin(real, "nina"), client=PHONE).device_token
    assert first and second and first != second
    at = find(signed_in_app(monkeypatch, "app_pages/people.py", staff_name="Dana Ops"), "nina")

    [table] = [d for d in at.dataframe if "state" in d.value.columns]
    shown = table.value
    assert list(shown["state"]) == ["Remembered", "Remembered"]
    assert list(shown["device"]) == ["iPhone Safari"] * 2 and list(shown["address"]) == ["198.51.100.7"] * 2
    assert first not in shown.to_string() and second not in shown.to_string()  # never the token
    assert any("2 of 2 remembered now" in c.value for c in at.caption)

    click(at, "Revoke all 2 remembered devices")
    question = at.warning[-1].value
    assert question.startswith("Revoke all 2 remembered devices of **nina**?")
    assert staff_log(db) == []  # nothing happens before the confirmation
    at.button(key="confirm_sign_in_fix").click().run()
    assert not at.exception
    assert "nina is no longer remembered on all 2 remembered devices." in [s.value for s in at.success]
    [table] = [d for d in at.dataframe if "state" in d.value.columns]
    assert list(table.value["state"]) == ["Revoked by staff"] * 2
    assert [t.live for t in device_tokens.tokens_for_user(real.pool, "nina")] == [False, False]
    assert staff_log(db) == [
        {"staff_name": "Dana Ops", "action": "revoke_device_token", "target": "nina", "succeeded": True,
         "result": {"username": "nina", "token_id": None, "revoked": 2}}
    ]  # fmt: skip
    # The revoked token no longer makes a known device.
    result = real.login("nina", draw_signin(real, "nina", sample=51), client=ClientInfo(device_token=first))
    assert result.accepted and not result.known_device
