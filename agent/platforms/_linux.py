"""Linux and other freedesktop.org desktops: ``.desktop`` files (Desktop Entry Specification).

The files are written here rather than with pyshortcuts: pyshortcuts splits the command at its
first space and writes ``Exec=`` unquoted (an executable under ``/home/Jane Doe/`` would not
start), replaces spaces in the shown name with underscores and defaults to ``Terminal=true``.
"""

import hashlib
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from agent.platforms import _base
from agent.platforms._base import Item, file_name, write_file

log = logging.getLogger("sosqueue.agent.desktop")

#: Where the menu entry and the autostart entry go with ``all_users``.
SYSTEM_APPLICATIONS = Path("/usr/share/applications")
SYSTEM_AUTOSTART = Path("/etc/xdg/autostart")
#: The theme icon used when the module has no icon.
FALLBACK_ICON = "help-browser"

# Characters that make an Exec argument need double quotes (Desktop Entry Spec, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = re.compile(r'(["`$\\])')

_SOS_COMMENT = {"": "Ask for help now", "de": "Jetzt Hilfe anfordern"}
_MENU_COMMENT = {"": "Ask your support team for help", "de": "Hilfe beim Support-Team anfordern"}


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
        extra = {"Categories": "Utility;", "Keywords": "help;support;SOS;", "Keywords[de]": "Hilfe;Support;SOS;"}
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

    def _entry(self, name, command, icon, comments, extra=None) -> str:
        keys = {
            "Type": "Application",
            "Version": "1.4",
            "Name": escape_value(name),
            **{(f"Comment[{lang}]" if lang else "Comment"): escape_value(text) for lang, text in comments.items()},
            "Exec": exec_value(command),
            "Icon": escape_value(str(icon) if icon else FALLBACK_ICON),
            "Terminal": "false",
            **(extra or {}),
        }
        return "[Desktop Entry]\n" + "".join(f"{key}={value}\n" for key, value in keys.items())


def exec_argument(argument: str) -> str:
    """One argument of an ``Exec`` command line, quoted as the specification requires."""
    if argument and not _RESERVED.intersection(argument):
        quoted = argument
    else:
        quoted = '"' + _ESCAPED_IN_QUOTES.sub(r"\\\1", argument) + '"'
    return quoted.replace("%", "%%")  # a lone % would be read as a field code


def exec_value(command: list[str]) -> str:
    """The ``Exec=`` value for ``command``: quoted arguments, then escaped as a string value."""
    if "%" in command[0]:
        # GLib looks the program up before it turns %% back into %, so such a program would
        # never be found: let sh start it (its $0) instead.
        command = ["sh", "-c", 'exec "$0" "$@"', *command]
    return escape_value(" ".join(exec_argument(argument) for argument in command))


def escape_value(text: str) -> str:
    """``text`` escaped as a key file string value (readers undo this before parsing Exec quotes)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


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
