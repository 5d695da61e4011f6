"""The session channel against a loopback WebSocket server: token, messages, drops, refusals, closing, stalls."""

import itertools
import os
import queue
import time

import pytest

from agent import tls
from agent.connect.channel import SessionChannel, session_url
from sosqueue.connect import is_instance
from tests.agent.connect.support import (CODE, SESSION_PATH, TOKEN, ConnectProxy, LocalRelay, StallingProxy,
                                         Watchdog)
from tests.support.polling import eventually


class Reports:
    """What the channel reported, in order (it calls from its own thread)."""

    def __init__(self):
        self.states: queue.SimpleQueue = queue.SimpleQueue()
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.seen_states: list[tuple[str, str]] = []
        self.seen_messages: list[dict] = []

    def on_state(self, state: str, reason: str) -> None:
        self.states.put((state, reason))

    def on_message(self, message: dict) -> None:
        self.messages.put(message)

    def state_until(self, state: str) -> list[tuple[str, str]]:
        """Every state reported until ``state`` (included)."""
        eventually(lambda: self.reported(state), what=f"the channel to report {state}")
        return self.seen_states

    def reported(self, state: str) -> bool:
        """Whether ``state`` was reported so far."""
        while not self.states.empty():
            self.seen_states.append(self.states.get())
        return any(seen == state for seen, _ in self.seen_states)

    def message(self, kind: str) -> dict:
        def arrived():
            while not self.messages.empty():
                self.seen_messages.append(self.messages.get())
            return next((message for message in self.seen_messages if message["type"] == kind), None)

        return eventually(arrived, what=f"a {kind} message")


@pytest.fixture
def channels():
    """Open channels for a test; all are closed after it."""
    made: list[SessionChannel] = []

    def make(relay: LocalRelay | StallingProxy, reports: Reports, token: str = TOKEN, **options) -> SessionChannel:
        channel = SessionChannel(session_url(relay.url, CODE), token, on_state=reports.on_state,
                                 on_message=reports.on_message, delays=lambda: itertools.repeat(0.05), **options)
        made.append(channel)
        channel.start()
        return channel

    yield make
    for channel in made:
        channel.close()


@pytest.mark.parametrize(("server", "url"), [
    ("https://help.example.com", f"wss://help.example.com{SESSION_PATH}"),
    ("http://127.0.0.1:8080/", f"ws://127.0.0.1:8080{SESSION_PATH}"),
    ("https://example.com/queue", f"wss://example.com/queue{SESSION_PATH}"),
])
def test_the_session_url_follows_the_server_address(server, url):
    """https → wss, http → ws, a path prefix is kept."""
    assert session_url(server, CODE) == url


def test_the_channel_connects_with_the_customer_token_and_hands_on_messages(relay, channels):
    """Authorization: Bearer <customer token>; the hello arrives; sent messages reach the server."""
    reports = Reports()
    channel = channels(relay, reports)
    assert reports.state_until("connected") == [("connecting", ""), ("connected", "")]
    assert reports.message("hello")["code"] == CODE
    assert relay.authorizations == [f"Bearer {TOKEN}"]
    assert relay.paths == [SESSION_PATH]
    assert channel.send_json({"type": "chat", "text": "Grüße <b>aus</b> Köln"}) is True
    assert channel.send_frame(b"\xff\xd8 not really a picture") is True
    eventually(lambda: len(relay.events) == 2, what="both messages at the server")
    assert relay.events == [{"type": "chat", "text": "Grüße <b>aus</b> Köln"}, b"\xff\xd8 not really a picture"]


def test_after_the_server_drops_the_channel_reports_reconnecting_then_connected(relay, channels):
    """A restart-like drop: reconnecting, then a second socket, connected again, messages flow."""
    reports = Reports()
    channel = channels(relay, reports)
    reports.state_until("connected")
    relay.drop()
    states = reports.state_until("reconnecting")
    eventually(lambda: relay.connections == 2, what="a second socket")
    states = reports.state_until("connected") and reports.seen_states
    assert [state for state, _ in states] == ["connecting", "connected", "reconnecting", "connected"]
    assert channel.send_json({"type": "view_stop"}) is True
    eventually(lambda: relay.messages == [{"type": "view_stop"}], what="the message on the new socket")


