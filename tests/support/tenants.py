"""Builders for test data: a company with an admin, supporters and a module, made for real."""

import uuid
from dataclasses import dataclass, field
from functools import cache

import httpx

from server import admin, security
from server.db import Database, upgrade


@dataclass
class Tenant:
    """One company profile and the tokens of its people and module."""

    name: str
    admin_token: str
    supporter_tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    module_token: str | None = None
    module_id: str | None = None

    @property
    def supporter_token(self) -> str:
        return next(iter(self.supporter_tokens.values()))

    @property
    def admin_email(self) -> str:
        return next(iter(self.user_ids))

    @property
    def supporter_email(self) -> str:
        return next(iter(self.supporter_tokens))


def make_tenant(
    database_url: str,
    *,
    supporters: int = 1,
    assignment: str = "none",
    group_members: int | None = None,
    password: str | None = None,
) -> Tenant:
    """A fresh company: admin, ``supporters`` supporters, a module with ``assignment``.

    With ``group_members`` the module files into a group holding the first N supporters.
    With ``password`` every user can log in to the dashboard with it.
    """
    tag = uuid.uuid4().hex[:10]
    password_hash = hashed(password) if password else None
    database = Database(database_url)
    try:
        upgrade(database)
        with database.write() as session:
            company = admin.create_company(session, name=f"Company {tag}")
            boss = with_password(admin.create_user(session, company=company, email=f"admin-{tag}@example.test",
                                                   role="admin"), password_hash)
            tenant = Tenant(name=company.name, admin_token=boss.token, user_ids={boss.item.email: boss.item.id})
            for index in range(supporters):
                created = with_password(admin.create_user(session, company=company, email=f"s{index}-{tag}@example.test",
                                                          role="supporter"), password_hash)
                tenant.supporter_tokens[created.item.email] = created.token
                tenant.user_ids[created.item.email] = created.item.id
            group = None
            if group_members is not None:
                group = f"team-{tag}"
                admin.create_group(session, company=company, name=group,
                                   member_emails=list(tenant.supporter_tokens)[:group_members])
            strategy = assignment.replace("{first}", next(iter(tenant.supporter_tokens), ""))
            module = admin.create_module(session, company=company, name="SOS", group=group, assignment=strategy)
            tenant.module_token, tenant.module_id = module.token, module.item.id
        return tenant
    finally:
        database.dispose()


@cache
def hashed(password: str) -> str:
    """The password hashed as the server stores it; once per password, since hashing is slow on purpose."""
    return security.hash_password(password)


def with_password(created, password_hash: str | None):
    """A user just made by ``admin.create_user``, given ``password_hash`` (a real hash of the password)."""
    if password_hash is not None:
        created.item.password_hash = password_hash
    return created


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def file_request(base_url: str, token: str, **body) -> dict:
    """Create a service request over HTTP and return the 201 body."""
    payload = {"description": "my printer is on fire", **body}
    response = httpx.post(f"{base_url}/api/v1/service-requests", json=payload, headers=bearer(token), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()
