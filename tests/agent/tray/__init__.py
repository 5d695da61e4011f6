"""A real desktop for the tray tests: Xvfb, a D-Bus session bus and ``trayer`` as the tray host.

Test modules import the fixtures they need from here. GTK connects to one X display per
process and stays connected, so every module shares one desktop for the whole session.
"""

import io
import itertools
import os
import shutil
import subprocess
import threading
import time
import tkinter as tk
from dataclasses import dataclass

import pytest
from PIL import Image

from sosqueue.module_config import Brand, ModuleConfig
from agent.tray import TrayActions
from tests.support.xserver import read_line, start_xvfb

SCREEN = (1280, 800)
PATIENCE = 60.0
PRIMARY = (11, 95, 255)
GREEN = (29, 185, 84)
AMBER = (245, 166, 35)
_ids = itertools.count(1)


def eventually(condition, *, timeout: float = PATIENCE, what: str = "condition", root: tk.Misc | None = None):
    """Poll ``condition()`` until it is truthy and return it; with ``root``, Tk runs meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if root is not None:
            root.update()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come true within {timeout} s")
        time.sleep(0.02)


@dataclass(frozen=True)
class XWindow:
    """A window as the X server has it: id, name, class and place on the screen."""

    id: int
    name: str
    wm_class: tuple[str, ...]
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.width, self.y + self.height


class Desktop:
    """Xvfb on a free display number, optionally with a session bus and trayer."""

    def __init__(self, *, tray_host: bool = True):
        self.tray_host = tray_host
        self.display = ""
        self.bus_address = ""
        self._processes: list[subprocess.Popen] = []

    def start(self) -> "Desktop":
        self.display = self._start_xvfb()
        if self.tray_host:
            self.bus_address = self._start_bus()
            self._spawn(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                         "--height", "32", "--transparent", "false"])
            eventually(self.has_tray, what="trayer to own the system tray")
        return self

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def has_tray(self) -> bool:
        """Whether a window owns the screen's XEmbed system tray selection."""
        from Xlib import X, display as xdisplay
        connection = xdisplay.Display(self.display)
        try:
            return connection.get_selection_owner(connection.intern_atom("_NET_SYSTEM_TRAY_S0")) != X.NONE
        finally:
            connection.close()

    def tray_icons(self) -> list[XWindow]:
        """The named windows embedded in trayer's panel: the tray icons."""
        from Xlib import display as xdisplay
        connection = xdisplay.Display(self.display)
        try:
            root = connection.screen().root
            panels = [window for window in root.query_tree().children
                      if self._wm_class(window) == ("panel", "trayer")]
            return [icon for panel in panels for icon in self._named_descendants(connection, root, panel)]
        finally:
            connection.close()

    def window(self, window_id: int) -> XWindow | None:
        """A window by id, or ``None`` once it is gone."""
        from Xlib import display as xdisplay, error
        connection = xdisplay.Display(self.display)
        try:
            root = connection.screen().root
            return self._describe(connection, root, connection.create_resource_object("window", window_id))
        except error.XError:
            return None
        finally:
            connection.close()

    def screenshot(self) -> Image.Image:
        """The whole screen, as ImageMagick's ``import`` sees it."""
        png = subprocess.run(["import", "-window", "root", "png:-"], env=self.env(), check=True,
                             capture_output=True).stdout
        return Image.open(io.BytesIO(png)).convert("RGB")

    def click(self, x: int, y: int, button: int = 1) -> None:
        self.run("xdotool", "mousemove", str(x), str(y), "click", str(button))

    def run(self, *argv: str) -> str:
        return subprocess.run(argv, env=self.env(), check=True, capture_output=True, text=True).stdout

    @staticmethod
    def _wm_class(window) -> tuple[str, ...]:
        from Xlib import error
        try:
            return tuple(window.get_wm_class() or ())
        except error.XError:
            return ()  # it went away while we looked

    def _named_descendants(self, connection, root, window):
        from Xlib import error
        try:
            children = window.query_tree().children
        except error.XError:
            return  # it went away while we looked
        for child in children:
            try:
                described = self._describe(connection, root, child)
            except error.XError:
                continue
            if described and described.name:
                yield described
            yield from self._named_descendants(connection, root, child)

    @staticmethod
    def _describe(connection, root, window) -> XWindow | None:
        attributes = window.get_attributes()
        if attributes.map_state != 2:  # IsViewable
            return None
        geometry = window.get_geometry()
        origin = window.translate_coords(root, 0, 0)
        utf8 = window.get_full_text_property(connection.intern_atom("_NET_WM_NAME"),
                                             connection.intern_atom("UTF8_STRING"))
        return XWindow(id=window.id, name=utf8 or window.get_wm_name() or "",
                       wm_class=tuple(window.get_wm_class() or ()), x=-origin.x, y=-origin.y,
                       width=geometry.width, height=geometry.height)

    def _start_xvfb(self) -> str:
        process, name = start_xvfb()
        self._processes.append(process)
        return name

    def _start_bus(self) -> str:
        if not shutil.which("dbus-daemon"):
            raise RuntimeError("dbus-daemon is not installed (Debian package dbus-daemon)")
        read_end, write_end = os.pipe()
        self._spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--print-address={write_end}"],
                    pass_fds=(write_end,))
        os.close(write_end)
        try:
            address = read_line(read_end)
        finally:
            os.close(read_end)
        if not address:
            raise RuntimeError("dbus-daemon did not print its address")
        return address

    def _spawn(self, argv: list[str], **options) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=self.env() if self.display else None, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)
        self._processes.append(process)
        return process


