"""The agent's start reads its module (``agent.module.load``) and tells apart a damaged download,
the unbranded base and a changed configuration, each in its own words; a payload that expands
enormously is refused with little memory."""

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from agent import module
from agent.errors import AgentExit, DamagedModule, TamperedModule, UnbrandedAgent
from sosqueue import payload
from tests.support import bombs
from tests.support.modules import module_config, module_payload_for

REPO = Path(__file__).resolve().parents[2]
TRUE = Path(shutil.which("true") or "/bin/true")
TIMEOUT = 180


@pytest.fixture
def base(tmp_path) -> Path:
    """A real program to stamp onto: a copy of ``true``."""
    copy = tmp_path / "base" / "sosqueue-agent"
    copy.parent.mkdir()
    shutil.copy2(TRUE, copy)
    return copy


@pytest.fixture
def stamped(base, tmp_path) -> Path:
    """A module: ``base`` with a complete configuration stamped onto it."""
    config = module_config(server_url="https://queue.example.com", module_id="mod-1", module_token="mod_0123456789ab")
    return payload.stamp(base, module_payload_for(config), tmp_path / "Acme Help")


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_whole_module_loads(stamped):
    """Program and payload verify: the configuration is read."""
    assert module.load(stamped).module_id == "mod-1"


@pytest.mark.parametrize("where", ["start", "end"])
def test_a_changed_program_is_a_damaged_download(stamped, base, where):
    """A byte changed in the program part: "damaged — download it again", naming the program part."""
    flip_byte(stamped, 1 if where == "start" else base.stat().st_size - 1)
    with pytest.raises(DamagedModule, match="damaged — download it again.*program part") as raised:
        module.load(stamped)
    assert raised.value.exit_code == AgentExit.DAMAGED_MODULE


def test_a_module_cut_short_is_a_damaged_download(stamped):
    """A download that lost its end: "damaged — download it again", cut short; not the base agent."""
    os.truncate(stamped, stamped.stat().st_size - 10)
    with pytest.raises(DamagedModule, match="damaged — download it again.*cut short"):
        module.load(stamped)


def test_a_changed_configuration_is_tampered(stamped, base):
    """A byte changed in the payload in front of an intact program: the configuration was changed;
    downloading the same file again would not help."""
    flip_byte(stamped, base.stat().st_size + payload.HEADER.size + 20)
    changed = "configuration was changed after it was built — do not use it"
    with pytest.raises(TamperedModule, match=changed) as raised:
        module.load(stamped)
    assert raised.value.exit_code == AgentExit.DAMAGED_MODULE
    assert "download it again" not in str(raised.value)


def test_the_base_agent_run_by_itself_says_it_is_the_unbranded_base(base, monkeypatch):
    """Frozen and reading its own file, a program without a payload is the unbranded base, not damaged."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(base))
    with pytest.raises(UnbrandedAgent, match="unbranded base agent, not a support module") as raised:
        module.load()
    assert "damaged" not in str(raised.value)


def test_a_module_option_naming_another_file_says_it_carries_no_configuration(base):
    """``--module`` naming a program that is no module: damaged, and why."""
    with pytest.raises(DamagedModule, match="carries no module configuration"):
        module.load(base)


def test_a_module_stamped_before_payloads_recorded_their_base_still_loads(stamped, caplog):
    """An older module (no header, the old trailer) loads; the log says its program was not verified."""
    data = stamped.read_bytes()
    start, _ = payload.span(stamped)
    archive = data[start + payload.HEADER.size:-payload.TRAILER.size]
    stamped.write_bytes(data[:start] + archive + payload.TRAILER.pack(len(archive), payload.LEGACY_MAGIC,
                                                                      hashlib.sha256(archive).digest()))
    with caplog.at_level("INFO", logger="sosqueue.agent"):
        assert module.load(stamped).module_id == "mod-1"
    assert "its program cannot be verified" in caplog.text


def test_the_agent_refuses_a_payload_expanding_to_512_mib_at_start_with_little_memory(stamped, base, tmp_path):
    """The bomb (512 MiB of zeros below 1 MiB, valid checksum, the right base) given to the agent as
    a real process: exit 3, damaged, no traceback; its peak memory stays far below the bomb."""
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["SOSQUEUE_AGENT_HOME"] = str(tmp_path / "home")
    run = dict(capture_output=True, text=True, env=env, cwd=REPO, timeout=TIMEOUT)
    normal, normal_peak = bombs.peak_rss([sys.executable, "-m", "agent", "--module", stamped, "--print-config"], **run)
    assert normal.returncode == 0, normal.stderr
    bomb = tmp_path / "bomb"
    bomb.write_bytes(bombs.stamped_bomb(base))
    done, peak = bombs.peak_rss([sys.executable, "-m", "agent", "--module", bomb, "--print-config"], **run)
    assert done.returncode == AgentExit.DAMAGED_MODULE, done.stderr
    assert "This support module is damaged" in done.stderr
    assert "assets/zeros-0.png expands to more than 8 MiB" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert peak < normal_peak + 64 * bombs.MIB, (peak, normal_peak)