def test_every_socket_of_a_channel_carries_its_instance_and_another_channel_has_another(relay, channels):
    """The reconnect proves it is the same agent (the server lets it replace its old socket); the id is fresh."""
    reports = Reports()
    channels(relay, reports)
    reports.state_until("connected")
    relay.drop()
    eventually(lambda: relay.connections == 2, what="a second socket")
    first, again = relay.instances
    assert first == again and is_instance(first)
    other = Reports()
    channels(relay, other)
    other.state_until("connected")
    assert relay.instances[-1] != first and is_instance(relay.instances[-1])


def test_a_socket_refused_before_the_hello_is_tried_again_without_reporting_connected(channels):
    """The server closed it before admitting it (4001: another agent is connected): reconnecting, never
    connected, until a later attempt is admitted."""
    with LocalRelay() as relay:
        reports = Reports()
        relay.refuse_with = 4001
        channels(relay, reports)
        eventually(lambda: len(relay.instances) >= 3, what="three attempts")
        assert not reports.reported("connected")
        assert reports.reported("reconnecting") and not reports.reported("ended")
        relay.refuse_with = None
        reports.state_until("connected")


def test_while_the_server_is_away_sending_fails_and_nothing_is_queued(channels):
    """No server: reconnecting, and send says False instead of keeping stale frames for later."""
    with LocalRelay() as relay:
        reports = Reports()
        relay.refuse_with = 1013  # try again later
        channel = channels(relay, reports)
        reports.state_until("reconnecting")
        assert channel.send_frame(b"\xff\xd8") is False
        relay.refuse_with = None
        reports.state_until("connected")
        assert relay.frames == []


@pytest.mark.parametrize(("code", "reason"), [
    (4401, "not signed in"), (4404, "no such request"), (4409, "request not open"),
    (4000, "replaced by a newer connection"),
])
def test_a_final_close_code_ends_the_channel_without_reconnecting(relay, channels, code, reason):
    """The queue refused for good: the channel says ended (with why) and opens no second socket."""
    reports = Reports()
    channels(relay, reports)
    reports.state_until("connected")
    relay.close(code)
    states = reports.state_until("ended")
    assert states[-1] == ("ended", reason)
    assert relay.connections == 1


def test_a_wrong_token_is_refused_and_not_retried(relay, channels):
    """The relay closes with 4401 for a token it does not know: ended, one attempt only."""
    reports = Reports()
    channels(relay, reports, token="sqc_wrong")
    assert reports.state_until("ended")[-1] == ("ended", "not signed in")
    assert relay.authorizations == ["Bearer sqc_wrong"]


def test_close_ends_the_socket_cleanly_and_reports_closed(relay, channels):
    """close(): the server sees a normal closure (1000) and the channel's thread ends."""
    reports = Reports()
    channel = channels(relay, reports)
    reports.state_until("connected")
    channel.close()
    assert reports.state_until("closed")[-1] == ("closed", "")
    eventually(lambda: not relay.connected, what="the server to see the socket closed")
    assert not channel._thread.is_alive()
    assert channel.send_json({"type": "chat", "text": "too late"}) is False
    assert relay.messages == []


def test_malformed_messages_from_the_server_are_ignored_and_the_channel_goes_on(relay, channels):
    """Not JSON, not an object, no type: ignored; the next good message is handed on."""
    reports = Reports()
    channel = channels(relay, reports)
    reports.state_until("connected")
    connection = eventually(lambda: relay._current, what="the socket")
    for bad in ("{not json", "[1, 2]", '{"no": "type"}'):
        connection.send(bad)
    connection.send(b"binary from the server")
    relay.send({"type": "chat", "from": "expert", "name": "Alex", "text": "still here"})
    assert reports.message("chat")["text"] == "still here"
    assert [message["type"] for message in reports.seen_messages] == ["hello", "chat"]
    assert channel.connected


def test_wss_with_the_modules_own_ca_connects(tls_relay, certificate):
    """A private certificate is trusted through the module's CA bundle (as the HTTP client does)."""
    reports = Reports()
    channel = SessionChannel(session_url(tls_relay.url, CODE), TOKEN, on_state=reports.on_state,
                             on_message=reports.on_message, ca_bundle=certificate[0].read_bytes())
    channel.start()
    try:
        assert tls_relay.url.startswith("https://") and channel.url.startswith("wss://")
        reports.state_until("connected")
        assert reports.message("hello")["code"] == CODE
    finally:
        channel.close()


