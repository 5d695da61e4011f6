"""The agent with its window, as the customer runs it: a real process, a real X display, a real queue.

Each test starts ``python -m agent --module FILE …`` under Xvfb, drives the window with real
key presses (xdotool), reads what the window shows from the agent's state hooks, and checks
the queue through the supporters' API.
"""

import re

import pytest

from tests.agent.ui.support import (  # noqa: F401  (fixtures)
    agent, display, make_module, needs_x_tools, tk_root, tray_host,
)
from tests.support.polling import eventually
from tests.support.queue_api import CODE_PATTERN
from tests.support.servers import QueueServer, sqlite_url

pytestmark = needs_x_tools

WAITING = "Waiting for a supporter…"
CONNECTED = "A supporter is connected."
OFFLINE = "You are offline — your request is saved and will be sent automatically."


def shows_code(state: dict) -> bool:
    return state.get("view") == "request" and re.fullmatch(CODE_PATTERN, state.get("code", "")) is not None


def requests_of(api, tenant) -> list[dict]:
    return api.all_items(tenant.supporter_token)


def the_request(api, tenant, code: str) -> dict:
    response = api.get(code, tenant.supporter_token)
    assert response.status_code == 200, response.text
    return response.json()


def file_by_keyboard(process, description: str = "The printer is on fire") -> dict:
    """Type the problem into the focused description field and press Return; returns the shown code."""
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    process.type(description)
    process.keys("Return")
    return process.wait_for(shows_code, what="the session code on screen")


@pytest.fixture
def sos_module(make_module):
    """A module that asks only for the problem description."""
    return make_module(fields={"name": "hidden", "email": "hidden", "description": "required"})


def test_sos_files_a_request_and_shows_its_code(agent, sos_module, api, tenant, artifacts_dir):
    """--sos: the form, Return, and the queue's code is the one on screen."""
    process = agent(sos_module)
    process.start("--sos")
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    process.screenshot(artifacts_dir / "agent" / "sos-form.png")
    state = file_by_keyboard(process, "Outlook does not start")
    items = requests_of(api, tenant)
    assert [item["code"] for item in items] == [state["code"]]
    assert items[0]["source"] == "sos"
    assert items[0]["description"] == "Outlook does not start"
    assert state["code"] in state["texts"]
    process.wait_for(lambda state: WAITING in state["texts"], what="the waiting status")
    process.screenshot(artifacts_dir / "agent" / "sos-code.png")
    assert [path.name for path in (process.home / "user" / "Desktop").glob("*.desktop")] == ["Acme Help SOS.desktop"]


def test_the_agent_joins_as_customer_so_the_request_turns_pending(agent, sos_module, api, tenant):
    """Once the code is shown the agent has joined its session: the queue says pending."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    request = eventually(lambda: (found := the_request(api, tenant, code))["status"] == "pending" and found,
                         what="the request to turn pending")
    assert request["session"]["customer_joined"] is True


def test_the_status_follows_the_queue_and_a_closed_request_lets_the_next_click_file_anew(agent, sos_module, api,
                                                                                       tenant):
    """Supporter joins: 'A supporter is connected'; supporter closes: closed; the next --sos files a new one."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    eventually(lambda: the_request(api, tenant, code)["status"] == "pending", what="pending")
    assert process.wait_for(lambda state: state["status"] == "pending", what="pending on screen")["tray_state"] == "waiting"
    assert api.action(code, "join", tenant.supporter_token).status_code == 200
    state = process.wait_for(lambda state: CONNECTED in state["texts"] and state["status"] == "in_progress",
                             what="the connected status")
    assert state["tray_state"] == "connected"
    assert api.action(code, "close", tenant.supporter_token).status_code == 200
    state = process.wait_for(lambda state: "Your request is closed." in state["texts"], what="the closed status")
    assert state["tray_state"] == "idle"
    second = process.run("--sos")
    assert second.returncode == 0, second.stderr
    process.wait_for(lambda state: state["view"] == "form", what="a fresh form")
    new_code = file_by_keyboard(process, "Again")["code"]
    assert new_code != code
    assert sorted(item["code"] for item in requests_of(api, tenant)) == sorted([code, new_code])


