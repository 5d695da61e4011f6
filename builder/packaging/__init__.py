"""``sosqueue package``: the installers IT rolls out — a ``.deb`` for Linux, an MSI for Windows.

Both take a stamped module (``sosqueue build`` made it) and wrap it for installing on every
computer of a company at once: per machine, with the SOS shortcut for every user and
optional autostart, and clean removal. The macOS installer is a recipe on paper:
``build_scripts/macos/pkgbuild.sh``.

Everything is built in a private folder inside ``--out`` and renamed into place at the end,
so a failure never leaves a half-written installer behind.
"""

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version as distribution_version
from pathlib import Path

import click

from sosqueue import binaries, module_config, payload
from sosqueue.platforms import Platform
from sosqueue.errors import ConfigError, DamagedModuleError, NotFoundError, OutputError

log = logging.getLogger("sosqueue.builder")

#: Versions both installers accept: MSI allows at most 255.255.65535.
VERSION_PATTERN = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$")
VERSION_LIMITS = (255, 255, 65535)
#: What a module id may look like to name files, registry values and package contents.
MODULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: The file both installers put next to the module: the agent then leaves the shortcuts to them.
PACKAGE_MARKER = "sosqueue-package.json"


@dataclass(frozen=True)
class Module:
    """A stamped module, read and verified: its file, configuration and platform."""

    path: Path
    config: module_config.ModuleConfig
    platform: Platform

    @property
    def product(self) -> str:
        return self.config.brand.product

    @property
    def company(self) -> str:
        return self.config.brand.company

    @property
    def module_id(self) -> str:
        return self.config.module_id


def read_module(path: Path) -> Module:
    """The stamped module at ``path``, after verifying its checksum and configuration.

    :raises NotFoundError: if there is no file at ``path``.
    :raises DamagedModuleError: if it carries no payload (a base agent) or a damaged one.
    :raises ConfigError: if it is a bare payload without a program, or its id cannot name files.
    """
    if not path.exists():
        raise NotFoundError(f"no module at {path}; build one with: sosqueue build --config module.toml")
    try:
        config = module_config.parse(payload.read(path))
    except payload.NoPayload:
        raise DamagedModuleError(
            f"{path} carries no module configuration (is it a base agent?); "
            "stamp a module with: sosqueue build --config module.toml"
        ) from None
    except payload.PayloadError as error:
        raise DamagedModuleError(f"{path} is damaged: {error}; build it again with: sosqueue build") from None
    except OSError as error:
        raise DamagedModuleError(f"cannot read {path}: {error.strerror or error}") from None
    if not MODULE_ID_PATTERN.match(config.module_id):
        raise ConfigError(f"the module id {config.module_id!r} cannot name installed files; register the module again")
    return Module(path=path, config=config, platform=_platform(path))


def _platform(path: Path) -> Platform:
    """The module's platform: a folder is a macOS app (its payload is in the bundle's resources)."""
    platform = Platform.MACOS if path.is_dir() else binaries.file_platform(path)
    if platform is None:
        raise ConfigError(f"{path} is a module payload without a program; stamp it onto a base agent with: sosqueue build")
    return platform


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


def marker(module: Module, *, installer: str, package: str, version: str) -> bytes:
    """The content of :data:`PACKAGE_MARKER`: which installer put this module here."""
    record = {"format": 1, "installer": installer, "package": package, "version": version,
              "module_id": module.module_id, "product": module.product}
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()


@contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A private folder inside ``out_dir`` to build in; removed afterwards, whatever happens.

    :raises OutputError: if ``out_dir`` cannot be created or written to.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} is a file, not a folder; choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".sosqueue-package-", dir=out_dir))
    except OSError as error:
        raise OutputError(f"cannot write to {out_dir} ({error.strerror or error}); choose another --out") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(built: Path, target: Path) -> Path:
    """Move the finished installer into place in one step (same folder, so an atomic rename)."""
    try:
        os.replace(built, target)
    except OSError as error:
        raise OutputError(f"cannot write {target} ({error.strerror or error}); choose another --out") from None
    return target


def _report(result: dict, as_json: bool) -> None:
    click.echo(json.dumps(result) if as_json else result["path"])


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


@package.command("deb")
@module_option
@out_option
@click.option("--autostart/--no-autostart", default=False, show_default=True,
              help="Start the agent in the tray at every login.")
@click.option("--no-desktop-shortcut", "no_shortcut", is_flag=True,
              help="No SOS shortcut on the users' desktops (the menu entry stays).")
@click.option("--maintainer", help="The package's Maintainer field, e.g. 'Acme IT <it@acme.example>' (default: the brand's company).")
@version_option
@json_option
def deb_command(module_path: Path, out_dir: Path, autostart: bool, no_shortcut: bool, maintainer: str | None,
        version: str | None, as_json: bool) -> None:
    """Build a .deb that installs the module for every user of a Linux computer."""
    from builder.packaging.deb import build_deb

    module = read_module(module_path)
    built = build_deb(module, out_dir, version=check_version(version) if version else default_version(),
                      autostart=autostart, desktop_shortcut=not no_shortcut, maintainer=maintainer)
    _report({"path": str(built.path), "package": built.package, "version": built.version,
             "architecture": built.architecture, "depends": built.depends, "module_id": module.module_id}, as_json)


@package.command("msi")
@module_option
@out_option
@version_option
@json_option
def msi_command(module_path: Path, out_dir: Path, version: str | None, as_json: bool) -> None:
    """Build a per-machine Windows MSI; DESKTOP_SHORTCUT and AUTOSTART switch its parts at install."""
    from builder.packaging.msi import build_msi

    module = read_module(module_path)
    built = build_msi(module, out_dir, version=check_version(version) if version else default_version())
    _report({"path": str(built.path), "product_code": built.product_code, "upgrade_code": built.upgrade_code,
             "version": built.version, "module_id": module.module_id}, as_json)
