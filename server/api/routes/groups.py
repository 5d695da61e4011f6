"""Groups of a company: who works which module's requests, and when their waiting requests alert."""

from fastapi import APIRouter
from sqlalchemy import select

from server import admin
from server.api.deps import AdminActor, ReadDB, UserActor, WriteDB
from server.models import Company, Group
from server.lookups import company_row
from server.schemas import GroupCreate, GroupPublic, GroupRouting, GroupsPublic, GroupUpdate

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])

ROUTING_FIELDS = tuple(GroupRouting.model_fields)


def group_public(group: Group) -> GroupPublic:
    return GroupPublic(id=group.id, name=group.name, members=sorted(u.email for u in group.members),
                       **{name: getattr(group, name) for name in ROUTING_FIELDS})


@router.get("", response_model=GroupsPublic)
def list_groups(actor: UserActor, session: ReadDB) -> GroupsPublic:
    """The company's groups, their members and routing settings."""
    groups = session.scalars(select(Group).where(Group.company_id == actor.company_id).order_by(Group.name))
    return GroupsPublic(items=[group_public(g) for g in groups])


@router.post("", status_code=201, response_model=GroupPublic, responses={
    404: {"description": "a member is not a user of the company"},
    409: {"description": "the company has a group of this name already"}})
def create_group(body: GroupCreate, actor: AdminActor, session: WriteDB) -> GroupPublic:
    """Create a group (admins)."""
    company = session.get(Company, actor.company_id)
    group = admin.create_group(session, company=company, name=body.name, member_emails=body.members)
    _set_routing(group, body.model_dump(include=set(ROUTING_FIELDS)))
    return group_public(group)


@router.patch("/{group_id}", response_model=GroupPublic)
def update_group(group_id: str, body: GroupUpdate, actor: AdminActor, session: WriteDB) -> GroupPublic:
    """Change a group's routing settings (admins); the fields left out stay as they are."""
    group = company_group(session, actor, group_id)
    _set_routing(group, body.model_dump(include=body.model_fields_set))
    return group_public(group)


def _set_routing(group: Group, settings: dict) -> None:
    for name, value in settings.items():
        setattr(group, name, value)


def company_group(session, actor, group_id: str) -> Group:
    return company_row(session, Group, group_id, company_id=actor.company_id, what="group")
