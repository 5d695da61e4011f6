"""The groups admin page over HTTP: list, create, members, delete; who may do it."""

import html
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from server.db import Database
from server.models import Company, Group
from tests.support.dashboard import FORGED, NOT_ADMIN, NOT_HERE, PASSWORD, logged_in
from tests.support.tenants import bearer, make_tenant



@pytest.fixture(scope="module")
def tenant(server):
    """A company whose module files into a group holding its first supporter."""
    return make_tenant(server.database_url, password=PASSWORD, supporters=2, group_members=1)


@pytest.fixture(scope="module")
def other(server):
    return make_tenant(server.database_url, password=PASSWORD, group_members=1)


def group_members(page: str) -> dict[str, list[str]]:
    """{group name: member emails} as the page lists them."""
    groups = {}
    for name, row in re.findall(r'<tr data-id="[^"]+" data-name="([^"]+)">(.*?)</tr>', page, re.S):
        groups[html.unescape(name)] = re.findall(r'<li data-email="([^"]+)">', row)
    return groups


def group_id(page: str, name: str) -> str:
    return re.search(rf'<tr data-id="([^"]+)" data-name="{re.escape(name)}">', page).group(1)


def field_errors(page: str) -> dict[str, str]:
    return {key: html.unescape(text) for key, text in re.findall(r'data-field="([^"]+)">([^<]*)</p>', page)}


def error_message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message">([^<]*)</p>', page).group(1))


def stored_groups(database: Database, company_name_tag: str) -> dict[str, list[str]]:
    """{group name: member emails} in the database for the groups whose name holds the tag."""
    with database.read() as session:
        groups = session.scalars(select(Group).where(Group.name.contains(company_name_tag))).all()
        return {group.name: sorted(member.email for member in group.members) for group in groups}


def team_of(tenant) -> str:
    """The group make_tenant made for the tenant's module."""
    return f"team-{tenant.name.split()[-1]}"


def new_name(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def create(admin, name: str) -> str:
    """Create a group on the page; returns its id."""
    assert admin.post("/admin/groups", {"name": name}).status_code == 303
    return group_id(admin.get("/admin/groups").text, name)


def test_the_page_lists_the_company_groups_with_their_members(admin, tenant, other):
    page = admin.get("/admin/groups")
    assert page.status_code == 200
    listed = group_members(page.text)
    assert listed[team_of(tenant)] == [tenant.supporter_email]
    assert team_of(other) not in listed
    assert other.supporter_email not in page.text


def test_an_admin_creates_a_group_and_manages_its_members(admin, tenant):
    name = new_name("Printers")
    first, second = list(tenant.supporter_tokens)
    group = create(admin, name)
    assert group_members(admin.get("/admin/groups").text)[name] == []
    for email in (first, second, first):  # adding someone twice changes nothing
        response = admin.post(f"/admin/groups/{group}/members/add", {"user": tenant.user_ids[email]})
        assert (response.status_code, response.headers["location"]) == (303, "/admin/groups")
    assert group_members(admin.get("/admin/groups").text)[name] == sorted([first, second])
    assert admin.post(f"/admin/groups/{group}/members/remove", {"user": tenant.user_ids[first]}).status_code == 303
    assert group_members(admin.get("/admin/groups").text)[name] == [second]


def test_bad_and_duplicate_names_are_refused_and_nothing_is_saved(admin, database):
    name = new_name("Twice")
    create(admin, name)
    for typed, status, message in (
        ("", 422, "Fill this in."),
        ("x" * 101, 422, "Use at most 100 characters on one line."),
        (f"{name}\u0007", 422, "Use at most 100 characters on one line."),
        (name, 409, "A group with this name already exists."),
    ):
        response = admin.post("/admin/groups", {"name": typed})
        assert response.status_code == status
        assert field_errors(response.text) == {"name": message}
    assert stored_groups(database, name.split()[-1]) == {name: []}


def test_another_company_may_use_the_same_group_name(admin, other, database):
    taken = team_of(other)
    create(admin, taken)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Group).where(Group.name == taken)) == 2


