"""Windows modules for the MSI tests: the smallest valid x64 PE program, stamped with a real
payload exactly as ``sosqueue build`` stamps the Windows base agent."""

from pathlib import Path

from tests.builder.packaging import stamp_module
from tests.support.bases import minimal_pe


def windows_base(folder: Path) -> Path:
    """A minimal PE program (it only returns) in ``folder``, as a Windows base agent."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.exe"
    if not base.exists():
        base.write_bytes(minimal_pe())
    return base


def stamp_windows_module(folder: Path, **options) -> Path:
    """:func:`tests.builder.packaging.stamp_module` onto :func:`windows_base`."""
    return stamp_module(folder, base=windows_base(folder / "base"), **options)
