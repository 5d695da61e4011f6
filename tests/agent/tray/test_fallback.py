"""The fallback SOS button: a real Tk window on Xvfb, driven with xdotool."""

import threading
import time

import pytest

from agent.tray._fallback import FallbackTray
from tests.agent.tray import (AMBER, GREEN, PATIENCE, PRIMARY, SCREEN, Recorder, count_colour,  # noqa: F401
                              desktop, eventually, make_config, shared_desktop, tk_root, trays)

CODE = "s12-345-678"


@pytest.fixture
def button(tk_root, trays):
    """A started SOS button and the recorder of its actions."""
    recorder = Recorder()
    tray = FallbackTray(make_config(), recorder.actions, tk_root=tk_root)
    trays.append(tray)
    tray.start()
    eventually(lambda: tray.window.winfo_viewable(), root=tk_root, what="the SOS button on screen")
    return tray, recorder


def centre(tray):
    window = tray.window
    return window.winfo_rootx() + window.winfo_width() // 2, window.winfo_rooty() + window.winfo_height() // 2


def open_menu(desktop, tk_root, tray):
    desktop.click(*centre(tray), button=3)
    eventually(lambda: tray.menu.winfo_ismapped(), root=tk_root, what="the menu")
    menu = tray.menu
    return [(menu.entrycget(i, "label"), menu.entrycget(i, "state") != "disabled")  # "active" is under the pointer
            for i in range(menu.index("end") + 1) if menu.type(i) == "command"]


