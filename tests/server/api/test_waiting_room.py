"""GET /api/v1/service-requests/{code}/waiting-room: who may read it, and what it tells as the queue moves."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.db import Database
from server.models import Company, Group, ServiceRequest, User, utcnow
from sosqueue.waiting_room import MIN_HISTORY, WaitingRoom
from tests.support.queue_api import REQUESTS, assert_problem
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    """A company whose module files into a group of its two supporters."""
    return make_tenant(server.database_url, supporters=2, group_members=2)


def room_of(api, code: str, token: str) -> dict:
    response = api.call("GET", f"{REQUESTS}/{code}/waiting-room", token)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    WaitingRoom.from_json(response.json())  # what the agent reads
    return response.json()


def file(api, tenant, count: int) -> list[dict]:
    return [api.created(tenant.module_token, {"description": f"waiting {i}"}) for i in range(count)]


def in_database(server, change) -> None:
    database = Database(server.database_url)
    try:
        with database.write() as session:
            change(session)
    finally:
        database.dispose()


def test_customer_sees_its_place_in_its_group_s_queue(api, tenant):
    """The third request filed waits in position 3; without history there is no expected wait."""
    third = file(api, tenant, 3)[-1]
    assert room_of(api, third["code"], third["customer_token"]) == {
        "status": "new", "position": 3, "expected_wait_seconds": None, "assignee": None, "message": ""}


def test_position_moves_up_as_the_requests_before_it_are_taken(api, tenant):
    """Assigning one older request, a supporter joining another and closing a third each move it up."""
    assigned, joined, closed, mine = file(api, tenant, 4)
    token = tenant.supporter_token
    positions = [room_of(api, mine["code"], mine["customer_token"])["position"]]
    assert api.assign(assigned["code"], token, "me").status_code == 200
    positions.append(room_of(api, mine["code"], mine["customer_token"])["position"])
    assert api.action(joined["code"], "join", token).status_code == 200
    positions.append(room_of(api, mine["code"], mine["customer_token"])["position"])
    assert api.action(closed["code"], "close", token).status_code == 200
    positions.append(room_of(api, mine["code"], mine["customer_token"])["position"])
    assert positions == [4, 3, 2, 1]


def test_assigned_request_shows_its_supporter_s_name_and_no_position(api, server, tenant):
    (mine,) = file(api, tenant, 1)
    email = tenant.supporter_email
    in_database(server, lambda s: s.execute(update(User).where(User.email == email).values(name="Sam Lee")))
    assert api.assign(mine["code"], tenant.supporter_token, "me").status_code == 200
    assert room_of(api, mine["code"], mine["customer_token"]) == {
        "status": "new", "position": None, "expected_wait_seconds": None, "assignee": "Sam Lee", "message": ""}


def test_supporter_without_a_name_is_never_shown_by_email(api, tenant):
    """An unnamed assignee reads as null; the answer holds no email address."""
    (mine,) = file(api, tenant, 1)
    assert api.assign(mine["code"], tenant.supporter_token, "me").status_code == 200
    response = api.call("GET", f"{REQUESTS}/{mine['code']}/waiting-room", mine["customer_token"])
    assert response.json()["assignee"] is None
    assert "@" not in response.text


def test_expected_wait_comes_from_the_group_s_recent_first_joins(api, server, tenant):
    """With MIN_HISTORY first joins after 10 minutes each, a new request expects about 10 minutes."""
    company_name = tenant.name

    def history(session):
        company = session.scalar(select(Company).where(Company.name == company_name))
        group = session.scalar(select(Group).where(Group.company_id == company.id))
        joined = utcnow() - timedelta(hours=1)
        for _ in range(MIN_HISTORY):
            session.add(ServiceRequest(
                code=uuid.uuid4().hex[:9], company_id=group.company_id, group_id=group.id, source="module",
                status="closed", description="done", created_by="system", created_at=joined - timedelta(minutes=10),
                valid_until=joined + timedelta(hours=23), first_joined_at=joined, closed_at=joined))

    in_database(server, history)
    (mine,) = file(api, tenant, 1)
    expected = room_of(api, mine["code"], mine["customer_token"])["expected_wait_seconds"]
    assert 540 <= expected <= 600


def test_closed_request_has_no_place_in_the_queue(api, tenant):
    (mine,) = file(api, tenant, 1)
    assert api.action(mine["code"], "close", mine["customer_token"]).status_code == 200
    assert room_of(api, mine["code"], mine["customer_token"])["status"] == "closed"
    assert room_of(api, mine["code"], mine["customer_token"])["position"] is None


def test_users_of_the_company_read_any_request_s_room(api, tenant):
    first, second = file(api, tenant, 2)
    assert room_of(api, second["code"], tenant.admin_token)["position"] == 2
    assert room_of(api, second["code"], tenant.supporter_token)["position"] == 2


def test_customer_token_of_another_request_looks_like_an_unknown_code(api, tenant):
    """One customer cannot read another's waiting room: 404 as for a code nobody was given."""
    first, second = file(api, tenant, 2)
    problem = assert_problem(api.call("GET", f"{REQUESTS}/{second['code']}/waiting-room", first["customer_token"]),
                             404, code="not_found")
    unknown = assert_problem(api.call("GET", f"{REQUESTS}/s00000000/waiting-room", first["customer_token"]), 404)
    assert problem["detail"] == unknown["detail"]


def test_user_of_another_company_gets_404(api, server, tenant):
    (mine,) = file(api, tenant, 1)
    rival = make_tenant(server.database_url, supporters=1)
    assert_problem(api.call("GET", f"{REQUESTS}/{mine['code']}/waiting-room", rival.supporter_token), 404)


def test_module_token_is_refused(api, tenant):
    """The module token ships in every customer's download: it reads no request's waiting room."""
    (mine,) = file(api, tenant, 1)
    assert_problem(api.call("GET", f"{REQUESTS}/{mine['code']}/waiting-room", tenant.module_token), 403,
                   code="forbidden")


def test_without_a_token_is_401(api, tenant):
    (mine,) = file(api, tenant, 1)
    response = api.call("GET", f"{REQUESTS}/{mine['code']}/waiting-room")
    assert_problem(response, 401, code="unauthenticated")


# -- the waiting message -----------------------------------------------------------------------


def test_the_customer_reads_the_waiting_message_its_supporters_left(api, server, tenant):
    """Filed with a message, the room carries it; changed later, the next question has the new one."""
    filed = api.created(tenant.supporter_token, {"description": "call back",
                                                 "waiting_message": "We call you at 3 pm.\nKeep the line free."})
    code = filed["code"]
    assert room_of(api, code, tenant.admin_token)["message"] == "We call you at 3 pm.\nKeep the line free."
    in_database(server, lambda s: s.execute(update(ServiceRequest).where(ServiceRequest.code == code.replace("-", ""))
                                            .values(waiting_message="<b>Now</b> at 4 pm")))
    assert room_of(api, code, tenant.admin_token)["message"] == "<b>Now</b> at 4 pm"


def test_another_customer_of_the_company_reads_none_of_a_request_s_message(api, tenant):
    """A customer token of another request still gets the unknown code's 404, never the message."""
    (mine,) = file(api, tenant, 1)
    other = api.created(tenant.supporter_token, {"description": "x", "waiting_message": "secret plan"})
    response = api.call("GET", f"{REQUESTS}/{other['code']}/waiting-room", mine["customer_token"])
    assert response.status_code == 404 and "secret plan" not in response.text
    assert room_of(api, mine["code"], mine["customer_token"])["message"] == ""
