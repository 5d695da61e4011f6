"""Windows: what goes into the ``.lnk`` shortcuts and the ``Run`` key, through stand-ins for
``WScript.Shell`` and ``winreg`` (neither exists here)."""

import json
from pathlib import Path

import pytest

from agent.platforms import _win32
from agent.platforms._util import win32
from sosqueue.updates import POLICY_REGISTRY_KEY, POLICY_REGISTRY_VALUE, BadPolicy, Policy

AGENT = r"C:\Users\Jane Doe\Downloads\Acme Support.exe"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class FakeKey:
    def __init__(self, registry, hive, path):
        self.registry, self.hive, self.path = registry, hive, path

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


class FakeWinreg:
    """The parts of ``winreg`` the backend uses, keeping values in a dict."""

    HKEY_CURRENT_USER = "HKCU-handle"
    HKEY_LOCAL_MACHINE = "HKLM-handle"
    KEY_SET_VALUE = 0x0002
    KEY_READ = 0x20019
    REG_SZ = 1

    def __init__(self):
        self.values: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}

    def CreateKeyEx(self, hive, path, reserved, access):  # noqa: N802 - winreg's names
        assert (reserved, access) == (0, self.KEY_SET_VALUE)
        self.values.setdefault((hive, path), {})
        return FakeKey(self, hive, path)

    def OpenKey(self, hive, path, reserved, access):  # noqa: N802
        if (hive, path) not in self.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return FakeKey(self, hive, path)

    def QueryValueEx(self, key, name):  # noqa: N802
        try:
            kind, value = self.values[(key.hive, key.path)][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None
        return value, kind

    def SetValueEx(self, key, name, reserved, kind, value):  # noqa: N802
        self.values[(key.hive, key.path)][name] = (kind, value)

    def DeleteValue(self, key, name):  # noqa: N802
        try:
            del self.values[(key.hive, key.path)][name]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None


class FakeLink:
    """An ``IWshShortcut``: ``Save`` writes its properties as JSON to its path."""

    def __init__(self, path, fail=False):
        self._path, self._fail = Path(path), fail

    def Save(self):  # noqa: N802
        if self._fail:
            raise RuntimeError("(-2147024891, 'Access is denied.')")
        self._path.write_text(json.dumps({k: v for k, v in vars(self).items() if not k.startswith("_")}))


class FakeShell:
    """A ``WScript.Shell`` with its special folders under a temporary folder."""

    def __init__(self, root: Path, fail_save=False):
        self.folders = {name: root / name for name in (win32.DESKTOP, win32.ALL_USERS_DESKTOP, win32.PROGRAMS,
                                                       win32.ALL_USERS_PROGRAMS)}
        self.fail_save = fail_save

    def SpecialFolders(self, name):  # noqa: N802
        return str(self.folders.get(name, ""))

    def CreateShortcut(self, path):  # noqa: N802
        return FakeLink(path, fail=self.fail_save)


def saved_link(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def winreg():
    return FakeWinreg()


@pytest.fixture
def shell(tmp_path):
    return FakeShell(tmp_path)


@pytest.fixture
def desktop(winreg, shell):
    return _win32.Desktop("Acme Support", winreg=winreg, shell=shell)


def test_sos_shortcut_is_a_link_on_the_desktop_that_starts_the_agent(desktop, shell, tmp_path):
    """``Desktop\\<Product> SOS.lnk`` targets the agent (spaces and all) with ``--sos`` and the SOS icon."""
    icon = tmp_path / "icons" / "sos.ico"
    path = desktop.create_sos_shortcut([AGENT, "--sos"], icon)
    assert path == shell.folders[win32.DESKTOP] / "Acme Support SOS.lnk"
    assert saved_link(path) == {
        "TargetPath": AGENT,
        "Arguments": "--sos",
        "WorkingDirectory": r"C:\Users\Jane Doe\Downloads",
        "IconLocation": f"{icon},0",
        "Description": "Ask for help now",
        "WindowStyle": win32.SW_SHOWNORMAL,
    }


def test_start_menu_entry_is_a_link_in_programs(desktop, shell):
    """The Start menu entry is ``Programs\\<Product>.lnk``; without an icon it shows the program's own."""
    path = desktop.create_start_menu_entry([AGENT])
    assert path == shell.folders[win32.PROGRAMS] / "Acme Support.lnk"
    link = saved_link(path)
    assert (link["TargetPath"], link["Arguments"], link["IconLocation"]) == (AGENT, "", f"{AGENT},0")


def test_arguments_with_spaces_and_quotes_are_quoted_as_windows_parses_them(desktop, shell):
    """From source the shortcut runs ``python -m agent --module PATH``; each argument survives Windows' parser."""
    python = r"C:\Program Files\Python311\python.exe"
    link = saved_link(desktop.create_sos_shortcut(
        [python, "-m", "agent", "--module", "C:\\Users\\Jane Doe\\", "--name", 'Jane "JD" Doe', "--sos"]))
    assert link["TargetPath"] == python
    # Backslashes before a closing quote are doubled, inner quotes escaped (CommandLineToArgvW rules).
    assert link["Arguments"] == r'-m agent --module "C:\Users\Jane Doe\\" --name "Jane \"JD\" Doe" --sos'
    assert link["WorkingDirectory"] == r"C:\Program Files\Python311"


def test_autostart_writes_the_quoted_command_to_the_users_run_key(desktop, winreg):
    """HKCU ``…\\Run`` gets the value ``<Product> SOS`` = the quoted program and ``--tray``."""
    entry = desktop.enable_autostart([AGENT, "--tray"])
    assert winreg.values == {(FakeWinreg.HKEY_CURRENT_USER, RUN_KEY): {
        "Acme Support SOS": (FakeWinreg.REG_SZ, f'"{AGENT}" --tray'),
    }}
    assert entry == rf"HKEY_CURRENT_USER\{RUN_KEY}\Acme Support SOS"
    assert desktop.created() == [entry]


def test_all_users_uses_public_folders_and_the_machine_run_key(winreg, shell):
    """For all users: Public Desktop, the common Start menu and HKLM."""
    desktop = _win32.Desktop("Acme Support", all_users=True, winreg=winreg, shell=shell)
    assert desktop.create_sos_shortcut([AGENT, "--sos"]).parent == shell.folders[win32.ALL_USERS_DESKTOP]
    assert desktop.create_start_menu_entry([AGENT]).parent == shell.folders[win32.ALL_USERS_PROGRAMS]
    assert desktop.enable_autostart([AGENT, "--tray"]).startswith("HKEY_LOCAL_MACHINE\\")
    assert list(winreg.values) == [(FakeWinreg.HKEY_LOCAL_MACHINE, RUN_KEY)]


def test_remove_all_deletes_links_and_the_run_value_but_nothing_else(desktop, winreg, shell):
    """Other Run values and other shortcuts stay after ``remove_all``."""
    winreg.values[(FakeWinreg.HKEY_CURRENT_USER, RUN_KEY)] = {"OneDrive": (FakeWinreg.REG_SZ, '"C:\\od.exe"')}
    other = shell.folders[win32.DESKTOP] / "Other.lnk"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    made = [desktop.create_sos_shortcut([AGENT]), desktop.create_start_menu_entry([AGENT]),
            desktop.enable_autostart([AGENT])]
    assert sorted(map(str, desktop.remove_all())) == sorted(map(str, made))
    assert winreg.values[(FakeWinreg.HKEY_CURRENT_USER, RUN_KEY)] == {"OneDrive": (FakeWinreg.REG_SZ, '"C:\\od.exe"')}
    assert [p.name for p in shell.folders[win32.DESKTOP].iterdir()] == ["Other.lnk"]
    assert not made[1].exists()


def test_removing_a_run_value_that_is_already_gone_succeeds(winreg, shell):
    """An adopted Run value deleted meanwhile (or a missing key) is no error."""
    desktop = _win32.Desktop("Acme", winreg=winreg, shell=shell)
    desktop.adopt([rf"HKEY_CURRENT_USER\{RUN_KEY}\Acme SOS", rf"HKEY_LOCAL_MACHINE\{RUN_KEY}\Acme SOS"])
    winreg.values[(FakeWinreg.HKEY_CURRENT_USER, RUN_KEY)] = {}
    assert len(desktop.remove_all()) == 2


def test_failed_save_becomes_an_os_error_and_records_nothing(winreg, tmp_path):
    """A COM error while saving the link is an OSError naming the file."""
    desktop = _win32.Desktop("Acme", winreg=winreg, shell=FakeShell(tmp_path, fail_save=True))
    with pytest.raises(OSError, match="Acme SOS.lnk.*Access is denied"):
        desktop.create_sos_shortcut([AGENT])
    assert desktop.created() == []


def test_missing_special_folder_is_an_os_error(winreg, shell):
    """An account without a Desktop folder gets an OSError, not a link in the current folder."""
    del shell.folders[win32.DESKTOP]
    with pytest.raises(OSError, match="no Desktop folder"):
        _win32.Desktop("Acme", winreg=winreg, shell=shell).create_sos_shortcut([AGENT])


def test_run_value_name_has_no_backslashes(winreg, shell):
    """A product name with a backslash still gives a Run value that removal can find again."""
    desktop = _win32.Desktop("Acme\\Help", winreg=winreg, shell=shell)
    entry = desktop.enable_autostart([AGENT])
    assert _win32.split_registry_entry(entry) == ("HKEY_CURRENT_USER", RUN_KEY, "AcmeHelp SOS")
    desktop.remove_all()
    assert winreg.values[(FakeWinreg.HKEY_CURRENT_USER, RUN_KEY)] == {}


@pytest.mark.parametrize(("command", "expected"), [
    ([AGENT], f'"{AGENT}"'),
    ([r"C:\a.exe", "--tray"], r'"C:\a.exe" --tray'),
    ([r"C:\py.exe", "-m", "agent", "--module", r"C:\x y\m.bin", "--tray"],
     r'"C:\py.exe" -m agent --module "C:\x y\m.bin" --tray'),
])
def test_run_command_always_quotes_the_program(command, expected):
    """The program is always quoted; arguments only when Windows needs it."""
    assert _win32.run_command(command) == expected


@pytest.mark.parametrize("entry", ["HKEY_USERS\\x\\y", "HKEY_CURRENT_USER\\novalue", "", "C:\\file.lnk"])
def test_split_registry_entry_refuses_what_is_not_a_value_we_write(entry):
    """Only values under HKCU or HKLM with a key path are accepted."""
    with pytest.raises(ValueError):
        _win32.split_registry_entry(entry)


def machine_policy(winreg, value) -> None:
    with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, POLICY_REGISTRY_KEY, 0, winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, POLICY_REGISTRY_VALUE, 0, winreg.REG_SZ, value)


@pytest.mark.parametrize("value, policy", [("off", Policy.OFF), (" Notify ", Policy.NOTIFY), ("auto", Policy.AUTO)])
def test_it_sets_the_update_policy_in_the_machines_registry(winreg, value, policy):
    machine_policy(winreg, value)
    assert _win32.Desktop.update_policy(winreg) is policy


def test_no_registry_policy_means_it_set_none(winreg):
    assert _win32.Desktop.update_policy(winreg) is None
    winreg.values[(winreg.HKEY_LOCAL_MACHINE, POLICY_REGISTRY_KEY)] = {}
    assert _win32.Desktop.update_policy(winreg) is None


def test_a_registry_policy_that_is_no_policy_names_the_value(winreg):
    machine_policy(winreg, "weekly")
    with pytest.raises(BadPolicy, match=r"HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\sosqueue\\Updates"):
        _win32.Desktop.update_policy(winreg)
