"""A module's brand, kept by the server: what its downloads and builds carry (admins).

``PUT …/brand`` takes the brand's settings and the module's options as JSON; ``PUT …/brand/logo``
takes the logo's image file as the request body, as it is (any Content-Type; PNG, JPEG, GIF, ICO,
BMP or WebP, at most 2 MB and 20 megapixels), which the server keeps re-encoded as PNG.

The two calls are two transactions, each a new brand version that running modules pick up
(``sosqueue.brand_refresh``): between them a module may show the new settings with the old logo.
A dashboard save is one transaction (``server.brands``): settings and logo change together.

``options.topics`` are what the module's customers pick from ("What is it about?"): a label each
and the name of the group its requests go to ("" for the module's own group). A group the company
does not have, or an empty, too long or repeated label, is refused with 422 ``invalid_topics``.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from branding.model import BrandError
from server import brands
from server.api.deps import AdminActor, ReadDB, WriteDB
from server.api.routes.modules import company_module
from server.models import Module, ModuleBrand
from server.problems import Problem
from server.schemas import BrandPublic, BrandUpdate

router = APIRouter(prefix="/api/v1/modules", tags=["modules"])

#: The logo upload's path, which may carry a larger body than the other routes (``server.limits``).
LOGO_PATH = r"/api/v1/modules/[^/]+/brand/logo"
# The body is the image file as it is; its Content-Type is not looked at (Pillow reads the format).
LOGO_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


async def logo_upload(request: Request) -> bytes:
    """The request body: at most ``brands.MAX_UPLOAD_BYTES`` (``server.limits`` answers 413 beyond)."""
    return await request.body()


LogoUpload = Annotated[bytes, Depends(logo_upload)]


def brand_public(module: Module) -> BrandPublic:
    stored = module.brand
    if stored is None:
        brand, options = brands.module_brand(module)
        return BrandPublic(**brand.settings(), options=brands.options_json(options), version=0, logo_url=None,
                           logo_sha256=None, updated_at=None)
    return BrandPublic(**stored.settings, options=stored.options, version=stored.version,
                       logo_url=_logo_url(stored), logo_sha256=stored.logo_sha256, updated_at=stored.updated_at)


def _logo_url(stored: ModuleBrand) -> str | None:
    return f"/api/v1/modules/{stored.module_id}/brand/logo" if stored.logo_png else None


@router.get("/{module_id}/brand", response_model=BrandPublic)
def read_brand(module_id: str, actor: AdminActor, session: ReadDB) -> BrandPublic:
    """The module's brand; ``version`` 0 means it has none of its own yet (downloads carry the default)."""
    return brand_public(company_module(session, actor, module_id))


@router.put("/{module_id}/brand", response_model=BrandPublic)
def update_brand(module_id: str, body: BrandUpdate, actor: AdminActor, session: WriteDB) -> BrandPublic:
    """Set the module's brand and options (its logo stays); checked as ``sosqueue build`` checks a config."""
    module = company_module(session, actor, module_id)
    settings = body.model_dump(exclude={"options"})
    try:
        brands.update(session, module, settings, body.options.model_dump())
    except BrandError as error:
        raise Problem(422, str(error), code="invalid_brand") from None
    except brands.TopicsInvalid as error:
        raise Problem(422, f"options.{error.field}: {error.message}", code="invalid_topics") from None
    return brand_public(module)


@router.put("/{module_id}/brand/logo", response_model=BrandPublic, openapi_extra=LOGO_BODY, responses={
    422: {"description": "not an image the builder takes (PNG, JPEG, GIF, ICO, BMP or WebP, at most 20 megapixels)"}})
def update_logo(module_id: str, data: LogoUpload, actor: AdminActor, session: WriteDB) -> BrandPublic:
    """Set the module's logo: the image file's bytes as the body."""
    module = company_module(session, actor, module_id)
    try:
        brands.update_logo(session, module, data)
    except BrandError as error:
        raise Problem(422, str(error), code="invalid_brand") from None
    return brand_public(module)


@router.delete("/{module_id}/brand/logo", response_model=BrandPublic)
def remove_logo(module_id: str, actor: AdminActor, session: WriteDB) -> BrandPublic:
    """Give the module the default logo again."""
    module = company_module(session, actor, module_id)
    brands.remove_logo(module)
    return brand_public(module)


@router.get("/{module_id}/brand/logo", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the logo as PNG"},
                       404: {"description": "no module with this id in the company, or it has the default logo"}})
def read_logo(module_id: str, actor: AdminActor, session: ReadDB) -> Response:
    """The module's logo as the server keeps it (PNG); 404 while it has the default logo."""
    stored = company_module(session, actor, module_id).brand
    if stored is None or stored.logo_png is None:
        raise Problem(404, "this module has the default logo; upload one with PUT …/brand/logo", code="not_found")
    return Response(stored.logo_png, media_type="image/png", headers={"ETag": f'"{stored.logo_sha256}"'})
