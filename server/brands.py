"""A module's brand as the server keeps it: the source of truth for its downloads, builds and refreshes.

The brand is checked with the builder's own rules (``branding.model.Brand``), so a brand the
CLI refuses is refused here in the same words. Every change bumps the brand's ``version``; running
modules take the new version from :func:`refreshed_brand` (``sosqueue.brand_refresh``).

The options carry the module's topics (``module_config.Topic``): each label once, each group one
of the company's (:func:`checked_options`), so that a request is never routed to a group that was
not there when the topics were saved.

The API sets settings and logo in two calls (``PUT …/brand``, ``PUT …/brand/logo``), each a
transaction and a version of its own: a module may refresh in between, to the new settings with the
old logo, and take the logo at its next refresh. A dashboard save is one transaction: it calls
:func:`update` and :func:`update_logo` in one write session, so modules see one change.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from branding.model import DEFAULT_COMPANY, DEFAULT_PRODUCT, Brand, BrandError, decode_logo, logo_png
from branding.render import render_assets
from server.models import Group, Module, ModuleBrand, utcnow
from server.queue import Conflict
from sosqueue import module_config
from sosqueue.brand_refresh import BrandManifest, manifest_for
from sosqueue.platforms import FILE_NAME_UNSAFE

#: An uploaded logo may be this large; the builder sends it re-encoded, far smaller.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
UPLOAD_NAME = "the uploaded logo"
STORED_NAME = "the module's logo"
#: How many modules' rendered brands the server keeps in memory (each about 250 KB).
RENDERED_CACHE_SIZE = 64


class TopicsInvalid(ValueError):
    """The module's topics cannot be kept; ``field`` is the input at fault (``topics``, ``topics.N.label``
    or ``topics.N.group``, N counting from 0), ``message`` says what is wrong and how to fix it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class StoredBrandInvalid(Conflict):
    """The brand kept for a module fails the rules in force (kept by an older server with looser ones)."""

    def __init__(self, error: BrandError):
        super().__init__(f"the module's stored brand no longer passes the current rules ({error}); "
                         "edit it in Admin → Modules → Brand")
        self.error = error


@dataclass(frozen=True)
class RenderedBrand:
    """One version of a module's brand as running modules take it: the signed manifest and its files."""

    manifest: BrandManifest
    assets: dict[str, bytes]

    @property
    def etag(self) -> str:
        """The manifest's entity tag: another version, key or rendering is another tag."""
        return f'"{self.manifest.version}-{hashlib.sha256(self.manifest.signature.encode()).hexdigest()[:16]}"'


def default_brand(company_name: str) -> Brand:
    """The default brand under the company's name, kept to what a shortcut's file name allows."""
    name = "".join(c for c in company_name if c not in FILE_NAME_UNSAFE and c.isprintable()).strip()[:60].strip()
    try:
        return Brand(company=name or DEFAULT_COMPANY, product=name or DEFAULT_PRODUCT)
    except BrandError:
        return Brand()


def module_brand(module: Module) -> tuple[Brand, module_config.Options]:
    """The brand and options a download of ``module`` carries (``module.brand``/``.company`` load here):
    the stored ones, or the default brand under the company's name and the default options.

    :raises StoredBrandInvalid: (a ``Conflict``, 409) if the stored brand fails the rules in force.
    """
    stored = module.brand
    if stored is None:
        return default_brand(module.company.name), module_config.Options()
    try:
        return _checked(stored.settings, stored.logo_png), options_of(stored)
    except BrandError as error:
        raise StoredBrandInvalid(error) from None


def brand_version(module: Module) -> int:
    """The version of ``module``'s brand: 0 while it has none of its own."""
    return module.brand.version if module.brand else 0


def refreshed_brand(module: Module, *, private_key: bytes) -> RenderedBrand:
    """The module's brand as running modules take it, signed with ``private_key`` (the update key).

    Rendered once per module and version (rendering takes a tenth of a second and more), not per request.

    :raises StoredBrandInvalid: as :func:`module_brand` does.
    """
    version = brand_version(module)
    # The default brand follows the company's name, which has no version of its own.
    key = (module.id, version, "" if version else module.company.name, hashlib.sha256(private_key).digest())
    return _rendered.get(key, lambda: _render(module, version, private_key))


def _render(module: Module, version: int, private_key: bytes) -> RenderedBrand:
    brand, options = module_brand(module)
    assets = render_assets(brand)
    manifest = manifest_for(module.id, version, brand.stamped(), options, assets)
    return RenderedBrand(manifest=manifest.signed(private_key), assets=assets)


class _RenderedBrands:
    """The last :data:`RENDERED_CACHE_SIZE` rendered brands, by (module, version, …)."""

    def __init__(self, size: int = RENDERED_CACHE_SIZE):
        self._size = size
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple, RenderedBrand] = OrderedDict()

    def get(self, key: tuple, render: Callable[[], RenderedBrand]) -> RenderedBrand:
        # Rendering under the lock: modules asking at once wait for one rendering instead of each making one.
        with self._lock:
            rendered = self._known.get(key)
            if rendered is None:
                rendered = self._known[key] = render()
                while len(self._known) > self._size:
                    self._known.popitem(last=False)
            self._known.move_to_end(key)
            return rendered


