"""What the window shows, written to a file for automated tests and IT diagnostics.

The one switch is the environment variable :data:`HOOKS_ENV`: unset (as customers run the
agent), nothing here runs. Set to a path, the app keeps what its window, tray and session show
in that file as JSON after every turn of its main loop. It holds nothing secret (no tokens).
"""

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("sosqueue.agent")

HOOKS_ENV = "SOSQUEUE_AGENT_TEST_HOOKS"
#: The session part while no session is open.
NO_SESSION = {"channel": "", "consent": "none", "consent_buttons": None, "sharing": False, "frames_sent": 0,
              "control": "none", "in_control": "", "experts": [], "chat": [], "sharing_bar": "",
              "stop_sharing_at": None, "take_back_at": None}


class StateHooks:
    """Writes the app's state to ``path`` (atomically, only when it changed)."""

    def __init__(self, path: Path):
        self.path = path
        self._last = ""

    @classmethod
    def from_env(cls) -> "StateHooks | None":
        value = os.environ.get(HOOKS_ENV)
        return cls(Path(value)) if value else None

    def record(self, app) -> None:
        """What :class:`agent.app.HelpApp` shows now: its state, the tray, the window and the session."""
        tray = {"tray": getattr(app.tray, "backend_name", ""), "tray_state": getattr(app.tray, "state", ""),
                "tray_tooltip": getattr(app.tray, "tooltip", "")}
        session = app.session.snapshot() if app.session else NO_SESSION
        self.write({"state": app.request.state, **tray, **app.window.snapshot(), "session": session})

    def write(self, state: dict) -> None:
        text = json.dumps({**state, "pid": os.getpid()}, sort_keys=True)
        if text == self._last:
            return
        self._last = text
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            log.debug("cannot write %s: %s", self.path, error)
