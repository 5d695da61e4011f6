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
from tests.builder.conftest import SOSQUEUE, new_update_key, run_sosqueue
from tests.support import bombs

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


def assert_inspect_refuses(sosqueue, module: Path, code: ExitCode, *fragments: str) -> None:
    outcome = sosqueue("inspect", module)
    assert outcome.code == code, outcome.err
    line = outcome.error_line()
    assert outcome.out == ""
    for fragment in fragments:
        assert fragment in line, line


DAMAGED = "This support module is damaged — download it again."
TAMPERED = ("This support module's configuration was changed after it was built — do not use it; "
            "ask your support team for a new one.")


def assert_agent_refuses(done: subprocess.CompletedProcess, message: str = DAMAGED) -> None:
    assert done.returncode == 3, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def program_end(module: Path) -> int:
    """Where the module's program part ends (its payload's header starts)."""
    return payload.span(module)[0]


def test_inspect_prints_the_contents_as_json_with_tokens_redacted(sosqueue, stamp, fake_base):
    """stdout is one JSON document: id, server, brand, options, assets; the token is redacted."""
    module = stamp(fake_base)
    outcome = sosqueue("inspect", module)
    assert outcome.code == ExitCode.OK
    assert outcome.err == ""
    shown = json.loads(outcome.out)
    assert shown["path"] == str(module)
    assert (shown["checksum"], shown["program"]) == ("ok", "ok")
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
    """A byte changed inside the payload in front of an intact program: exit 13, a changed configuration."""
    module = stamp(fake_base)
    flip_byte(module, payload_offset(module, fake_base))
    assert_inspect_refuses(sosqueue, module, ExitCode.CHANGED_MODULE, "has a changed configuration", "checksum", "do not hand it out",
                           "build it again")


def test_inspect_refuses_a_module_with_a_changed_trailer_digest(sosqueue, stamp, fake_base):
    """A changed checksum in the trailer itself is caught as well."""
    module = stamp(fake_base)
    flip_byte(module, module.stat().st_size - 1)
    assert_inspect_refuses(sosqueue, module, ExitCode.CHANGED_MODULE, "has a changed configuration", "checksum")