def test_a_second_sos_shows_the_open_request_and_files_nothing(agent, sos_module, api, tenant, tray_host):
    """With the window hidden in the tray, another SOS click brings it forward with the same code."""
    process = agent(sos_module, tray="")
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    state = process.wait_for(lambda state: state["tray"], what="the tray")
    process.keys("Escape")
    process.wait_for(lambda state: not state["visible"], what="the window to hide in the tray")
    second = process.run("--sos")
    assert second.returncode == 0, second.stderr
    state = process.wait_for(lambda state: state["visible"], what="the window to come forward")
    assert state["code"] == code
    assert [item["code"] for item in requests_of(api, tenant)] == [code]
    assert len(process.processes) == 1 and process.processes[0].poll() is None
    assert process.terminate() == 0  # the tray's thread does not keep the agent alive


def test_cancel_asks_and_closes_the_request(agent, sos_module, api, tenant):
    """Tab to Cancel request, Return, confirm: the queue closes the request and the window says so."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    process.keys("Tab", "Tab", "Tab", "Tab", "Return")  # code field → Copy → note → Add a note → Cancel request
    eventually(lambda: the_request(api, tenant, code)["status"] in ("new", "pending"), what="an open request")
    process.keys("Tab", "Return")  # the question has "Keep waiting" focused; Tab to "Cancel request"
    process.wait_for(lambda state: "Your request is closed." in state["texts"], what="the closed status")
    assert the_request(api, tenant, code)["status"] == "closed"


def test_quitting_leaves_the_session(agent, sos_module, api, tenant):
    """SIGTERM (logout) ends the agent cleanly and the queue no longer counts the customer as joined."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    eventually(lambda: the_request(api, tenant, code)["session"]["customer_joined"], what="the customer to join")
    assert process.terminate() == 0
    request = the_request(api, tenant, code)
    assert request["session"]["customer_joined"] is False
    assert request["status"] == "pending"  # still open for the supporter; it was started once


def test_a_session_code_from_the_supporter_is_joined_instead_of_filing(agent, sos_module, api, tenant):
    """--code joins the supporter's manual request: same code on screen, pending, nothing new filed."""
    manual = api.created(tenant.supporter_token, {"description": "call from Mrs. Smith"})
    process = agent(sos_module)
    process.start("--code", manual["code"].replace("-", " ").upper())
    state = process.wait_for(shows_code, what="the joined code")
    assert state["code"] == manual["code"]
    eventually(lambda: the_request(api, tenant, manual["code"])["status"] == "pending", what="pending")
    assert [item["code"] for item in requests_of(api, tenant)] == [manual["code"]]


def test_typing_the_session_code_in_the_window_joins_it(agent, sos_module, api, tenant):
    """'I have a session code' → type it → Return: the window shows that request."""
    manual = api.created(tenant.supporter_token, {"description": "phone call"})
    process = agent(sos_module)
    process.start()
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    process.keys("Tab", "Tab", "Tab", "Tab", "Return")  # description → consent → What is sent? → Request help → link
    process.wait_for(lambda state: "The session code your supporter gave you" in state["texts"], what="the code field")
    process.type(manual["code"])
    process.keys("Return")
    state = process.wait_for(shows_code, what="the joined code")
    assert state["code"] == manual["code"]
    assert len(requests_of(api, tenant)) == 1


def test_file_immediately_files_without_a_form_and_without_diagnostics(agent, make_module, api, tenant):
    """The module option files at once on opening; the customer never saw diagnostics, so none are sent."""
    process = agent(make_module(file_immediately=True, diagnostics=True))
    process.start()
    state = process.wait_for(shows_code, what="the code")
    request = the_request(api, tenant, state["code"])
    assert request["source"] == "module"
    assert request["diagnostics"] is None


