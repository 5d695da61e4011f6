"""The customer's screen as a Pillow image, one backend per operating system.

:func:`create_capture` picks the backend for this system, one private module per platform
(``_linux`` for X11, ``_win32``, ``_darwin``); ``SOSQUEUE_CAPTURE=linux|win32|darwin`` overrides
the choice. Nothing is grabbed until :meth:`Capture.grab` is called.
"""

import sys

from agent import backends
from agent.connect.capture._base import Capture, CaptureFailed

__all__ = ["BACKENDS", "ENVIRONMENT_VARIABLE", "Capture", "CaptureFailed", "backend", "create_capture"]

ENVIRONMENT_VARIABLE = "SOSQUEUE_CAPTURE"
#: The backends that exist, by name.
BACKENDS = ("linux", "win32", "darwin")


def backend() -> type[Capture]:
    """The :class:`Capture` class for this system.

    :raises ImportError: ``the screen cannot be shared here: …`` listing what failed.
    """
    return backends.pick(__name__, "Capture", variable=ENVIRONMENT_VARIABLE, backends=BACKENDS,
                         candidates=_candidates(sys.platform), failure="the screen cannot be shared here")


def create_capture() -> Capture:
    """A capture of this computer's screen.

    :raises ImportError: when this system has no way to capture the screen.
    """
    return backend()()


def _candidates(platform: str) -> list[str]:
    if platform in ("win32", "darwin"):
        return [platform]
    return ["linux"]
