"""The customer's side of remote control: with a recording injector, where the pointer goes, what is typed and
how control ends; with the real X11 injector, a click and text arriving in a real window."""

import threading

import pytest

from agent.connect import capture
from agent.connect.capture import Capture
from agent.connect.control import QUEUE_LIMIT, Controller, Ending, capture_covers_desktop
from agent.connect.input import InjectionUnavailable, Monitor
from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_MODIFIERS, Message
from tests.agent.connect.input.conftest import LEFT, TOP, Recorder
from tests.agent.connect.recording_injector import ONE_SCREEN, TWO_SCREENS, RecordingInjector
from tests.support.polling import eventually
from tests.support.tools import require_tool
from tests.support.xserver import start_xvfb
from tests.support.xserver import stop as stop_process

MARKER = {"type": Message.INPUT_TEXT, "text": "§"}


class Reports(list):
    """What the controller reported to the experts, and how control ended by itself."""

    def __init__(self):
        super().__init__()
        self.areas: list = []
        self.endings: list = []

    def __call__(self, message: dict) -> bool:
        self.append(message)
        return True


def control(injector: RecordingInjector, reports: Reports, *, covers_desktop: bool = True) -> Controller:
    controller = Controller(open_injector=lambda: injector, report=reports, on_area=reports.areas.append,
                            covers_desktop=covers_desktop, on_end=reports.endings.append)
    controller.start()
    controller.begin()
    return controller


def applied(controller: Controller, injector: RecordingInjector, *messages: dict) -> list[tuple]:
    """Hand ``messages`` over, wait until a marker after them was typed; the calls they made."""
    before = len(injector.calls)
    for message in (*messages, MARKER):
        controller.take(message)
    eventually(lambda: ("type", "§") in injector.calls[before:], timeout=10, what="the input carried out")
    calls = injector.calls[before:]
    return calls[:calls.index(("type", "§"))]


def move(x, y, width=1280, height=800) -> dict:
    return {"type": Message.INPUT_MOVE, "x": x, "y": y, "width": width, "height": height}


def button(down: bool, x=0, y=0, width=1280, height=800, which="left") -> dict:
    return {"type": Message.INPUT_BUTTON, "button": which, "down": down, "x": x, "y": y, "width": width,
            "height": height}


def pick(monitor) -> dict:
    return {"type": Message.INPUT_MONITOR, "monitor": monitor}


@pytest.fixture
def reports():
    return Reports()


@pytest.fixture
def stops():
    """Stops every controller a test started."""
    made: list[Controller] = []
    yield made
    for controller in made:
        controller.stop()


def test_start_learns_the_monitors_and_whether_ctrl_alt_del_can_be_sent(reports):
    injector = RecordingInjector(TWO_SCREENS, secure_attention=True)
    controller = Controller(open_injector=lambda: injector, report=reports)
    controller.start()
    assert controller.monitors == TWO_SCREENS and controller.secure_attention is True
    assert not controller.taking
    controller.stop()
    assert injector.closed


def test_a_computer_that_cannot_be_controlled_fails_start_with_the_reason(reports):
    def unavailable():
        raise InjectionUnavailable("there is no X11 display (DISPLAY is not set)")

    controller = Controller(open_injector=unavailable, report=reports)
    with pytest.raises(InjectionUnavailable, match="no X11 display"):
        controller.start()


def test_a_point_of_the_scaled_picture_lands_on_the_same_spot_of_the_desktop(reports, stops):
    """A 1280×800 picture of a 2560×1600 desktop: every picture pixel is two desktop pixels."""
    injector = RecordingInjector(ONE_SCREEN)
    stops.append(controller := control(injector, reports))
    assert applied(controller, injector, move(640, 400)) == [("move", 1280, 800)]
    assert applied(controller, injector, move(0, 0)) == [("move", 0, 0)]
    assert applied(controller, injector, move(1279, 799)) == [("move", 2558, 1598)]


def test_on_two_monitors_a_point_goes_to_the_monitor_that_holds_it(reports, stops):
    """The picture is the bounding box (3200×1224); each point is moved on its own monitor."""
    injector = RecordingInjector(TWO_SCREENS)
    stops.append(controller := control(injector, reports))
    assert applied(controller, injector, move(100, 100, 3200, 1224)) == [("move", 100, 100)]
    assert applied(controller, injector, move(2000, 300, 3200, 1224)) == [("move", 2000, 300)]


