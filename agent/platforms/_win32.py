"""Windows: ``.lnk`` shortcuts on the desktop and in the Start menu, the ``Run`` key at login.

Shortcuts are written through ``WScript.Shell`` (pywin32) rather than pyshortcuts'
``make_shortcut``: that one splits the command at its first space (``C:\\Users\\Jane Doe\\…``
breaks), turns spaces in the shortcut's shown name into underscores and prints to stdout
when imported. ``winreg`` and the shell object can be passed in, so tests can check exactly
what is written.
"""

import logging
import os
import subprocess
from pathlib import Path, PureWindowsPath

from agent.platforms import _base
from agent.platforms._base import Item
from sosqueue.platforms import file_name
from sosqueue.updates import POLICY_REGISTRY_KEY, POLICY_REGISTRY_VALUE, BadPolicy, Policy, policy_value
from agent.platforms._util import win32

log = logging.getLogger("sosqueue.agent.desktop")


class Desktop(_base.Desktop):
    """Shortcuts via ``WScript.Shell``; autostart via ``HKCU`` (or ``HKLM``) ``…\\Run``.

    :param winreg: the ``winreg`` module or a stand-in (default: the real one).
    :param shell: a ``WScript.Shell`` object or a stand-in (default: a real one).
    """

    HAS_SHORTCUT = True
    HAS_MENU_ENTRY = True
    HAS_AUTOSTART = True
    HAS_ALL_USERS = True
    ICON_FORMAT = "ico"
    SHARED_DATA_DIR = Path(os.environ.get("PROGRAMDATA", win32.PROGRAM_DATA)) / "sosqueue"

    def __init__(self, app_name: str, *, all_users: bool = False, winreg=None, shell=None):
        super().__init__(app_name, all_users=all_users)
        self._winreg = winreg
        self._shell = shell

    @property
    def winreg(self):
        if self._winreg is None:
            self._winreg = win32.load_winreg()
        return self._winreg

    @property
    def shell(self):
        if self._shell is None:
            self._shell = win32.wscript_shell()
        return self._shell

    @classmethod
    def update_policy_source(cls) -> str:
        return registry_entry(win32.HKEY_LOCAL_MACHINE, POLICY_REGISTRY_KEY, POLICY_REGISTRY_VALUE)

    @classmethod
    def update_policy(cls, winreg=None) -> Policy | None:
        """The policy the MSI (``UPDATES``) or IT's group policy wrote under HKLM; see the base class."""
        winreg = winreg or win32.load_winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, POLICY_REGISTRY_KEY, 0, winreg.KEY_READ) as key:
                value, _kind = winreg.QueryValueEx(key, POLICY_REGISTRY_VALUE)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise BadPolicy(f"{cls.update_policy_source()} cannot be read ({error.strerror or error}); "
                            "let every user read the key, or remove the value") from None
        return policy_value(value, source=cls.update_policy_source())

    def _create_shortcut(self, command, icon):
        folder = self._special_folder(win32.ALL_USERS_DESKTOP if self.all_users else win32.DESKTOP)
        return self._write_link(folder / f"{file_name(self.sos_name)}.lnk", command, icon, "Ask for help now")

    def _create_menu_entry(self, command, icon):
        folder = self._special_folder(win32.ALL_USERS_PROGRAMS if self.all_users else win32.PROGRAMS)
        return self._write_link(folder / f"{file_name(self.app_name)}.lnk", command, icon,
                                "Ask your support team for help")

    def _enable_autostart(self, command, icon):  # a Run value shows no icon
        winreg = self.winreg
        hive = win32.HKEY_LOCAL_MACHINE if self.all_users else win32.HKEY_CURRENT_USER
        value = file_name(self.sos_name)  # no backslashes: they would blur the entry text
        with winreg.CreateKeyEx(getattr(winreg, hive), win32.RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, value, 0, winreg.REG_SZ, run_command(command))
        log.info("enabled starting at login: %s\\%s value %r", hive, win32.RUN_KEY, value)
        return registry_entry(hive, win32.RUN_KEY, value)

    def _remove(self, item: Item) -> None:
        if isinstance(item, Path):
            item.unlink(missing_ok=True)
            log.info("removed %s", item)
            return
        hive, key_path, value = split_registry_entry(item)
        winreg = self.winreg
        try:
            with winreg.OpenKey(getattr(winreg, hive), key_path, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, value)
        except FileNotFoundError:
            return  # already gone
        log.info("removed %s", item)

    def _special_folder(self, name: str) -> Path:
        folder = self.shell.SpecialFolders(name)
        if not folder:
            raise OSError(f"Windows has no {name} folder for this account")
        return Path(folder)

    def _write_link(self, path: Path, command: list[str], icon: Path | None, description: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        link = self.shell.CreateShortcut(str(path))
        link.TargetPath = command[0]
        link.Arguments = subprocess.list2cmdline(command[1:])
        link.WorkingDirectory = working_directory(command[0])
        link.IconLocation = f"{icon if icon else command[0]},0"
        link.Description = description
        link.WindowStyle = win32.SW_SHOWNORMAL
        try:
            link.Save()
        except Exception as error:  # pywintypes.com_error: make it the OSError callers expect
            raise OSError(f"could not save the shortcut {path}: {error}") from None
        log.info("created the shortcut %s", path)
        return path


def run_command(command: list[str]) -> str:
    """The ``Run`` value for ``command``: the program always quoted (an unquoted path with
    spaces is a known hijacking risk), the arguments quoted as Windows parses them."""
    arguments = subprocess.list2cmdline(command[1:])
    return f'"{command[0]}"' + (f" {arguments}" if arguments else "")


def working_directory(program: str) -> str:
    """The program's folder, or ``""`` for a bare program name found on ``PATH``."""
    parent = PureWindowsPath(program).parent
    return "" if str(parent) == "." else str(parent)


def registry_entry(hive: str, key: str, value: str) -> str:
    """The text naming a registry value, as regedit shows it: ``HIVE\\key\\value``."""
    return f"{hive}\\{key}\\{value}"


def split_registry_entry(entry: str) -> tuple[str, str, str]:
    """``(hive, key, value)`` of a :func:`registry_entry` text.

    :raises ValueError: if ``entry`` does not name a value under a known hive.
    """
    hive, _, rest = entry.partition("\\")
    key, _, value = rest.rpartition("\\")
    if hive not in (win32.HKEY_CURRENT_USER, win32.HKEY_LOCAL_MACHINE) or not key or not value:
        raise ValueError(f"not a registry value: {entry!r}")
    return hive, key, value
