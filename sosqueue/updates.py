"""Agent updates: what the queue server offers, how the offer is signed, and IT's switch.

The server holds one base agent per platform (``<bases_dir>/<platform>/``) with a
:data:`BASE_INFO` file beside it that ``sosqueue build-base`` writes (the agent version the base
carries). A module asks its server for the :class:`Offer` of its platform (``GET
{UPDATES_PATH}/<platform>``, with its module token) and follows it when the offered base is not
the one it was stamped onto (``ModuleConfig.base_sha256``) and is newer: a higher version, or the same version built later
(``ModuleConfig.base_built``; :func:`is_newer_or_rebuilt`). It downloads the base (``GET {UPDATES_PATH}/<platform>/file``),
checks the offer's Ed25519 signature with the key stamped into it at build
(``ModuleConfig.update_key``) and the file's SHA-256 and size against the signed offer, stamps its
own payload onto the new base, proves that the result starts, and only then swaps itself.

The signature covers :meth:`Offer.signed_bytes`: platform, version, build time, SHA-256 and size
of the file, so an older build cannot be passed off as a newer one.
Whoever can change the file can recompute a checksum, but not a signature without the server's
private key, which the server derives from its secret key (:data:`SIGNING_KEY_CONTEXT`).

Machine-wide installs (a :data:`PACKAGE_MARKER` beside the module: the .deb, the MSI) never
replace themselves: they tell the customer that IT has an update (:attr:`Policy.NOTIFY`). IT sets
a :class:`Policy` for every module on a computer: on Linux and macOS in :data:`POLICY_FILES`
(TOML, ``[updates] mode = "off"``), on Windows in the registry value :data:`POLICY_REGISTRY_VALUE`
under ``HKLM\\`` :data:`POLICY_REGISTRY_KEY`, which the MSI writes from its ``UPDATES`` property.
"""

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from sosqueue import signing
from sosqueue.platforms import Platform

#: ``GET {UPDATES_PATH}/{platform}``: the offer (JSON); ``…/{platform}/file``: the base agent itself.
UPDATES_PATH = "/api/v1/agent/updates"
#: What the server's signing key is derived from its secret key for (HMAC-SHA256 context).
SIGNING_KEY_CONTEXT = b"sosqueue agent update signing key"
#: How often a running agent asks again.
CHECK_INTERVAL_SECONDS = 24 * 3600
#: No base agent is this large; a bigger download is refused before it fills the disk.
MAX_UPDATE_BYTES = 256 * 1024 * 1024
#: Beside each base on the server: ``{"version": "X.Y.Z", "built": BUILT}``, written by ``sosqueue build-base``.
BASE_INFO = "base.json"
#: What the .deb and the MSI put next to the module they install: the agent then is machine-wide.
PACKAGE_MARKER = "sosqueue-package.json"
#: Where IT's policy for every module on the computer lives (Linux, macOS).
POLICY_FILES = {
    Platform.LINUX: Path("/etc/sosqueue/policy.toml"),
    Platform.MACOS: Path("/Library/Application Support/sosqueue/policy.toml"),
}
#: Windows: ``HKEY_LOCAL_MACHINE\\<key>``, value ``<value>`` (REG_SZ, a :class:`Policy` value).
POLICY_REGISTRY_KEY = r"SOFTWARE\Policies\sosqueue"
POLICY_REGISTRY_VALUE = "Updates"
#: The MSI's public property that writes the registry policy (``UPDATES=off`` or ``notify``).
MSI_POLICY_PROPERTY = "UPDATES"

_SIGNED_HEADER = b"sosqueue agent update 1\n"
_VERSION = re.compile(r"\d{1,5}\.\d{1,5}\.\d{1,5}")
#: A build time: UTC to the second, so that comparing the text compares the times.
BUILT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_BUILT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Policy(StrEnum):
    """What a module does when its server has a newer agent."""

    AUTO = "auto"  # replace itself (modules the customer installed for themselves)
    NOTIFY = "notify"  # tell the customer that IT has an update (machine-wide installs always do this)
    OFF = "off"  # do not even ask the server


class UpdateError(Exception):
    """An offer, a policy or a download that cannot be trusted or used; the text says why."""


class BadOffer(UpdateError):
    """The server's offer is malformed, or its signature does not verify with the stamped key."""


class BadPolicy(UpdateError):
    """IT's policy file or value cannot be read; the text names the file and the fix."""


