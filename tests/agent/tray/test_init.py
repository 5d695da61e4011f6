"""Choosing the tray backend: SOSQUEUE_TRAY, the automatic order, and desktops without a tray host."""

import logging
import sys
import tkinter as tk

import pytest

from agent.tray import BACKENDS, candidates, create_tray, load, select
from agent.tray._dummy import DummyTray
from agent.tray._fallback import FallbackTray
from agent.tray._pystray import PystrayTray
from agent.tray._xorg import XorgTray
from tests.agent.tray import (PRIMARY, Recorder, bare_desktop, count_colour, desktop, eventually,  # noqa: F401
                              make_config, shared_desktop, tk_root, trays)

# PyGObject marks Gtk.StatusIcon and AppIndicator.set_icon deprecated; pystray uses them
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:DeprecationWarning")

LOGGER = "sosqueue.agent.tray"


@pytest.fixture
def bare_root(desktop, bare_desktop, monkeypatch):
    """A Tk root on the display without a tray host, which is now this test's DISPLAY."""
    monkeypatch.setenv("DISPLAY", bare_desktop.display)
    root = tk.Tk(screenName=bare_desktop.display)
    root.withdraw()
    yield root
    root.destroy()


def make(trays, **options):
    tray = create_tray(make_config(), Recorder().actions, **options)
    trays.append(tray)
    return tray


def test_sosqueue_tray_dummy_gives_the_dummy(desktop, trays, monkeypatch):
    """SOSQUEUE_TRAY=dummy shows nothing, even with a tray host there."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    assert isinstance(make(trays), DummyTray)


def test_sosqueue_tray_fallback_gives_the_sos_button_as_without_pygobject(desktop, tk_root, trays, monkeypatch):
    """SOSQUEUE_TRAY=fallback takes the path of a desktop without PyGObject: the SOS button with its menu."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "fallback")
    tray = make(trays, tk_root=tk_root)
    assert isinstance(tray, FallbackTray) and tray.HAS_MENU
    tray.start()
    eventually(lambda: tray.window.winfo_viewable(), root=tk_root, what="the SOS button")


@pytest.mark.parametrize("backend", ["appindicator", "gtk"])
def test_sosqueue_tray_names_a_pystray_backend(desktop, trays, monkeypatch, backend):
    """SOSQUEUE_TRAY=appindicator or gtk gives pystray's backend of that name, with a menu."""
    monkeypatch.setenv("SOSQUEUE_TRAY", backend)
    tray = make(trays)
    assert isinstance(tray, PystrayTray)
    assert (tray.backend_name, tray.HAS_MENU) == (backend, True)


def floating_windows(root: tk.Misc) -> list[tk.Toplevel]:
    """The Tk windows besides the hidden root that are on screen: the SOS button, if there is one."""
    root.update()
    return [child for child in root.winfo_children() if isinstance(child, tk.Toplevel) and child.winfo_viewable()]


def test_sosqueue_tray_xorg_shows_the_icon_with_its_menu_and_no_sos_button(desktop, tk_root, trays, monkeypatch,
                                                                          artifacts_dir):
    """xorg: the icon in the tray in brand colour, a menu of its own, and no floating button; screenshot kept."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "xorg")
    tray = make(trays, tk_root=tk_root)
    assert isinstance(tray, XorgTray) and tray.backend_name == "xorg" and tray.HAS_MENU
    tray.set_state("waiting", code="s12-345-678")
    tray.start()
    shown = eventually(lambda: [i for i in desktop.tray_icons() if i.name.startswith(tray._config.brand.product)],
                       root=tk_root, what="the icon in the tray")[0]
    screen = desktop.screenshot()
    (artifacts_dir / "agent").mkdir(exist_ok=True)
    screen.save(artifacts_dir / "agent" / "tray-xorg.png")
    assert count_colour(screen, shown.box, PRIMARY) > shown.width * shown.height // 4
    assert floating_windows(tk_root) == []


def test_with_a_tray_host_but_no_pygobject_the_x_icon_comes_without_the_sos_button(desktop, tk_root, trays,
                                                                                   monkeypatch):
    """The frozen Linux agent (no PyGObject) beside trayer: the X icon, and no floating button."""
    monkeypatch.setitem(sys.modules, "gi", None)  # import gi now raises ImportError
    tray = make(trays, tk_root=tk_root)
    assert isinstance(tray, XorgTray)
    tray.start()
    eventually(lambda: [i for i in desktop.tray_icons() if i.name.startswith(tray._config.brand.product)],
               root=tk_root, what="the icon in the tray")
    assert floating_windows(tk_root) == []


def test_an_explicit_choice_that_cannot_work_is_one_error_and_the_automatic_choice(desktop, trays, monkeypatch,
                                                                                 caplog):
    """SOSQUEUE_TRAY=win32 on Linux: one error line naming it and why, then the automatic choice."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "win32")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        tray = make(trays)
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "SOSQUEUE_TRAY=win32 cannot be used: win32 works only on win32" in errors[0]
    assert tray.backend_name == "appindicator"