class _Shared:
    """Desktops that live for the whole session, however many test modules ask for them.

    Tk keeps its connection to every display it has used until the process ends, and dies
    when one of them goes away; so no desktop is stopped before the last test is done.
    """

    lock = threading.Lock()
    desktops: dict[bool, Desktop] = {}
    users: dict[bool, int] = {}


def _session_desktop(*, tray_host: bool):
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (scripts/setup installs it)")
    with _Shared.lock:
        if tray_host not in _Shared.desktops:
            _Shared.desktops[tray_host] = Desktop(tray_host=tray_host).start()
            _Shared.users[tray_host] = 0
        _Shared.users[tray_host] += 1
    yield _Shared.desktops[tray_host]
    with _Shared.lock:
        _Shared.users[tray_host] -= 1
        if _Shared.users[tray_host] == 0:
            _Shared.desktops.pop(tray_host).stop()


@pytest.fixture(scope="session")
def shared_desktop():
    """The session's desktop with a tray host."""
    yield from _session_desktop(tray_host=True)


@pytest.fixture(scope="session")
def bare_desktop():
    """The session's second desktop: an X display without tray host or StatusNotifier watcher."""
    yield from _session_desktop(tray_host=False)


@pytest.fixture
def desktop(shared_desktop, monkeypatch):
    """The desktop, with this test's DISPLAY and session bus pointing at it."""
    monkeypatch.setenv("DISPLAY", shared_desktop.display)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", shared_desktop.bus_address)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("SOSQUEUE_TRAY", raising=False)
    # GTK's accessibility bridge would start an at-spi bus that outlives the tests
    monkeypatch.setenv("NO_AT_BRIDGE", "1")
    return shared_desktop


@pytest.fixture
def tk_root(desktop):
    """A hidden Tk root on the desktop, destroyed after the test."""
    root = tk.Tk()
    root.withdraw()
    yield root
    try:
        root.destroy()
    except tk.TclError:
        pass


@pytest.fixture
def trays():
    """Collects the trays a test makes and stops them after it, even when it fails."""
    made = []
    yield made
    for tray in made:
        tray.stop()


class Recorder:
    """Tray actions that write down which one ran, and on which thread."""

    def __init__(self):
        self.calls: list[str] = []
        self.threads: list[str] = []

    @property
    def actions(self) -> TrayActions:
        return TrayActions(**{name: self._recording(name) for name in
                              ("request_help", "show_request", "cancel_request", "about", "quit")})

    def _recording(self, name: str):
        def record():
            self.threads.append(threading.current_thread().name)
            self.calls.append(name)
        return record


def make_config(*, product: str | None = None, assets: dict[str, bytes] | None = None,
                primary: str = "#0B5FFF") -> ModuleConfig:
    """A module configuration with its own module id, so trays of different tests never mix."""
    number = next(_ids)
    return ModuleConfig(module_id=f"tray-test-{number}", module_token="token-" + "x" * 16,
                        server_url="https://queue.example", assets=assets or {},
                        brand=Brand(company="Acme", product=product or f"Acme Help {number}", primary=primary))


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour))


def count_colour(image: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> int:
    """How many pixels in ``box`` of ``image`` are close to ``colour``."""
    return sum(1 for pixel in image.crop(box).getdata() if near(pixel, colour))


def tray_threads() -> list[threading.Thread]:
    """Threads a tray may have started that are still alive."""
    return [thread for thread in threading.enumerate()
            if thread.name.startswith("sosqueue-tray") or "setup_handler" in thread.name]
