"""The customer's take-back key on a real X server, pressed by xdotool (another client, as a keyboard is)."""

import os
import subprocess
import threading
import time

import pytest
from Xlib import X
from Xlib.display import Display

from agent.connect.input import InjectionUnavailable
from agent.connect.input._linux import TakeBackListener
from tests.support.polling import eventually
from tests.support.tools import require_tool

TAKE_BACK = "ctrl+alt+space"
#: Longer than X's auto-repeat delay (660 ms on Xvfb), so that a held key would repeat.
HOLD = 1.5


@pytest.fixture
def xdotool(input_screen):
    """Presses keys on the test screen: ``xdotool("key", "ctrl+alt+space")``."""
    executable = require_tool("xdotool", "xdotool")

    def run(*arguments: str) -> None:
        subprocess.run([executable, *arguments], env=dict(os.environ, DISPLAY=input_screen), check=True, timeout=30)
    return run


class Heard:
    """Counts the presses reported to it."""

    def __init__(self):
        self.presses = 0

    def __call__(self):
        self.presses += 1

    def wait(self, count: int, what: str) -> None:
        eventually(lambda: self.presses >= count, timeout=15, what=what)


def barrier(injector, xdotool) -> None:
    """Make sure the listener has handled every key pressed so far: a new handler hears one more take-back.

    The listener handles the server's events in order, so once the new handler has heard the
    take-back pressed after them, the old one has heard all it ever will.
    """
    last = Heard()
    injector.watch_take_back(last)
    xdotool("key", TAKE_BACK)
    last.wait(1, "the barrier's take-back key")


def test_the_take_back_key_is_heard_once_and_other_keys_are_not(injector, xdotool):
    """Ctrl+Alt+Space calls on_pressed once; Space, Ctrl+Space, Alt+Space and Shift+Space never do."""
    heard = Heard()
    injector.watch_take_back(heard)
    xdotool("key", "space", "ctrl+space", "alt+space", "shift+space", "ctrl+shift+a")
    xdotool("key", TAKE_BACK)
    heard.wait(1, "the take-back key")
    barrier(injector, xdotool)
    assert heard.presses == 1


def test_a_held_take_back_key_is_one_press(injector, xdotool):
    """Holding Ctrl+Alt+Space past the auto-repeat delay still calls on_pressed once."""
    heard = Heard()
    injector.watch_take_back(heard)
    xdotool("keydown", "ctrl", "alt", "space")
    time.sleep(HOLD)
    xdotool("keyup", "space", "alt", "ctrl")
    heard.wait(1, "the held take-back key")
    barrier(injector, xdotool)
    assert heard.presses == 1


def test_the_key_is_heard_while_the_injector_moves_the_pointer_without_pause(injector, xdotool):
    """Another thread keeps the injector busy moving the pointer; the key still gets through."""
    heard = Heard()
    injector.watch_take_back(heard)
    stop = threading.Event()
    moves = []

    def keep_moving():
        while not stop.is_set():
            moves.append(injector.move(len(moves) % 1280, 400))

    mover = threading.Thread(target=keep_moving)
    mover.start()
    try:
        eventually(lambda: len(moves) > 100, timeout=15, what="the pointer moving")
        xdotool("key", TAKE_BACK)
        heard.wait(1, "the take-back key during the moves")
    finally:
        stop.set()
        mover.join()
    assert heard.presses == 1


def test_the_key_is_heard_while_a_window_has_the_focus(recorder, injector, xdotool):
    """The Tk Entry has the focus (and gets the key too): the listener hears it all the same."""
    heard = Heard()
    injector.watch_take_back(heard)
    recorder.focus_entry()
    xdotool("key", TAKE_BACK)
    recorder.settle(lambda: heard.presses == 1, "the take-back key over the focused window")


def test_the_key_is_heard_while_another_client_grabs_the_keyboard(injector, xdotool, input_screen):
    """An open menu grabs the keyboard: XInput 2's raw events still reach the listener."""
    heard = Heard()
    injector.watch_take_back(heard)
    assert injector._listener.raw_events
    menu = Display(input_screen)
    try:
        assert menu.screen().root.grab_keyboard(True, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime) == X.GrabSuccess
        menu.sync()
        xdotool("key", TAKE_BACK)
        heard.wait(1, "the take-back key during a keyboard grab")
    finally:
        menu.close()


def test_after_close_the_listener_is_gone(injector, xdotool, input_screen):
    """close() ends the listener's thread, and a later press reaches nobody."""
    heard = Heard()
    injector.watch_take_back(heard)
    thread = injector._listener.thread
    assert thread.is_alive() and thread.daemon
    injector.close()
    assert not thread.is_alive()
    other = Heard()
    listener = TakeBackListener(input_screen, other)
    try:
        xdotool("key", TAKE_BACK)
        other.wait(1, "the take-back key on a second listener")
    finally:
        listener.stop()
    assert heard.presses == 0


def test_a_handler_that_closes_the_injector_ends_the_listener(injector, xdotool):
    """on_pressed may close the injector on the listener's own thread: nothing waits for itself."""
    injector.watch_take_back(injector.close)
    thread = injector._listener.thread
    xdotool("key", TAKE_BACK)
    eventually(lambda: injector.closed and not thread.is_alive(), timeout=15,
               what="the injector closed by its handler")


def test_without_xinput2_the_listener_grabs_the_key_in_every_lock_state(input_screen, xdotool):
    """The XGrabKey fallback hears Ctrl+Alt+Space with NumLock on, once when held, and not Space alone."""
    heard = [Heard()]
    listener = TakeBackListener(input_screen, lambda: heard[0](), raw_events=False)
    try:
        assert not listener.raw_events
        first = heard[0]
        xdotool("key", "space", "ctrl+space")
        xdotool("keydown", "ctrl", "alt", "space")
        time.sleep(HOLD)
        xdotool("keyup", "space", "alt", "ctrl")
        first.wait(1, "the grabbed take-back key")
        xdotool("key", "Num_Lock")
        try:
            xdotool("key", TAKE_BACK)
            first.wait(2, "the grabbed take-back key with NumLock on")
        finally:
            xdotool("key", "Num_Lock")
        heard[0] = last = Heard()
        xdotool("key", TAKE_BACK)
        last.wait(1, "the barrier's take-back key")
        assert first.presses == 2
    finally:
        listener.stop()
    assert not listener.thread.is_alive()


def test_a_key_another_program_grabbed_is_unavailable(input_screen):
    """When another client owns Ctrl+Alt+Space, the grab fallback says so."""
    other = Display(input_screen)
    try:
        root = other.screen().root
        keycode = other.keysym_to_keycode(0x20)
        root.grab_key(keycode, X.ControlMask | X.Mod1Mask, False, X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        with pytest.raises(InjectionUnavailable, match="another program .* has taken Ctrl\\+Alt\\+Space"):
            TakeBackListener(input_screen, lambda: None, raw_events=False)
    finally:
        other.close()


def test_a_display_that_is_not_there_cannot_be_listened_to():
    with pytest.raises(InjectionUnavailable, match="cannot be opened"):
        TakeBackListener(":987", lambda: None)


def test_control_and_alt_held_before_listening_count(injector, xdotool):
    """The customer already holds Ctrl+Alt when listening starts: Space alone completes the combination."""
    xdotool("keydown", "ctrl", "alt")
    try:
        heard = Heard()
        injector.watch_take_back(heard)
        xdotool("key", "space")
        heard.wait(1, "Space over the held Control and Alt")
    finally:
        xdotool("keyup", "alt", "ctrl")
