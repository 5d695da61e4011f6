"""Wiring: the help desk for a module, with its client, outbox and state in the data dir."""

from agent import __version__
from agent.client import QueueClient
from sosqueue.module_config import ModuleConfig
from agent.desk import HelpDesk
from agent.outbox import Outbox
from agent.paths import data_dir
from agent.state import CurrentRequest


def make_desk(config: ModuleConfig) -> HelpDesk:
    home = data_dir(config.module_id)
    client = QueueClient(config, user_agent=f"sosqueue-agent/{__version__}")
    return HelpDesk(client, Outbox(home / "outbox"), CurrentRequest(home / "current.json"))
