"""The caller and their colleagues; availability for automated assignment."""

from fastapi import APIRouter
from sqlalchemy import select

from server.api.deps import ReadDB, UserActor, WriteDB, current_user
from server.models import User
from server.schemas import AvailabilityUpdate, UserPublic, UsersPublic

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        role=user.role,
        available=user.available,
        active=user.active,
        groups=sorted(group.name for group in user.groups),
    )


@router.get("", response_model=UsersPublic)
def list_users(actor: UserActor, session: ReadDB) -> UsersPublic:
    """Everyone in the caller's company profile (whom requests can be assigned to)."""
    users = session.scalars(select(User).where(User.company_id == actor.company_id).order_by(User.email))
    return UsersPublic(items=[user_public(u) for u in users])


@router.get("/me", response_model=UserPublic)
def me(actor: UserActor, session: ReadDB) -> UserPublic:
    """The caller."""
    return user_public(current_user(session, actor))


@router.put("/me/availability", response_model=UserPublic)
def set_availability(body: AvailabilityUpdate, actor: UserActor, session: WriteDB) -> UserPublic:
    """Switch yourself available or away; automated assignment picks only available supporters."""
    user = current_user(session, actor)
    user.available = body.available
    session.flush()
    return user_public(user)
