"""The desktop integration every platform backend implements: shortcut, menu entry, autostart.

The public methods of :class:`Desktop` check their arguments, then call a private hook
(``_create_shortcut``, ``_create_menu_entry``, ``_enable_autostart``, ``_remove``) that a backend
overrides. What a backend can do is told by the ``HAS_*`` class flags.
"""

import os
from pathlib import Path

from agent.outbox import temporary_name
from sosqueue import platforms
from sosqueue.platforms import display_name
from sosqueue.updates import BadPolicy, Policy, parse_policy

#: What :meth:`Desktop.created` lists: files as paths, other entries (registry values) as text.
Item = Path | str


class Desktop:
    """Puts the agent on the desktop of this computer's user (or of all its users).

    :param app_name: the product name people see, e.g. ``"Acme Support"``; the SOS shortcut
        is called :attr:`sos_name`.
    :param all_users: create the system-wide entries instead of the current user's ones
        (needs administrator rights; only where :attr:`HAS_ALL_USERS`).
    :raises ValueError: if ``app_name`` leaves no usable name, or ``all_users`` is not supported.
    """

    #: Whether this platform has an SOS desktop shortcut.
    HAS_SHORTCUT = False
    #: Whether this platform has a start-menu (application menu) entry.
    HAS_MENU_ENTRY = False
    #: Whether this platform can start the agent at login.
    HAS_AUTOSTART = False
    #: Whether the entries can be created for every user of the computer.
    HAS_ALL_USERS = False
    #: The icon file format shortcuts on this platform take: ``"png"`` or ``"ico"``.
    ICON_FORMAT = "png"
    #: Where system-wide files (icons for every user) go, or ``None``.
    SHARED_DATA_DIR: Path | None = None
    #: IT's update policy file (``sosqueue.updates.POLICY_FILES``), or ``None`` where there is none.
    POLICY_FILE: Path | None = None

    @classmethod
    def update_policy_source(cls) -> str:
        """Where IT sets the update policy on this platform, as IT would look it up ("" if nowhere)."""
        return str(cls.POLICY_FILE) if cls.POLICY_FILE else ""

    @classmethod
    def update_policy(cls) -> Policy | None:
        """IT's update policy for every module on this computer, ``None`` if IT set none.

        :raises BadPolicy: if IT's setting cannot be read or is not a policy; the text names
            where it is and the fix.
        """
        return read_policy_file(cls.POLICY_FILE) if cls.POLICY_FILE else None

    def __init__(self, app_name: str, *, all_users: bool = False):
        self._app_name = display_name(app_name)
        if all_users and not self.HAS_ALL_USERS:
            raise ValueError("this platform cannot set up the agent for all users")
        self._all_users = all_users
        self._created: list[Item] = []

    @property
    def app_name(self) -> str:
        """The product name, as shown in menus."""
        return self._app_name

    @property
    def sos_name(self) -> str:
        """The SOS shortcut's name: the product name, with "SOS" added unless it ends so."""
        return platforms.sos_name(self._app_name)

    @property
    def identifier(self) -> str:
        """A stable, file-system and ASCII-safe id for files people do not see by name."""
        return platforms.identifier(self._app_name)

    @property
    def all_users(self) -> bool:
        """Whether this desktop creates the system-wide entries."""
        return self._all_users

    def create_sos_shortcut(self, launch: list[str], icon: Path | None = None) -> Item | None:
        """Create (or replace) the SOS button on the desktop.

        :param launch: the command that starts the agent in SOS mode, e.g. ``[exe, "--sos"]``.
        :param icon: the icon file (in :attr:`ICON_FORMAT`), or ``None`` for a default.
        :return: what was created, or ``None`` if this backend leaves it to someone else.
        :raises ValueError: if ``launch`` is not a usable command.
        :raises NotImplementedError: unless :attr:`HAS_SHORTCUT`.
        :raises OSError: if it cannot be written.
        """
        self._require(self.HAS_SHORTCUT, "desktop shortcuts")
        return self._record(self._create_shortcut(checked_command(launch), _icon(icon)))

    def create_start_menu_entry(self, launch: list[str], icon: Path | None = None) -> Item | None:
        """Create (or replace) the agent's entry in the start menu / application menu.

        :param launch: the command that opens the agent.
        :param icon: the icon file (in :attr:`ICON_FORMAT`), or ``None`` for a default.
        :return: what was created, or ``None`` if this backend leaves it to someone else.
        :raises ValueError: if ``launch`` is not a usable command.
        :raises NotImplementedError: unless :attr:`HAS_MENU_ENTRY`.
        :raises OSError: if it cannot be written.
        """
        self._require(self.HAS_MENU_ENTRY, "start-menu entries")
        return self._record(self._create_menu_entry(checked_command(launch), _icon(icon)))

    def enable_autostart(self, launch: list[str], icon: Path | None = None) -> Item | None:
        """Start ``launch`` at every login (of this user, or of every user).

        :param launch: the command to run at login, e.g. ``[exe, "--tray"]``.
        :param icon: the icon file, where the entry shows one (Linux), or ``None`` for the brand's
            icon of the entries made before it.
        :return: what was created.
        :raises ValueError: if ``launch`` is not a usable command.
        :raises NotImplementedError: unless :attr:`HAS_AUTOSTART`.
        :raises OSError: if it cannot be written.
        """
        self._require(self.HAS_AUTOSTART, "starting at login")
        return self._record(self._enable_autostart(checked_command(launch), _icon(icon)))

    def adopt(self, items: list[Item]) -> None:
        """Take over entries created earlier (read from a manifest), so :meth:`remove_all`
        removes them too.

        :param items: paths of files, or entry texts as :meth:`created` gave them.
        """
        for item in items:
            self._record(item)

    def remove_all(self) -> list[Item]:
        """Remove everything this desktop created or adopted, newest first.

        If one removal fails, the ones not yet removed stay in :meth:`created`.

        :return: what was removed.
        :raises OSError: if something cannot be removed.
        """
        removed = []
        while self._created:
            item = self._created[-1]
            self._remove(item)
            removed.append(self._created.pop())
        return removed

    def created(self) -> list[Item]:
        """What this desktop created or adopted and has not removed, oldest first."""
        return list(self._created)

    def _require(self, supported: bool, what: str) -> None:
        if not supported:
            raise NotImplementedError(f"{what} are not supported by the {type(self).__module__} backend")

    def _record(self, item: Item | None) -> Item | None:
        if item is not None and item not in self._created:
            self._created.append(item)
        return item

    # The backend hooks: _linux, _win32, _darwin and _dummy each implement all four.

    def _create_shortcut(self, command: list[str], icon: Path | None) -> Item | None:
        raise NotImplementedError(f"{type(self).__name__} is a desktop backend without _create_shortcut")

    def _create_menu_entry(self, command: list[str], icon: Path | None) -> Item | None:
        raise NotImplementedError(f"{type(self).__name__} is a desktop backend without _create_menu_entry")

    def _enable_autostart(self, command: list[str], icon: Path | None) -> Item | None:
        raise NotImplementedError(f"{type(self).__name__} is a desktop backend without _enable_autostart")

    def _remove(self, item: Item) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a desktop backend without _remove")


def checked_command(launch) -> list[str]:
    """``launch`` as a list of strings, or a ``ValueError`` saying what is wrong with it."""
    if isinstance(launch, (str, bytes)) or not isinstance(launch, (list, tuple)):
        raise ValueError(f"launch must be a list of arguments, not {type(launch).__name__}")
    if not launch:
        raise ValueError("launch must name the program to start")
    for argument in launch:
        if not isinstance(argument, str):
            raise ValueError(f"launch arguments must be text, not {type(argument).__name__}")
        if "\x00" in argument:
            raise ValueError("launch arguments cannot contain NUL characters")
    if not launch[0].strip():
        raise ValueError("launch must start with the program to run")
    return list(launch)


def read_policy_file(path: Path) -> Policy | None:
    """The policy in IT's policy file ``path`` (``None``: no file, or it does not set one).

    :raises BadPolicy: if the file cannot be read or holds no valid policy.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise BadPolicy(f"{path} cannot be read ({reason}); make it readable for every user, "
                        "as UTF-8 text, or remove it") from None
    return parse_policy(text, source=str(path))


def write_file(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` atomically, creating its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _icon(icon) -> Path | None:
    return None if icon is None else Path(icon)
