"""The unbranded base agent: built once per platform with PyInstaller, stamped per customer."""

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import platformdirs

from sosqueue import payload
from sosqueue.errors import BaseError, OutputError
from builder.tools.pyinstaller import PyInstaller

log = logging.getLogger("sosqueue.builder")

SPEC = Path(__file__).resolve().parents[1] / "build_scripts" / "sosqueue-agent.spec"
BASE_NAME = "sosqueue-agent"
PLATFORMS = ("linux", "windows", "macos")


def host_platform() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def default_base_dir() -> Path:
    return Path(platformdirs.user_cache_dir("sosqueue", appauthor=False)) / "bases" / host_platform()


def default_base() -> Path:
    suffix = {"windows": ".exe", "macos": ".app"}.get(host_platform(), "")
    return default_base_dir() / f"{BASE_NAME}{suffix}"


def base_platform(base: Path) -> str:
    """Which platform a base agent is for, from its first bytes (or an .app bundle)."""
    if base.is_dir():
        if (base / "Contents" / "MacOS").is_dir():
            return "macos"
        raise BaseError(f"{base} is a folder but not a macOS .app bundle; pass the base agent file with --base")
    try:
        with open(base, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise BaseError(f"no base agent at {base}; build one with: sosqueue build-base") from None
    except OSError as error:
        raise BaseError(f"cannot read the base agent {base}: {error.strerror}") from None
    if magic == b"\x7fELF":
        return "linux"
    if magic[:2] == b"MZ":
        return "windows"
    raise BaseError(f"{base} is not an executable (ELF, PE or .app); build a base with: sosqueue build-base")


def check_base(base: Path) -> str:
    """The base's platform, after making sure it is a usable, unstamped base agent."""
    platform = base_platform(base)
    if payload.has_payload(base):
        raise BaseError(f"{base} is already a stamped module, not a base agent; pass the unbranded base with --base")
    return platform


def build_base(out_dir: Path | None = None, *, onedir: bool = False, tool: PyInstaller | None = None) -> Path:
    """Build the base agent for this host with PyInstaller; returns its path."""
    tool = tool or PyInstaller()
    tool.verify()
    out_dir = (out_dir or default_base_dir()).resolve()
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
        _replace(built, target)
    log.info("base agent ready: %s", target)
    return target


def _replace(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.new")
    if staging.exists():
        shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    shutil.move(str(source), staging)
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(staging, target)
