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
from pathlib import Path

import click

from sosqueue.errors import ConfigError
from builder.packaging import deb, msi
from builder.packaging.format import Format
from builder.packaging.module import PACKAGE_MARKER, Module, read_module
from builder.packaging.output import publish, staging
from builder.versions import VERSION_LIMITS, VERSION_PATTERN

#: The installer formats, by the name of their command.
FORMATS: dict[str, Format] = {format_.name: format_ for format_ in (deb.FORMAT, msi.FORMAT)}

__all__ = ["FORMATS", "PACKAGE_MARKER", "Format", "Module", "check_version", "module_version", "package",
           "read_module"]


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
    "--version", "version", help="Installer version X.Y.Z (default: the module's, [module] version of its config).")
#: Installer formats osslsigncode signs (Authenticode): their commands take the signing options.
SIGNED_SUFFIXES = (".msi",)
sign_options = (
    click.option("--sign", is_flag=True, help="Sign the installer with osslsigncode (needs --sign-cert and --sign-key)."),
    click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_CERT",
                 help="Code-signing certificate (PEM or SPC)."),
    click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="SOSQUEUE_SIGN_KEY",
                 help="Its private key (PEM)."),
    click.option("--timestamp-url", envvar="SOSQUEUE_TIMESTAMP_URL", metavar="URL",
                 help="An RFC 3161 time-stamp authority, so the signature outlives the certificate."),
)
#: How the refusal of a module of another platform names each installer.
_INSTALLER_NAMES = {"msi": "an MSI", "deb": "a .deb"}
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


@click.group("package")
def package() -> None:
    """Wrap a stamped module into an installer for IT rollout (.deb, MSI)."""


def format_command(format_: Format) -> click.Command:
    """``sosqueue package <format>``: read the module, build the installer, print where it is."""

    signs = format_.suffix in SIGNED_SUFFIXES

    def run(module_path: Path, out_dir: Path, version: str | None, as_json: bool, sign: bool = False,
            sign_cert: Path | None = None, sign_key: Path | None = None, timestamp_url: str | None = None,
            **options) -> None:
        from builder.tools.osslsigncode import check_timestamp_url

        module = read_module(module_path)
        check_platform(format_, module)
        version = check_version(version) if version else module_version(module)
        if (sign_cert or sign_key or timestamp_url) and not sign:
            raise ConfigError("--sign-cert, --sign-key and --timestamp-url are for signing: add --sign")
        if sign and not (sign_cert and sign_key):
            raise ConfigError("--sign needs --sign-cert CERT and --sign-key KEY")
        check_timestamp_url(timestamp_url)
        if sign:
            result = _build_signed(format_, module, out_dir, version=version, certificate=sign_cert, key=sign_key,
                                   timestamp_url=timestamp_url, **options)
        else:
            result = format_.build(module, out_dir, version=version, **options)
        click.echo(json.dumps(result) if as_json else result["path"])

    own_options = (*format_.options, *(sign_options if signs else ()))
    for option in reversed((module_option, out_option, *own_options, version_option, json_option)):
        run = option(run)
    return click.command(format_.name, help=format_.summary)(run)


def check_platform(format_: Format, module: Module) -> None:
    """Each installer wraps modules of its platform only, and says which one it got."""
    if module.platform == format_.platform:
        return
    installer = _INSTALLER_NAMES.get(format_.name, f"a {format_.suffix} installer")
    fitting = next((other.name for other in FORMATS.values() if other.platform == module.platform), None)
    instead = f"sosqueue package {fitting}" if fitting else "build_scripts/macos/pkgbuild.sh"
    raise ConfigError(
        f"{module.path} is a {module.platform.label} module; {installer} wraps {format_.platform.label} modules: "
        f"build one with sosqueue build --base <the {format_.platform.label} base agent>, or package this one "
        f"with {instead}")


def module_version(module: Module) -> str:
    """The version the module was built with, for installers built without ``--version``."""
    if not module.config.version:
        raise ConfigError(f"{module.path} carries no version: set [module] version = \"X.Y.Z\" in its config and "
                          "build it again, or pass --version X.Y.Z")
    return check_version(module.config.version)


def _build_signed(format_: Format, module: Module, out_dir: Path, *, version: str, certificate: Path, key: Path,
                  timestamp_url: str | None, **options) -> dict:
    """Build in a private folder, sign there, then move into place: an installer that cannot be
    signed never lands in ``out_dir`` (nor replaces one there)."""
    from builder.tools.osslsigncode import sign_in_place

    with staging(out_dir) as folder:
        result = format_.build(module, folder, version=version, **options)
        built = Path(result["path"])
        sign_in_place(built, certificate=certificate, key=key, description=module.product, timestamp_url=timestamp_url)
        target = publish(built, out_dir / built.name)
    return {**result, "path": str(target), "signed": True, "timestamp_url": timestamp_url}


for _format in FORMATS.values():
    package.add_command(format_command(_format))
