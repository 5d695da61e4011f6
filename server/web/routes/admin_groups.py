"""Admin page for groups: create, add and remove members, routing settings, delete unused groups."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from server.api.deps import StateDep, WriteDB
from server.assignment import MAX_ALERT_MINUTES, MIN_ALERT_MINUTES
from server.models import Group, GroupMember, Module, ServiceRequest, User
from server.web.deps import AdminLoginDep, FormDep
from server.web.forms import text_field
from server.lookups import company_row
from server.web.routes.admin_users import AdminForm, company_user, keyed
from server.logins import Login
from server.web.templating import render

router = APIRouter(prefix="/admin/groups")

PAGE = "/admin/groups"


def company_group(session: Session, login: Login, group_id: str) -> Group:
    return company_row(session, Group, group_id, company_id=login.user.company_id, what="group")


def _groups_page(request: Request, login: Login, state, *, values: dict | None = None,
                 errors: dict | None = None, status: int = 200) -> Response:
    company_id = login.user.company_id
    with state.db.read() as session:
        groups = session.scalars(
            select(Group).where(Group.company_id == company_id)
            .options(selectinload(Group.members)).order_by(Group.name)
        ).all()
        users = session.scalars(
            select(User).where(User.company_id == company_id, User.active.is_(True)).order_by(User.email)
        ).all()
        return render(request, "admin/groups.html", login=login, groups=groups, users=users,
                      values=values or {}, errors=errors or {}, status=status,
                      min_alert_minutes=MIN_ALERT_MINUTES, max_alert_minutes=MAX_ALERT_MINUTES)


@router.get("")
def groups_page(request: Request, login: AdminLoginDep, state: StateDep) -> Response:
    """The company's groups with their members."""
    return _groups_page(request, login, state)


@router.post("")
def create_group(request: Request, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB) -> Response:
    """Create an empty group; members are added on the page."""
    check = AdminForm(form)
    name = check.line("name", required=True)
    if check.ok:
        if not _insert(session, Group(company_id=login.user.company_id, name=name)):
            check.conflict("name", "A group with this name already exists.")
    if not check.ok:
        return _groups_page(request, login, state, values={"name": name}, errors=check.errors, status=check.status)
    return RedirectResponse(PAGE, status_code=303)


def _insert(session: Session, group: Group) -> bool:
    try:
        with session.begin_nested():
            session.add(group)
            session.flush()
    except IntegrityError:
        return False
    return True


@router.post("/{group_id}/members/add")
def add_member(group_id: str, login: AdminLoginDep, form: FormDep, session: WriteDB) -> Response:
    """Add a user of the company to the group (adding a member twice changes nothing)."""
    group = company_group(session, login, group_id)
    user = company_user(session, login, text_field(form, "user"))
    if user not in group.members:
        group.members.append(user)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{group_id}/members/remove")
def remove_member(group_id: str, login: AdminLoginDep, form: FormDep, session: WriteDB) -> Response:
    """Take a user out of the group; the requests already assigned to them stay theirs."""
    group = company_group(session, login, group_id)
    user = company_user(session, login, text_field(form, "user"))
    session.execute(delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id))
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{group_id}/delete")
def delete_group(
    request: Request, group_id: str, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB
) -> Response:
    """Delete a group that no module files into and no request belongs to."""
    check = AdminForm(form)
    group = company_group(session, login, group_id)
    if session.scalar(select(exists().where(Module.group_id == group.id))):
        check.conflict("group", "A module files its requests into this group, so it cannot be deleted.")
    elif session.scalar(select(exists().where(ServiceRequest.group_id == group.id))):
        check.conflict("group", "Service requests belong to this group, so it stays for their history.")
    else:
        session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
        session.delete(group)
    if not check.ok:
        return _groups_page(request, login, state, errors=keyed(check.errors, group_id), status=check.status)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{group_id}/routing")
def change_routing(
    request: Request, group_id: str, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB
) -> Response:
    """Set when the group's waiting requests alert (empty: never) and whether they then move on."""
    check = AdminForm(form)
    group = company_group(session, login, group_id)
    unassigned = alert_minutes(check, "unassigned_alert_minutes")
    unjoined = alert_minutes(check, "unjoined_alert_minutes")
    if not check.ok:
        values = {f"{name}:{group_id}": text_field(form, name)
                  for name in ("unassigned_alert_minutes", "unjoined_alert_minutes")}
        return _groups_page(request, login, state, values=values, errors=keyed(check.errors, group_id),
                            status=check.status)
    group.unassigned_alert_minutes, group.unjoined_alert_minutes = unassigned, unjoined
    group.reassign_on_lapse = text_field(form, "reassign_on_lapse") == "on"
    return RedirectResponse(PAGE, status_code=303)


def alert_minutes(check: AdminForm, name: str) -> int | None:
    """A threshold in whole minutes; an empty field is None (never)."""
    value = text_field(check.form, name).strip()
    if not value:
        return None
    if not (len(value) <= 4 and value.isascii() and value.isdigit()) or not MIN_ALERT_MINUTES <= int(value) <= MAX_ALERT_MINUTES:
        check.refuse(name, "Enter whole minutes from {low} to {high}, or leave it empty for never.",
                     low=MIN_ALERT_MINUTES, high=MAX_ALERT_MINUTES)
        return None
    return int(value)