def test_diagnostics_the_customer_saw_are_sent(agent, sos_module, api, tenant):
    """With the consent ticked the request carries the listed details about the computer."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    diagnostics = the_request(api, tenant, code)["diagnostics"]
    assert {"os", "hostname", "agent_version", "locale"} <= set(diagnostics)


def test_a_german_module_speaks_german(agent, make_module, artifacts_dir):
    """language=de: the window's labels are German whatever the OS says."""
    process = agent(make_module(language="de", fields={"name": "optional", "email": "optional",
                                                        "description": "required"}))
    process.start("--sos")
    state = process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    assert {"Ihr Name", "Wobei brauchen Sie Hilfe?", "Hilfe anfordern", "Ich habe einen Sitzungscode"} <= set(
        state["texts"])
    process.screenshot(artifacts_dir / "agent" / "sos-form-de.png")


def test_the_os_locale_picks_german_for_auto(agent, sos_module):
    """language=auto on a German desktop: German labels."""
    process = agent(sos_module, env={"LANG": "de_DE.UTF-8"})
    process.start("--sos")
    state = process.wait_for(lambda state: state["view"] == "form", what="the form")
    assert "Hilfe anfordern" in state["texts"]


def test_tray_mode_starts_hidden_and_sos_opens_the_window(agent, sos_module, api, tenant):
    """--tray (login) shows no window; a later SOS click opens the form of the running agent."""
    process = agent(sos_module)
    process.start("--tray")
    process.wait_for(lambda state: state["state"] == "idle" and not state["visible"], what="the hidden start")
    second = process.run("--sos")
    assert second.returncode == 0, second.stderr
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    assert requests_of(api, tenant) == []


