"""The agent's tray icon: the customer's request at a glance, and a menu to act on it.

A backend is chosen when the tray is made. ``SOSQUEUE_TRAY`` names one of :data:`BACKENDS`
to use instead of the automatic choice; on Linux the automatic choice is, in order:

- ``appindicator`` and ``gtk``: pystray with the full menu (needs PyGObject and a tray host);
- ``xorg``: pystray's plain X icon in an XEmbed system tray, with the menu drawn by Tk
  (needs ``tk_root``);
- ``fallback``: the always-on-top SOS button, made with Tk (needs ``tk_root``), only where
  no tray host owns the screen's ``_NET_SYSTEM_TRAY_S<n>`` selection;
- ``dummy``: nothing shown.

The frozen Linux base (``build_scripts/sosqueue-agent.spec``) excludes ``gi``, so it uses
``xorg`` or ``fallback``; ``appindicator`` and ``gtk`` serve an agent run from source. Adding
PyGObject, GTK 3 and Ayatana AppIndicator to the onefile would add about 10.4 MiB (estimated
on Debian 12 from the installed files, each compressed as the onefile does, zlib level 9): 53 shared libraries the base does not carry yet and
PyGObject's modules, 9.9 MiB (libgtk-3 alone 3.0 MiB), and their typelibs, 0.5 MiB, before
any GTK theme, icons or translations. The base is 21.0 MiB against a budget of 25 MB
(23.8 MiB), so it would end at about 31 MiB: over budget, and the XEmbed icon with a Tk menu
already covers desktops with a tray host. A desktop whose tray takes only StatusNotifier
items, not XEmbed icons, gets the SOS button; an icon there would need a StatusNotifierItem
spoken over D-Bus without GTK, which the base does not have yet.

Usage::

    actions = TrayActions(request_help=…, show_request=…, cancel_request=…, about=…, quit=…)
    tray = create_tray(config, actions, tk_root=root, translate=_)
    tray.start()
    tray.set_state("waiting", code="s12-345-678", status_text="waiting for a supporter")
    tray.stop()
"""

import logging
import os
import sys
from typing import Callable

from sosqueue.module_config import ModuleConfig
from agent.tray._base import STATES, MenuEntry, Tray, TrayActions, identity

__all__ = ["BACKENDS", "ENVIRONMENT", "STATES", "MenuEntry", "Tray", "TrayActions",
           "candidates", "create_tray", "load", "override", "select"]

log = logging.getLogger("sosqueue.agent.tray")

#: The names ``SOSQUEUE_TRAY`` accepts.
BACKENDS = ("appindicator", "gtk", "xorg", "win32", "darwin", "fallback", "dummy")
#: The environment variable that overrides the automatic choice.
ENVIRONMENT = "SOSQUEUE_TRAY"


def candidates(platform: str = sys.platform) -> list[str]:
    """The backends tried, best first, when ``SOSQUEUE_TRAY`` does not name one.

    :param platform: a ``sys.platform`` value.
    """
    if platform == "win32":
        return ["win32", "dummy"]
    if platform == "darwin":
        return ["darwin", "dummy"]
    return ["appindicator", "gtk", "xorg", "fallback", "dummy"]


def load(name: str, config: ModuleConfig, actions: TrayActions, *, tk_root=None,
         translate: Callable[[str], str] = identity) -> Tray:
    """Makes the tray of backend ``name``.

    :param name: one of :data:`BACKENDS`.
    :raises ImportError: naming why the backend cannot work here.
    """
    if name == "dummy":
        from agent.tray._dummy import DummyTray
        return DummyTray(config, actions, translate=translate)
    if name == "fallback":
        return _sos_button(config, actions, tk_root, translate)
    if name not in BACKENDS:
        raise ImportError(f"unknown tray backend {name!r}; {ENVIRONMENT} takes one of {', '.join(BACKENDS)}")
    if name == "xorg":
        from agent.tray._xorg import XorgTray
        return XorgTray(config, actions, translate=translate, tk_root=tk_root)
    from agent.tray._pystray import PystrayTray
    return PystrayTray(config, actions, translate=translate, backend=name)


def select(config: ModuleConfig, actions: TrayActions, *, names: list[str] | None = None,
           tk_root=None, translate: Callable[[str], str] = identity) -> Tray:
    """Makes the first tray of ``names`` that works.

    :param names: backends to try, best first; by default the one ``SOSQUEUE_TRAY`` names,
        or else :func:`candidates`.
    :raises ImportError: one error saying why each backend tried cannot work.
    """
    choice = override() if names is None else ""
    names = names or ([choice] if choice else candidates())
    errors = []
    for name in names:
        try:
            tray = load(name, config, actions, tk_root=tk_root, translate=translate)
        except ImportError as error:
            errors.append(f"{name}: {error}")
            continue
        if errors:
            log.info("tray icon: skipped %s", "; ".join(errors))
        return tray
    if choice:
        raise ImportError(f"{ENVIRONMENT}={choice} cannot be used: {errors[0].split(': ', 1)[1]}")
    raise ImportError("no tray backend works here: " + "; ".join(errors))


def override() -> str:
    """The backend ``SOSQUEUE_TRAY`` names, or ``""``."""
    return os.environ.get(ENVIRONMENT, "").strip().lower()


def create_tray(config: ModuleConfig, actions: TrayActions, *, tk_root=None,
                translate: Callable[[str], str] = identity) -> Tray:
    """Makes the best tray this desktop can show; never fails for want of a tray host.

    Call it on Tk's main thread and pass the application's ``tk_root``: the fallback button
    is made of Tk widgets, and changes it gets from other threads go through
    ``tk_root.after(0, …)``, so Tk's ``mainloop`` must run on that thread. Without a
    ``tk_root`` there is no fallback button, and a desktop without a tray gets the dummy.

    When ``SOSQUEUE_TRAY`` names a backend that cannot work, one error is logged and the
    tray is chosen automatically instead.

    :param config: the module's configuration (product name, colours, pictures).
    :param actions: what the menu items do.
    :param tk_root: the application's Tk root, for the fallback button.
    :param translate: turns an English label into the customer's language (gettext's ``_``).
    :return: a tray that is not started yet; see :meth:`Tray.start`.
    """
    tray = None
    if override():
        try:
            tray = select(config, actions, tk_root=tk_root, translate=translate)
        except ImportError as error:
            log.error("%s; choosing the tray automatically", error)
    if tray is None:  # the dummy always loads, so this finds one
        tray = select(config, actions, names=candidates(), tk_root=tk_root, translate=translate)
    log.info("tray icon: %s", tray.backend_name)
    return tray


def _sos_button(config, actions, tk_root, translate) -> Tray:
    if not (os.environ.get("DISPLAY") or sys.platform in ("win32", "darwin")):
        raise ImportError("there is no X display (DISPLAY is not set)")
    from agent.tray._fallback import FallbackTray
    return FallbackTray(config, actions, translate=translate, tk_root=tk_root)
