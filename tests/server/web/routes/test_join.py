"""The customer's page of a request over HTTP (``/join/{code}``): what it says, its stamped downloads, and
what it answers to codes it must not serve; on a real server, SQLite and PostgreSQL.

The Linux download is the real PyInstaller base agent (tests/support/bases.py), stamped by the server and
started here with the code, as the page tells the customer to.
"""

import html
import io
import os
import re
import stat
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import update

from builder.stamping import inspect_module
from server import admin as setup
from server.db import Database
from server.links import end_customer_link
from server.models import Module, ServiceRequest, utcnow
from server.web.routes import join
from sosqueue import codes, module_config, payload
from tests.support import bases
from tests.support.databases import own_server
from tests.support.polling import eventually
from tests.support.tenants import bearer, file_request, make_tenant

SECRET = "join-page-test-secret-0123456789abcdef-xyz"
UNKNOWN = ("This link does not lead to a support request. Check that you copied all of it, or ask your supporter "
           "for a new link.")
OVER = ("This support request is already closed or has expired. If you still need help, ask your supporter for a "
        "new link.")
NO_DOWNLOAD = "There is no download of the support module for you here. Ask your supporter for the support module."
NO_PLATFORM = ("There is no download for this kind of computer here. Use one of the buttons on the page, or ask your "
               "supporter for the support module.")
WINDOWS_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
AGENT_TIMEOUT = 180


