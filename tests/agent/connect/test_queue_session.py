"""The session channel against the real queue server: the open socket is the customer's presence."""

import itertools
import queue

import pytest

from agent.client import QueueClient
from agent.connect.channel import SessionChannel, session_url
from tests.agent.connect.support import VanishingProxy
from tests.support.modules import module_config
from tests.support.polling import eventually


class States:
    def __init__(self):
        self.seen: queue.SimpleQueue = queue.SimpleQueue()
        self.states: list[tuple[str, str]] = []
        self.messages: list[dict] = []

    def on_state(self, state: str, reason: str) -> None:
        self.seen.put((state, reason))

    def until(self, state: str, times: int = 1) -> list[tuple[str, str]]:
        """Every state reported until ``state`` was reported ``times`` times."""
        def reached():
            while not self.seen.empty():
                self.states.append(self.seen.get())
            return [seen for seen, _ in self.states].count(state) >= times

        eventually(reached, what=f"the channel to report {state}")
        return self.states


@pytest.fixture
def filed(queue_server, tenant):
    """A request filed the way the agent files it (module token, its own client)."""
    config = module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token=tenant.module_token)
    return QueueClient(config).create({"description": "Screen sharing, please"},
                                      idempotency_key="k-" + tenant.module_id, source="sos")


def the_request(api, tenant, code: str) -> dict:
    return api.get(code, tenant.supporter_token).json()


def open_channel(queue_server, ticket, states: States) -> SessionChannel:
    channel = SessionChannel(session_url(queue_server.url, ticket.code), ticket.customer_token,
                             on_state=states.on_state, on_message=states.messages.append)
    channel.start()
    return channel


def test_the_open_channel_makes_the_request_pending_and_closing_it_leaves(queue_server, api, tenant, filed):
    """Connected: customer joined, pending. Closed: the history records the customer's join and leave."""
    assert the_request(api, tenant, filed.code)["status"] == "new"
    states = States()
    channel = open_channel(queue_server, filed, states)
    try:
        states.until("connected")
        request = eventually(lambda: (found := the_request(api, tenant, filed.code))["status"] == "pending" and found,
                             what="the request to turn pending")
        assert request["session"]["customer_joined"] is True
        hello = eventually(lambda: next((m for m in states.messages if m["type"] == "hello"), None), what="hello")
        assert hello == {"type": "hello", "role": "customer", "code": filed.code, "experts": []}
    finally:
        channel.close()
    assert states.until("closed")[-1] == ("closed", "")
    history = eventually(lambda: (events := api.history(filed.code, tenant.supporter_token))
                         and any(event["type"] == "left" for event in events) and events, what="the left event")
    presence = [(event["type"], event["data"]) for event in history if event["type"] in ("joined", "left")]
    assert presence == [("joined", {"party": "customer"}), ("left", {"party": "customer"})]
    assert the_request(api, tenant, filed.code)["session"]["customer_joined"] is False


def test_a_closed_request_ends_the_channel_for_good(queue_server, api, tenant, filed):
    """The supporter closes the request: the server closes with 4409 and the agent does not reconnect."""
    states = States()
    channel = open_channel(queue_server, filed, states)
    try:
        states.until("connected")
        assert api.action(filed.code, "close", tenant.supporter_token).status_code == 200
        assert states.until("ended")[-1] == ("ended", "request not open")
    finally:
        channel.close()
    assert [state for state, _ in states.states] == ["connecting", "connected", "ended"]


def test_another_requests_token_is_refused_without_retrying(queue_server, api, tenant, filed):
    """A customer token opens only its own request's session: 4404, ended, nothing joined."""
    other = QueueClient(module_config(server_url=queue_server.url, module_id=tenant.module_id,
                                      module_token=tenant.module_token)).create(
        {"description": "another one"}, idempotency_key="other-" + tenant.module_id, source="sos")
    states = States()
    channel = SessionChannel(session_url(queue_server.url, filed.code), other.customer_token,
                             on_state=states.on_state, on_message=states.messages.append)
    channel.start()
    try:
        assert states.until("ended")[-1] == ("ended", "no such request")
    finally:
        channel.close()
    assert the_request(api, tenant, filed.code)["session"]["customer_joined"] is False


def test_a_reconnect_after_a_drop_the_server_missed_takes_the_place_of_the_stale_socket(queue_server, api, tenant,
                                                                                        filed):
    """The link dies without the server noticing: the agent's next socket, of the same instance, replaces the
    stale one at once (4000 to it) instead of being refused as another agent's; the customer stays joined."""
    states = States()
    with VanishingProxy(queue_server.port) as proxy:
        channel = SessionChannel(session_url(proxy.url, filed.code), filed.customer_token,
                                 on_state=states.on_state, on_message=states.messages.append,
                                 delays=lambda: itertools.repeat(0.05))
        channel.start()
        try:
            states.until("connected")
            proxy.vanish()
            states.until("connected", times=2)
            eventually(lambda: 4000 in proxy.close_codes_after_vanishing(), what="the stale socket closed with 4000")
        finally:
            channel.close()
    history = eventually(lambda: (events := api.history(filed.code, tenant.supporter_token))
                         and any(event["type"] == "left" for event in events) and events, what="the left event")
    presence = [(event["type"], event["data"]) for event in history if event["type"] in ("joined", "left")]
    assert presence == [("joined", {"party": "customer"}), ("left", {"party": "customer"})]