@dataclass(frozen=True)
class Offer:
    """The base agent a server offers for one platform, signed with the server's update key."""

    platform: str
    version: str
    sha256: str  # of the file the server sends, lowercase hex
    size: int
    built: str = ""  # when the base was built (BUILT_FORMAT); "" if its base.json does not say
    signature: str = ""  # base64 Ed25519 over signed_bytes()

    def signed_bytes(self) -> bytes:
        fields = (self.platform, self.version, self.built, self.sha256, str(self.size))
        return _SIGNED_HEADER + "".join(f"{field}\n" for field in fields).encode()

    def signed(self, private_key: bytes) -> "Offer":
        signature = base64.b64encode(signing.sign(private_key, self.signed_bytes())).decode()
        return replace(self, signature=signature)

    def verify(self, public_key: str) -> None:
        """:raises BadOffer: unless the signature is the server's for exactly this offer."""
        try:
            signing.verify(decode_key(public_key), self.signed_bytes(), base64.b64decode(self.signature, validate=True))
        except (signing.BadSignature, binascii.Error, ValueError):
            raise BadOffer("the update's signature does not match this module's update key: "
                           "it was not made by this module's server, so it is not installed") from None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> "Offer":
        try:
            offer = cls(platform=str(Platform(data["platform"])), version=data["version"], sha256=data["sha256"],
                        size=data["size"], built=data.get("built", ""), signature=data["signature"])
        except (KeyError, TypeError, ValueError) as error:
            raise BadOffer(f"the server's update offer is incomplete or malformed ({error})") from None
        if not (isinstance(offer.version, str) and _VERSION.fullmatch(offer.version)):
            raise BadOffer(f"the server's update offer has no X.Y.Z version ({offer.version!r})")
        if not (isinstance(offer.sha256, str) and _SHA256.fullmatch(offer.sha256)):
            raise BadOffer("the server's update offer has no SHA-256 of the file")
        if not isinstance(offer.size, int) or isinstance(offer.size, bool) or not 0 < offer.size <= MAX_UPDATE_BYTES:
            raise BadOffer(f"the server's update offer has an impossible size ({offer.size!r})")
        if not is_build_time(offer.built):
            raise BadOffer(f"the server's update offer has a malformed build time ({offer.built!r})")
        if not isinstance(offer.signature, str):
            raise BadOffer("the server's update offer is not signed")
        return offer


def installed_by_package(module: Path) -> bool:
    """Whether a .deb or an MSI installed ``module`` for the whole computer (:data:`PACKAGE_MARKER` beside it)."""
    return (module.parent / PACKAGE_MARKER).is_file()


def encode_key(public_key: bytes) -> str:
    """A public update key as the module config and the API carry it (base64)."""
    return base64.b64encode(public_key).decode()


def decode_key(text: str) -> bytes:
    """:raises ValueError: if ``text`` is not a base64 Ed25519 public key."""
    key = base64.b64decode(text, validate=True)
    if len(key) != signing.KEY_BYTES:
        raise ValueError(f"an update key is {signing.KEY_BYTES} bytes, not {len(key)}")
    return key


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"1.2.10"`` → ``(1, 2, 10)``; :raises ValueError: for anything but X.Y.Z."""
    if not _VERSION.fullmatch(version):
        raise ValueError(f"{version!r} is not an X.Y.Z version")
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def is_build_time(text) -> bool:
    """Whether ``text`` is a build time as bases and offers carry it ("" means unknown)."""
    return isinstance(text, str) and (text == "" or bool(_BUILT.fullmatch(text)))


def is_newer_or_rebuilt(offer: Offer, *, running_version: str, running_base_sha256: str,
                        running_base_built: str) -> bool:
    """Whether a module running ``running_version`` on the base ``running_base_sha256`` (built at
    ``running_base_built``) should move to ``offer``.

    A newer version always; the same version only when it is a later build of it (the server's
    base was rebuilt) and both build times are known. Never an older version or an older build,
    even one the server once signed.
    """
    offered, running = version_tuple(offer.version), version_tuple(running_version)
    if offered != running:
        return offered > running
    if not (offer.built and running_base_built) or offer.sha256 == running_base_sha256:
        return False
    return offer.built > running_base_built


@dataclass(frozen=True)
class BaseInfo:
    """What :data:`BASE_INFO` says of a base: its agent version and when it was built."""

    version: str
    built: str = ""


def read_base_info(base: Path) -> BaseInfo:
    """The :data:`BASE_INFO` file beside ``base``.

    :raises UpdateError: if the file is missing or does not hold an X.Y.Z version (and, if it
        says when, a build time).
    """
    path = base.parent / BASE_INFO
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = BaseInfo(version=data["version"], built=data.get("built", ""))
        version_tuple(info.version)
        if not is_build_time(info.built):
            raise ValueError(f"build time {info.built!r} is not {BUILT_FORMAT}")
    except FileNotFoundError:
        raise UpdateError(f"no {path}: build the base with `sosqueue build-base` (it writes the version)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UpdateError(f"{path} does not hold the base's X.Y.Z version ({error}); "
                          "build the base again with `sosqueue build-base`") from None
    return info


def base_info(version: str, *, built: str | None = None) -> str:
    """The text of a :data:`BASE_INFO` file (``built``: now, unless given)."""
    from datetime import datetime, timezone  # here: the agent imports this module but writes no BASE_INFO

    version_tuple(version)
    built = datetime.now(timezone.utc).strftime(BUILT_FORMAT) if built is None else built
    if not is_build_time(built):
        raise ValueError(f"build time {built!r} is not {BUILT_FORMAT}")
    return json.dumps({"version": version, "built": built}) + "\n"


def parse_policy(text: str, *, source: str) -> Policy | None:
    """IT's policy from a policy file's text (``None``: the file does not set ``[updates] mode``).

    :raises BadPolicy: naming ``source`` and the values it may hold.
    """
    import tomllib  # here, not at the top: only a policy file needs it, and the idle agent reads none

    try:
        mode = tomllib.loads(text).get("updates", {}).get("mode")
    except (tomllib.TOMLDecodeError, AttributeError) as error:
        raise BadPolicy(f"{source} is not a valid policy file ({error}); "
                        f'write: [updates] mode = "{Policy.OFF}"') from None
    return None if mode is None else policy_value(mode, source=source)


def policy_value(value, *, source: str) -> Policy:
    """:raises BadPolicy: unless ``value`` is one of the :class:`Policy` values."""
    try:
        return Policy(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(f'"{policy}"' for policy in Policy)
        raise BadPolicy(f"{source}: update mode {value!r} is not one of {choices}") from None
