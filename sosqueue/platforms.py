"""Platform names and the file-name rules every platform shares.

A module is built *for* a platform (``linux``, ``windows``, ``macos``); the agent runs *on*
``sys.platform``. :func:`current` maps the one to the other.
"""

import hashlib
import re
import sys
import unicodedata
from enum import StrEnum


class Platform(StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"

    @property
    def executable_suffix(self) -> str:
        """What a program's file name ends with: ``.exe`` on Windows, ``.app`` (a bundle) on macOS."""
        return _EXECUTABLE_SUFFIXES[self]

    @property
    def label(self) -> str:
        """The platform's name as people write it."""
        return _LABELS[self]


_EXECUTABLE_SUFFIXES = {Platform.LINUX: "", Platform.WINDOWS: ".exe", Platform.MACOS: ".app"}
_LABELS = {Platform.LINUX: "Linux", Platform.WINDOWS: "Windows", Platform.MACOS: "macOS"}


#: ``sys.platform`` values of each platform (Linux is every ``linux*``).
_SYS_PLATFORMS = {"win32": Platform.WINDOWS, "darwin": Platform.MACOS}

#: Characters no product name may contain: it becomes the shortcut's file name everywhere.
FILE_NAME_UNSAFE = '/\\:*?"<>|'
_FORBIDDEN_IN_FILE_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
_MAX_NAME = 100  # leaves room for the folder within Windows' 260-character path limit


def current(sys_platform: str = sys.platform) -> Platform:
    """The platform this Python runs on (``sys.platform`` ``linux`` → ``Platform.LINUX``)."""
    return _SYS_PLATFORMS.get(sys_platform, Platform.LINUX)


def display_name(text: str) -> str:
    """``text`` on one line, without control characters; ``ValueError`` if nothing is left."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in str(text))
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise ValueError(f"{text!r} is not a usable name")
    return cleaned


def file_name(text: str) -> str:
    """``text`` made safe as a file name on Windows, macOS and Linux (spaces are kept).

    :raises ValueError: if nothing usable is left.
    """
    name = _FORBIDDEN_IN_FILE_NAMES.sub("", display_name(text))
    name = " ".join(name.split())[:_MAX_NAME].strip(" .")
    if not name:
        raise ValueError(f"{text!r} gives no usable file name")
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name


def slug(text: str) -> str:
    """Lowercase ASCII letters, digits and dashes from ``text``; a short hash if none are left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    result = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    return result or hashlib.sha256(text.encode()).hexdigest()[:12]


def sos_name(product: str) -> str:
    """The SOS shortcut's name: the product name, with "SOS" added unless it ends so."""
    name = display_name(product)
    return name if name.split()[-1].upper() == "SOS" else f"{name} SOS"


def identifier(product: str) -> str:
    """A stable, file-system and ASCII-safe id for the files people do not see by name."""
    return f"sosqueue-{slug(display_name(product))}"


def executable_name(stem: str, platform: Platform) -> str:
    """A program's file name on ``platform``: ``stem`` and the platform's executable suffix."""
    return f"{stem}{Platform(platform).executable_suffix}"


def module_file_name(product: str, platform: Platform) -> str:
    """A stamped module's file name: the product in ASCII letters, digits and dashes, plus the
    platform's executable suffix (``Acme Help`` → ``Acme-Help.exe`` on Windows)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", product).strip("-") or "support"
    return executable_name(stem, platform)
