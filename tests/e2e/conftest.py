"""Fixtures of the end-to-end runs: a real X screen, the real agent on it, a real queue, the expert's Chromium."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.agent.ui.support import AgentProcess
from tests.e2e.desktop import BRAND_ACCENT, BRAND_PRIMARY, Painter, known_picture
from tests.support.browser import CHROMIUM, WAIT_MS, login
from tests.support.dashboard import PASSWORD
from tests.support.modules import write_module_file
from tests.support.servers import QueueServer, shared_server
from tests.support.tenants import Tenant, make_tenant
from tests.support.xserver import start_xvfb, stop

TOOLS = ("Xvfb", "xdpyinfo", "xdotool", "import")


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A real X server (Xvfb, 1280×800×24): the customer's screen."""
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing or not Path(CHROMIUM).exists():
        pytest.fail(f"needs {', '.join(missing) or CHROMIUM}; scripts/setup installs them")
    process, name = start_xvfb()
    yield name
    stop(process)


@pytest.fixture(scope="module")
def queue_server(request) -> QueueServer:
    """The session's shared queue server (SQLite); the module works in a company of its own."""
    return shared_server(request, "sqlite")


@pytest.fixture(scope="module")
def company(queue_server) -> Tenant:
    """The support company: an admin and a supporter who sign in to the dashboard, and the module."""
    return make_tenant(queue_server.database_url, password=PASSWORD)


@pytest.fixture
def expert_page(browser, queue_server, company) -> Iterator[Page]:
    """The supporter, signed in to the dashboard in a browser context of their own."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    login(page, queue_server.url, company.supporter_email)
    yield page
    context.close()


@pytest.fixture
def known_png(tmp_path) -> Path:
    path = tmp_path / "known.png"
    known_picture().save(path)
    return path


@pytest.fixture
def painter(display, tmp_path, known_png) -> Iterator[Painter]:
    """A full-screen window showing the known picture, below the agent's windows (started before them)."""
    made = Painter(display, tmp_path / "painter.log")
    made.show(known_png)
    yield made
    made.close()


@pytest.fixture
def customer(display, painter, queue_server, company, tmp_path) -> Iterator[AgentProcess]:
    """The real agent (``python -m agent --module FILE --sos``), its request filed and its session channel open."""
    module = write_module_file(tmp_path / "module.bin", server_url=queue_server.url, module_id=company.module_id,
                               module_token=company.module_token, file_immediately=True, company="Acme Corp",
                               product="Acme Help", primary=BRAND_PRIMARY,
                               accent=BRAND_ACCENT)
    agent = AgentProcess(module, tmp_path / "home", display)
    agent.start("--sos")
    agent.wait_for(lambda state: state.get("code") and state["session"]["channel"] == "connected",
                   what="the agent's request and its session channel")
    yield agent
    agent.terminate()
