"""A flood of creations from one caller is cut off with 429 and Retry-After; others carry on. The
allowances are the deployment's: every server process draws on them, and a restart keeps them."""

from contextlib import ExitStack

import pytest

from tests.support.dashboard import PASSWORD, DashboardClient
from tests.support.databases import fresh_databases
from tests.support.queue_api import QueueApi, assert_problem
from tests.support.servers import QueueServer
from tests.support.tenants import make_tenant

BURST = 3
PER_MINUTE = 6
LIMITED = {"SOSQUEUE_CREATE_RATE_PER_MINUTE": str(PER_MINUTE), "SOSQUEUE_CREATE_BURST": str(BURST),
           "SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "1"}


@pytest.fixture(scope="module")
def limited(backend, request, tmp_path_factory):
    """A server of this module's backend with a tight creation limit, and its API client."""
    with fresh_databases(backend, request, tmp_path_factory) as make_url:
        with QueueServer(make_url(), env=LIMITED, log_dir=tmp_path_factory.mktemp("logs")) as running:
            api = QueueApi(running.url)
            yield running, api
            api.close_client()


@pytest.fixture
def tenant(limited):
    server, _ = limited
    return make_tenant(server.database_url, supporters=1)


def exhaust(api, token) -> list[str]:
    """Use up the burst; returns the codes filed."""
    return [api.created(token)["code"] for _ in range(BURST)]


def test_creation_beyond_the_burst_is_429_with_retry_after(limited, tenant):
    """The fourth quick creation is refused with 429, a Retry-After in seconds and a problem body."""
    _, api = limited
    exhaust(api, tenant.module_token)
    response = api.create(tenant.module_token)
    problem = assert_problem(response, 429, code="rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert problem["detail"] == f"too many requests created; try again in {retry_after} s"


def test_refused_creations_store_nothing(limited, tenant):
    """However many creations are refused, only the allowed ones exist."""
    _, api = limited
    allowed = exhaust(api, tenant.module_token)
    refused = [api.create(tenant.module_token, {"description": f"flood {i}"}) for i in range(5)]
    assert {response.status_code for response in refused} == {429}
    assert sorted(api.codes(tenant.supporter_token)) == sorted(allowed)


def test_failed_creations_take_nothing_from_the_allowance(limited, tenant):
    """Creations refused for what they ask (an unknown group) leave the whole burst, on either database."""
    _, api = limited
    for _ in range(BURST + 2):
        assert api.create(tenant.supporter_token, {"description": "x", "group": "no such group"}).status_code == 404
    assert len(exhaust(api, tenant.supporter_token)) == BURST


def test_other_modules_are_not_limited_by_one_flood(limited, tenant):
    """A second module of the same company, and another company's module, still file requests."""
    server, api = limited
    exhaust(api, tenant.module_token)
    module = api.call("POST", "/api/v1/modules", tenant.admin_token, json={"name": "Second"})
    assert module.status_code == 201, module.text
    assert len(exhaust(api, module.json()["token"])) == BURST
    assert len(exhaust(api, make_tenant(server.database_url).module_token)) == BURST
    assert_problem(api.create(tenant.module_token), 429)


def test_users_have_their_own_allowance(limited, tenant):
    """A supporter filing manually is not held back by the module's flood, but has a limit too."""
    _, api = limited
    exhaust(api, tenant.module_token)
    exhaust(api, tenant.supporter_token)
    assert_problem(api.create(tenant.supporter_token), 429, code="rate_limited")
    assert len(api.codes(tenant.admin_token)) == 2 * BURST


def test_rate_limit_leaves_reads_alone(limited, tenant):
    """A rate-limited caller's company can still read and work its queue."""
    _, api = limited
    code = exhaust(api, tenant.module_token)[0]
    assert_problem(api.create(tenant.module_token), 429)
    assert api.get(code, tenant.supporter_token).status_code == 200
    assert api.action(code, "close", tenant.supporter_token).json()["status"] == "closed"


def test_waiting_room_polls_are_never_limited_nor_spend_the_creation_allowance(limited, tenant):
    """A customer's agent and a supporter poll the waiting room far beyond the burst: every poll is
    answered, and the supporter can still file a whole burst afterwards."""
    _, api = limited
    filed = api.created(tenant.module_token)
    polls = [api.call("GET", f"/api/v1/service-requests/{filed['code']}/waiting-room", token).status_code
             for token in (filed["customer_token"], tenant.supporter_token) for _ in range(4 * BURST)]
    assert set(polls) == {200}
    assert len(exhaust(api, tenant.supporter_token)) == BURST


# -- one allowance for the whole deployment ------------------------------------------------


@pytest.fixture(scope="module")
def two_processes(postgres, tmp_path_factory):
    """Two limited server processes on one PostgreSQL database, with an API client for each."""
    url = postgres.create()
    try:
        with ExitStack() as stack:
            servers = [stack.enter_context(QueueServer(url, env=LIMITED, log_dir=tmp_path_factory.mktemp("logs")))
                       for _ in range(2)]
            apis = [QueueApi(server.url) for server in servers]
            for api in apis:
                stack.callback(api.close_client)
            yield servers, apis
    finally:
        postgres.drop(url)


@pytest.mark.postgres
def test_a_second_process_refuses_once_the_first_used_the_allowance(two_processes):
    """The burst used up through one process leaves nothing to take through the other."""
    servers, (first, second) = two_processes
    tenant = make_tenant(servers[0].database_url, supporters=1)
    exhaust(first, tenant.module_token)
    assert_problem(second.create(tenant.module_token), 429, code="rate_limited")
    assert sorted(second.codes(tenant.supporter_token)) == sorted(first.codes(tenant.supporter_token))
    assert len(first.codes(tenant.supporter_token)) == BURST


@pytest.mark.postgres
def test_claims_through_one_process_draw_on_the_allowance_creations_used_through_the_other(two_processes):
    """A module that filed its burst through one process cannot claim through the other."""
    servers, (first, second) = two_processes
    tenant = make_tenant(servers[0].database_url, supporters=1)
    manual = second.created(tenant.supporter_token, {"description": "Ann on the phone"})
    exhaust(first, tenant.module_token)
    claimed = second.call("POST", f"/api/v1/service-requests/{manual['code']}/claim", tenant.module_token)
    assert_problem(claimed, 429, code="rate_limited")


@pytest.mark.postgres
def test_login_attempts_are_counted_across_processes(two_processes):
    """Five wrong passwords through one process: the next attempt through the other is refused."""
    servers, _ = two_processes
    tenant = make_tenant(servers[0].database_url, password=PASSWORD, supporters=0)
    with DashboardClient(servers[0].url) as first, DashboardClient(servers[1].url) as second:
        assert [first.login(tenant.admin_email, "guess").status_code for _ in range(5)] == [401] * 5
        assert second.login(tenant.admin_email, "guess").status_code == 429


def test_a_restart_keeps_the_count(backend, request, tmp_path_factory):
    """A caller that used up its burst is still refused by the restarted server."""
    slow = {**LIMITED, "SOSQUEUE_CREATE_RATE_PER_MINUTE": "1"}  # nothing comes back while the server restarts
    with fresh_databases(backend, request, tmp_path_factory) as make_url:
        url = make_url()
        with QueueServer(url, env=slow, log_dir=tmp_path_factory.mktemp("logs")) as before:
            tenant = make_tenant(url, supporters=1)
            api = QueueApi(before.url)
            exhaust(api, tenant.module_token)
            api.close_client()
        with QueueServer(url, env=slow, log_dir=tmp_path_factory.mktemp("logs")) as after:
            api = QueueApi(after.url)
            try:
                response = api.create(tenant.module_token)
                assert_problem(response, 429, code="rate_limited")
                assert 0 < int(response.headers["Retry-After"]) <= 60
            finally:
                api.close_client()