def test_wss_with_an_unknown_certificate_never_connects(tls_relay):
    """Without the module's CA the certificate does not verify: no socket is accepted, the channel retries."""
    reports = Reports()
    channel = SessionChannel(session_url(tls_relay.url, CODE), TOKEN, on_state=reports.on_state,
                             on_message=reports.on_message,
                             delays=lambda: itertools.repeat(0.05))
    channel.start()
    try:
        assert reports.state_until("reconnecting") == [("connecting", ""), ("reconnecting", "")]
        assert channel.send_json({"type": "chat", "text": "secret"}) is False
    finally:
        channel.close()
    assert tls_relay.connections == 0


def test_wss_that_only_certifis_authorities_verify_connects_on_the_next_attempt(tls_relay, certificate, monkeypatch):
    """The system's store lacks the CA: the failed attempt widens the shared context (agent.tls), and
    the next attempt, a backoff later, uses it, as the HTTP client does."""
    monkeypatch.setattr(tls, "certifi_bundle", lambda: str(certificate[0]))
    reports = Reports()
    channel = SessionChannel(session_url(tls_relay.url, CODE), TOKEN, on_state=reports.on_state,
                             on_message=reports.on_message, delays=lambda: itertools.repeat(0.05))
    channel.start()
    try:
        assert reports.state_until("connected") == [("connecting", ""), ("reconnecting", ""), ("connected", "")]
        assert reports.message("hello")["code"] == CODE
    finally:
        channel.close()


def test_the_channel_goes_through_the_systems_http_proxy(relay, channels, monkeypatch):
    """HTTP_PROXY set: the socket is tunnelled with CONNECT through the proxy, outbound only."""
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        reports = Reports()
        channels(relay, reports)
        reports.state_until("connected")
        assert proxy.requests == [f"CONNECT 127.0.0.1:{relay.port} HTTP/1.1"]
        assert reports.message("hello")["code"] == CODE


def test_a_write_stuck_longer_than_the_send_timeout_drops_the_socket_and_the_channel_reconnects(relay, channels):
    """The link stalls while frames go out: sending never waits, and after send_timeout without progress
    the socket is dropped; the channel reconnects and messages flow on the new socket."""
    with StallingProxy(relay.port) as proxy:
        reports = Reports()
        channel = channels(proxy, reports, send_timeout=1)
        reports.state_until("connected")
        proxy.stall()
        frame = b"\xff\xd8" + os.urandom(512 * 1024)
        with Watchdog(proxy.cut) as watchdog:  # a send that hangs is freed, and the test fails
            while not reports.reported("reconnecting"):
                channel.send_frame(frame)
                time.sleep(0.01)
        assert not watchdog.fired, "sending waited for the stalled network"
        eventually(lambda: relay.connections == 2 and channel.connected, what="the new socket")
        assert [state for state, _ in reports.state_until("connected")] == \
            ["connecting", "connected", "reconnecting", "connected"]
        assert channel.send_json({"type": "chat", "text": "back again"}) is True
        eventually(lambda: relay.of_type("chat"), what="the message on the new socket")
        assert relay.of_type("chat") == [{"type": "chat", "text": "back again"}]


def test_a_quiet_session_stays_connected_for_many_send_timeouts(relay, channels):
    """Only writes are time-limited: with nothing from the server for five send timeouts the socket stays open,
    no reconnect happens, and it still carries messages."""
    reports = Reports()
    channel = channels(relay, reports, send_timeout=1)
    reports.state_until("connected")
    reports.message("hello")
    with pytest.raises(queue.Empty):
        reports.states.get(timeout=5)  # the quiet time: any state change (reconnecting) fails the test
    assert relay.connections == 1
    assert channel.connected
    assert channel.send_json({"type": "chat", "text": "still here"}) is True
    eventually(lambda: relay.messages, what="the message on the first socket")
    assert relay.messages == [{"type": "chat", "text": "still here"}]
