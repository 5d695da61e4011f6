"""Stamp a personalised module: render the brand, write the payload onto a copy of the base."""

import logging
import time
from dataclasses import replace
from pathlib import Path

from sosqueue import binaries, module_config, payload
from sosqueue.errors import (
    BaseError,
    BrandError,
    ChangedModuleError,
    ConfigError,
    DamagedModuleError,
    NotAModuleError,
    NotFoundError,
    OutputError,
)
from sosqueue.platforms import Platform, module_file_name
from branding.model import BrandError as BrandInputError
from builder import brand_cache
from builder.base_checks import CheckedBase
from builder.bases import base_built, base_sha256, check_base
from builder.module_config import ModuleSpec

log = logging.getLogger("sosqueue.builder")


def render(spec: ModuleSpec, *, kept: bool = False) -> dict[str, bytes]:
    """The files the module carries: the brand's images and the CA bundle. With ``kept``, the
    images are taken from the user's cache when this very brand was rendered before
    (:mod:`builder.brand_cache`), and kept there when not."""
    try:
        if kept:
            images = brand_cache.rendered(spec.brand)
        else:
            from branding.render import render_assets

            images = render_assets(spec.brand)
    except BrandInputError as error:  # a logo decoded only now (defer_logo): as the config's check says it
        raise BrandError(f"{error}") from None
    except ValueError as error:
        raise BrandError(f"cannot render the brand: {error}") from None
    assets = dict(images)
    if spec.ca_bundle:
        assets["ca.pem"] = spec.ca_bundle
    return assets


def build_payload(spec: ModuleSpec, *, module_id: str, module_token: str, base_sha256: str = "",
                  base_built: str = "", brand_version: int = 0,
                  assets: dict[str, bytes] | None = None) -> payload.Payload:
    """The payload of a module of ``spec``; ``assets`` are what :func:`render` made for it (rendered here without)."""
    assets = render(spec) if assets is None else assets
    config = spec.agent_config(module_id=module_id, module_token=module_token, assets=assets,
                               base_sha256=base_sha256, base_built=base_built)
    config = replace(config, brand_version=brand_version)
    return payload.Payload(config=module_config.to_json(config), assets=assets)


def stamp_module(spec: ModuleSpec, *, base: Path, out_dir: Path, module_id: str, module_token: str,
                 brand_version: int = 0, assets: dict[str, bytes] | None = None,
                 checked: CheckedBase | None = None) -> Path:
    """Write the personalised module into ``out_dir`` and return its path; the base is untouched.

    The module carries the SHA-256 of its base and when it was built, so that it knows when its
    server offers a newer one, and ``brand_version``, the version of the queue's brand of the module
    that ``spec`` carries (0: none), so that it knows when the queue has a newer brand.

    :param assets: what :func:`render` made for ``spec``; rendered here without.
    :param checked: the base's platform and digest (:func:`builder.base_checks.checked`) from a
        caller that checked it already; checked here without.
    """
    checked = checked or CheckedBase(check_base(base), base_sha256(base))
    platform = checked.platform
    started = time.perf_counter()
    built = build_payload(spec, module_id=module_id, module_token=module_token, base_sha256=checked.sha256,
                          base_built=base_built(base), brand_version=brand_version, assets=assets)
    output = out_dir / module_file_name(spec.brand.product, platform)
    try:
        if platform == Platform.MACOS:
            payload.stamp_bundle(base, built, output)
        else:
            payload.stamp(base, built, output)
    except payload.OversizedPayload as error:  # e.g. a CA bundle over the size a module may carry
        raise ConfigError(f"cannot stamp {output}: {error}") from None
    except payload.PayloadError as error:  # the base changed under us (check_base saw it whole)
        raise BaseError(f"cannot stamp onto {base}: {error}") from None
    except PermissionError as error:
        raise OutputError(f"cannot write {output} ({error.strerror}); choose another --out") from None
    except OSError as error:
        raise OutputError(f"cannot write {output} ({error.strerror or error}); choose another --out") from None
    log.info("stamped %s in %.2f s", output, time.perf_counter() - started)
    return output


def verified_module(path: Path) -> tuple[payload.Verified, module_config.ModuleConfig]:
    """The module at ``path``, the whole file verified, and its configuration; each fault its own error."""
    if not path.exists():
        raise NotFoundError(f"{path} does not exist; give the path of a module that sosqueue build made")
    try:
        verified = payload.verify(path)
        config = module_config.parse(verified.payload)
    except payload.NoPayload:
        raise NotAModuleError(f"{path} carries no module configuration: it is the unbranded base agent or "
                              "another program, not a module; stamp one with: sosqueue build") from None
    except payload.DamagedDownload as error:
        raise DamagedModuleError(f"{path} is damaged: {error}; download or copy it again, "
                                 "or build it again") from None
    except payload.TamperedPayload as error:
        raise ChangedModuleError(f"{path} has a changed configuration: {error}; do not hand it out, "
                                 "build it again") from None
    except payload.PayloadError as error:
        raise DamagedModuleError(f"{path} is damaged: {error}; build it again") from None
    except OSError as error:
        raise DamagedModuleError(f"cannot read {path}: {error.strerror or error}") from None
    if verified.program is payload.Program.UNRECORDED:
        log.warning("%s was built before modules recorded their base agent: its program part cannot be "
                    "verified, only its configuration; build it again to verify the whole file", path)
    return verified, config


