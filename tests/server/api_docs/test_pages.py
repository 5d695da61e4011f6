"""The API documentation pages over HTTP: this server's own assets, the dashboard's policy, a setting to turn them off."""

import hashlib
import re
from importlib.resources import files

import pytest

from server.api_docs import ASSETS_URL, DOCS_URL, REDOC_URL, VENDORED, redoc_policy
from server.config import Settings
from server.web.templating import CONTENT_SECURITY_POLICY
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url

PAGES = (DOCS_URL, REDOC_URL)
_REFERENCE = re.compile(r'\b(?:src|href|data-spec-url)="([^"]*)"')
_NONCE = re.compile(r'<script [^>]*nonce="([^"]+)"')


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def client(database_url):
    with in_process(database_url) as running:
        yield running


def references(page: str) -> list[str]:
    return _REFERENCE.findall(page)


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_reference_only_this_server(client, path):
    page = client.get(path).text
    assert references(page)
    for url in references(page):
        assert url.startswith("/") and not url.startswith(("//", "/\\")), url
    assert "http://" not in page and "https://" not in page, page


@pytest.mark.parametrize("path", PAGES)
def test_every_asset_a_page_names_is_served_by_this_server(client, path):
    for url in references(client.get(path).text):
        response = client.get(url)
        assert response.status_code == 200, url
        expected = {"js": "javascript", "css": "text/css", "json": "application/json"}[url.rsplit(".", 1)[-1]]
        assert expected in response.headers["content-type"], url


def test_the_vendored_bundles_are_the_pinned_package_s_files(client):
    """Swagger UI and ReDoc come from fastapi-offline as it installed them, byte for byte."""
    shipped = files(VENDORED[0]) / VENDORED[1]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        served = hashlib.sha256(client.get(f"{ASSETS_URL}/{name}").content).hexdigest()
        assert served == hashlib.sha256((shipped / name).read_bytes()).hexdigest(), name


def test_swagger_ui_carries_the_dashboard_s_policy(client):
    response = client.get(DOCS_URL)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"


def test_redoc_carries_the_dashboard_s_policy_with_a_style_nonce_of_its_own_per_answer(client):
    first, second = client.get(REDOC_URL), client.get(REDOC_URL)
    (nonce,) = _NONCE.findall(first.text)
    assert first.headers["content-security-policy"] == redoc_policy(nonce)
    assert nonce not in second.text and nonce not in second.headers["content-security-policy"]
    directives = dict(part.split(" ", 1) for part in redoc_policy(nonce).split("; "))
    assert directives["script-src"] == "'self'"  # scripts stay this server's own
    assert directives["default-src"] == "'self'" and directives["img-src"] == "'self' data: blob:"
    assert first.headers["x-frame-options"] == "DENY"


def test_no_page_has_an_inline_script(client):
    for path in PAGES:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", client.get(path).text), path


def test_turned_off_the_pages_and_their_assets_are_not_found_and_the_api_document_stays(database_url):
    with in_process(database_url, api_docs=False) as client:
        for path in (*PAGES, f"{ASSETS_URL}/swagger-ui-bundle.js", f"{ASSETS_URL}/swagger-ui-init.js"):
            assert client.get(path).status_code == 404, path
        assert client.get("/openapi.json").json()["paths"]


def test_the_environment_turns_the_pages_off(monkeypatch):
    monkeypatch.setenv("SOSQUEUE_API_DOCS", "false")
    assert Settings().api_docs is False
    monkeypatch.delenv("SOSQUEUE_API_DOCS")
    assert Settings().api_docs is True
