"""Fixtures for the browser tests: one Chromium per session, a fresh context per page, real servers."""

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page
from sqlalchemy import update

from server import security
from server.db import Database
from server.models import User
from tests.support.browser import WAIT_MS, WATCH_SCRIPT
from tests.support.dashboard import PASSWORD
from tests.support.servers import QueueServer, shared_server, sqlite_url
from tests.support.tenants import Tenant, make_tenant

# Every test logs in several times from 127.0.0.1; the login rate limit has tests of its own.
_SERVER_ENV = {"SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "0"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_page(browser, request, artifacts_dir) -> Iterator[Callable[..., Page]]:
    """Opens pages, each in its own context (own cookies); screenshots them if the test fails.

    Every page keeps the dialogs it was asked to show in ``page.dialogs`` (and dismisses them),
    and its uncaught script errors in ``page.errors``.
    """
    contexts, pages = [], []

    def make(**context_options) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(WATCH_SCRIPT)
        page = context.new_page()
        page.dialogs, page.errors = [], []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        contexts.append(context)
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for index, page in enumerate(pages):
            if not page.is_closed():
                page.screenshot(path=artifacts_dir / f"failed-{name}-{index}.png", full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


def _server(url: str, tmp_path_factory) -> QueueServer:
    return QueueServer(url, env=_SERVER_ENV, log_dir=tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="session")
def sqlite_server(request) -> QueueServer:
    """One real server on SQLite for the browser tests that do not depend on the database.

    Shared by all of them (and with other tests' shared server): each test works in a company of its own.
    """
    return shared_server(request, "sqlite", env=_SERVER_ENV)


@pytest.fixture
def own_server(tmp_path_factory) -> Iterator[QueueServer]:
    """A real server on SQLite for one test alone: it may be killed and started again."""
    with _server(sqlite_url(tmp_path_factory.mktemp("db")), tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def restartable_server(tmp_path_factory) -> Iterator[QueueServer]:
    """A real server on SQLite that a module's tests may kill and start again."""
    with _server(sqlite_url(tmp_path_factory.mktemp("db")), tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def any_server(backend, request) -> QueueServer:
    """A real server on each backend (SQLite, PostgreSQL), for what the live stream depends on.

    The session's shared one: the tests work in companies of their own.
    """
    return shared_server(request, backend, env=_SERVER_ENV)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD, hashed once: hashing is slow on purpose, and every test makes a company."""
    return security.hash_password(PASSWORD)


@pytest.fixture
def make_company(password_hash) -> Callable[..., Tenant]:
    """``make_company(server, **make_tenant_options)``: a fresh company whose people log in with PASSWORD."""

    def make(server: QueueServer, **options) -> Tenant:
        company = make_tenant(server.database_url, **options)
        database = Database(server.database_url)
        try:
            with database.write() as session:
                session.execute(update(User).where(User.id.in_(company.user_ids.values()))
                                .values(password_hash=password_hash))
        finally:
            database.dispose()
        return company

    return make


@pytest.fixture
def tenant(sqlite_server, make_company) -> Tenant:
    """A fresh company on the SQLite server: an admin and two supporters who can log in."""
    return make_company(sqlite_server, supporters=2)
