"""Connect: the expert sees the customer's screen (after consent) and both chat, through the server.

``protocol`` documents the messages and limits, ``relay`` is the in-process hub that joins a
request's sockets, ``presence`` records who is joined, ``routes`` admits the customer's agent
and the experts' browsers.
"""

from fastapi import FastAPI

from server.connect import routes
from server.connect.presence import clear_left_behind
from server.connect.relay import Hub

__all__ = ["clear_left_behind", "install"]


def install(app: FastAPI) -> None:
    """Register both session sockets; needs ``app.state.sosqueue`` (create_app sets it first)."""
    app.state.connect_hub = Hub(app.state.sosqueue)
    app.include_router(routes.router, include_in_schema=False)
