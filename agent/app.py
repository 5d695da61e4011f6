"""The agent with a window: one instance, first-run setup, the help window, the tray, the request's life.

Threads: Tk and everything that touches a widget stay on the main thread. Filing, delivering,
following and leaving run in daemon threads that hand their results back through
:class:`agent.ui.UiQueue`. Once the request is open the agent keeps its session channel
(:mod:`agent.connect`) open: that socket is the customer's presence, and it carries consent,
screen frames and chat. Quitting stops any sharing, closes the channel, leaves the request's
session and stops the tray; nothing is left running that could keep the process alive.
"""

import json
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from agent.client import Ticket
from sosqueue.module_config import ModuleConfig
from agent.desk import HelpDesk
from agent.diagnostics import collect
from agent.errors import AgentError, AgentExit, ModuleRevoked, Rejected, StorageFailure, Unreachable
from agent.i18n import _, use_language
from agent.instance import InstanceError, SingleInstance
from agent.outbox import Submission, backoff_delays
from agent.runtime import make_desk
from agent.ui import STATUS_TEXTS, FormValues, UiQueue, WindowActions, create_root, normalise_code

log = logging.getLogger("sosqueue.agent")

FINAL_STATUSES = ("closed", "expired")
TRAY_STATES = {"new": "waiting", "pending": "waiting", "in_progress": "connected", "sending": "waiting",
               "offline": "waiting"}
STORED_TICKET_GRACE_MS = 500  # show a remembered request at once if the queue is slow to confirm it
LEAVE_TIMEOUT = 5.0
TRAY_DELAY_MS = 150
HOOKS_ENV = "SOSQUEUE_AGENT_TEST_HOOKS"
NO_SESSION = {"channel": "", "consent": "none", "consent_buttons": None, "sharing": False, "frames_sent": 0,
              "experts": [], "chat": [], "sharing_bar": "", "stop_sharing_at": None}


