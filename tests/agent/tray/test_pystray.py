"""The pystray tray icon, in a real tray host (trayer on Xvfb) with a real D-Bus session bus."""

import json
import queue
import re
import subprocess
import sys

import pytest

from agent.tray._pystray import PystrayTray
from tests.agent.tray import (AMBER, GREEN, PRIMARY, Recorder, count_colour, desktop, eventually,  # noqa: F401
                              make_config, shared_desktop, tray_threads, trays)

ALL = ["appindicator", "gtk", "xorg"]
WITH_MENU = ["appindicator", "gtk"]
# PyGObject marks Gtk.StatusIcon and AppIndicator.set_icon deprecated; pystray uses them
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:DeprecationWarning")

CODE = "s12-345-678"


def start(backend, trays, recorder=None, **config):
    """A started tray of ``backend``, and the recorder of its actions."""
    recorder = recorder or Recorder()
    tray = PystrayTray(make_config(**config), recorder.actions, backend=backend)
    trays.append(tray)
    tray.start()
    return tray, recorder


def icon_in_tray(desktop, tray):
    """The tray host's window for ``tray``'s icon, once it shows the current tooltip."""
    wanted = tray.tooltip if tray.backend_name != "xorg" else tray.tooltip.replace("—", "-")
    return eventually(lambda: next((icon for icon in desktop.tray_icons() if icon.name == wanted), None),
                      what=f"an icon named {wanted!r} in the tray")


def visible_menu(tray):
    """The menu items pystray shows now: (text, enabled), separators left out."""
    return [(item.text, item.enabled) for item in tray.icon.menu if item is not tray.icon.menu.SEPARATOR]


def item(tray, text_start):
    return next(entry for entry in tray.icon.menu.items if entry.text.startswith(text_start))


def on_gtk_loop(work):
    """Runs ``work`` on the GTK loop (the tray's thread) and returns what it returned."""
    from gi.repository import GLib
    answer = queue.Queue()

    def run():
        try:
            answer.put((work(), None))
        except Exception as error:  # handed to the test's thread
            answer.put((None, error))
        return False

    GLib.idle_add(run)
    result, error = answer.get(timeout=30)
    if error:
        raise error
    return result


NOTIFICATION_SERVICE = '''
import json, sys
from gi.repository import Gio, GLib

INTERFACE = Gio.DBusNodeInfo.new_for_xml("""<node><interface name="org.freedesktop.Notifications">
  <method name="Notify"><arg type="s"/><arg type="u"/><arg type="s"/><arg type="s"/><arg type="s"/>
    <arg type="as"/><arg type="a{sv}"/><arg type="i"/><arg type="u" direction="out"/></method>
  <method name="CloseNotification"><arg type="u"/></method>
</interface></node>""").interfaces[0]


def call(connection, sender, path, interface, method, parameters, invocation):
    with open(sys.argv[1], "a") as log:
        log.write(json.dumps([method, parameters.unpack()]) + "\\n")
    invocation.return_value(GLib.Variant("(u)", (7,)) if method == "Notify" else None)


def acquired(connection, name):
    print("ready", flush=True)


bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
bus.register_object("/org/freedesktop/Notifications", INTERFACE, call, None, None)
Gio.bus_own_name_on_connection(bus, "org.freedesktop.Notifications", 0, acquired, None)
GLib.MainLoop().run()
'''


