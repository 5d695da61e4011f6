"""``sosqueue inspect`` and the agent itself refuse a changed or cut-short module, in plain words."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from sosqueue import module_config
from sosqueue import payload
from sosqueue import updates
from sosqueue.errors import ExitCode
from builder.registration import Identity, identity_path, write_identity
from tests.builder.conftest import new_update_key, run_sosqueue

TOKEN = "mod_0123456789abcdef"
AGENT_TIMEOUT = 180


@pytest.fixture
def stamp(sosqueue, write_config, tmp_path):
    """Stamps ``base`` with a registered Acme config and returns the module's path."""
    def make(base: Path) -> Path:
        config = write_config(module={"id": '"mod-1"', "token": f'"{TOKEN}"'},
                              server={"url": '"https://queue.example.com"'},
                              brand={"company": '"Acme Corp"', "product": '"Acme Help"'})
        outcome = sosqueue("build", "--config", config, "--base", base, "--out", tmp_path / "out")
        assert outcome.code == ExitCode.OK, outcome.err
        return Path(outcome.out.strip())

    return make


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def cut_short(path: Path, by: int) -> None:
    os.truncate(path, path.stat().st_size - by)


def payload_offset(module: Path, base: Path) -> int:
    """An offset inside the module's payload: past the base, before the trailer."""
    return base.stat().st_size + (module.stat().st_size - base.stat().st_size) // 2


