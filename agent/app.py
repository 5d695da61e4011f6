"""The agent with a window: one instance, first-run setup, the help window, the tray, the request's life.

:class:`HelpApp` presents the request model (:class:`agent.request.HelpRequest`): the model
decides what happens to the request; the app shows it in the window and the tray and turns the
customer's clicks into the model's calls. Tk and everything that touches a widget stay on the
main thread; the model's background work hands its results back through :class:`agent.ui.UiQueue`.
Once the request is open the app keeps its session channel (:mod:`agent.connect`) open: that
socket is the customer's presence, and it carries consent, screen frames and chat. Quitting stops
any sharing, closes the channel, leaves the request's session and stops the tray; nothing is left
running that could keep the process alive.
"""

import gc
import logging
import queue
import signal
from pathlib import Path

from agent.brand import BrandChecks, brand_at_start, make_refresher
from agent.client import Ticket
from agent.desk import HelpDesk
from agent.diagnostics import collect
from agent.errors import AgentError, AgentExit, ModuleRevoked, Rejected, StorageFailure, Unreachable
from agent.i18n import _, use_language
from agent.instance import InstanceError, SingleInstance
from agent.request import LEAVE_TIMEOUT, Event, HelpRequest, Presenter, State, request_body
from agent.runtime import make_desk
from agent.state_hooks import StateHooks
from agent.ui import STATUS_TEXTS, FormValues, UiQueue, WindowActions, create_root, normalise_code
from sosqueue.brand_refresh import POLL_SECONDS
from sosqueue.events import MAX_NOTE_CHARS
from sosqueue.module_config import ModuleConfig
from sosqueue.problem_codes import ALREADY_CLAIMED
from sosqueue.statuses import Progress, Status
from sosqueue.waiting_room import WaitingRoom
from sosqueue.window_layout import POSITION_TEXT

log = logging.getLogger("sosqueue.agent")

#: The tray's picture for what the window shows as the request's status (anything else: idle).
TRAY_STATES = {Status.NEW: "waiting", Status.PENDING: "waiting", Status.IN_PROGRESS: "connected",
               Progress.SENDING: "waiting", Progress.OFFLINE: "waiting"}
#: Statuses the tray announces while the window is hidden.
NOTIFIED = frozenset({Status.IN_PROGRESS, Status.CLOSED, Status.EXPIRED})
TRAY_DELAY_MS = 150


def run_app(config: ModuleConfig, *, mode: str = "open", code: str | None = None, launch: list[str] = (),
            confirm_start: Path | None = None) -> int:
    """Run the agent with its window until the customer quits; returns the exit code.

    :param mode: ``open`` (the module was opened), ``sos`` (the SOS shortcut) or ``tray`` (login).
    :param code: a session code a supporter gave the customer, to join instead of filing.
    :param launch: the command that starts this agent again (for the shortcuts of the first run).
    :param confirm_start: a file to create once this agent runs (the agent that restarted into
        this one after an update waits for it).
    :raises agent.errors.NoDisplay: when there is no display for the window.
    """
    use_language(config.brand.language)
    wish = f"code:{code.strip()}" if code else mode
    instance = SingleInstance(config.module_id)
    if not instance.acquire():
        return _hand_over(instance, wish)
    try:
        messages: queue.SimpleQueue[str] = queue.SimpleQueue()
        instance.listen(messages.put)
        root = create_root()
        root.withdraw()
        _first_run(config, launch)
        app = HelpApp(root, config, make_desk(config), messages=messages, confirm_start=confirm_start)
        exit_code = app.run(wish)
    finally:
        instance.release()
    after_quit, app, root = app.after_quit, None, None
    # The app and its Tk root are in reference cycles: collect them here, on Tk's thread. A
    # collection that another thread (the tray's, an update check's) happened to run would
    # delete Tk there, and Tk aborts the process when that happens.
    gc.collect()
    if after_quit is not None:  # the restart into an update: only once the lock is free
        after_quit()
    return exit_code


