"""What rendering a brand's assets depends on, as one digest: the key of a kept rendering.

:func:`render_key` covers everything :func:`branding.render.render_assets` reads: the brand's
settings and its logo's bytes, the renderer's code (the sources of :mod:`branding` and of the
shared colours it draws with), Pillow's version, the font files it picks from, and the asset
names it makes. Nothing here imports Pillow: a build whose rendering is kept never needs it.
"""

import hashlib
import json
import os
from pathlib import Path

import branding
from sosqueue import palette
from sosqueue.module_config import ASSET_NAMES

#: The faces the renderer tries, bold (``True``) or regular, in order; the first one that loads wins.
FONT_FILES = {
    True: ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
           "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
           "C:/Windows/Fonts/segoeuib.ttf", "C:/Windows/Fonts/arialbd.ttf",
           "/System/Library/Fonts/Supplemental/Arial Bold.ttf", "/Library/Fonts/Arial Bold.ttf"),
    False: ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "C:/Windows/Fonts/segoeui.ttf", "C:/Windows/Fonts/arial.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf", "/Library/Fonts/Arial.ttf"),
}
#: Bold fixed-width faces, for the session code (as the agent's Tk window picks them).
MONO_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
                   "/usr/share/fonts/dejavu/DejaVuSansMono-Bold.ttf", "C:/Windows/Fonts/consolab.ttf",
                   "/System/Library/Fonts/Menlo.ttc")

#: Bumped when what a key covers changes in a way the sources below do not show.
KEY_FORMAT = 1


def render_key(brand: branding.Brand) -> str | None:
    """The SHA-256 (hex) of everything rendering ``brand``'s assets reads; ``None`` when that cannot
    be known without rendering: a logo the brand holds decoded rather than as a file's bytes
    (``defer_logo``), or no font file of the renderer's lists, where it would ask fontconfig."""
    logo, fonts = brand.logo_bytes, _font_identity()
    if logo is None or fonts is None:
        return None
    digest = hashlib.sha256()
    for part in (str(KEY_FORMAT), _renderer_identity(), _pillow_version(), fonts, json.dumps(ASSET_NAMES),
                 json.dumps(brand.settings(), sort_keys=True, ensure_ascii=True)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(hashlib.sha256(logo).digest())
    return digest.hexdigest()


def _renderer_identity() -> str:
    """A digest of the renderer's code: every source of :mod:`branding`, and the shared palette."""
    sources = sorted(Path(branding.__file__).parent.glob("*.py")) + [Path(palette.__file__)]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def _pillow_version() -> str:
    from PIL import _version  # PIL's package and this module only, not the imaging library

    return _version.__version__


def _font_identity() -> str | None:
    """Which of the renderer's font files exist, with their sizes and times; ``None`` when none does."""
    found = []
    for path in (*FONT_FILES[True], *FONT_FILES[False], *MONO_FONT_FILES):
        try:
            status = os.stat(path)
        except OSError:
            continue
        found.append(f"{path}:{status.st_size}:{status.st_mtime_ns}")
    return "\n".join(found) if found else None
