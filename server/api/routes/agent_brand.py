"""Brand refresh: a module's signed brand manifest and its rendered files (module tokens).

``GET {BRAND_PATH}`` answers the module's :class:`sosqueue.brand_refresh.BrandManifest`, signed with
the key that signs agent updates, with an ``ETag``: a module that sends it back as ``If-None-Match``
gets ``304`` while the brand is unchanged. ``GET {ASSETS_PATH}/<name>`` answers one of its files.
Both are rendered once per module and brand version (``server.brands.refreshed_brand``).
"""

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from server import brands, updates
from server.api.deps import ModuleActor, ReadDB, StateDep
from server.models import Module
from server.problems import Problem
from sosqueue.brand_refresh import ASSETS_PATH, BRAND_PATH
from sosqueue.module_config import ASSET_NAMES

router = APIRouter(prefix=BRAND_PATH, tags=["agent brand"])

_MEDIA_TYPES = {".png": "image/png", ".ico": "image/vnd.microsoft.icon"}
_STORED_INVALID = {"description": "the module's stored brand fails the rules in force: an admin must edit it"}
_MANIFEST_DOC = {200: {"description": "the module's brand manifest, signed with the server's update key"},
                 304: {"description": "the brand is the one named by If-None-Match"},
                 409: _STORED_INVALID}
_ASSET_DOC = {200: {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                                for media in _MEDIA_TYPES.values()},
                    "description": "one rendered file of the brand"},
              404: {"description": "the brand has no file of this name"},
              409: {"description": "the brand changed since `version` (ask for its manifest again), or the "
                                   "module's stored brand fails the rules in force"}}


def _rendered(session, actor, state) -> brands.RenderedBrand:
    module = session.get(Module, actor.module.id)
    return brands.refreshed_brand(module, private_key=updates.signing_key(state.secret_key))


@router.get("", response_class=JSONResponse, responses=_MANIFEST_DOC)
def manifest(actor: ModuleActor, state: StateDep, session: ReadDB,
             if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The module's brand: version, names, colours, texts, options and each file's SHA-256 and size, signed."""
    rendered = _rendered(session, actor, state)
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    if if_none_match == rendered.etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse(rendered.manifest.to_json(), headers=headers)


@router.get(ASSETS_PATH.removeprefix(BRAND_PATH) + "/{name}", response_class=Response, responses=_ASSET_DOC)
def asset(name: str, actor: ModuleActor, state: StateDep, session: ReadDB, version: int | None = None) -> Response:
    """One file of the module's brand (``version``: the manifest's, 409 if the brand changed since)."""
    if name not in ASSET_NAMES:
        raise Problem(404, f"a brand has no file {name!r}; its files are {', '.join(ASSET_NAMES)}", code="not_found")
    rendered = _rendered(session, actor, state)
    if version is not None and version != rendered.manifest.version:
        raise Problem(409, f"the brand changed since version {version}; ask for its manifest again",
                      code="brand_changed")
    data = rendered.assets.get(name)
    if data is None:
        raise Problem(404, f"this module's brand has no file {name!r}", code="not_found")
    media_type = next(media for suffix, media in _MEDIA_TYPES.items() if name.endswith(suffix))
    return Response(data, media_type=media_type, headers={
        "ETag": f'"{rendered.manifest.assets[name].sha256}"', "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff"})

