"""The reports page and its CSV over HTTP: figures, the period, the formula guard, who may see it, German."""

import csv
import html
import io
import re
from datetime import datetime, timezone

import pytest

from tests.support.dashboard import NOT_ADMIN, PASSWORD, DashboardClient, logged_in
from tests.support.queue_api import QueueApi
from tests.support.tenants import make_tenant

FORMULA_GROUP = "=HYPERLINK(\"http://evil.test\")"
BAD_PERIOD = "Choose the period as two dates (YYYY-MM-DD), the first not after the last, at most 366 days apart."


@pytest.fixture(scope="module")
def tenant(server):
    """A company whose module files into a group of one supporter; people log in with PASSWORD."""
    return make_tenant(server.database_url, supporters=2, group_members=1, password=PASSWORD)


@pytest.fixture(scope="module")
def queue(server, tenant) -> dict:
    """Today: three requests into the group (one joined by the supporter, one closed), one into FORMULA_GROUP."""
    api = QueueApi(server.url)
    try:
        assert api.call("POST", "/api/v1/groups", tenant.admin_token, json={"name": FORMULA_GROUP}).status_code == 201
        joined, closed, _idle = (api.created(tenant.module_token) for _ in range(3))
        assert api.action(joined["code"], "join", tenant.supporter_token).status_code == 200
        assert api.action(closed["code"], "close", tenant.supporter_token).status_code == 200
        api.created(tenant.admin_token, {"description": "formula", "group": FORMULA_GROUP})
        groups = api.call("GET", "/api/v1/groups", tenant.admin_token).json()["items"]
        return {"team": next(group["name"] for group in groups if group["members"])}
    finally:
        api.close_client()


def table_rows(page: str, table_id: str) -> dict[str, list[str]]:
    """``{name: [cells…]}`` of a figures table."""
    body = re.search(rf'<table class="admin" id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [html.unescape(cell.strip()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def test_the_page_shows_the_figures_per_group_and_supporter(admin, queue):
    """The last seven days by default: three requests in the group, one in the formula group."""
    response = admin.get("/reports")
    assert response.status_code == 200
    groups = table_rows(response.text, "groups")
    assert groups[queue["team"]][0] == "3"
    assert groups[FORMULA_GROUP][0] == "1"
    assert groups[FORMULA_GROUP][-1] == "0 %"
    assert re.fullmatch(r"0:00:0\d", groups[queue["team"]][1]), groups[queue["team"]]  # joined within seconds
    assert 'name="to" value="' + today() + '"' in response.text


def test_the_chart_is_an_inline_svg_with_a_bar_per_group_joined(admin, queue):
    """Only groups with a first join get a bar: the team's, not the formula group."""
    page = admin.get("/reports").text
    assert re.findall(r'<g class="bar" data-group="([^"]*)"', page) == [html.escape(queue["team"])]
    assert "<script" not in page.split("<main>")[1]


def test_the_csv_has_the_same_figures_guarded_against_formulas(admin, queue):
    response = admin.get("/reports.csv", params={"from": today(), "to": today()})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="sosqueue-report-{today()}-to-{today()}.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["scope"] == "total" and rows[0]["requests"] == "4"
    groups = {row["name"]: row for row in rows if row["scope"] == "group"}
    assert groups["'" + FORMULA_GROUP]["requests"] == "1"
    assert groups["'" + FORMULA_GROUP]["expired_share"] == "0.0000"
    assert float(groups[queue["team"]]["first_join_median_seconds"]) < 10
    assert float(groups[queue["team"]]["close_median_seconds"]) < 10
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


@pytest.mark.parametrize("period", [
    {"from": "2026-02-30"},
    {"from": "2026-03-10", "to": "2026-03-01"},
    {"from": "2020-01-01", "to": "2026-01-01"},
    {"to": "next week"},
])
def test_a_bad_period_is_one_clear_message(admin, period):
    page = admin.get("/reports", params=period)
    assert page.status_code == 400
    assert html.unescape(re.search(r'<p class="error" id="period-error">([^<]*)</p>', page.text).group(1)) == BAD_PERIOD
    assert 'id="groups"' not in page.text
    csv_answer = admin.get("/reports.csv", params=period)
    assert csv_answer.status_code == 400 and BAD_PERIOD in html.unescape(csv_answer.text)


def test_a_period_without_requests_says_so(admin, queue):
    page = admin.get("/reports", params={"from": "2025-01-01", "to": "2025-01-31"}).text
    assert "No requests in this period." in page and 'id="no-chart"' in page


def test_only_admins_see_reports_and_the_link(admin, supporter, queue):
    """Supporters get the not-an-admin page and no link; admins have the link."""
    for path in ("/reports", "/reports.csv"):
        response = supporter.get(path)
        assert response.status_code == 403 and NOT_ADMIN in html.unescape(response.text)
    assert 'href="/reports"' not in supporter.get("/queue").text
    assert 'href="/reports"' in admin.get("/queue").text


def test_without_a_login_it_goes_to_the_login_page(server):
    with DashboardClient(server.url) as anonymous:
        response = anonymous.get("/reports.csv")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2Freports.csv")


def test_the_page_speaks_german(server, tenant, queue):
    with logged_in(server.url, tenant.admin_email) as client:
        client.get("/language/de")
        page = client.get("/reports").text
        bad = client.get("/reports", params={"from": "gestern"}).text
    assert '<html lang="de">' in page
    assert "Berichte" in page and "Pro Gruppe" in page and "Als CSV herunterladen" in page
    assert "Zeitraum" in html.unescape(bad)