def test_a_point_in_the_gap_between_monitors_goes_to_the_nearest_edge(reports, stops):
    """Below the first monitor (x 100, y 1150) nothing is shown: the pointer stops at its bottom edge."""
    injector = RecordingInjector(TWO_SCREENS)
    stops.append(controller := control(injector, reports))
    assert applied(controller, injector, move(100, 1150, 3200, 1224)) == [("move", 100, 1079)]


def test_picking_a_monitor_maps_the_picture_onto_it_and_crops_the_capture(reports, stops):
    """input.monitor 1: the picture is that monitor (its box relative to the desktop); null: the whole desktop."""
    injector = RecordingInjector(TWO_SCREENS)
    stops.append(controller := control(injector, reports))
    assert applied(controller, injector, pick(1), move(640, 512, 1280, 1024)) == [("move", 1920 + 640, 200 + 512)]
    assert applied(controller, injector, move(0, 0, 640, 512)) == [("move", 1920, 200)]
    assert reports.areas == [(1920, 200, 3200, 1224)]
    assert applied(controller, injector, pick(None), move(0, 0, 3200, 1224)) == [("move", 0, 0)]
    assert reports.areas[-1] is None


def test_a_monitor_that_is_not_there_is_an_input_error(reports, stops):
    injector = RecordingInjector(TWO_SCREENS)
    stops.append(controller := control(injector, reports))
    applied(controller, injector, pick(2), pick("1"))
    assert [report["type"] for report in reports] == [Message.INPUT_ERROR] * 2
    assert reports[0]["detail"] == "there is no monitor 2 (there are 2)"
    assert reports.areas == []


def test_where_the_capture_shows_the_first_monitor_only_the_picture_is_that_monitor(reports, stops):
    """macOS shares the main display only: the picture maps onto it, and only it is offered to pick."""
    injector = RecordingInjector(TWO_SCREENS)
    stops.append(controller := control(injector, reports, covers_desktop=False))
    assert controller.monitors == TWO_SCREENS[:1]
    assert applied(controller, injector, move(1279, 799)) == [("move", 1918, 1078)]
    applied(controller, injector, pick(1))
    assert reports == [{"type": Message.INPUT_ERROR, "detail": "there is no monitor 1 (there are 1)"}]


def test_the_capture_backend_tells_whether_pictures_show_the_whole_desktop(monkeypatch):
    monkeypatch.setenv("SOSQUEUE_CAPTURE", "linux")
    assert capture_covers_desktop() is True  # X11's root window spans every monitor

    class MainDisplayOnly(Capture):
        COVERS_DESKTOP = False

    monkeypatch.setattr(capture, "backend", lambda: MainDisplayOnly)
    assert capture_covers_desktop() is False


def test_a_button_moves_there_first_then_presses_and_releases(reports, stops):
    injector = RecordingInjector(ONE_SCREEN)
    stops.append(controller := control(injector, reports))
    calls = applied(controller, injector, button(True, 10, 20), button(False, 30, 40, which="left"),
                    button(True, 5, 5, which="right"), button(False, 5, 5, which="right"))
    assert calls == [("move", 20, 40), ("press", "left"), ("move", 60, 80), ("release", "left"),
                     ("move", 10, 10), ("press", "right"), ("move", 10, 10), ("release", "right")]


def test_wheel_text_keys_and_ctrl_alt_del_reach_the_injector(reports, stops):
    injector = RecordingInjector(ONE_SCREEN, secure_attention=True)
    stops.append(controller := control(injector, reports))
    calls = applied(controller, injector,
                    {"type": Message.INPUT_WHEEL, "dx": 0, "dy": -3},
                    {"type": Message.INPUT_TEXT, "text": "Grüße\nx"},
                    {"type": Message.INPUT_KEY, "key": "c", "modifiers": ["Control"]},
                    {"type": Message.INPUT_KEY, "key": "Enter", "modifiers": []},
                    {"type": Message.INPUT_SECURE_ATTENTION})
    assert calls == [("scroll", 0, -3), ("type", "Grüße"), ("key", "Enter", ()), ("type", "x"),
                     ("key", "c", ("Control",)), ("key", "Enter", ()), ("secure_attention",)]
    assert reports == []