def _hand_over(instance: SingleInstance, wish: str) -> int:
    try:
        instance.send(wish)
    except InstanceError as error:
        log.error("%s", error)
        raise AgentError(_("The support module is already running but does not respond. "
                           "Restart your computer if this happens again.")) from None
    log.info("the support module already runs; handed it %r", wish)
    return AgentExit.OK


def _first_run(config: ModuleConfig, launch: list[str]) -> None:
    """The SOS shortcut, start-menu entry and autostart, once; a failure never stops asking for help."""
    try:
        from agent.setup import first_run
    except ImportError as error:
        log.info("no first-run setup here: %s", error)
        return
    try:
        if first_run(config, list(launch)):
            log.info("first-run setup done")
    except Exception:
        log.exception("first-run setup failed; the help window opens anyway")


def describe(error: Exception, *, joining: bool = False) -> str:
    """An error in the customer's language (``joining``: it came from joining by session code)."""
    if isinstance(error, ModuleRevoked):
        return _("This support module has been switched off — ask your IT for a new one.")
    if isinstance(error, Rejected) and joining and error.status == 404:
        return _("There is no request with this code. Check the code and try again.")
    if isinstance(error, Rejected) and joining and error.code == ALREADY_CLAIMED:
        return _("This code was already used on another computer. Ask your supporter for a new code.")
    if isinstance(error, Rejected) and joining and error.status == 409:
        return _("This request is already closed. Ask your supporter for a new code.")
    if isinstance(error, Rejected):
        return _("The support server did not accept the request ({detail}).").format(detail=error.message)
    if isinstance(error, StorageFailure):
        return _("Your request could not be saved on this computer. Free some disk space or ask your IT.") + \
            f"\n({error.message})"
    if isinstance(error, Unreachable):
        return _("The support server cannot be reached. Check your internet connection and try again.")
    return str(error)


