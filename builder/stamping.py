"""Stamp a personalised module: render the brand, write the payload onto a copy of the base."""

import logging
import time
from pathlib import Path

from sosqueue import module_config, payload
from sosqueue.errors import BrandError, DamagedModuleError, NotFoundError, OutputError
from sosqueue.platforms import Platform, module_file_name
from builder.bases import check_base
from builder.module_config import ModuleSpec

log = logging.getLogger("sosqueue.builder")


def render(spec: ModuleSpec) -> dict[str, bytes]:
    from branding.render import render_assets

    try:
        assets = dict(render_assets(spec.brand))
    except ValueError as error:
        raise BrandError(f"cannot render the brand: {error}") from None
    if spec.ca_bundle:
        assets["ca.pem"] = spec.ca_bundle
    return assets


def build_payload(spec: ModuleSpec, *, module_id: str, module_token: str) -> payload.Payload:
    assets = render(spec)
    config = spec.agent_config(module_id=module_id, module_token=module_token, assets=assets)
    return payload.Payload(config=module_config.to_json(config), assets=assets)


def stamp_module(spec: ModuleSpec, *, base: Path, out_dir: Path, module_id: str, module_token: str) -> Path:
    """Write the personalised module into ``out_dir`` and return its path; the base is untouched."""
    platform = check_base(base)
    started = time.perf_counter()
    built = build_payload(spec, module_id=module_id, module_token=module_token)
    output = out_dir / module_file_name(spec.brand.product, platform)
    try:
        if platform == Platform.MACOS:
            payload.stamp_bundle(base, built, output)
        else:
            payload.stamp(base, built, output)
    except PermissionError as error:
        raise OutputError(f"cannot write {output} ({error.strerror}); choose another --out") from None
    except OSError as error:
        raise OutputError(f"cannot write {output} ({error.strerror or error}); choose another --out") from None
    log.info("stamped %s in %.2f s", output, time.perf_counter() - started)
    return output


def inspect_module(path: Path) -> dict:
    """What a module carries (tokens redacted), after verifying its checksum."""
    if not path.exists():
        raise NotFoundError(f"{path} does not exist; give the path of a module that sosqueue build made")
    try:
        carried = payload.read(path)
        config = module_config.parse(carried)
    except payload.NoPayload:
        raise DamagedModuleError(f"{path} carries no module configuration (is it a base agent?)") from None
    except payload.PayloadError as error:
        raise DamagedModuleError(f"{path} is damaged: {error}; build it again") from None
    except OSError as error:
        raise DamagedModuleError(f"cannot read {path}: {error.strerror}") from None
    return {"path": str(path), "checksum": "ok", **config.redacted(),
            "asset_sizes": {name: len(data) for name, data in sorted(carried.assets.items())}}
