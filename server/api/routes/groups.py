"""Groups of a company: who works which module's requests."""

from fastapi import APIRouter
from sqlalchemy import select

from server import admin
from server.api.deps import AdminActor, ReadDB, UserActor, WriteDB
from server.models import Company, Group
from server.schemas import GroupCreate, GroupPublic, GroupsPublic

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])


def group_public(group: Group) -> GroupPublic:
    return GroupPublic(id=group.id, name=group.name, members=sorted(u.email for u in group.members))


@router.get("", response_model=GroupsPublic)
def list_groups(actor: UserActor, session: ReadDB) -> GroupsPublic:
    """The company's groups and their members."""
    groups = session.scalars(select(Group).where(Group.company_id == actor.company_id).order_by(Group.name))
    return GroupsPublic(items=[group_public(g) for g in groups])


@router.post("", status_code=201, response_model=GroupPublic)
def create_group(body: GroupCreate, actor: AdminActor, session: WriteDB) -> GroupPublic:
    """Create a group (admins)."""
    company = session.get(Company, actor.company_id)
    group = admin.create_group(session, company=company, name=body.name, member_emails=body.members)
    return group_public(group)