def run_app(config: ModuleConfig, *, mode: str = "open", code: str | None = None, launch: list[str] = ()) -> int:
    """Run the agent with its window until the customer quits; returns the exit code.

    :param mode: ``open`` (the module was opened), ``sos`` (the SOS shortcut) or ``tray`` (login).
    :param code: a session code a supporter gave the customer, to join instead of filing.
    :param launch: the command that starts this agent again (for the shortcuts of the first run).
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
        app = HelpApp(root, config, make_desk(config), messages=messages)
        return app.run(wish)
    finally:
        instance.release()


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


class HelpApp:
    """The customer's side of one module: at most one open request, shown in the window and tray."""

    def __init__(self, root, config: ModuleConfig, desk: HelpDesk, *, messages: "queue.SimpleQueue[str] | None" = None):
        from agent.ui.window import HelpWindow  # tkinter: only once create_root() has found a display

        self.root = root
        self.config = config
        self.desk = desk
        self.messages = messages or queue.SimpleQueue()
        self.ui = UiQueue(root, on_idle=self._on_idle)
        self.window = HelpWindow(
            root, config,
            WindowActions(request_help=self.request_help, join_code=self.join_code,
                          cancel_request=self.cancel_request, close=self.close_window),
            diagnostics=collect() if config.options.diagnostics else None,
        )
        self.state = "starting"  # starting | idle | filing | joining | open | final
        self.source = "module"
        self.ticket: Ticket | None = None
        self.submission: Submission | None = None
        self.delivery: Delivery | None = None
        self.follower: Follower | None = None
        self.session = None  # agent.connect.session.CustomerSession while a request is open
        self.tray = None
        self.exit_code = AgentExit.OK
        self._cancel_on_delivery = False
        self._wish_during_start = ""
        self._previous_handlers: dict[int, object] = {}
        self._hooks = StateHooks.from_env()

    # -- life ----------------------------------------------------------------------------------

    def run(self, wish: str) -> int:
        """Start, handle ``wish`` (``open``/``sos``/``tray``/``code:…``), and run until quit."""
        self.ui.start()
        self._catch_signals()
        self._start(wish)
        # The tray loads its toolkit after the window is on screen: the code comes first.
        self.root.after(TRAY_DELAY_MS, self._start_tray)
        try:
            self.root.mainloop()
        finally:
            self._release_signals()
        return self.exit_code

    def quit(self) -> None:
        """Leave the request's session, stop the tray and the window."""
        if self.state == "quitting":
            return
        log.info("quitting")
        self.state = "quitting"
        if self.follower:
            self.follower.stop()
        if self.delivery:
            self.delivery.stop()
        self._close_session(wait=True)
        if self.ticket:
            # The closed socket alone makes the queue count the customer gone, a moment later;
            # the explicit leave makes it so before this process ends.
            leaving = threading.Thread(target=self.desk.leave, args=(self.ticket,), name="sosqueue-leave", daemon=True)
            leaving.start()
            leaving.join(LEAVE_TIMEOUT)
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
            self.source = "sos"
        pending = self.desk.outbox.pending()
        if pending:  # a click from before that has not reached the queue yet: that is the request
            self._deliver(pending)
            self._after_wish(wish)
            return
        if self.desk.current.load() is None:
            self.state = "idle"
            self._on_wish(wish)
            return
        self._confirm_stored_request(wish)

    def _confirm_stored_request(self, wish: str) -> None:
        """A request remembered from before: ask the queue whether it is still open."""
        stored = self.desk.current.load()
        answered = threading.Event()

        def check() -> None:
            ticket = self.desk.open_request()
            answered.set()
            self.ui.call(confirmed, ticket)

        def confirmed(ticket: Ticket | None) -> None:
            if self.state not in ("starting", "open"):
                return
            wish_now = self._wish_during_start or wish
            if ticket is None:
                self._forget_request()
                self.state = "idle"
                self._on_wish(wish_now)
            elif self.state == "starting":
                self._show_ticket(ticket, follow=True)
                self._after_wish(wish_now)
            else:
                self._status_changed(ticket.code, ticket.status)

        def slow_queue() -> None:
            if not answered.is_set() and self.state == "starting" and stored:
                self._show_ticket(stored, follow=True)
                self._after_wish(self._wish_during_start or wish)

        threading.Thread(target=check, name="sosqueue-check", daemon=True).start()
        self.root.after(STORED_TICKET_GRACE_MS, slow_queue)

    # -- what the customer wants ---------------------------------------------------------------

    def _on_wish(self, wish: str) -> None:
        """A start (this one or a later one) asked for ``wish``."""
        if wish == "sos":
            self.source = "sos"
        if self.state == "starting":  # still asking the queue about the remembered request
            if wish != "tray":
                self._wish_during_start = wish
            return
        if self.state in ("filing", "joining", "open"):
            self._after_wish(wish)
        elif wish.startswith("code:"):
            self._join_typed_code(wish.removeprefix("code:"))
        elif wish == "tray":
            self._update_tray()
        elif self.config.options.file_immediately:
            self._file(self._immediate_values())
            self.window.bring_forward()
        else:
            self.window.show_form(clear=self.state == "final")
            self.state = "idle"
            self.window.bring_forward()
        self._update_tray()

    def _after_wish(self, wish: str) -> None:
        """There is a request already: one click, one request — show it."""
        if wish == "tray":
            return
        self.window.bring_forward()
        if wish.startswith("code:") and self.ticket and self._code_differs(wish):
            self.window.show_notice(_("You already have an open request. Cancel it to join another session."))

    def _code_differs(self, wish: str) -> bool:
        return normalise_code(wish.removeprefix("code:")) != self.ticket.code

    def _immediate_values(self) -> FormValues:
        # Filed without a form, so the customer never saw the diagnostics: none are sent.
        return FormValues()

    def request_help(self, values: FormValues) -> None:
        """The form was sent: file the request (outbox first), then deliver it."""
        if self.state in ("filing", "open", "joining", "quitting"):
            self.window.bring_forward()
            return
        self._file(values)

    def _file(self, values: FormValues) -> None:
        body: dict = {"description": values.description,
                      "end_customer": {"name": values.name, "email": values.email}}
        if values.diagnostics:
            body["diagnostics"] = values.diagnostics
        try:
            submission = self.desk.submit(body, source=self.source)
        except StorageFailure as error:
            self.window.show_form_error(describe(error))
            return
        self._deliver([submission])

    def _deliver(self, submissions: list[Submission]) -> None:
        self.state = "filing"
        self.submission = submissions[-1]
        self.window.show_request("sending")
        self._update_tray()
        self.delivery = Delivery(
            self.desk, submissions,
            on_delivered=lambda submission, ticket: self.ui.call(self._delivered, submission, ticket),
            on_offline=lambda submission: self.ui.call(self._offline, submission),
            on_failed=lambda submission, error: self.ui.call(self._delivery_failed, submission, error),
        )
        self.delivery.start()

    def _delivered(self, submission: Submission, ticket: Ticket) -> None:
        if self.state != "filing" or submission.key != self.submission.key:
            return  # an older click, or one the customer cancelled meanwhile
        self.submission = None
        self._show_ticket(ticket, follow=True)
        if self._cancel_on_delivery:
            self._cancel_on_delivery = False
            self.cancel_request()

    def _offline(self, submission: Submission) -> None:
        if self.state == "filing" and submission.key == self.submission.key:
            self.window.set_status("offline")
            self._update_tray()

    def _delivery_failed(self, submission: Submission, error: AgentError) -> None:
        if self.state == "filing" and submission.key == self.submission.key:
            self.submission = None
            self.state = "idle"
            self.window.show_form_error(describe(error))
            self.window.bring_forward()
            self._update_tray()

    def join_code(self, code: str) -> None:
        """The customer typed the code a supporter gave them: claim that request and join it."""
        if self.state in ("filing", "open", "joining", "quitting"):
            self.window.bring_forward()
            return
        self.state = "joining"
        self.window.set_busy(True, _("Connecting…"))

        def claim() -> None:
            try:
                ticket = self.desk.claim(code)  # joining is the session channel's job
            except AgentError as error:
                self.ui.call(self._join_failed, error)
                return
            self.ui.call(self._show_ticket, ticket, True)

        threading.Thread(target=claim, name="sosqueue-claim", daemon=True).start()

    def _join_typed_code(self, text: str) -> None:
        self.window.show_form()
        self.window.bring_forward()
        code = normalise_code(text)
        if code is None:
            self.window.show_form_error(_("A session code looks like s12-345-678."))
            return
        self.join_code(code)

    def _join_failed(self, error: AgentError) -> None:
        if self.state == "joining":
            self.state = "idle"
            self.window.show_form_error(describe(error, joining=True))

    def cancel_request(self) -> None:
        """The customer confirmed: close the request (or drop it from the outbox if not sent yet)."""
        if self.state == "filing" and self.submission:
            if not self.delivery.cancel(self.submission):
                self._cancel_on_delivery = True  # it reached the queue this very moment
                return
            log.info("the customer cancelled request %s before it was delivered", self.submission.key)
            self.submission = None
            self.state = "idle"
            self.window.show_form()
            self._update_tray()
            return
        ticket = self.ticket
        if self.state != "open" or ticket is None:
            return

        def close() -> None:
            try:
                self.desk.cancel(ticket)
            except AgentError as error:
                self.ui.call(self.window.show_notice,
                             _("Cancelling did not work: {reason}").format(reason=describe(error)))
                return
            self.ui.call(self._status_changed, ticket.code, "closed")

        threading.Thread(target=close, name="sosqueue-cancel", daemon=True).start()

    def close_window(self) -> None:
        """Escape or the close button: hide to the tray when one is shown, else quit."""
        if self.tray is not None and getattr(self.tray, "backend_name", "") != "dummy":
            self.window.hide()
        else:
            self.quit()

    # -- the request ---------------------------------------------------------------------------

    def _show_ticket(self, ticket: Ticket, follow: bool) -> None:
        self.ticket = ticket
        self.state = "open"
        self.window.show_request(ticket.status, ticket.code)
        if follow:
            if self.follower:
                self.follower.stop()
            self.follower = Follower(
                self.desk, ticket, on_status=lambda status: self.ui.call(self._status_changed, ticket.code, status),
            )
            self.follower.start()
        self._open_session(ticket)
        self._update_tray()

    def _open_session(self, ticket: Ticket) -> None:
        """The session channel of the open request: the customer's presence, consent, sharing, chat."""
        if self.session is not None and self.session.code == ticket.code:
            return
        self._close_session()
        from agent.connect.session import CustomerSession
        from agent.ui.session_view import TkSessionView

        self.window.chat.clear()
        view = TkSessionView(self.root, self.config, self.window.chat)
        session = CustomerSession(view, self.ui, self.config, ticket,
                                  on_channel=lambda state: self._channel_changed(session, state))
        self.session = session
        session.start()

    def _channel_changed(self, session, state: str) -> None:
        if session is not self.session or self.state != "open":
            return
        self.window.set_connection(state)
        if state == "connected":
            self.window.show_chat()

    def _close_session(self, *, wait: bool = False) -> None:
        """Stop sharing at once, then close the channel (in the background unless ``wait``)."""
        session, self.session = self.session, None
        if session is None:
            return
        session.close(wait=LEAVE_TIMEOUT if wait else None)

    def _status_changed(self, code: str, status: str) -> None:
        if self.ticket is None or self.ticket.code != code or self.state != "open":
            return
        previous = self.ticket.status
        self.ticket = Ticket(self.ticket.code, self.ticket.customer_token, status)
        self.window.set_status(status)
        if status in FINAL_STATUSES:
            self._forget_request()
            self.state = "final"
        self._update_tray()
        if status != previous:
            self._notify(status)

    def _forget_request(self) -> None:
        if self.follower:
            self.follower.stop()
            self.follower = None
        self._close_session()
        self.desk.current.clear()
        self.ticket = None

    def _notify(self, status: str) -> None:
        if self.tray is None or self.window.is_visible() or status not in ("in_progress", "closed", "expired"):
            return
        try:
            self.tray.notify(self.config.brand.product, _(STATUS_TEXTS[status]))
        except Exception:
            log.debug("the tray could not notify", exc_info=True)

    # -- tray, signals, hooks ------------------------------------------------------------------

    def _start_tray(self) -> None:
        if self.state == "quitting":
            return
        self.tray = self._make_tray()
        self._update_tray()

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
        status = self.window.status if self.state in ("filing", "open") else ""
        try:
            self.tray.set_state(TRAY_STATES.get(status, "idle"), code=self.ticket.code if self.ticket else None,
                                status_text=_(STATUS_TEXTS[status]) if status in STATUS_TEXTS else "")
        except Exception:
            log.exception("could not update the tray icon")

    def _cancel_from_tray(self) -> None:
        if self.state in ("filing", "open"):
            self.window.bring_forward()
            self.window.confirm_cancel(lambda yes: self.cancel_request() if yes else None)

    def _about(self) -> None:
        from agent.ui.dialogs import show_about

        brand = self.config.brand
        show_about(self.root, product=brand.product, company=brand.company, server_url=self.config.server_url)

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
            self._on_wish(wish)
        if self._hooks:
            tray = {"tray": getattr(self.tray, "backend_name", ""), "tray_state": getattr(self.tray, "state", "")}
            session = self.session.snapshot() if self.session else NO_SESSION
            self._hooks.write({"state": self.state, **tray, **self.window.snapshot(), "session": session})