def click_menu_item(desktop, tk_root, tray, label):
    open_menu(desktop, tk_root, tray)
    menu = tray.menu
    index = next(i for i in range(menu.index("end") + 1) if menu.type(i) == "command"
                 and menu.entrycget(i, "label") == label)
    top = menu.yposition(index)
    bottom = menu.yposition(index + 1) if index < menu.index("end") else menu.winfo_height()
    desktop.click(menu.winfo_rootx() + 30, menu.winfo_rooty() + (top + bottom) // 2)
    eventually(lambda: not menu.winfo_ismapped(), root=tk_root, what="the menu to close")


def run_tk_until(root, condition, what):
    """Runs Tk's real mainloop (other threads can only reach Tk through it) until ``condition()``."""
    deadline = time.monotonic() + PATIENCE

    def check():
        if condition() or time.monotonic() > deadline:
            root.quit()
        else:
            root.after(20, check)

    root.after(20, check)
    root.mainloop()
    assert condition(), f"{what} did not come true within {PATIENCE} s"


def test_the_button_sits_bottom_right_on_top_and_without_a_frame(desktop, tk_root, button):
    """The button is near the bottom-right corner, always on top, undecorated and in brand colour."""
    tray, _ = button
    window = tray.window
    right, bottom = window.winfo_rootx() + window.winfo_width(), window.winfo_rooty() + window.winfo_height()
    assert (SCREEN[0] - right, SCREEN[1] - bottom) == FallbackTray.MARGIN
    assert window.overrideredirect() and window.attributes("-topmost")
    box = (window.winfo_rootx(), window.winfo_rooty(), right, bottom)
    assert count_colour(desktop.screenshot(), box, PRIMARY) > window.winfo_width() * window.winfo_height() // 3


def test_a_left_click_requests_help_on_tks_thread(desktop, tk_root, button):
    """Clicking the button runs request_help, on Tk's main thread."""
    tray, recorder = button
    desktop.click(*centre(tray))
    eventually(lambda: recorder.calls == ["request_help"], root=tk_root, what="request_help")
    assert recorder.threads == [threading.main_thread().name]


def test_a_right_click_opens_the_menu_without_a_request(desktop, tk_root, button):
    """No request: Request help, a disabled Cancel my request, About and Quit."""
    tray, _ = button
    assert open_menu(desktop, tk_root, tray) == [("Request help", True), ("Cancel my request", False),
                                                  ("About", True), ("Quit", True)]


def test_the_menu_shows_the_request_and_enables_cancel(desktop, tk_root, button, artifacts_dir):
    """With a request the menu shows its code and status and Cancel my request is enabled; screenshot kept."""
    tray, _ = button
    tray.set_state("waiting", code=CODE)
    assert open_menu(desktop, tk_root, tray) == [
        ("Request help", True), (f"My request {CODE} — waiting for a supporter", True),
        ("Cancel my request", True), ("About", True), ("Quit", True)]
    (artifacts_dir / "agent").mkdir(exist_ok=True)
    desktop.screenshot().save(artifacts_dir / "agent" / "tray-fallback-menu.png")


@pytest.mark.parametrize(("label", "action"), [
    ("Request help", "request_help"), (f"My request {CODE} — waiting for a supporter", "show_request"),
    ("Cancel my request", "cancel_request"), ("About", "about"), ("Quit", "quit")])
def test_clicking_a_menu_item_calls_its_action(desktop, tk_root, button, label, action):
    """Each item clicked with the mouse runs its action, and only that one."""
    tray, recorder = button
    tray.set_state("waiting", code=CODE)
    click_menu_item(desktop, tk_root, tray, label)
    eventually(lambda: recorder.calls == [action], root=tk_root, what=action)


def test_a_disabled_cancel_does_nothing(desktop, tk_root, button):
    """Without a request, clicking Cancel my request runs no action."""
    tray, recorder = button
    click_menu_item(desktop, tk_root, tray, "Cancel my request")
    desktop.click(*centre(tray))  # a later click shows that the first one was handled and ran nothing
    eventually(lambda: recorder.calls, root=tk_root, what="the click after")
    assert recorder.calls == ["request_help"]


def test_dragging_moves_the_button_without_requesting_help(desktop, tk_root, button):
    """Press, move 200 px left and 100 px up, release: the button moved and no help was requested."""
    tray, recorder = button
    x, y = centre(tray)
    start = (tray.window.winfo_rootx(), tray.window.winfo_rooty())
    desktop.run("xdotool", "mousemove", str(x), str(y), "mousedown", "1", "mousemove", str(x - 100), str(y - 50),
                "mousemove", str(x - 200), str(y - 100), "mouseup", "1")
    eventually(lambda: (tray.window.winfo_rootx(), tray.window.winfo_rooty()) == (start[0] - 200, start[1] - 100),
               root=tk_root, what="the button to follow the pointer")
    desktop.click(*centre(tray), button=3)  # handled after the release: the release is behind us
    eventually(lambda: tray.menu.winfo_ismapped(), root=tk_root, what="the menu")
    assert recorder.calls == []


def test_set_state_changes_the_picture_and_the_tooltip(desktop, tk_root, button):
    """The dot turns from grey to amber and the title (the tooltip's text) names the status."""
    tray, _ = button
    window = tray.window
    box = (window.winfo_rootx(), window.winfo_rooty(), window.winfo_rootx() + window.winfo_width(),
           window.winfo_rooty() + window.winfo_height())
    assert count_colour(desktop.screenshot(), box, AMBER) == 0
    tray.set_state("waiting", code=CODE, status_text="in the queue")
    eventually(lambda: count_colour(desktop.screenshot(), box, AMBER) >= 20, root=tk_root, what="the amber dot")
    assert window.title() == tray.tooltip == f"{tray._config.brand.product} — in the queue"


def test_the_tooltip_shows_when_the_pointer_rests_on_the_button(desktop, tk_root, button):
    """Hovering shows a small window with product and status."""
    tray, _ = button
    tray.set_state("connected", code=CODE)
    desktop.run("xdotool", "mousemove", *map(str, centre(tray)))
    tip = eventually(lambda: tray._tip, root=tk_root, what="the tooltip")
    assert tip.winfo_children()[0].cget("text") == f"{tray._config.brand.product} — supporter connected"
    desktop.run("xdotool", "mousemove", "10", "400")
    eventually(lambda: tray._tip is None, root=tk_root, what="the tooltip to go")


def test_set_state_from_another_thread_goes_through_tk(desktop, tk_root, button):
    """A status from a worker thread reaches the button once Tk's loop runs: the dot turns green."""
    tray, _ = button
    worker = threading.Thread(target=tray.set_state, args=("connected",), kwargs={"code": CODE})
    tk_root.after(0, worker.start)
    run_tk_until(tk_root, lambda: not worker.is_alive() and tray.window.title().endswith("supporter connected"),
                 "the new title")
    window = tray.window
    box = (window.winfo_rootx(), window.winfo_rooty(), window.winfo_rootx() + window.winfo_width(),
           window.winfo_rooty() + window.winfo_height())
    eventually(lambda: count_colour(desktop.screenshot(), box, GREEN) >= 20, root=tk_root, what="the green dot")


def test_stop_removes_the_button_and_a_second_stop_does_nothing(desktop, tk_root, button):
    """stop() destroys the window; stopping again and a late set_state change nothing."""
    tray, _ = button
    window = tray.window
    tray.stop()
    tk_root.update()
    assert not window.winfo_exists()
    tray.stop()
    tray.set_state("connected", code=CODE)
    assert tray.window is None


def test_a_brand_colour_tk_cannot_read_still_gives_a_button(desktop, tk_root, trays):
    """primary="blurple": the button is drawn in the default blue instead of failing to start."""
    tray = FallbackTray(make_config(primary="blurple"), Recorder().actions, tk_root=tk_root)
    trays.append(tray)
    tray.start()
    window = eventually(lambda: tray.window.winfo_viewable() and tray.window, root=tk_root, what="the button")
    assert window.cget("background").lower() == "#0b5fff"


def test_the_button_has_menu_and_default_action_but_no_notifications(tk_root):
    """Its flags say what it can do: a menu and a click action, no notifications."""
    tray = FallbackTray(make_config(), Recorder().actions, tk_root=tk_root)
    assert (tray.HAS_MENU, tray.HAS_DEFAULT_ACTION, tray.HAS_NOTIFICATION) == (True, True, False)


def test_without_a_tk_root_the_button_is_an_import_error():
    """The button is made with Tk: without a root it cannot be made, and says how to fix that."""
    with pytest.raises(ImportError, match="pass tk_root"):
        FallbackTray(make_config(), Recorder().actions)


def test_the_button_says_help_under_its_picture_in_the_brand_colours(desktop, tk_root, button, artifacts_dir):
    """The word "Help" sits under the picture, on the brand's primary colour in its on-primary colour."""
    tray, _ = button
    caption, picture = tray.caption, tray._button
    assert caption.cget("text") == "Help" and caption.winfo_viewable()
    assert caption.winfo_rooty() >= picture.winfo_rooty() + picture.winfo_height()
    assert (caption.cget("background").lower(), caption.cget("foreground").lower()) == ("#0b5fff", "#ffffff")
    (artifacts_dir / "agent").mkdir(exist_ok=True)
    desktop.screenshot().crop((tray.window.winfo_rootx() - 10, tray.window.winfo_rooty() - 10, SCREEN[0],
                               SCREEN[1])).save(artifacts_dir / "agent" / "tray-fallback-button.png")


def test_the_label_is_in_the_customers_language(desktop, tk_root, trays):
    """With the agent's German catalogue the button says "Hilfe"."""
    from agent.i18n import translation
    tray = FallbackTray(make_config(), Recorder().actions, tk_root=tk_root, translate=translation("de").gettext)
    trays.append(tray)
    tray.start()
    eventually(lambda: tray.window.winfo_viewable(), root=tk_root, what="the SOS button")
    assert tray.caption.cget("text") == "Hilfe"


def test_a_click_on_the_label_requests_help(desktop, tk_root, button):
    """The label is part of the button: clicking it runs request_help."""
    tray, recorder = button
    caption = tray.caption
    desktop.click(caption.winfo_rootx() + caption.winfo_width() // 2, caption.winfo_rooty() + caption.winfo_height() // 2)
    eventually(lambda: recorder.calls == ["request_help"], root=tk_root, what="request_help")
