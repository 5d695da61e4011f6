"""The customer's current request, remembered across restarts so one click means one request."""

import json
from pathlib import Path

from agent.client import Ticket
from agent.outbox import write_atomically


class CurrentRequest:
    def __init__(self, path: Path):
        self.path = path

    def load(self) -> Ticket | None:
        try:
            data = json.loads(self.path.read_text())
            return Ticket(code=data["code"], customer_token=data["customer_token"], status=data["status"],
                          topic=data.get("topic", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, ticket: Ticket) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(vars(ticket)).encode())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
