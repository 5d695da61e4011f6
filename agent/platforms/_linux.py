"""Linux and other freedesktop.org desktops: ``.desktop`` files (Desktop Entry Specification).

The files are written here rather than with pyshortcuts: pyshortcuts splits the command at its
first space and writes ``Exec=`` unquoted (an executable under ``/home/Jane Doe/`` would not
start), replaces spaces in the shown name with underscores and defaults to ``Terminal=true``.
"""

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from agent.i18n import N_, in_every_language
from agent.platforms import _base
from agent.platforms._base import Item, write_file
from sosqueue.desktop_entry import desktop_entry, localized_keys
from sosqueue.platforms import file_name

log = logging.getLogger("sosqueue.agent.desktop")

#: Where the menu entry and the autostart entry go with ``all_users``.
SYSTEM_APPLICATIONS = Path("/usr/share/applications")
SYSTEM_AUTOSTART = Path("/etc/xdg/autostart")

#: The entries' comments, written in every language (Comment=, Comment[de]=).
_SOS_COMMENT = N_("Ask for help now")
_MENU_COMMENT = N_("Ask your support team for help")
_MENU_KEYWORDS = N_("help;support;SOS;")


class Desktop(_base.Desktop):
    """``.desktop`` files on the desktop, in the application menu and in autostart."""

    HAS_SHORTCUT = True
    HAS_MENU_ENTRY = True
    HAS_AUTOSTART = True
    HAS_ALL_USERS = True
    ICON_FORMAT = "png"
    SHARED_DATA_DIR = Path("/usr/local/share/sosqueue")

    def _create_shortcut(self, command, icon):
        if self.all_users:
            log.info("for all users the SOS desktop shortcut comes from the system package (.deb); "
                     "no per-user desktop file is created")
            return None
        path = desktop_dir() / f"{file_name(self.sos_name)}.desktop"
        write_file(path, self._entry(self.sos_name, command, icon, _SOS_COMMENT).encode(), mode=0o755)
        mark_trusted(path)
        log.info("created the SOS shortcut %s", path)
        return path

    def _create_menu_entry(self, command, icon):
        folder = SYSTEM_APPLICATIONS if self.all_users else data_home() / "applications"
        extra = {"Categories": "Utility;", **localized_keys("Keywords", in_every_language(_MENU_KEYWORDS))}
        path = folder / f"{self.identifier}.desktop"
        write_file(path, self._entry(self.app_name, command, icon, _MENU_COMMENT, extra).encode())
        log.info("created the menu entry %s", path)
        return path

    def _enable_autostart(self, command):
        folder = SYSTEM_AUTOSTART if self.all_users else config_home() / "autostart"
        extra = {"NoDisplay": "true", "X-GNOME-Autostart-enabled": "true"}
        path = folder / f"{self.identifier}.desktop"
        write_file(path, self._entry(self.app_name, command, None, _MENU_COMMENT, extra).encode())
        log.info("enabled starting at login: %s", path)
        return path

    def _remove(self, item: Item) -> None:
        if not isinstance(item, Path):
            log.warning("not a file, left alone: %s", item)
        elif item.is_dir() and not item.is_symlink():
            log.warning("a folder where a desktop file was, left alone: %s", item)
        else:
            item.unlink(missing_ok=True)
            log.info("removed %s", item)

    def _entry(self, name, command, icon, comment, extra=None) -> str:
        return desktop_entry(name, command, icon=str(icon) if icon else None, comments=in_every_language(comment),
                             extra=extra)


def mark_trusted(path: Path) -> None:
    """Let the desktop launch the file without asking, where ``gio`` and GVfs exist: GNOME
    reads ``metadata::trusted``, PCManFM and LXQt ``metadata::trust``, Xfce 4.18+ a checksum
    of the file's content."""
    gio = shutil.which("gio")
    if gio is None or not _has_session_bus():
        return  # without a session bus gio would start one (X11 autolaunch) and leave it running
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    attributes = (("metadata::trusted", "true"), ("metadata::trust", "true"), ("metadata::xfce-exe-checksum", checksum))
    for attribute, value in attributes:
        try:
            result = subprocess.run([gio, "set", "-t", "string", str(path), attribute, value],
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            log.debug("could not mark %s as trusted: %s", path, error)
            return
        if result.returncode != 0:
            log.debug("could not set %s on %s: %s", attribute, path, result.stderr.decode(errors="replace").strip())
            return  # no GVfs metadata here: the other attribute will fail the same way


def _has_session_bus() -> bool:
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    return bool(runtime_dir) and os.path.exists(os.path.join(runtime_dir, "bus"))


def home() -> Path:
    return Path.home()


def config_home() -> Path:
    return _xdg_dir("XDG_CONFIG_HOME", home() / ".config")


def data_home() -> Path:
    return _xdg_dir("XDG_DATA_HOME", home() / ".local" / "share")


def desktop_dir() -> Path:
    """The desktop folder: ``XDG_DESKTOP_DIR`` from the environment or ``user-dirs.dirs``
    (``~/Schreibtisch`` on a German system), else ``~/Desktop``."""
    configured = os.environ.get("XDG_DESKTOP_DIR") or _user_dirs().get("XDG_DESKTOP_DIR", "")
    path = _expand_home(configured)
    return path if path is not None else home() / "Desktop"


def _xdg_dir(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else default  # the spec ignores relative paths


def _user_dirs() -> dict[str, str]:
    """``KEY="value"`` lines of ``$XDG_CONFIG_HOME/user-dirs.dirs`` (written by xdg-user-dirs)."""
    try:
        text = (config_home() / "user-dirs.dirs").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    found = {}
    for line in text.splitlines():
        key, separator, value = line.strip().partition("=")
        if separator and not key.startswith("#"):
            found[key.strip()] = value.strip().strip('"')
    return found


def _expand_home(value: str) -> Path | None:
    if value == "$HOME" or value.startswith("$HOME/"):
        return home() / value[len("$HOME/"):]
    return Path(value) if os.path.isabs(value) else None
