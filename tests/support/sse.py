"""A small server-sent-events client for tests: httpx streaming, read by a background thread.

``EventStream(url, token).open()`` returns once the server has subscribed the stream (its
first block has arrived), so events caused afterwards are guaranteed to reach it.
"""

import json
import queue
import socket
import threading
from dataclasses import dataclass

import httpx

WAIT = 30.0  # generous: the stream is on a shared, busy machine


@dataclass(frozen=True)
class Message:
    """One dispatched block: an event (``event``, ``id``, ``data``) or a comment line."""

    event: str | None
    id: str | None
    data: str
    comment: str | None = None

    @property
    def is_comment(self) -> bool:
        return self.comment is not None

    def json(self) -> dict:
        return json.loads(self.data)


class StreamEnded(Exception):
    """The server closed the stream, or reading it failed."""


class EventStream:
    """``GET`` an event stream with a bearer token and optional ``Last-Event-ID``."""

    def __init__(self, url: str, token: str, *, last_event_id: int | str | None = None):
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._request = self._client.build_request("GET", url, headers=headers)
        self._messages: queue.Queue = queue.Queue()
        self._positions: queue.Queue = queue.Queue()
        self._subscribed = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.response: httpx.Response | None = None
        self.retry_ms: int | None = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def open(self, timeout: float = WAIT) -> "EventStream":
        """Connect; for a 200 wait until the server has sent its first block."""
        self.response = self._client.send(self._request, stream=True)
        if self.response.status_code != 200:
            self.response.read()
            return self
        self._thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise TimeoutError(f"no first block from {self._request.url} within {timeout} s")
        return self

    def next(self, timeout: float = WAIT) -> Message:
        """The next message, comments included."""
        try:
            item = self._messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout} s") from None
        if isinstance(item, BaseException):
            raise StreamEnded(str(item)) from item
        return item

    def next_event(self, timeout: float = WAIT) -> Message:
        """The next event, skipping keepalive comments."""
        while True:
            message = self.next(timeout)
            if not message.is_comment:
                return message

    def position(self, timeout: float = WAIT) -> str:
        """The id of the next block that carries only an id: where a fresh stream starts, which a
        reconnect resumes after (a browser keeps it as ``lastEventId``)."""
        try:
            return self._positions.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no position within {timeout} s") from None

    def events_until(self, predicate, timeout: float = WAIT) -> list[Message]:
        """Every event up to and including the first that matches ``predicate``."""
        seen = []
        while True:
            message = self.next_event(timeout)
            seen.append(message)
            if predicate(message):
                return seen

    def close(self) -> None:
        self._closing = True
        if self.response is not None:
            _shutdown_socket(self.response)
            self.response.close()
        self._client.close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "EventStream":
        return self.open()

    def __exit__(self, *_) -> None:
        self.close()

    def _read(self) -> None:
        block: dict[str, list[str]] = {}
        try:
            for line in self.response.iter_lines():
                if line:
                    field, _, value = line.partition(":")
                    block.setdefault(field, []).append(value.removeprefix(" "))
                    continue
                self._dispatch(block)
                block = {}
            raise StreamEnded("the server closed the stream")
        except BaseException as error:  # handed to the reading test, unless we are closing
            if not self._closing:
                self._messages.put(error)

    def _dispatch(self, block: dict[str, list[str]]) -> None:
        if "retry" in block:
            self.retry_ms = int(block["retry"][-1])
        if "data" in block:
            event = block.get("event", ["message"])[-1]
            event_id = block["id"][-1] if "id" in block else None
            self._messages.put(Message(event, event_id, "\n".join(block["data"])))
        elif "" in block:  # lines starting with ':' are comments
            self._messages.put(Message(None, None, "", comment=block[""][-1].strip()))
        elif "id" in block:
            self._positions.put(block["id"][-1])
        self._subscribed.set()


def _shutdown_socket(response: httpx.Response) -> None:
    """Wake the reader thread: closing a socket does not interrupt a blocked recv, shutdown does."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