def test_what_cannot_be_typed_is_reported_and_nothing_is_guessed(reports, stops):
    """A character the layout lacks, the take-back key, a bad button: one input_error each, nothing carried out."""
    injector = RecordingInjector(ONE_SCREEN, untypable="ħ")
    stops.append(controller := control(injector, reports))
    calls = applied(controller, injector,
                    {"type": Message.INPUT_TEXT, "text": "aħ"},
                    {"type": Message.INPUT_KEY, "key": str(TAKE_BACK_KEY), "modifiers": sorted(TAKE_BACK_MODIFIERS)},
                    {"type": Message.INPUT_KEY, "key": "NoSuchKey", "modifiers": []},
                    {"type": Message.INPUT_WHEEL, "dx": "1", "dy": 0})
    assert calls == []
    assert [report["type"] for report in reports] == [Message.INPUT_ERROR] * 4
    assert reports[0]["detail"] == "'ħ' (U+0127) cannot be typed on this computer"
    assert all("\n" not in report["detail"] for report in reports)


def test_ctrl_alt_del_where_it_cannot_be_sent_is_an_input_error(reports, stops):
    injector = RecordingInjector(ONE_SCREEN, secure_attention=False)
    stops.append(controller := control(injector, reports))
    assert applied(controller, injector, {"type": Message.INPUT_SECURE_ATTENTION}) == []
    assert reports == [{"type": Message.INPUT_ERROR, "detail": "Ctrl+Alt+Del cannot be sent to this computer"}]


def test_a_flood_is_bounded_and_reported_once(reports, stops):
    """While one input is being carried out, the queue takes QUEUE_LIMIT more; the rest is dropped, one error."""
    injector = RecordingInjector(ONE_SCREEN)
    stops.append(controller := control(injector, reports))
    injector.proceed.clear()
    controller.take({"type": Message.INPUT_WHEEL, "dx": 0, "dy": 1})
    eventually(injector.entered.is_set, timeout=10, what="the first input under way")
    for _ in range(QUEUE_LIMIT + 50):
        controller.take({"type": Message.INPUT_WHEEL, "dx": 0, "dy": 2})
    assert reports == [{"type": Message.INPUT_ERROR, "detail": reports[0]["detail"]}]
    injector.proceed.set()
    eventually(lambda: len(injector.of_kind("scroll")) > QUEUE_LIMIT, timeout=10, what="the queue carried out")
    applied(controller, injector)
    assert injector.of_kind("scroll") == [("scroll", 0, 1)] + [("scroll", 0, 2)] * QUEUE_LIMIT
    assert len(reports) == 1


def test_a_move_waiting_in_the_queue_gives_way_to_the_next(reports, stops):
    injector = RecordingInjector(ONE_SCREEN)
    stops.append(controller := control(injector, reports))
    injector.proceed.clear()
    controller.take({"type": Message.INPUT_WHEEL, "dx": 0, "dy": 1})
    eventually(injector.entered.is_set, timeout=10, what="the first input under way")
    for x in range(200):
        controller.take(move(x, 0))
    injector.proceed.set()
    assert applied(controller, injector) == [("scroll", 0, 1), ("move", 398, 0)]
    assert reports == []


def test_after_stop_returns_nothing_more_is_carried_out_and_held_buttons_are_let_go(reports):
    """stop() while an input is under way: it waits for that one, drops the rest, releases the button."""
    injector = RecordingInjector(ONE_SCREEN)
    controller = control(injector, reports)
    applied(controller, injector, button(True, 1, 1))
    injector.proceed.clear()
    injector.entered.clear()
    controller.take(move(5, 5))
    eventually(injector.entered.is_set, timeout=10, what="the move under way")
    for x in range(10):
        controller.take({"type": Message.INPUT_TEXT, "text": f"late {x}"})
    stopping = threading.Thread(target=controller.stop)
    stopping.start()
    eventually(lambda: not controller.taking, timeout=10, what="the stop under way")
    injector.proceed.set()
    stopping.join()
    assert injector.calls[-3:] == [("move", 10, 10), ("release", "left"), ("close",)]
    assert injector.of_kind("type") == [("type", "§")]
    controller.take(move(7, 7))
    assert injector.calls[-1] == ("close",) and not controller.taking
    assert reports.endings == []


def test_the_take_back_key_stops_input_at_once_and_says_so(reports):
    """The injector's listener calls back: input stops in that very thread, then on_end(TAKEN_BACK)."""
    injector = RecordingInjector(ONE_SCREEN)
    controller = control(injector, reports)
    assert controller.take_back_key_works
    applied(controller, injector, button(True, 1, 1))
    injector.press_take_back()
    assert reports.endings == [Ending.TAKEN_BACK] and not controller.taking
    before = len(injector.calls)
    controller.take(move(9, 9))
    controller.stop()
    assert ("move", 18, 18) not in injector.calls[before:]
    assert injector.of_kind("release") == [("release", "left")] and injector.closed