def test_an_open_request_is_shown_again_after_a_restart(agent, sos_module, api, tenant):
    """One click, one request: restarting the agent shows the remembered open request."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    assert process.terminate() == 0
    again = agent(sos_module)
    again.start("--sos")
    state = again.wait_for(shows_code, what="the remembered code")
    assert state["code"] == code
    assert len(requests_of(api, tenant)) == 1


def test_without_a_display_the_agent_says_how_to_ask_from_a_terminal(agent, sos_module, tmp_path):
    """No DISPLAY: exit code 7 and a plain sentence naming --sos --no-gui, never a traceback."""
    process = agent(sos_module, home=tmp_path / "headless")
    process.env.pop("DISPLAY")
    result = process.run("--sos")
    assert result.returncode == 7
    assert "--sos --no-gui" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_broken_display_is_no_display_either(agent, sos_module, tmp_path):
    """DISPLAY names an X server that is not there (Tk raises): the same plain message, exit code 7."""
    process = agent(sos_module, home=tmp_path / "broken", env={"DISPLAY": ":987"})
    result = process.run("--sos")
    assert result.returncode == 7
    assert "--sos --no-gui" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_code_while_another_request_is_open_shows_the_open_one(agent, sos_module, api, tenant):
    """One open request at a time: --code for another request shows the open one and says why."""
    process = agent(sos_module)
    process.start("--sos")
    code = file_by_keyboard(process)["code"]
    other = api.created(tenant.supporter_token, {"description": "another call"})
    assert process.run("--code", other["code"]).returncode == 0
    state = process.wait_for(
        lambda state: "You already have an open request. Cancel it to join another session." in state["texts"],
        what="the note")
    assert state["code"] == code
    assert the_request(api, tenant, other["code"])["status"] == "new"


def test_offline_the_request_waits_and_is_delivered_once_the_queue_is_back(agent, tmp_path_factory, display):
    """Server down: the window says offline and shows no code; server up: the code, and exactly one request."""
    from tests.support.queue_api import QueueApi
    from tests.support.tenants import make_tenant
    from tests.support.modules import write_module_file

    database = sqlite_url(tmp_path_factory.mktemp("offline-db"))
    server = QueueServer(database, log_dir=tmp_path_factory.mktemp("offline-logs")).start()
    try:
        tenant = make_tenant(database)
        module = write_module_file(tmp_path_factory.mktemp("offline") / "module.bin", server_url=server.url,
                                   module_id=tenant.module_id, module_token=tenant.module_token,
                                   fields={"name": "hidden", "email": "hidden", "description": "required"})
        server.stop()
        process = agent(module)
        process.start("--sos")
        process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
        process.type("No network here")
        process.keys("Return")
        state = process.wait_for(lambda state: OFFLINE in state["texts"], what="the offline message")
        assert state["code"] == "— — —"
        server.start()
        state = process.wait_for(shows_code, what="the code after the queue is back", timeout=180)
        api = QueueApi(server.url)
        try:
            assert [item["code"] for item in api.all_items(tenant.supporter_token)] == [state["code"]]
        finally:
            api.close_client()
    finally:
        server.stop()


def test_a_revoked_module_says_so_in_plain_words(agent, sos_module, api, tenant):
    """The module was switched off on the server: the form says to ask IT for a new one."""
    revoked = api.call("POST", f"/api/v1/modules/{tenant.module_id}/revoke", tenant.admin_token)
    assert revoked.status_code == 200, revoked.text
    process = agent(sos_module)
    process.start("--sos")
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    process.type("help")
    process.keys("Return")
    state = process.wait_for(lambda state: state["view"] == "form" and any("switched off" in text for text in state["texts"]),
                             what="the revoked message")
    assert "This support module has been switched off — ask your IT for a new one." in state["texts"]
    assert requests_of(api, tenant) == []


def test_a_request_saved_offline_is_delivered_by_the_next_start_without_a_form(agent, tmp_path_factory):
    """Agent stopped while offline: the next start delivers the saved request and shows its code — one request."""
    from tests.support.modules import write_module_file
    from tests.support.queue_api import QueueApi
    from tests.support.tenants import make_tenant

    database = sqlite_url(tmp_path_factory.mktemp("later-db"))
    server = QueueServer(database, log_dir=tmp_path_factory.mktemp("later-logs"))
    tenant = make_tenant(database)
    module = write_module_file(tmp_path_factory.mktemp("later") / "module.bin", server_url=server.url,
                               module_id=tenant.module_id, module_token=tenant.module_token,
                               fields={"name": "hidden", "email": "hidden", "description": "required"})
    first = agent(module)
    first.start("--sos")
    first.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    first.type("Saved for later")
    first.keys("Return")
    first.wait_for(lambda state: OFFLINE in state["texts"], what="the offline message")
    assert first.terminate() == 0
    server.start()
    try:
        second = agent(module)
        second.start("--sos")
        state = second.wait_for(shows_code, what="the delivered code")
        api = QueueApi(server.url)
        try:
            items = api.all_items(tenant.supporter_token)
        finally:
            api.close_client()
        assert [item["code"] for item in items] == [state["code"]]
        assert items[0]["description"] == "Saved for later"
    finally:
        server.stop()


# -- the app in this process ------------------------------------------------------------------

def test_the_tray_menu_requests_help_cancels_and_quits_cleanly(tk_root, desk_for, queue_server, api, tenant,
                                                                monkeypatch):
    """Tray actions reach the window; Quit leaves the session and ends the main loop with no thread left over."""
    import threading

    from agent.app import HelpApp
    from tests.agent.ui.support import pump
    from tests.support.modules import module_config

    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    config = module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token=tenant.module_token)
    app = HelpApp(tk_root, config, desk_for(tenant, queue_server.url))
    seen: dict = {}

    def script():
        actions = app.tray._actions
        actions.request_help()
        pump(tk_root, lambda: app.window.view == "form" and app.window.is_visible(), what="the form from the tray")
        app.window.fields["description"].widget.insert("1.0", "from the tray")
        app.window.submit_button.invoke()
        pump(tk_root, lambda: app.ticket and app.window.status == "pending", what="the joined request")
        seen["code"] = app.ticket.code
        actions.cancel_request()
        pump(tk_root, lambda: "Do you really want to cancel your request? A supporter will no longer see it."
             in _dialog_texts(tk_root), what="the cancel question")
        seen["open_after_question"] = the_request(api, tenant, seen["code"])["status"]
        actions.quit()

    tk_root.after(500, lambda: pump(tk_root, lambda: app.tray is not None, what="the tray") and script())
    assert app.run("open") == 0
    assert seen["open_after_question"] == "pending"  # the question alone cancels nothing
    request = the_request(api, tenant, seen["code"])
    assert request["status"] == "pending" and request["session"]["customer_joined"] is False
    leftovers = [thread.name for thread in threading.enumerate()
                 if thread is not threading.main_thread() and not thread.daemon]
    assert leftovers == []


def _notes(api, tenant, code: str) -> list[str]:
    return [event["data"]["text"] for event in api.history(code, tenant.supporter_token)
            if event["type"] == "note_added"]


def _run_second_sos(tk_root, app, *, words: str | None) -> dict:
    """Run the app on an SOS; once its request is pending, put ``words`` into the form and hand it two
    more SOS clicks (as a second agent start does); returns the code and the notice shown meanwhile."""
    import time

    from tests.agent.ui.support import pump

    seen: dict = {}

    def script():
        pump(tk_root, lambda: app.ticket and app.window.status == "pending", what="the open request")
        seen["code"] = app.ticket.code
        if words is not None:
            app.window.fields["description"].widget.insert("1.0", words)
        for _ in range(2):
            app.messages.put("sos")
            settle = time.monotonic() + 1.5
            pump(tk_root, lambda: time.monotonic() > settle, what="the second SOS handled")
        seen["notice"] = str(app.window.notice_label.cget("text"))
        app.quit()

    tk_root.after(300, script)
    assert app.run("sos") == 0
    return seen


def test_a_second_sos_adds_the_forms_new_words_to_the_open_request_once(tk_root, desk_for, queue_server, api,
                                                                        tenant, monkeypatch):
    """Filed at once without words; words in the form and SOS again: they reach the request as one note."""
    from agent.app import HelpApp
    from tests.support.modules import module_config

    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    config = module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token=tenant.module_token,
                           file_immediately=True)
    app = HelpApp(tk_root, config, desk_for(tenant, queue_server.url))
    seen = _run_second_sos(tk_root, app, words="The printer smokes now.")
    assert the_request(api, tenant, seen["code"])["description"] == ""
    assert _notes(api, tenant, seen["code"]) == ["The printer smokes now."]
    assert seen["notice"] == "Your words were added to your request."


def test_a_second_sos_sends_the_words_it_was_filed_with_not_again(tk_root, desk_for, queue_server, api, tenant,
                                                                  monkeypatch):
    """Filed from the form: the form still holds those words, and another SOS adds no note of them."""
    from agent.app import HelpApp
    from tests.support.modules import module_config

    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    config = module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token=tenant.module_token)
    app = HelpApp(tk_root, config, desk_for(tenant, queue_server.url))
    tk_root.after(200, lambda: (app.window.fields["description"].widget.insert("1.0", "No sound"),
                                app.window.submit_button.invoke()))
    seen = _run_second_sos(tk_root, app, words=None)
    assert the_request(api, tenant, seen["code"])["description"] == "No sound"
    assert _notes(api, tenant, seen["code"]) == []


def test_a_note_typed_in_the_window_reaches_the_open_request_and_the_field_empties(
        tk_root, desk_for, queue_server, api, tenant, monkeypatch):
    from agent.app import HelpApp
    from tests.agent.ui.support import pump
    from tests.support.modules import module_config

    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    config = module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token=tenant.module_token,
                           file_immediately=True)
    app = HelpApp(tk_root, config, desk_for(tenant, queue_server.url))
    seen: dict = {}

    def script():
        pump(tk_root, lambda: app.ticket and app.window.status == "pending", what="the open request")
        seen["code"] = app.ticket.code
        app.window.note_entry.insert(0, "It is the printer on floor 3")
        app.window.note_button.invoke()
        seen["field"] = app.window.note_entry.get()
        pump(tk_root, lambda: _notes(api, tenant, seen["code"]), what="the note on the request")
        app.quit()

    tk_root.after(300, script)
    assert app.run("sos") == 0
    assert seen["field"] == ""
    assert _notes(api, tenant, seen["code"]) == ["It is the printer on floor 3"]


def _dialog_texts(root) -> list[str]:
    import tkinter as tk
    from tkinter import ttk

    texts = []
    for child in root.winfo_children():
        if isinstance(child, tk.Toplevel):
            stack = [child]
            while stack:
                widget = stack.pop()
                stack += widget.winfo_children()
                if isinstance(widget, ttk.Label):
                    texts.append(str(widget.cget("text")))
    return texts


# -- the waiting room, against the queue stand-in (the endpoint's contract) --------------------

def test_the_waiting_room_changes_live_in_the_window_and_the_tray(agent, tmp_path):
    """With nothing done by the customer: their place in the queue, the expected wait, then the supporter
    who will help, in the window and the tray's tooltip; nothing once the request is over."""
    from agent.client import Ticket
    from agent.state import CurrentRequest
    from sosqueue.module_config import Topic
    from sosqueue.waiting_room import WaitingRoom
    from tests.support.modules import write_module_file
    from tests.support.standin import RequestStandIn

    stand_in = RequestStandIn(room=WaitingRoom("new", position=3).to_json(), topic="Printers")
    try:
        module = write_module_file(tmp_path / "module.bin", server_url=stand_in.url, module_id="m-waiting-room",
                                   module_token="t" * 24, topics=(Topic("Printers"), Topic("Email")))
        process = agent(module)
        CurrentRequest(process.home / "data" / "m-waiting-room" / "current.json").save(
            Ticket(stand_in.CODE, stand_in.TOKEN, "new"))
        process.start("--sos")
        # The tray comes up a moment after the window (TRAY_DELAY_MS): the tooltip may follow the window's text.
        state = process.wait_for(lambda state: "You are number 3 in the queue." in state["texts"]
                                 and state["tray_tooltip"], what="the place in the queue in the window and the tray")
        assert state["code"] == stand_in.CODE and state["topic"] == "Printers"
        assert "You are number 3 in the queue." in state["texts"] and "About: Printers" in state["texts"]
        assert state["tray_tooltip"] == "Acme Help — Waiting for a supporter… You are number 3 in the queue."
        stand_in.set_room(WaitingRoom("new", position=1, expected_wait_seconds=200).to_json())
        state = process.wait_for(
            lambda state: "You are number 1 in the queue.\nExpected wait: about 3 minutes." in state["texts"],
            what="the next place and the expected wait")
        assert state["tray_tooltip"].endswith("You are number 1 in the queue.")
        stand_in.set_room(WaitingRoom("pending", assignee="Sam Supporter").to_json(), status="pending")
        state = process.wait_for(lambda state: "Sam Supporter will help you." in state["texts"], what="the supporter")
        assert not [text for text in state["texts"] if "in the queue" in text]
        stand_in.set_room(WaitingRoom("closed").to_json(), status="closed")
        state = process.wait_for(lambda state: state["status"] == "closed", what="the closed request")
        assert state["waiting_room"] is None and not [text for text in state["texts"] if "will help you" in text]
    finally:
        stand_in.stop()


def test_the_topic_picked_with_the_keyboard_goes_with_the_request_and_shows_on_it(agent, make_module, api, tenant):
    """A module with topics asks first what it is about; the pick reaches the queue and the request page."""
    from sosqueue.module_config import Topic

    module = make_module(fields={"name": "hidden", "email": "hidden", "description": "required"},
                         topics=(Topic("Printers"), Topic("Email")))
    process = agent(module)
    process.start("--sos")
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    assert "What is it about?" in process.state()["texts"]
    process.focus_window()
    process.keys("Down", "Down")  # the topic list has the focus: the first, then the second topic
    process.wait_for(lambda state: "Email" in state["texts"], what="the picked topic")
    process.keys("Tab")
    state = file_by_keyboard(process, "Outlook asks for my password")
    assert state["topic"] == "Email" and "About: Email" in state["texts"]
    assert the_request(api, tenant, state["code"])["topic"] == "Email"
