"""The socket writer against a loopback WebSocket server: order, a newer frame replacing a waiting one, closing.

The writer's socket goes through a proxy that can stall, so messages can be made to wait
behind a write that does not get through.
"""

import os

import pytest
from websockets.sync.client import ClientConnection, connect

from agent.connect.writer import MAX_QUEUED, SocketWriter
from tests.agent.connect.support import SESSION_PATH, TOKEN, BlockedWrite, LocalRelay, StallingProxy
from tests.support.polling import eventually

FILLER = 512 * 1024  # bytes per filler message: a few of them fill the stalled link


@pytest.fixture
def relay():
    """The loopback relay, recording without answering (this socket's reader is not part of these tests)."""
    with LocalRelay(auto_ack=False) as server:
        yield server


@pytest.fixture
def proxy(relay):
    with StallingProxy(relay.port) as made:
        yield made


@pytest.fixture
def connection(proxy):
    """A customer's socket to the relay, through the proxy."""
    with connect(f"ws://127.0.0.1:{proxy.port}{SESSION_PATH}", additional_headers={"Authorization": f"Bearer {TOKEN}"},
                 compression=None, close_timeout=1) as made:
        yield made


@pytest.fixture
def writer(connection, proxy):
    made = SocketWriter(connection)
    made.start()
    yield made
    made.stop()
    proxy.resume()  # a write still stuck finishes, and the socket can close


def stall_behind_a_write(proxy: StallingProxy, writer: SocketWriter) -> list[bytes]:
    """Stall the link and queue big messages until the writer is stuck in one; returns them."""
    proxy.stall()
    fillers = []
    blocked = BlockedWrite()
    while not blocked():
        if writer.pending == 0:
            fillers.append(os.urandom(FILLER))
            assert writer.put(fillers[-1]) is True
    return fillers


def test_messages_go_out_in_the_order_they_were_queued(relay, writer):
    """Text and binary messages arrive as queued, one after another."""
    assert writer.put('{"type": "consent", "allowed": true}') is True
    assert writer.put(b"\xff\xd8one", frame=True) is True
    assert writer.put('{"type": "chat", "text": "hi"}') is True
    eventually(lambda: len(relay.events) == 3, what="three messages at the server")
    assert relay.events == [{"type": "consent", "allowed": True}, b"\xff\xd8one", {"type": "chat", "text": "hi"}]


def test_a_newer_frame_takes_the_place_of_one_still_waiting(relay, proxy, writer):
    """Behind a stalled write: frame A, a chat, frame B; once the link moves B goes where A was, A never goes."""
    fillers = stall_behind_a_write(proxy, writer)
    waiting = writer.pending
    assert writer.put(b"\xff\xd8A", frame=True) is True
    assert writer.put('{"type": "chat", "text": "between"}') is True
    assert writer.put(b"\xff\xd8B", frame=True) is True
    assert writer.pending == waiting + 2
    proxy.resume()
    eventually(lambda: relay.of_type("chat"), what="the chat after the stall")
    assert relay.events == [*fillers, b"\xff\xd8B", {"type": "chat", "text": "between"}]


def test_dropped_frames_never_go_and_messages_after_them_do(relay, proxy, writer):
    """Sharing stopped while a frame waited: drop_frames forgets it, the view_stop behind it still goes."""
    fillers = stall_behind_a_write(proxy, writer)
    writer.put(b"\xff\xd8late", frame=True)
    writer.put('{"type": "view_stop"}')
    writer.drop_frames()
    proxy.resume()
    eventually(lambda: relay.of_type("view_stop"), what="view_stop after the stall")
    assert relay.events == [*fillers, {"type": "view_stop"}]


def test_a_link_too_far_behind_refuses_more_messages(proxy, writer):
    """At most MAX_QUEUED messages wait; the next put says False instead of piling up."""
    stall_behind_a_write(proxy, writer)
    room = MAX_QUEUED - writer.pending
    assert all(writer.put('{"type": "chat", "text": "waiting"}') for _ in range(room))
    assert writer.put('{"type": "chat", "text": "one too many"}') is False
    assert writer.pending == MAX_QUEUED


def test_finish_writes_what_is_queued_then_closes_the_socket(relay, writer, connection: ClientConnection):
    """finish(): the queued messages go, then a normal closure; nothing is taken afterwards."""
    writer.put('{"type": "view_stop"}')
    writer.put('{"type": "chat", "text": "bye"}')
    writer.finish()
    assert writer.put('{"type": "chat", "text": "too late"}') is False
    assert writer.join(10)
    eventually(lambda: not relay.connected, what="the server to see the socket closed")
    assert relay.messages == [{"type": "view_stop"}, {"type": "chat", "text": "bye"}]
    assert connection.close_code == 1000


def test_a_failed_write_ends_the_writer_and_later_puts_say_false(relay, proxy, writer):
    """The stalled link is reset: the stuck write fails, the writer ends, put answers False."""
    stall_behind_a_write(proxy, writer)
    proxy.cut()
    assert writer.join(30)
    assert writer.put('{"type": "chat", "text": "anyone?"}') is False


def test_a_write_longer_than_the_send_timeout_is_cut_and_the_writer_ends(connection, proxy):
    """send_timeout: a write stuck on the stalled link is cut by the watchdog; the writer ends, put says False."""
    writer = SocketWriter(connection, send_timeout=3)  # longer than stall_behind_a_write watches
    writer.start()
    try:
        stall_behind_a_write(proxy, writer)
        assert writer.join(30)
        assert writer.put('{"type": "chat", "text": "anyone?"}') is False
    finally:
        writer.stop()
        proxy.resume()
