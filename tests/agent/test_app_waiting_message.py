"""The agent's window shows the supporters' waiting message: a real agent process, a real X display, a real queue."""

from tests.agent.test_app import shows_code
from tests.agent.test_client_waiting_message import set_message
from tests.agent.ui.support import (  # noqa: F401  (fixtures)
    agent, display, make_module, needs_x_tools, tk_root, tray_host,
)

pytestmark = needs_x_tools

FIRST = "All lines are busy.\nWe call you back within the hour."
SECOND = "<b>Good news:</b> you are next."


def test_the_window_shows_the_message_and_the_next_one_after_an_event(agent, make_module, api, tenant, queue_server,
                                                                     artifacts_dir):
    """Joined by code, the window shows the message the request was filed with; a supporter changes it and
    assigns the request (an event): the window shows the new words as typed, markup and all."""
    manual = api.created(tenant.supporter_token, {"description": "call from Mrs. Smith", "waiting_message": FIRST})
    process = agent(make_module(fields={"name": "hidden", "email": "hidden", "description": "required"}))
    process.start("--code", manual["code"])
    process.wait_for(shows_code, what="the joined code")
    process.wait_for(lambda state: FIRST in state["texts"], what="the waiting message")
    process.screenshot(artifacts_dir / "agent" / "waiting-message.png")
    set_message(queue_server, manual["code"], SECOND)
    assert api.assign(manual["code"], tenant.supporter_token, "me").status_code == 200
    state = process.wait_for(lambda state: SECOND in state["texts"], what="the changed message")
    assert FIRST not in state["texts"]
