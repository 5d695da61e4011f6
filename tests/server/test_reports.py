"""The report's figures and the live gauges, from a history written at known times, on both backends."""

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from server import admin, reports
from server.db import Database
from server.lifecycle import CUSTOMER
from server.models import RequestEvent, ServiceRequest
from sosqueue.events import EventType
from sosqueue.statuses import Status
from tests.support.databases import migrated_database

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
PERIOD = reports.Period(first=date(2026, 3, 4), last=date(2026, 3, 10))
IN_PERIOD = datetime(2026, 3, 8, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


class History:
    """Writes requests and their events into one company, at the times a test gives."""

    def __init__(self, database: Database):
        self.database = database
        with database.write() as session:
            company = admin.create_company(session, name=f"Company {uuid.uuid4().hex[:8]}")
            self.company_id = company.id
            self.users = {}
            for name in ("Ada", "Bob"):
                created = admin.create_user(session, company=company, email=f"{name}-{uuid.uuid4().hex[:6]}@x.test",
                                            role="supporter")
                created.item.name = name
                self.users[name] = created.item.id
            self.groups = {name: admin.create_group(session, company=company, name=name).id
                           for name in ("Hardware", "Billing")}

    def request(self, *, created: datetime = IN_PERIOD, group: str | None = None, assignee: str | None = None,
                status: Status = Status.NEW, valid_for: timedelta = timedelta(days=30),
                events: tuple[tuple[EventType, float, dict], ...] = ()) -> int:
        """A request created at ``created``, its events ``(type, seconds after creation, data)``, and the times
        they set on the request (first expert join, close) as the queue keeps them."""
        def first(type: EventType, *, expert_only: bool = False) -> datetime | None:
            times = [seconds for kind, seconds, data in events
                     if kind == type and not (expert_only and data.get("party") == CUSTOMER)]
            return created + timedelta(seconds=min(times)) if times else None

        with self.database.write() as session:
            row = ServiceRequest(
                code=uuid.uuid4().hex[:9], company_id=self.company_id, group_id=self.groups.get(group),
                source="manual", status=status.value, description="test", created_by="system",
                assignee_id=self.users.get(assignee), created_at=created, valid_until=created + valid_for,
                first_joined_at=first(EventType.JOINED, expert_only=True), closed_at=first(EventType.CLOSED),
            )
            session.add(row)
            session.flush()
            for type, seconds, data in ((EventType.CREATED, 0, {}), *events):
                session.add(RequestEvent(request_id=row.id, company_id=self.company_id, code=row.code, type=type.value,
                                         actor="system", status=row.status, data=data,
                                         created_at=created + timedelta(seconds=seconds)))
            return row.id

    def report(self, period: reports.Period = PERIOD) -> reports.Report:
        with self.database.read() as session:
            return reports.build_report(session, company_id=self.company_id, period=period, now=NOW)

    def gauges(self) -> reports.Gauges:
        with self.database.read() as session:
            return reports.live_gauges(session, company_id=self.company_id, now=NOW)


def expert(name_id: str) -> dict:
    return {"party": f"user:{name_id}"}


def joined_after(history: History, seconds: float, *, customer_before: float | None = None,
                 closed_after: float | None = None, **request) -> int:
    events = []
    if customer_before is not None:
        events.append((EventType.JOINED, customer_before, {"party": CUSTOMER}))
    events.append((EventType.JOINED, seconds, expert(history.users["Ada"])))
    events.append((EventType.JOINED, seconds + 5, expert(history.users["Bob"])))  # a later expert: not the first
    if closed_after is not None:
        events.append((EventType.CLOSED, closed_after, {}))
    status = Status.CLOSED if closed_after is not None else Status.PENDING
    return history.request(events=tuple(events), status=status, **request)


@pytest.fixture(scope="module")
def history(database) -> History:
    """Hardware: first joins after 10, 20, 30, 40 and 100 s, three closed; Billing: one expired, one open past
    its deadline, one closed without a join; one request without a group; requests outside the period."""
    history = History(database)
    for seconds, closed in ((10, 600), (20, 300), (30, None), (40, 900), (100, None)):
        joined_after(history, seconds, customer_before=1, closed_after=closed, group="Hardware", assignee="Ada")
    history.request(group="Billing", assignee="Bob", status=Status.EXPIRED,
                    events=((EventType.EXPIRED, 3600, {}),))
    history.request(group="Billing", assignee="Bob", created=NOW - timedelta(hours=3), valid_for=timedelta(hours=1))
    history.request(group="Billing", status=Status.CLOSED, events=((EventType.CLOSED, 120, {}),))
    history.request()
    history.request(group="Hardware", created=PERIOD.starts - timedelta(seconds=1))  # the day before
    history.request(group="Hardware", created=PERIOD.ends)  # the day after
    return history


def by_name(rows: list[reports.Figures]) -> dict[str, reports.Figures]:
    return {row.name: row for row in rows}


def test_first_join_median_and_p90_are_exact(history):
    """Median and p90 interpolate between ranks: 30 s and 40 + 0.6 × 60 = 76 s; the customer's join does not count."""
    hardware = by_name(history.report().groups)["Hardware"]
    assert (hardware.requests, hardware.first_join_median, hardware.first_join_p90) == (5, 30.0, 76.0)


def test_time_to_close_counts_closed_requests_only(history):
    """Closed after 300, 600 and 900 s: median 600, p90 600 + 0.8 × 300 = 840."""
    hardware = by_name(history.report().groups)["Hardware"]
    assert (hardware.close_median, hardware.close_p90) == (600.0, 840.0)


def test_expired_share_includes_requests_past_their_deadline(history):
    """Billing's expired request and its open one past the deadline both count: 2 of 3."""
    billing = by_name(history.report().groups)["Billing"]
    assert billing.requests == 3
    assert billing.expired_share == pytest.approx(2 / 3)
    assert (billing.first_join_median, billing.close_median) == (None, 120.0)


def test_groups_are_ordered_by_name_and_requests_without_a_group_come_last(history):
    """Only the period's requests count, whole days inclusive: 5 + 3 + 1."""
    report = history.report()
    assert [(row.name, row.requests) for row in report.groups] == [("Billing", 3), ("Hardware", 5), ("", 1)]
    assert report.groups[-1].key is None
    assert report.total.requests == 9


def test_supporters_are_those_assigned(history):
    """Ada has Hardware's five, Bob two of Billing's; the rest are nobody's."""
    rows = [(row.name, row.requests) for row in history.report().supporters]
    assert rows == [("Ada", 5), ("Bob", 2), ("", 2)]
    assert by_name(history.report().supporters)["Bob"].expired_share == 1.0


def test_an_empty_period_has_no_figures(history):
    report = history.report(reports.Period(first=date(2025, 1, 1), last=date(2025, 1, 1)))
    assert (report.total.requests, report.total.first_join_median, report.total.expired_share) == (0, None, None)
    assert report.groups == report.supporters == []


def test_live_gauges_count_open_requests_per_status_and_group(history):
    """Open means effectively open: the expired and past-deadline requests are not; every group shows, zeros too."""
    gauges = history.gauges()
    assert gauges.open_requests[(Status.PENDING, "Hardware")] == 2
    assert gauges.open_requests[(Status.NEW, "Hardware")] == 2  # the day before and the day after
    assert gauges.open_requests[(Status.NEW, "Billing")] == 0
    assert gauges.open_requests[(Status.NEW, "")] == 1
    assert gauges.open_requests[(Status.IN_PROGRESS, "Billing")] == 0
    assert sum(gauges.open_requests.values()) == 5


def test_oldest_waiting_age_is_the_oldest_new_request(history):
    """Hardware's oldest new request was made just before the period's first day."""
    gauges = history.gauges()
    assert gauges.oldest_waiting_seconds["Hardware"] == (NOW - PERIOD.starts).total_seconds() + 1
    assert gauges.oldest_waiting_seconds["Billing"] == 0.0
    assert gauges.oldest_waiting_seconds[""] == (NOW - IN_PERIOD).total_seconds()


@pytest.mark.parametrize("first, last, complaint", [
    ("2026-13-01", "", "YYYY-MM-DD"),
    ("yesterday", "", "YYYY-MM-DD"),
    ("2026-03-10", "2026-03-01", "start before"),
    ("2024-01-01", "2026-03-10", "at most"),
])
def test_bad_periods_are_refused_with_a_reason(first, last, complaint):
    with pytest.raises(reports.BadPeriod, match=complaint):
        reports.parse_period(first, last, today=NOW.date())


def test_a_missing_date_takes_the_last_seven_days():
    assert reports.parse_period(None, " ", today=date(2026, 3, 10)) == PERIOD


def test_percentile_interpolates_like_percentile_cont():
    assert reports.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert reports.percentile([7.0], 0.9) == 7.0
    assert reports.percentile([], 0.5) is None