class HelpApp(Presenter):
    """The customer's side of one module in the window and tray: the presenter of its :class:`HelpRequest`."""

    def __init__(self, root, config: ModuleConfig, desk: HelpDesk, *, messages: "queue.SimpleQueue[str] | None" = None,
                 confirm_start: Path | None = None, brand_poll_seconds: float = POLL_SECONDS):
        config = brand_at_start(config)
        self.root = root
        self.config = config
        self.desk = desk
        self.messages = messages or queue.SimpleQueue()
        self.ui = UiQueue(root, on_idle=self._on_idle)
        self.request = HelpRequest(desk, self, post=self.ui.call)
        self._window = None  # agent.ui.window.HelpWindow, once something needs it (see window)
        self.session = None  # agent.connect.session.CustomerSession while a request is open
        self.tray = None
        self.exit_code = AgentExit.OK
        self._start_wish = ""
        self._wish_during_start = ""
        self._sent_texts: set[str] = set()  # descriptions filed or added as notes: never sent twice
        self._previous_handlers: dict[int, object] = {}
        self._hooks = StateHooks.from_env()
        self._confirm_start = confirm_start
        self._updates = None  # agent.update.BackgroundChecks, when this module updates itself
        self._pending_update = None  # (updater, result) of an installed update, until idle
        self.update_notice = ""  # for the About box: IT has a newer version
        self._brand_checks = None  # agent.brand.BrandChecks, when this module refreshes its brand
        self._brand_poll_seconds = brand_poll_seconds
        #: What runs after the window is gone and the instance lock released (the restart into an update).
        self.after_quit = None

    @property
    def ticket(self) -> Ticket | None:
        return self.request.ticket

    @property
    def window(self):
        """The help window (:class:`agent.ui.window.HelpWindow`), built the first time it is needed.

        A start in the tray with no request open never needs it: its widgets, fonts and images
        are about 7 MB of an idle agent's memory.
        """
        if self._window is None:
            from agent.ui.window import HelpWindow  # tkinter: only once create_root() has found a display

            self._window = HelpWindow(
                self.root, self.config,
                WindowActions(request_help=self.request_help, join_code=self.join_code,
                              cancel_request=self.cancel_request, close=self.close_window, add_note=self.add_note),
                diagnostics=collect() if self.config.options.diagnostics else None,
            )
        return self._window

    def _window_visible(self) -> bool:
        """Whether the help window is on screen (without building it)."""
        return self._window is not None and self._window.is_visible()

    # -- life ----------------------------------------------------------------------------------

    def run(self, wish: str) -> int:
        """Start, handle ``wish`` (``open``/``sos``/``tray``/``code:…``), and run until quit."""
        self.ui.start()
        self._catch_signals()
        self._start(wish)
        # The tray loads its toolkit after the window is on screen: the code comes first.
        self.root.after(TRAY_DELAY_MS, self._start_tray)
        self._start_updates()
        self._start_brand_refresh()
        try:
            self.root.mainloop()
        finally:
            self._release_signals()
        return self.exit_code

    def quit(self) -> None:
        """Leave the request's session, stop the tray and the window."""
        if self.request.state == State.QUITTING:
            return
        log.info("quitting")
        if self._updates is not None:
            self._updates.stop()
        if self._brand_checks is not None:
            self._brand_checks.stop()
        self.request.quit()
        if self.tray:
            try:
                self.tray.stop()
            except Exception:
                log.exception("could not stop the tray icon")
        self.ui.stop()
        self.root.quit()
        self.root.destroy()

    def _start(self, wish: str) -> None:
        if wish == "sos":
            self.request.source = "sos"
        self._start_wish = wish
        self.request.start()

    def settled(self) -> None:
        self._on_wish(self._wish_during_start or self._start_wish)

    # -- what the customer wants ---------------------------------------------------------------

    def _on_wish(self, wish: str) -> None:
        """A start (this one or a later one) asked for ``wish``."""
        if wish == "sos":
            self.request.source = "sos"
        if self.request.state == State.STARTING:  # still asking the queue about the remembered request
            if wish != "tray":
                self._wish_during_start = wish
            return
        if self.request.busy:
            self._after_wish(wish)
        elif wish.startswith("code:"):
            self._join_typed_code(wish.removeprefix("code:"))
        elif wish == "tray":
            self._update_tray()
        elif self.config.options.file_immediately:
            self._file(self._immediate_values())
            self.window.bring_forward()
        else:
            self.window.show_form(clear=self.request.state == State.FINAL)
            self.request.form_shown()
            self.window.bring_forward()
        self._update_tray()

    def _after_wish(self, wish: str) -> None:
        """There is a request already: one click, one request — show it (and keep the customer's new words)."""
        if wish == "tray":
            return
        self.window.bring_forward()
        if wish == "sos" and self.request.state == State.OPEN:
            self._note_from_form()
        if wish.startswith("code:") and self.ticket and self._code_differs(wish):
            self.window.show_notice(_("You already have an open request. Cancel it to join another session."))

    def _code_differs(self, wish: str) -> bool:
        return normalise_code(wish.removeprefix("code:")) != self.ticket.code

    def _immediate_values(self) -> FormValues:
        # Filed without a form, so the customer never saw the diagnostics: none are sent. What they
        # typed into a form on screen is their words, though.
        on_form = self._window is not None and self._window.view == "form"  # else built after the request is on its way
        return FormValues(description=self._form_description() if on_form else "")

    def _form_description(self) -> str:
        field = self.window.fields.get("description")
        return field.text() if field is not None else ""

    def _note_from_form(self) -> None:
        """A second SOS while the request is open: the form's description not sent yet becomes a note."""
        text = self._form_description()
        if text and text not in self._sent_texts:
            self.add_note(text)

    def add_note(self, text: str) -> bool:
        """Add ``text`` to the open request as a note (saved first, then delivered); False when it cannot be.

        The hook for the window: anything that lets the customer add to an open request calls this.
        """
        text = text.strip()
        if not text or self.request.state != State.OPEN:
            return False
        if len(text) > MAX_NOTE_CHARS:
            self.window.show_notice(_("A note can hold {count} characters at most; please shorten it.")
                                    .format(count=MAX_NOTE_CHARS))
            return False
        try:
            self.request.add_note(text)
        except StorageFailure as error:
            self.window.show_notice(describe(error))
            return False
        self._sent_texts.add(text)
        return True

    def request_help(self, values: FormValues) -> None:
        """The form was sent: file the request (outbox first), then deliver it."""
        if not self.request.can(Event.FILE):
            self.window.bring_forward()
            return
        self._file(values)

    def _file(self, values: FormValues) -> None:
        body = request_body(description=values.description, name=values.name, email=values.email,
                            diagnostics=values.diagnostics, topic=values.topic)
        try:
            self.request.file(body)
        except StorageFailure as error:
            self.window.show_form_error(describe(error))
            return
        self.window.show_topic(values.topic)
        self._sent_texts.add(values.description)

    def join_code(self, code: str) -> None:
        """The customer typed the code a supporter gave them: claim that request and join it."""
        if not self.request.can(Event.JOIN):
            self.window.bring_forward()
            return
        self.request.join(code)
        self.window.set_busy(True, _("Connecting…"))

    def _join_typed_code(self, text: str) -> None:
        self.window.show_form()
        self.window.bring_forward()
        code = normalise_code(text)
        if code is None:
            self.window.show_form_error(_("A session code looks like s12-345-678."))
            return
        self.join_code(code)

    def cancel_request(self) -> None:
        """The customer confirmed: close the request (or drop it from the outbox if not sent yet)."""
        self.request.cancel()

    def close_window(self) -> None:
        """Escape or the close button: hide to the tray when one is shown, else quit."""
        if self.tray is not None and getattr(self.tray, "backend_name", "") != "dummy":
            self.window.hide()
        else:
            self.quit()

    # -- what the request model reports --------------------------------------------------------

    def show_sending(self) -> None:
        self.window.show_request(Progress.SENDING)
        self._update_tray()

    def show_offline(self) -> None:
        self.window.set_status(Progress.OFFLINE)
        self._update_tray()

    def show_refusal(self, error: AgentError, *, joining: bool) -> None:
        self.window.show_form_error(describe(error, joining=joining))
        if not joining:
            self.window.bring_forward()
            self._update_tray()

    def show_withdrawn(self) -> None:
        self.window.show_form()
        self._update_tray()

    def show_cancel_failure(self, error: AgentError) -> None:
        self.window.show_notice(_("Cancelling did not work: {reason}").format(reason=describe(error)))

    def show_opened(self, ticket: Ticket) -> None:
        self.window.show_request(ticket.status, ticket.code)
        self.window.show_topic(ticket.topic)
        self.window.show_waiting_room(None)  # until the queue says where this request stands
        self._open_session(ticket)
        self._update_tray()

    def show_status(self, status: str, previous: str) -> None:
        self.window.set_status(status)
        self._update_tray()
        if status != previous:
            self._notify(status)

    def show_waiting_room(self, room: WaitingRoom) -> None:
        self.window.show_waiting_room(room)
        self._update_tray()

    def show_note(self, delivered: bool) -> None:
        if delivered:
            self.window.show_notice(_("Your words were added to your request."))
        else:
            self.window.show_notice(_("You are offline — your words are saved and will be added to your "
                                      "request automatically."))

    def end_session(self, *, wait: bool) -> None:
        """Stop sharing at once, then close the channel (in the background unless ``wait``)."""
        session, self.session = self.session, None
        if session is None:
            return
        session.close(wait=LEAVE_TIMEOUT if wait else None)

    # -- the request's session -----------------------------------------------------------------

    def _open_session(self, ticket: Ticket) -> None:
        """The session channel of the open request: the customer's presence, consent, sharing, chat."""
        if self.session is not None and self.session.code == ticket.code:
            return
        self.end_session(wait=False)
        from agent.connect.session import CustomerSession
        from agent.ui.session_view import TkSessionView

        self.window.chat.clear()
        view = TkSessionView(self.root, self.config, self.window.chat)
        session = CustomerSession(view, self.ui, self.config, ticket,
                                  on_channel=lambda state: self._channel_changed(session, state))
        self.session = session
        session.start()

    def _channel_changed(self, session, state: str) -> None:
        if session is not self.session or self.request.state != State.OPEN:
            return
        self.window.set_connection(state)
        if state == "connected":
            self.window.show_chat()
            if self._brand_checks is not None:  # back online: the brand may have changed meanwhile
                self._brand_checks.wake()

    def _notify(self, status: str) -> None:
        if self.tray is None or self._window_visible() or status not in NOTIFIED:
            return
        try:
            self.tray.notify(self.config.brand.product, _(STATUS_TEXTS[status]))
        except Exception:
            log.debug("the tray could not notify", exc_info=True)

    # -- tray, signals, hooks ------------------------------------------------------------------

    def _start_tray(self) -> None:
        if self.request.state == State.QUITTING:
            return
        self.tray = self._make_tray()
        self._update_tray()
        self._confirm_started()

    def _make_tray(self):
        try:
            from agent.tray import TrayActions, create_tray
        except ImportError as error:
            log.warning("no tray icon (%s); closing the window quits", error)
            return None
        actions = TrayActions(
            request_help=lambda: self.ui.call(self._on_wish, "open"),
            show_request=lambda: self.ui.call(self.window.bring_forward),
            cancel_request=lambda: self.ui.call(self._cancel_from_tray),
            about=lambda: self.ui.call(self._about),
            quit=lambda: self.ui.call(self.quit),
        )
        try:
            tray = create_tray(self.config, actions, translate=_, tk_root=self.root)
            tray.start()
        except Exception:
            log.exception("the tray icon could not start; closing the window quits")
            return None
        return tray

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        status = self.window.status if self.request.state in (State.FILING, State.OPEN) else ""
        try:
            self.tray.set_state(TRAY_STATES.get(status, "idle"), code=self.ticket.code if self.ticket else None,
                                status_text=self._tray_status_text(status))
        except Exception:
            log.exception("could not update the tray icon")

    def _tray_status_text(self, status: str) -> str:
        """The status in words, and the request's place in the queue once the queue has said."""
        words = [_(STATUS_TEXTS[status])] if status in STATUS_TEXTS else []
        room = self.request.waiting_room if self.request.state == State.OPEN else None
        if words and room is not None and room.position is not None:
            words.append(_(POSITION_TEXT).format(position=room.position))
        return " ".join(words)

    def _cancel_from_tray(self) -> None:
        if self.request.state in (State.FILING, State.OPEN):
            self.window.bring_forward()
            self.window.confirm_cancel(lambda yes: self.cancel_request() if yes else None)

    def _about(self) -> None:
        from agent.ui.dialogs import show_about

        self.window  # the About box shows the window's logo (agent.ui.dialogs.LOGO_IMAGE)
        brand = self.config.brand
        show_about(self.root, product=brand.product, company=brand.company, server_url=self.config.server_url,
                   notice=self.update_notice)

    # -- the brand -----------------------------------------------------------------------------

    def _start_brand_refresh(self) -> None:
        """Keep the brand current from the queue in the background (at start, on reconnect, while shown)."""
        if not self.config.update_key:
            log.info("this module carries no key of its queue: its brand is not refreshed, the stamped one stands")
            return
        refresher = make_refresher(self.config, lambda config: self.ui.call(self._apply_brand, config))
        self._brand_checks = BrandChecks(refresher.check, interval=self._brand_poll_seconds)
        self._brand_checks.start()

    def _apply_brand(self, config: ModuleConfig) -> None:
        """A newer brand from the queue: the window and the tray show it from now on."""
        if self.request.state == State.QUITTING:
            return
        self.config = config
        if self._window is not None:  # else it is built in this brand
            self._window.apply_brand(config)
        if self.tray is not None:
            try:
                self.tray.apply_brand(config)
            except Exception:
                log.exception("the tray icon could not take the new brand")

    # -- updates -------------------------------------------------------------------------------

    def _start_updates(self) -> None:
        """Check for a newer agent in the background, if this module updates itself at all."""
        if not self.config.update_key:
            return
        from agent.update import BackgroundChecks, make_updater

        updater = make_updater(self.config)
        self._updates = BackgroundChecks(lambda: self._check_for_update(updater))
        self._updates.start()

    def _check_for_update(self, updater) -> None:
        """In the update thread: hand what the check found to the main thread."""
        from agent.update import Outcome, check_once

        result = check_once(updater)
        if result is None:
            return
        if result.outcome is Outcome.AVAILABLE and updater.should_announce(result.offer):
            self.ui.call(self._announce_update, result.offer.version)
        elif result.swap is not None:
            self.ui.call(self._restart_when_idle, updater, result)

    def _announce_update(self, version: str) -> None:
        self.update_notice = _("A newer version of this support module ({version}) is available. "
                               "Your IT department installs it.").format(version=version)
        if self.tray is None:
            return
        try:
            self.tray.notify(self.config.brand.product, self.update_notice)
        except Exception:
            log.debug("the tray could not notify", exc_info=True)

    def _restart_when_idle(self, updater, result) -> None:
        self._pending_update = (updater, result)
        log.info("version %s is installed; restarting into it when no request is open", result.offer.version)

    def _is_idle(self) -> bool:
        """No request on its way or open, no session, and the window is not in the customer's way."""
        return (self.request.state in (State.IDLE, State.FINAL) and self.session is None
                and not self._window_visible())

    def _restart_if_idle(self) -> None:
        if self._pending_update is None or not self._is_idle():
            return
        updater, result = self._pending_update
        self._pending_update = None
        self.after_quit = lambda: updater.restart(result.swap, result.offer)
        self.quit()

    def _confirm_started(self) -> None:
        """Tell the agent that restarted into this one (after an update) that it runs."""
        if self._confirm_start is None:
            return
        try:
            self._confirm_start.touch()
            log.info("started after an update; told the previous agent")
        except OSError as error:
            log.warning("cannot confirm the start to the previous agent (%s)", error.strerror or error)
        self._confirm_start = None

    def _catch_signals(self) -> None:
        """SIGTERM (logout) and Ctrl+C quit like the tray's Quit: the session is left."""
        def stop(signum, frame) -> None:
            self.exit_code = AgentExit.ABORTED if signum == signal.SIGINT else AgentExit.OK
            self.ui.call(self.quit)

        for name in ("SIGTERM", "SIGINT"):
            if hasattr(signal, name):
                number = getattr(signal, name)
                self._previous_handlers[number] = signal.signal(number, stop)

    def _release_signals(self) -> None:
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers.clear()

    def _on_idle(self) -> None:
        while True:
            try:
                wish = self.messages.get_nowait()
            except queue.Empty:
                break
            if wish == "update":  # --update installed a new agent
                if self._updates is not None:
                    self._updates.wake()
                continue
            self._on_wish(wish)
        if self._brand_checks is not None:
            self._brand_checks.poll(self._window_visible())
        if self._hooks:
            self.root.update_idletasks()  # the report shows the window laid out, not half-way through a change
            self._hooks.record(self)
        self._restart_if_idle()
