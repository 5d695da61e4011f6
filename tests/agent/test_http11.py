"""HTTP/1.1 answers read off a real socket pair: framing, interim answers, header fields, broken answers."""

import socket

import pytest

from agent import http11


@pytest.fixture
def pair():
    """A connection (the agent's end) and the server's end of a socket pair."""
    ours, theirs = socket.socketpair()
    connection = http11.Connection(ours)
    yield connection, theirs
    connection.close()
    theirs.close()


def answer(pair, raw: bytes, method: str = "GET", *, close: bool = False) -> http11.Answer:
    connection, server = pair
    server.sendall(raw)
    if close:
        server.shutdown(socket.SHUT_WR)
    return connection.getresponse(method)


def body(reply: http11.Answer) -> bytes:
    data = b""
    while chunk := reply.read1(7):
        data += chunk
    return data


def test_the_request_is_sent_as_given_with_its_length(pair):
    """Headers in order, Content-Length for a body (and 0 for a POST without one)."""
    connection, server = pair
    connection.request("POST", "/api", body=b'{"a": 1}', headers={"Host": "queue", "X-Key": "k"})
    connection.request("POST", "/empty", body=None, headers={"Host": "queue"})
    sent = server.recv(4096)
    assert sent == (b'POST /api HTTP/1.1\r\nHost: queue\r\nX-Key: k\r\nContent-Length: 8\r\n\r\n{"a": 1}'
                    b"POST /empty HTTP/1.1\r\nHost: queue\r\nContent-Length: 0\r\n\r\n")


def test_a_content_length_body_is_read_whole_and_the_connection_kept(pair):
    """Status, reason, headers in any case; the body in pieces; then closed and reusable."""
    reply = answer(pair, b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 12\r\n\r\n"
                         b'{"ok": true}')
    assert (reply.status, reply.reason, reply.headers.get("Content-Type")) == (201, "Created", "application/json")
    assert body(reply) == b'{"ok": true}'
    assert reply.isclosed() and reply.length == 0 and not reply.will_close


def test_a_chunked_body_is_joined_and_read_by_lines_across_chunks(pair):
    """An event stream: lines split over chunks come out whole; the trailer ends it."""
    reply = answer(pair, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"6\r\nevent:\r\n9;ext=1\r\n snapshot\r\n6\r\n\n\ndata\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert [reply.readline() for _ in range(4)] == [b"event: snapshot\n", b"\n", b"data", b""]
    assert reply.isclosed() and not reply.will_close


def test_a_body_without_length_runs_until_the_server_closes(pair):
    """No Content-Length, not chunked: the body is what comes until the close, and the connection is spent."""
    reply = answer(pair, b"HTTP/1.0 200 OK\r\n\r\nall of it", close=True)
    assert reply.will_close and body(reply) == b"all of it"


def test_a_content_length_body_cut_short_leaves_length_unread(pair):
    """The server closes inside the body: reading stops, ``length`` tells how much is missing."""
    reply = answer(pair, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close=True)
    assert body(reply) == b"abc" and reply.length == 7


def test_a_chunked_body_cut_short_is_an_incomplete_read(pair):
    reply = answer(pair, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc", close=True)
    with pytest.raises(http11.IncompleteRead):
        body(reply)


@pytest.mark.parametrize("raw, method", [(b"HTTP/1.1 304 Not Modified\r\nETag: \"v2\"\r\n\r\n", "GET"),
                                         (b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE"),
                                         (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD")])
def test_answers_without_a_body(pair, raw, method):
    """304, 204 and HEAD carry no body whatever their headers say."""
    reply = answer(pair, raw, method)
    assert reply.isclosed() and body(reply) == b"" and not reply.will_close


def test_an_interim_answer_is_skipped_and_folded_and_repeated_fields_are_joined(pair):
    reply = answer(pair, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nVia: a\r\nVia: b\r\nX-Long: one\r\n two\r\n"
                         b"Connection: close\r\nContent-Length: 0\r\n\r\n")
    assert (reply.status, reply.headers.get("via"), reply.headers.get("X-Long")) == (200, "a, b", "one two")
    assert reply.will_close


def test_no_answer_and_a_garbled_one_are_told_apart(pair):
    """A closed connection is RemoteDisconnected (an OSError, safe to retry); garbage is a BadStatusLine."""
    with pytest.raises(http11.RemoteDisconnected):
        answer(pair, b"", close=True)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        with pytest.raises(http11.BadStatusLine):
            http11.Connection(ours).getresponse("GET")


@pytest.mark.parametrize("target, headers", [
    ("/api\r\nX-Injected: 1", {"Host": "queue"}),
    ("/api", {"Host": "queue", "Authorization": "Bearer t\r\nX-Injected: 1"}),
    ("/api", {"Host": "queue\n"}),
])
def test_a_line_break_in_the_target_or_a_header_is_refused_and_nothing_is_sent(pair, target, headers):
    connection, server = pair
    with pytest.raises(ValueError, match="line break"):
        connection.request("GET", target, body=None, headers=headers)
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.recv(1)


def test_a_negative_chunk_size_is_an_incomplete_read(pair):
    reply = answer(pair, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n")
    with pytest.raises(http11.IncompleteRead):
        reply.read1(10)


def test_a_space_in_the_target_is_refused_as_http_client_refuses_it(pair):
    connection, _ = pair
    with pytest.raises(ValueError, match="space or control character"):
        connection.request("GET", "/api/v1/a b", body=None, headers={"Host": "queue"})


def test_a_body_line_longer_than_the_limit_is_refused_without_reading_it_all(pair):
    """A body without a length (until the server closes) cannot make the agent hold an endless line."""
    reply = answer(pair, b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (http11.MAX_LINE + 10), close=True)
    with pytest.raises(http11.LineTooLong):
        reply.readline()