def test_select_names_an_unknown_choice_in_one_import_error(desktop, monkeypatch):
    """SOSQUEUE_TRAY=qt: select() raises one ImportError listing the names that work."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "qt")
    with pytest.raises(ImportError, match=f"SOSQUEUE_TRAY=qt cannot be used: unknown tray backend 'qt'; "
                                          f"SOSQUEUE_TRAY takes one of {', '.join(BACKENDS)}"):
        select(make_config(), Recorder().actions)


def test_with_a_tray_host_the_automatic_choice_is_appindicator(desktop, tk_root, trays):
    """trayer and PyGObject are there: AppIndicator, whose menu is the whole menu."""
    tray = make(trays, tk_root=tk_root)
    assert (tray.backend_name, tray.HAS_MENU) == ("appindicator", True)


def test_without_a_tray_host_the_automatic_choice_is_the_sos_button(bare_root, trays, caplog):
    """No tray host and no StatusNotifier watcher: the SOS button, and the log says why."""
    with caplog.at_level(logging.INFO, logger=LOGGER):
        tray = make(trays, tk_root=bare_root)
    assert isinstance(tray, FallbackTray)
    skipped = " ".join(record.getMessage() for record in caplog.records)
    assert "appindicator: neither a StatusNotifier watcher" in skipped
    assert "xorg: no XEmbed system tray owns this screen" in skipped


def test_without_a_tray_host_the_sos_button_floats_labelled(bare_desktop, bare_root, trays):
    """No owner of _NET_SYSTEM_TRAY_S0: the floating button is on screen and says "Help" under its picture."""
    assert not bare_desktop.has_tray()
    tray = make(trays, tk_root=bare_root)
    tray.start()
    eventually(lambda: tray.window.winfo_viewable(), root=bare_root, what="the SOS button")
    assert floating_windows(bare_root) == [tray.window]
    assert tray.caption.winfo_viewable() and tray.caption.cget("text") == "Help"


def test_without_a_tray_host_or_tk_root_the_automatic_choice_is_the_dummy(bare_root, trays):
    """No tray host and no Tk root for the button: nothing is shown, and nothing fails."""
    assert isinstance(make(trays), DummyTray)


def test_without_a_session_bus_the_automatic_choice_is_the_x_icon(desktop, tk_root, trays, monkeypatch, caplog):
    """No D-Bus session bus (none is started for us): the XEmbed icon with its Tk menu."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        tray = make(trays, tk_root=tk_root)
    assert tray.backend_name == "xorg"
    assert "gtk: there is no D-Bus session bus" in caplog.text


def test_without_a_display_the_automatic_choice_is_the_dummy(desktop, trays, monkeypatch):
    """No DISPLAY at all (a service, a terminal): the dummy."""
    monkeypatch.delenv("DISPLAY")
    assert isinstance(make(trays), DummyTray)


def test_a_pystray_backend_without_a_tray_host_is_an_import_error(bare_root):
    """gtk on a display nobody embeds icons in is refused before GTK is touched."""
    with pytest.raises(ImportError, match="no XEmbed system tray owns this screen"):
        load("gtk", make_config(), Recorder().actions)


def test_xorg_without_a_tk_root_is_an_import_error(desktop):
    """xorg's menu is drawn by Tk, so without a Tk root it is not used."""
    with pytest.raises(ImportError, match="pass tk_root"):
        load("xorg", make_config(), Recorder().actions)


@pytest.mark.parametrize(("platform", "expected"), [
    ("win32", ["win32", "dummy"]), ("darwin", ["darwin", "dummy"]),
    ("linux", ["appindicator", "gtk", "xorg", "fallback", "dummy"])])
def test_candidates_follow_the_platform(platform, expected):
    """Each platform tries its native tray first and ends with the dummy."""
    assert candidates(platform) == expected
