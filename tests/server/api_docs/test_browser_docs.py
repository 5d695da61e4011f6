"""The API documentation pages in Chromium: they render from this server alone, and the policy refuses nothing of theirs.

Every request that would leave the computer is aborted in the browser (and recorded), as on a
server without internet; the page's Content-Security-Policy violations are recorded as they happen.
"""

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from server.api_docs import DOCS_URL, REDOC_URL
from sosqueue.urls import is_loopback
from tests.support.browser import WAIT_MS
from tests.support.servers import QueueServer, shared_server

_OPERATION_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Runs before the page's own scripts: what the policy refused, and what it refused to load.
_REFUSALS_SCRIPT = """
window.__refusals = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refusals.push(event.effectiveDirective + " " + event.blockedURI);
});
"""
#: ReDoc's side menu shows Redocly's logo from their CDN; the policy blocks it (server.api_docs).
REDOCLY_LOGO_REFUSED = "img-src https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def docs_server(request) -> QueueServer:
    return shared_server(request, "sqlite")


@pytest.fixture(scope="module")
def operations(docs_server) -> int:
    """How many operations the API document lists."""
    document = httpx.get(f"{docs_server.url}/openapi.json").json()
    return sum(method in _OPERATION_METHODS for path in document["paths"].values() for method in path)


@pytest.fixture
def offline_page(browser) -> Iterator[Page]:
    """A page in a context of its own that reaches nothing but this computer; ``page.off_origin``
    lists what it tried to reach elsewhere, ``page.errors`` its uncaught script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(_REFUSALS_SCRIPT)
    page = context.new_page()
    page.off_origin, page.errors = [], []

    def only_this_computer(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("blob", "data") or is_loopback(url.hostname or ""):
            route.continue_()
        else:
            page.off_origin.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_computer)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def refusals(page: Page) -> list[str]:
    return page.evaluate("() => window.__refusals")


def test_swagger_ui_renders_every_operation_and_tries_one_out_from_this_server_alone(docs_server, operations,
                                                                                      offline_page):
    page = offline_page
    page.goto(f"{docs_server.url}{DOCS_URL}")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() == operations

    healthz = page.locator(".opblock", has=page.locator("[data-path='/healthz']"))
    healthz.locator(".opblock-summary").click()
    healthz.locator("button.try-out__btn").click()
    healthz.locator("button.execute").click()
    expect(healthz.locator(".live-responses-table tbody .response-col_status")).to_have_text("200", timeout=WAIT_MS)

    assert refusals(page) == []
    assert page.off_origin == []
    assert page.errors == []


def test_redoc_renders_every_operation_and_searches_them_from_this_server_alone(docs_server, operations,
                                                                                offline_page):
    page = offline_page
    page.goto(f"{docs_server.url}{REDOC_URL}")
    page.wait_for_selector("[data-section-id^='operation/']")
    assert page.locator("[data-section-id^='operation/']").count() == operations

    page.fill("input[placeholder='Search...']", "healthz")  # the search runs in ReDoc's worker
    found = page.locator("[data-role='search:results'] li")
    expect(found).to_have_count(1, timeout=WAIT_MS)
    expect(found).to_contain_text("Healthz")

    assert refusals(page) == [REDOCLY_LOGO_REFUSED]  # its styles, worker and scripts all pass
    assert page.off_origin == []
    assert page.errors == []
