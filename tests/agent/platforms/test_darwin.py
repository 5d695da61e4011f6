"""macOS: the LaunchAgent and the SOS launcher app as files under a temporary ``HOME``; the
launcher's script really runs (it is POSIX sh)."""

import plistlib
import stat
import subprocess

import pytest
from PIL import Image

from agent.platforms import _darwin
from tests.agent.platforms.desktop_env import make_recorder

AGENT = "/Applications/Acme Support.app/Contents/MacOS/sosqueue-agent"


@pytest.fixture
def home(tmp_path, monkeypatch):
    root = tmp_path / "Users" / "jane"
    root.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(root))
    return root


@pytest.fixture
def desktop(home):
    return _darwin.Desktop("Acme Support")


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "sos.png"
    Image.new("RGBA", (64, 64), (229, 38, 42, 255)).save(path)
    return path


def read_plist(path):
    with open(path, "rb") as handle:
        return plistlib.load(handle)


def test_launch_agent_runs_the_agent_in_the_tray_at_login(desktop, home):
    """``~/Library/LaunchAgents/org.sosqueue.<slug>.plist`` runs launch + --tray at load, in the GUI session."""
    path = desktop.enable_autostart([AGENT, "--tray"])
    assert path == home / "Library" / "LaunchAgents" / "org.sosqueue.acme-support.plist"
    assert read_plist(path) == {
        "Label": "org.sosqueue.acme-support",
        "ProgramArguments": [AGENT, "--tray"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }


def test_sos_shortcut_is_a_launcher_app_on_the_desktop(desktop, home, png):
    """``~/Desktop/<Product> SOS.app`` has an Info.plist, an executable script and the icon as .icns."""
    bundle = desktop.create_sos_shortcut([AGENT, "--sos"], png)
    assert bundle == home / "Desktop" / "Acme Support SOS.app"
    info = read_plist(bundle / "Contents" / "Info.plist")
    assert info["CFBundleExecutable"] == "sos"
    assert info["CFBundleIdentifier"] == "org.sosqueue.acme-support.sos"
    assert info["CFBundleDisplayName"] == "Acme Support SOS"
    assert info["CFBundlePackageType"] == "APPL"
    assert info["CFBundleIconFile"] == "sos.icns"
    script = bundle / "Contents" / "MacOS" / "sos"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == f"#!/bin/sh\nexec '{AGENT}' --sos\n"
    assert (bundle / "Contents" / "Resources" / "sos.icns").read_bytes()[:4] == b"icns"


def test_launcher_script_runs_the_agent_with_exactly_its_arguments(desktop, home, tmp_path):
    """Run with sh, the launcher hands the agent its arguments unchanged, whatever the path holds."""
    recorder = make_recorder(tmp_path / "it's a \"path\" with $HOME and spaces" / "agent", tmp_path / "argv.json")
    arguments = ["--module", str(tmp_path / "my module's file.bin"), "--sos", "", "50%"]
    bundle = desktop.create_sos_shortcut([str(recorder.program), *arguments])
    subprocess.run([str(bundle / "Contents" / "MacOS" / "sos")], check=True, timeout=60)
    assert recorder.argv() == arguments


def test_launcher_without_icon_has_no_icon_key(desktop, home):
    """Without an icon (or with one that is not an image) the launcher names none."""
    broken = home / "broken.png"
    broken.write_bytes(b"not an image")
    for icon in (None, broken):
        info = read_plist(desktop.create_sos_shortcut([AGENT, "--sos"], icon) / "Contents" / "Info.plist")
        assert "CFBundleIconFile" not in info


def test_creating_twice_leaves_one_launcher_and_no_temporary_folders(desktop, home, png):
    """The second launcher replaces the first; nothing else appears on the desktop."""
    desktop.create_sos_shortcut(["/old", "--sos"], png)
    bundle = desktop.create_sos_shortcut([AGENT, "--sos"], png)
    assert [p.name for p in (home / "Desktop").iterdir()] == ["Acme Support SOS.app"]
    assert "exec '/Applications" in (bundle / "Contents" / "MacOS" / "sos").read_text()


def test_a_foreign_app_of_the_same_name_is_not_replaced(desktop, home):
    """An app on the desktop that is not our launcher is left alone and creation fails."""
    foreign = home / "Desktop" / "Acme Support SOS.app" / "Contents"
    foreign.mkdir(parents=True)
    info = {"CFBundleExecutable": "Acme", "CFBundleIdentifier": "com.acme"}
    (foreign / "Info.plist").write_bytes(plistlib.dumps(info))
    with pytest.raises(FileExistsError):
        desktop.create_sos_shortcut([AGENT, "--sos"])
    assert read_plist(foreign / "Info.plist")["CFBundleIdentifier"] == "com.acme"
    assert desktop.created() == []


def test_remove_all_removes_launcher_and_launch_agent_only(desktop, home, png):
    """Other apps on the desktop and other LaunchAgents stay."""
    other_agent = home / "Library" / "LaunchAgents" / "com.example.other.plist"
    other_agent.parent.mkdir(parents=True)
    other_agent.write_bytes(plistlib.dumps({"Label": "com.example.other"}))
    (home / "Desktop" / "Notes.txt").parent.mkdir(parents=True)
    (home / "Desktop" / "Notes.txt").write_text("keep")
    made = [desktop.create_sos_shortcut([AGENT, "--sos"], png), desktop.enable_autostart([AGENT, "--tray"])]
    assert sorted(desktop.remove_all()) == sorted(made)
    assert not any(path.exists() for path in made)
    assert other_agent.exists()
    assert [p.name for p in (home / "Desktop").iterdir()] == ["Notes.txt"]


def test_remove_leaves_a_foreign_folder_alone(desktop, home):
    """An adopted path that is now some other folder is not deleted."""
    folder = home / "Desktop" / "Acme Support SOS.app"
    folder.mkdir(parents=True)
    desktop.adopt([folder])
    desktop.remove_all()
    assert folder.is_dir()


def test_no_start_menu_and_no_all_users_on_macos(desktop):
    """macOS has no start menu entry here, and all-users setup is the installer package's job."""
    assert not _darwin.Desktop.HAS_MENU_ENTRY
    with pytest.raises(NotImplementedError):
        desktop.create_start_menu_entry([AGENT])
    with pytest.raises(ValueError):
        _darwin.Desktop("Acme", all_users=True)
