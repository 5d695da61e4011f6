"""The customer's mouse and keyboard, driven from a distance, one backend per operating system.

:func:`create_injector` picks the backend for this system, one private module per platform
(``_linux`` for X11 through XTEST, ``_win32`` through ``SendInput``, ``_darwin`` through Quartz
events); ``SOSQUEUE_INPUT=linux|win32|darwin`` overrides the choice. Nothing is sent until a
method of the :class:`Injector` is called.

The customer keeps a way out: :meth:`Injector.watch_take_back` listens, on a thread of the
backend's own, for the take-back key (:data:`sosqueue.connect.TAKE_BACK_LABEL`, Ctrl+Alt+Space)
pressed anywhere on the desktop, whatever has the focus and while the expert's input is being
sent (an X11 listener of XInput 2 raw events, a Windows hot key, a macOS event tap), until
:meth:`Injector.close`; and :meth:`Injector.press_key` refuses to press that combination for the
expert.
"""

import sys

from agent import backends
from agent.connect.input._base import InjectionUnavailable, Injector, KeyNotTypable, Monitor, PermissionMissing, \
    bounding_box
from sosqueue.connect import Button, Key, Modifier

__all__ = ["BACKENDS", "ENVIRONMENT_VARIABLE", "Button", "InjectionUnavailable", "Injector", "Key",
           "KeyNotTypable", "Modifier", "Monitor", "PermissionMissing", "backend",
           "bounding_box", "create_injector"]

ENVIRONMENT_VARIABLE = "SOSQUEUE_INPUT"
#: The backends that exist, by name.
BACKENDS = ("linux", "win32", "darwin")
FAILURE = "the mouse and keyboard cannot be controlled here"


def backend() -> type[Injector]:
    """The :class:`Injector` class for this system.

    :raises InjectionUnavailable: ``the mouse and keyboard cannot be controlled here: …`` listing what failed.
    """
    try:
        return backends.pick(__name__, "Injector", variable=ENVIRONMENT_VARIABLE, backends=BACKENDS,
                             candidates=_candidates(sys.platform), failure=FAILURE)
    except ImportError as error:
        raise InjectionUnavailable(str(error)) from None


def create_injector() -> Injector:
    """An injector for this computer's mouse and keyboard.

    :raises InjectionUnavailable: with the reason this computer cannot take remote input.
    """
    return backend()()


def _candidates(platform: str) -> list[str]:
    if platform in ("win32", "darwin"):
        return [platform]
    return ["linux"]
