"""Shared fixtures: real queue servers on loopback over SQLite and PostgreSQL."""

import gc
import os
import tkinter
from pathlib import Path

import pytest

from tests.support.databases import database_maker
from tests.support import servers
from tests.support.servers import PostgresDatabases, QueueServer, SharedServers, shared_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BACKENDS = ["sqlite", "postgresql"]


PHASE_SECONDS = {"setup": 0.0, "call": 0.0, "teardown": 0.0}


def pytest_runtest_logreport(report):
    PHASE_SECONDS[report.when] += report.duration


def pytest_terminal_summary(terminalreporter):
    """Where the run's time went: setup, call and teardown; how many queue servers started, and how fast."""
    terminalreporter.write_line("time in " + ", ".join(f"{when} {seconds:.1f} s" for when, seconds in PHASE_SECONDS.items()))
    if servers.START_SECONDS:
        terminalreporter.write_line(f"queue servers started: {len(servers.START_SECONDS)}, "
                                    f"{sum(servers.START_SECONDS):.1f} s until they answered")


#: How many Tk roots this process has made (counted by the wrapper below).
_TK_ROOTS_MADE = [0]
_make_tk_root = tkinter.Tk.__init__


def _counted_tk_root(self, *args, **kwargs):
    _TK_ROOTS_MADE[0] += 1
    _make_tk_root(self, *args, **kwargs)


tkinter.Tk.__init__ = _counted_tk_root


@pytest.fixture(autouse=True)
def tk_garbage_collected_on_its_own_thread():
    """A test that made a Tk root has its garbage collected here, on the thread that made the root.

    Tk aborts the whole process when its interpreter is deleted on another thread, and a root
    left in a reference cycle is deleted by whichever thread's allocation next runs the cyclic
    GC: a server's lifespan in a later test, say (``server.app`` collects at start).
    """
    made = _TK_ROOTS_MADE[0]
    yield
    if _TK_ROOTS_MADE[0] != made:
        gc.collect()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, one per test run (one thread runs one Playwright)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def postgres() -> PostgresDatabases:
    url = os.environ.get("SOSQUEUE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("SOSQUEUE_TEST_POSTGRES_URL is not set; run the suite with scripts/test")
        pytest.skip("no PostgreSQL: run scripts/test, or set SOSQUEUE_TEST_POSTGRES_URL")
    return PostgresDatabases(url)


@pytest.fixture
def make_database_url(request, tmp_path_factory):
    """Makes a fresh, empty database URL for a backend, for one test."""
    with database_maker(request, tmp_path_factory) as make:
        yield make


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory) -> SharedServers:
    """Real servers started once per test run and shared by the tests that keep apart by tenant."""
    servers = SharedServers(tmp_path_factory)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="module")
def server(backend, request) -> QueueServer:
    """A real server of each backend, shared by the modules using it; tests isolate themselves by tenant."""
    return shared_server(request, backend)
