"""Desktop integration per operating system: the SOS shortcut, the start-menu entry and
starting at login.

:func:`backend` picks the backend for this system, one private module per platform
(``_linux``, ``_win32``, ``_darwin``); ``SOSQUEUE_PLATFORM=linux|win32|darwin|dummy`` overrides
the choice (``dummy`` does nothing: for headless tests and unsupported systems).
"""

import importlib
import os
import sys

from agent.platforms._base import Desktop

__all__ = ["Desktop", "backend", "BACKENDS", "ENVIRONMENT_VARIABLE"]

ENVIRONMENT_VARIABLE = "SOSQUEUE_PLATFORM"
#: The backends that exist, by name.
BACKENDS = ("linux", "win32", "darwin", "dummy")


def backend() -> type[Desktop]:
    """The :class:`Desktop` class for this system.

    :raises ImportError: ``this platform is not supported: …`` listing what failed.
    """
    requested = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    names = [requested] if requested else _candidates(sys.platform)
    errors = []
    for name in names:
        if name not in BACKENDS:
            errors.append(f"{ENVIRONMENT_VARIABLE}={name!r} is not one of {', '.join(BACKENDS)}")
            continue
        try:
            return importlib.import_module(f"{__name__}._{name}").Desktop
        except ImportError as error:
            errors.append(f"{name}: {error}")
    reasons = "; ".join(errors) or f"no desktop backend for {sys.platform!r}"
    raise ImportError(f"this platform is not supported: {reasons}")


def _candidates(platform: str) -> list[str]:
    if platform.startswith("linux"):
        return ["linux"]
    if platform in ("win32", "darwin"):
        return [platform]
    return []
