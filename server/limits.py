"""Refuse request bodies over the limit before anything reads them."""

import json
import re
from collections.abc import Sequence

from server.problems import MEDIA_TYPE, problem_body


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a body larger than ``max_bytes``, declared or streamed.

    ``larger`` lists (path pattern, limit) for the few routes that take more, such as logo uploads.
    """

    def __init__(self, app, max_bytes: int, larger: Sequence[tuple[str, int]] = ()):
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes = self._limit(scope.get("path", ""))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            return await self._refuse(send, max_bytes)
        if declared is not None or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        # No length given (chunked): read it all here, within the limit, then hand it on.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > max_bytes:
                return await self._refuse(send, max_bytes)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send, max_bytes: int) -> None:
        detail = f"the request body is larger than {max_bytes} bytes; send less"
        body = json.dumps(problem_body(413, detail, code="too_large")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
