"""A queue stand-in on loopback for the agent's tests: a real HTTP server whose answers the test
sets, for the cases a real queue never produces (tampered, truncated, oversized), signed with a
key of its own."""

import http.server
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
