"""The app and updates: restart only when idle, the customer told once, a quick stop, the confirmed start."""

import dataclasses
import threading
import time

import pytest

from agent.update import Outcome, Result, Swap
from sosqueue.updates import Offer
from tests.agent.ui.support import agent, display, make_module, needs_x_tools, pump, tk_root  # noqa: F401
from tests.support.modules import module_config
from tests.support.polling import eventually

pytestmark = needs_x_tools

OFFER = Offer("linux", "9.9.9", "a" * 64, 10)
ANNOUNCEMENT = "A newer version of this support module (9.9.9) is available. Your IT department installs it."


class FakeUpdater:
    """What the app asks of an updater, answering a fixed result and recording restarts."""

    def __init__(self, result: Result):
        self.result = result
        self.restarts: list[tuple[Swap, Offer]] = []
        self.announced: set[str] = set()

    def check(self, *, retry_failed=False) -> Result:
        return self.result

    def should_announce(self, offer: Offer) -> bool:
        new = offer.version not in self.announced
        self.announced.add(offer.version)
        return new

    def restart(self, installed: Swap, offer: Offer) -> bool:
        self.restarts.append((installed, offer))
        return True


class RecordingTray:
    backend_name = "recording"

    def __init__(self):
        self.notes: list[tuple[str, str]] = []

    def notify(self, title: str, message: str) -> None:
        self.notes.append((title, message))

    def set_state(self, *args, **kwargs) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def make_app(tk_root, desk_for, queue_server, tenant, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")

    def make(**changes):
        from agent.app import HelpApp

        config = module_config(server_url=queue_server.url, module_id=tenant.module_id,
                               module_token=tenant.module_token)
        return HelpApp(tk_root, dataclasses.replace(config, **changes), desk_for(tenant, queue_server.url))

    return make


def installed_update(tmp_path) -> FakeUpdater:
    swap = Swap(tmp_path / "Acme Help", tmp_path / "Acme Help.previous")
    return FakeUpdater(Result(Outcome.UPDATED, "updated", OFFER, swap))


def test_an_installed_update_waits_for_the_open_request_then_restarts(make_app, tk_root, tmp_path):
    app = make_app()
    updater = installed_update(tmp_path)
    seen = {}

    def script():
        app.window.fields["description"].widget.insert("1.0", "help")
        app.window.submit_button.invoke()
        pump(tk_root, lambda: app.ticket and app.window.status == "pending", what="the open request")
        app.window.hide()
        app._check_for_update(updater)
        started = time.monotonic()
        pump(tk_root, lambda: time.monotonic() - started > 1.5, what="a while")
        seen["during_request"] = app.after_quit
        app.request.cancel()

    tk_root.after(300, lambda: pump(tk_root, lambda: app.request.state == "idle", what="the form") and script())
    assert app.run("open") == 0
    assert seen["during_request"] is None
    app.after_quit()
    assert updater.restarts == [(updater.result.swap, OFFER)]


def test_an_update_is_not_restarted_into_while_the_window_is_in_use(make_app, tk_root, tmp_path):
    app = make_app()
    updater = installed_update(tmp_path)

    def script():
        app._check_for_update(updater)
        started = time.monotonic()
        pump(tk_root, lambda: time.monotonic() - started > 1, what="a while")
        assert app.after_quit is None  # the form is on screen
        app.window.hide()

    tk_root.after(300, lambda: pump(tk_root, lambda: app.window.is_visible(), what="the form") and script())
    assert app.run("open") == 0
    assert app.after_quit is not None


def test_the_customer_is_told_of_its_update_once_in_the_tray_and_the_about_box(make_app, tk_root):
    app = make_app()
    updater = FakeUpdater(Result(Outcome.AVAILABLE, "available", OFFER))
    tray = RecordingTray()

    def script():
        app.tray = tray
        app._check_for_update(updater)
        app._check_for_update(updater)
        pump(tk_root, lambda: app.update_notice, what="the notice")
        started = time.monotonic()
        pump(tk_root, lambda: time.monotonic() - started > 0.3, what="a while")
        app.quit()

    tk_root.after(300, script)
    app.run("tray")
    assert tray.notes == [("Acme Help", ANNOUNCEMENT)]
    assert app.update_notice == ANNOUNCEMENT


def test_quitting_stops_the_update_thread_promptly(make_app, tk_root):
    app = make_app(update_key="A" * 43 + "=")
    tk_root.after(300, app.quit)
    app.run("tray")
    assert app._updates is not None
    app._updates.join(2)
    assert not any(thread.name == "sosqueue-updates" for thread in threading.enumerate())


def test_a_module_without_an_update_key_starts_no_update_thread(make_app, tk_root):
    app = make_app()
    tk_root.after(300, app.quit)
    app.run("tray")
    assert app._updates is None


def test_a_restarted_agent_confirms_once_it_runs_as_the_agent(agent, make_module, tmp_path):
    process = agent(make_module())
    confirm = tmp_path / "update-started"
    process.start("--tray", "--confirm-start", str(confirm))
    eventually(confirm.exists, what="the confirmation")
    process.wait_for(lambda state: state.get("tray") is not None, what="the running agent")
    assert process.run("--tray").returncode == 0  # it holds the instance: a second start hands over
    assert len(process.processes) == 1 and process.processes[0].poll() is None
    assert process.terminate() == 0


def test_an_update_message_from_a_later_start_checks_at_once(make_app, tk_root):
    app = make_app()
    woken = threading.Event()

    class Checks:
        def wake(self):
            woken.set()

        def stop(self):
            pass

    def script():
        app._updates = Checks()
        app.messages.put("update")
        pump(tk_root, woken.is_set, what="the check to be woken")
        app.quit()

    tk_root.after(300, script)
    app.run("tray")
    assert woken.is_set()
