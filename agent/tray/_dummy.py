"""A tray that shows nothing: no display, tests, or a platform without a tray.

It keeps the state it is given, so the rest of the agent works the same without a tray.
"""

from agent.tray._base import Tray


class DummyTray(Tray):
    """A tray without icon, menu or notifications."""

    backend_name = "dummy"

    def _start(self) -> None:
        pass

    def _update(self) -> None:
        pass

    def _stop(self) -> None:
        pass

    def _notify(self, title: str, message: str) -> None:
        pass
