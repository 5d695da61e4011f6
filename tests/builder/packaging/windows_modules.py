"""Windows modules for the MSI tests: the smallest valid x64 PE program, stamped with a real
payload exactly as ``sosqueue build`` stamps the Windows base agent."""

import shutil
from pathlib import Path

from builder.packaging import onedir
from tests.builder.packaging import plain_copy, stamp_module
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


def windows_folder_base(folder: Path) -> Path:
    """A stand-in Windows folder base in ``folder``: an unstamped PE program, and ``_internal``
    with a DLL and a data file in a subfolder."""
    plain_copy(folder, base=windows_base(folder.parent / "pe"), name="sosqueue-agent.exe")
    contents = folder / onedir.CONTENTS
    (contents / "_tcl_data" / "encoding").mkdir(parents=True)
    shutil.copy2(windows_base(folder.parent / "pe"), contents / "python311.dll")
    (contents / "_tcl_data" / "encoding" / "cp1252.enc").write_text("encoding table")
    return folder
