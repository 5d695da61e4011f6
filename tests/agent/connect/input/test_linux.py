"""The X11 injector on a real X server, seen by a real Tk window: where clicks land, what text arrives."""

import pytest

from agent.connect.input import InjectionUnavailable, Key, Modifier, create_injector
from agent.connect.input._linux import Injector, keysym_for_character
from tests.agent.connect.input.conftest import LEFT, TOP
from tests.support.polling import eventually

SHIFT, CONTROL = 1, 4  # X's state bits


def test_a_move_and_click_lands_at_the_window_coordinates(recorder, injector):
    """Screen point (LEFT+120, TOP+80) is the pad's (120, 80): the motion, press and release say so."""
    assert injector.move(LEFT + 120, TOP + 80) == (LEFT + 120, TOP + 80)
    injector.click()
    recorder.settle(lambda: recorder.of_kind("release"), "the click")
    assert recorder.of_kind("motion")[-1] == ("motion", 120, 80)
    assert recorder.of_kind("press", "release") == [("press", 1, 120, 80), ("release", 1, 120, 80)]


def test_right_button_press_and_release_are_separate_calls(recorder, injector):
    injector.move(LEFT + 10, TOP + 10)
    injector.press("right")
    recorder.settle(lambda: recorder.of_kind("press"), "the press")
    assert recorder.of_kind("release") == []
    injector.release("right")
    recorder.settle(lambda: recorder.of_kind("release"), "the release")
    assert recorder.of_kind("press", "release") == [("press", 3, 10, 10), ("release", 3, 10, 10)]


def test_a_double_click_arrives_as_a_double_click(recorder, injector):
    injector.move(LEFT + 200, TOP + 150)
    injector.double_click()
    recorder.settle(lambda: recorder.of_kind("double"), "the double click")
    assert recorder.of_kind("double") == [("double", 200, 150)]
    # Tk hands the second press to the more specific <Double-ButtonPress-1> binding alone.
    assert recorder.of_kind("press", "release") == [("press", 1, 200, 150), ("release", 1, 200, 150),
                                                    ("release", 1, 200, 150)]


def test_the_wheel_turns_by_notches(recorder, injector):
    """dy=+2 is two notches down, dy=-1 one up, dx=+1 one to the right (X's buttons 5, 4, 7)."""
    injector.move(LEFT + 50, TOP + 50)
    injector.scroll(dy=2)
    injector.scroll(dy=-1)
    injector.scroll(dx=1)
    recorder.settle(lambda: len(recorder.of_kind("wheel")) == 8, "eight wheel events")
    # Tk 8.6 hands X's horizontal buttons 6 and 7 on as Shift with buttons 4 and 5 (Shift-wheel scrolls sideways).
    presses = [(event[1], event[3] & SHIFT) for event in recorder.of_kind("wheel") if event[2] == "press"]
    assert presses == [("down", 0), ("down", 0), ("up", 0), ("down", SHIFT)]


@pytest.mark.parametrize("text", ["Grüße", "Ärger ß €", "ħ", "plain ASCII, with Shift: ~!@#"])
def test_typed_text_arrives_exactly_and_the_keyboard_mapping_is_restored(recorder, injector, text):
    """Characters the layout lacks go through a spare keycode, which gets its empty mapping back."""
    before = injector._mapping()
    recorder.focus_entry()
    injector.type_text(text)
    recorder.settle(lambda: recorder.entry.get() == text, f"{text!r} in the Entry")
    assert recorder.entry.get() == text
    eventually(lambda: not injector.borrowed, timeout=10, what="the spare keycodes given back")
    assert injector._mapping() == before


def test_a_spare_keycode_is_used_for_a_character_outside_the_layout(injector):
    """Xvfb's layout has no ü: the injector lends it a spare keycode, and Latin-1 is its own keysym."""
    assert keysym_for_character("ü") == 0xFC and keysym_for_character("ħ") == 0x1000127
    assert 0xFC not in injector._levels()
    injector.type_text("ü")
    assert list(injector.borrowed) == [0xFC]
    injector.close()
    assert not injector.borrowed