_rendered = _RenderedBrands()


def options_of(stored: ModuleBrand) -> module_config.Options:
    return module_config.options_from_json(stored.options)


def options_json(options: module_config.Options) -> dict:
    """``options`` as the brand keeps them (JSON: lists, not tuples), so that kept and sent ones compare equal."""
    return {**asdict(options), "topics": [asdict(topic) for topic in options.topics]}


def checked_options(session: Session, module: Module, options: dict) -> dict:
    """``options`` (JSON, as the API and the editor send them) in the form the brand keeps them, checked.

    :raises TopicsInvalid: for an empty, too long or repeated topic label, too many topics, or a topic's
        group that the company does not have.
    """
    topics = options.get("topics", [])
    for index, topic in enumerate(topics):
        try:
            module_config.check_topic_label(topic.get("label", ""))
        except ValueError as error:
            raise TopicsInvalid(f"topics.{index}.label", f"{error}; write a short one, or remove the topic") from None
    try:
        parsed = module_config.options_from_json(options)
    except (TypeError, ValueError) as error:
        raise TopicsInvalid("topics", f"{error}; remove or rename topics to fix it") from None
    _check_topic_groups(session, module, parsed.topics)
    return options_json(parsed)


def _check_topic_groups(session: Session, module: Module, topics: tuple[module_config.Topic, ...]) -> None:
    named = {topic.group for topic in topics if topic.group}
    known = set(session.scalars(select(Group.name).where(Group.company_id == module.company_id,
                                                          Group.name.in_(named)))) if named else set()
    for index, topic in enumerate(topics):
        if topic.group and topic.group not in known:
            raise TopicsInvalid(f"topics.{index}.group",
                                f"topic {topic.label!r}: there is no group {topic.group!r}; create it first "
                                "(Admin → Groups), or leave the group empty for the module's own")


def update(session: Session, module: Module, settings: dict, options: dict) -> ModuleBrand | None:
    """Keep ``settings`` (as ``branding.model.Brand.settings()``) and ``options`` as the module's brand,
    its logo unchanged (:func:`save`)."""
    return save(session, module, settings, options)


def save(session: Session, module: Module, settings: dict, options: dict, *, logo: bytes | None = None,
         remove_logo: bool = False) -> ModuleBrand | None:
    """Keep ``settings``, ``options`` and a new ``logo`` (an image file; or the default logo again with
    ``remove_logo``) as one change of the module's brand: one new version, none when nothing changed.

    :raises BrandError: for the first setting or a logo the builder would refuse; nothing is changed then.
    :raises TopicsInvalid: for topics :func:`checked_options` refuses; nothing is changed then.
    """
    options = checked_options(session, module, options)
    stored = module.brand
    if logo is not None:
        png = logo_png(decode_logo(logo, UPLOAD_NAME, max_bytes=MAX_UPLOAD_BYTES))
    else:
        png = None if remove_logo or stored is None else stored.logo_png
    brand = _checked(settings, png)
    if stored is not None and (stored.settings, stored.logo_png) == (brand.settings(), png) \
            and _same_options(stored.options, options):
        return stored
    stored = stored or _new(session, module)
    stored.settings, stored.options = brand.settings(), options
    stored.logo_png, stored.logo_sha256 = png, hashlib.sha256(png).hexdigest() if png else None
    return _changed(stored)


def update_logo(session: Session, module: Module, data: bytes) -> ModuleBrand:
    """Keep the image ``data`` (re-encoded as PNG) as the module's logo, a new version unless it is the
    logo already kept; a module without a brand of its own gets the default brand under the company's
    name with it.

    :raises BrandError: if ``data`` is not a logo the builder would take, or larger than :data:`MAX_UPLOAD_BYTES`.
    """
    png = logo_png(decode_logo(data, UPLOAD_NAME, max_bytes=MAX_UPLOAD_BYTES))
    if module.brand is not None and module.brand.logo_png == png:
        return module.brand  # the same logo again (a rebuild): no new version for modules to fetch
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


def brand_of(settings: dict) -> Brand:
    """The brand of ``settings`` as the API and the editor send them (``None``: the brand's default).

    :raises BrandError: for the first setting the builder would refuse.
    """
    return Brand.from_mapping({name: value for name, value in settings.items() if value is not None})


def _checked(settings: dict, png: bytes | None) -> Brand:
    brand = brand_of(settings)
    return brand.with_logo(decode_logo(png, STORED_NAME), STORED_NAME) if png else brand


def _same_options(kept: dict, options: dict) -> bool:
    """Whether ``kept`` options (JSON, perhaps from before some option existed) say what ``options`` say."""
    try:
        return module_config.options_from_json(kept) == module_config.options_from_json(options)
    except (TypeError, ValueError):
        return False


def _new(session: Session, module: Module) -> ModuleBrand:
    stored = ModuleBrand(module_id=module.id, settings=default_brand(module.company.name).settings(),
                         options=options_json(module_config.Options()), version=0)
    session.add(stored)
    module.brand = stored
    return stored


def _changed(stored: ModuleBrand) -> ModuleBrand:
    stored.version = (stored.version or 0) + 1
    stored.updated_at = utcnow()
    return stored
