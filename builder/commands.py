"""The builder's commands: ``module init``, ``build``, ``inspect`` and ``build-base``."""

import json
import logging
import os
import tempfile
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import click

from builder import bases, module_config
from builder.tools.osslsigncode import check_timestamp_url
from sosqueue.errors import ConfigError, OutputError
from sosqueue.platforms import Platform

log = logging.getLogger("sosqueue.builder")

#: Said once by a build that stamps a module without the queue's update key.
NO_UPDATE_KEY = ("no update key: this module will not update itself; "
                 "build it with --server URL --token ADMIN_TOKEN to let it")

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


@click.command("init")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def module_init(path: Path | None, force: bool) -> None:
    """Write a commented module config template (to stdout without PATH)."""
    text = module_config.template()
    if path is None:
        click.echo(text, nl=False)
        return
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    _write_text(path, text)
    log.info("wrote %s; edit it, then run: sosqueue build --config %s", path, path)
    click.echo(str(path))


@click.command("build")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The module config (sosqueue module init writes one).")
@click.option("--base", type=click.Path(path_type=Path), help="The unbranded base agent (default: the one sosqueue build-base made).")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(path_type=Path), help="Folder for the module.")
@click.option("--server", envvar="SOSQUEUE_SERVER", help="The queue the module is registered with (needed to register it or to take --module).")
@click.option("--token", envvar="SOSQUEUE_ADMIN_TOKEN", help="An admin's API token for --server.")
@click.option("--module", "module_id", metavar="ID", help="Build a module registered before (its id; needs --server and --token the first time).")
@click.option("--allow-insecure", is_flag=True, help="Allow an http:// server URL other than localhost.")
@click.option("--sign", is_flag=True, help="Sign a Windows module with osslsigncode (needs --sign-cert and --sign-key).")
@click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_CERT", help="Code-signing certificate (PEM or SPC).")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_KEY", help="Its private key (PEM).")
@click.option("--timestamp-url", envvar="SOSQUEUE_TIMESTAMP_URL", metavar="URL", help="An RFC 3161 time-stamp authority for --sign, so the signature outlives the certificate.")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), help="Also render the window and icons into this PNG.")
@json_option
def build(config_path, base, out_dir, server, token, module_id, allow_insecure, sign, sign_cert, sign_key, timestamp_url,
          preview, as_json) -> None:
    """Stamp branding and config into a personalised support module."""
    from builder import base_checks, registration
    from builder.stamping import render, stamp_module

    spec = module_config.load(config_path, allow_insecure=allow_insecure, defer_logo=True)
    assets = render(spec, kept=True)  # also where a logo that cannot be decoded is refused, before any call
    base = base or bases.default_base()
    checked_base = base_checks.checked(base)
    platform = checked_base.platform
    if sign and (platform != Platform.WINDOWS or not (sign_cert and sign_key)):
        raise ConfigError("--sign signs Windows modules and needs --sign-cert and --sign-key")
    if timestamp_url and not sign:
        raise ConfigError("--timestamp-url is for signing: add --sign --sign-cert CERT --sign-key KEY")
    check_timestamp_url(timestamp_url)
    _check_writable(out_dir)
    server_url = _server_option(server, allow_insecure) if server else None
    identity_file = registration.identity_path(config_path)
    known = registration.read_identity(identity_file)
    stamped_url = _stamped_url(spec, config_path, server_url, known)
    identity, fresh = _identity(spec, module_id, server_url, token, known, identity_file)
    if known and known.module_id == identity.module_id:
        _check_version(spec.version, known.version, config_path, identity_file)
    if fresh:  # a registration must never be lost, even if stamping fails below
        registration.write_identity(identity_file, identity)
        log.info("the module's id and token are in %s (keep it next to %s, and secret): later builds reuse them",
                 identity_file, config_path.name)
    else:
        identity = _with_update_key(identity, known, server_url, token)
    spec = replace(spec, server_url=stamped_url, update_key=identity.update_key)
    spec, brand_source, brand_version = _queue_brand(spec, identity, token, config_path)
    if brand_source == "queue":
        assets = render(spec, kept=True)
    output = stamp_module(spec, base=base, out_dir=out_dir, module_id=identity.module_id, module_token=identity.token,
                          brand_version=brand_version or 0, assets=assets, checked=checked_base)
    if not identity.update_key:
        log.warning(NO_UPDATE_KEY)
    if sign:
        _sign(output, sign_cert, sign_key, spec.brand.product, timestamp_url)
    built = replace(identity, version=spec.version or identity.version)
    if built != known:
        registration.write_identity(identity_file, built)
    if preview:
        _preview(spec, assets, preview)
    result = {"path": str(output), "platform": platform, "module_id": identity.module_id, "version": spec.version or None,
              "server_url": stamped_url, "identity": str(identity_file), "registered": fresh,
              "update_key": identity.update_key or None, "brand": brand_source, "brand_version": brand_version,
              "preview": str(preview) if preview else None}
    click.echo(json.dumps(result) if as_json else str(output))


