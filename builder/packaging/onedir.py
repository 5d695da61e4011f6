"""The folder form of the agent, which installers ship when they are given one.

A one-file module unpacks its whole bundle at every start; the folder base
(``sosqueue build-base --onedir``) is a program and its ``_internal`` folder, unpacked once by
the installer, so it starts faster. The installer stamps the module's configuration onto the
folder's program (the payload it carries records that program's digest, which the agent
checks at every start, as a one-file module does) and installs ``_internal`` beside it; the
package manager keeps track of those files.
"""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from builder.bases import base_file_name, check_base
from builder.packaging.module import Module
from sosqueue import binaries, payload
from sosqueue.errors import BaseError

#: PyInstaller's folder of libraries and data beside a folder program.
CONTENTS = "_internal"

#: The installers' option that names a folder base.
option = click.option(
    "--onedir-base", type=click.Path(file_okay=False, path_type=Path),
    help="A folder base agent (sosqueue build-base --onedir) of the module's version: the package installs "
         "the module in this folder form, which starts faster than the single file.")


@dataclass(frozen=True)
class FolderBase:
    """A folder base agent: its program and the ``_internal`` folder beside it."""

    folder: Path

    @property
    def contents(self) -> Path:
        return self.folder / CONTENTS

    def program(self, module: Module) -> Path:
        return self.folder / base_file_name(module.platform)


def read_folder_base(folder: Path, module: Module) -> FolderBase:
    """The folder base at ``folder``, checked to hold an unstamped program for ``module``'s platform.

    :raises BaseError: if it is not such a folder.
    """
    base = FolderBase(folder)
    program = base.program(module)
    if not (program.is_file() and base.contents.is_dir()):
        raise BaseError(f"{folder} is not a folder base agent ({program.name} and {CONTENTS}/ in it); "
                        "build one with: sosqueue build-base --onedir --out DIR, and pass DIR/sosqueue-agent")
    platform = check_base(program)
    if platform != module.platform:
        raise BaseError(f"{folder} is a {platform.label} base agent; the module is for {module.platform.label}")
    return base


def install_files(module: Module, base: FolderBase, program: Path) -> None:
    """Write the module's program to ``program`` (the base's, with the module's payload) and
    copy ``_internal`` beside it, its links kept as links."""
    payload.stamp(base.program(module), payload.read(module.path), program)
    program.chmod(0o755)
    shutil.copytree(base.contents, program.parent / CONTENTS, symlinks=True)


def libraries(base: FolderBase) -> Iterator[bytes]:
    """The ELF libraries and programs in ``_internal`` (for the glibc version they need)."""
    for path in sorted(base.contents.rglob("*")):
        if path.is_file() and not path.is_symlink() and binaries.elf_header(path) is not None:
            yield path.read_bytes()
