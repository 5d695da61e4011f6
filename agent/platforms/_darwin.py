"""macOS: a small launcher app on the desktop as the SOS button, a LaunchAgent for login.

The SOS button is a minimal ``.app`` bundle whose executable is a shell script that ``exec``\\ s
the agent with ``--sos``: it has the SOS icon, opens with a double-click and, unlike a
``.command`` file, opens no Terminal window. There is no start-menu entry
(``HAS_MENU_ENTRY`` is false): on macOS the module's own ``.app`` is what people keep in
Applications, Launchpad and the Dock. IT rolls out for all users with the installer package.
"""

import logging
import plistlib
import shlex
import shutil
import uuid
from pathlib import Path

from agent.platforms import _base
from agent.platforms._base import Item, write_file
from sosqueue.platforms import Platform, file_name, slug
from sosqueue.updates import POLICY_FILES

log = logging.getLogger("sosqueue.agent.desktop")

LAUNCHER_EXECUTABLE = "sos"
LAUNCHER_ICON = "sos.icns"


class Desktop(_base.Desktop):
    """A launcher app on ``~/Desktop``; ``~/Library/LaunchAgents/<label>.plist`` at login."""

    HAS_SHORTCUT = True
    HAS_MENU_ENTRY = False
    HAS_AUTOSTART = True
    HAS_ALL_USERS = False
    ICON_FORMAT = "png"
    POLICY_FILE = POLICY_FILES[Platform.MACOS]

    @property
    def label(self) -> str:
        """The reverse-DNS style id of the LaunchAgent, e.g. ``org.sosqueue.acme-support``."""
        return f"org.sosqueue.{slug(self.app_name)}"

    def _create_shortcut(self, command, icon):
        bundle = Path.home() / "Desktop" / f"{file_name(self.sos_name)}.app"
        write_launcher_app(bundle, self.sos_name, f"{self.label}.sos", command, icon)
        log.info("created the SOS shortcut %s", bundle)
        return bundle

    def _enable_autostart(self, command, icon):  # a LaunchAgent shows no icon
        path = Path.home() / "Library" / "LaunchAgents" / f"{self.label}.plist"
        write_file(path, plistlib.dumps(launch_agent(self.label, command)))
        log.info("enabled starting at login: %s", path)
        return path

    def _remove(self, item: Item) -> None:
        if not isinstance(item, Path):
            log.warning("not a file, left alone: %s", item)
        elif is_launcher_app(item):
            shutil.rmtree(item)
            log.info("removed %s", item)
        elif item.is_dir() and not item.is_symlink():
            log.warning("a folder that is not our launcher, left alone: %s", item)
        else:
            item.unlink(missing_ok=True)
            log.info("removed %s", item)


def launch_agent(label: str, command: list[str]) -> dict:
    """The LaunchAgent property list that runs ``command`` at login in the graphical session."""
    return {
        "Label": label,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }


def launcher_script(command: list[str]) -> str:
    """The launcher's executable: a POSIX shell script that becomes ``command``."""
    return "#!/bin/sh\nexec " + " ".join(shlex.quote(argument) for argument in command) + "\n"


def launcher_info(name: str, identifier: str, *, has_icon: bool) -> dict:
    """The launcher's ``Info.plist``."""
    info = {
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": name,
        "CFBundleExecutable": LAUNCHER_EXECUTABLE,
        "CFBundleIdentifier": identifier,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name[:15],  # Apple's limit for the short name
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": "1.0",
        "CFBundleVersion": "1",
        "LSMinimumSystemVersion": "10.13",
        "NSHighResolutionCapable": True,
    }
    if has_icon:
        info["CFBundleIconFile"] = LAUNCHER_ICON
    return info


def write_launcher_app(bundle: Path, name: str, identifier: str, command: list[str], icon: Path | None) -> Path:
    """Build the launcher beside ``bundle``, then move it into place (replacing an older one)."""
    if bundle.exists() and not is_launcher_app(bundle):
        raise FileExistsError(f"{bundle} exists and is not an SOS launcher; it was left alone")
    staging = bundle.with_name(f".{bundle.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        contents = staging / "Contents"
        has_icon = icon is not None and _write_icns(icon, contents / "Resources" / LAUNCHER_ICON)
        write_file(contents / "MacOS" / LAUNCHER_EXECUTABLE, launcher_script(command).encode(), mode=0o755)
        write_file(contents / "Info.plist", plistlib.dumps(launcher_info(name, identifier, has_icon=has_icon)))
        if bundle.exists():
            shutil.rmtree(bundle)
        staging.rename(bundle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return bundle


def is_launcher_app(path: Path) -> bool:
    """Whether ``path`` is a launcher app this backend wrote (and may replace or remove)."""
    try:
        with open(path / "Contents" / "Info.plist", "rb") as handle:
            info = plistlib.load(handle)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return False
    return (info.get("CFBundleExecutable") == LAUNCHER_EXECUTABLE
            and str(info.get("CFBundleIdentifier", "")).startswith("org.sosqueue."))


def _write_icns(icon: Path, target: Path) -> bool:
    try:
        from PIL import Image

        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(icon) as image:
            image.convert("RGBA").save(target, format="ICNS")
    except (ImportError, OSError, ValueError) as error:
        log.warning("the SOS launcher gets no icon: %s cannot be converted (%s)", icon, error)
        return False
    return True