class Delivery:
    """Delivers outbox submissions in a daemon thread, retrying with backoff while offline."""

    def __init__(self, desk: HelpDesk, submissions: list[Submission], *,
                 on_delivered: Callable[[Submission, Ticket], None], on_offline: Callable[[Submission], None],
                 on_failed: Callable[[Submission, AgentError], None]):
        self.desk = desk
        self.submissions = list(submissions)
        self.on_delivered, self.on_offline, self.on_failed = on_delivered, on_offline, on_failed
        self._cancelled: set[str] = set()
        self._delivered: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sosqueue-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def cancel(self, submission: Submission) -> bool:
        """Do not send ``submission``; False when it has already reached the queue."""
        with self._lock:
            if submission.key in self._delivered:
                return False
            self._cancelled.add(submission.key)
        self.desk.outbox.done(submission)
        return True

    def _run(self) -> None:
        for submission in self.submissions:
            ticket = self._deliver(submission)
            if ticket is not None:
                self.on_delivered(submission, ticket)

    def _deliver(self, submission: Submission) -> Ticket | None:
        for delay in backoff_delays():
            if self._stop.is_set() or submission.key in self._cancelled:
                return None
            try:
                ticket = self.desk.deliver(submission)
            except Unreachable as error:
                log.info("request %s not delivered (%s); retrying in %.0f s", submission.key, error, delay)
            except (ModuleRevoked, Rejected, StorageFailure) as error:
                log.warning("request %s not delivered: %s", submission.key, error)
                self.on_failed(submission, error)
                return None
            else:
                return self._unless_cancelled(submission, ticket)
            self.on_offline(submission)
            if self._stop.wait(delay):
                return None
        return None

    def _unless_cancelled(self, submission: Submission, ticket: Ticket) -> Ticket | None:
        with self._lock:
            cancelled = submission.key in self._cancelled
            if not cancelled:
                self._delivered.add(submission.key)
        if not cancelled:
            return ticket
        log.info("request %s reached the queue after it was cancelled; closing it", ticket.code)
        try:
            self.desk.cancel(ticket)
        except AgentError as error:
            log.warning("could not close %s: %s", ticket.code, error)
        return None


