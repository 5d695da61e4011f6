"""dpkg-deb builds Debian packages from a staged file tree."""

from pathlib import Path

from builder.tools import Tool


class DpkgDeb(Tool):
    name = "dpkg-deb"
    executable = "dpkg-deb"
    debian_package = "dpkg"

    def build(self, tree: Path, output: Path, *, compression: str = "xz") -> Path:
        self.run(["--root-owner-group", f"-Z{compression}", "--build", tree, output])
        return output
