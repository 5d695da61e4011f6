"""Agent updates, the server's side: its update signing key and the signed offer of each base.

The key is derived from the server's secret key (``sosqueue.updates.SIGNING_KEY_CONTEXT``), so
every process that shares the secret signs alike and there is no key file to keep. The offer
names the base agent in ``<bases_dir>/<platform>/`` with the version in the :data:`BASE_INFO`
beside it. Bases are 20–60 MB: each is hashed once per version of its file (path, modification
time, size), not on every module's request.
"""

import functools
import hashlib
import hmac
import logging
import os
import threading
from pathlib import Path

from server.downloads import available_bases
from sosqueue import signing
from sosqueue.platforms import Platform
from sosqueue.updates import (BASE_INFO, MAX_UPDATE_BYTES, SIGNING_KEY_CONTEXT, BaseInfo, Offer, UpdateError,
                              encode_key, read_base_info)

log = logging.getLogger("sosqueue.updates")

_BUILD_IT = "whoever runs the server builds it with `sosqueue build-base`"


class NoUpdate(Exception):
    """The server has no update for modules of a platform; the text says why and what to do."""

    code = "no_base_agent"  # the problem response's stable name


class NotOffered(NoUpdate):
    """Modules of this platform do not update themselves (macOS bundles, for now)."""

    code = "update_not_offered"


def signing_key(secret_key: str) -> bytes:
    """The server's private update key (an Ed25519 seed): the same in every process with this secret."""
    return hmac.new(secret_key.encode(), SIGNING_KEY_CONTEXT, hashlib.sha256).digest()


def public_key(secret_key: str) -> str:
    """The public update key that modules carry (``ModuleConfig.update_key``), as text."""
    return encode_key(signing.public_key(signing_key(secret_key)))


def offered_base(bases_dir: Path, platform: str) -> tuple[Path, BaseInfo]:
    """The base file modules of ``platform`` update to, and its version and build time.

    :raises NoUpdate: without a base, or without its version; :raises NotOffered: for macOS.
    """
    platform = Platform(platform)
    if platform is Platform.MACOS:
        raise NotOffered("self-update of macOS bundles is not offered yet; IT hands out the new module instead")
    base = available_bases(bases_dir).get(platform)
    if base is None or not base.is_file():
        raise NoUpdate(f"this server has no base agent for {platform.label}; {_BUILD_IT}")
    try:
        info = read_base_info(base)
    except UpdateError:  # its text names the server's folders: that is for the log, not for modules
        raise NoUpdate(f"the server's base agent for {platform.label} has no {BASE_INFO} with its version; "
                       f"{_BUILD_IT} again") from None
    return base, info


def current_offer(bases_dir: Path, platform: str, secret_key: str) -> Offer:
    """The signed offer of the base agent for ``platform``.

    :raises NoUpdate: as :func:`offered_base` does, or when the base is not one modules accept.
    """
    platform = Platform(platform)
    base, info = offered_base(bases_dir, platform)
    try:
        sha256, size = _digests.sha256_and_size(base)
    except OSError:
        raise NoUpdate(f"the server cannot read its base agent for {platform.label}; {_BUILD_IT} again") from None
    if not 0 < size <= MAX_UPDATE_BYTES:
        raise NoUpdate(f"the server's base agent for {platform.label} is empty or larger than modules accept "
                       f"({MAX_UPDATE_BYTES // 2 ** 20} MiB); {_BUILD_IT} again")
    offer = Offer(platform=platform.value, version=info.version, sha256=sha256, size=size, built=info.built)
    return _signed(offer, secret_key)


@functools.lru_cache(maxsize=16)
def _signed(offer: Offer, secret_key: str) -> Offer:
    # Signing takes milliseconds of pure Python; the offer is the same until the base changes.
    return offer.signed(signing_key(secret_key))


class _Digests:
    """SHA-256 and size of base files, hashed once per (path, modification time, size)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[Path, tuple[tuple[int, int], str]] = {}

    def sha256_and_size(self, path: Path) -> tuple[str, int]:
        # The open file's own status: a base replaced meanwhile (renamed over) is hashed next time.
        with path.open("rb") as file:
            status = os.fstat(file.fileno())
            fingerprint = (status.st_mtime_ns, status.st_size)
            # Hashing under the lock: modules asking at once wait for one hash instead of each making one.
            with self._lock:
                known = self._known.get(path)
                if known is None or known[0] != fingerprint:
                    known = fingerprint, hashlib.file_digest(file, "sha256").hexdigest()
                    self._known[path] = known
        return known[1], status.st_size


_digests = _Digests()


def base_versions(bases_dir: Path) -> dict[str, str]:
    """The agent version of each base this server holds that has one in its :data:`BASE_INFO`."""
    versions = {}
    for platform, base in available_bases(bases_dir).items():
        try:
            versions[platform] = read_base_info(base).version
        except UpdateError:
            pass
    return versions


def log_bases(bases_dir: Path) -> None:
    """One line for each base the server holds: what modules are offered, or why not."""
    bases = available_bases(bases_dir)
    if not bases:
        log.info("no base agents in %s: no downloads and no agent updates; build them with `sosqueue build-base`",
                 bases_dir)
    for platform, base in bases.items():
        label = Platform(platform).label
        try:
            version = read_base_info(base).version
        except UpdateError as error:
            log.warning("the base agent for %s is not offered to modules: %s", label, error)
            continue
        if platform == Platform.MACOS:
            log.info("agent %s for %s: downloads only (macOS modules do not update themselves yet)", version, label)
        else:
            log.info("agent %s for %s offered to modules", version, label)
