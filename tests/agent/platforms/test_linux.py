"""Linux: real ``.desktop`` files on the desktop, in the menu and in autostart, that really run."""

import hashlib
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agent.platforms import _linux
from sosqueue.desktop_entry import FALLBACK_ICON, WINDOW_CLASS
from tests.agent.platforms.desktop_env import desktop_entry, exec_argv, launch_with_gio, make_recorder, validate
from tests.support.tools import require_tool
from tests.support.xserver import start_xvfb, stop

REPO = Path(__file__).resolve().parents[3]

NASTY_FOLDERS = [
    "Jane Doe/Downloads",
    "it's \"quoted\"",
    "dollar $HOME and `tick`",
    "back\\slash and 100% sure",
    "tab\there; semi & pipe | (parens) *?#~<>",
    "Grüße ✓",
]


@pytest.fixture
def desktop(desktop_home):
    return _linux.Desktop("Acme Support")


def test_sos_shortcut_is_an_executable_desktop_file_on_the_desktop(desktop, desktop_home, tmp_path):
    """The SOS shortcut is ``~/Desktop/<Product> SOS.desktop``, mode 755, with name, command and icon."""
    icon = tmp_path / "sos.png"
    icon.write_bytes(b"png")
    path = desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"], icon)
    assert path == desktop_home.desktop / "Acme Support SOS.desktop"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    entry = desktop_entry(path)
    assert entry["Name"] == "Acme Support SOS"
    assert entry["Exec"] == "/opt/acme/agent --sos"
    assert entry["Icon"] == str(icon)
    assert entry["Terminal"] == "false"
    assert entry["Type"] == "Application"
    assert validate(path) == ""


def test_menu_entry_goes_to_the_users_applications_folder(desktop, desktop_home):
    """The menu entry is ``$XDG_DATA_HOME/applications/sosqueue-<slug>.desktop`` named after the product."""
    path = desktop.create_start_menu_entry(["/opt/acme/agent"])
    assert path == desktop_home.applications / "sosqueue-acme-support.desktop"
    entry = desktop_entry(path)
    assert (entry["Name"], entry["Exec"], entry["Categories"]) == ("Acme Support", "/opt/acme/agent", "Utility;")
    assert entry["Icon"] == FALLBACK_ICON
    assert validate(path) == ""


def test_autostart_entry_goes_to_the_users_autostart_folder(desktop, desktop_home):
    """Autostart is ``$XDG_CONFIG_HOME/autostart/sosqueue-<slug>.desktop`` running the given command."""
    path = desktop.enable_autostart(["/opt/acme/agent", "--tray"])
    assert path == desktop_home.autostart / "sosqueue-acme-support.desktop"
    assert desktop_entry(path)["Exec"] == "/opt/acme/agent --tray"
    assert validate(path) == ""


