"""Agent updates: the signed offer of a platform's base agent, and the base itself (module tokens)."""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server import updates
from server.api.deps import ModuleActor, StateDep
from server.schemas import OfferPublic
from sosqueue.platforms import Platform
from sosqueue.updates import UPDATES_PATH

router = APIRouter(prefix=UPDATES_PATH, tags=["agent updates"])

_BINARY = "application/octet-stream"
_FILE_DOC = {200: {"content": {_BINARY: {"schema": {"type": "string", "format": "binary"}}},
                   "description": "the base agent of the offer"}}


@router.get("/{platform}", response_model=OfferPublic)
def offer(platform: Platform, _module: ModuleActor, state: StateDep) -> OfferPublic:
    """The base agent this server offers the platform's modules, signed with its update key."""
    current = updates.current_offer(state.settings.bases_dir, platform, state.secret_key)
    return OfferPublic(**current.to_json())


@router.get("/{platform}/file", response_class=FileResponse, responses=_FILE_DOC)
def base_file(platform: Platform, _module: ModuleActor, state: StateDep) -> FileResponse:
    """The offered base agent itself; the module checks it against the signed offer."""
    base, _info = updates.offered_base(state.settings.bases_dir, platform)
    return FileResponse(base, media_type=_BINARY, headers={"Cache-Control": "no-cache",
                                                          "X-Content-Type-Options": "nosniff"})
