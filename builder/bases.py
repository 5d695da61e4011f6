"""The unbranded base agent: built once per platform with PyInstaller, stamped per customer.

Beside every base it builds, :func:`build_base` writes :data:`sosqueue.updates.BASE_INFO` (the
agent version the base carries): a queue server that holds the folder offers the base to
modules as an update.
"""

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import sosqueue
from sosqueue import binaries, payload, platforms, updates
from sosqueue.errors import BaseError, OutputError
from sosqueue.platforms import Platform
from builder.cache import cache_dir
from builder.tools.pyinstaller import PyInstaller

log = logging.getLogger("sosqueue.builder")

SPEC = Path(__file__).resolve().parents[1] / "build_scripts" / "sosqueue-agent.spec"
BASE_NAME = "sosqueue-agent"


def host_platform() -> Platform:
    return platforms.current()


#: The folder inside the default base folder where ``build-base --onedir`` puts the folder base,
#: beside the one-file base rather than over it (both are named :data:`BASE_NAME`).
ONEDIR_FOLDER = "onedir"


def default_base_dir(*, onedir: bool = False) -> Path:
    folder = cache_dir("bases", host_platform())
    return folder / ONEDIR_FOLDER if onedir else folder


def default_base() -> Path:
    return default_base_dir() / base_file_name(host_platform())


def base_file_name(platform: Platform) -> str:
    """What the base agent for ``platform`` is called (``sosqueue-agent.exe`` on Windows)."""
    return platforms.executable_name(BASE_NAME, platform)


def base_platform(base: Path) -> Platform:
    """Which platform a base agent is for, from its first bytes (or an .app bundle)."""
    if base.is_dir():
        if binaries.is_app_bundle(base):
            return Platform.MACOS
        raise BaseError(f"{base} is a folder but not a macOS .app bundle; pass the base agent file with --base")
    try:
        platform = binaries.file_platform(base)
    except FileNotFoundError:
        raise BaseError(f"no base agent at {base}; build one with: sosqueue build-base") from None
    except OSError as error:
        raise BaseError(f"cannot read the base agent {base}: {error.strerror}") from None
    if platform is None:
        raise BaseError(f"{base} is not an executable (ELF, PE or .app); build a base with: sosqueue build-base")
    return platform


def check_base(base: Path) -> Platform:
    """The base's platform, after making sure it is a usable, unstamped base agent."""
    platform = base_platform(base)
    if payload.has_payload(base):
        raise BaseError(f"{base} is already a stamped module, not a base agent; pass the unbranded base with --base")
    return platform


def build_base(out_dir: Path | None = None, *, onedir: bool = False, tool: PyInstaller | None = None) -> Path:
    """Build the base agent for this host with PyInstaller; returns its path."""
    tool = tool or PyInstaller()
    tool.verify()
    out_dir = (out_dir or default_base_dir(onedir=onedir)).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {out_dir}: {error.strerror}; choose another --out") from None
    with tempfile.TemporaryDirectory(prefix="sosqueue-base-") as scratch:
        scratch_path = Path(scratch)
        log.info("building the base agent with PyInstaller (about half a minute)…")
        tool.build(SPEC, dist=scratch_path / "dist", work=scratch_path / "work", mode="onedir" if onedir else "onefile")
        outputs = sorted((scratch_path / "dist").iterdir())
        built = next((path for path in outputs if path.suffix == ".app"), outputs[0])
        target = out_dir / built.name
        info = scratch_path / updates.BASE_INFO
        info.write_text(updates.base_info(sosqueue.__version__), encoding="utf-8")
        _replace(built, target)
        _replace(info, base_info_path(target))
    log.info("base agent ready: %s", target)
    log.info("its version (%s) is in %s, for a queue server to offer it as an update", sosqueue.__version__,
             base_info_path(target))
    return target


def base_info_path(base: Path) -> Path:
    """Where the version of ``base`` is kept: :data:`sosqueue.updates.BASE_INFO` beside it."""
    return base.parent / updates.BASE_INFO


def base_built(base: Path) -> str:
    """When the base was built, from the base.json beside it ("" when there is none: a base from
    an older build-base, or copied without it; its modules then follow only newer versions)."""
    if not base_info_path(base).exists():
        return ""
    try:
        return updates.read_base_info(base).built
    except updates.UpdateError as error:
        raise BaseError(str(error)) from None


def base_sha256(base: Path) -> str:
    """The SHA-256 of a base agent file (lowercase hex), read in chunks; "" for a macOS .app bundle,
    which is a folder and not one file."""
    if base.is_dir():
        return ""
    try:
        with open(base, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise BaseError(f"cannot read the base agent {base} ({error.strerror}); "
                        "make it readable, or build one with: sosqueue build-base") from None


def _replace(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.new")
    if staging.exists():
        shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    shutil.move(str(source), staging)
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(staging, target)
