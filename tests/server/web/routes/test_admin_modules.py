"""The modules admin page over HTTP: create, strategy, rotate, revoke, and stamped downloads.

Downloads are stamped from the real PyInstaller base agent (tests/support/bases.py, built once
and cached), a real tiny Windows executable and a macOS bundle laid out like a real one.
"""

import html
import io
import re
import shutil
import json
import stat
import subprocess
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from sosqueue import module_config
from sosqueue import payload
from builder.bases import base_platform
from builder.stamping import inspect_module
from server import admin as setup
from server.db import Database
from server.models import Module
from tests.support.databases import own_server
from tests.support import bases
from tests.support.dashboard import FORGED, NOT_ADMIN, NOT_HERE, PASSWORD, logged_in
from tests.support.polling import eventually
from tests.support.servers import SOSQUEUE, QueueServer, sqlite_url
from tests.support.tenants import bearer, file_request, make_tenant

ROTATE_FIRST = "This module's token cannot go into a download. Rotate the token once, then download the module."
INSECURE = ("Modules must reach the queue over https:// (plain http:// works only on the server's own computer). "
            "Whoever runs the server sets SOSQUEUE_PUBLIC_URL to its https:// address.")
LINUX_AGENT = "0.4.2"


@pytest.fixture(scope="module")
def bases_dir(tmp_path_factory) -> Path:
    """What `sosqueue build-base` leaves for the server: a base per platform (Windows' without base.json)."""
    return bases.server_bases(tmp_path_factory.mktemp("bases"), linux_version=LINUX_AGENT)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """The server's temporary folder, where downloads are stamped."""
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory, bases_dir, scratch):
    """Like the shared ``server`` fixture, with base agents to stamp downloads from."""
    env = {"SOSQUEUE_BASES_DIR": str(bases_dir), "TMPDIR": str(scratch)}
    with own_server(backend, request, tmp_path_factory, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(server):
    """A company whose module files into a group and assigns in turn."""
    return make_tenant(server.database_url, password=PASSWORD, supporters=2, group_members=1,
                       assignment="round_robin")


@pytest.fixture(scope="module")
def other(server):
    return make_tenant(server.database_url, password=PASSWORD, group_members=1)


def module_rows(page: str) -> dict[str, tuple[str, str, str]]:
    """{module id: (name, token state, assignment)} of the modules table."""
    rows = re.findall(r'<tr data-id="([^"]+)" data-name="([^"]*)" data-token="(\w+)" data-assignment="([^"]*)">', page)
    return {module_id: (html.unescape(name), state, assignment) for module_id, name, state, assignment in rows}


def row_html(page: str, module_id: str) -> str:
    return re.search(rf'<tr data-id="{module_id}".*?</tr>', page, re.S).group(0)


def download_links(fragment: str) -> list[str]:
    return re.findall(r'<a class="download" data-platform="(\w+)" href="([^"]+)"', fragment)


def field_errors(page: str) -> dict[str, str]:
    return {key: html.unescape(text) for key, text in re.findall(r'data-field="([^"]+)">([^<]*)</p>', page)}


def error_message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message">([^<]*)</p>', page).group(1))


def shown_token(page: str) -> str:
    return re.search(r'id="module-token">(sqm_[\w-]+)</p>', page).group(1)


def create(admin, name: str | None = None, *, group: str = "", assignment: str = "none") -> tuple[str, str]:
    """Create a module on the page; returns its id and its token."""
    response = admin.post("/admin/modules", {"name": name or f"Desk {uuid.uuid4().hex[:6]}", "group": group,
                                             "assignment": assignment})
    assert response.status_code == 200, response.text
    return re.search(r'id="module-id">([^<]+)</code>', response.text).group(1), shown_token(response.text)


def team_id(database: Database, tenant) -> str:
    """The id of the group make_tenant made for the tenant's module."""
    with database.read() as session:
        company = setup.company_by_name(session, tenant.name)
        return setup.group_by_name(session, company_id=company.id, name=f"team-{tenant.name.split()[-1]}").id


def filing_status(server, token: str) -> int:
    response = httpx.post(f"{server.url}/api/v1/service-requests", json={"description": "help"},
                          headers=bearer(token), timeout=10)
    return response.status_code


def module_count(database: Database, tenant) -> int:
    with database.read() as session:
        company = setup.company_by_name(session, tenant.name)
        return session.scalar(select(func.count()).select_from(Module).where(Module.company_id == company.id))


def legacy_module(database: Database, tenant) -> tuple[str, str]:
    """A module whose token was made at random (as before tokens were derivable)."""
    with database.write() as session:
        created = setup.create_module(session, company=setup.company_by_name(session, tenant.name), name="Old")
        return created.item.id, created.token


def download(admin, module_id: str, platform: str, folder: Path) -> tuple[httpx.Response, Path | None]:
    response = admin.get(f"/admin/modules/{module_id}/download/{platform}")
    if response.status_code != 200:
        return response, None
    name = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"]).group(1)
    path = folder / name
    path.write_bytes(response.content)
    return response, path


# -- the page and its actions --------------------------------------------------------------


def test_the_page_lists_the_company_modules_with_group_strategy_and_token_state(admin, tenant, other):
    page = admin.get("/admin/modules").text
    rows = module_rows(page)
    assert rows[tenant.module_id] == ("SOS", "active", "round_robin")
    assert other.module_id not in rows
    row = row_html(page, tenant.module_id)
    assert f'<td class="group">team-{tenant.name.split()[-1]}</td>' in row
    assert "Rotate the token once to download this module." in row  # its token was made at random
    assert 'id="no-bases"' not in page and 'id="url-problem"' not in page


def test_a_new_module_shows_its_token_once_and_files_into_its_group_for_its_assignee(server, admin, tenant, database):
    first = tenant.supporter_email
    response = admin.post("/admin/modules", {"name": "Front desk", "group": team_id(database, tenant),
                                             "assignment": f"fixed:{first.upper()}"})
    assert response.status_code == 200
    token = shown_token(response.text)
    module_id = re.search(r'id="module-id">([^<]+)</code>', response.text).group(1)
    assert download_links(response.text) == [(p, f"/admin/modules/{module_id}/download/{p}")
                                             for p in ("linux", "windows", "macos")]
    filed = file_request(server.url, token)
    assert (filed["group"], filed["assignee"]["id"]) == (f"team-{tenant.name.split()[-1]}", tenant.user_ids[first])
    page = admin.get("/admin/modules").text
    assert token not in page
    assert module_rows(page)[module_id] == ("Front desk", "active", f"fixed:{first}")
    assert [p for p, _ in download_links(row_html(page, module_id))] == ["linux", "windows", "macos"]


def test_bad_module_input_is_refused_beside_each_field_and_nothing_is_saved(admin, tenant, other, database):
    before = module_count(database, tenant)
    response = admin.post("/admin/modules", {"name": "", "group": team_id(database, other), "assignment": "sometimes"})
    assert response.status_code == 422
    assert field_errors(response.text) == {
        "name": "Fill this in.",
        "group": "Choose one of your company's groups.",
        "assignment": "Choose who gets the module's new requests from the list.",
    }
    for stranger in ("ghost@example.test", other.admin_email):
        response = admin.post("/admin/modules", {"name": "Desk", "group": "", "assignment": f"fixed:{stranger}"})
        assert response.status_code == 422
        assert field_errors(response.text) == {"assignment": "There is no user with this email in your company."}
    assert module_count(database, tenant) == before


def test_a_changed_strategy_decides_who_gets_the_next_request(server, admin, tenant):
    module_id, token = create(admin)
    second = list(tenant.supporter_tokens)[1]
    assert file_request(server.url, token)["assignee"] is None
    response = admin.post(f"/admin/modules/{module_id}/assignment", {"assignment": f"fixed:{second}"})
    assert (response.status_code, response.headers["location"]) == (303, "/admin/modules")
    assert module_rows(admin.get("/admin/modules").text)[module_id][2] == f"fixed:{second}"
    assert file_request(server.url, token)["assignee"]["id"] == tenant.user_ids[second]

    refused = admin.post(f"/admin/modules/{module_id}/assignment", {"assignment": "fixed:"})
    assert refused.status_code == 422
    assert field_errors(refused.text) == {
        f"assignment:{module_id}": "Choose who gets the module's new requests from the list.",
    }
    assert file_request(server.url, token)["assignee"]["id"] == tenant.user_ids[second]


def test_rotation_stops_the_old_token_at_once_and_the_new_one_works(server, admin):
    module_id, old = create(admin)
    response = admin.post(f"/admin/modules/{module_id}/rotate")
    assert response.status_code == 200
    new = shown_token(response.text)
    assert new != old
    assert "Modules already handed out stop working until they are replaced" in response.text
    assert (filing_status(server, old), filing_status(server, new)) == (401, 201)


def test_a_revoked_module_is_refused_until_its_token_is_rotated(server, admin, tmp_path):
    module_id, token = create(admin)
    response = admin.post(f"/admin/modules/{module_id}/revoke")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/modules")
    page = admin.get("/admin/modules").text
    assert module_rows(page)[module_id][1] == "revoked"
    assert download_links(row_html(page, module_id)) == []
    assert filing_status(server, token) == 401
    refused, _ = download(admin, module_id, "linux", tmp_path)
    assert refused.status_code == 409
    assert error_message(refused.text) == "This module is revoked. Rotate its token to use it again, then download it."

    revived = shown_token(admin.post(f"/admin/modules/{module_id}/rotate").text)
    assert module_rows(admin.get("/admin/modules").text)[module_id][1] == "active"
    assert (filing_status(server, token), filing_status(server, revived)) == (401, 201)


# -- downloads -----------------------------------------------------------------------------


def test_the_linux_download_is_the_real_base_stamped_with_a_working_token(server, admin, tenant, bases_dir, scratch,
                                                                          tmp_path):
    module_id, token = create(admin, "Linux desk")
    response, module = download(admin, module_id, "linux", tmp_path)
    assert response.status_code == 200
    slug = tenant.name.replace(" ", "-")
    assert (module.name, response.headers["content-type"]) == (slug, "application/octet-stream")
    base = (bases_dir / "linux" / "sosqueue-agent").read_bytes()
    assert module.read_bytes()[:len(base)] == base
    assert base_platform(module) == "linux"
    inspected = inspect_module(module)
    assert (inspected["checksum"], inspected["module"]["id"]) == ("ok", module_id)
    assert inspected["server"]["url"] == server.url
    assert (inspected["brand"]["company"], inspected["brand"]["product"]) == (tenant.name, tenant.name)
    carried = module_config.parse(payload.read(module))
    assert carried.module_token == token
    assert filing_status(server, carried.module_token) == 201
    eventually(lambda: not any(scratch.iterdir()), what="the stamping folder removed")


def test_the_windows_download_is_the_base_exe_stamped_with_the_servers_update_key(server, admin, tenant, tmp_path):
    module_id, token = create(admin, "Windows desk")
    response, module = download(admin, module_id, "windows", tmp_path)
    assert (response.status_code, module.name) == (200, tenant.name.replace(" ", "-") + ".exe")
    assert module.read_bytes().startswith(bases.minimal_pe())
    carried = module_config.parse(payload.read(module))
    assert (carried.module_id, carried.module_token) == (module_id, token)
    registered = httpx.get(f"{server.url}/api/v1/modules/{module_id}/token", headers=bearer(tenant.admin_token),
                           timeout=10)
    assert carried.update_key == registered.json()["update_key"]


def test_the_macos_download_is_the_stamped_bundle_zipped_with_its_symlinks(admin, tenant, tmp_path):
    module_id, token = create(admin, "Mac desk")
    response, archive = download(admin, module_id, "macos", tmp_path)
    app = tenant.name.replace(" ", "-") + ".app"
    assert (response.status_code, archive.name, response.headers["content-type"]) == (200, f"{app}.zip",
                                                                                     "application/zip")
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as zipped:
        names = set(zipped.namelist())
        link = zipped.getinfo(f"{app}/{bases.BUNDLE_LINK}")
        assert stat.S_ISLNK(link.external_attr >> 16)
        assert zipped.read(link) == b"../MacOS/sosqueue-agent"
        executable = zipped.getinfo(f"{app}/Contents/MacOS/sosqueue-agent")
        assert executable.external_attr >> 16 & 0o777 == 0o755
        (tmp_path / "module.bin").write_bytes(zipped.read(f"{app}/{payload.MACOS_RESOURCE}"))
    assert names == {f"{app}/Contents/MacOS/sosqueue-agent", f"{app}/Contents/Info.plist", f"{app}/{bases.BUNDLE_LINK}",
                     f"{app}/{payload.MACOS_RESOURCE}"}
    carried = module_config.parse(payload.read(tmp_path / "module.bin"))
    assert (carried.module_id, carried.module_token) == (module_id, token)


def test_a_module_with_a_random_token_is_downloaded_after_one_rotation(admin, tenant, database, tmp_path):
    module_id, _token = legacy_module(database, tenant)
    assert "Rotate the token once to download this module." in row_html(admin.get("/admin/modules").text, module_id)
    refused, _ = download(admin, module_id, "linux", tmp_path)
    assert (refused.status_code, error_message(refused.text)) == (409, ROTATE_FIRST)
    token = shown_token(admin.post(f"/admin/modules/{module_id}/rotate").text)
    response, module = download(admin, module_id, "linux", tmp_path)
    assert response.status_code == 200
    assert module_config.parse(payload.read(module)).module_token == token


@pytest.mark.parametrize("made_by", ["cli", "api"])
def test_modules_made_with_the_cli_or_the_api_can_be_downloaded_at_once(server, admin, tenant, tmp_path, made_by):
    if made_by == "cli":
        done = subprocess.run([str(SOSQUEUE), "module", "create", "Scripted", "--company", tenant.name,
                               "--db", server.database_url, "--json"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        made = json.loads(done.stdout)
    else:
        answer = httpx.post(f"{server.url}/api/v1/modules", json={"name": "Scripted"},
                            headers=bearer(tenant.admin_token), timeout=10)
        assert answer.status_code == 201, answer.text
        made = answer.json()
    assert [p for p, _ in download_links(row_html(admin.get("/admin/modules").text, made["id"]))] \
        == ["linux", "windows", "macos"]
    response, module = download(admin, made["id"], "windows", tmp_path)
    assert response.status_code == 200
    assert module_config.parse(payload.read(module)).module_token == made["token"]


def agent_versions(fragment: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="agent-version" data-platform="(\w+)">([^<]*)</span>', fragment))


def test_each_download_names_the_agent_version_of_its_base_where_the_server_knows_it(admin, server, tenant):
    module_id, _token = create(admin)
    assert agent_versions(row_html(admin.get("/admin/modules").text, module_id)) == {"linux": f"(agent {LINUX_AGENT})"}
    with logged_in(server.url, tenant.admin_email) as german:
        german.get("/language/de")
        assert agent_versions(row_html(german.get("/admin/modules").text, module_id)) == {
            "linux": f"(Agent {LINUX_AGENT})"}


def test_only_platforms_whose_base_is_on_the_server_are_offered(admin, bases_dir, tmp_path):
    module_id, _token = create(admin)
    parked = tmp_path / "parked.app"
    shutil.move(bases_dir / "macos" / "sosqueue-agent.app", parked)
    try:
        offered = [p for p, _ in download_links(row_html(admin.get("/admin/modules").text, module_id))]
        missing, _ = download(admin, module_id, "macos", tmp_path)
        unknown, _ = download(admin, module_id, "solaris", tmp_path)
    finally:
        shutil.move(parked, bases_dir / "macos" / "sosqueue-agent.app")
    assert offered == ["linux", "windows"]
    assert (missing.status_code, error_message(missing.text)) == (404, "This server has no base agent for macos.")
    assert (unknown.status_code, error_message(unknown.text)) == (404, "This server has no base agent for solaris.")


def test_downloads_need_a_public_url_that_customers_reach_over_https(bases_dir, tmp_path):
    """The page names the public URL that modules will use; a plain http one is refused for downloads."""
    env = {"SOSQUEUE_BASES_DIR": str(bases_dir), "SOSQUEUE_PUBLIC_URL": "http://queue.example.test"}
    with QueueServer(sqlite_url(tmp_path), env=env, log_dir=tmp_path) as public:
        company = make_tenant(public.database_url, password=PASSWORD)
        with logged_in(public.url, company.admin_email) as client:
            module_id, _token = create(client)
            page = client.get("/admin/modules").text
            response, _ = download(client, module_id, "windows", tmp_path)
    assert "Downloaded modules reach the queue at http://queue.example.test." in page
    assert html.unescape(re.search(r'id="url-problem">([^<]+)<', page).group(1)) == INSECURE
    assert download_links(row_html(page, module_id)) == []
    assert (response.status_code, error_message(response.text)) == (409, INSECURE)


# -- who may do what -----------------------------------------------------------------------


def test_another_company_module_gives_404_and_keeps_working(server, admin, other, database, tmp_path):
    with database.read() as session:
        before = session.get(Module, other.module_id)
        before = (before.assignment, before.token_hash, before.revoked_at)
    responses = [
        admin.post(f"/admin/modules/{other.module_id}/assignment", {"assignment": "least_open"}),
        admin.post(f"/admin/modules/{other.module_id}/rotate"),
        admin.post(f"/admin/modules/{other.module_id}/revoke"),
        download(admin, other.module_id, "linux", tmp_path)[0],
    ]
    assert [r.status_code for r in responses] == [404] * 4
    assert {error_message(r.text) for r in responses} == {NOT_HERE}
    with database.read() as session:
        after = session.get(Module, other.module_id)
        assert (after.assignment, after.token_hash, after.revoked_at) == before
    assert filing_status(server, other.module_token) == 201


def test_supporters_get_the_403_page_on_every_modules_page_and_action(server, tenant, database, tmp_path):
    before = module_count(database, tenant)
    with logged_in(server.url, tenant.supporter_email) as supporter:
        responses = [
            supporter.get("/admin/modules"),
            supporter.post("/admin/modules", {"name": "Mine", "group": "", "assignment": "none"}),
            supporter.post(f"/admin/modules/{tenant.module_id}/assignment", {"assignment": "none"}),
            supporter.post(f"/admin/modules/{tenant.module_id}/rotate"),
            supporter.post(f"/admin/modules/{tenant.module_id}/revoke"),
            download(supporter, tenant.module_id, "linux", tmp_path)[0],
        ]
    assert [r.status_code for r in responses] == [403] * 6
    assert {error_message(r.text) for r in responses} == {NOT_ADMIN}
    assert module_count(database, tenant) == before
    assert filing_status(server, tenant.module_token) == 201


def test_a_forged_rotation_or_revocation_changes_nothing(server, admin):
    module_id, token = create(admin)
    for action in ("rotate", "revoke"):
        response = admin.post(f"/admin/modules/{module_id}/{action}", {"csrf_token": "forged"})
        assert (response.status_code, error_message(response.text)) == (403, FORGED)
    assert filing_status(server, token) == 201


def test_the_modules_page_speaks_german(server, tenant):
    with logged_in(server.url, tenant.admin_email) as client:
        client.get("/language/de")
        page = client.get("/admin/modules").text
        refused = client.post("/admin/modules", {"name": "", "group": "", "assignment": "none"})
    for text in ("Neues Modul", "Token erneuern", "Sperren", "Wer neue Anfragen erhält", "Reihum unter den"):
        assert text in page
    assert field_errors(refused.text) == {"name": "Bitte füllen Sie dieses Feld aus."}

