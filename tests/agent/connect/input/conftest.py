"""Fixtures of the input tests: an X server of their own and a real Tk window that records what it gets."""

import gc
import tkinter as tk

import pytest

from agent.connect.input._linux import Injector
from tests.support.polling import eventually
from tests.support.tools import require_tool
from tests.support.xserver import start_xvfb, stop

#: Where the recording window sits on the 1280×800 screen.
LEFT, TOP, WIDTH, HEIGHT = 100, 50, 600, 400


@pytest.fixture(scope="session")
def input_screen():
    """A real X server (Xvfb, 1280×800) for the injected input alone; its DISPLAY name.

    Its own server, so that the pointer, the keyboard mapping and the focus of these tests
    never meet the screen the capture tests paint on.
    """
    require_tool("Xvfb", "xvfb")
    require_tool("xdpyinfo", "x11-utils")
    process, name = start_xvfb()
    yield name
    stop(process)


class Recorder:
    """A window at (LEFT, TOP) with a pad that records pointer events and an Entry that records keys."""

    def __init__(self, display: str):
        self.tk = tk.Tk(screenName=display)
        self.tk.overrideredirect(True)
        self.tk.geometry(f"{WIDTH}x{HEIGHT}+{LEFT}+{TOP}")
        self.events: list[tuple] = []
        self.pad = tk.Frame(self.tk, width=WIDTH, height=HEIGHT - 40, background="white")
        self.pad.pack()
        self.entry = tk.Entry(self.tk)
        self.entry.pack(fill="x")
        self.pad.bind("<Motion>", lambda e: self.events.append(("motion", e.x, e.y)))
        self.pad.bind("<ButtonPress>", self._button("press"))
        self.pad.bind("<ButtonRelease>", self._button("release"))
        self.pad.bind("<Double-ButtonPress-1>", lambda e: self.events.append(("double", e.x, e.y)))
        self.entry.bind("<KeyPress>", lambda e: self.events.append(("key", e.keysym, e.state)), add=True)
        self.tk.update()
        eventually(self._shown, timeout=10, what="the recording window on screen")

    def _button(self, kind: str):
        def record(event):
            if event.num in (4, 5, 6, 7):
                self.events.append(("wheel", {4: "up", 5: "down", 6: "left", 7: "right"}[event.num], kind, event.state))
            else:
                self.events.append((kind, event.num, event.x, event.y))
        return record

    def _shown(self) -> bool:
        self.tk.update()
        return self.tk.winfo_ismapped() and (self.tk.winfo_rootx(), self.tk.winfo_rooty()) == (LEFT, TOP)

    def focus_entry(self) -> None:
        self.entry.focus_force()
        eventually(lambda: self.tk.update() or self.tk.focus_get() is self.entry, timeout=10, what="the Entry's focus")

    def settle(self, condition, what: str):
        """Handle Tk's events until ``condition()`` is true."""
        return eventually(lambda: self.tk.update() or condition(), timeout=10, what=what)

    def of_kind(self, *kinds: str) -> list[tuple]:
        self.tk.update()
        return [event for event in self.events if event[0] in kinds]

    def destroy(self) -> None:
        try:
            self.tk.destroy()
        except tk.TclError:
            pass
        gc.collect()  # free the Tk interpreter here, in the main thread


@pytest.fixture
def recorder(input_screen):
    window = Recorder(input_screen)
    yield window
    window.destroy()


@pytest.fixture
def injector(input_screen, monkeypatch):
    """The X11 injector on the test screen (a generous restore delay: the test handles Tk's events after)."""
    monkeypatch.setenv("DISPLAY", input_screen)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.delenv("SOSQUEUE_INPUT", raising=False)
    injecting = Injector(restore_after=2.0)
    yield injecting
    injecting.close()
