"""python-xlib connections: the tray icon's with the core protocol only, sharing's with every extension.

python-xlib imports and sets up every X extension the server offers when it connects (13
modules on Xvfb, 0.8 MB of an idle agent's memory). The tray icon speaks the core protocol only;
sharing needs DAMAGE, XTEST and XInput. Which extensions a connection loads is a global of
python-xlib (``Xlib.ext.__extensions__``), so both kinds of connection are opened under one lock.
"""

import contextlib
import threading

_connecting = threading.Lock()


@contextlib.contextmanager
def core_protocol_only():
    """X connections opened inside load no extension (python-xlib's, in this thread)."""
    from Xlib import ext

    with _connecting:
        every, ext.__extensions__ = ext.__extensions__, []
        try:
            yield
        finally:
            ext.__extensions__ = every


def connect(display: str | None = None):
    """An X connection (:class:`Xlib.display.Display`) with every extension the server offers."""
    from Xlib.display import Display

    with _connecting:
        return Display(display)
