"""PyInstaller, run in this Python so that it bundles this environment's packages."""

import importlib.util
import os
import sys
from pathlib import Path

from sosqueue.errors import ToolMissing
from builder.tools import Tool


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