@click.command("inspect")
@click.argument("module", type=click.Path(path_type=Path))
def inspect(module: Path) -> None:
    """Show what a module carries (tokens redacted), its version and signature, after verifying the whole file.

    Exit 13 when it is damaged (cut short, or its program is not the base it was built on: get it
    again), 17 when it is not a module (the unbranded base, another program), 18 when its
    configuration was changed after it was built (do not hand it out: build it again).
    """
    from builder.stamping import inspect_module

    click.echo(json.dumps(inspect_module(module), indent=2))


@click.command("build-base")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for the base agent (default: the builder's cache).")
@click.option("--onedir", is_flag=True, help="A folder instead of one file: starts faster, for installers.")
def build_base(out_dir: Path | None, onedir: bool) -> None:
    """Build the unbranded base agent for this platform with PyInstaller."""
    click.echo(str(bases.build_base(out_dir, onedir=onedir)))


def _server_option(server: str, allow_insecure: bool) -> str:
    from sosqueue import urls

    try:
        return urls.server_url(server, allow_insecure=allow_insecure)
    except urls.BadServerUrl as error:
        raise ConfigError(f"--server {error}") from None


def _stamped_url(spec, config_path: Path, server_url: str | None, known) -> str:
    """The queue the module files into: the config's ``[server] url`` when it names one
    deliberately, else the registering server (``--server``, or the one the identity file names)."""
    if spec.server_url_set:
        if server_url and server_url != spec.server_url:
            raise ConfigError(
                f"{config_path.name} says server.url = {spec.server_url} but --server is {server_url}: set "
                f'[server] url = "{server_url}" (or remove the line), or pass --server {spec.server_url}')
        return spec.server_url
    stamped = server_url or (known.server if known else "") or spec.server_url
    if not stamped:
        raise ConfigError(f"no queue to file into: pass --server URL, or set [server] url in {config_path.name}")
    return stamped


def _identity(spec, module_id: str | None, server_url: str | None, token: str | None, known,
              identity_file: Path):
    """The module's registration and whether it is new to the identity file: from the config's
    ``[module]`` id and token, ``--module``, the identity file, or a new registration."""
    from builder import registration
    from builder.registration import Identity

    if spec.registered:
        if module_id and module_id != spec.module_id:
            raise ConfigError(f"--module {module_id} is not the config's module.id {spec.module_id}: drop one of them")
        return Identity(spec.module_id, spec.module_token, server_url or spec.server_url), False
    if known and server_url and known.server and known.server != server_url:
        raise ConfigError(f"{identity_file.name} holds a module of {known.server}, not {server_url}: pass --server "
                          f"{known.server}, or move {identity_file.name} away to register the module at {server_url}")
    if module_id:
        if known and known.module_id != module_id:
            raise ConfigError(f"{identity_file.name} holds module {known.module_id}, not {module_id}: drop --module, "
                              f"or move {identity_file.name} away to build module {module_id}")
        if known:
            return known, False
        if not (server_url and token):
            raise ConfigError(f"--module {module_id} needs --server URL --token ADMIN_TOKEN to fetch its token")
        log.info("taking module %s of %s…", module_id, server_url)
        return registration.fetch(module_id, server=server_url, admin_token=token), True
    if known:
        log.info("building module %s again (from %s)", known.module_id, identity_file.name)
        return known, False
    if not (server_url and token):
        raise ConfigError(
            "the module is not registered yet: register it with --server URL --token ADMIN_TOKEN, "
            "or build one registered before with --module ID"
        )
    log.info("registering the module with %s…", server_url)
    return registration.register(spec, server=server_url, admin_token=token), True


def _with_update_key(identity, known, server_url: str | None, token: str | None):
    """``identity`` with the queue's update key: taken afresh when the build may contact the queue
    (``--server`` and ``--token``), else as the identity file keeps it for this module."""
    from builder import registration

    if server_url and token:
        log.info("taking the update key of %s…", server_url)
        fetched = registration.fetch(identity.module_id, server=server_url, admin_token=token)
        return replace(identity, update_key=fetched.update_key)
    if known and known.module_id == identity.module_id:
        return replace(identity, update_key=known.update_key)
    return identity


def _queue_brand(spec, identity, token: str | None, config_path: Path):
    """The spec with the brand to stamp, where it came from and the queue's brand version.

    With an admin token, the module's brand on the queue and this build agree: a config with a
    ``[brand]`` section updates the queue's ("updated"), one without takes it ("queue"). Without a
    token, the config's brand is stamped as it is ("config").
    """
    if not (token and identity.server):
        if not spec.brand_set:
            log.warning("%s has no [brand] section, but without --token the build cannot take the queue's brand of "
                        "module %s: it gets the default brand; pass --token ADMIN_TOKEN", config_path.name,
                        identity.module_id)
        return spec, "config", None
    from builder import queue_brand

    if spec.brand_set:
        version = queue_brand.push(spec, module_id=identity.module_id, server=identity.server, admin_token=token)
        log.info("the queue's brand of module %s updated from %s", identity.module_id, config_path)
        return spec, "updated", version
    brand, options, version = queue_brand.pull(identity.module_id, server=identity.server, admin_token=token)
    log.info("building with the queue's brand of module %s (%s has no [brand] section)", identity.module_id,
             config_path.name)
    return replace(spec, brand=brand, options=options), "queue", version


def _check_version(version: str, last: str, config_path: Path, identity_file: Path) -> None:
    """Versions of a module never go down: installers would refuse to upgrade to them."""
    if version and last and _version_key(version) < _version_key(last):
        raise ConfigError(f"version {version} is lower than {last}, the last version built of this module "
                          f"({identity_file.name}): set [module] version in {config_path.name} to {last} or higher")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as error:
        raise OutputError(f"cannot write to {out_dir} ({error.strerror}); choose another --out") from None


def _sign(output: Path, certificate: Path, key: Path, description: str, timestamp_url: str | None) -> None:
    from builder.tools.osslsigncode import sign_in_place

    try:
        sign_in_place(output, certificate=certificate, key=key, description=description, timestamp_url=timestamp_url)
    except BaseException:
        output.unlink(missing_ok=True)  # never leave an unsigned module where a signed one was asked for
        raise
    log.info("signed %s%s", output, f" (timestamped by {timestamp_url})" if timestamp_url else "")


def _preview(spec, assets: dict[str, bytes], path: Path) -> None:
    from branding.render import preview

    picture = preview(spec.brand, assets, options=spec.options)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        picture.save(staging, format="PNG")
        os.replace(staging, path)
    except OSError as error:
        with suppress(OSError):
            staging.unlink(missing_ok=True)
        raise OutputError(f"cannot write the preview {path} ({error.strerror})") from None
    log.info("preview: %s", path)


def _write_text(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except OSError as error:
        with suppress(OSError):
            staging.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({error.strerror})") from None
