"""The enrollment app's own Streamlit settings (enrollment_app/.streamlit/config.toml) are the ones
`streamlit run enrollment_app/app.py` uses, from the project root as ./dev start runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit import config

from enrollment_core.config import PROJECT_ROOT


@pytest.fixture
def app_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # What `streamlit run` does before it reads the options (streamlit/web/cli.py).
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setattr(config, "_main_script_path", "enrollment_app/app.py")
    config.get_config_options(force_reparse=True)
    yield
    monkeypatch.undo()
    config.get_config_options(force_reparse=True)


def test_no_full_garbage_collection_after_each_run(app_config: None) -> None:
    # A full collection after every run delayed each step's next pad by ~350 ms (docs/performance.md).
    assert config.get_option("runner.postScriptGC") is False
