"""Brand refresh: a running module takes its module's new brand from the queue, without a new download.

The queue keeps each module's brand with a ``version`` that goes up on every change
(``server.brands``); a module carries the version it was stamped with
(``ModuleConfig.brand_version``). The module asks for the :class:`BrandManifest` of its brand
(``GET {BRAND_PATH}``, with its module token; ``If-None-Match`` makes an unchanged brand a cheap
304) and, when the manifest's version is newer than the one in force, checks its Ed25519
signature with the key stamped into it (``ModuleConfig.update_key``, the key that signs agent
updates), downloads each asset whose SHA-256 differs from the one it has (``GET
{ASSETS_PATH}/<name>``), checks every asset's size and SHA-256 against the signed manifest, and
only then uses it (:func:`apply_manifest`).

The signature covers :meth:`BrandManifest.signed_bytes`: a header of its own (so an update offer's
signature never verifies as a brand's, nor the other way round), then the canonical JSON of the
module id, the version, the brand, the options and the assets' hashes and sizes. The module id is
signed, so one module's brand cannot be replayed to another module of the same server.
"""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace

from sosqueue import module_config, signing, updates
from sosqueue.module_config import ModuleConfig

#: ``GET {BRAND_PATH}``: the module's signed :class:`BrandManifest` (JSON), module tokens only.
BRAND_PATH = "/api/v1/agent/brand"
#: ``GET {ASSETS_PATH}/<name>``: one of the manifest's assets (``module_config.ASSET_NAMES``).
ASSETS_PATH = f"{BRAND_PATH}/assets"
#: How often a module with its help window on screen asks again (besides at start and on reconnect).
POLL_SECONDS = 30
#: No manifest is larger; a larger answer is refused before it is parsed.
MAX_MANIFEST_BYTES = 256 * 1024
#: No rendered asset is larger (the largest, ``app.png``, is about 60 KB); a larger one is refused.
MAX_ASSET_BYTES = 2 * 1024 * 1024

_SIGNED_HEADER = b"sosqueue module brand 1\n"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BadManifest(Exception):
    """A brand manifest or one of its assets that cannot be trusted or used; the text says why."""


@dataclass(frozen=True)
class AssetInfo:
    """What the signed manifest says of one asset: its SHA-256 (lowercase hex) and size in bytes."""

    sha256: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> "AssetInfo":
        return cls(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@dataclass(frozen=True)
class BrandManifest:
    """One version of a module's brand as the queue serves it, signed with the server's update key.

    ``brand`` and ``options`` are the JSON forms a module carries (``module_config.to_json``'s
    ``brand`` and ``options``); ``assets`` names each rendered file with its :class:`AssetInfo`.
    """

    module_id: str
    version: int
    brand: dict
    options: dict
    assets: dict[str, AssetInfo]
    signature: str = ""  # base64 Ed25519 over signed_bytes()

    def signed_bytes(self) -> bytes:
        content = {"module_id": self.module_id, "version": self.version, "brand": self.brand,
                   "options": self.options, "assets": {name: asdict(info) for name, info in self.assets.items()}}
        return _SIGNED_HEADER + json.dumps(content, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=True).encode()

    def signed(self, private_key: bytes) -> "BrandManifest":
        signature = base64.b64encode(signing.sign(private_key, self.signed_bytes())).decode()
        return replace(self, signature=signature)

    def verify(self, public_key: str, *, module_id: str) -> None:
        """:raises BadManifest: unless the signature is the server's for exactly this manifest, and
        the manifest is ``module_id``'s."""
        try:
            signing.verify(updates.decode_key(public_key), self.signed_bytes(),
                           base64.b64decode(self.signature, validate=True))
        except (signing.BadSignature, binascii.Error, ValueError):
            raise BadManifest("the brand's signature does not match this module's key: it was not made by "
                              "this module's server, or it was changed on the way") from None
        if self.module_id != module_id:
            raise BadManifest(f"the brand is module {self.module_id}'s, not this module's ({module_id})")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> "BrandManifest":
        """The manifest in ``data`` (parsed JSON), every field checked; the signature is not.

        :raises BadManifest: for anything missing, unknown or out of bounds.
        """
        try:
            manifest = cls(module_id=data["module_id"], version=data["version"], brand=data["brand"],
                           options=data["options"], assets=_assets(data["assets"]), signature=data["signature"])
            module_config.check_module_id(manifest.module_id)
            module_config.check_brand_version(manifest.version)
            module_config.brand_from_json(manifest.brand)
            module_config.options_from_json(manifest.options)
            if not isinstance(manifest.signature, str):
                raise TypeError("the signature is not text")
        except BadManifest:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BadManifest(f"the server's brand is incomplete or malformed ({error})") from None
        return manifest

    @classmethod
    def from_bytes(cls, body: bytes) -> "BrandManifest":
        """:raises BadManifest: for a body over :data:`MAX_MANIFEST_BYTES`, not JSON, or malformed."""
        if len(body) > MAX_MANIFEST_BYTES:
            raise BadManifest(f"the server's brand is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadManifest("the server's brand is not JSON") from None
        return cls.from_json(data)


def _assets(data) -> dict[str, AssetInfo]:
    if not isinstance(data, dict):
        raise TypeError("the assets are not a table")
    assets = {}
    for name, info in data.items():
        if name not in module_config.ASSET_NAMES:
            raise BadManifest(f"the server's brand names an unknown asset {name!r}")
        sha256, size = info["sha256"], info["size"]
        if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            raise BadManifest(f"the server's brand has no SHA-256 of {name}")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_ASSET_BYTES:
            raise BadManifest(f"the server's brand gives {name} an impossible size ({size!r})")
        assets[name] = AssetInfo(sha256=sha256, size=size)
    return assets


def check_asset(manifest: BrandManifest, name: str, data: bytes) -> None:
    """:raises BadManifest: unless ``data`` is exactly the asset ``name`` the manifest signs."""
    expected = manifest.assets.get(name)
    if expected is None:
        raise BadManifest(f"the brand has no asset {name}")
    if len(data) != expected.size:
        raise BadManifest(f"{name} has {len(data)} bytes, not the {expected.size} the brand says")
    if AssetInfo.of(data).sha256 != expected.sha256:
        raise BadManifest(f"{name} does not match the brand's SHA-256 (changed on the way?)")


def apply_manifest(config: ModuleConfig, manifest: BrandManifest, assets: dict[str, bytes]) -> ModuleConfig:
    """``config`` in the manifest's brand: its brand, options, assets and version; everything else kept
    (the id, token, server, the CA bundle ``ca.pem``, the update key).

    The manifest must have been verified (:meth:`BrandManifest.verify`); each of its assets is checked here.

    :raises BadManifest: if an asset is missing or not the one the manifest signs.
    """
    for name in manifest.assets:
        check_asset(manifest, name, assets.get(name, b""))
    kept = {name: data for name, data in config.assets.items() if name not in module_config.ASSET_NAMES}
    branded = {name: assets[name] for name in manifest.assets}
    return replace(config, brand=module_config.brand_from_json(manifest.brand),
                   options=module_config.options_from_json(manifest.options),
                   assets={**kept, **branded}, brand_version=manifest.version)


def manifest_for(module_id: str, version: int, brand: module_config.Brand, options: module_config.Options,
                 assets: dict[str, bytes]) -> BrandManifest:
    """The unsigned manifest of a brand and its rendered ``assets`` (the server signs it)."""
    return BrandManifest(module_id=module_id, version=version, brand=asdict(brand), options=asdict(options),
                         assets={name: AssetInfo.of(data) for name, data in sorted(assets.items())})
