"""First-run setup, ``--install`` and ``--uninstall``: icons, SOS shortcut, menu entry, autostart.

Everything created is listed in a manifest (``desktop.json``) next to the icons, in the user's
data folder (or, with ``all_users``, in the shared folder every user can read), so that
:func:`uninstall` removes exactly that and :func:`first_run` knows it has already run.
"""

import io
import json
import logging
import os
from pathlib import Path

from agent import paths, platforms
from sosqueue.module_config import ModuleConfig
from sosqueue import updates
from agent.errors import AgentError, StorageFailure
from agent.outbox import write_atomically
from agent.platforms._base import Desktop, Item, checked_command, write_file

log = logging.getLogger("sosqueue.agent.setup")

MANIFEST_NAME = "desktop.json"
MANIFEST_FORMAT = 1
ICONS = ("sos", "app")
_NAMES = {"shortcut": "SOS desktop shortcut", "menu": "start-menu entry", "autostart": "start at login"}


def install(config: ModuleConfig, launch: list[str], *, all_users: bool = False, shortcut: bool = True,
            start_menu: bool = True, autostart: bool = False) -> list[Item]:
    """Put the agent on the desktop; running it again replaces the same files, never duplicates.

    :param config: the module; names come from ``config.brand.product``, icons from its assets.
    :param launch: the command that starts this agent (``--sos`` or ``--tray`` is appended).
    :param all_users: for every user of the computer (needs administrator rights).
    :param shortcut: create the SOS desktop shortcut.
    :param start_menu: create the start-menu entry.
    :param autostart: start the agent in the tray at login.
    :return: everything this setup has created so far (shortcuts, entries), oldest first.
    :raises StorageFailure: if something cannot be written.
    :raises AgentError: if this system or the product name does not allow it.
    """
    command = checked_command(launch)
    desktop = _desktop(config, all_users)
    folder = setup_dir(config.module_id, all_users, type(desktop))
    record = _read_manifest(folder, strict=False) or {}
    desktop.adopt(_items(record))
    icons = [Path(path) for path in record.get("icons", [])]
    complete = False
    try:
        wanted = _wanted(desktop, shortcut=shortcut, start_menu=start_menu, autostart=autostart)
        made = _write_icons(config, folder / "icons", desktop.ICON_FORMAT) if wanted else {}
        for path in made.values():
            if path is not None and path not in icons:
                icons.append(path)
        for what in wanted:
            _create(desktop, what, command, made)
        complete = True
    except OSError as error:
        raise StorageFailure(f"Could not create {_describe(error)}.{_admin_hint(error, all_users)}") from None
    finally:
        _write_manifest(folder, config, all_users, desktop.created(), icons, complete=complete)
    return desktop.created()


def uninstall(config: ModuleConfig, all_users: bool = False) -> list[Item]:
    """Remove exactly what :func:`install` or :func:`first_run` recorded, and nothing else.

    :return: what was removed (an empty list if nothing was installed).
    :raises StorageFailure: if something cannot be removed (the rest stays recorded), or the
        record is damaged.
    """
    desktop = _desktop(config, all_users)
    folder = setup_dir(config.module_id, all_users, type(desktop))
    record = _read_manifest(folder, strict=True)
    if record is None:
        log.info("nothing to remove: %s does not exist", folder / MANIFEST_NAME)
        return []
    desktop.adopt(_items(record))
    icons = [Path(path) for path in record.get("icons", [])]
    try:
        removed = desktop.remove_all()
        while icons:
            _remove_icon(icons[-1], folder / "icons")
            removed.append(icons.pop())
        _remove_empty(folder / "icons")
        (folder / MANIFEST_NAME).unlink(missing_ok=True)
        _remove_empty(folder)
    except OSError as error:
        _write_manifest(folder, config, all_users, desktop.created(), icons, complete=record.get("complete", False))
        raise StorageFailure(f"Could not remove {_describe(error)}; remove it by hand or ask your IT.") from None
    log.info("removed the desktop integration of %s", config.brand.product)
    return removed


def first_run(config: ModuleConfig, launch: list[str]) -> bool:
    """The first time the module runs: install what its options ask for, once.

    Nothing happens if it ran before (even if the customer deleted the shortcut since), or if
    IT set the agent up for all users.

    :return: ``True`` if it installed now, ``False`` if there was nothing to do.
    :raises StorageFailure: if something cannot be written (it is tried again next time).
    """
    try:
        desktop_class = platforms.backend()
    except ImportError as error:
        log.warning("no desktop integration: %s", error)
        return False
    user_record = _read_manifest(setup_dir(config.module_id, False, desktop_class), strict=False, damaged={})
    if user_record is not None and user_record.get("complete", True):
        return False
    if desktop_class.HAS_ALL_USERS and (setup_dir(config.module_id, True, desktop_class) / MANIFEST_NAME).exists():
        log.info("the agent is set up for all users; nothing to add for this user")
        return False
    if installed_by_package(launch):
        log.info("an installer package set the agent up; it brings the shortcuts for every user")
        return False
    options = config.options
    install(config, launch, shortcut=options.sos_shortcut, start_menu=options.start_menu, autostart=options.autostart)
    return True


def installed_by_package(launch: list[str]) -> bool:
    """Whether a .deb or MSI (``sosqueue package``) installed this agent: it puts
    :data:`sosqueue.updates.PACKAGE_MARKER` next to the module and brings the shortcuts itself."""
    return bool(launch) and updates.installed_by_package(Path(launch[0]))


