"""The real PyInstaller base agent for tests: built once per input hash and cached.

The base is keyed by a hash of what goes into it (the agent's and the shared core's sources and data, the spec, the
entry script, the versions of Python, PyInstaller and the bundled packages), so a CI run builds
it once and a developer only rebuilds it after changing the agent. ``SOSQUEUE_TEST_CACHE``
moves the cache. Also the smallest Windows executable, to stamp and sign as a Windows base, and
a small stand-in Linux base put where the server looks for bases (with its base.json).
"""

import hashlib
import json
import os
import shutil
import struct
import sys
import time
from importlib.metadata import version
from pathlib import Path

from builder import base_file_name
from sosqueue.platforms import Platform
from sosqueue.updates import BASE_INFO, base_info

REPO = Path(__file__).resolve().parents[2]
BASE_INPUTS = (REPO / "build_scripts" / "sosqueue-agent.spec", REPO / "build_scripts" / "agent_main.py")
BUILD_INFO = "build-info.json"
# PyInstaller itself and what it bundles into the base besides the agent's own files.
BUNDLED_PACKAGES = ("pyinstaller", "pillow", "pystray", "certifi", "platformdirs", "websockets", "python-xlib")
STALE_AFTER = 7 * 24 * 3600
#: A small stand-in for a Linux base: an ELF header and filler (stamping only reads the magic).
FAKE_LINUX_BASE = b"\x7fELF" + bytes(range(256)) * 64


def base_cache_root() -> Path:
    root = os.environ.get("SOSQUEUE_TEST_CACHE") or Path.home() / ".cache" / "sosqueue-tests"
    return Path(root)


def base_inputs_hash() -> str:
    """A hash of everything the base agent is built from."""
    digest = hashlib.sha256()
    digest.update(f"python {sys.version}\n".encode())
    for package in BUNDLED_PACKAGES:
        digest.update(f"{package} {version(package)}\n".encode())
    sources = sorted(path for package in ("agent", "sosqueue") for path in (REPO / package).rglob("*")
                     if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")
    for path in [*sources, *BASE_INPUTS]:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_base(cache_dir: Path) -> Path | None:
    """The base in ``cache_dir`` if a finished build left one there."""
    info = cache_dir / BUILD_INFO
    if not info.is_file():
        return None
    base = cache_dir / json.loads(info.read_text())["name"]
    return base if base.is_file() else None


def build_into_cache(cache_dir: Path) -> Path:
    """Build the base with the builder itself into a scratch folder, then move it into place."""
    from builder.bases import build_base

    scratch = cache_dir.with_name(f"{cache_dir.name}.building-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    mode = os.environ.get("SOSQUEUE_BASE_MODE")
    try:
        base = build_base(scratch)
        info = {"name": base.name, "seconds": round(time.monotonic() - started, 1), "bytes": base.stat().st_size}
        (scratch / BUILD_INFO).write_text(json.dumps(info))
        scratch.rename(cache_dir)
    except OSError:
        if cached_base(cache_dir) is None:  # not another run finishing the same build first
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        # build_base sets SOSQUEUE_BASE_MODE in this process; leave the environment as it was.
        if mode is None:
            os.environ.pop("SOSQUEUE_BASE_MODE", None)
        else:
            os.environ["SOSQUEUE_BASE_MODE"] = mode
    return cached_base(cache_dir)


def prune_cache(root: Path, keep: Path) -> None:
    """Remove cached bases (and abandoned builds) nobody used for a week."""
    week_ago = time.time() - STALE_AFTER
    for entry in root.glob("base-*"):
        if entry != keep and entry.is_dir() and entry.stat().st_mtime < week_ago:
            shutil.rmtree(entry, ignore_errors=True)


def real_base() -> Path:
    """The real unbranded base agent for this host, built with PyInstaller once per input hash."""
    root = base_cache_root()
    cache_dir = root / f"base-{base_inputs_hash()}"
    base = cached_base(cache_dir)
    if base is None:
        root.mkdir(parents=True, exist_ok=True)
        base = build_into_cache(cache_dir)
    os.utime(cache_dir)  # marks it as used, for prune_cache
    prune_cache(root, keep=cache_dir)
    return base


def minimal_pe() -> bytes:
    """The smallest valid PE32+ (x86-64) executable: headers and one section holding ``ret``.

    Enough for osslsigncode to sign and verify, so Windows signing can be tested on Linux.
    """
    file_align, section_align = 0x200, 0x1000
    dos_header = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40)  # e_lfanew: the PE header at 0x40
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x0022)
    optional = struct.pack("<HBBIIIII", 0x20B, 14, 0, file_align, 0, 0, 0x1000, 0x1000)
    optional += struct.pack("<QII", 0x140000000, section_align, file_align)
    optional += struct.pack("<HHHHHHI", 6, 0, 0, 0, 6, 0, 0)
    optional += struct.pack("<IIIHH", 0x2000, file_align, 0, 3, 0x8160)  # image size, headers, console subsystem, DLL flags
    optional += struct.pack("<QQQQII", 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    optional += bytes(16 * 8)  # the data directories, the certificate table among them
    text = struct.pack("<8sIIIIIIHHI", b".text", 1, 0x1000, file_align, file_align, 0, 0, 0, 0, 0x60000020)
    headers = dos_header + b"PE\0\0" + coff + optional + text
    return headers.ljust(file_align, b"\0") + b"\xc3".ljust(file_align, b"\0")


def put_server_base(bases_dir: Path, platform: str, content: bytes, version: str | None = "0.1.0") -> Path:
    """A base agent for ``platform`` where the server looks for it, with its base.json (none if ``version`` is None)."""
    base = bases_dir / platform / base_file_name(Platform(platform))
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_bytes(content)
    if version is not None:
        (base.parent / BASE_INFO).write_text(base_info(version), encoding="utf-8")
    return base


#: Inside a macOS bundle made by :func:`make_bundle`: a symlink, as PyInstaller lays bundles out.
BUNDLE_LINK = "Contents/Frameworks/agent"


def make_bundle(bundle: Path) -> None:
    """A macOS .app base as PyInstaller lays one out, with a symlink inside."""
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    (bundle / "Contents" / "Frameworks").mkdir()
    (bundle / "Contents" / "MacOS" / "sosqueue-agent").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(64))
    (bundle / "Contents" / "MacOS" / "sosqueue-agent").chmod(0o755)
    (bundle / "Contents" / "Info.plist").write_text("<plist/>")
    (bundle / BUNDLE_LINK).symlink_to("../MacOS/sosqueue-agent")


def server_bases(folder: Path, *, linux_version: str | None = None) -> Path:
    """What `sosqueue build-base` leaves for the server in ``folder``: the real Linux base (with its base.json
    when ``linux_version`` is given), a tiny Windows one, a macOS bundle."""
    for platform in ("linux", "windows", "macos"):
        (folder / platform).mkdir()
    shutil.copy2(real_base(), folder / "linux" / "sosqueue-agent")
    if linux_version is not None:
        (folder / "linux" / BASE_INFO).write_text(base_info(linux_version), encoding="utf-8")
    (folder / "windows" / "sosqueue-agent.exe").write_bytes(minimal_pe())
    make_bundle(folder / "macos" / "sosqueue-agent.app")
    return folder
