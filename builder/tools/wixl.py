"""wixl and msitools (Debian's ``wixl`` and ``msitools`` packages): build Windows Installer
packages from WiX sources, change the built database, and read it back."""

from pathlib import Path

from sosqueue.errors import ToolFailed
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


class MsiBuild(Tool):
    """``msibuild`` (msitools) runs SQL on an MSI database and imports tables into it."""

    name = "msibuild"
    executable = "msibuild"
    debian_package = "msitools"

    def query(self, msi: Path, *queries: str) -> None:
        args: list = [msi]
        for query in queries:
            args += ["-q", query]
        self.run(args)

    def import_tables(self, msi: Path, folder: Path, *names: str) -> None:
        """Import the text archive files ``names`` (``.idt``) from ``folder``, in that order.

        msibuild reads them relative to its working folder, and copies their bytes as they are:
        an ``.idt`` holds text in the database's code page, not UTF-8.
        """
        args: list = [msi.resolve()]
        for name in names:
            args += ["-i", name]
        self.run(args, cwd=folder)


class MsiInfo(Tool):
    name = "msiinfo"
    executable = "msiinfo"
    debian_package = "msitools"

    def tables(self, msi: Path) -> list[str]:
        return self.run(["tables", msi]).stdout.split()

    def export(self, msi: Path, table: str) -> str:
        return self.run(["export", msi, table]).stdout

    def stream(self, msi: Path, name: str) -> bytes:
        """The raw bytes of one stream, e.g. ``"\\x05SummaryInformation"``."""
        command = [self.verify(), "extract", str(msi), name]
        result = self._runner(command, capture_output=True)
        if result.returncode != 0:
            raise ToolFailed(f"{self.name} failed ({result.returncode}): cannot extract {name!r} from {msi}")
        return result.stdout