def test_xdg_folders_from_the_environment_are_respected(desktop_home, monkeypatch, tmp_path):
    """``XDG_DESKTOP_DIR``, ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME`` decide where files go."""
    monkeypatch.setenv("XDG_DESKTOP_DIR", str(tmp_path / "my desk"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    desktop = _linux.Desktop("Acme Support")
    assert desktop.create_sos_shortcut(["/a"]).parent == tmp_path / "my desk"
    assert desktop.create_start_menu_entry(["/a"]).parent == tmp_path / "data" / "applications"
    assert desktop.enable_autostart(["/a"]).parent == tmp_path / "config" / "autostart"


def test_desktop_folder_comes_from_user_dirs_file(desktop, desktop_home):
    """A German system's ``user-dirs.dirs`` (``$HOME/Schreibtisch``) puts the shortcut there."""
    user_dirs = desktop_home.root / ".config" / "user-dirs.dirs"
    user_dirs.parent.mkdir(parents=True)
    user_dirs.write_text('# written by xdg-user-dirs-update\nXDG_DOWNLOAD_DIR="$HOME/Downloads"\n'
                         'XDG_DESKTOP_DIR="$HOME/Schreibtisch"\n')
    assert desktop.create_sos_shortcut(["/a"]).parent == desktop_home.root / "Schreibtisch"


def test_relative_xdg_home_is_ignored_as_the_spec_says(desktop_home, monkeypatch):
    """A relative ``XDG_DATA_HOME`` is invalid, so the default ``~/.local/share`` is used."""
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert _linux.Desktop("Acme").create_start_menu_entry(["/a"]).parent == desktop_home.applications


@pytest.mark.parametrize("folder", NASTY_FOLDERS)
def test_exec_line_runs_the_command_with_exactly_its_arguments(desktop, desktop_home, tmp_path, folder):
    """Parsed per the spec and run, the Exec line gives the program exactly the argv it was made with."""
    recorder = make_recorder(tmp_path / folder / "Acme Support agent", tmp_path / "argv.json")
    arguments = ["--module", str(tmp_path / folder / "module.bin"), "--sos", "", "50%"]
    path = desktop.create_sos_shortcut([str(recorder.program), *arguments])
    subprocess.run(exec_argv(desktop_entry(path)["Exec"]), check=True, timeout=60)
    assert recorder.argv() == arguments


def test_exec_line_is_the_command_itself_when_the_program_has_no_percent_sign(desktop, desktop_home):
    """The usual Exec line names the program directly, not through a shell."""
    command = ["/home/Jane Doe/Acme Support agent", "--module", "/home/Jane Doe/m.bin", "--sos"]
    path = desktop.create_sos_shortcut(command)
    assert exec_argv(desktop_entry(path)["Exec"]) == command


def test_program_with_a_percent_sign_is_started_through_sh(desktop, desktop_home):
    """GLib cannot find a program whose path has a %, so sh starts it with the same arguments."""
    command = ["/opt/100% sure/agent", "--sos"]
    path = desktop.create_sos_shortcut(command)
    assert exec_argv(desktop_entry(path)["Exec"]) == ["sh", "-c", 'exec "$0" "$@"', *command]


@pytest.mark.parametrize("folder", NASTY_FOLDERS)
def test_glib_launches_the_shortcut_with_exactly_its_arguments(desktop, desktop_home, tmp_path, folder):
    """``gio launch`` (what GNOME-style desktops use) runs the shortcut with the exact argv."""
    recorder = make_recorder(tmp_path / folder / "agent $1", tmp_path / "argv.json")
    arguments = ["--module", str(tmp_path / folder / "module file.bin"), "--sos"]
    path = desktop.create_sos_shortcut([str(recorder.program), *arguments])
    assert validate(path) == ""
    launch_with_gio(path)
    assert recorder.argv() == arguments


def test_creating_twice_replaces_the_same_file(desktop, desktop_home):
    """A second creation overwrites the first: one shortcut, one menu entry, one autostart entry."""
    for _ in range(2):
        desktop.create_sos_shortcut(["/a", "--sos"])
        desktop.create_start_menu_entry(["/a"])
        desktop.enable_autostart(["/a", "--tray"])
    assert [p.name for p in desktop_home.desktop.iterdir()] == ["Acme Support SOS.desktop"]
    assert len(list(desktop_home.applications.iterdir())) == 1
    assert len(list(desktop_home.autostart.iterdir())) == 1
    assert len(desktop.created()) == 3


def test_remove_all_removes_what_was_created_and_nothing_else(desktop, desktop_home):
    """Unrelated files in the same folders survive ``remove_all``."""
    for folder in (desktop_home.desktop, desktop_home.applications, desktop_home.autostart):
        folder.mkdir(parents=True)
        (folder / "other.desktop").write_text("[Desktop Entry]\n")
    made = [desktop.create_sos_shortcut(["/a"]), desktop.create_start_menu_entry(["/a"]),
            desktop.enable_autostart(["/a"])]
    assert sorted(desktop.remove_all()) == sorted(made)
    assert not any(path.exists() for path in made)
    assert desktop.created() == []
    for folder in (desktop_home.desktop, desktop_home.applications, desktop_home.autostart):
        assert [p.name for p in folder.iterdir()] == ["other.desktop"]


def test_remove_leaves_a_folder_in_place_of_a_file_alone(desktop, desktop_home):
    """Where a folder now stands at a recorded path, removal does not delete it."""
    folder = desktop_home.desktop / "Acme Support SOS.desktop"
    folder.mkdir(parents=True)
    (folder / "keep").write_text("mine")
    desktop.adopt([folder])
    desktop.remove_all()
    assert (folder / "keep").read_text() == "mine"


def test_all_users_writes_system_folders_and_a_login_entry_for_the_sos_shortcut(desktop_home, tmp_path):
    """For all users: menu and autostart in the system folders; the SOS shortcut is a template
    and an autostart entry that copies it at login, with the brand icon; nothing on this desktop."""
    icon = tmp_path / "icons" / "sos.png"
    desktop = _linux.Desktop("Acme Support", all_users=True)
    login = desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"], icon)
    assert login == desktop_home.system_autostart / "sosqueue-acme-support-sos-shortcut.desktop"
    assert not desktop_home.desktop.exists()
    template = desktop_home.system_templates / "sosqueue-acme-support.desktop"
    assert desktop_entry(template)["Exec"] == "/opt/acme/agent --sos"
    entry = desktop_entry(login)
    assert entry["TryExec"] == "/opt/acme/agent" and entry["Icon"] == str(icon) and entry["NoDisplay"] == "true"
    assert exec_argv(entry["Exec"]) == desktop.login_command()
    assert desktop.create_start_menu_entry(["/a"]) == desktop_home.system_applications / "sosqueue-acme-support.desktop"
    assert desktop.enable_autostart(["/a", "--tray"]) == desktop_home.system_autostart / "sosqueue-acme-support.desktop"
    require_tool("desktop-file-validate", "desktop-file-utils")
    for path in (login, template, *desktop.created()[1:]):
        assert validate(path) == "", path


def run_login(desktop: _linux.Desktop, home: Path, command: list[str] | None = None) -> None:
    """What the login entry runs in a session of the user whose home is ``home``."""
    subprocess.run(command or desktop.login_command(), env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, check=True,
                   capture_output=True)


def test_login_copies_the_sos_shortcut_once_and_a_deleted_one_stays_deleted(desktop_home):
    """The first login puts the SOS shortcut on the user's desktop (user-dirs.dirs respected); a
    second adds nothing; after the user deletes it, the next login does not bring it back."""
    (desktop_home.root / ".config").mkdir()
    (desktop_home.root / ".config" / "user-dirs.dirs").write_text('XDG_DESKTOP_DIR="$HOME/Schreibtisch"\n')
    desktop = _linux.Desktop("Acme Support", all_users=True)
    desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"])
    run_login(desktop, desktop_home.root)
    run_login(desktop, desktop_home.root)
    shortcut = desktop_home.root / "Schreibtisch" / "Acme Support SOS.desktop"
    assert [path.name for path in shortcut.parent.iterdir()] == [shortcut.name]
    assert shortcut.read_bytes() == desktop.template.read_bytes()
    assert stat.S_IMODE(shortcut.stat().st_mode) == 0o755
    shortcut.unlink()
    run_login(desktop, desktop_home.root)
    assert not shortcut.exists()


def test_removing_for_all_users_leaves_no_template_entry_or_empty_folder(desktop_home):
    """remove_all takes the login entry, the template and the folders made for it."""
    desktop = _linux.Desktop("Acme Support", all_users=True)
    desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"])
    desktop.remove_all()
    assert not desktop_home.system_autostart.joinpath("sosqueue-acme-support-sos-shortcut.desktop").exists()
    assert not desktop_home.system_templates.parent.exists()


def test_forgetting_removes_the_users_unchanged_copy_and_record_but_keeps_a_changed_one(desktop_home, tmp_path):
    """What removal runs as each user: the copy they did not change goes, with its record and folder."""
    desktop = _linux.Desktop("Acme Support", all_users=True)
    desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"])
    other = tmp_path / "other home"
    other.mkdir()
    for home in (desktop_home.root, other):
        run_login(desktop, home)
    changed = other / "Desktop" / "Acme Support SOS.desktop"
    changed.write_text(changed.read_text() + "X-Changed=true\n")
    for home in (desktop_home.root, other):
        run_login(desktop, home, desktop.forget_command())
    assert not (desktop_home.desktop / "Acme Support SOS.desktop").exists()
    assert changed.is_file()
    for home in (desktop_home.root, other):
        assert not (home / ".local" / "state" / "sosqueue-acme-support").exists()


def test_every_entry_has_try_exec_the_window_class_and_the_brand_icon(desktop, desktop_home, tmp_path):
    """Shortcut, menu entry and autostart entry: TryExec, StartupWMClass and the module's icon
    (the autostart entry takes the icon of the entries made before it)."""
    icon = tmp_path / "icons" / "app.png"
    made = [desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"], icon),
            desktop.create_start_menu_entry(["/opt/acme/agent"], icon),
            desktop.enable_autostart(["/opt/acme/agent", "--tray"])]
    for path in made:
        entry = desktop_entry(path)
        assert entry["TryExec"] == "/opt/acme/agent", path
        assert entry["StartupWMClass"] == WINDOW_CLASS, path
        assert entry["Icon"] == str(icon), path
    require_tool("desktop-file-validate", "desktop-file-utils")
    assert [validate(path) for path in made] == ["", "", ""]


WINDOW_CLASS_PROBE = """\
import re, subprocess, sys
from agent.ui import create_root
root = create_root()
root.title("sosqueue class probe")
root.update()
# the toplevel's wrapper (the window with WM_CLASS) is the X parent of the Tk window
tree = subprocess.run([sys.argv[2], "-children", "-id", str(root.winfo_id())], capture_output=True, text=True).stdout
wrapper = re.search(r"Parent window id: (0x[0-9a-f]+)", tree).group(1)
print(subprocess.run([sys.argv[1], "-id", wrapper, "WM_CLASS"], capture_output=True, text=True).stdout)
root.destroy()
"""


def test_window_class_of_the_launchers_is_the_agent_windows_x_class():
    """On a real X server, the Tk root the agent opens has WM_CLASS class WINDOW_CLASS (StartupWMClass)."""
    require_tool("Xvfb", "xvfb")
    xprop = require_tool("xprop", "x11-utils")
    xwininfo = require_tool("xwininfo", "x11-utils")
    process, display = start_xvfb()
    try:
        child = subprocess.run([sys.executable, "-c", WINDOW_CLASS_PROBE, xprop, xwininfo],
                               env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=60,
                               cwd=REPO)
    finally:
        stop(process)
    assert child.returncode == 0, child.stderr
    found = re.search(r'WM_CLASS\(STRING\) = "([^"]*)", "([^"]*)"', child.stdout)
    assert found and found.group(2) == WINDOW_CLASS, child.stdout


def test_names_with_control_characters_are_cleaned(desktop_home):
    """A product name with a newline and slashes gives one clean Name= line and a safe file name."""
    desktop = _linux.Desktop("Acme/Support\nTeam")
    path = desktop.create_sos_shortcut(["/a"])
    assert path.name == "AcmeSupport Team SOS.desktop"
    assert desktop_entry(path)["Name"] == "Acme/Support Team SOS"
    assert validate(path) == ""


def test_icon_path_with_spaces_is_written_verbatim(desktop, desktop_home, tmp_path):
    """The Icon= value is the absolute icon path, spaces and all (it is not a command line)."""
    icon = tmp_path / "my icons" / "sos.png"
    assert desktop_entry(desktop.create_sos_shortcut(["/a"], icon))["Icon"] == str(icon)


def test_sos_shortcut_is_marked_trusted_where_gvfs_runs(desktop_home):
    """In a session with a bus and GVfs, the shortcut carries the trust marks GNOME, LXQt and Xfce check."""
    create = ("from agent.platforms import _linux; "
              "print(_linux.Desktop('Acme Support').create_sos_shortcut(['/opt/acme/agent', '--sos']))")
    script = f'path=$("{sys.executable}" -c "{create}") && gio info -a "metadata::*" "$path"'
    result = subprocess.run(["dbus-run-session", "--", "sh", "-c", script], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    checksum = hashlib.sha256((desktop_home.desktop / "Acme Support SOS.desktop").read_bytes()).hexdigest()
    assert "metadata::trusted: true" in result.stdout
    assert "metadata::trust: true" in result.stdout
    assert f"metadata::xfce-exe-checksum: {checksum}" in result.stdout


def test_no_session_bus_means_no_gio_and_no_stray_bus(desktop_home, monkeypatch):
    """Without a session bus the shortcut is still created; gio is not asked (it would start a bus)."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(desktop_home.root / "run"))
    monkeypatch.setenv("PATH", str(desktop_home.root / "bin"))  # a gio that records being called
    make_recorder(desktop_home.root / "bin" / "gio", desktop_home.root / "gio-called.json")
    assert _linux.Desktop("Acme").create_sos_shortcut(["/a"]).exists()
    assert not (desktop_home.root / "gio-called.json").exists()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")  # with a bus, gio is asked
    _linux.Desktop("Acme").create_sos_shortcut(["/a"])
    assert (desktop_home.root / "gio-called.json").exists()


@pytest.fixture
def real_user():
    """A throwaway local user with a home (needs root and useradd); deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("adding a user needs root")
    require_tool("useradd", "passwd")
    require_tool("runuser", "util-linux")
    name = f"sosqa{secrets.token_hex(3)}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    yield pwd.getpwnam(name)
    subprocess.run(["userdel", "-r", name], capture_output=True)


def test_all_users_gives_existing_users_their_shortcut_now_and_removal_takes_it(desktop_home, monkeypatch,
                                                                                real_user):
    """A user who exists already gets the SOS shortcut at once, written as that user; removing
    for all users takes it and the user's record away, as that user."""
    shared = Path(tempfile.mkdtemp(prefix="sosqueue-templates-"))
    try:
        shared.chmod(0o755)  # the user reads the template from here
        monkeypatch.setattr(_linux, "SYSTEM_TEMPLATES", shared / "shortcuts")
        monkeypatch.setattr(_linux, "local_users", lambda: [real_user])
        desktop = _linux.Desktop("Acme Support", all_users=True)
        desktop.create_sos_shortcut(["/opt/acme/agent", "--sos"])
        shortcut = Path(real_user.pw_dir) / "Desktop" / "Acme Support SOS.desktop"
        assert shortcut.stat().st_uid == real_user.pw_uid
        assert shortcut.read_bytes() == desktop.template.read_bytes()
        desktop.remove_all()
        assert not shortcut.exists()
        assert not (Path(real_user.pw_dir) / ".local" / "state" / "sosqueue-acme-support").exists()
        assert not (shared / "shortcuts").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)
