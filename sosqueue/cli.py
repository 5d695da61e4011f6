"""The ``sosqueue`` command's root: its options, its error handling, and the commands the
parts register (the builder: build, inspect, package …; the server: serve, company, user …)."""

import logging
import sys
import tempfile
import traceback
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points, version

import click

from sosqueue.errors import ExitCode, SosqueueError
from sosqueue.pipes import flush_stdout, silence_stdout

log = logging.getLogger("sosqueue")

#: The entry-point groups where each part registers its commands (see pyproject.toml):
#: top-level commands, and the subcommands of ``sosqueue module``.
COMMANDS = "sosqueue.commands"
MODULE_COMMANDS = "sosqueue.commands.module"
#: The distribution whose parts register the commands.
DISTRIBUTION = "sosqueue"


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: read from the installed distribution only when asked for."""
    if value and not ctx.resilient_parsing:
        click.echo(f"sosqueue, version {_version()}")
        ctx.exit()


class StdoutClosed(Exception):
    """The reader of stdout went away (``| head -1``): not an error (see :mod:`sosqueue.pipes`)."""


class PluginGroup(click.Group):
    """A group whose commands the parts register as entry points, imported on first use, so
    that building a module never imports the server (and the other way round)."""

    def __init__(self, *args, entry_point_group: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.entry_point_group = entry_point_group

    def _registered(self) -> dict[str, EntryPoint]:
        return {point.name: point for point in entry_points(group=self.entry_point_group)}

    def _entry_point(self, name: str) -> EntryPoint | None:
        """The command ``name`` as registered: by sosqueue's own parts first, which reads one
        distribution's entry points rather than every installed one's (a tenth of a build)."""
        try:
            own = distribution(DISTRIBUTION).entry_points.select(group=self.entry_point_group, name=name)
        except PackageNotFoundError:
            own = ()
        return next(iter(own), None) or self._registered().get(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._registered()})

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as error:  # before click makes it exit 1
            raise StdoutClosed() from error

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        point = self._entry_point(name)
        if point is None:
            return super().get_command(ctx, name)
        try:
            return point.load()
        except ModuleNotFoundError as error:
            extra = point.module.partition(".")[0]
            raise SosqueueError(
                f"'sosqueue {name}' needs the {extra} extra ({error.name} is missing); "
                f"install it with: pip install 'sosqueue[{extra}]'"
            ) from None


@click.group(
    cls=PluginGroup,
    entry_point_group=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
@click.option("-v", "--verbose", count=True, help="More progress on stderr (repeat for debug).")
def cli(verbose: int) -> None:
    """Build branded SOS support modules and run the service queue they file into."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    logging.getLogger("sosqueue").setLevel(logging.DEBUG if verbose else logging.INFO)


@cli.group(cls=PluginGroup, entry_point_group=MODULE_COMMANDS)
def module() -> None:
    """Support modules: write a config template, register a module with the queue."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every failure into one line on stderr and a documented exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="sosqueue", standalone_mode=False)
        flush_stdout()
        return result if isinstance(result, int) else ExitCode.OK
    except (BrokenPipeError, StdoutClosed):  # the reader of stdout has read enough (| head -1)
        silence_stdout()
        return ExitCode.OK
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
