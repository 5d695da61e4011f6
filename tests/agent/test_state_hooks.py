"""The state file for tests and IT diagnostics: off unless its one switch is set, atomic, nothing repeated."""

import json
import os

from agent.state_hooks import HOOKS_ENV, StateHooks


def test_without_the_switch_there_are_no_hooks(monkeypatch):
    monkeypatch.delenv(HOOKS_ENV, raising=False)
    assert StateHooks.from_env() is None


def test_the_switch_names_the_file_and_each_change_is_written_whole(tmp_path, monkeypatch):
    """The file holds the latest state as JSON with the process id; no temporary file is left."""
    path = tmp_path / "state.json"
    monkeypatch.setenv(HOOKS_ENV, str(path))
    hooks = StateHooks.from_env()
    hooks.write({"state": "idle"})
    hooks.write({"state": "open"})
    assert json.loads(path.read_text()) == {"state": "open", "pid": os.getpid()}
    assert [item.name for item in tmp_path.iterdir()] == ["state.json"]


def test_an_unchanged_state_is_not_written_again(tmp_path):
    path = tmp_path / "state.json"
    hooks = StateHooks(path)
    hooks.write({"state": "idle"})
    path.unlink()
    hooks.write({"state": "idle"})
    assert not path.exists()
