"""Swap, restart and rollback with real files and real processes (shell scripts standing in for agents)."""

import os
import time
from pathlib import Path

import pytest

from agent.errors import UpdateFailed
from agent.update import Outcome
from agent.update.install import Swap, child_environment, previous_of, remove_leftovers, restart, swap
from tests.agent.update.conftest import script, starting_base
from tests.support.polling import eventually

#: The agent before the update: when started (after a rollback) it records its arguments.
OLD_AGENT = script('echo "$@" > "$0.restored"')
#: A new agent that starts: it confirms as the real one does once it holds the lock and shows its tray.
STARTING_AGENT = script('''
while [ $# -gt 0 ]; do
  if [ "$1" = "--confirm-start" ]; then touch "$2"; fi
  shift
done''')
CRASHING_AGENT = script("exit 1")
HANGING_AGENT = script('echo $$ > "$0.pid"\nexec sleep 60')


def program(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(0o755)
    return path


@pytest.fixture
def executable(tmp_path) -> Path:
    return program(tmp_path / "Programs" / "Acme Help", OLD_AGENT)


def swapped_to(executable: Path, new: bytes) -> Swap:
    return swap(program(executable.with_name(".Acme Help.new"), new), executable, windows=False)


def test_the_posix_swap_keeps_the_running_file_as_previous_and_puts_the_new_one_in_place(executable):
    running = os.stat(executable).st_ino
    installed = swapped_to(executable, STARTING_AGENT)
    assert installed == Swap(executable, previous_of(executable))
    assert executable.read_bytes() == STARTING_AGENT
    assert installed.previous.read_bytes() == OLD_AGENT
    assert os.stat(installed.previous).st_ino == running  # the running file itself, not a copy
    assert os.access(executable, os.X_OK)
    assert sorted(path.name for path in executable.parent.iterdir()) == ["Acme Help", "Acme Help.previous"]


def test_the_windows_swap_renames_the_running_file_then_the_new_one(executable):
    running = os.stat(executable).st_ino
    staged = program(executable.with_name(".Acme Help.new"), STARTING_AGENT)
    installed = swap(staged, executable, windows=True)
    assert executable.read_bytes() == STARTING_AGENT
    assert os.stat(installed.previous).st_ino == running
    assert not staged.exists()


def test_a_windows_swap_that_cannot_place_the_new_file_puts_the_old_one_back(executable):
    missing = executable.with_name(".Acme Help.new")
    with pytest.raises(UpdateFailed, match="cannot be put in place"):
        swap(missing, executable, windows=True)
    assert executable.read_bytes() == OLD_AGENT
    assert not previous_of(executable).exists()


def test_a_swap_replaces_a_previous_left_from_an_older_update(executable):
    program(previous_of(executable), b"much older")
    installed = swapped_to(executable, STARTING_AGENT)
    assert installed.previous.read_bytes() == OLD_AGENT


def test_a_new_agent_that_confirms_its_start_stays(executable, tmp_path):
    installed = swapped_to(executable, STARTING_AGENT)
    confirm = tmp_path / "data" / "update-started"
    confirm.parent.mkdir()
    assert restart(installed, confirm, timeout=30) is True
    assert executable.read_bytes() == STARTING_AGENT
    assert installed.previous.read_bytes() == OLD_AGENT  # the new agent removes it at its first check
    assert not confirm.exists()


def test_a_new_agent_that_crashes_is_rolled_back_and_the_old_one_started(executable, tmp_path):
    installed = swapped_to(executable, CRASHING_AGENT)
    assert restart(installed, tmp_path / "update-started", timeout=30) is False
    assert executable.read_bytes() == OLD_AGENT
    assert not installed.previous.exists()
    restored = eventually(lambda: executable.with_name("Acme Help.restored").is_file()
                          and executable.with_name("Acme Help.restored").read_text(), what="the restored agent's start")
    assert restored == "--tray\n"


def test_a_new_agent_that_hangs_is_killed_and_rolled_back(executable, tmp_path):
    installed = swapped_to(executable, HANGING_AGENT)
    started = time.monotonic()
    assert restart(installed, tmp_path / "update-started", timeout=2) is False
    assert time.monotonic() - started < 20
    pid = int(executable.with_name("Acme Help.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert executable.read_bytes() == OLD_AGENT
    eventually(lambda: executable.with_name("Acme Help.restored").is_file(), what="the restored agent's start")


def test_a_new_agent_that_cannot_even_be_started_is_rolled_back(executable, tmp_path):
    installed = swapped_to(executable, STARTING_AGENT)
    executable.chmod(0o644)
    assert restart(installed, tmp_path / "update-started", timeout=5) is False
    assert executable.read_bytes() == OLD_AGENT


def test_an_update_that_did_not_start_is_remembered_and_not_tried_again(installed, update_server, make_updater,
                                                                         tmp_path, caplog):
    offer = update_server.offer("0.1.1", starting_base("0.1.1"))
    updater = make_updater()
    before = installed.read()
    result = updater.check()
    installed.executable.write_bytes(CRASHING_AGENT + b"\n" + installed.read())  # it passed --print-config, then…
    with caplog.at_level("INFO", logger="sosqueue.agent.update"):
        assert updater.restart(result.swap, offer) is False
    assert "the update to 0.1.1 did not start; rolled back to 0.1.0" in caplog.text
    assert installed.read() == before
    assert updater.check().outcome is Outcome.FAILED_BEFORE


def test_agents_are_started_without_what_a_onefile_parent_leaves_behind(monkeypatch):
    monkeypatch.setenv("_PYI_APPLICATION_HOME_DIR", "/tmp/_MEIold")
    monkeypatch.setenv("_MEIPASS2", "/tmp/_MEIold")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEIold")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/usr/local/lib")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    environment = child_environment()
    assert "_PYI_APPLICATION_HOME_DIR" not in environment and "_MEIPASS2" not in environment
    assert environment["LD_LIBRARY_PATH"] == "/usr/local/lib"
    assert environment["PYINSTALLER_RESET_ENVIRONMENT"] == "1"


def test_staging_files_of_an_interrupted_update_are_removed_once_stale(executable):
    stale = program(executable.with_name(".Acme Help.x1y2.download"), b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = program(executable.with_name(".Acme Help.z3.new"), b"in the works")
    remove_leftovers(executable)
    assert not stale.exists()
    assert fresh.exists() and executable.exists()
