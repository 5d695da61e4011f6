"""``sosqueue package``: the installers IT rolls out — a ``.deb`` for Linux, an MSI for Windows.

Both take a stamped module (``sosqueue build`` made it) and wrap it for installing on every
computer of a company at once: per machine, with the SOS shortcut for every user and
optional autostart, and clean removal. The macOS installer is a recipe on paper:
``build_scripts/macos/pkgbuild.sh``.

Each installer format is a module of this package that declares a
:class:`~builder.packaging.format.Format`; :data:`FORMATS` lists them, and ``sosqueue package``
has one command per format. Everything is built in a private folder inside ``--out`` and
renamed into place at the end (:mod:`builder.packaging.output`), so a failure never leaves a
half-written installer behind.
"""

import json
import re
from importlib.metadata import PackageNotFoundError, version as distribution_version
from pathlib import Path

import click

from sosqueue.errors import ConfigError
from builder.packaging import deb, msi
from builder.packaging.format import Format
from builder.packaging.module import PACKAGE_MARKER, Module, read_module

#: The installer formats, by the name of their command.
FORMATS: dict[str, Format] = {format_.name: format_ for format_ in (deb.FORMAT, msi.FORMAT)}

#: Versions both installers accept: MSI allows at most 255.255.65535.
VERSION_PATTERN = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$")
VERSION_LIMITS = (255, 255, 65535)

__all__ = ["FORMATS", "PACKAGE_MARKER", "Format", "Module", "check_version", "default_version", "package",
           "read_module"]


def default_version() -> str:
    """The builder's own version (``X.Y.Z`` part), for installers built without ``--version``."""
    try:
        found = re.match(r"\d+\.\d+\.\d+", distribution_version("sosqueue"))
    except PackageNotFoundError:
        found = None
    return check_version(found.group(0)) if found else "0.0.0"


def check_version(text: str) -> str:
    """``text`` as an installer version ``X.Y.Z`` (at most 255.255.65535), or ``ConfigError``."""
    found = VERSION_PATTERN.match(text.strip())
    numbers = [int(part) for part in found.groups()] if found else []
    if not numbers or any(number > limit for number, limit in zip(numbers, VERSION_LIMITS)):
        raise ConfigError(f"version {text!r} is not X.Y.Z with X and Y up to 255 and Z up to 65535; pass e.g. --version 1.2.3")
    return ".".join(map(str, numbers))


module_option = click.option(
    "--module", "module_path", required=True, type=click.Path(path_type=Path),
    help="The stamped module (sosqueue build made it).")
out_option = click.option(
    "--out", "out_dir", default=".", show_default=True, type=click.Path(path_type=Path),
    help="Folder for the installer.")
version_option = click.option(
    "--version", "version", help="Installer version X.Y.Z; raise it for every rollout (default: the builder's version).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


@click.group("package")
def package() -> None:
    """Wrap a stamped module into an installer for IT rollout (.deb, MSI)."""


def format_command(format_: Format) -> click.Command:
    """``sosqueue package <format>``: read the module, build the installer, print where it is."""

    def run(module_path: Path, out_dir: Path, version: str | None, as_json: bool, **options) -> None:
        module = read_module(module_path)
        result = format_.build(module, out_dir, version=check_version(version) if version else default_version(),
                               **options)
        click.echo(json.dumps(result) if as_json else result["path"])

    for option in reversed((module_option, out_option, *format_.options, version_option, json_option)):
        run = option(run)
    return click.command(format_.name, help=format_.summary)(run)


for _format in FORMATS.values():
    package.add_command(format_command(_format))
