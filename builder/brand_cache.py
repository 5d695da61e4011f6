"""Rendered brands kept in the user's cache, so that building again with an unchanged brand
neither decodes the logo nor draws an icon (Pillow is not even imported).

An entry is a file named by :func:`branding.fingerprint.render_key`, the digest of everything the
rendering reads, and holds the assets with their SHA-256: an entry that fails the check (cut
short, changed, from another format) is rendered again and replaced, never used.
"""

import hashlib
import logging
import struct
from pathlib import Path

from branding.fingerprint import render_key
from branding.model import Brand
from builder.cache import cache_dir as builder_cache_dir, keep
from sosqueue.module_config import ASSET_NAMES

log = logging.getLogger("sosqueue.builder")

MAGIC = b"SOSQBRC1"
#: Each asset: the lengths of its name and of its bytes, then both.
_ASSET = struct.Struct("<HI")
_DIGEST_SIZE = hashlib.sha256().digest_size
#: Entries kept; writing a new one removes the oldest beyond these.
KEPT_ENTRIES = 32


def cache_dir() -> Path:
    """Where rendered brands are kept: ``brands`` in the user's cache folder for sosqueue."""
    return builder_cache_dir("brands")


def rendered(brand: Brand, *, directory: Path | None = None) -> dict[str, bytes]:
    """The assets of ``brand`` as :func:`branding.render.render_assets` makes them: kept ones when
    an intact entry for exactly this brand and renderer exists, else rendered and kept.

    :raises ValueError: as :func:`~branding.render.render_assets` (a logo that cannot be decoded).
    """
    key = render_key(brand)
    if key is None:
        return _render(brand)
    entry = (directory or cache_dir()) / f"{key}.bin"
    kept = _read(entry)
    if kept is not None:
        return kept
    assets = _render(brand)
    keep(entry, encode(assets), kept=KEPT_ENTRIES)
    return assets


def _render(brand: Brand) -> dict[str, bytes]:
    from branding.render import render_assets

    return render_assets(brand)


def encode(assets: dict[str, bytes]) -> bytes:
    """An entry's bytes: :data:`MAGIC`, the SHA-256 of the body, the body (the assets in order)."""
    body = b"".join(_ASSET.pack(len(name.encode()), len(data)) + name.encode() + data for name, data in assets.items())
    return MAGIC + hashlib.sha256(body).digest() + body


def decode(data: bytes) -> dict[str, bytes] | None:
    """The assets of an entry's bytes; ``None`` unless it is intact and holds exactly :data:`ASSET_NAMES`."""
    if not data.startswith(MAGIC):
        return None
    digest, body = data[len(MAGIC):len(MAGIC) + _DIGEST_SIZE], data[len(MAGIC) + _DIGEST_SIZE:]
    if hashlib.sha256(body).digest() != digest:
        return None
    assets, cursor = {}, 0
    while cursor < len(body):
        if cursor + _ASSET.size > len(body):
            return None
        name_size, data_size = _ASSET.unpack_from(body, cursor)
        cursor += _ASSET.size
        name = body[cursor:cursor + name_size].decode("utf-8", "replace")
        assets[name] = body[cursor + name_size:cursor + name_size + data_size]
        cursor += name_size + data_size
    if cursor != len(body) or tuple(assets) != ASSET_NAMES:
        return None
    return assets


def _read(entry: Path) -> dict[str, bytes] | None:
    try:
        data = entry.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.debug("cannot read the rendered brand %s (%s): rendering it", entry, error)
        return None
    assets = decode(data)
    if assets is None:
        log.debug("the rendered brand %s is damaged: rendering it again", entry)
    return assets
