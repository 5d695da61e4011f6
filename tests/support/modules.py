"""Builders for support module files in tests: a real payload with config and branded assets.

``write_module_file(path, server_url=…, module_id=…, module_token=…)`` writes a bare payload
file (what ``python -m agent --module PATH`` reads); keyword overrides change the brand or the
options, e.g. ``product="Acme Help"``, ``file_immediately=True`` or
``fields={"email": "required"}``. The images are the builder's own
(:func:`branding.render.render_assets`) for the brand's names and colours.
"""

import dataclasses
import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

from sosqueue import payload as module_payload
from sosqueue.module_config import ASSET_NAMES, Brand, Fields, ModuleConfig, Options, to_json
from branding import model as branding_model
from branding.render import render_assets

_BRAND_KEYS = {f.name for f in dataclasses.fields(Brand)}
_OPTION_KEYS = {f.name for f in dataclasses.fields(Options)}


def module_config(
    *, server_url: str, module_id: str, module_token: str, ca_bundle: bytes | None = None, **overrides
) -> ModuleConfig:
    """A complete module configuration; ``overrides`` name Brand or Options fields."""
    unknown = set(overrides) - _BRAND_KEYS - _OPTION_KEYS
    if unknown:
        raise TypeError(f"not a brand or option field: {', '.join(sorted(unknown))}")
    brand = {"company": "Acme Corp", "product": "Acme Help", **{k: v for k, v in overrides.items() if k in _BRAND_KEYS}}
    options = {k: v for k, v in overrides.items() if k in _OPTION_KEYS}
    if isinstance(options.get("fields"), dict):
        options["fields"] = Fields(**options["fields"])
    assets = dict(branded_assets(brand["company"], brand["product"], brand.get("primary", Brand.primary),
                                 brand.get("accent", Brand.accent)))
    if ca_bundle is not None:
        assets["ca.pem"] = ca_bundle
    return ModuleConfig(
        module_id=module_id, module_token=module_token, server_url=server_url,
        brand=Brand(**brand), options=Options(**options), ca_bundle=ca_bundle, assets=assets,
    )


def module_payload_for(config: ModuleConfig) -> module_payload.Payload:
    """The payload the builder would stamp for ``config``."""
    return module_payload.Payload(config=to_json(config), assets=dict(config.assets))


def write_module_file(path: Path, *, server_url: str, module_id: str, module_token: str, **overrides) -> Path:
    """Write a bare module payload file to ``path`` and return ``path``."""
    config = module_config(server_url=server_url, module_id=module_id, module_token=module_token, **overrides)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(module_payload_for(config).to_bytes())
    return path


@cache
def branded_assets(company: str, product: str, primary: str, accent: str) -> dict[str, bytes]:
    """The builder's rendering of every asset for a brand (default logo), one per ``ASSET_NAMES``."""
    brand = branding_model.Brand(company=company, product=product, primary=primary, accent=accent)
    return render_assets(brand)


@cache
def sample_assets() -> dict[str, bytes]:
    """One tiny image per name in ``ASSET_NAMES`` (PNG or ICO by the name's suffix), for format tests."""
    return {name: _image(name) for name in ASSET_NAMES}


def _image(name: str) -> bytes:
    size = (64, 64) if not name.startswith("banner") else (320, 64)
    image = Image.new("RGBA", size, (11, 95, 255, 255))
    ImageDraw.Draw(image).ellipse((8, 8, 56, 56), fill=(229, 38, 42, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="ICO" if name.endswith(".ico") else "PNG")
    return buffer.getvalue()
