"""The builder's commands: ``module init``, ``build``, ``inspect`` and ``build-base``."""

import json
import logging
import os
import tempfile
from contextlib import suppress
from pathlib import Path

import click

from builder import bases, module_config
from sosqueue.errors import ConfigError, OutputError
from sosqueue.platforms import Platform

log = logging.getLogger("sosqueue.builder")

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
@click.option("--server", envvar="SOSQUEUE_SERVER", help="Register the module with this queue (when the config has no id and token).")
@click.option("--token", envvar="SOSQUEUE_ADMIN_TOKEN", help="An admin's API token for --server.")
@click.option("--allow-insecure", is_flag=True, help="Allow an http:// server URL other than localhost.")
@click.option("--sign", is_flag=True, help="Sign a Windows module with osslsigncode (needs --sign-cert and --sign-key).")
@click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_CERT", help="Code-signing certificate (PEM or SPC).")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_KEY", help="Its private key (PEM).")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), help="Also render the window and icons into this PNG.")
@json_option
def build(config_path, base, out_dir, server, token, allow_insecure, sign, sign_cert, sign_key, preview, as_json) -> None:
    """Stamp branding and config into a personalised support module."""
    from builder.stamping import stamp_module

    spec = module_config.load(config_path, allow_insecure=allow_insecure)
    base = base or bases.default_base()
    platform = bases.check_base(base)
    if sign and (platform != Platform.WINDOWS or not (sign_cert and sign_key)):
        raise ConfigError("--sign signs Windows modules and needs --sign-cert and --sign-key")
    _check_writable(out_dir)
    module_id, module_token = _identity(spec, server, token)
    output = stamp_module(spec, base=base, out_dir=out_dir, module_id=module_id, module_token=module_token)
    if sign:
        _sign(output, sign_cert, sign_key, spec.brand.product)
    if preview:
        _preview(spec, preview)
    result = {"path": str(output), "platform": platform, "module_id": module_id, "preview": str(preview) if preview else None}
    click.echo(json.dumps(result) if as_json else str(output))


@click.command("inspect")
@click.argument("module", type=click.Path(path_type=Path))
def inspect(module: Path) -> None:
    """Show what a module carries (tokens redacted) after verifying its checksum."""
    from builder.stamping import inspect_module

    click.echo(json.dumps(inspect_module(module), indent=2))


@click.command("build-base")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for the base agent (default: the builder's cache).")
@click.option("--onedir", is_flag=True, help="A folder instead of one file: starts faster, for installers.")
def build_base(out_dir: Path | None, onedir: bool) -> None:
    """Build the unbranded base agent for this platform with PyInstaller."""
    click.echo(str(bases.build_base(out_dir, onedir=onedir)))


def _identity(spec, server: str | None, token: str | None) -> tuple[str, str]:
    if spec.registered:
        return spec.module_id, spec.module_token
    if not (server and token):
        raise ConfigError(
            "the config has no module id and token: register the module with --server URL --token ADMIN_TOKEN, "
            "or fill in [module] id and token"
        )
    from builder.registration import register

    if server.rstrip("/") != spec.server_url:
        log.warning("registering at %s; the module will file requests to server.url %s", server, spec.server_url)
    log.info("registering the module with %s…", server)
    return register(spec, server=server, admin_token=token)


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as error:
        raise OutputError(f"cannot write to {out_dir} ({error.strerror}); choose another --out") from None


def _sign(output: Path, certificate: Path, key: Path, description: str) -> None:
    from sosqueue.errors import ToolFailed
    from builder.tools.osslsigncode import OsslSigncode

    signed = output.with_name(f".{output.name}.signed")
    try:
        OsslSigncode().sign(output, signed, certificate=certificate, key=key, description=description)
        os.replace(signed, output)
    except BaseException as error:
        output.unlink(missing_ok=True)  # never leave an unsigned module where a signed one was asked for
        if isinstance(error, ToolFailed):
            raise ToolFailed(f"{error}; check that --sign-cert and --sign-key are a matching certificate and key") from None
        raise
    finally:
        signed.unlink(missing_ok=True)
    log.info("signed %s", output)


def _preview(spec, path: Path) -> None:
    from branding.render import preview
    from builder.stamping import render

    picture = preview(spec.brand, render(spec))
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
