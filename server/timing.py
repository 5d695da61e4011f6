"""``Server-Timing: app;dur=<ms>`` on every HTTP answer: the server's own time for the call, from the
request's arrival to the answer's headers, for operators' browser tools and the benchmarks."""

import time

METRIC = "app"


class ServerTiming:
    """Pure ASGI middleware; the outermost of ours, so that it times them too."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                milliseconds = 1000 * (time.perf_counter() - started)
                header = (b"server-timing", f"{METRIC};dur={milliseconds:.2f}".encode("ascii"))
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, timed_send)
