"""Linux and other freedesktop.org desktops: ``.desktop`` files (Desktop Entry Specification).

The files are written here rather than with pyshortcuts: pyshortcuts splits the command at its
first space and writes ``Exec=`` unquoted (an executable under ``/home/Jane Doe/`` would not
start), replaces spaces in the shown name with underscores and defaults to ``Terminal=true``.

Every entry has ``TryExec`` (an entry left behind runs nothing), the brand icon (the autostart
entry takes the one of the entries made before it) and, for the agent's windows,
``StartupWMClass`` so docks tie the window to its launcher.

For all users, a desktop shortcut cannot be written for users who do not exist yet. The SOS
shortcut is a template (:data:`SYSTEM_TEMPLATES`) and a system autostart entry that, at each
user's login, copies it onto the user's desktop once (:data:`LOGIN_SCRIPT`; a record in
``~/.local/state/<id>`` keeps a shortcut the user deleted deleted). The users who exist get
theirs right away (the same script, run as each of them). Removing it removes, as each user,
the copies they did not change and their records (:data:`FORGET_SCRIPT`).
"""

import hashlib
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from agent.i18n import N_, in_every_language
from agent.platforms import _base
from agent.platforms._base import Item, write_file
from sosqueue.desktop_entry import WINDOW_CLASS, desktop_entry, escape_value, localized_keys
from sosqueue.platforms import Platform, file_name
from sosqueue.updates import POLICY_FILES

log = logging.getLogger("sosqueue.agent.desktop")

#: Where the menu entry and the autostart entry go with ``all_users``.
SYSTEM_APPLICATIONS = Path("/usr/share/applications")
SYSTEM_AUTOSTART = Path("/etc/xdg/autostart")
#: Where the SOS shortcut every user gets a copy of goes with ``all_users``.
SYSTEM_TEMPLATES = Path("/usr/local/share/sosqueue/shortcuts")

