"""The Prometheus endpoint: the text format, read by a strict parser, the gauges' values, and admins only."""

import re

import pytest

from server.api.routes.metrics import escape_label_value
from tests.support.queue_api import assert_problem
from tests.support.tenants import bearer, make_tenant

METRICS = "/api/v1/metrics"
ODD_GROUP = 'Level "2" \\ nights'

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(rf"({_NAME})\{{((?:{_LABEL})(?:,{_LABEL})*)?\}} (\S+)")
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_exposition(text: str) -> dict[str, dict]:
    """Prometheus text format 0.0.4, strictly: ``{name: {"help", "type", "samples": {labels: value}}}``."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, dict] = {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"{name} described twice"
            families[name] = {"help": help_text, "type": None, "samples": {}}
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert families[name]["type"] is None and not families[name]["samples"], line
            families[name]["type"] = kind
        else:
            families.update(_with_sample(families, line))
    return families


def _with_sample(families: dict, line: str) -> dict:
    match = _SAMPLE.fullmatch(line)
    assert match, f"not a sample line: {line!r}"
    name = match.group(1)
    assert families.get(name, {}).get("type") == "gauge", f"{name} has no TYPE before its samples"
    pairs = re.findall(_LABEL, match.group(2) or "")
    labels = tuple(sorted((key, re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group()], value)) for key, value in pairs))
    assert labels not in families[name]["samples"], f"duplicate series {line!r}"
    families[name]["samples"][labels] = float(match.group(7))
    return {name: families[name]}


@pytest.fixture(scope="module")
def tenant(server, api):
    """A company whose module files into its group; a second group with quotes and a backslash in its name."""
    tenant = make_tenant(server.database_url, supporters=2, group_members=1)
    response = api.call("POST", "/api/v1/groups", tenant.admin_token, json={"name": ODD_GROUP})
    assert response.status_code == 201, response.text
    return tenant


@pytest.fixture(scope="module")
def team(api, tenant) -> str:
    """The name of the group the tenant's module files into."""
    groups = api.call("GET", "/api/v1/groups", tenant.admin_token).json()["items"]
    return next(group["name"] for group in groups if group["members"])


def scrape(api, token: str) -> dict[str, dict]:
    response = api.call("GET", METRICS, token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(response.text)


def open_requests(families: dict, status: str, group: str) -> float:
    return families["sosqueue_open_requests"]["samples"][(("group", group), ("status", status))]


def test_every_status_and_group_is_a_series_even_at_zero(api, tenant, team):
    """Groups without requests, and requests without a group (group=""), have their series too."""
    families = scrape(api, tenant.admin_token)
    assert families["sosqueue_open_requests"]["type"] == "gauge"
    assert families["sosqueue_open_requests"]["help"]
    series = set(families["sosqueue_open_requests"]["samples"])
    assert series == {(("group", group), ("status", status))
                      for group in ("", team, ODD_GROUP) for status in ("new", "pending", "in_progress")}
    assert set(families["sosqueue_oldest_waiting_seconds"]["samples"]) == {(("group", g),) for g in ("", team, ODD_GROUP)}
    assert open_requests(families, "new", ODD_GROUP) == 0


def test_open_requests_follow_the_queue(api, tenant, team):
    """Two filed into the group, one of them joined by a supporter (pending), one without a group, one closed."""
    before = scrape(api, tenant.admin_token)
    api.created(tenant.module_token)
    joined = api.created(tenant.module_token)
    assert api.action(joined["code"], "join", tenant.supporter_token).json()["status"] == "pending"
    api.created(tenant.admin_token)
    closed = api.created(tenant.admin_token)
    assert api.action(closed["code"], "close", tenant.admin_token).status_code == 200
    after = scrape(api, tenant.admin_token)
    changes = {(status, group): open_requests(after, status, group) - open_requests(before, status, group)
               for status in ("new", "pending", "in_progress") for group in ("", team)}
    assert changes == {("new", ""): 1, ("pending", ""): 0, ("in_progress", ""): 0,
                       ("new", team): 1, ("pending", team): 1, ("in_progress", team): 0}


def test_oldest_waiting_age_grows_with_the_oldest_new_request(api, tenant, team):
    """A group with a new request has a positive age; a group without one reads 0."""
    api.created(tenant.module_token)
    oldest = scrape(api, tenant.admin_token)["sosqueue_oldest_waiting_seconds"]["samples"]
    assert oldest[(("group", team),)] > 0
    assert oldest[(("group", ODD_GROUP),)] == 0


def test_another_company_sees_only_its_own_groups(api, server, tenant, team):
    """The token's company decides what is counted: a fresh company has only zeros and no groups."""
    other = make_tenant(server.database_url)
    samples = scrape(api, other.admin_token)["sosqueue_open_requests"]["samples"]
    assert {dict(labels)["group"] for labels in samples} == {""}
    assert all(value == 0 for value in samples.values())


def test_without_a_token_it_is_401(api):
    """Never anonymous: no bearer token is a problem with a challenge."""
    response = api.call("GET", METRICS)
    assert_problem(response, 401, code="unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401(api):
    """An unknown token is refused as such."""
    assert_problem(api.call("GET", METRICS, "squ_not-a-real-token"), 401, code="invalid_token")


def test_supporters_modules_and_customers_are_403(api, tenant):
    """Only an admin's token reads the metrics."""
    customer = api.created(tenant.module_token)["customer_token"]
    for token in (tenant.supporter_token, tenant.module_token, customer):
        assert_problem(api.call("GET", METRICS, token), 403, code="forbidden")


@pytest.mark.parametrize("broken", [
    'sosqueue_open_requests{group="a"} 1\n',  # no TYPE before it
    '# HELP x h\n# TYPE x gauge\nx{group="a\\q"} 1\n',  # an unknown escape
    '# HELP x h\n# TYPE x gauge\nx{group="a"} 1',  # no final line feed
])
def test_the_parser_is_strict(broken):
    """The test's parser refuses what Prometheus would refuse."""
    with pytest.raises(AssertionError):
        parse_exposition(broken)


def test_label_values_are_escaped():
    """The writer escapes backslash, quote and newline as the format asks."""
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
