"""Reports on a company's requests over a period, and the queue's live gauges for operators.

Everything is computed from the requests' times, as :mod:`server.queue` keeps them: a request's
*time to first join* is when an expert (a party other than the customer) first joined
(``first_joined_at``) minus its creation; its *time to close* is its ``closed_at`` minus its
creation; it counts as *expired* when its effective status is
expired (swept or past its deadline, :func:`server.queue.effective_status`). A request belongs
to the period in which it was created, to its group, and to the supporter it is assigned to.

Scaling: SQLite has no percentile function, so the database returns one row per request of the
period (group, assignee, status, creation, first expert join, close) and Python aggregates. The cost grows with the requests created in the period, not with the whole history;
a period of more than :data:`MAX_REQUESTS` requests is refused (choose a shorter one) rather than
read without bound.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Group, ServiceRequest, User
from server.queue import effective_status
from sosqueue.statuses import OPEN_STATUSES, Status

#: The most requests one report reads; a longer period is refused.
MAX_REQUESTS = 100_000
#: The longest period a report covers, in days.
MAX_PERIOD_DAYS = 366
#: The period a report covers when none is chosen: the last seven days, today included.
DEFAULT_PERIOD_DAYS = 7


class BadPeriod(ValueError):
    """The period's dates are missing their format, reversed or too far apart."""


class TooManyRequests(ValueError):
    """The period holds more requests than a report reads (:data:`MAX_REQUESTS`)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=timezone.utc)

    @property
    def ends(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=timezone.utc)


def default_period(today: date) -> Period:
    return Period(first=today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), last=today)


def parse_period(first: str | None, last: str | None, *, today: date) -> Period:
    """The period from two ISO dates (``YYYY-MM-DD``); a missing one takes the default's."""
    default = default_period(today)
    try:
        period = Period(first=_date(first) or default.first, last=_date(last) or default.last)
    except ValueError:
        raise BadPeriod("dates must be written YYYY-MM-DD") from None
    if period.first > period.last:
        raise BadPeriod("the period must start before it ends")
    if (period.last - period.first).days >= MAX_PERIOD_DAYS:
        raise BadPeriod(f"a period covers at most {MAX_PERIOD_DAYS} days")
    return period


def _date(text: str | None) -> date | None:
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's ``percentile_cont``)."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    below, above = math.floor(position), math.ceil(position)
    weight = position - below
    return sorted_values[below] * (1 - weight) + sorted_values[above] * weight


@dataclass(frozen=True)
class Outcome:
    """What the report needs of one request."""

    group_id: str | None
    assignee_id: str | None
    first_join_seconds: float | None
    close_seconds: float | None
    expired: bool


@dataclass(frozen=True)
class Figures:
    """The figures of one group, one supporter or all requests; times in seconds, None without data."""

    key: str | None
    name: str
    requests: int
    first_join_median: float | None
    first_join_p90: float | None
    close_median: float | None
    close_p90: float | None
    expired_share: float | None


@dataclass(frozen=True)
class Report:
    period: Period
    total: Figures
    groups: list[Figures]
    supporters: list[Figures]


def figures(key: str | None, name: str, outcomes: Sequence[Outcome]) -> Figures:
    joins = sorted(o.first_join_seconds for o in outcomes if o.first_join_seconds is not None)
    closes = sorted(o.close_seconds for o in outcomes if o.close_seconds is not None)
    return Figures(
        key=key,
        name=name,
        requests=len(outcomes),
        first_join_median=percentile(joins, 0.5),
        first_join_p90=percentile(joins, 0.9),
        close_median=percentile(closes, 0.5),
        close_p90=percentile(closes, 0.9),
        expired_share=sum(o.expired for o in outcomes) / len(outcomes) if outcomes else None,
    )