def test_ctrl_c_arrives_as_control_c(recorder, injector):
    recorder.focus_entry()
    injector.press_key("c", {Modifier.CONTROL})
    recorder.settle(lambda: ("key", "c", CONTROL) in recorder.of_kind("key"), "Control-c")
    assert [event for event in recorder.of_kind("key") if event[1] == "c"] == [("key", "c", CONTROL)]


def test_shift_tab_arrives_with_shift(recorder, injector):
    recorder.focus_entry()
    injector.press_key(Key.TAB, [Modifier.SHIFT])
    recorder.settle(lambda: any(event[1] in ("Tab", "ISO_Left_Tab") for event in recorder.of_kind("key")), "Shift-Tab")
    tab = [event for event in recorder.of_kind("key") if event[1] in ("Tab", "ISO_Left_Tab")]
    assert len(tab) == 1 and tab[0][2] & SHIFT


def test_named_keys_edit_the_entry(recorder, injector):
    """Text, then Backspace, Home and a character: the Entry shows the keys' effect."""
    recorder.focus_entry()
    injector.type_text("abc")
    injector.press_key(Key.BACKSPACE)
    injector.press_key(Key.HOME)
    injector.press_key("X")
    recorder.settle(lambda: recorder.entry.get() == "Xab", "the edited Entry")


def test_points_outside_the_monitor_are_clamped(recorder, injector):
    """The pointer goes to the nearest edge, never an error."""
    assert injector.monitors() == [(0, 0, 1280, 800)]
    assert injector.move(5000, -30) == (1279, 0)
    assert recorder.tk.winfo_pointerxy() == (1279, 0)
    assert injector.move(-1, 900) == (0, 799)
    assert recorder.tk.winfo_pointerxy() == (0, 799)
    with pytest.raises(ValueError, match="no monitor 1"):
        injector.move(0, 0, monitor=1)


@pytest.mark.parametrize("environment", [{"XDG_SESSION_TYPE": "wayland"}, {"WAYLAND_DISPLAY": "wayland-0"}])
def test_a_wayland_session_is_refused(monkeypatch, environment):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.setenv("SOSQUEUE_INPUT", "linux")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InjectionUnavailable) as refused:
        create_injector()
    assert str(refused.value) == "this is a Wayland session without remote-desktop portal"


def test_an_x_display_that_is_not_there_is_unavailable():
    with pytest.raises(InjectionUnavailable, match="cannot be opened"):
        Injector(":987")


def test_a_closed_injector_refuses_every_call(injector):
    injector.press()
    injector.close()
    injector.close()
    for call in (lambda: injector.move(1, 1), injector.click, lambda: injector.type_text("a"),
                 lambda: injector.press_key(Key.ENTER), lambda: injector.scroll(dy=1), injector.monitors):
        with pytest.raises(RuntimeError, match="the input injector is closed"):
            call()


def test_no_secure_attention_on_x11(injector):
    assert Injector.HAS_SECURE_ATTENTION is False
    with pytest.raises(InjectionUnavailable, match="Ctrl\\+Alt\\+Del cannot be sent"):
        injector.send_secure_attention()


def test_a_key_the_layout_filled_meanwhile_is_never_borrowed(injector, input_screen):
    """The spare keycodes are read afresh for each call: one that got a keysym since is left alone."""
    from Xlib.display import Display

    taken = injector._empty[-1]
    other = Display(input_screen)
    try:
        width = len(other.get_keyboard_mapping(taken, 1)[0])
        other.change_keyboard_mapping(taken, [(0xE9,) * width])  # é, as a layout switch might bring
        other.sync()
        injector.type_text("ü")
        assert injector.borrowed[0xFC] != taken
        assert other.get_keyboard_mapping(taken, 1)[0][0] == 0xE9
    finally:
        other.change_keyboard_mapping(taken, [(0,) * width])
        other.close()
