"""Fixtures for the window tests: a real X display, a tray host, queue servers and agents."""

import pytest

from agent import i18n
from tests.agent.ui.support import agent, display, make_module, tk_root, tray_host  # noqa: F401


@pytest.fixture(autouse=True)
def english_again():
    """Every test starts and ends with the agent speaking English."""
    i18n.use_language("en")
    yield
    i18n.use_language("en")
