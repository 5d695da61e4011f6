"""Company profiles, users, groups and modules: shared by the CLI and the API."""

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import security
from server.assignment import parse_strategy
from server.models import ApiToken, Company, Group, Module, User, new_id, utcnow
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
    session: Session, *, company: Company, name: str, group: str | None = None, assignment: str = "none",
    secret_key: str | None = None,
) -> WithToken:
    """Register a module; with ``secret_key`` its token is derivable (see :func:`module_token`)."""
    strategy = parse_strategy(assignment)
    if strategy.name == "fixed":
        _company_user(session, company_id=company.id, email=strategy.email)
    module = Module(
        id=new_id(),
        company_id=company.id,
        group_id=group_by_name(session, company_id=company.id, name=group).id if group else None,
        name=name,
        assignment=assignment,
        token_hash="",
    )
    token = _new_module_token(module, secret_key)
    _insert(session, module, "could not store the module")
    return WithToken(module, token)


def rotate_module_token(session: Session, *, module: Module, secret_key: str | None = None) -> str:
    token = _new_module_token(module, secret_key)
    module.revoked_at = None
    session.flush()
    return token


def revoke_module(session: Session, *, module: Module) -> None:
    module.revoked_at = module.revoked_at or utcnow()
    session.flush()


def module_token(secret_key: str, module_id: str, nonce: str) -> str:
    """A module's token, derived like customer tokens so that a download can stamp it; never stored."""
    mac = hmac.new(secret_key.encode(), f"module:{module_id}:{nonce}".encode(), hashlib.sha256)
    return security.MODULE_TOKEN_PREFIX + urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def current_module_token(secret_key: str, module: Module) -> str | None:
    """The module's working token, or None when it cannot be derived (made at random, or
    with another secret key): rotating it once makes it derivable."""
    if not module.token_nonce:
        return None
    token = module_token(secret_key, module.id, module.token_nonce)
    return token if hmac.compare_digest(security.token_hash(token), module.token_hash) else None


def _new_module_token(module: Module, secret_key: str | None) -> str:
    if secret_key is None:
        module.token_nonce = None
        token = security.new_token(security.MODULE_TOKEN_PREFIX)
    else:
        module.token_nonce = secrets.token_urlsafe(16)
        token = module_token(secret_key, module.id, module.token_nonce)
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
