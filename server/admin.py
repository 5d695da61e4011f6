"""Company profiles, users, groups and modules: shared by the CLI and the API."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import security
from server.assignment import parse_strategy
from server.models import ApiToken, Company, Group, Module, User, utcnow
from server.queue import Conflict, NotFound

ROLES = ("admin", "supporter")


@dataclass(frozen=True)
class WithToken:
    """Something just created together with its bearer token, which is shown only once."""

    item: User | Module
    token: str


def create_company(session: Session, *, name: str) -> Company:
    company = Company(name=name)
    _insert(session, company, f"a company named {name!r} already exists")
    return company


def company_by_name(session: Session, name: str) -> Company:
    company = session.scalar(select(Company).where(Company.name == name))
    if company is None:
        raise NotFound(f"there is no company named {name!r}; create it with: sosqueue company create {name!r}")
    return company


def create_user(
    session: Session, *, company: Company, email: str, role: str, password: str | None = None
) -> WithToken:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use admin or supporter")
    user = User(
        company_id=company.id,
        email=email.strip().lower(),
        role=role,
        password_hash=security.hash_password(password) if password else None,
    )
    _insert(session, user, f"a user with the email {email!r} already exists")
    return WithToken(user, issue_api_token(session, user=user))


def issue_api_token(session: Session, *, user: User) -> str:
    token = security.new_token(security.USER_TOKEN_PREFIX)
    session.add(ApiToken(user_id=user.id, token_hash=security.token_hash(token)))
    session.flush()
    return token


def create_group(session: Session, *, company: Company, name: str, member_emails: list[str] = ()) -> Group:
    members = [_company_user(session, company_id=company.id, email=email) for email in member_emails]
    group = Group(company_id=company.id, name=name)
    _insert(session, group, f"the group {name!r} already exists")
    group.members.extend(members)
    session.flush()
    return group


def group_by_name(session: Session, *, company_id: str, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.company_id == company_id, Group.name == name))
    if group is None:
        raise NotFound(f"there is no group {name!r} in this company")
    return group


def create_module(
    session: Session, *, company: Company, name: str, group: str | None = None, assignment: str = "none"
) -> WithToken:
    strategy = parse_strategy(assignment)
    if strategy.name == "fixed":
        _company_user(session, company_id=company.id, email=strategy.email)
    module = Module(
        company_id=company.id,
        group_id=group_by_name(session, company_id=company.id, name=group).id if group else None,
        name=name,
        assignment=assignment,
        token_hash="",
    )
    token = _new_module_token(module)
    _insert(session, module, "could not store the module")
    return WithToken(module, token)


def rotate_module_token(session: Session, *, module: Module) -> str:
    token = _new_module_token(module)
    module.revoked_at = None
    session.flush()
    return token


def revoke_module(session: Session, *, module: Module) -> None:
    module.revoked_at = module.revoked_at or utcnow()
    session.flush()


def _new_module_token(module: Module) -> str:
    token = security.new_token(security.MODULE_TOKEN_PREFIX)
    module.token_hash = security.token_hash(token)
    return token


def _company_user(session: Session, *, company_id: str, email: str) -> User:
    user = session.scalar(select(User).where(User.company_id == company_id, User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"there is no user {email!r} in this company")
    return user


def _insert(session: Session, item, conflict_message: str) -> None:
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict_message) from None
