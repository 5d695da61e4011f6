"""A queue stand-in on loopback for the agent's tests: a real HTTP server whose answers the test
sets, for the cases a real queue never produces (tampered, truncated, oversized), signed with a
key of its own."""

import http.server
import json
import threading
from dataclasses import dataclass

from sosqueue import signing, updates


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    cut_at: int | None = None  # send only this many bytes of the body, with its full Content-Length
    etag: str | None = None


class QueueStandIn:
    """Answers every GET with :meth:`answer`; records each request's path and Authorization header."""

    def __init__(self):
        self.private_key = signing.generate_private_key()
        self.public_key = updates.encode_key(signing.public_key(self.private_key))
        self.requests: list[tuple[str, str]] = []  # (path, Authorization)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, headers) -> Answer:
        raise NotImplementedError

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(stand_in: QueueStandIn):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            stand_in.requests.append((self.path, self.headers.get("Authorization", "")))
            self._send(stand_in.answer(self.path, self.headers))

        def _send(self, answer: Answer) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if answer.etag:
                self.send_header("ETag", answer.etag)
            if answer.status != 304:
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body if answer.cut_at is None else answer.body[:answer.cut_at])
            if answer.cut_at is not None:
                self.close_connection = True

        def log_message(self, *args):
            pass

    return Handler


PROBLEM_JSON = "application/problem+json"


class RequestStandIn(QueueStandIn):
    """One open request as the queue shows its customer: its status (``GET …/{code}``), its events (each
    connection gets one event with the status, then the stream ends, so the agent reconnects and sees
    the next) and its waiting room (``GET …/{code}/waiting-room``, :meth:`set_room`).

    Everything else, and a token other than :attr:`TOKEN`, gets the queue's 404 or 401 problem.
    """

    CODE = "s12-345-678"
    TOKEN = "c" * 32
    PREFIX = f"/api/v1/service-requests/{CODE}"

    def __init__(self, *, status: str = "new", topic: str = "", room: dict | None = None):
        super().__init__()
        self.status = status
        self.topic = topic
        self.room = room  # the waiting room's JSON (sosqueue.waiting_room.WaitingRoom.to_json); None: 404

    def set_room(self, room: dict | None, *, status: str | None = None) -> None:
        self.room = room
        if status is not None:
            self.status = status

    def waiting_room_asks(self) -> int:
        return sum(1 for path, _token in self.requests if path == f"{self.PREFIX}/waiting-room")

    def answer(self, path: str, headers) -> Answer:
        if headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return _problem(401, "this token does not open the request")
        if path == self.PREFIX:
            return _json({"code": self.CODE, "status": self.status, "topic": self.topic})
        if path == f"{self.PREFIX}/events":
            event = json.dumps({"status": self.status})
            return Answer(200, "text/event-stream", f"event: status\ndata: {event}\n\n".encode())
        if path == f"{self.PREFIX}/waiting-room" and self.room is not None:
            return _json(self.room)
        return _problem(404, "no such request")


def _json(data: dict) -> Answer:
    return Answer(200, "application/json", json.dumps(data).encode())


def _problem(status: int, detail: str) -> Answer:
    return Answer(status, PROBLEM_JSON, json.dumps({"title": "stand-in", "status": status, "detail": detail}).encode())
