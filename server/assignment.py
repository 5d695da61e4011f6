"""Automated assignment: who a module's new request goes to.

``none`` leaves it unassigned for the whole group; ``fixed:EMAIL`` gives it to one user while
that user is active and available, and otherwise leaves it to the group as ``none`` does (groups
have no rule of their own); ``round_robin`` and ``least_open`` pick among the group's available
supporters. The group is the request's: the module's own, or the group of the topic the customer
picked (``server.queue``).
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sosqueue.statuses import OPEN_STATUSES
from server.models import Group, GroupMember, Module, ServiceRequest, User

STRATEGIES = ("none", "fixed", "round_robin", "least_open")
#: The range of a group's routing thresholds (``Group.unassigned_alert_minutes``, ``unjoined_alert_minutes``).
MIN_ALERT_MINUTES, MAX_ALERT_MINUTES = 1, 24 * 60


class UnknownStrategy(ValueError):
    pass


@dataclass(frozen=True)
class Strategy:
    name: str
    email: str | None = None


@dataclass(frozen=True)
class Choice:
    user: User | None
    reason: str


def parse_strategy(text: str) -> Strategy:
    name, _, argument = text.partition(":")
    if name == "fixed" and "@" in argument:
        return Strategy("fixed", argument.strip().lower())
    if name in ("none", "round_robin", "least_open") and not argument:
        return Strategy(name)
    raise UnknownStrategy(
        f"unknown assignment {text!r}: use none, fixed:EMAIL, round_robin or least_open"
    )


#: ``choose_assignee``'s group when none is given: the module's own.
MODULE_GROUP = object()


def choose_assignee(session: Session, *, module: Module, now: datetime,
                    group_id: str | None | object = MODULE_GROUP) -> Choice:
    """The user a new request of ``module`` for the group ``group_id`` (None: the whole company) goes
    to, and why (recorded in its event)."""
    group_id = module.group_id if group_id is MODULE_GROUP else group_id
    strategy = parse_strategy(module.assignment)
    if strategy.name == "none":
        return Choice(None, "module assigns nobody")
    if strategy.name == "fixed":
        return _fixed(session, module=module, email=strategy.email, group_id=group_id)
    candidates = _available_supporters(session, company_id=module.company_id, group_id=group_id)
    if not candidates:
        return Choice(None, "no supporter of the group is available")
    if strategy.name == "round_robin":
        return Choice(_next_in_turn(candidates, module.last_assigned_user_id), "round_robin")
    return Choice(_least_open(session, candidates=candidates, now=now), "least_open")


def _fixed(session: Session, *, module: Module, email: str, group_id: str | None) -> Choice:
    user = session.scalar(
        select(User).where(User.company_id == module.company_id, User.email == email)
    )
    if user is None or not user.active:
        return Choice(None, f"fixed assignee {email} is not an active user of the company; {_left_to(group_id)}")
    if not user.available:
        return Choice(None, f"fixed assignee {email} is away; {_left_to(group_id)}")
    return Choice(user, "fixed")


def _left_to(group_id: str | None) -> str:
    """Where a request goes that its fixed assignee cannot take: to everyone who sees it, unassigned."""
    return "left unassigned for the group" if group_id is not None else "left unassigned for everyone"


def _available_supporters(session: Session, *, company_id: str, group_id: str | None) -> list[User]:
    query = select(User).where(
        User.company_id == company_id, User.active.is_(True), User.available.is_(True)
    )
    if group_id is not None:
        query = query.join(GroupMember, GroupMember.user_id == User.id).where(
            GroupMember.group_id == group_id
        )
    return list(session.scalars(query.order_by(User.id)))


def next_in_group(session: Session, *, group: Group, excluding: Collection[str], now: datetime) -> Choice:
    """Who a request of ``group`` goes to when it lapsed: the available member with the fewest open
    requests, never one in ``excluding`` (those who let it lapse before)."""
    candidates = [user for user in _available_supporters(session, company_id=group.company_id, group_id=group.id)
                  if user.id not in excluding]
    if not candidates:
        return Choice(None, "no other supporter of the group is available; left unassigned for the group")
    return Choice(_least_open(session, candidates=candidates, now=now), "lapsed: the group's next available supporter")


def _next_in_turn(candidates: list[User], last_user_id: str | None) -> User:
    later = [user for user in candidates if last_user_id is None or user.id > last_user_id]
    return later[0] if later else candidates[0]


def _least_open(session: Session, *, candidates: list[User], now: datetime) -> User:
    open_counts = dict(
        session.execute(
            select(ServiceRequest.assignee_id, func.count())
            .where(
                ServiceRequest.company_id == candidates[0].company_id,
                ServiceRequest.assignee_id.in_([user.id for user in candidates]),
                ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
                ServiceRequest.valid_until > now,
            )
            .group_by(ServiceRequest.assignee_id)
        ).all()
    )
    return min(candidates, key=lambda user: (open_counts.get(user.id, 0), user.id))
