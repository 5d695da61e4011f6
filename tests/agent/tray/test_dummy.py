"""The dummy tray: nothing on screen, the same state as any other tray."""

from agent.tray._dummy import DummyTray
from tests.agent.tray import Recorder, make_config, tray_threads


def test_the_dummy_claims_no_menu_notification_or_click():
    """Its flags are all off, so the app knows closing the window must quit."""
    tray = DummyTray(make_config(), Recorder().actions)
    assert (tray.backend_name, tray.HAS_MENU, tray.HAS_NOTIFICATION, tray.HAS_DEFAULT_ACTION) == (
        "dummy", False, False, False)


def test_the_dummy_keeps_the_state_and_starts_no_thread():
    """start, set_state, notify and stop work without a display and leave no thread behind."""
    tray = DummyTray(make_config(product="Acme Help"), Recorder().actions)
    tray.start()
    tray.set_state("waiting", code="s12-345-678")
    tray.notify("Acme Help", "A supporter is with you")
    assert (tray.state, tray.code, tray.tooltip) == ("waiting", "s12-345-678", "Acme Help — waiting for a supporter")
    assert tray_threads() == []
    tray.stop()
    tray.stop()
    assert not tray.running
