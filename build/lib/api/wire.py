"""The API's JSON names for the core's fields: the design note's camelCase (sessionId, flowType,
useTemporaryData) lives here only. enrollment_core speaks Python names (enrollment_core.commands)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from enrollment_core import ClientInfo
from enrollment_core.commands import SaveDrawing
from enrollment_core.errors import ValidationError

# core field -> JSON field, where they differ.
JSON_NAMES = {"session_id": "sessionId", "flow_type": "flowType", "use_temporary_data": "useTemporaryData"}
_CORE_NAMES = {json: core for core, json in JSON_NAMES.items()}
# The API's deviceToken is both of ClientInfo's secrets (the device token, the session's secret): an
# error about either names it.
_CLIENT_FIELDS = {"device_token": "deviceToken", "session_secret": "deviceToken"}


def json_field(core_field: str | None) -> str | None:
    """The JSON name of a core field (an error's `field`)."""
    if core_field is None:
        return None
    return JSON_NAMES.get(core_field) or _CLIENT_FIELDS.get(core_field, core_field)


def with_device_token(client: ClientInfo, device_token: str | None) -> ClientInfo:
    """The client as the core sees it, holding the request's deviceToken as both its device token
    (sign-in limits) and its session secret (a session started with it continues only with it)."""
    if device_token is None:
        return client
    return replace(client, device_token=device_token, session_secret=device_token)


def save_drawing_command(body: Any) -> SaveDrawing:
    """A save-drawing JSON body as the core's command."""
    if not isinstance(body, Mapping):
        raise ValidationError("the request body must be a JSON object", field=None)
    names = {str(key): value for key, value in body.items()}
    return SaveDrawing.from_fields({_CORE_NAMES.get(key, key): value for key, value in names.items()})


def save_drawing_json(command: SaveDrawing) -> dict[str, Any]:
    """The save-drawing JSON body of a command (for clients written in Python: tests, bench, docs).
    Fields left None are left out, as the design note's client leaves them out."""
    return {JSON_NAMES.get(name, name): value for name, value in vars(command).items() if value is not None}
