"""The dummy backend: no capabilities, creates nothing, removes nothing."""

from pathlib import Path

import pytest

from agent.platforms import _dummy


def test_dummy_has_no_capabilities():
    """Every HAS_* flag is false, so callers skip every step."""
    flags = ("HAS_SHORTCUT", "HAS_MENU_ENTRY", "HAS_AUTOSTART", "HAS_ALL_USERS")
    assert [getattr(_dummy.Desktop, flag) for flag in flags] == [False] * 4


def test_dummy_creates_nothing(tmp_path, monkeypatch):
    """Asking anyway raises NotImplementedError and no file appears."""
    monkeypatch.setenv("HOME", str(tmp_path))
    desktop = _dummy.Desktop("Acme")
    with pytest.raises(NotImplementedError):
        desktop.create_sos_shortcut([str(tmp_path / "agent")])
    assert list(tmp_path.iterdir()) == []


def test_dummy_remove_all_forgets_adopted_items_and_leaves_files(tmp_path):
    """Adopted entries are dropped from the record without touching the files."""
    kept = tmp_path / "shortcut.desktop"
    kept.write_text("[Desktop Entry]\n")
    desktop = _dummy.Desktop("Acme")
    desktop.adopt([kept, Path("/nowhere")])
    assert desktop.remove_all() == [Path("/nowhere"), kept]
    assert desktop.created() == []
    assert kept.exists()
