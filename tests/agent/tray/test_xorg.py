"""The X tray icon in a real tray host (trayer on Xvfb): it keeps its size, and its right click opens the menu."""

import threading
from dataclasses import dataclass

import pytest

from agent.tray._base import STATUS_COLOURS
from agent.tray._xorg import XorgTray
from tests.agent.tray import (Recorder, count_colour, desktop, eventually, make_config, shared_desktop,  # noqa: F401
                              tk_root, trays)
from tests.agent.tray.test_fallback import run_tk_until

CODE = "s12-345-678"
#: The smallest icon a person can still see and hit in a tray.
USABLE = 16
IS_VIEWABLE = 2


@dataclass(frozen=True)
class Embedded:
    """An icon window as the X server has it inside the tray host."""

    socket: int
    x: int
    y: int
    width: int
    height: int
    map_state: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.width, self.y + self.height


def embedded(desktop, window_id: int) -> Embedded:
    """The icon window's socket (its parent in the tray host), place, size and map state."""
    from Xlib import display as xdisplay
    connection = xdisplay.Display(desktop.display)
    try:
        window = connection.create_resource_object("window", window_id)
        geometry, attributes = window.get_geometry(), window.get_attributes()
        origin = window.translate_coords(connection.screen().root, 0, 0)
        return Embedded(socket=window.query_tree().parent.id, x=-origin.x, y=-origin.y, width=geometry.width,
                        height=geometry.height, map_state=attributes.map_state)
    finally:
        connection.close()


def start(desktop, tk_root, trays, recorder=None) -> XorgTray:
    """A started X icon, once the tray host shows it."""
    tray = XorgTray(make_config(), (recorder or Recorder()).actions, tk_root=tk_root)
    trays.append(tray)
    tray.start()
    eventually(lambda: tray.icon is not None and usable(desktop, tray), what="the icon docked in the tray")
    return tray


def usable(desktop, tray) -> Embedded | None:
    """The icon's window while it is mapped and at least 16×16, else ``None``."""
    from Xlib import error
    try:
        shown = embedded(desktop, tray.icon._window.id)
    except error.XError:  # not made yet, or gone
        return None
    fits = shown.map_state == IS_VIEWABLE and shown.width >= USABLE and shown.height >= USABLE
    return shown if fits else None


def shows_state(desktop, tray, state: str) -> Embedded | None:
    """The icon's window once its picture shows ``state``'s dot, or ``None`` while it does not."""
    shown = usable(desktop, tray)
    if shown is None:
        return None
    colour = tuple(int(STATUS_COLOURS[state][i:i + 2], 16) for i in (1, 3, 5))
    return shown if count_colour(desktop.screenshot(), shown.box, colour) >= 4 else None


def test_the_icons_keep_their_size_and_socket_through_state_changes(desktop, tk_root, trays):
    """Two icons in trayer go idle → waiting → connected → idle: each stays mapped, at least 16×16, in its socket."""
    first, second = start(desktop, tk_root, trays), start(desktop, tk_root, trays)
    sockets = {tray: embedded(desktop, tray.icon._window.id).socket for tray in (first, second)}
    sizes = []
    for state in ("waiting", "connected", "idle", "waiting", "connected", "idle"):
        for tray in (first, second):
            tray.set_state(state, code=None if state == "idle" else CODE)
        for tray in (first, second):
            shown = eventually(lambda: shows_state(desktop, tray, state), what=f"the {state} picture")
            sizes.append((shown.width, shown.height))
            assert shown.map_state == IS_VIEWABLE
            assert shown.socket == sockets[tray]  # docked once: the tray host never embedded it anew
    for tray in (first, second):
        final = embedded(desktop, tray.icon._window.id)
        assert final.width >= USABLE and final.height >= USABLE and final.socket == sockets[tray]
    assert min(width for width, _ in sizes) >= USABLE and min(height for _, height in sizes) >= USABLE


def test_a_right_click_on_the_icon_opens_the_menu_and_its_items_work(desktop, tk_root, trays):
    """Right click: the tray's menu at the pointer, with the request; clicking About runs it on Tk's thread."""
    recorder = Recorder()
    tray = start(desktop, tk_root, trays, recorder)
    tray.set_state("waiting", code=CODE)
    shown = eventually(lambda: shows_state(desktop, tray, "waiting"), what="the waiting picture")
    tk_root.after(0, lambda: desktop.click(shown.x + shown.width // 2, shown.y + shown.height // 2, button=3))
    run_tk_until(tk_root, lambda: tray.menu is not None and tray.menu.widget.winfo_ismapped(), "the menu")
    menu = tray.menu.widget
    commands = [i for i in range(menu.index("end") + 1) if menu.type(i) == "command"]
    entries = [(menu.entrycget(i, "label"), menu.entrycget(i, "state") != "disabled") for i in commands]
    assert entries == [("Request help", True), (f"My request {CODE} — waiting for a supporter", True),
                       ("Cancel my request", True), ("About", True), ("Quit", True)]
    about = next(i for i in commands if menu.entrycget(i, "label") == "About")
    top, bottom = menu.yposition(about), menu.yposition(about + 1)
    desktop.click(menu.winfo_rootx() + 30, menu.winfo_rooty() + (top + bottom) // 2)
    eventually(lambda: recorder.calls == ["about"], root=tk_root, what="the About action")
    assert recorder.threads == [threading.main_thread().name]


def test_a_left_click_on_the_icon_requests_help(desktop, tk_root, trays):
    """The left click still runs the default action, and no menu opens."""
    recorder = Recorder()
    tray = start(desktop, tk_root, trays, recorder)
    shown = embedded(desktop, tray.icon._window.id)
    desktop.click(shown.x + shown.width // 2, shown.y + shown.height // 2)
    eventually(lambda: recorder.calls == ["request_help"], root=tk_root, what="request_help from a click")
    assert tray.menu is None


def test_the_x_icon_has_a_menu_and_needs_a_tk_root(desktop, tk_root):
    """Its menu is drawn by Tk: with a root it says it has one, without a root it cannot be made."""
    assert XorgTray(make_config(), Recorder().actions, tk_root=tk_root).HAS_MENU
    with pytest.raises(ImportError, match="pass tk_root"):
        XorgTray(make_config(), Recorder().actions)