def inspect_module(path: Path) -> dict:
    """What a module carries (tokens redacted), after verifying the whole file: its program against
    the base it was stamped onto, its payload against its checksum and size limits.

    ``program`` says what was verified of the program part (:class:`sosqueue.payload.Program`):
    ``ok``, ``unverified`` (a module built before modules recorded their base, also said on
    stderr) or ``none`` (a macOS bundle or a bare payload file, which have no program part).
    """
    verified, config = verified_module(path)
    carried = verified.payload
    return {"path": str(path), "checksum": "ok", "program": str(verified.program), "version": config.version or None,
            **config.redacted(), "asset_sizes": {name: len(data) for name, data in sorted(carried.assets.items())},
            "signature": signature(path)}


# --- the Authenticode signature, as inspect shows it ------------------------------------------

#: Unsigned attributes that carry a timestamp: RFC 3161 (Microsoft's OID) and the older countersignature.
_TIMESTAMP_OIDS = (bytes.fromhex("060a2b0601040182370303 01".replace(" ", "")), bytes.fromhex("06092a864886f70d010906"))
_NAME_KEYS = {bytes.fromhex("550403"): "CN", bytes.fromhex("55040a"): "O", bytes.fromhex("55040b"): "OU",
              bytes.fromhex("550406"): "C", bytes.fromhex("550407"): "L", bytes.fromhex("550408"): "ST"}
_WIN_CERTIFICATE_HEADER = 8  # dwLength, wRevision, wCertificateType


def signature(path: Path) -> dict:
    """Whether a module is signed (Authenticode), by whom, whether the signature is timestamped,
    and whether it covers the stamped configuration: it does when the signature was made after
    stamping, i.e. the payload lies before the signature, which ends the file."""
    if path.is_dir():
        return {"signed": False}
    size = path.stat().st_size
    with open(path, "rb") as handle:
        table = binaries.pe_certificate_table(handle.read(4096))
        if table is None:
            return {"signed": False}
        handle.seek(table[0] + _WIN_CERTIFICATE_HEADER)
        blob = handle.read(max(table[1] - _WIN_CERTIFICATE_HEADER, 0))
    try:
        _, payload_end = payload.span(path)
    except payload.PayloadError:
        payload_end = None
    covers = table[0] + table[1] == size and payload_end is not None and payload_end <= table[0]
    return {"signed": True, "subject": _signer_subject(blob), "timestamped": any(oid in blob for oid in _TIMESTAMP_OIDS),
            "covers_configuration": covers}


def _signer_subject(pkcs7: bytes) -> str | None:
    """The subject of the certificate that made a PKCS #7 signature (``CN=…, O=…``), or None."""
    try:
        explicit = _inside(pkcs7, _value(pkcs7, 0))[1]  # ContentInfo: type, [0] content
        signed_data = _inside(pkcs7, _inside(pkcs7, explicit)[0])
        certificates = next(item for item in signed_data if item[0] == 0xA0)
        signer_infos = next(item for item in reversed(signed_data) if item[0] == 0x31)
        issuer_and_serial = _inside(pkcs7, _inside(pkcs7, signer_infos)[0])[1]
        wanted = [_raw(pkcs7, item) for item in _inside(pkcs7, issuer_and_serial)]
        for certificate in _inside(pkcs7, certificates):
            tbs = _inside(pkcs7, _inside(pkcs7, certificate)[0])
            fields = tbs[1:] if tbs[0][0] == 0xA0 else tbs  # serial, algorithm, issuer, validity, subject
            if [_raw(pkcs7, fields[2]), _raw(pkcs7, fields[0])] == wanted:
                return _name(pkcs7, fields[4])
    except (IndexError, StopIteration, ValueError):
        pass
    return None


def _inside(data: bytes, item: tuple) -> list[tuple[int, int, int, int, int]]:
    return _children(data, item[2], item[3])


def _raw(data: bytes, item: tuple) -> bytes:
    return data[item[1]:item[4]]


def _value(data: bytes, at: int) -> tuple[int, int, int, int, int]:
    """The DER element at ``at``: (tag, start, content start, content end, end)."""
    tag, length, cursor = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, cursor = int.from_bytes(data[cursor:cursor + count], "big"), cursor + count
    if cursor + length > len(data):
        raise ValueError("DER element runs past the end")
    return tag, at, cursor, cursor + length, cursor + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int, int]]:
    """The elements inside ``data[start:end]``: (tag, start, content start, content end, end) each."""
    items, cursor = [], start
    while cursor < end:
        item = _value(data, cursor)
        items.append(item)
        cursor = item[4]
    return items


def _name(data: bytes, name: tuple) -> str:
    parts = []
    for relative in _inside(data, name):
        for attribute in _inside(data, relative):
            oid, value = _inside(data, attribute)[:2]
            key = _NAME_KEYS.get(data[oid[2]:oid[3]], ".".join(str(b) for b in data[oid[2]:oid[3]]))
            parts.append(f"{key}={data[value[2]:value[3]].decode('utf-8', 'replace')}")
    return ", ".join(parts)
