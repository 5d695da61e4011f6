"""Module downloads: a company's module stamped into one of the server's prebuilt base agents.

The bases live in ``settings.bases_dir/<platform>/``. A download carries the module's brand as the
server keeps it (``server.brands``; the default brand under the company's name while it has none of
its own), rendered as the builder renders it, and the module's current token, which is derived from the server's
key (``server.admin.module_token``), so it can be stamped although only its hash is stored.
It also carries its brand's version, so that the running module knows when the queue has a newer
brand (``sosqueue.brand_refresh``). The server knows no module version (``[module] version`` lives
in the admin's config and the builder's identity file): a download carries none.
Each download is made in a fresh temporary folder that its sender removes (``Download.remove``).
"""

import logging
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from builder import ModuleSpec, base_file_name, stamp_module
from server import brands
from server.models import Module
from sosqueue.errors import SosqueueError
from sosqueue.platforms import Platform

log = logging.getLogger("sosqueue.downloads")


class StampFailed(Exception):
    """The base agent for ``platform`` cannot take the module; ``reason`` says why."""

    def __init__(self, platform: str, reason: str):
        super().__init__(f"cannot stamp a module for {platform}: {reason}")
        self.platform = platform
        self.label = Platform(platform).label
        self.reason = reason


@dataclass(frozen=True)
class Download:
    """A stamped module ready to send, in a folder of its own."""

    folder: Path
    path: Path

    @property
    def media_type(self) -> str:
        return "application/zip" if self.path.suffix == ".zip" else "application/octet-stream"

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def available_bases(bases_dir: Path) -> dict[str, Path]:
    """The platforms this server has a base agent for, and where it is."""
    paths = {platform.value: bases_dir / platform / base_file_name(platform) for platform in Platform}
    return {platform: path for platform, path in paths.items() if path.exists()}


def offered(bases_dir: Path) -> tuple[tuple[str, str], ...]:
    """(platform, label) of each download this server offers."""
    return tuple((platform, Platform(platform).label) for platform in available_bases(bases_dir))


@dataclass(frozen=True)
class DownloadSpec(ModuleSpec):
    """A module as a download stamps it: the builder's spec and the version of the brand it carries."""

    brand_version: int = 0


def module_spec(module: Module, *, token: str, server_url: str, update_key: str) -> DownloadSpec:
    """What goes into the module's download (``module.group``, ``.company`` and ``.brand`` are loaded
    here); ``update_key`` is the server's public update key, which the module checks its updates with.

    :raises server.brands.StoredBrandInvalid: if the module's stored brand fails the rules in force.
    """
    brand, options = brands.module_brand(module)
    return DownloadSpec(
        name=module.name, module_id=module.id, module_token=token,
        group=module.group.name if module.group else None, assignment=module.assignment,
        server_url=server_url, ca_bundle=None, brand=brand,
        options=options, update_key=update_key, brand_version=brands.brand_version(module),
    )


def stamp(spec: DownloadSpec, *, base: Path, platform: str) -> Download:
    """The module stamped into ``base`` (a macOS bundle zipped), in a fresh temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="sosqueue-download-"))
    try:
        built = stamp_module(spec, base=base, out_dir=folder, module_id=spec.module_id, module_token=spec.module_token,
                             brand_version=spec.brand_version)
        return Download(folder, zip_bundle(built) if platform == "macos" else built)
    except SosqueueError as error:
        shutil.rmtree(folder, ignore_errors=True)
        log.error("cannot stamp a module onto %s: %s", base, error)
        raise StampFailed(platform, str(error)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def zip_bundle(bundle: Path) -> Path:
    """A macOS ``.app`` folder as one ``.zip``, keeping its symlinks and executable bits."""
    archive = bundle.with_name(f"{bundle.name}.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for folder, subfolders, files in os.walk(bundle):
            for name in sorted(subfolders + files):
                path = Path(folder, name)
                arcname = str(path.relative_to(bundle.parent))
                if path.is_symlink():
                    link = zipfile.ZipInfo(arcname)
                    link.create_system = 3  # Unix, so that unzip reads the mode below
                    link.external_attr = (stat.S_IFLNK | 0o755) << 16
                    zipped.writestr(link, os.readlink(path))
                elif path.is_file():
                    zipped.write(path, arcname)
    return archive
