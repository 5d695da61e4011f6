"""The module's brand kept current from its queue (:mod:`sosqueue.brand_refresh`).

:class:`BrandRefresher` asks the queue for the module's brand manifest and, when its version is
newer than the brand in force, checks the signature with the key stamped into the module before
it uses any field, downloads each file whose SHA-256 differs from the one in force (no more bytes
than the signed size), checks them all, caches manifest and files in :func:`cache_dir`, and hands
the new configuration on. :class:`BrandCache` keeps that cache: files named by their SHA-256 and
the manifest renamed into place last, so a crash leaves the old brand or the new one. At start a
cached brand newer than the stamped one is used, after the same checks (:func:`brand_at_start`).

Whatever goes wrong (offline, a tampered or half-downloaded brand, a full disk), the brand in force
stays and the log says why in one line; the next check tries again. :class:`BrandChecks` runs the
checks in a daemon thread: at start, when woken (the request's channel reconnected), and every
:data:`sosqueue.brand_refresh.POLL_SECONDS` while the help window is on screen.
"""

import json
import logging
from collections.abc import Callable
from pathlib import Path

from agent import __version__
from agent.background import PeriodicChecks
from agent.client import QueueClient
from agent.errors import AgentError, ModuleRevoked, Rejected
from agent.outbox import write_atomically
from agent.paths import data_dir
from sosqueue.brand_refresh import POLL_SECONDS, AssetInfo, BadManifest, BrandManifest, apply_manifest, check_asset
from sosqueue.module_config import ModuleConfig

log = logging.getLogger("sosqueue.agent.brand")

MANIFEST_FILE = "manifest.json"
FILES_DIR = "files"


def cache_dir(module_id: str) -> Path:
    """Where the module's refreshed brand is kept."""
    return data_dir(module_id) / "brand"


class BrandCache:
    """The last brand refreshed from the queue: ``manifest.json`` and ``files/<sha256>``."""

    def __init__(self, folder: Path):
        self.folder = folder

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_FILE

    def load(self, stamped: ModuleConfig) -> ModuleConfig | None:
        """``stamped`` in the cached brand, if one is cached, newer and intact; else ``None``
        (a damaged cache is logged and ignored)."""
        try:
            body = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("cannot read the cached brand in %s (%s); using the stamped brand", self.folder,
                        error.strerror or error)
            return None
        try:
            manifest = _verified(BrandManifest.from_bytes(body), stamped)
            if manifest.version <= stamped.brand_version:
                return None
            return apply_manifest(stamped, manifest, self._files(manifest))
        except (BadManifest, OSError) as error:
            log.warning("the cached brand in %s is damaged (%s); using the stamped brand", self.folder, error)
            return None

    def save(self, manifest: BrandManifest, assets: dict[str, bytes]) -> None:
        """Keep ``manifest`` and its checked ``assets``: the files first, the manifest renamed over the old
        one last, then the files no manifest names any more go.

        :raises agent.errors.StorageFailure: if the disk refuses.
        """
        files = self.folder / FILES_DIR
        files.mkdir(parents=True, exist_ok=True)
        for name, info in manifest.assets.items():  # written again even if there: a damaged copy is mended
            write_atomically(files / info.sha256, assets[name])
        write_atomically(self.manifest_path, json.dumps(manifest.to_json()).encode())
        named = {info.sha256 for info in manifest.assets.values()}
        for path in files.iterdir():
            if path.name not in named:
                path.unlink(missing_ok=True)

    def _files(self, manifest: BrandManifest) -> dict[str, bytes]:
        files = self.folder / FILES_DIR
        return {name: (files / info.sha256).read_bytes() for name, info in manifest.assets.items()}


def _verified(manifest: BrandManifest, config: ModuleConfig) -> BrandManifest:
    manifest.verify(config.update_key, module_id=config.module_id)
    return manifest


