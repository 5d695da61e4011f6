"""A module's brand as the server keeps it: the source of truth for its downloads and builds.

The brand is checked with the builder's own rules (``branding.model.Brand``), so a brand the
CLI refuses is refused here in the same words. Every change bumps the brand's ``version``.
"""

import hashlib
from dataclasses import asdict

from sqlalchemy.orm import Session

from branding.model import DEFAULT_COMPANY, DEFAULT_PRODUCT, Brand, BrandError, decode_logo, logo_png
from server.models import Module, ModuleBrand, utcnow
from sosqueue import module_config
from sosqueue.platforms import FILE_NAME_UNSAFE

#: An uploaded logo may be this large; the builder sends it re-encoded, far smaller.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
UPLOAD_NAME = "the uploaded logo"
STORED_NAME = "the module's logo"


def default_brand(company_name: str) -> Brand:
    """The default brand under the company's name, kept to what a shortcut's file name allows."""
    name = "".join(c for c in company_name if c not in FILE_NAME_UNSAFE and c.isprintable()).strip()[:60].strip()
    try:
        return Brand(company=name or DEFAULT_COMPANY, product=name or DEFAULT_PRODUCT)
    except BrandError:
        return Brand()


def module_brand(module: Module) -> tuple[Brand, module_config.Options]:
    """The brand and options a download of ``module`` carries (``module.brand``/``.company`` load here):
    the stored ones, or the default brand under the company's name and the default options."""
    stored = module.brand
    if stored is None:
        return default_brand(module.company.name), module_config.Options()
    return _checked(stored.settings, stored.logo_png), options_of(stored)


def options_of(stored: ModuleBrand) -> module_config.Options:
    return module_config.options_from_json(stored.options)


def update(session: Session, module: Module, settings: dict, options: dict) -> ModuleBrand:
    """Keep ``settings`` (as ``branding.model.Brand.settings()``) and ``options`` as the module's brand,
    its logo unchanged.

    :raises BrandError: for the first setting the builder would refuse; nothing is changed then.
    """
    stored = module.brand
    brand = _checked(settings, stored.logo_png if stored else None)
    stored = stored or _new(session, module)
    stored.settings = brand.settings()
    stored.options = options
    return _changed(stored)


def update_logo(session: Session, module: Module, data: bytes) -> ModuleBrand:
    """Keep the image ``data`` (re-encoded as PNG) as the module's logo; a module without a brand
    of its own gets the default brand under the company's name with it.

    :raises BrandError: if ``data`` is not a logo the builder would take, or larger than :data:`MAX_UPLOAD_BYTES`.
    """
    png = logo_png(decode_logo(data, UPLOAD_NAME, max_bytes=MAX_UPLOAD_BYTES))
    stored = module.brand or _new(session, module)
    stored.logo_png = png
    stored.logo_sha256 = hashlib.sha256(png).hexdigest()
    return _changed(stored)


def remove_logo(module: Module) -> ModuleBrand | None:
    """Give the module the default logo again; ``None`` if it has no brand of its own."""
    stored = module.brand
    if stored is None or stored.logo_png is None:
        return stored
    stored.logo_png = stored.logo_sha256 = None
    return _changed(stored)


def _checked(settings: dict, png: bytes | None) -> Brand:
    brand = Brand.from_mapping({name: value for name, value in settings.items() if value is not None})
    return brand.with_logo(decode_logo(png, STORED_NAME), STORED_NAME) if png else brand


def _new(session: Session, module: Module) -> ModuleBrand:
    stored = ModuleBrand(module_id=module.id, settings=default_brand(module.company.name).settings(),
                         options=asdict(module_config.Options()), version=0)
    session.add(stored)
    module.brand = stored
    return stored


def _changed(stored: ModuleBrand) -> ModuleBrand:
    stored.version = (stored.version or 0) + 1
    stored.updated_at = utcnow()
    return stored
