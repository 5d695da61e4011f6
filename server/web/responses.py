"""Responses the dashboard needs beyond Starlette's own."""


from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from server.downloads import Download


class DownloadResponse(FileResponse):
    """Sends a download made for this one response, then removes its folder, also when the
    download breaks off (a BackgroundTask would only run after a complete send)."""

    def __init__(self, download: Download, **kwargs):
        super().__init__(download.path, filename=download.path.name, media_type=download.media_type, **kwargs)
        self.download = download

    async def __call__(self, scope, receive, send) -> None:
        # With pathsend the server would read the file after we return: send it ourselves.
        extensions = {key: value for key, value in scope.get("extensions", {}).items()
                      if key != "http.response.pathsend"}
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            await run_in_threadpool(self.download.remove)