def test_another_company_group_or_user_gives_404_and_changes_nothing(admin, tenant, other, database):
    tag = other.name.split()[-1]
    with database.read() as session:
        other_group = session.scalar(select(Group.id).join(Company, Company.id == Group.company_id)
                                     .where(Company.name == other.name, Group.name == team_of(other)))
    own_group = create(admin, new_name("Own"))
    before = stored_groups(database, tag)
    responses = [
        admin.post(f"/admin/groups/{other_group}/members/add", {"user": tenant.user_ids[tenant.supporter_email]}),
        admin.post(f"/admin/groups/{other_group}/members/remove", {"user": other.user_ids[other.supporter_email]}),
        admin.post(f"/admin/groups/{other_group}/delete"),
        admin.post(f"/admin/groups/{own_group}/members/add", {"user": other.user_ids[other.admin_email]}),
        admin.post(f"/admin/groups/{other_group}/routing", {"unassigned_alert_minutes": "5"}),
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert {error_message(r.text) for r in responses} == {NOT_HERE}
    assert stored_groups(database, tag) == before
    assert other.admin_email not in admin.get("/admin/groups").text


def test_an_unused_group_is_deleted_with_its_memberships(admin, tenant, database):
    name = new_name("Gone")
    group = create(admin, name)
    admin.post(f"/admin/groups/{group}/members/add", {"user": tenant.user_ids[tenant.supporter_email]})
    response = admin.post(f"/admin/groups/{group}/delete")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/groups")
    assert name not in group_members(admin.get("/admin/groups").text)
    assert stored_groups(database, name.split()[-1]) == {}


def test_a_group_a_module_files_into_is_kept(admin, tenant, database):
    team = team_of(tenant)
    team_id = group_id(admin.get("/admin/groups").text, team)
    response = admin.post(f"/admin/groups/{team_id}/delete")
    assert response.status_code == 409
    assert field_errors(response.text) == {
        f"group:{team_id}": "A module files its requests into this group, so it cannot be deleted.",
    }
    assert team in stored_groups(database, team)


def test_a_group_with_requests_is_kept_for_their_history(server, admin, tenant, database):
    name = new_name("History")
    group = create(admin, name)
    filed = httpx.post(f"{server.url}/api/v1/service-requests", json={"description": "kept", "group": name},
                       headers=bearer(tenant.admin_token), timeout=10)
    assert filed.status_code == 201
    response = admin.post(f"/admin/groups/{group}/delete")
    assert response.status_code == 409
    assert field_errors(response.text) == {
        f"group:{group}": "Service requests belong to this group, so it stays for their history.",
    }
    assert stored_groups(database, name.split()[-1]) == {name: []}


def test_supporters_get_the_403_page_on_every_groups_page_and_action(server, admin, tenant, database):
    team = group_id(admin.get("/admin/groups").text, team_of(tenant))
    tag = tenant.name.split()[-1]
    before = stored_groups(database, tag)
    email = list(tenant.supporter_tokens)[1]
    with logged_in(server.url, email) as supporter:
        responses = [
            supporter.get("/admin/groups"),
            supporter.post("/admin/groups", {"name": f"Mine {tag}"}),
            supporter.post(f"/admin/groups/{team}/members/add", {"user": tenant.user_ids[email]}),
            supporter.post(f"/admin/groups/{team}/members/remove", {"user": tenant.user_ids[tenant.supporter_email]}),
            supporter.post(f"/admin/groups/{team}/delete"),
            supporter.post(f"/admin/groups/{team}/routing", {"unassigned_alert_minutes": "5"}),
        ]
    assert [r.status_code for r in responses] == [403] * 6
    assert {error_message(r.text) for r in responses} == {NOT_ADMIN}
    assert stored_groups(database, tag) == before


def stored_routing(database: Database, group: str) -> tuple:
    with database.read() as session:
        stored = session.get(Group, group)
        return stored.unassigned_alert_minutes, stored.unjoined_alert_minutes, stored.reassign_on_lapse


def routing_inputs(page: str, group: str) -> dict[str, str]:
    """{field: value} of the group's routing form as the page shows it; the checkbox as "checked" or ""."""
    form = re.search(rf'action="/admin/groups/{group}/routing"(.*?)</form>', page, re.S).group(1)
    values = dict(re.findall(r'name="(\w+_minutes)"[^>]*value="([^"]*)"', form, re.S))
    values["reassign_on_lapse"] = "checked" if re.search(r'name="reassign_on_lapse" checked', form) else ""
    return values


def test_an_admin_sets_the_thresholds_and_the_reassign_switch_of_a_group(admin, database):
    group = create(admin, new_name("Routed"))
    response = admin.post(f"/admin/groups/{group}/routing", {
        "unassigned_alert_minutes": " 15 ", "unjoined_alert_minutes": "1440", "reassign_on_lapse": "on"})
    assert (response.status_code, response.headers["location"]) == (303, "/admin/groups")
    assert stored_routing(database, group) == (15, 1440, True)
    assert routing_inputs(admin.get("/admin/groups").text, group) == {
        "unassigned_alert_minutes": "15", "unjoined_alert_minutes": "1440", "reassign_on_lapse": "checked"}

    assert admin.post(f"/admin/groups/{group}/routing", {"unassigned_alert_minutes": "",
                                                         "unjoined_alert_minutes": "1"}).status_code == 303
    assert stored_routing(database, group) == (None, 1, False)  # empty: never; unchecked: off


@pytest.mark.parametrize("typed", ["0", "1441", "-5", "2.5", "ten", "٣", "9" * 30])
def test_bad_thresholds_are_refused_beside_the_field_and_nothing_is_saved(admin, database, typed):
    group = create(admin, new_name("Strict"))
    admin.post(f"/admin/groups/{group}/routing", {"unassigned_alert_minutes": "30", "unjoined_alert_minutes": ""})
    response = admin.post(f"/admin/groups/{group}/routing", {
        "unassigned_alert_minutes": "45", "unjoined_alert_minutes": typed, "reassign_on_lapse": "on"})
    assert response.status_code == 422
    assert field_errors(response.text) == {
        f"unjoined_alert_minutes:{group}": "Enter whole minutes from 1 to 1440, or leave it empty for never."}
    assert routing_inputs(response.text, group)["unjoined_alert_minutes"] == html.escape(typed)  # kept to fix
    assert stored_routing(database, group) == (30, None, False)


def test_a_forged_form_creates_no_group(admin, database):
    name = new_name("Forged")
    response = admin.post("/admin/groups", {"name": name, "csrf_token": "forged"})
    assert response.status_code == 403
    assert error_message(response.text) == FORGED
    assert stored_groups(database, name.split()[-1]) == {}


def test_the_groups_page_speaks_german(server, tenant):
    with logged_in(server.url, tenant.admin_email) as client:
        client.get("/language/de")
        page = client.get("/admin/groups").text
        for text in ("Gruppen", "Mitglied hinzufügen", "Neue Gruppe", "Gruppe anlegen", "Entfernen"):
            assert text in page
        refused = client.post("/admin/groups", {"name": ""})
        assert field_errors(refused.text) == {"name": "Bitte füllen Sie dieses Feld aus."}
