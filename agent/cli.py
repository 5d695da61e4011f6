"""The support module's command line: customers double-click it; IT and scripts pass options."""

import argparse
import json
import logging
import sys
from pathlib import Path

from agent import __version__
from agent.errors import AgentError, AgentExit, InvalidOption, MissingField, Unreachable
from sosqueue.events import MAX_NOTE_CHARS
from sosqueue.pipes import flush_stdout, silence_stdout

log = logging.getLogger("sosqueue.agent")

CONFIRM_OPTION = "--confirm-start"  # agent.update.install passes it to the agent it restarts into
EXIT_CODES = f"""exit codes:
  {AgentExit.OK}   done
  {AgentExit.ERROR}   unexpected error (details in the log file)
  {AgentExit.USAGE}   wrong usage, or a required field is missing (--no-gui)
  {AgentExit.DAMAGED_MODULE}   the support module is damaged (download it again), its configuration was changed
      (ask for a new one), or this is the unbranded base agent
  {AgentExit.QUEUED}   the request is saved and is sent when the support server is reachable
  {AgentExit.REVOKED}   the support module was switched off on the server
  {AgentExit.REJECTED}   the support server refused the request
  {AgentExit.NO_DISPLAY}   no display for the window
  {AgentExit.STORAGE}   the agent's data folder cannot be written
  {AgentExit.UPDATE_REFUSED}   --update: the update cannot be trusted or does not start; nothing changed
  {AgentExit.UPDATE_FAILED}  --update: the update cannot be fetched or installed now; try again later
  {AgentExit.ABORTED} aborted (Ctrl+C)

A closed pipe on stdout (… | head -1) is not an error: the agent stops writing and exits {AgentExit.OK}."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sosqueue-agent",
        description="Ask for help: files a service request with your support team and shows its session code.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--module", type=Path, metavar="PATH", help="read the module configuration from PATH (when run from source)")
    parser.add_argument("--sos", action="store_true", help="ask for help now (what the SOS desktop button does)")
    parser.add_argument("--tray", action="store_true", help="start quietly in the tray (used at login)")
    parser.add_argument("--code", metavar="CODE", help="join a request a supporter created, e.g. s12-345-678")
    parser.add_argument("--no-gui", action="store_true", help="no window: print the session code on stdout (with --sos or --code)")
    parser.add_argument("--description", default="",
                        help="the problem, with --no-gui; while your request is open it is added to it as a note")
    parser.add_argument("--name", default="", help="your name, with --no-gui")
    parser.add_argument("--email", default="", help="your email, with --no-gui")
    parser.add_argument("--topic", default="",
                        help="what it is about, with --no-gui: one of the module's topics (--print-config lists them)")
    parser.add_argument("--install", action="store_true", help="create the SOS shortcut and start-menu entry, then exit")
    parser.add_argument("--all-users", action="store_true", help="with --install/--uninstall: for every user of this computer")
    parser.add_argument("--no-shortcut", action="store_true", help="with --install: no SOS desktop shortcut")
    parser.add_argument("--autostart", action="store_true", help="with --install: start in the tray at login")
    parser.add_argument("--uninstall", action="store_true", help="remove everything the agent created, then exit")
    parser.add_argument("--update", action="store_true",
                        help="look for a newer agent and install it now if IT's policy allows; prints the result")
    parser.add_argument(CONFIRM_OPTION, type=Path, metavar="PATH", help=argparse.SUPPRESS)  # see agent.update.install
    parser.add_argument("--print-config", action="store_true", help="print the module configuration (secrets redacted) as JSON")
    parser.add_argument("--version", action="version", version=f"sosqueue-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from agent.logs import setup_logging

    setup_logging(verbose=args.verbose)
    try:
        exit_code = _dispatch(args)
        flush_stdout()
        return exit_code
    except BrokenPipeError:  # the reader of stdout has read enough (| head -1)
        silence_stdout()
        return AgentExit.OK
    except KeyboardInterrupt:
        print("Aborted by user.", file=sys.stderr)
        return AgentExit.ABORTED
    except AgentError as error:
        log.error("%s", error)
        print(str(error), file=sys.stderr)
        if not args.no_gui and _wants_window(args):
            _show_error_dialog(str(error))
        return error.exit_code
    except Exception:
        log.exception("unexpected error")
        from agent.logs import log_file

        print(f"Something went wrong; details are in {log_file()}", file=sys.stderr)
        return AgentExit.ERROR


def _wants_window(args) -> bool:
    return not (args.install or args.uninstall or args.print_config or args.update)


def _dispatch(args) -> int:
    from agent import module

    config = module.load(args.module)
    if args.print_config:
        print(json.dumps(config.redacted(), indent=2))
        return AgentExit.OK
    if args.install or args.uninstall:
        from agent.setup import install, uninstall

        if args.uninstall:
            for item in uninstall(config, all_users=args.all_users):
                print(f"removed {item}")
            from agent.logs import log_file

            print(f"kept on purpose: the agent's log, {log_file()} (delete it once you no longer need it)", file=sys.stderr)
        else:
            for item in install(config, module.launch_command(args.module), all_users=args.all_users,
                                shortcut=not args.no_shortcut, autostart=args.autostart):
                print(item)
        return AgentExit.OK
    if args.update:
        return _update(config)
    if args.no_gui:
        return _file_without_window(config, args)
    from agent.app import run_app

    mode = "tray" if args.tray else "sos" if args.sos else "open"
    return run_app(config, mode=mode, code=args.code, launch=module.launch_command(args.module),
                   confirm_start=args.confirm_start)


def _update(config) -> int:
    """``--update``: check and install now (no restart: this is not the running agent); one line on stdout."""
    from agent.update import Outcome, make_updater

    result = make_updater(config).check(retry_failed=True)
    line = result.line
    if result.outcome in (Outcome.UPDATED, Outcome.INSTALLED):
        line += "; " + _tell_running_agent(config)
    print(line)
    return AgentExit.OK


def _tell_running_agent(config) -> str:
    """Ask a running agent to restart into the new file when idle; what happens, in words."""
    from agent.instance import InstanceError, SingleInstance

    instance = SingleInstance(config.module_id)
    if instance.acquire():
        instance.release()
        return "it runs from the next start"
    try:
        instance.send("update")
    except InstanceError:
        return "the running support module uses it from its next start"
    return "the running support module switches to it when it is idle"


def _file_without_window(config, args) -> int:
    """For remote-management tools: file (or join) and print the session code on stdout."""
    from agent.request import NO_WINDOW_RETRY, HelpRequest, request_body
    from agent.runtime import make_desk

    request = HelpRequest(make_desk(config))
    if args.sos:
        request.source = "sos"
    if args.code:
        ticket = request.join_now(args.code)
    else:
        ticket = request.open_now()
        if ticket is not None:
            _add_note(request, args.description)
        else:
            from agent.diagnostics import collect

            _require_fields(config, args)
            body = request_body(description=args.description, name=args.name, email=args.email,
                                diagnostics=collect() if config.options.diagnostics else None,
                                topic=_topic(config, args.topic))
            try:
                ticket = request.file_now(
                    body, policy=NO_WINDOW_RETRY,
                    on_retry=lambda error, delay: print(f"{error} Retrying in {delay:.0f} s…", file=sys.stderr),
                )
            except Unreachable as error:
                raise Unreachable(
                    f"{error} Your request is saved and will be sent when the support server is reachable "
                    "(the next time the support module runs)."
                ) from None
    print(ticket.code)
    return AgentExit.OK


def _add_note(request, description: str) -> None:
    """A second SOS while the request is open: its description is added to that request as a note
    (after the notes an earlier run could not deliver)."""
    text = description.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidOption(f"Your request is open; a note to it takes at most {MAX_NOTE_CHARS} characters: "
                            "shorten --description.")
    if not text and not request.desk.notes.pending():
        return
    try:
        added = request.add_note_now(
            text, on_retry=lambda error, delay: print(f"{error} Retrying in {delay:.0f} s…", file=sys.stderr))
    except Unreachable as error:
        if text:
            print(f"{error} Your description is saved and will be added to your open request when the support "
                  "server is reachable (the next time the support module runs).", file=sys.stderr)
        return
    if added:
        print("Your request is already open; your description was added to it as a note.", file=sys.stderr)
    elif text:
        print("Your request was closed meanwhile; your description was not added (it is kept in the "
              "agent's outbox/notes/rejected folder).", file=sys.stderr)


def _require_fields(config, args) -> None:
    """The fields the module makes required must be given, as the window would insist.

    A module that files at once asks for no description first: it can follow as a note.
    """
    for field in ("description", "name", "email"):
        if field == "description" and config.options.file_immediately:
            continue
        if getattr(config.options.fields, field) == "required" and not getattr(args, field).strip():
            raise MissingField(f"This support module asks for your {field}: pass --{field} TEXT.")


def _topic(config, given: str) -> str:
    """The module's topic ``given`` names (in the module's spelling), as the window asks for one: required
    when the module offers topics, unless it files at once."""
    labels = [topic.label for topic in config.options.topics]
    given = given.strip()
    if not labels:
        if given:
            raise InvalidOption("This support module offers no topics: leave out --topic.")
        return ""
    if not given:
        if config.options.file_immediately:
            return ""
        raise MissingField(f"This support module asks what it is about: pass --topic with one of: {', '.join(labels)}.")
    chosen = next((label for label in labels if label.casefold() == given.casefold()), None)
    if chosen is None:
        raise InvalidOption(f"--topic {given!r} is not one of this module's topics: {', '.join(labels)}.")
    return chosen


def _show_error_dialog(message: str) -> None:
    try:
        from agent.ui.dialogs import show_error

        show_error(message)
    except Exception:  # no display or no tkinter: stderr and the log already have it
        log.debug("could not show the error dialog", exc_info=True)
