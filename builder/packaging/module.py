"""The stamped module an installer wraps: read, verified, and its platform told from its bytes."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from builder.stamping import verified_module
from sosqueue import binaries, module_config
from sosqueue.errors import ConfigError, NotFoundError
from sosqueue.platforms import Platform
from sosqueue.updates import PACKAGE_MARKER  # the agent then leaves shortcuts and updates to the installer

#: What a module id may look like to name files, registry values and package contents.
MODULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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
    """The stamped module at ``path``, after verifying the whole file (``builder.stamping.verified_module``).

    :raises NotFoundError: if there is no file at ``path``.
    :raises NotAModuleError: if it carries no payload (a base agent).
    :raises DamagedModuleError: if it is damaged; ``ChangedModuleError`` if its configuration was changed.
    :raises ConfigError: if it is a bare payload without a program, or its id cannot name files.
    """
    if not path.exists():
        raise NotFoundError(f"no module at {path}; build one with: sosqueue build --config module.toml")
    _, config = verified_module(path)
    if not MODULE_ID_PATTERN.match(config.module_id):
        raise ConfigError(f"the module id {config.module_id!r} cannot name installed files; register the module again")
    return Module(path=path, config=config, platform=_platform(path))


def _platform(path: Path) -> Platform:
    """The module's platform: a folder is a macOS app (its payload is in the bundle's resources)."""
    platform = Platform.MACOS if path.is_dir() else binaries.file_platform(path)
    if platform is None:
        raise ConfigError(f"{path} is a module payload without a program; stamp it onto a base agent with: sosqueue build")
    return platform


def marker(module: Module, *, installer: str, package: str, version: str) -> bytes:
    """The content of :data:`PACKAGE_MARKER`: which installer put this module here."""
    record = {"format": 1, "installer": installer, "package": package, "version": version,
              "module_id": module.module_id, "product": module.product}
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
