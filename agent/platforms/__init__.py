"""Desktop integration per operating system: the SOS shortcut, the start-menu entry and
starting at login.

:func:`backend` picks the backend for this system, one private module per platform
(``_linux``, ``_win32``, ``_darwin``); ``SOSQUEUE_PLATFORM=linux|win32|darwin|dummy`` overrides
the choice (``dummy`` does nothing: for headless tests and unsupported systems).
"""

import sys

from agent import backends
from agent.platforms._base import Desktop

__all__ = ["Desktop", "backend", "BACKENDS", "ENVIRONMENT_VARIABLE"]

ENVIRONMENT_VARIABLE = "SOSQUEUE_PLATFORM"
#: The backends that exist, by name.
BACKENDS = ("linux", "win32", "darwin", "dummy")


def backend() -> type[Desktop]:
    """The :class:`Desktop` class for this system.

    :raises ImportError: ``this platform is not supported: …`` listing what failed.
    """
    return backends.pick(__name__, "Desktop", variable=ENVIRONMENT_VARIABLE, backends=BACKENDS,
                         candidates=_candidates(sys.platform), failure="this platform is not supported")


def _candidates(platform: str) -> list[str]:
    if platform.startswith("linux"):
        return ["linux"]
    if platform in ("win32", "darwin"):
        return [platform]
    return []
