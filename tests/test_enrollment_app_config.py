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


def test_no_element_is_ever_sent_as_a_reference_to_a_cached_copy(app_config: None) -> None:
    # A reference to a copy the browser had dropped killed the page after fast taps ("Cached ForwardMsg
    # MISS"); tests/browser/test_enrollment_app_fast_taps.py taps fast for real.
    assert config.get_option("global.minCachedMessageSize") >= 1e15


def test_no_streamlit_menu_or_traceback_for_the_people_enrolling(app_config: None) -> None:
    assert config.get_option("client.toolbarMode") == "minimal"
    assert config.get_option("client.showErrorDetails") == "none"
    assert config.get_option("theme.primaryColor") == "#1d4ed8"