#: ``sh -c LOGIN_SCRIPT sh TEMPLATE FILE_NAME ID``, as the user: the user's SOS shortcut, once.
LOGIN_SCRIPT = "; ".join([
    'template=$1 name=$2 record="$HOME/.local/state/$3/sos-shortcut"',
    '{ [ -f "$template" ] && [ -d "$HOME" ] && [ ! -e "$record" ]; } || exit 0',
    'dir=$(xdg-user-dir DESKTOP 2> /dev/null) || dir=""',
    '{ [ -n "$dir" ] && [ "$dir" != "$HOME" ]; } || dir="$HOME/Desktop"',
    " && ".join([
        'mkdir -p -- "$dir" "${record%/*}"',
        'cp -- "$template" "$dir/.$name.tmp"',
        'chmod 0755 "$dir/.$name.tmp"',
        'mv -f -- "$dir/.$name.tmp" "$dir/$name"',
        'printf "%s\\n" "$dir/$name" > "$record"',
    ]),
])
#: ``sh -c FORGET_SCRIPT sh TEMPLATE ID``, as the user: remove the unchanged copy and the record.
FORGET_SCRIPT = "; ".join([
    'record="$HOME/.local/state/$2/sos-shortcut"',
    '[ -f "$record" ] || exit 0',
    'shortcut=$(cat -- "$record")',
    'if [ -f "$shortcut" ] && [ ! -L "$shortcut" ] && cmp -s -- "$shortcut" "$1"; then rm -f -- "$shortcut"; fi',
    'rm -f -- "$record"',
    'rmdir -- "${record%/*}" 2> /dev/null || true',
])

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
    POLICY_FILE = POLICY_FILES[Platform.LINUX]

    _icon: Path | None = None

    @property
    def shortcut_name(self) -> str:
        """The SOS shortcut's file name on a desktop, e.g. ``Acme Support SOS.desktop``."""
        return f"{file_name(self.sos_name)}.desktop"

    @property
    def template(self) -> Path:
        """With ``all_users``: the SOS shortcut each user gets a copy of."""
        return SYSTEM_TEMPLATES / f"{self.identifier}.desktop"

    @property
    def login_entry(self) -> Path:
        """With ``all_users``: the autostart entry that copies :attr:`template` at login."""
        return SYSTEM_AUTOSTART / f"{self.identifier}-sos-shortcut.desktop"

    def _create_shortcut(self, command, icon):
        self._icon = icon or self._icon
        entry = self._entry(self.sos_name, command, icon, _SOS_COMMENT, self._window())
        if self.all_users:
            return self._create_shortcut_for_everyone(entry, icon, command[0])
        path = desktop_dir() / self.shortcut_name
        write_file(path, entry.encode(), mode=0o755)
        mark_trusted(path)
        log.info("created the SOS shortcut %s", path)
        return path

    def _create_shortcut_for_everyone(self, entry: str, icon: Path | None, program: str) -> Path:
        write_file(self.template, entry.encode())
        login = self.login_command()
        # TryExec is the agent: once it is gone, the entry copies nothing at login
        extra = {"TryExec": escape_value(program), "NoDisplay": "true", "X-GNOME-Autostart-enabled": "true"}
        write_file(self.login_entry, desktop_entry(self.sos_name, login, icon=str(icon) if icon else None,
                                                   comments=in_every_language(_SOS_COMMENT), extra=extra).encode())
        for user in local_users():
            run_as(user, login)
        log.info("every user gets the SOS shortcut at login from %s (%s)", self.login_entry, self.template)
        return self.login_entry

    def _create_menu_entry(self, command, icon):
        self._icon = icon or self._icon
        folder = SYSTEM_APPLICATIONS if self.all_users else data_home() / "applications"
        extra = {"Categories": "Utility;", **localized_keys("Keywords", in_every_language(_MENU_KEYWORDS)),
                 **self._window()}
        path = folder / f"{self.identifier}.desktop"
        write_file(path, self._entry(self.app_name, command, icon, _MENU_COMMENT, extra).encode())
        log.info("created the menu entry %s", path)
        return path

    def _enable_autostart(self, command, icon):
        self._icon = icon or self._icon
        folder = SYSTEM_AUTOSTART if self.all_users else config_home() / "autostart"
        extra = {"NoDisplay": "true", "X-GNOME-Autostart-enabled": "true", **self._window()}
        path = folder / f"{self.identifier}.desktop"
        write_file(path, self._entry(self.app_name, command, self._icon, _MENU_COMMENT, extra).encode())
        log.info("enabled starting at login: %s", path)
        return path

    def _remove(self, item: Item) -> None:
        if not isinstance(item, Path):
            log.warning("not a file, left alone: %s", item)
        elif item.is_dir() and not item.is_symlink():
            log.warning("a folder where a desktop file was, left alone: %s", item)
        else:
            if self.all_users and item == self.login_entry:
                self._remove_shortcut_for_everyone()
            item.unlink(missing_ok=True)
            log.info("removed %s", item)

    def login_command(self) -> list[str]:
        """With ``all_users``: what the login entry runs (:data:`LOGIN_SCRIPT`) in each user's session."""
        return [self._shell(), "-c", LOGIN_SCRIPT, "sh", str(self.template), self.shortcut_name, self.identifier]

    def forget_command(self) -> list[str]:
        """With ``all_users``: what removing runs (:data:`FORGET_SCRIPT`) as each user."""
        return [self._shell(), "-c", FORGET_SCRIPT, "sh", str(self.template), self.identifier]

    def _remove_shortcut_for_everyone(self) -> None:
        if self.template.is_file():
            for user in local_users():
                run_as(user, self.forget_command())
        self.template.unlink(missing_ok=True)
        for folder in (SYSTEM_TEMPLATES, SYSTEM_TEMPLATES.parent):
            try:
                folder.rmdir()  # ours, if nothing else is in it
            except OSError:
                break

    def _entry(self, name, command, icon, comment, extra=None) -> str:
        return desktop_entry(name, command, icon=str(icon) if icon else None, comments=in_every_language(comment),
                             extra=extra, try_exec=True)

    @staticmethod
    def _window() -> dict[str, str]:
        return {"StartupWMClass": WINDOW_CLASS}

    @staticmethod
    def _shell() -> str:
        return "/bin/sh"


def local_users() -> list[pwd.struct_passwd]:
    """The people who log in here: uid 1000 to 60000 (Debian's UID_MIN..UID_MAX), a home
    folder that exists, a login shell. Not root."""
    return [user for user in pwd.getpwall()
            if 1000 <= user.pw_uid <= 60000 and user.pw_dir not in ("", "/") and os.path.isdir(user.pw_dir)
            and not user.pw_shell.endswith(("/nologin", "/false"))]


def run_as(user: pwd.struct_passwd, command: list[str]) -> bool:
    """Run ``command`` as ``user`` with its ``HOME`` (``runuser``: root never writes into a home
    folder itself, so a link planted there cannot redirect it). ``False`` if it failed."""
    runuser = shutil.which("runuser")
    if runuser is None or os.geteuid() != 0:
        log.warning("cannot act as %s (needs root and runuser); they get the SOS shortcut at their next login",
                    user.pw_name)
        return False
    try:
        environment = ["env", "-i", f"HOME={user.pw_dir}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
        result = subprocess.run([runuser, "-u", user.pw_name, "--", *environment, *command],
                                stdin=subprocess.DEVNULL, capture_output=True, cwd="/", timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("could not act as %s: %s", user.pw_name, error)
        return False
    if result.returncode != 0:
        log.warning("as %s: %s", user.pw_name, result.stderr.decode(errors="replace").strip())
    return result.returncode == 0


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
