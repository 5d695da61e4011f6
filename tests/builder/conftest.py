"""Builder fixtures: the real PyInstaller base agent (built once, cached), configs, servers.

The base is keyed by a hash of what goes into it (the agent's sources and data, the spec, the
entry script, the versions of Python, PyInstaller and the bundled packages), so a CI run builds it once and a developer
only rebuilds it after changing the agent. ``SOSQUEUE_TEST_CACHE`` moves the cache.
"""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.support.servers import QueueServer, sqlite_url
from tests.support.tenants import make_tenant

REPO = Path(__file__).resolve().parents[2]
SOSQUEUE = Path(sys.executable).with_name("sosqueue")
BASE_INPUTS = (REPO / "build_scripts" / "sosqueue-agent.spec", REPO / "build_scripts" / "agent_main.py")
BUILD_INFO = "build-info.json"
# PyInstaller itself and what it bundles into the base besides the agent's own files.
BUNDLED_PACKAGES = ("pyinstaller", "pillow", "pystray", "requests", "platformdirs")
STALE_AFTER = 7 * 24 * 3600


def base_cache_root() -> Path:
    root = os.environ.get("SOSQUEUE_TEST_CACHE") or Path.home() / ".cache" / "sosqueue-tests"
    return Path(root)


def base_inputs_hash() -> str:
    """A hash of everything the base agent is built from."""
    digest = hashlib.sha256()
    digest.update(f"python {sys.version}\n".encode())
    for package in BUNDLED_PACKAGES:
        digest.update(f"{package} {version(package)}\n".encode())
    sources = sorted(path for path in (REPO / "agent").rglob("*")
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


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def base_build_info(real_base) -> dict:
    """How long the cached base took to build and how large it is."""
    return json.loads((real_base.parent / BUILD_INFO).read_text())


@pytest.fixture
def fake_base(tmp_path) -> Path:
    """A small stand-in for a Linux base: an ELF header and filler (stamping only reads the magic)."""
    base = tmp_path / "bases" / "sosqueue-agent"
    base.parent.mkdir()
    base.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    base.chmod(0o755)
    return base


@pytest.fixture(scope="session")
def queue_server(tmp_path_factory):
    """One real queue server (SQLite) for the builder tests; they keep apart by tenant."""
    with QueueServer(sqlite_url(tmp_path_factory.mktemp("db")), log_dir=tmp_path_factory.mktemp("logs")) as server:
        yield server


@pytest.fixture
def tenant(queue_server):
    """A fresh company on ``queue_server`` with an admin, a supporter and a module."""
    return make_tenant(queue_server.database_url)


@pytest.fixture
def write_config(tmp_path):
    """Writes a module config: the template with ``[section] key = value`` lines replaced or added.

    ``write_config(brand={"primary": '"#123456"'}, module={"id": '"m"', "token": '"t"'})``; values
    are TOML source text; ``sections={"options.fields": {...}}`` reaches dotted tables.
    """
    from builder.module_config import template

    def write(name: str = "module.toml", sections: dict | None = None, **more: dict[str, str]) -> Path:
        path = tmp_path / name
        path.write_text(edited_template(template(), {**(sections or {}), **more}), encoding="utf-8")
        return path

    return write


def edited_template(text: str, sections: dict[str, dict[str, str]]) -> str:
    """The template with each ``key = value`` of ``sections`` set (replacing the template's line)."""
    lines, current, pending = text.splitlines(), None, {name: dict(keys) for name, keys in sections.items()}
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            out += _remaining(pending, current)
            current = stripped.strip("[]")
            out.append(line)
            continue
        key = stripped.lstrip("# ").partition("=")[0].strip() if "=" in stripped else None
        if current in pending and key in pending[current]:
            out.append(f"{key} = {pending[current].pop(key)}")
            continue
        out.append(line)
    out += _remaining(pending, current)
    for name, keys in pending.items():
        if keys:
            out += [f"[{name}]", *(f"{key} = {value}" for key, value in keys.items())]
    return "\n".join(out) + "\n"


def _remaining(pending: dict, section: str | None) -> list[str]:
    keys = pending.pop(section, {}) if section in pending else {}
    return [f"{key} = {value}" for key, value in keys.items()]


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


@pytest.fixture
def windows_base(tmp_path) -> Path:
    """A real (tiny) Windows executable to stamp as a Windows base."""
    base = tmp_path / "bases" / "sosqueue-agent.exe"
    base.parent.mkdir(exist_ok=True)
    base.write_bytes(minimal_pe())
    return base


@pytest.fixture(scope="session")
def code_signing(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed code-signing certificate and its key (PEM), made with openssl."""
    folder = tmp_path_factory.mktemp("signing")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sosqueue test signer",
         "-addext", "extendedKeyUsage=codeSigning", "-keyout", key, "-out", certificate],
        check=True, capture_output=True,
    )
    return certificate, key


@dataclass
class Outcome:
    """What one ``sosqueue`` run printed and returned."""

    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one ``Error: …`` line, last on stderr; only progress lines may come before it."""
        lines = self.err.strip().splitlines()
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"expected one Error: line at the end, got:\n{self.err}"
        return errors[0]


@pytest.fixture
def sosqueue(capsys, monkeypatch, tmp_path_factory):
    """Runs ``sosqueue ARGS`` in this process (``builder.cli.run``) and returns an :class:`Outcome`.

    Traceback logs of unexpected errors go to a test folder instead of the system's /tmp.
    """
    from builder.cli import run

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("sosqueue-tmp")))

    def call(*args) -> Outcome:
        capsys.readouterr()
        code = run([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Outcome(int(code), captured.out, captured.err)

    return call


def run_sosqueue(*args, timeout: float = 120, **kwargs) -> Outcome:
    """Runs the installed ``sosqueue`` command as a real process."""
    done = subprocess.run([str(SOSQUEUE), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=kwargs.pop("cwd", REPO), **kwargs)
    return Outcome(done.returncode, done.stdout, done.stderr)


def folder_listing(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