@pytest.mark.parametrize("by", [1, 1000])
def test_inspect_refuses_a_module_cut_short_as_damaged_not_as_a_base(sosqueue, stamp, fake_base, by):
    """A download cut short loses the trailer but keeps the header: exit 13, damaged, get it again."""
    module = stamp(fake_base)
    cut_short(module, by)
    assert_inspect_refuses(sosqueue, module, ExitCode.DAMAGED_MODULE, "is damaged", "cut short", "download or copy it again")


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_inspect_refuses_a_module_with_a_changed_program_byte(sosqueue, stamp, fake_base, where):
    """A byte changed in the program part (the checksum of the configuration still matches): exit 13,
    damaged, get it again."""
    module = stamp(fake_base)
    flip_byte(module, {"start": 1, "middle": program_end(module) // 2, "end": program_end(module) - 1}[where])
    assert_inspect_refuses(sosqueue, module, ExitCode.DAMAGED_MODULE, "is damaged", "program part is not the base agent it was built on",
                           "download or copy it again")


def test_inspect_refuses_a_base_agent(sosqueue, fake_base):
    """A base carries no configuration; inspect says so (exit 13)."""
    assert_inspect_refuses(sosqueue, fake_base, ExitCode.NOT_A_MODULE, "carries no module configuration", "unbranded base agent",
                           "sosqueue build")


def test_inspect_refuses_a_module_whose_asset_expands_to_512_mib_with_little_memory(sosqueue, stamp, fake_base,
                                                                                    tmp_path):
    """A bomb (512 MiB of zeros below 1 MiB, valid checksum, the right base): the real ``sosqueue
    inspect`` exits 13 (damaged: no build writes that) naming the asset and the limit, and its peak
    memory stays far below the bomb."""
    module = stamp(fake_base)
    _, normal = bombs.peak_rss([SOSQUEUE, "inspect", module], capture_output=True)
    bomb = tmp_path / "bomb"
    bomb.write_bytes(bombs.stamped_bomb(fake_base))
    assert bomb.stat().st_size < fake_base.stat().st_size + bombs.MIB
    done, peak = bombs.peak_rss([SOSQUEUE, "inspect", bomb], capture_output=True, text=True)
    assert done.returncode == ExitCode.DAMAGED_MODULE, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: {bomb} is damaged: the module's assets/zeros-0.png expands to more than 8 MiB, "
        "more than sosqueue build writes; build it again")
    assert peak < normal + 64 * bombs.MIB, (peak, normal)


def legacy(module: Path) -> None:
    """Make ``module`` look stamped before payloads recorded their base: no header, the old magic."""
    data = module.read_bytes()
    start, _ = payload.span(module)
    archive = data[start + payload.HEADER.size:-payload.TRAILER.size]
    module.write_bytes(data[:start] + archive + payload.TRAILER.pack(len(archive), payload.LEGACY_MAGIC,
                                                                     hashlib.sha256(archive).digest()))


def test_inspect_of_an_older_module_says_its_program_cannot_be_verified(stamp, fake_base):
    """A module from before the header: the real ``sosqueue inspect`` shows it (exit 0) with
    ``program: unverified``, and says so on stderr."""
    module = stamp(fake_base)
    legacy(module)
    outcome = run_sosqueue("inspect", module)
    assert outcome.code == ExitCode.OK, outcome.err
    shown = json.loads(outcome.out)
    assert (shown["checksum"], shown["program"], shown["module"]["id"]) == ("ok", "unverified", "mod-1")
    assert "its program part cannot be verified" in outcome.err and "build it again" in outcome.err


def test_inspect_of_a_missing_file_says_it_does_not_exist(sosqueue, tmp_path):
    """A path that does not exist is named as missing (exit 4), not as a base agent."""
    outcome = sosqueue("inspect", tmp_path / "no-such-module")
    assert outcome.code == ExitCode.NOT_FOUND
    assert "does not exist" in outcome.error_line()


def test_inspect_command_exits_18_for_a_changed_configuration_end_to_end(stamp, fake_base):
    """The real ``sosqueue inspect`` on a changed module: exit 18, one ``Error:`` line, stdout empty."""
    module = stamp(fake_base)
    flip_byte(module, payload_offset(module, fake_base))
    outcome = run_sosqueue("inspect", module)
    assert outcome.code == ExitCode.CHANGED_MODULE
    assert outcome.error_line().startswith("Error: ")
    assert outcome.out == ""


# --- the real PyInstaller module ------------------------------------------------------------


def test_real_module_with_a_changed_byte_is_refused_by_inspect_and_by_itself(sosqueue, stamp, real_base, tmp_path):
    """One changed payload byte: inspect exits 18; the module exits 3: its configuration was changed."""
    module = stamp(real_base)
    flip_byte(module, payload_offset(module, real_base))
    assert_inspect_refuses(sosqueue, module, ExitCode.CHANGED_MODULE, "has a changed configuration")
    done = run_agent(module, tmp_path / "home", "--sos", "--no-gui", "--description", "help")
    assert_agent_refuses(done, TAMPERED)
    assert "checksum does not match" in done.stderr


def test_real_module_cut_short_is_refused_by_inspect_and_by_itself(sosqueue, stamp, real_base, tmp_path):
    """A module cut short by a byte: inspect exits 13; the module exits 3 with "download it again"."""
    module = stamp(real_base)
    cut_short(module, 1)
    assert_inspect_refuses(sosqueue, module, ExitCode.DAMAGED_MODULE, "is damaged", "cut short")
    done = run_agent(module, tmp_path / "home", "--print-config")
    assert_agent_refuses(done)
    assert "cut short" in done.stderr


def test_real_module_with_a_changed_program_byte_is_refused_by_inspect_and_by_itself(sosqueue, stamp, real_base,
                                                                                     tmp_path):
    """A byte changed in the program part where the bootloader does not look (the padding of the
    PyInstaller archive's last field): the module starts, finds it, and exits 3 with "download it again"."""
    module = stamp(real_base)
    flip_byte(module, program_end(module) - 1)
    assert_inspect_refuses(sosqueue, module, ExitCode.DAMAGED_MODULE, "is damaged", "program part")
    done = run_agent(module, tmp_path / "home", "--print-config")
    assert_agent_refuses(done)
    assert "program part is not the base agent it was built on" in done.stderr


def test_real_module_whose_asset_expands_to_512_mib_is_refused_at_start_with_little_memory(stamp, real_base, tmp_path):
    """The bomb stamped onto the real base: the module exits 3 (a changed configuration) and its peak
    memory (bootloader and Python) stays far below the bomb's 512 MiB."""
    module = stamp(real_base)
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["SOSQUEUE_AGENT_HOME"] = str(home)
    normal, normal_peak = bombs.peak_rss([module, "--print-config"], capture_output=True, text=True, env=env,
                                         timeout=AGENT_TIMEOUT, cwd=tmp_path)
    assert normal.returncode == 0, normal.stderr
    bomb = tmp_path / "bomb"
    bomb.write_bytes(bombs.stamped_bomb(real_base))
    bomb.chmod(0o755)
    done, peak = bombs.peak_rss([bomb, "--print-config"], capture_output=True, text=True, env=env,
                                timeout=AGENT_TIMEOUT, cwd=tmp_path)
    assert_agent_refuses(done, DAMAGED)
    assert "expands to more than 8 MiB" in done.stderr
    assert peak < normal_peak + 64 * bombs.MIB, (peak, normal_peak)


def test_real_damaged_module_double_clicked_without_display_exits_3(stamp, real_base, tmp_path):
    """Started as a customer would (no options) with no display: exit 3 and the message, no traceback."""
    module = stamp(real_base)
    cut_short(module, 1)
    assert_agent_refuses(run_agent(module, tmp_path / "home"))


def test_real_tampered_module_double_clicked_without_display_exits_3(stamp, real_base, tmp_path):
    """A changed configuration, started with no options and no display: exit 3 and its own message."""
    module = stamp(real_base)
    flip_byte(module, payload_offset(module, real_base))
    assert_agent_refuses(run_agent(module, tmp_path / "home"), TAMPERED)


def test_real_module_keeps_its_base_intact(stamp, real_base):
    """The module starts with the real base's exact bytes; the payload follows."""
    module = stamp(real_base)
    size = real_base.stat().st_size
    with open(module, "rb") as handle:
        assert handle.read(size) == real_base.read_bytes()
    assert payload.read(module).config["module"]["id"] == "mod-1"
