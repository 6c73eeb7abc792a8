"""What a client asks the service to do, as typed commands with Python names. Values are as received
(not yet validated: the service validates them and names the field it refuses). The HTTP API maps its
JSON field names onto these in api/wire.py; the Streamlit app builds them directly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class SaveDrawing:
    """Save one drawing step. Without session_id it starts a session with step 1; with it, it continues
    that session. flow_type None: the session's flow (signup for a new session)."""

    username: Any
    step: Any
    type: Any
    signature: Any
    raw: Any
    instruction: Any = None
    metrics: Any = None
    session_id: Any = None
    flow_type: Any = None

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> SaveDrawing:
        """From a mapping of these field names; a missing one is None (validation says it is required)."""
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})
