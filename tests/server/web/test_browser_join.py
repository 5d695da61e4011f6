"""The customer's page of a request in Chromium: what the customer sees, the download button, the refusals."""

from pathlib import Path

import pytest

from server import admin as setup
from server.db import Database
from server.links import end_customer_link
from server.models import Module
from sosqueue import codes, module_config, payload
from tests.support import bases
from tests.support.databases import own_server
from tests.support.tenants import file_request, make_tenant

SECRET = "join-browser-test-secret-0123456789abcdef"
WINDOWS_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


@pytest.fixture(scope="module")
def join_server(request, tmp_path_factory):
    """A server on SQLite with a Windows and a Linux base, and a key the test knows."""
    folder = tmp_path_factory.mktemp("bases")
    bases.put_server_base(folder, "windows", bases.minimal_pe())
    bases.put_server_base(folder, "linux", bases.FAKE_LINUX_BASE)
    env = {"SOSQUEUE_BASES_DIR": str(folder), "SOSQUEUE_SECRET_KEY": SECRET}
    with own_server("sqlite", request, tmp_path_factory, env=env) as running:
        yield running


@pytest.fixture
def tenant(join_server):
    """A company whose module can go into a download."""
    tenant = make_tenant(join_server.database_url, supporters=1)
    database = Database(join_server.database_url)
    try:
        with database.write() as session:
            tenant.module_token = setup.rotate_module_token(session, module=session.get(Module, tenant.module_id),
                                                            secret_key=SECRET)
    finally:
        database.dispose()
    return tenant


def test_the_customer_sees_the_code_downloads_the_module_for_windows_and_reads_how_to_start_it(
        join_server, tenant, new_page, artifacts_dir, tmp_path):
    code = file_request(join_server.url, tenant.supporter_token)["code"]
    page = new_page(user_agent=WINDOWS_BROWSER, accept_downloads=True)
    page.goto(end_customer_link(join_server.url, codes.normalize(code)))
    assert page.locator("#join-product").inner_text() == tenant.name
    assert page.locator("#join-code").inner_text() == code
    buttons = page.locator("#join-downloads a.download")
    assert buttons.all_inner_texts() == ["Download for Windows", "Download for Linux"]
    assert "primary" in buttons.first.get_attribute("class")
    assert "On a Mac" not in page.locator("#join").inner_text()  # no macOS download here
    page.screenshot(path=artifacts_dir / "join-page.png", full_page=True)
    with page.expect_download() as started:
        buttons.first.click()
    download = started.value
    slug = tenant.name.replace(" ", "-")
    assert download.suggested_filename == f"{slug}.exe"
    saved = Path(tmp_path / download.suggested_filename)
    download.save_as(saved)
    assert saved.read_bytes().startswith(bases.minimal_pe())
    assert module_config.parse(payload.read(saved)).module_token == tenant.module_token
    assert not page.locator("#join-commands code[data-platform=windows]").is_visible()
    page.locator("#join-commands summary").click()
    command = page.locator("#join-commands code[data-platform=windows]")
    assert command.inner_text() == f".\\{slug}.exe --code {code}"
    assert page.evaluate("window.__violations") == [] and page.errors == []


def test_an_unknown_code_shows_a_plain_refusal(join_server, new_page):
    page = new_page()
    response = page.goto(f"{join_server.url}/join/s00-000-000")
    assert response.status == 404
    assert page.locator("#join-refused h1").inner_text() == "Link not found"
    assert page.locator("#join-refused a").count() == 0  # no way into the dashboard from here
    assert page.evaluate("window.__violations") == [] and page.errors == []