class Follower:
    """Follows one request's live events in a daemon thread.

    Reconnects with backoff after the stream breaks, resuming after the last event it saw. It only
    watches: the customer's presence is the session channel (:mod:`agent.connect`).
    """

    def __init__(self, desk: HelpDesk, ticket: Ticket, *, on_status: Callable[[str], None]):
        self.desk = desk
        self.ticket = ticket
        self.on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sosqueue-follow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        last_id = None
        delays = backoff_delays(cap=30.0)
        while not self._stop.is_set():
            try:
                for event, event_id, data in self.desk.client.events(self.ticket, last_id):
                    if self._stop.is_set():
                        return
                    delays = backoff_delays(cap=30.0)
                    last_id = event_id or last_id
                    if self._handle(event, data):
                        return
            except Unreachable as error:
                log.info("lost the request's event stream: %s", error)
            except Rejected as error:  # gone from the queue, or no longer ours
                log.info("the queue no longer shows request %s: %s", self.ticket.code, error)
                self.on_status("closed")
                return
            except Exception:
                log.exception("error while following request %s", self.ticket.code)
            self._stop.wait(next(delays))

    def _handle(self, event: str, data: dict) -> bool:
        """Report the status; True when the request is over."""
        status = data.get("status")
        if status:
            self.on_status(status)
        return status in FINAL_STATUSES


class StateHooks:
    """With ``SOSQUEUE_AGENT_TEST_HOOKS=FILE`` the app keeps what the window shows in FILE (JSON).

    For automated tests and IT diagnostics; it holds nothing secret (no tokens).
    """

    def __init__(self, path: Path):
        self.path = path
        self._last = ""

    @classmethod
    def from_env(cls) -> "StateHooks | None":
        value = os.environ.get(HOOKS_ENV)
        return cls(Path(value)) if value else None

    def write(self, state: dict) -> None:
        text = json.dumps({**state, "pid": os.getpid()}, sort_keys=True)
        if text == self._last:
            return
        self._last = text
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            log.debug("cannot write %s: %s", self.path, error)