@pytest.fixture
def notification_service(desktop, tmp_path):
    """A notification daemon on the session bus that writes down each call, as JSON lines."""
    calls = tmp_path / "notifications.jsonl"
    calls.touch()
    process = subprocess.Popen([sys.executable, "-c", NOTIFICATION_SERVICE, str(calls)], stdout=subprocess.PIPE,
                               env=desktop.env() | {"DBUS_SESSION_BUS_ADDRESS": desktop.bus_address}, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        yield calls
    finally:
        process.terminate()
        process.wait(10)


def native_menu(tray):
    """The GTK menu the tray host shows: each item's label, sensitivity and place on the screen."""
    def read():
        icon = tray.icon
        menu = icon._appindicator.get_menu() if tray.backend_name == "appindicator" else icon._menu_handle
        window = menu.get_toplevel().get_window()
        shown = window is not None and window.is_visible()
        items = []
        for child in menu.get_children():
            label = re.sub(r"<[^>]+>", "", child.get_label() or "")  # the default item is bold
            if not label:
                continue  # a separator
            place = {"label": label, "sensitive": child.get_sensitive(), "shown": shown}
            if shown:
                _, left, top = window.get_origin()
                x, y = child.translate_coordinates(menu.get_toplevel(), 0, 0)
                allocation = child.get_allocation()
                place.update(x=left + x + allocation.width // 2, y=top + y + allocation.height // 2)
            items.append(place)
        return items
    return on_gtk_loop(read)


@pytest.mark.parametrize("backend", ALL)
def test_the_icon_appears_in_the_tray_host_in_the_brand_colour(desktop, trays, backend):
    """The icon is embedded in trayer and its pixels are the brand's primary colour."""
    tray, _ = start(backend, trays)
    icon = icon_in_tray(desktop, tray)
    area = icon.width * icon.height
    eventually(lambda: count_colour(desktop.screenshot(), icon.box, PRIMARY) > area // 4,
               what="the primary colour in the tray icon")


@pytest.mark.parametrize("backend", ALL)
def test_set_state_changes_the_picture_and_the_tooltip(desktop, trays, backend):
    """After set_state("connected") the icon shows the green dot and the tooltip says so."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    tray.set_state("connected", code=CODE, status_text="a supporter is with you")
    icon = icon_in_tray(desktop, tray)
    assert icon.name.endswith("a supporter is with you")
    assert tray.icon.icon is tray.picture()
    eventually(lambda: count_colour(desktop.screenshot(), icon.box, GREEN) >= 10, what="the green status dot")
    assert count_colour(desktop.screenshot(), icon.box, AMBER) == 0


@pytest.mark.parametrize("backend", WITH_MENU)
def test_without_a_request_the_menu_hides_my_request_and_disables_cancel(desktop, trays, backend):
    """No code: Request help, a disabled Cancel my request, About and Quit."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    assert tray.HAS_MENU
    assert visible_menu(tray) == [("Request help", True), ("Cancel my request", False), ("About", True),
                                  ("Quit", True)]


@pytest.mark.parametrize("backend", WITH_MENU)
def test_with_a_request_the_menu_shows_its_code_and_status_and_enables_cancel(desktop, trays, backend):
    """A code: the My request item with code and status appears, and Cancel my request is enabled."""
    tray, _ = start(backend, trays)
    tray.set_state("waiting", code=CODE, status_text="waiting for a supporter")
    icon_in_tray(desktop, tray)
    assert visible_menu(tray) == [("Request help", True), (f"My request {CODE} — waiting for a supporter", True),
                                  ("Cancel my request", True), ("About", True), ("Quit", True)]
    tray.set_state("idle")
    assert visible_menu(tray)[1] == ("Cancel my request", False)


@pytest.mark.parametrize("backend", WITH_MENU)
def test_the_native_menu_follows_set_state(desktop, trays, backend):
    """The GTK menu the tray host shows gains the request item and enables Cancel after set_state."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    eventually(lambda: [(i["label"], i["sensitive"]) for i in native_menu(tray)] == [
        ("Request help", True), ("Cancel my request", False), ("About", True), ("Quit", True)],
        what="the menu without a request")
    tray.set_state("connected", code=CODE)
    eventually(lambda: [(i["label"], i["sensitive"]) for i in native_menu(tray)] == [
        ("Request help", True), (f"My request {CODE} — supporter connected", True),
        ("Cancel my request", True), ("About", True), ("Quit", True)], what="the menu with a request")


@pytest.mark.parametrize("backend", WITH_MENU)
def test_each_menu_item_calls_its_action(desktop, trays, backend):
    """Invoking the items through pystray's Menu runs request_help … quit, in the tray's thread."""
    tray, recorder = start(backend, trays)
    tray.set_state("waiting", code=CODE)
    icon_in_tray(desktop, tray)
    for text in ("Request help", "My request", "Cancel my request", "About", "Quit"):
        item(tray, text)(tray.icon)
    assert recorder.calls == ["request_help", "show_request", "cancel_request", "about", "quit"]


@pytest.mark.parametrize("backend", WITH_MENU)
def test_clicking_a_menu_item_on_screen_calls_its_action(desktop, trays, backend, artifacts_dir):
    """Open the menu with the mouse (left click for AppIndicator, right for GTK) and click About."""
    tray, recorder = start(backend, trays)
    tray.set_state("waiting", code=CODE)
    icon = icon_in_tray(desktop, tray)
    desktop.click(icon.x + icon.width // 2, icon.y + icon.height // 2, 1 if backend == "appindicator" else 3)
    about = eventually(lambda: next((i for i in native_menu(tray) if i["label"] == "About" and i["shown"]), None),
                       what="the menu on screen")
    (artifacts_dir / "agent").mkdir(exist_ok=True)
    desktop.screenshot().save(artifacts_dir / "agent" / f"tray-{backend}-menu.png")
    desktop.click(about["x"], about["y"])
    eventually(lambda: recorder.calls == ["about"], what="the About action")
    assert recorder.threads == ["sosqueue-tray"]


@pytest.mark.parametrize("backend", ["gtk", "xorg"])
def test_clicking_the_icon_requests_help(desktop, trays, backend):
    """Where the backend has a default action, a left click on the icon runs request_help."""
    tray, recorder = start(backend, trays)
    icon = icon_in_tray(desktop, tray)
    assert tray.HAS_DEFAULT_ACTION
    desktop.click(icon.x + icon.width // 2, icon.y + icon.height // 2)
    eventually(lambda: recorder.calls == ["request_help"], what="request_help from a click")


def test_xorg_has_no_menu():
    """pystray's X backend draws no menu, which is why it comes only with the fallback button."""
    from pystray._xorg import Icon
    assert Icon.HAS_MENU is False


@pytest.mark.parametrize("backend", ALL)
def test_stop_ends_the_thread_and_removes_the_icon(desktop, trays, backend):
    """stop() ends the tray's threads and the tray host no longer shows the icon; a second stop does nothing."""
    tray, _ = start(backend, trays)
    icon = icon_in_tray(desktop, tray)
    tray.stop()
    eventually(lambda: tray_threads() == [], what="the tray's threads to end")
    eventually(lambda: all(shown.id != icon.id for shown in desktop.tray_icons()), what="the icon to leave the tray")
    tray.stop()
    assert not tray.running


@pytest.mark.parametrize("backend", ALL)
def test_set_state_after_stop_is_ignored(desktop, trays, backend):
    """A status that arrives after quitting changes nothing and raises nothing."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    tray.stop()
    picture, title = tray.icon.icon, tray.icon.title
    tray.set_state("connected", code=CODE)
    eventually(lambda: tray_threads() == [], what="the tray's threads to end")
    assert (tray.icon.icon, tray.icon.title) == (picture, title)


@pytest.mark.parametrize("backend", WITH_MENU)
def test_notify_without_a_notification_service_does_nothing(desktop, trays, backend):
    """No org.freedesktop.Notifications on the bus: HAS_NOTIFICATION is off and notify is a no-op."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    assert tray.HAS_NOTIFICATION is False
    tray.notify("Acme Help", "A supporter is with you")
    assert tray.running


@pytest.mark.parametrize("backend", WITH_MENU)
def test_notify_reaches_the_notification_service(desktop, trays, notification_service, backend):
    """With a notification daemon on the bus, notify() sends it title and message."""
    tray, _ = start(backend, trays)
    icon_in_tray(desktop, tray)
    assert tray.HAS_NOTIFICATION is True
    tray.notify("Acme Help", "A supporter is with you")
    sent = eventually(lambda: [json.loads(line) for line in notification_service.read_text().splitlines()
                               if line.startswith('["Notify"')], what="a Notify call")
    assert sent[0][1][3:5] == ["Acme Help", "A supporter is with you"]


def test_an_unknown_pystray_backend_is_an_import_error(desktop):
    """Asking pystray's wrapper for a backend it does not have names it in an ImportError."""
    with pytest.raises(ImportError, match="pystray has no backend 'qt'"):
        PystrayTray(make_config(), Recorder().actions, backend="qt")


def test_a_windows_backend_is_an_import_error_on_linux(desktop):
    """win32 on Linux says which platform it needs."""
    with pytest.raises(ImportError, match="win32 works only on win32"):
        PystrayTray(make_config(), Recorder().actions, backend="win32")