def outcomes(session: Session, *, company_id: str, period: Period, now: datetime) -> list[Outcome]:
    """One :class:`Outcome` per request the company created in ``period``."""
    rows = session.execute(
        select(ServiceRequest.group_id, ServiceRequest.assignee_id, ServiceRequest.status,
               ServiceRequest.valid_until, ServiceRequest.created_at, ServiceRequest.first_joined_at,
               ServiceRequest.closed_at)
        .where(ServiceRequest.company_id == company_id, ServiceRequest.created_at >= period.starts,
               ServiceRequest.created_at < period.ends)
        .limit(MAX_REQUESTS + 1)
    ).all()
    if len(rows) > MAX_REQUESTS:
        raise TooManyRequests(f"the period holds more than {MAX_REQUESTS} requests; choose a shorter one")
    return [_outcome(row, now) for row in rows]


def _outcome(row, now: datetime) -> Outcome:
    return Outcome(
        group_id=row.group_id,
        assignee_id=row.assignee_id,
        first_join_seconds=_seconds_between(row.created_at, row.first_joined_at),
        close_seconds=_seconds_between(row.created_at, row.closed_at),
        expired=effective_status(row, now) is Status.EXPIRED,
    )


def _seconds_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def build_report(session: Session, *, company_id: str, period: Period, now: datetime) -> Report:
    """The company's figures for ``period``: in all, per group and per supporter (by name)."""
    found = outcomes(session, company_id=company_id, period=period, now=now)
    group_names = dict(session.execute(select(Group.id, Group.name).where(Group.company_id == company_id)).all())
    user_names = {row.id: row.name or row.email
                  for row in session.execute(select(User.id, User.name, User.email)
                                             .where(User.company_id == company_id))}
    return Report(
        period=period,
        total=figures(None, "", found),
        groups=_per(found, lambda o: o.group_id, group_names),
        supporters=_per(found, lambda o: o.assignee_id, user_names),
    )


def _per(found: Iterable[Outcome], key_of, names: dict[str, str]) -> list[Figures]:
    """Figures per key, ordered by name; requests without one (no group, nobody assigned) come last."""
    by_key: dict[str | None, list[Outcome]] = defaultdict(list)
    for outcome in found:
        by_key[key_of(outcome)].append(outcome)
    rows = [figures(key, names.get(key, "") if key else "", items) for key, items in by_key.items()]
    return sorted(rows, key=lambda row: (row.key is None, row.name.casefold()))


# -- live gauges ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gauges:
    """The queue right now: open requests per (status, group name) and oldest waiting age per group.

    A request *waits* while it is ``new``: nobody has started its session yet. "" names no group.
    """

    open_requests: dict[tuple[Status, str], int]
    oldest_waiting_seconds: dict[str, float]


def live_gauges(session: Session, *, company_id: str, now: datetime) -> Gauges:
    """The company's gauges; every group appears, with zeros, so that series do not vanish."""
    names = [""] + list(session.scalars(select(Group.name).where(Group.company_id == company_id)))
    open_requests = {(status, name): 0 for status in _ordered(OPEN_STATUSES) for name in names}
    oldest = {name: 0.0 for name in names}
    rows = session.execute(
        select(Group.name, ServiceRequest.status, func.count(), func.min(ServiceRequest.created_at))
        .select_from(ServiceRequest)
        .outerjoin(Group, Group.id == ServiceRequest.group_id)
        .where(ServiceRequest.company_id == company_id,
               ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
               ServiceRequest.valid_until > now)
        .group_by(Group.name, ServiceRequest.status)
    ).all()
    for group_name, status, count, first_created in rows:
        name = group_name or ""
        open_requests[(Status(status), name)] = count
        if status == Status.NEW.value:
            oldest[name] = max(0.0, (now - first_created).total_seconds())
    return Gauges(open_requests=open_requests, oldest_waiting_seconds=oldest)


def _ordered(statuses: Iterable[Status]) -> list[Status]:
    return [status for status in Status if status in statuses]
