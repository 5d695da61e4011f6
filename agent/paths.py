"""Where the agent keeps its state and logs, per user (``SOSQUEUE_AGENT_HOME`` overrides)."""

import os
from pathlib import Path

import platformdirs

APP = "sosqueue"


def data_dir(module_id: str) -> Path:
    root = os.environ.get("SOSQUEUE_AGENT_HOME")
    base = Path(root) / "data" if root else Path(platformdirs.user_data_dir(APP, appauthor=False))
    return base / module_id


def log_dir() -> Path:
    root = os.environ.get("SOSQUEUE_AGENT_HOME")
    return Path(root) / "logs" if root else Path(platformdirs.user_log_dir(APP, appauthor=False))


def runtime_dir() -> Path:
    root = os.environ.get("SOSQUEUE_AGENT_HOME")
    if root:
        return Path(root) / "run"
    return Path(platformdirs.user_runtime_dir(APP, appauthor=False))
