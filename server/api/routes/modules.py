"""Support modules: each personalised agent's identity and token (admins)."""

from fastapi import APIRouter
from sqlalchemy import select

from server import admin, updates
from server.api.deps import AdminActor, ReadDB, StateDep, WriteDB
from server.models import Company, Module
from server.lookups import company_row
from server.queue import Conflict
from server.schemas import ModuleCreate, ModuleCreated, ModulePublic, ModulesPublic
from server.state import AppState

router = APIRouter(prefix="/api/v1/modules", tags=["modules"])


def module_public(module: Module) -> ModulePublic:
    return ModulePublic(
        id=module.id,
        name=module.name,
        group=module.group.name if module.group else None,
        assignment=module.assignment,
        revoked=module.revoked_at is not None,
        created_at=module.created_at,
    )


def module_created(module: Module, token: str, state: AppState) -> ModuleCreated:
    """What a build needs to stamp the module: its token and the server's update key."""
    return ModuleCreated(**module_public(module).model_dump(), token=token,
                         update_key=updates.public_key(state.secret_key))


@router.get("", response_model=ModulesPublic)
def list_modules(actor: AdminActor, session: ReadDB) -> ModulesPublic:
    """The company's modules (tokens are never shown again)."""
    modules = session.scalars(select(Module).where(Module.company_id == actor.company_id).order_by(Module.name))
    return ModulesPublic(items=[module_public(m) for m in modules])


@router.post("", status_code=201, response_model=ModuleCreated, responses={
    404: {"description": "no group of this name, or no user of this email for fixed assignment, in the company"}})
def create_module(body: ModuleCreate, actor: AdminActor, state: StateDep, session: WriteDB) -> ModuleCreated:
    """Register a module; the answer carries its token, shown only this once."""
    company = session.get(Company, actor.company_id)
    created = admin.create_module(
        session, company=company, name=body.name, group=body.group, assignment=body.assignment,
        secret_key=state.secret_key,
    )
    return module_created(created.item, created.token, state)


@router.post("/{module_id}/rotate-token", response_model=ModuleCreated)
def rotate_token(module_id: str, actor: AdminActor, state: StateDep, session: WriteDB) -> ModuleCreated:
    """Give the module a new token; the old one stops working at once."""
    module = company_module(session, actor, module_id)
    token = admin.rotate_module_token(session, module=module, secret_key=state.secret_key)
    return module_created(module, token, state)


@router.get("/{module_id}/token", response_model=ModuleCreated, responses={
    409: {"description": "the module's token cannot be derived: rotate it once"}})
def current_token(module_id: str, actor: AdminActor, state: StateDep, session: ReadDB) -> ModuleCreated:
    """The module's working token, without changing it, for building the module again.

    Only tokens derivable from the server's key can be shown (the server stores a hash); a
    module made before that, or under another key, answers 409: rotate its token once.
    """
    module = company_module(session, actor, module_id)
    token = admin.current_module_token(state.secret_key, module)
    if token is None:
        raise Conflict("this module's token cannot be derived; rotate it once (POST …/rotate-token) to build it again")
    return module_created(module, token, state)


@router.post("/{module_id}/revoke", response_model=ModulePublic)
def revoke(module_id: str, actor: AdminActor, session: WriteDB) -> ModulePublic:
    """Stop the module from filing requests (rotate its token to bring it back)."""
    module = company_module(session, actor, module_id)
    admin.revoke_module(session, module=module)
    return module_public(module)


def company_module(session, actor, module_id: str) -> Module:
    return company_row(session, Module, module_id, company_id=actor.company_id, what="module")