def test_without_a_take_back_listener_control_still_works(reports, stops):
    injector = RecordingInjector(ONE_SCREEN, listens=False)
    stops.append(controller := control(injector, reports))
    assert controller.take_back_key_works is False
    assert applied(controller, injector, move(1, 1)) == [("move", 2, 2)]


def test_a_display_gone_mid_way_ends_control_as_unavailable(reports):
    injector = RecordingInjector(ONE_SCREEN)
    controller = control(injector, reports)
    injector.unavailable = "the X display went away"
    controller.take(move(1, 1))
    eventually(lambda: reports.endings, timeout=10, what="control to end")
    assert reports == [{"type": Message.CONTROL_UNAVAILABLE, "detail": "the X display went away"}]
    assert reports.endings == [Ending.UNAVAILABLE]
    eventually(lambda: injector.closed, timeout=10, what="the injector closed")
    assert not controller.taking


def test_monitors_beyond_the_protocols_limit_are_left_out(reports):
    injector = RecordingInjector([Monitor(index * 100, 0, 100, 100) for index in range(20)])
    controller = Controller(open_injector=lambda: injector, report=reports)
    controller.start()
    assert len(controller.monitors) == 16
    controller.stop()


def test_an_unexpected_failure_ends_control_rather_than_failing_on_and_on(reports):
    injector = RecordingInjector(ONE_SCREEN)
    controller = control(injector, reports)

    def lost(dx, dy):
        raise ConnectionResetError("the display connection was lost")

    injector._scroll = lost
    controller.take({"type": Message.INPUT_WHEEL, "dx": 0, "dy": 1})
    eventually(lambda: reports.endings, timeout=10, what="control to end")
    assert reports == [{"type": Message.CONTROL_UNAVAILABLE,
                        "detail": "the input failed on this computer (ConnectionResetError)"}]
    assert reports.endings == [Ending.UNAVAILABLE]



def test_an_input_the_backend_does_not_implement_is_an_input_error_and_control_goes_on(reports, stops):
    injector = RecordingInjector(ONE_SCREEN)
    stops.append(controller := control(injector, reports))

    def missing(dx, dy):
        raise NotImplementedError("RecordingInjector is an input backend without _scroll")

    injector._scroll = missing
    assert applied(controller, injector, {"type": Message.INPUT_WHEEL, "dx": 0, "dy": 1}, move(1, 1)) == [
        ("move", 2, 2)]
    assert reports == [{"type": Message.INPUT_ERROR, "detail": "input.wheel cannot be carried out on this computer"}]

# -- on a real X display --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def control_screen():
    """An X server (Xvfb, 1280×800) of these tests' own, for the pointer and keyboard they drive.

    It lives as long as the test process: Tk keeps its display connections open after a window
    is destroyed, and ends the process when such a server goes away.
    """
    require_tool("Xvfb", "xvfb")
    require_tool("xdpyinfo", "x11-utils")
    process, name = start_xvfb()
    yield name
    stop_process(process)


@pytest.fixture
def pad(control_screen):
    """A window at (LEFT, TOP) of that screen that records the pointer's and the keyboard's events."""
    window = Recorder(control_screen)
    yield window
    window.destroy()


def test_the_experts_click_and_text_arrive_in_a_real_window(control_screen, pad, reports):
    """The real X11 injector under a Controller: a point of a half-size picture clicks the pad where the
    expert saw it, and "Grüße" arrives in the Entry."""
    from agent.connect.input._linux import Injector as X11Injector

    controller = Controller(open_injector=lambda: X11Injector(control_screen, restore_after=2.0), report=reports,
                            covers_desktop=True)
    controller.start()
    try:
        assert controller.monitors == [Monitor(0, 0, 1280, 800)]
        controller.begin()
        x, y = (LEFT + 120) // 2, (TOP + 80) // 2  # the pad's (120, 80) in a 640×400 picture
        for down in (True, False):
            controller.take(button(down, x, y, 640, 400))
        pad.settle(lambda: pad.of_kind("release"), "the click")
        assert pad.of_kind("press", "release") == [("press", 1, 120, 80), ("release", 1, 120, 80)]
        pad.focus_entry()
        controller.take({"type": Message.INPUT_TEXT, "text": "Grüße"})
        pad.settle(lambda: pad.entry.get() == "Grüße", "Grüße in the Entry")
    finally:
        controller.stop()
    assert reports == []