def run_agent(module: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([str(module), *args], env={**env, "SOSQUEUE_AGENT_HOME": str(home)}, capture_output=True,
                          text=True, timeout=AGENT_TIMEOUT, cwd=home.parent)


def assert_inspect_refuses(sosqueue, module: Path, *fragments: str) -> None:
    outcome = sosqueue("inspect", module)
    assert outcome.code == ExitCode.DAMAGED_MODULE, outcome.err
    line = outcome.error_line()
    assert outcome.out == ""
    for fragment in fragments:
        assert fragment in line, line


def assert_agent_refuses(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 3, done.stderr
    assert "This support module is damaged — download it again." in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_inspect_prints_the_contents_as_json_with_tokens_redacted(sosqueue, stamp, fake_base):
    """stdout is one JSON document: id, server, brand, options, assets; the token is redacted."""
    module = stamp(fake_base)
    outcome = sosqueue("inspect", module)
    assert outcome.code == ExitCode.OK
    assert outcome.err == ""
    shown = json.loads(outcome.out)
    assert shown["path"] == str(module)
    assert shown["checksum"] == "ok"
    assert shown["module"] == {"id": "mod-1", "token": module_config.redact(TOKEN), "version": "1.0.0"}
    assert shown["server"] == {"url": "https://queue.example.com", "custom_ca": False}
    assert shown["brand"]["company"] == "Acme Corp"
    assert set(shown["asset_sizes"]) == set(module_config.ASSET_NAMES)
    assert TOKEN not in outcome.out


def test_inspect_shows_the_update_key_and_the_base_sha256_and_build_time(sosqueue, stamp, fake_base, write_config):
    """The ``updates`` section: the queue's update key kept beside the config, the base's SHA-256 and
    when it was built (from the base.json beside it); without a key or a base.json, null."""
    base_sha256 = hashlib.sha256(fake_base.read_bytes()).hexdigest()
    assert json.loads(sosqueue("inspect", stamp(fake_base)).out)["updates"] == {
        "key": None, "base_sha256": base_sha256, "base_built": None}
    key = new_update_key()
    write_identity(identity_path(write_config()), Identity("mod-1", TOKEN, "https://queue.example.com", "", key))
    (fake_base.parent / updates.BASE_INFO).write_text(updates.base_info("0.1.0", built="2026-12-02T05:00:00Z"))
    shown = json.loads(sosqueue("inspect", stamp(fake_base)).out)
    assert shown["updates"] == {"key": key, "base_sha256": base_sha256, "base_built": "2026-12-02T05:00:00Z"}


def test_inspect_refuses_a_module_with_one_changed_byte(sosqueue, stamp, fake_base):
    """A byte changed inside the payload: exit 13, "damaged", "build it again"."""
    module = stamp(fake_base)
    flip_byte(module, payload_offset(module, fake_base))
    assert_inspect_refuses(sosqueue, module, "is damaged", "checksum", "build it again")


def test_inspect_refuses_a_module_with_a_changed_trailer_digest(sosqueue, stamp, fake_base):
    """A changed checksum in the trailer itself is caught as well."""
    module = stamp(fake_base)
    flip_byte(module, module.stat().st_size - 1)
    assert_inspect_refuses(sosqueue, module, "is damaged", "checksum")


@pytest.mark.parametrize("by", [1, 1000])
def test_inspect_refuses_a_module_cut_short(sosqueue, stamp, fake_base, by):
    """A download cut short loses the trailer: exit 13, no configuration found."""
    module = stamp(fake_base)
    cut_short(module, by)
    assert_inspect_refuses(sosqueue, module, "carries no module configuration")


def test_inspect_refuses_a_base_agent(sosqueue, fake_base):
    """A base carries no configuration; inspect says so (exit 13)."""
    assert_inspect_refuses(sosqueue, fake_base, "carries no module configuration", "base agent")


def test_inspect_of_a_missing_file_says_it_does_not_exist(sosqueue, tmp_path):
    """A path that does not exist is named as missing (exit 4), not as a base agent."""
    outcome = sosqueue("inspect", tmp_path / "no-such-module")
    assert outcome.code == ExitCode.NOT_FOUND
    assert "does not exist" in outcome.error_line()


def test_inspect_command_exits_13_end_to_end(stamp, fake_base):
    """The real ``sosqueue inspect`` on a changed module: exit 13, one ``Error:`` line, stdout empty."""
    module = stamp(fake_base)
    flip_byte(module, payload_offset(module, fake_base))
    outcome = run_sosqueue("inspect", module)
    assert outcome.code == ExitCode.DAMAGED_MODULE
    assert outcome.error_line().startswith("Error: ")
    assert outcome.out == ""


# --- the real PyInstaller module ------------------------------------------------------------


def test_real_module_with_a_changed_byte_is_refused_by_inspect_and_by_itself(sosqueue, stamp, real_base, tmp_path):
    """One changed payload byte: inspect exits 13; the module exits 3 with "download it again"."""
    module = stamp(real_base)
    flip_byte(module, payload_offset(module, real_base))
    assert_inspect_refuses(sosqueue, module, "is damaged")
    done = run_agent(module, tmp_path / "home", "--sos", "--no-gui", "--description", "help")
    assert_agent_refuses(done)
    assert "checksum does not match" in done.stderr


def test_real_module_cut_short_is_refused_by_inspect_and_by_itself(sosqueue, stamp, real_base, tmp_path):
    """A module cut short by a byte: inspect exits 13; the module exits 3 with "download it again"."""
    module = stamp(real_base)
    cut_short(module, 1)
    assert_inspect_refuses(sosqueue, module, "carries no module configuration")
    assert_agent_refuses(run_agent(module, tmp_path / "home", "--print-config"))


def test_real_damaged_module_double_clicked_without_display_exits_3(stamp, real_base, tmp_path):
    """Started as a customer would (no options) with no display: exit 3 and the message, no traceback."""
    module = stamp(real_base)
    flip_byte(module, payload_offset(module, real_base))
    assert_agent_refuses(run_agent(module, tmp_path / "home"))


def test_real_module_keeps_its_base_intact(stamp, real_base):
    """The module starts with the real base's exact bytes; the payload follows."""
    module = stamp(real_base)
    size = real_base.stat().st_size
    with open(module, "rb") as handle:
        assert handle.read(size) == real_base.read_bytes()
    assert payload.read(module).config["module"]["id"] == "mod-1"
