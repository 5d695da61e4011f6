"""Fixtures of the agent's core tests: one real queue server (SQLite) per test module."""

import pytest

from agent import tls
from agent.runtime import make_desk
from tests.support.modules import module_config
from tests.support.queue_api import QueueApi
from tests.support.servers import QueueServer, shared_server
from tests.support.tenants import make_tenant


@pytest.fixture(scope="module")
def queue_server(request) -> QueueServer:
    """A real server (SQLite) shared with other test files; tests keep apart by tenant."""
    return shared_server(request, "sqlite")


@pytest.fixture(scope="module")
def api(queue_server):
    """A client for the module's queue server."""
    client = QueueApi(queue_server.url)
    yield client
    client.close_client()


@pytest.fixture
def tenant(queue_server):
    """A fresh company with a supporter and a module."""
    return make_tenant(queue_server.database_url)


@pytest.fixture
def desk_for(tmp_path, monkeypatch):
    """A real HelpDesk for a tenant's module, keeping its files under tmp_path."""
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))

    def make(tenant, url):
        return make_desk(module_config(server_url=url, module_id=tenant.module_id, module_token=tenant.module_token))

    return make


@pytest.fixture(autouse=True)
def fresh_tls(monkeypatch):
    """The usual TLS contexts built anew for each test, from the system's authorities only
    (agent/tls.py): a test that widened them leaves them narrow again."""
    for name in ("SSL_CERT_DIR", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    tls.forget()
    yield
    tls.forget()
