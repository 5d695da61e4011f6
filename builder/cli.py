"""The ``sosqueue`` command: build support modules and run the service queue."""

import logging
import sys
import tempfile
import traceback
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

import click

from builder.errors import ExitCode, SosqueueError

log = logging.getLogger("sosqueue")

# Commands live next to what they drive and load on first use, so that building a
# module never imports the server (and the other way round).
_SERVER_COMMANDS = {
    "serve": "server.cli:serve",
    "quickstart": "server.cli:quickstart",
    "company": "server.cli:company",
    "user": "server.cli:user",
    "group": "server.cli:group",
    "db": "server.cli:db",
}
_BUILDER_COMMANDS = {
    "build": "builder.commands:build",
    "inspect": "builder.commands:inspect",
    "build-base": "builder.commands:build_base",
    "package": "builder.packaging:package",
}


def _version() -> str:
    try:
        return version("sosqueue")
    except PackageNotFoundError:
        return "0+unknown"


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from ``lazy_commands``."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            module_name, _, attribute = self.lazy_commands[name].partition(":")
            try:
                module = import_module(module_name)
            except ModuleNotFoundError as error:
                extra = module_name.partition(".")[0]
                raise SosqueueError(
                    f"'sosqueue {name}' needs the {extra} extra ({error.name} is missing); "
                    f"install it with: pip install 'sosqueue[{extra}]'"
                ) from None
            return getattr(module, attribute)
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy_commands={**_SERVER_COMMANDS, **_BUILDER_COMMANDS},
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(_version(), "-V", "--version", prog_name="sosqueue")
@click.option("-v", "--verbose", count=True, help="More progress on stderr (repeat for debug).")
def cli(verbose: int) -> None:
    """Build branded SOS support modules and run the service queue they file into."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    logging.getLogger("sosqueue").setLevel(logging.DEBUG if verbose else logging.INFO)


@cli.group(cls=LazyGroup, lazy_commands={"init": "builder.commands:module_init", "create": "server.cli:module_create"})
def module() -> None:
    """Support modules: write a config template, register a module with the queue."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every failure into one line on stderr and a documented exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="sosqueue", standalone_mode=False)
        return result if isinstance(result, int) else ExitCode.OK
    except (KeyboardInterrupt, click.Abort):
        click.echo("Aborted by user.", err=True)
        return ExitCode.ABORTED
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SosqueueError as error:
        click.echo(f"Error: {error}", err=True)
        return error.exit_code
    except Exception:
        path = _save_traceback()
        click.echo(f"Error: something unexpected went wrong; details are in {path}", err=True)
        return ExitCode.UNEXPECTED


def _save_traceback() -> str:
    with tempfile.NamedTemporaryFile("w", prefix="sosqueue-error-", suffix=".log", delete=False) as handle:
        traceback.print_exc(file=handle)
        return handle.name
