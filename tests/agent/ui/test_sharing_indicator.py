"""The sharing bar on a real X display: always on top, unmistakable, one click stops sharing."""

import subprocess

import pytest

from agent import i18n
from agent.ui.sharing import MARGIN_TOP, SharingIndicator
from sosqueue.palette import MIN_TEXT_CONTRAST, contrast_ratio
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools


@pytest.fixture
def config():
    return module_config(server_url="http://127.0.0.1:9", module_id="m-bar", module_token="t" * 24,
                         accent="#C2185B")


def show(root, config, stops: list) -> SharingIndicator:
    bar = SharingIndicator(root, config, on_stop=lambda: stops.append("stop"))
    pump(root, lambda: bar.window.winfo_viewable(), what="the sharing bar")
    return bar


def test_the_bar_says_the_screen_is_shared_at_the_top_centre_above_everything(tk_root, config):
    """Text and button, no title bar, topmost, horizontally centred at the top, in the brand's accent colour."""
    bar = show(tk_root, config, [])
    assert bar.label.cget("text") == "Your screen is being shared"
    assert bar.stop_button.cget("text") == "Stop sharing"
    assert bar.window.overrideredirect() is True
    assert bar.window.attributes("-topmost") == 1
    assert bar.window.cget("background").upper() == "#C2185B"
    width, screen = bar.window.winfo_width(), tk_root.winfo_screenwidth()
    assert bar.window.winfo_rooty() == MARGIN_TOP
    assert abs(bar.window.winfo_rootx() - (screen - width) // 2) <= 1
    assert bar.geometry() == f"{width}x{bar.window.winfo_height()}+{bar.window.winfo_rootx()}+{MARGIN_TOP}"


def test_one_real_click_on_stop_sharing_stops_once_and_the_bar_goes(tk_root, display, config):
    """xdotool clicks the button's centre: on_stop once, the window destroyed."""
    stops: list = []
    bar = show(tk_root, config, stops)
    x, y = bar.stop_button_centre()
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"],
                   env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    pump(tk_root, lambda: stops, what="the stop")
    bar.stop()
    assert stops == ["stop"]
    assert not bar.window.winfo_exists()
    assert bar.geometry() == "" and bar.stop_button_centre() is None


def test_destroy_takes_the_bar_away_without_reporting_a_stop(tk_root, config):
    """The session ended sharing itself: the bar goes, on_stop is not called."""
    stops: list = []
    bar = show(tk_root, config, stops)
    bar.destroy()
    tk_root.update()
    assert stops == []
    assert not bar.window.winfo_exists()


def test_the_bar_speaks_german(tk_root, config, artifacts_dir):
    """With language de: "Ihr Bildschirm wird geteilt — Teilen beenden"."""
    i18n.use_language("de")
    bar = show(tk_root, config, [])
    assert (bar.label.cget("text"), bar.stop_button.cget("text")) == ("Ihr Bildschirm wird geteilt", "Teilen beenden")
    path = artifacts_dir / "agent" / "sharing-bar-de.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", str(bar.window.winfo_id()), str(path)],
                   env={"DISPLAY": tk_root.winfo_screen(), "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    assert path.stat().st_size > 1000


def pointer_away(display: str) -> None:
    """Move the pointer off the bar. Tk (8.6) may crash a later Tk of this process when a widget it last
    saw under the pointer was hidden, which Take back control does with the part it sits on."""
    subprocess.run(["xdotool", "mousemove", "0", "799"], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                   check=True, timeout=30)


def test_the_bar_shows_who_is_in_control_and_one_real_click_takes_it_back(tk_root, display, config):
    """"Alex is in control — Take back control  Ctrl+Alt+Space"; the click reports once, the bar stays."""
    stops: list = []
    bar = show(tk_root, config, stops)
    width = bar.window.winfo_width()
    bar.show_control("Alex", lambda: stops.append("take back"))
    at = pump(tk_root, bar.take_back_centre, what="Take back control on screen")
    assert bar.control_label.cget("text") == "Alex is in control"
    assert (bar.take_back_button.cget("text"), bar.keys_label.cget("text")) == ("Take back control", "Ctrl+Alt+Space")
    assert bar.window.winfo_width() > width and bar.control_shown()
    assert abs(bar.window.winfo_rootx() - (tk_root.winfo_screenwidth() - bar.window.winfo_width()) // 2) <= 1
    subprocess.run(["xdotool", "mousemove", *map(str, at), "click", "1"],
                   env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    pump(tk_root, lambda: stops, what="the take-back")
    pointer_away(display)
    tk_root.update()
    bar.take_back()
    assert stops == ["take back"]
    assert not bar.control_shown() and bar.take_back_centre() is None
    assert bar.window.winfo_exists() and bar.stop_button_centre() is not None


def test_hide_control_takes_the_part_away_without_a_take_back(tk_root, config):
    stops: list = []
    bar = show(tk_root, config, stops)
    bar.show_control("Alex", lambda: stops.append("take back"))
    bar.hide_control()
    tk_root.update()
    assert stops == [] and not bar.control_shown() and bar.window.winfo_exists()


def test_the_control_part_speaks_german(tk_root, config):
    i18n.use_language("de")
    bar = show(tk_root, config, [])
    bar.show_control("Alex", lambda: None)
    assert (bar.control_label.cget("text"), bar.take_back_button.cget("text")) == (
        "Alex hat die Steuerung", "Steuerung zurücknehmen")


def test_on_a_light_accent_the_bar_has_dark_text_and_readable_buttons(tk_root):
    """The bar's text colour is picked by contrast; the buttons' text is the accent darkened until it reads."""
    light = module_config(server_url="http://127.0.0.1:9", module_id="m-bar", module_token="t" * 24, accent="#FFEB3B")
    bar = show(tk_root, light, [])
    assert bar.label.cget("foreground") == "#111111"
    for button in (bar.stop_button, bar.take_back_button):
        assert contrast_ratio(button.cget("foreground"), button.cget("background")) >= MIN_TEXT_CONTRAST
        assert contrast_ratio(button.cget("activeforeground"), button.cget("activebackground")) >= MIN_TEXT_CONTRAST