def setup_dir(module_id: str, all_users: bool, desktop_class: type[Desktop]) -> Path:
    """Where icons and the manifest go: the user's data folder, or the shared one."""
    if not all_users:
        return paths.data_dir(module_id)
    root = os.environ.get("SOSQUEUE_AGENT_HOME")
    if root:
        return Path(root) / "shared" / module_id
    if desktop_class.SHARED_DATA_DIR is None:
        raise AgentError("Setting up for all users is not supported on this system.")
    return desktop_class.SHARED_DATA_DIR / module_id


def _desktop(config: ModuleConfig, all_users: bool) -> Desktop:
    try:
        desktop_class = platforms.backend()
    except ImportError as error:
        raise AgentError(f"Shortcuts cannot be set up on this system ({error}).") from None
    if all_users and not desktop_class.HAS_ALL_USERS:
        raise AgentError("Setting up for all users is not supported on this system; use the installer package.")
    try:
        return desktop_class(config.brand.product, all_users=all_users)
    except ValueError as error:
        raise AgentError(f"The module's product name cannot name a shortcut ({error}).") from None


def _wanted(desktop: Desktop, *, shortcut: bool, start_menu: bool, autostart: bool) -> list[str]:
    wanted = []
    for what, asked, supported in (("shortcut", shortcut, desktop.HAS_SHORTCUT),
                                   ("menu", start_menu, desktop.HAS_MENU_ENTRY),
                                   ("autostart", autostart, desktop.HAS_AUTOSTART)):
        if asked and not supported:
            log.info("this system has no %s; skipped", _NAMES[what])
        elif asked:
            wanted.append(what)
    return wanted


def _create(desktop: Desktop, what: str, command: list[str], icons: dict[str, Path | None]) -> None:
    if what == "shortcut":
        desktop.create_sos_shortcut(command + ["--sos"], icons.get("sos"))
    elif what == "menu":
        desktop.create_start_menu_entry(command, icons.get("app"))
    else:
        desktop.enable_autostart(command + ["--tray"], icons.get("app"))


def _write_icons(config: ModuleConfig, folder: Path, image_format: str) -> dict[str, Path | None]:
    """Write the module's SOS and app icons; each falls back to the other, then to none."""
    made: dict[str, Path | None] = {}
    for name in ICONS:
        data = _icon_data(config.assets, name, image_format)
        made[name] = write_file(folder / f"{name}.{image_format}", data) if data else None
    made["sos"] = made["sos"] or made["app"]
    made["app"] = made["app"] or made["sos"]
    if made["sos"] is None:
        log.warning("the module has no icons; shortcuts get the system's default icon")
    return made


def _icon_data(assets: dict[str, bytes], name: str, image_format: str) -> bytes | None:
    if f"{name}.{image_format}" in assets:
        return assets[f"{name}.{image_format}"]
    other = next((assets[f"{name}.{f}"] for f in ("png", "ico") if f"{name}.{f}" in assets), None)
    if other is None:
        return None
    try:
        from PIL import Image

        buffer = io.BytesIO()
        with Image.open(io.BytesIO(other)) as image:
            image.convert("RGBA").save(buffer, format=image_format.upper())
        return buffer.getvalue()
    except (ImportError, OSError, ValueError) as error:
        log.warning("the %s icon cannot be converted to %s: %s", name, image_format, error)
        return None


def _remove_icon(icon: Path, folder: Path) -> None:
    if icon.parent != folder:
        log.warning("not one of our icons, left alone: %s", icon)
        return
    icon.unlink(missing_ok=True)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        log.info("left %s: it holds other files", folder)


def _items(record: dict) -> list[Item]:
    items: list[Item] = []
    for entry in record.get("created", []):
        items.append(Path(entry["file"]) if "file" in entry else str(entry["entry"]))
    return items


def _read_manifest(folder: Path, *, strict: bool, damaged=None) -> dict | None:
    """The manifest, ``None`` if there is none; if damaged: ``StorageFailure`` when
    ``strict``, else ``damaged``."""
    path = folder / MANIFEST_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != MANIFEST_FORMAT:
            raise ValueError("unknown format")
        _items(record)
        return record
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        if strict:
            raise StorageFailure(
                f"The list of what the agent created ({path}) cannot be read ({error}); "
                "remove the shortcuts by hand, then delete that file."
            ) from None
        log.warning("ignoring the damaged list %s: %s", path, error)
        return damaged


def _write_manifest(folder: Path, config: ModuleConfig, all_users: bool, created: list[Item],
                    icons: list[Path], *, complete: bool) -> None:
    record = {
        "format": MANIFEST_FORMAT,
        "module_id": config.module_id,
        "product": config.brand.product,
        "all_users": all_users,
        "complete": complete,
        "created": [{"file": str(item)} if isinstance(item, Path) else {"entry": item} for item in created],
        "icons": [str(icon) for icon in icons],
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / MANIFEST_NAME, json.dumps(record, indent=2).encode())
    except (OSError, StorageFailure) as error:
        reason = getattr(error, "strerror", None) or "not writable"
        raise StorageFailure(
            f"Could not save the list of created shortcuts in {folder} ({reason}); free some disk space or ask your IT."
        ) from None


def _describe(error: OSError) -> str:
    if error.filename:
        return f"{error.filename} ({error.strerror or error})"
    return str(error)


def _admin_hint(error: OSError, all_users: bool) -> str:
    if all_users and isinstance(error, PermissionError):
        return " Setting up for all users needs administrator rights (on Linux: sudo)."
    return ""
