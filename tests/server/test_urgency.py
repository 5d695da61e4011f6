"""A waiting request's urgency: amber at half its group's threshold, red at it; joined requests wait no more."""

from datetime import datetime, timedelta, timezone

import pytest

from server.models import Group, ServiceRequest
from server.urgency import Urgency, wait_of

FILED = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def request(*, unassigned: int | None = 10, unjoined: int | None = 20, grouped: bool = True, **fields) -> ServiceRequest:
    group = Group(name="Hardware", unassigned_alert_minutes=unassigned, unjoined_alert_minutes=unjoined)
    return ServiceRequest(created_at=FILED, group=group if grouped else None, **fields)


@pytest.mark.parametrize(("minutes", "expected"), [(0, Urgency.CALM), (4.9, Urgency.CALM), (5, Urgency.AMBER),
                                                   (9.9, Urgency.AMBER), (10, Urgency.RED), (600, Urgency.RED)])
def test_an_unassigned_request_turns_by_the_unassigned_threshold_from_its_filing(minutes, expected):
    assert wait_of(request()).urgency(FILED + timedelta(minutes=minutes)) == expected


def test_an_assigned_request_waits_since_its_assignment_against_the_unjoined_threshold():
    assigned = FILED + timedelta(hours=1)
    wait = wait_of(request(assignee_id="ada", assigned_at=assigned))
    assert wait.since == assigned
    assert (wait.amber_at, wait.red_at) == (assigned + timedelta(minutes=10), assigned + timedelta(minutes=20))


def test_a_joined_request_waits_no_more_and_has_no_steps():
    wait = wait_of(request(first_joined_at=FILED + timedelta(minutes=1)))
    assert (wait.since, wait.steps(), wait.urgency(FILED + timedelta(days=1))) == (None, [], Urgency.CALM)


@pytest.mark.parametrize("options", [{"unassigned": None}, {"grouped": False}])
def test_without_a_threshold_a_request_waits_but_never_turns(options):
    wait = wait_of(request(**options))
    assert wait.since == FILED
    assert wait.steps() == [(FILED, Urgency.CALM)]
    assert wait.urgency(FILED + timedelta(days=1)) == Urgency.CALM
