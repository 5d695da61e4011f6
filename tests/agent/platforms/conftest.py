"""Fixtures for the desktop-integration tests."""

import pytest

from tests.agent.platforms.desktop_env import Home, prepare_home


@pytest.fixture
def desktop_home(tmp_path, monkeypatch) -> Home:
    """A user's home under ``tmp_path``, with the Linux backend and no real system folders."""
    return prepare_home(tmp_path, monkeypatch)
