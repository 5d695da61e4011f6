"""PyInstaller, run in this Python so that it bundles this environment's packages."""

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from sosqueue.errors import ToolMissing
from builder.tools import Tool

log = logging.getLogger("sosqueue.builder")


class PyInstaller(Tool):
    name = "PyInstaller"
    executable = "pyinstaller"
    debian_package = ""

    def exists(self) -> bool:
        return importlib.util.find_spec("PyInstaller") is not None

    def verify(self) -> str:
        if not self.exists():
            raise ToolMissing("PyInstaller is not installed; install it with: pip install 'sosqueue[builder]'")
        return sys.executable

    def build(self, spec: Path, *, dist: Path, work: Path, mode: str = "onefile") -> None:
        """Run PyInstaller on ``spec``; ``mode`` ("onefile" or "onedir") reaches the spec as SOSQUEUE_BASE_MODE."""
        self.run(["-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                  "--distpath", dist, "--workpath", work, spec], env={**os.environ, "SOSQUEUE_BASE_MODE": mode})


def bundled_binaries(program: Path) -> Iterator[bytes]:
    """The libraries and programs a PyInstaller one-file program carries in its archive (none
    when it is no such program, or PyInstaller is not installed to read the archive)."""
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        log.info("PyInstaller is not installed: the glibc version is read from the program only")
        return
    try:
        archive = CArchiveReader(str(program))
    except Exception:  # not a PyInstaller program: its reader raises several kinds of errors
        return
    for name, entry in archive.toc.items():
        if entry[-1] == "b":
            try:
                yield archive.extract(name)
            except Exception:
                log.debug("cannot read %s from the archive of %s", name, program)