@pytest.fixture(scope="module")
def bases_dir(tmp_path_factory) -> Path:
    """What `sosqueue build-base` leaves for the server: the real Linux base, a tiny Windows one, a macOS bundle."""
    return bases.server_bases(tmp_path_factory.mktemp("bases"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory, bases_dir, scratch):
    """A server with base agents and a known key, so that the test can make modules whose token is derivable."""
    env = {"SOSQUEUE_BASES_DIR": str(bases_dir), "TMPDIR": str(scratch), "SOSQUEUE_SECRET_KEY": SECRET}
    with own_server(backend, request, tmp_path_factory, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def database(server):
    db = Database(server.database_url)
    yield db
    db.dispose()


@pytest.fixture
def tenant(server):
    """A company whose module (token made at random, as the CLI's older modules) files into its group."""
    return make_tenant(server.database_url, supporters=1, group_members=1)


def add_module(database: Database, tenant, name: str, *, group: str | None = None, derivable: bool = True,
               revoked: bool = False) -> str:
    with database.write() as session:
        company = setup.company_by_name(session, tenant.name)
        created = setup.create_module(session, company=company, name=name, group=group,
                                      secret_key=SECRET if derivable else None)
        if revoked:
            created.item.revoked_at = utcnow()
        return created.item.id


def make_derivable(database: Database, module_id: str) -> str:
    with database.write() as session:
        return setup.rotate_module_token(session, module=session.get(Module, module_id), secret_key=SECRET)


def group_of(tenant) -> str:
    return f"team-{tenant.name.split()[-1]}"


def page(server, code: str, **headers) -> httpx.Response:
    return httpx.get(end_customer_link(server.url, code), headers=headers, timeout=30)


def message(response: httpx.Response) -> str:
    return html.unescape(re.search(r'<p class="message">([^<]*)</p>', response.text).group(1))


def text_of(page_html: str, element_id: str) -> str:
    return html.unescape(re.search(rf'id="{element_id}"[^>]*>(.*?)</', page_html, re.S).group(1)).strip()


def download_links(page_html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a class="button download[^"]*" data-platform="(\w+)" href="([^"]+)"', page_html)


def set_request(database: Database, code: str, **values) -> None:
    with database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(code)).values(**values))


# -- the page -------------------------------------------------------------------------------


def test_the_page_names_the_company_shows_the_code_and_offers_each_platform(server, database, tenant):
    """A request filed by a module whose token can be stamped: its brand, the code, a download per base."""
    token = make_derivable(database, tenant.module_id)
    code = file_request(server.url, token)["code"]
    response = page(server, code.replace("-", "").upper(), **{"User-Agent": WINDOWS_BROWSER})
    assert response.status_code == 200
    assert text_of(response.text, "join-product") == tenant.name  # the default brand under the company's name
    assert text_of(response.text, "join-code") == code
    links = download_links(response.text)
    assert links[0] == ("windows", f"/join/{code}/download/windows")  # the customer's own computer first
    assert sorted(platform for platform, _ in links) == ["linux", "macos", "windows"]
    assert 'class="button download primary" data-platform="windows"' in response.text
    assert f'"I have a session code", type {code} and click "Join"' in html.unescape(response.text)
    slug = tenant.name.replace(" ", "-")
    assert f".\\{slug}.exe --code {code}" in response.text
    assert f"chmod +x {slug} &amp;&amp; ./{slug} --code {code}" in response.text
    assert "On a Mac, open the zip file first" in response.text
    assert token not in response.text and SECRET not in response.text
    assert 'href="/queue"' not in response.text and 'href="/login"' not in response.text  # no way into the dashboard
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_module_with_a_brand_of_its_own_shows_its_names_and_logo(server, database, tenant):
    """The names the admin gave the module, and its logo as a data: URL (the page's policy loads images from
    nowhere else); the product names the file to start."""
    make_derivable(database, tenant.module_id)
    named = httpx.put(f"{server.url}/api/v1/modules/{tenant.module_id}/brand", json={
        "company": "Acme <Corp>", "product": "Acme Help"}, headers=bearer(tenant.admin_token), timeout=30)
    assert named.status_code == 200, named.text
    logo = io.BytesIO()
    Image.new("RGB", (128, 128), "#6A1B9A").save(logo, "PNG")
    response = httpx.put(f"{server.url}/api/v1/modules/{tenant.module_id}/brand/logo", content=logo.getvalue(),
                         headers={**bearer(tenant.admin_token), "Content-Type": "image/png"}, timeout=30)
    assert response.status_code == 200, response.text
    code = file_request(server.url, tenant.supporter_token)["code"]
    shown = page(server, code).text
    assert 'id="join-logo" src="data:image/png;base64,' in shown
    assert (text_of(shown, "join-product"), text_of(shown, "join-company")) == ("Acme Help", "Acme <Corp>")
    assert "Acme &lt;Corp&gt;" in shown and f".\\Acme-Help.exe --code {code}" in shown


def test_a_manual_request_offers_the_group_s_module_whose_token_can_be_stamped(server, database, tenant):
    """Filed by hand into the group: the group's module with a random token is passed over for one that can go
    into a download; a revoked one is never offered."""
    add_module(database, tenant, "Revoked desk", group=group_of(tenant), revoked=True)
    stamped = add_module(database, tenant, "Desk", group=group_of(tenant))
    code = file_request(server.url, tenant.supporter_token, group=group_of(tenant))["code"]
    with database.read() as session:
        chosen = join.customer_module(session, session.get(ServiceRequest, _request_id(session, code)), SECRET)
        assert (chosen.module.id, chosen.token is not None) == (stamped, True)
    assert download_links(page(server, code).text)


def _request_id(session, code: str) -> int:
    return session.query(ServiceRequest.id).filter(ServiceRequest.code == codes.normalize(code)).scalar()


@pytest.mark.parametrize(("modules", "expected", "stamped"), [
    ([("own", None, True), ("group", "G", True), ("company", None, True)], "own", True),
    ([("own", None, False), ("group", "G", True), ("company", None, True)], "group", True),
    ([("other group", "H", True), ("company", None, True)], "company", True),
    ([("other group", "H", True)], "other group", True),
    ([("own", None, False), ("company", None, False)], "own", False),  # none can be stamped: the closest
    ([("revoked", None, "revoked")], None, False),
])
def test_the_module_is_the_closest_to_the_request_that_can_be_stamped(server, database, tenant, modules, expected,
                                                                       stamped):
    """Its own, its group's, the company's, another group's; one that can go into a download first; never a
    revoked one."""
    with database.write() as session:
        company = setup.company_by_name(session, tenant.name)
        setup.revoke_module(session, module=session.get(Module, tenant.module_id))
        for group in ("G", "H"):
            setup.create_group(session, company=company, name=f"{group}-{tenant.name}")
    ids = {name: add_module(database, tenant, name, group=f"{group}-{tenant.name}" if group else None,
                            derivable=derivable is True, revoked=derivable == "revoked")
           for name, group, derivable in modules}
    with database.write() as session:
        company = setup.company_by_name(session, tenant.name)
        group_id = setup.group_by_name(session, company_id=company.id, name=f"G-{tenant.name}").id
        request = ServiceRequest(code=codes.generate(), company_id=company.id, group_id=group_id,
                                 module_id=ids.get("own"), source="module", status="new", description="x",
                                 created_by="system", valid_until=utcnow() + timedelta(hours=1))
        session.add(request)
        session.flush()
        chosen = join.customer_module(session, request, SECRET)
        if expected is None:
            assert chosen is None
        else:
            assert (chosen.module.id, chosen.token is not None) == (ids[expected], stamped)


def test_without_a_module_to_stamp_the_page_says_to_ask_the_supporter(server, database, tenant):
    """The company's only module has a random token: the page names it, offers no download and says what to do."""
    code = file_request(server.url, tenant.supporter_token)["code"]
    response = page(server, code)
    assert response.status_code == 200
    assert download_links(response.text) == []
    assert "ask your supporter for it" in text_of(response.text, "join-no-download")
    assert f"--code {code}" in response.text
    refused = httpx.get(f"{server.url}/join/{code}/download/linux", timeout=30)
    assert (refused.status_code, message(refused)) == (404, NO_DOWNLOAD)


# -- the download ---------------------------------------------------------------------------


def test_the_linux_download_is_the_real_agent_stamped_and_it_joins_the_request_with_the_code(
        server, database, tenant, scratch, tmp_path):
    """Downloaded as a customer would, made executable and started with ``--code`` as the page says: the
    request turns pending, with the customer joined."""
    token = make_derivable(database, tenant.module_id)
    code = file_request(server.url, tenant.supporter_token, group=group_of(tenant))["code"]
    links = dict(download_links(page(server, code).text))
    response = httpx.get(server.url + links["linux"], timeout=120)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    name = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"]).group(1)
    assert name == tenant.name.replace(" ", "-")
    module = tmp_path / name
    module.write_bytes(response.content)
    inspected = inspect_module(module)
    assert (inspected["checksum"], inspected["module"]["id"], inspected["server"]["url"]) == (
        "ok", tenant.module_id, server.url)
    assert module_config.parse(payload.read(module)).module_token == token
    eventually(lambda: not any(scratch.iterdir()), what="the stamping folder removed")
    module.chmod(module.stat().st_mode | stat.S_IXUSR)
    env = {**{k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
           "SOSQUEUE_AGENT_HOME": str(tmp_path / "home")}
    done = subprocess.run([str(module), "--code", code, "--no-gui"], env=env, capture_output=True, text=True,
                          timeout=AGENT_TIMEOUT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == code
    history = httpx.get(f"{server.url}/api/v1/service-requests/{code}/history", headers=bearer(tenant.admin_token))
    assert "claimed" in [event["type"] for event in history.json()]
    assert token not in server.log_path.read_text(errors="replace")


@pytest.mark.parametrize(("platform", "name", "media"), [
    ("windows", "{slug}.exe", "application/octet-stream"), ("macos", "{slug}.app.zip", "application/zip"),
])
def test_the_other_platforms_are_stamped_too(server, database, tenant, platform, name, media):
    make_derivable(database, tenant.module_id)
    code = file_request(server.url, tenant.supporter_token)["code"]
    response = httpx.get(f"{server.url}/join/{code}/download/{platform}", timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{name.format(slug=tenant.name.replace(" ", "-"))}"')


# -- what it must not serve -----------------------------------------------------------------


def test_an_unknown_or_malformed_code_is_a_404_that_names_no_company(server, tenant):
    for code in ("s00-000-000", "not-a-code", "s12-345-6789", "%00"):
        response = page(server, code)
        assert (response.status_code, message(response)) == (404, UNKNOWN), code
        assert tenant.name not in response.text
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow"


@pytest.mark.parametrize("how", ["closed", "expired", "past its deadline"])
def test_a_closed_or_expired_request_is_a_410_that_names_no_company(server, database, tenant, how):
    make_derivable(database, tenant.module_id)
    code = file_request(server.url, tenant.supporter_token)["code"]
    if how == "closed":
        assert httpx.post(f"{server.url}/api/v1/service-requests/{code}/close",
                          headers=bearer(tenant.supporter_token)).status_code == 200
    elif how == "expired":
        set_request(database, code, status="expired")
    else:  # not swept yet: served as expired all the same
        set_request(database, code, valid_until=utcnow() - timedelta(seconds=1))
    for response in (page(server, code), httpx.get(f"{server.url}/join/{code}/download/linux", timeout=30)):
        assert (response.status_code, message(response)) == (410, OVER)
        assert tenant.name not in response.text


def test_a_platform_without_a_base_is_a_404_and_an_unknown_code_stays_unknown(server, database, tenant):
    make_derivable(database, tenant.module_id)
    code = file_request(server.url, tenant.supporter_token)["code"]
    for platform in ("solaris", "linux%2F..%2Fwindows", "LINUX", "linux.exe"):
        response = httpx.get(f"{server.url}/join/{code}/download/{platform}", timeout=30)
        assert response.status_code == 404, platform
        if response.headers["content-type"].startswith("text/html") and '<p class="message">' in response.text:
            assert message(response) in (NO_PLATFORM, "This page does not exist.")
    response = httpx.get(f"{server.url}/join/s00-000-000/download/solaris", timeout=30)
    assert (response.status_code, message(response)) == (404, UNKNOWN)


# -- the limits -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_server(request, tmp_path_factory, bases_dir, scratch):
    """A server on SQLite with the guessing limits on: P = 1 a minute (pages: 30 at once; downloads: 5)."""
    env = {"SOSQUEUE_BASES_DIR": str(bases_dir), "TMPDIR": str(scratch), "SOSQUEUE_SECRET_KEY": SECRET,
           "SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "1"}
    with own_server("sqlite", request, tmp_path_factory, env=env) as running:
        yield running


def test_pages_from_one_address_are_limited_so_codes_cannot_be_tried_in_bulk(limited_server):
    """30 pages at once, then a 429 with the wait, for unknown codes and real ones alike."""
    tenant = make_tenant(limited_server.database_url)
    code = file_request(limited_server.url, tenant.supporter_token)["code"]
    with httpx.Client(base_url=limited_server.url, timeout=30) as client:
        statuses = [client.get(f"/join/s{index:08d}").status_code for index in range(29)]
        assert statuses == [404] * 29
        assert client.get(f"/join/{code}").status_code == 200
        refused = client.get(f"/join/{code}")
        assert refused.status_code == 429
        assert message(refused) == f"Too many support pages were opened from your network. Try again in " \
                                   f"{refused.headers['Retry-After']} s."
        assert tenant.name not in refused.text
        time.sleep(int(refused.headers["Retry-After"]))  # the wait it names is enough: the next page opens
        assert client.get(f"/join/{code}").status_code == 200


def test_downloads_from_one_address_are_limited_apart_from_pages(limited_server):
    tenant = make_tenant(limited_server.database_url)
    code = file_request(limited_server.url, tenant.supporter_token)["code"]
    with httpx.Client(base_url=limited_server.url, timeout=30) as client:
        statuses = [client.get(f"/join/{code}/download/solaris").status_code for _ in range(6)]
    assert statuses == [404] * 5 + [429]


def test_the_link_the_server_makes_is_the_page(server, database, tenant):
    """``server.links.end_customer_link`` (what the API hands to integrations) opens this very page."""
    code = file_request(server.url, tenant.supporter_token)["code"]
    assert end_customer_link(server.url, codes.normalize(code)) == f"{server.url}/join/{code}"
    assert page(server, code).status_code == 200


def test_platform_of_reads_the_browser_s_user_agent():
    assert join.platform_of(WINDOWS_BROWSER) == "windows"
    assert join.platform_of("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15") == "macos"
    assert join.platform_of("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0") == "linux"
    assert join.platform_of("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36") is None
    assert join.platform_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148") is None
    assert join.platform_of("") is None
