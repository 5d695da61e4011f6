"""A queue server's update routes on loopback, signed in the test, and small real agents.

The bases are shell scripts: a shell reads a script line by line, so the payload stamped after
the script's last line is never read as commands. The base that starts runs the real agent's
command line on its own file (``python -m agent --module "$0"``), so ``--print-config`` shows
the configuration really stamped onto it.
"""

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from agent.client import PROBLEM_TYPE, QueueClient
from agent.update import Updater
from agent.update.policy import PolicySource, policy_file
from sosqueue import module_config, payload, updates
from sosqueue.platforms import current
from tests.support.modules import module_config as make_module_config, module_payload_for
from tests.support.standin import Answer, QueueStandIn

RUNNING_VERSION = "0.1.0"
RUNNING_BUILT = "2026-11-01T00:00:00Z"  # when the installed module's base was built
OFFERED_BUILT = "2026-12-01T00:00:00Z"  # when the server's base was, unless a test says otherwise
MODULE_ID = "acme-help"
MODULE_TOKEN = "module-token-that-is-secret"
FAST_PREFLIGHT = 20.0


def script(text: str) -> bytes:
    return ("#!/bin/sh\n" + text.strip() + "\n").encode()


def starting_base(version: str) -> bytes:
    """A base agent that starts: the real agent's command line on the file it is."""
    return script(f"# sosqueue test base {version}\nexec {sys.executable} -m agent --module \"$0\" \"$@\"")


def base_exiting(code: int) -> bytes:
    return script(f"exit {code}")


HANGING_BASE = script("exec sleep 60")
FOREIGN_BASE = script('echo \'{"module": {"id": "someone-else"}}\'\nexit 0')


class UpdateServer(QueueStandIn):
    """``GET {UPDATES_PATH}/<platform>`` and ``…/file`` as the queue answers them, with knobs for the bad cases."""

    def __init__(self):
        super().__init__()
        self.platform = str(current())
        self.offer_status = 200
        self.offer_body: bytes = b""
        self.offer_type = "application/json"
        self.file = b""
        self.cut_file_at: int | None = None  # send only this many bytes of a longer Content-Length

    def offer(self, version: str, data: bytes, *, key: bytes | None = None, built: str = OFFERED_BUILT,
              **changes) -> updates.Offer:
        """Serve ``data`` as the base of ``version`` built at ``built``, offered and signed with ``key``
        (the server's); ``changes`` are made after signing."""
        self.file = data
        offer = updates.Offer(self.platform, version, hashlib.sha256(data).hexdigest(), len(data), built=built)
        offer = offer.signed(key or self.private_key)
        offer = dataclasses.replace(offer, **changes)
        self.serve_offer(offer.to_json())
        return offer

    def serve_offer(self, body) -> None:
        self.offer_status, self.offer_type = 200, "application/json"
        self.offer_body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def problem(self, status: int, detail: str) -> None:
        self.offer_status, self.offer_type = status, PROBLEM_TYPE
        self.offer_body = json.dumps({"status": status, "detail": detail}).encode()

    def downloads(self) -> int:
        return sum(path.endswith("/file") for path, _ in self.requests)

    def answer(self, path: str, headers) -> Answer:
        if path == f"{updates.UPDATES_PATH}/{self.platform}":
            return Answer(self.offer_status, self.offer_type, self.offer_body)
        if path == f"{updates.UPDATES_PATH}/{self.platform}/file":
            return Answer(200, "application/octet-stream", self.file, cut_at=self.cut_file_at)
        return Answer(404, PROBLEM_TYPE, b'{"detail": "no such route"}')


@pytest.fixture
def update_server():
    server = UpdateServer()
    yield server
    server.stop()


@dataclasses.dataclass
class Installed:
    """A module installed in its own folder: the stamped file, the base it was stamped onto."""

    executable: Path
    base: bytes
    config: module_config.ModuleConfig

    @property
    def folder(self) -> Path:
        return self.executable.parent

    def read(self) -> bytes:
        return self.executable.read_bytes()


@pytest.fixture
def agent_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "agent-home"
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(home))
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "dummy")
    return home


@pytest.fixture
def installed(tmp_path, update_server, agent_home) -> Installed:
    return install_module(tmp_path / "Programs" / "Acme Help", update_server)


def install_module(executable: Path, server: UpdateServer, *, update_key: str | None = None) -> Installed:
    """Stamp a module for ``server`` onto the base of :data:`RUNNING_VERSION` at ``executable``."""
    base = starting_base(RUNNING_VERSION)
    config = make_module_config(server_url=server.url, module_id=MODULE_ID, module_token=MODULE_TOKEN)
    config = dataclasses.replace(config, update_key=server.public_key if update_key is None else update_key,
                                 base_sha256=hashlib.sha256(base).hexdigest(), base_built=RUNNING_BUILT)
    executable.parent.mkdir(parents=True, exist_ok=True)
    base_file = executable.parent.parent / "base"
    base_file.write_bytes(base)
    payload.stamp(base_file, module_payload_for(config), executable)
    return Installed(executable, base, module_config.parse(payload.read(executable)))


@pytest.fixture
def policy_path(tmp_path) -> Path:
    """Where the tests' IT puts its policy file (none there unless a test writes it)."""
    return tmp_path / "etc" / "policy.toml"


@pytest.fixture
def make_updater(installed, agent_home, policy_path):
    def make(*, config=None, executable=installed.executable, policy: PolicySource | None = None,
             version=RUNNING_VERSION, preflight_timeout=FAST_PREFLIGHT) -> Updater:
        config = config or installed.config
        return Updater(config, executable=executable, client=QueueClient(config), state_dir=agent_home / "data",
                       policy=policy or policy_file(policy_path), version=version,
                       preflight_timeout=preflight_timeout)

    return make


def staging_leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith("."))
