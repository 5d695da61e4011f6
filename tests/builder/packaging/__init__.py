"""Helpers for the installer tests: cheap stamped modules and running the ``sosqueue`` CLI.

A stamped module here is a copy of ``true`` (a real ELF program of this machine) with a real
payload appended, exactly as ``sosqueue build`` stamps the PyInstaller base.
"""

import dataclasses
import secrets
import shutil
from pathlib import Path

from sosqueue import payload
from tests.support.modules import module_config, module_payload_for

TRUE = Path(shutil.which("true") or "/bin/true")
SERVER_URL = "https://queue.example.test"


def unique_product() -> str:
    """A product name no other test run uses, so its package name is free on this machine."""
    return f"Sosq Test {secrets.token_hex(3)}"


def stamp_module(folder: Path, *, product: str, company: str = "Acme Corp", base: Path = TRUE,
                 name: str = "My Support Module", module_id: str | None = None, version: str = "1.0.0") -> Path:
    """Stamp ``base`` with a payload for ``product`` (module ``version``, "" for none) into
    ``folder / name`` and return its path."""
    config = module_config(server_url=SERVER_URL, module_id=module_id or f"mod-{secrets.token_hex(8)}",
                           module_token=f"tok-{secrets.token_hex(16)}", product=product, company=company)
    config = dataclasses.replace(config, version=version)
    folder.mkdir(parents=True, exist_ok=True)
    return payload.stamp(base, module_payload_for(config), folder / name)


def windows_program(folder: Path, name: str = "sosqueue-agent.exe") -> Path:
    """A tiny real Windows program to stamp: what an MSI wraps (``stamp_module(…, base=windows_program(…))``)."""
    from tests.support.bases import minimal_pe

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(minimal_pe())
    return target


def plain_copy(folder: Path, base: Path = TRUE, name: str = "sosqueue-agent") -> Path:
    """An unstamped program (what a base agent is to the packager)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy2(base, target)
    return target


def damage(module: Path) -> Path:
    """Flip one byte inside the payload, leaving the trailer intact."""
    data = bytearray(module.read_bytes())
    data[-payload.TRAILER.size - 100] ^= 0xFF
    module.write_bytes(bytes(data))
    return module


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``sosqueue ARGS`` in this process: exit code, stdout, stderr."""
    from sosqueue.cli import run

    capsys.readouterr()
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def entries(folder: Path) -> list[str]:
    """What is in ``folder`` (hidden entries too); empty if it does not exist."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def assert_refused(capsys, out: Path, installer: str, args: list[str], code, words: str) -> None:
    """``sosqueue package INSTALLER ARGS`` fails with one ``Error:`` line and leaves ``out`` empty."""
    exit_code, stdout, stderr = run_cli(capsys, "package", installer, *args, "--out", str(out))
    lines = stderr.strip().splitlines()
    assert exit_code == code, stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], stderr
    assert stdout == ""
    if out.is_dir():
        assert entries(out) == []
