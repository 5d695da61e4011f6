"""What every tray shares: pictures, the menu model, tooltip, translation and the start/stop rules."""

import io
import logging

import pytest
from PIL import Image

from agent.tray._base import STATUS_COLOURS, Tray, TrayActions, generated_picture, state_picture
from agent.tray._dummy import DummyTray
from tests.agent.tray import PRIMARY, Recorder, make_config, near

CODE = "s12-345-678"
GERMAN = {
    "Request help": "Hilfe anfordern",
    "My request {code} — {status}": "Meine Anfrage {code} — {status}",
    "Cancel my request": "Meine Anfrage abbrechen",
    "About": "Über",
    "Quit": "Beenden",
    "ready": "bereit",
    "waiting for a supporter": "wartet auf einen Supporter",
    "supporter connected": "Supporter verbunden",
}


def png(colour, size=16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (size, size), colour).save(buffer, "PNG")
    return buffer.getvalue()


def rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def dummy(recorder=None, **options):
    return DummyTray(make_config(product="Acme Help"), (recorder or Recorder()).actions, **options)


def shown(tray):
    return [(entry.label, entry.enabled) for entry in tray.menu_entries() if entry and entry.visible]


def test_the_drawn_picture_is_a_primary_circle_with_a_status_dot():
    """Generated: transparent corners, the primary colour inside the circle, the state's dot lower right."""
    picture = generated_picture("#0B5FFF", "#FFFFFF", "waiting", 64)
    assert picture.size == (64, 64) and picture.mode == "RGBA"
    assert picture.getpixel((1, 1))[3] == 0
    assert near(picture.getpixel((32, 6)), PRIMARY)
    assert near(picture.getpixel((50, 50)), rgb(STATUS_COLOURS["waiting"]))


@pytest.mark.parametrize("state", ["idle", "waiting", "connected"])
def test_each_state_has_its_own_dot_colour(state):
    """The dot of each state has that state's colour."""
    assert near(generated_picture("#0B5FFF", "#FFFFFF", state, 64).getpixel((50, 50)), rgb(STATUS_COLOURS[state]))


def test_the_modules_picture_is_used_when_it_has_one():
    """tray-waiting.png from the module is used, scaled to the size asked for."""
    config = make_config(assets={"tray-waiting.png": png((200, 0, 200, 255))})
    picture = state_picture(config, "waiting", 32)
    assert picture.size == (32, 32) and near(picture.getpixel((16, 16)), (200, 0, 200))
    assert near(state_picture(config, "idle", 32).getpixel((16, 3)), PRIMARY)  # no tray-idle.png: drawn


def test_a_damaged_module_picture_is_drawn_instead_and_logged(caplog):
    """Bytes that are no image: a warning naming the file, and the drawn picture."""
    config = make_config(assets={"tray-idle.png": b"not a png"})
    with caplog.at_level(logging.WARNING, logger="sosqueue.agent.tray"):
        picture = state_picture(config, "idle", 64)
    assert near(picture.getpixel((32, 6)), PRIMARY)
    assert "tray-idle.png cannot be read" in caplog.text


def test_a_colour_that_is_no_colour_draws_in_the_default_primary(caplog):
    """A brand colour Pillow cannot read is logged and replaced by the default blue."""
    with caplog.at_level(logging.WARNING, logger="sosqueue.agent.tray"):
        picture = generated_picture("blurple-ish", "#FFFFFF", "idle", 64)
    assert near(picture.getpixel((32, 6)), PRIMARY)
    assert "'blurple-ish' is not a colour" in caplog.text


def test_without_a_request_the_menu_hides_my_request_and_disables_cancel():
    """No code: My request is hidden and disabled, Cancel my request disabled, the rest enabled."""
    tray = dummy()
    assert shown(tray) == [("Request help", True), ("Cancel my request", False), ("About", True), ("Quit", True)]
    assert [entry.key for entry in tray.menu_entries() if entry and entry.default] == ["request_help"]


def test_with_a_request_the_menu_shows_code_and_status_and_enables_cancel():
    """A code: My request names it with the status, and Cancel my request is enabled."""
    tray = dummy()
    tray.set_state("connected", code=CODE, status_text="Anna is helping you")
    assert shown(tray) == [("Request help", True), (f"My request {CODE} — Anna is helping you", True),
                           ("Cancel my request", True), ("About", True), ("Quit", True)]


def test_labels_and_default_statuses_are_translated():
    """Every label and the states' default words go through translate (gettext's _)."""
    tray = dummy(translate=lambda text: GERMAN.get(text, text))
    tray.set_state("waiting", code=CODE)
    assert shown(tray) == [("Hilfe anfordern", True), (f"Meine Anfrage {CODE} — wartet auf einen Supporter", True),
                           ("Meine Anfrage abbrechen", True), ("Über", True), ("Beenden", True)]
    assert tray.tooltip == "Acme Help — wartet auf einen Supporter"


@pytest.mark.parametrize(("state", "status_text", "tooltip"), [
    ("idle", "", "Acme Help — ready"),
    ("waiting", "", "Acme Help — waiting for a supporter"),
    ("connected", "", "Acme Help — supporter connected"),
    ("waiting", "offline: we keep trying", "Acme Help — offline: we keep trying")])
def test_the_tooltip_is_product_and_status(state, status_text, tooltip):
    """The tooltip is "<Product> — <status>", the status text given or the state's own words."""
    tray = dummy()
    tray.set_state(state, code=CODE, status_text=status_text)
    assert tray.tooltip == tooltip


def test_an_unknown_state_is_refused():
    """set_state("busy") raises ValueError naming the states that exist."""
    with pytest.raises(ValueError, match="unknown tray state 'busy'; expected one of idle, waiting, connected"):
        dummy().set_state("busy")


def test_an_action_that_fails_is_logged_and_does_not_reach_the_backend(caplog):
    """A broken action is logged with its name; activate() returns normally."""
    def broken():
        raise RuntimeError("the window is gone")

    tray = DummyTray(make_config(), TrayActions(
        request_help=broken, show_request=broken, cancel_request=broken, about=broken, quit=broken))
    with caplog.at_level(logging.ERROR, logger="sosqueue.agent.tray"):
        tray.activate("about")
    assert "the tray's 'about' action failed" in caplog.text and "the window is gone" in caplog.text


def test_activate_runs_the_named_action():
    """activate(key) runs the action of that menu item."""
    recorder = Recorder()
    tray = dummy(recorder)
    for key in ("request_help", "show_request", "cancel_request", "about", "quit"):
        tray.activate(key)
    assert recorder.calls == ["request_help", "show_request", "cancel_request", "about", "quit"]


def test_a_tray_starts_once():
    """A second start(), or a start() after stop(), raises RuntimeError."""
    tray = dummy()
    tray.start()
    with pytest.raises(RuntimeError, match="the tray is running and cannot be started again"):
        tray.start()
    tray.stop()
    with pytest.raises(RuntimeError, match="the tray is stopped"):
        tray.start()


def test_the_base_class_leaves_the_drawing_to_backends():
    """Tray itself has no backend: its hooks raise NotImplementedError, and a failed start is no start."""
    tray = Tray(make_config(), Recorder().actions)
    with pytest.raises(NotImplementedError):
        tray.start()
    assert not tray.running