def brand_at_start(stamped: ModuleConfig) -> ModuleConfig:
    """The configuration to start with: ``stamped`` in its cached brand when that is newer and intact."""
    if not stamped.update_key:
        return stamped
    cached = BrandCache(cache_dir(stamped.module_id)).load(stamped)
    if cached is None:
        return stamped
    log.info("using brand version %d from the cache (the module carries %d)", cached.brand_version,
             stamped.brand_version)
    return cached


class BrandRefresher:
    """Refreshes one module's brand from its queue.

    :param config: the configuration in force (stamped, or refreshed at start).
    :param on_brand: told each newer configuration (in the caller's thread: the checks' thread).
    """

    def __init__(self, config: ModuleConfig, client: QueueClient, *, cache: BrandCache,
                 on_brand: Callable[[ModuleConfig], None]):
        self.config = config
        self.client = client
        self.cache = cache
        self.on_brand = on_brand
        self._etag: str | None = None
        self._last_problem = ""

    def check(self) -> ModuleConfig | None:
        """Ask once: the newer configuration now in force, or ``None`` (the brand in force stays; the log
        says why when something went wrong, once per reason)."""
        if not self.config.update_key:
            return None
        try:
            refreshed = self._refresh()
        except BadManifest as error:
            self._problem(logging.WARNING, f"the queue's brand is refused: {error}")
        except ModuleRevoked:
            self._problem(logging.INFO, "the queue switched this module off")
        except Rejected as error:
            self._problem(logging.INFO, f"the queue did not send the brand ({error.status}: {error.message})")
        except AgentError as error:  # Unreachable, StorageFailure: their text says what happened
            self._problem(logging.INFO, str(error))
        except Exception as error:  # never a traceback for a brand: it is not worth stopping for
            self._problem(logging.WARNING, f"unexpected {type(error).__name__}: {error}")
        else:
            self._last_problem = ""
            return refreshed
        return None

    def _refresh(self) -> ModuleConfig | None:
        body, etag = self.client.brand_manifest(self._etag)
        if body is None:
            return None
        manifest = _verified(BrandManifest.from_bytes(body), self.config)
        if manifest.version <= self.config.brand_version:
            self._etag = etag
            return None
        assets, downloaded = self._download(manifest)
        refreshed = apply_manifest(self.config, manifest, assets)
        self.cache.save(manifest, assets)
        log.info("brand version %d in force (was %d); %d of its %d files downloaded", manifest.version,
                 self.config.brand_version, downloaded, len(manifest.assets))
        self.config, self._etag = refreshed, etag
        self.on_brand(refreshed)
        return refreshed

    def _download(self, manifest: BrandManifest) -> tuple[dict[str, bytes], int]:
        """Each of the manifest's files: the one in force when its hash is the same, else downloaded and
        checked; and how many were downloaded."""
        assets, downloaded = {}, 0
        for name, info in manifest.assets.items():
            current = self.config.assets.get(name)
            if current is not None and AssetInfo.of(current) == info:
                assets[name] = current
                continue
            assets[name] = self.client.brand_asset(name, version=manifest.version, size=info.size)
            check_asset(manifest, name, assets[name])
            downloaded += 1
        return assets, downloaded

    def _problem(self, level: int, text: str) -> None:
        line = f"no brand refresh now: {text}; the brand in force stays (version {self.config.brand_version})"
        log.log(level if text != self._last_problem else logging.DEBUG, "%s", line)
        self._last_problem = text


def make_refresher(config: ModuleConfig, on_brand: Callable[[ModuleConfig], None]) -> BrandRefresher:
    """The refresher of this running module, with its own client (it runs in its own thread)."""
    client = QueueClient(config, user_agent=f"sosqueue-agent/{__version__}")
    return BrandRefresher(config, client, cache=BrandCache(cache_dir(config.module_id)), on_brand=on_brand)


class BrandChecks(PeriodicChecks):
    """The brand's checks: at once, when woken (a reconnect), and every ``interval`` seconds while
    :meth:`poll` is on (the help window is on screen)."""

    def __init__(self, check: Callable[[], object], *, interval: float = POLL_SECONDS):
        super().__init__(check, name="sosqueue-brand", interval=interval, only_while_polled=True)
