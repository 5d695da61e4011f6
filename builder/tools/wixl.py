"""wixl (Debian's msitools) builds Windows Installer packages from WiX sources."""

from pathlib import Path

from builder.tools import Tool


class Wixl(Tool):
    name = "wixl"
    executable = "wixl"
    debian_package = "wixl"  # Debian ships wixl apart from msitools

    def build(self, source: Path, output: Path, *, defines: dict[str, str] | None = None) -> Path:
        args = []
        for key, value in (defines or {}).items():
            args += ["-D", f"{key}={value}"]
        self.run([*args, "-a", "x64", "-o", output, source])
        return output


class MsiInfo(Tool):
    name = "msiinfo"
    executable = "msiinfo"
    debian_package = "msitools"

    def tables(self, msi: Path) -> list[str]:
        return self.run(["tables", msi]).stdout.split()

    def export(self, msi: Path, table: str) -> str:
        return self.run(["export", msi, table]).stdout
