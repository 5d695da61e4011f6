"""External tools the builder drives, each with an "is it installed" check."""

import logging
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from sosqueue.errors import ToolFailed, ToolMissing

log = logging.getLogger("sosqueue.builder")


class Tool:
    """A command-line tool from a Debian package; ``runner`` and ``which`` can be swapped in tests."""

    name = ""
    executable = ""
    debian_package = ""

    def __init__(self, *, runner=subprocess.run, which=shutil.which):
        self._runner = runner
        self._which = which

    def exists(self) -> bool:
        return self._which(self.executable) is not None

    def verify(self) -> str:
        """The tool's path, or ``ToolMissing`` saying how to install it."""
        path = self._which(self.executable)
        if path is None:
            raise ToolMissing(f"{self.name} is not installed; install it with: apt-get install {self.debian_package}")
        return path

    def run(self, args: Sequence[str], *, cwd: Path | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        command = [self.verify(), *map(str, args)]
        log.debug("running %s", " ".join(command))
        result = self._runner(command, cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise ToolFailed(f"{self.name} failed ({result.returncode}): {last[0]}")
        return result
