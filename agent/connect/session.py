"""The customer's side of a request's session: the channel, the consent, the sharing and the chat.

The session decides; a :class:`SessionView` shows. The Tk UI implements the view
(:class:`agent.ui.session_view.TkSessionView`), so this module needs no window and runs
headless. Everything that touches the view runs on the owner's thread (handed there through
``ui.call``), and nothing there waits for the network: the channel only queues what is sent.
Some messages are handled straight in the channel's thread because they must not wait for
the view: ``ack`` (the next frame may go), ``view_stop`` (capture stops at once),
``control_stop`` (input stops at once) and the expert's input (latency matters).

A ``view_stop`` (or a lost socket) also withdraws the question on screen, and a ``control_stop``
the control question: the answer to a withdrawn question, even one clicked before the view
heard of the stop, starts nothing. Control ends before anything else does, and whoever ends
it stops the :class:`~agent.connect.control.Controller` first: no input follows.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Protocol

from agent import __version__
from agent.client import Ticket
from agent.connect.capture import Capture, create_capture
from agent.connect.channel import SEND_TIMEOUT, SessionChannel, session_url
from agent.connect.control import Controller, Ending, capture_covers_desktop
from agent.connect.frames import Box
from agent.connect.input import InjectionUnavailable, Injector, PermissionMissing, create_injector
from agent.connect.sharing import ACK_TIMEOUT, POLL_SECONDS, Sharer
from agent.i18n import _
from agent.text import short
from sosqueue.connect import CONTROL_SCOPES, INPUT_MESSAGES, TAKE_BACK_LABEL, Message, Scope, StopReason
from sosqueue.module_config import ModuleConfig

log = logging.getLogger("sosqueue.agent.connect")

#: The scopes of the agent's answer to a view_request, and to a control_request.
SCOPES = [Scope.VIEW]
CONTROL_CONSENT_SCOPES = sorted(CONTROL_SCOPES)
CLOSE_WAIT = 5.0


class Consent(StrEnum):
    """Where the customer's consent to viewing (or to control) stands in this session."""

    NONE = "none"  # not asked, or the question was withdrawn
    SHOWN = "shown"  # the question is on screen
    ALLOWED = "allowed"
    DENIED = "denied"


class SessionView(Protocol):
    """What the customer sees of the session. Called on the owner's thread only."""

    def ask_consent(self, expert: str, company: str, on_answer: Callable[[bool], None]) -> None:
        """Ask whether ``expert`` of ``company`` may see the screen; ``on_answer(allowed)`` once, if answered."""

    def asking(self) -> bool:
        """The consent question is on screen and not answered yet."""

    def withdraw_question(self) -> None:
        """Take the consent question away without an answer."""

    def ask_control(self, expert: str, company: str, on_answer: Callable[[bool], None]) -> None:
        """Ask whether ``expert`` of ``company`` may use the mouse and keyboard; ``on_answer(allowed)`` once,
        if answered. It is the question on screen for :meth:`asking` and :meth:`withdraw_question`."""

    def show_sharing_bar(self, on_stop: Callable[[], None]) -> None:
        """Show that the screen is shared; ``on_stop`` once when the customer stops it there."""

    def hide_sharing_bar(self) -> None: ...

    def sharing_bar_shown(self) -> bool: ...

    def show_control(self, expert: str, on_take_back: Callable[[], None]) -> None:
        """Show on the sharing bar that ``expert`` is in control; ``on_take_back`` once when the customer
        takes control back there."""

    def hide_control(self) -> None: ...

    def control_shown(self) -> bool: ...

    def add_message(self, name: str, text: str) -> None:
        """A supporter's chat message (the customer's own are shown by the view when sent)."""

    def add_note(self, text: str) -> None:
        """A line about the session, from nobody (someone joined, sharing stopped)."""

    def set_connected(self, connected: bool) -> None:
        """Whether the customer can chat now."""

    def send_chat_with(self, send: Callable[[str], bool]) -> None:
        """Where the customer's typed messages go; ``send`` returns False when not connected."""

    def snapshot(self) -> dict:
        """What the view shows now, for the state hooks."""


class MainThread(Protocol):
    """Runs a function on the thread that owns the view, soon (:class:`agent.ui.UiQueue` does)."""

    def call(self, function: Callable, *args) -> None: ...


class CustomerSession:
    """One open request's session, from :meth:`start` until :meth:`close`.

    :param view: shows the consent question, the sharing bar and the chat.
    :param ui: runs the session's reactions on the view's thread.
    :param on_channel: told each channel state (``connecting``, ``connected``, ``reconnecting``,
        ``ended``, ``closed``) on the main thread.
    :param open_capture: makes the screen capture once the customer allowed sharing.
    :param open_injector: makes the mouse and keyboard injector when an expert asks for control.
    """

    def __init__(self, view: SessionView, ui: MainThread, config: ModuleConfig, ticket: Ticket, *,
                 on_channel: Callable[[str], None] = lambda state: None,
                 open_capture: Callable[[], Capture] = create_capture,
                 open_injector: Callable[[], Injector] = create_injector,
                 delays: Callable[[], Iterator[float]] | None = None,
                 poll_seconds: float = POLL_SECONDS, ack_timeout: float = ACK_TIMEOUT,
                 send_timeout: float = SEND_TIMEOUT):
        self.view = view
        self.ui = ui
        self.config = config
        self.code = ticket.code
        view.send_chat_with(self.send_chat)
        self.on_channel = on_channel
        self._open_capture = open_capture
        self._open_injector = open_injector
        self._sharer_options = {"poll_seconds": poll_seconds, "ack_timeout": ack_timeout}
        options = {"delays": delays} if delays else {}
        options["send_timeout"] = send_timeout
        url = session_url(config.server_url, ticket.code)
        self.channel = SessionChannel(
            url, ticket.customer_token, on_state=self._on_channel_state, on_message=self._on_message,
            ca_bundle=config.ca_bundle,
            user_agent=f"sosqueue-agent/{__version__}", **options,
        )
        # Guards _sharer, _controller and the withdrawals between the channel's thread and the main one.
        self._lock = threading.Lock()
        self._sharer: Sharer | None = None
        self._withdrawals = 0  # view_stops and lost sockets so far: a question asked before one is withdrawn
        self._control_withdrawals = 0  # the same, and control_stops: for the control question
        self._controller: Controller | None = None  # the controller taking the expert's input
        self._asking_controller: Controller | None = None  # the one started for the question on screen
        self._sharers: list[Sharer] = []  # every sharing period of this session, for the count
        self.consent = Consent.NONE
        self.control = Consent.NONE
        self.in_control = ""  # the name of the expert in control
        self.experts: list[dict] = []
        self._closed = False

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> None:
        self.channel.start()

    def close(self, *, wait: float | None = CLOSE_WAIT) -> None:
        """End control and stop sharing first, then close the socket (the queue sees the customer leave).

        :param wait: seconds to wait for the socket to close; None closes it in the background.
        """
        self._closed = True
        self._end_control()
        self._stop_asking_control()
        self._stop_sharing()
        self._close_view()
        if wait is None:
            threading.Thread(target=self.channel.close, name="sosqueue-session-close", daemon=True).start()
        else:
            self.channel.close(wait)

    @property
    def sharing(self) -> bool:
        sharer = self._sharer
        return sharer is not None and sharer.sharing

    @property
    def frames_sent(self) -> int:
        return sum(sharer.frames_sent for sharer in list(self._sharers))

    def snapshot(self) -> dict:
        """What the session shows and does now (for the state hooks; nothing secret)."""
        return {
            "channel": self.channel.state, "consent": self.consent, "sharing": self.sharing,
            "control": self.control, "in_control": self.in_control,
            "frames_sent": self.frames_sent, "experts": [expert.get("name", "") for expert in self.experts],
            **self.view.snapshot(),
        }

    # -- the channel's thread ------------------------------------------------------------------

    def _on_channel_state(self, state: str, reason: str) -> None:
        if state != "connected":
            self._withdraw()  # frames cannot go anyway, and the relay ended sharing and the question
        self.ui.call(self._channel_changed, state, reason)

    def _on_message(self, message: dict) -> None:
        kind = message["type"]
        if kind in INPUT_MESSAGES:
            controller = self._controller
            if controller:
                controller.take(message)
                sharer = self._sharer
                if sharer:
                    sharer.nudge()  # the input will change the screen: look at it at the quick pace
            else:
                log.debug("ignored a %r message: nobody is in control", kind)
        elif kind == Message.ACK:
            sharer = self._sharer
            if sharer:
                sharer.acknowledge()
        elif kind == Message.REFRESH:
            sharer = self._sharer
            if sharer:
                sharer.refresh()  # an expert missed a region: the next frame is the whole screen
        elif kind in (Message.VIEW_STOP, Message.SESSION_ENDED):
            was_sharing = self._withdraw()
            self.ui.call(self._viewing_stopped, str(message.get("reason", "")), was_sharing)
        elif kind == Message.VIEW_REQUEST:
            with self._lock:
                question = self._withdrawals
            self.ui.call(self._ask_consent, message, question)
        elif kind == Message.CONTROL_STOP:
            with self._lock:
                self._control_withdrawals += 1
            was_controlling = self._end_control()
            self.ui.call(self._control_stopped, str(message.get("reason", "")), was_controlling)
        elif kind == Message.CONTROL_REQUEST:
            with self._lock:
                question = self._control_withdrawals
            self.ui.call(self._ask_control, message, question)
        else:
            self.ui.call(self._handle, message)

    def _withdraw(self) -> bool:
        """End control, stop sharing and withdraw the question on screen; True when it was sharing."""
        with self._lock:
            self._withdrawals += 1
            self._control_withdrawals += 1
        self._end_control()
        return self._stop_sharing()

    def _end_control(self) -> bool:
        """Stop the controller taking input, if any, and show the whole screen again; True when one was."""
        with self._lock:
            controller, self._controller = self._controller, None
        if controller is None:
            return False
        controller.stop()
        sharer = self._sharer
        if sharer:
            sharer.show_area(None)
        return True

    def _stop_sharing(self) -> bool:
        """Stop the sharer if there is one and forget its frames not yet sent; True when it was sharing."""
        with self._lock:
            sharer, self._sharer = self._sharer, None
        if sharer is None:
            return False
        was_sharing = sharer.sharing
        sharer.stop()
        self.channel.drop_frames()
        return was_sharing

    # -- the main thread -----------------------------------------------------------------------

    def _handle(self, message: dict) -> None:
        if self._closed:
            return
        kind = message["type"]
        if kind == Message.HELLO:
            self.experts = [expert for expert in message.get("experts") or [] if isinstance(expert, dict)]
        elif kind == Message.CHAT:
            self._chat_received(message)
        elif kind == Message.EXPERT_JOINED:
            self._expert_joined(message.get("expert"))
        elif kind == Message.EXPERT_LEFT:
            self._expert_left(message.get("expert"))
        elif kind == Message.ERROR:
            log.info("the queue said: %s", message.get("detail"))
        else:
            log.debug("ignored a %r message", kind)

    def _channel_changed(self, state: str, reason: str) -> None:
        if self._closed:
            return  # the window's chat pane may belong to the next request's session by now
        if state != "connected":
            self._control_gone()
            self._stop_sharing()  # a sharer started by a late answer, too
            self.view.hide_sharing_bar()
            if self.view.asking():
                self.view.withdraw_question()  # the question was for a session that has gone
                self.consent = Consent.NONE
        if state == "ended":
            log.info("the queue ended the session of %s: %s", self.code, reason)
        self.view.set_connected(state == "connected")
        self.on_channel(state)

    def _ask_consent(self, message: dict, question: int) -> None:
        """Ask the consent question for a view_request; ``question`` tells later whether it was withdrawn."""
        if self._closed:
            return
        name, company = _asker(message)
        if self.view.asking():
            return  # one question at a time
        self.consent = Consent.SHOWN
        self.view.ask_consent(name, company, lambda allowed: self._answered(allowed, name, question))

    def _answered(self, allowed: bool, expert: str, question: int) -> None:
        if self._closed:
            return
        if self._withdrawn(question):
            self.consent = Consent.NONE  # the expert stopped asking (or the socket went) before the click
            return
        if not allowed:
            self.consent = Consent.DENIED
            stopped = self._stop_sharing()
            self.view.hide_sharing_bar()
            self.channel.send_json({"type": Message.CONSENT, "allowed": False, "scopes": SCOPES})
            if stopped:
                self.channel.send_json({"type": Message.VIEW_STOP})
            self._note(_("You did not allow {expert} to see your screen.").format(expert=expert or _("Your supporter")))
            return
        self.consent = Consent.ALLOWED
        if self.sharing:
            self.channel.send_json({"type": Message.CONSENT, "allowed": True, "scopes": SCOPES})
            if not self.view.sharing_bar_shown():
                self.view.show_sharing_bar(self._customer_stopped)
            return
        sharer = Sharer(self._open_capture, self.channel.send_frame, **self._sharer_options,
                        on_end=lambda reason: self.ui.call(self._sharing_ended, sharer, reason))
        with self._lock:
            if self._withdrawals != question:  # a view_stop came in the meantime
                self.consent = Consent.NONE
                return
            self._sharer = sharer  # from here on a view_stop stops it, even before it starts
        self._sharers.append(sharer)
        # The consent goes first: the relay accepts frames only after it.
        if not self.channel.send_json({"type": Message.CONSENT, "allowed": True, "scopes": SCOPES}):
            self._stop_sharing()
            self._note(_("The connection was lost, so your screen is not shared."))
            return
        sharer.start()
        if not sharer.sharing:
            return  # stopped by a view_stop that came while the consent went out
        self.view.show_sharing_bar(self._customer_stopped)
        self._note(_("You are sharing your screen."))

    def _withdrawn(self, question: int) -> bool:
        with self._lock:
            return self._withdrawals != question

    def _customer_stopped(self) -> None:
        """Stop sharing on the bar: input and capture stop first, then the experts are told (control ends too)."""
        self._control_gone()
        self._stop_sharing()
        self.channel.send_json({"type": Message.VIEW_STOP})
        self._note(_("You stopped sharing your screen."))

    def _viewing_stopped(self, reason: str, was_sharing: bool) -> None:
        if self._closed:
            return
        self._control_gone()
        was_sharing = self._stop_sharing() or was_sharing  # a sharer started by a late answer, too
        self.view.hide_sharing_bar()
        if self.view.asking():
            self.view.withdraw_question()  # nobody waits for the answer any more
            self.consent = Consent.NONE
        if not was_sharing:
            return
        if reason == StopReason.EXPERT_ENDED:
            self._note(_("Your supporter stopped viewing your screen."))
        else:
            self._note(_("Screen sharing ended."))

    def _sharing_ended(self, sharer: Sharer, reason: str) -> None:
        """The sharer ended by itself: the channel went down or the screen cannot be captured."""
        with self._lock:
            if self._sharer is not sharer or self._closed:
                return
            self._sharer = None
        self._control_gone()
        self.view.hide_sharing_bar()
        if reason == "capture":
            self.channel.send_json({"type": Message.VIEW_STOP})
            self._note(_("Your screen could not be captured, so it is not shared."))

    def _ask_control(self, message: dict, question: int) -> None:
        """Ask the control question for a control_request, unless this computer cannot be controlled."""
        if self._closed or self._control_withdrawn(question):
            return
        if not self.sharing or self.view.asking() or self._controller is not None:
            log.info("a control request was left unanswered (sharing: %s, a question on screen: %s, in control: %s)",
                     self.sharing, self.view.asking(), self._controller is not None)
            return
        name, company = _asker(message)
        controller = Controller(open_injector=self._open_injector, report=self.channel.send_json,
                                on_area=self._show_area, covers_desktop=capture_covers_desktop(),
                                on_end=lambda reason: self.ui.call(self._control_ended, controller, reason))
        try:
            controller.start()
        except InjectionUnavailable as error:
            reason = str(error)
            log.info("remote control is not possible here: %s", reason)
            self.channel.send_json({"type": Message.CONTROL_UNAVAILABLE, "detail": reason})
            self._note(_("{expert} asked to use your mouse and keyboard, but this computer cannot be controlled "
                         "from a distance: {reason}").format(expert=name or _("Your supporter"), reason=reason))
            if isinstance(error, PermissionMissing):
                self._note(_("To allow it, give this program the Accessibility permission in System Settings › "
                             "Privacy & Security › Accessibility."))
            return
        self._asking_controller = controller
        self.control = Consent.SHOWN
        self.view.ask_control(name, company, lambda allowed: self._control_answered(allowed, name, controller,
                                                                                    question))

    def _control_answered(self, allowed: bool, expert: str, controller: Controller, question: int) -> None:
        if self._asking_controller is controller:
            self._asking_controller = None
        if self._closed or self._control_withdrawn(question) or not self.sharing:
            controller.stop()  # the question was withdrawn, or sharing ended, before the click
            self.control = Consent.NONE
            return
        if not allowed:
            controller.stop()
            self.control = Consent.DENIED
            self.channel.send_json({"type": Message.CONSENT, "allowed": False, "scopes": CONTROL_CONSENT_SCOPES})
            self._note(_("You did not allow {expert} to use your mouse and keyboard.").format(
                expert=expert or _("Your supporter")))
            return
        with self._lock:
            withdrawn = self._control_withdrawals != question  # a control_stop came in the meantime
            if not withdrawn:
                self._controller = controller  # from here on a stop ends it, even before it begins
        if withdrawn:
            controller.stop()
            self.control = Consent.NONE
            return
        controller.begin()
        consent = {"type": Message.CONSENT, "allowed": True, "scopes": CONTROL_CONSENT_SCOPES,
                   "monitors": [monitor._asdict() for monitor in controller.monitors],
                   "secure_attention": controller.secure_attention}
        if not self.channel.send_json(consent):
            self._end_control()
            self.control = Consent.NONE
            return
        self.control, self.in_control = Consent.ALLOWED, expert or _("Your supporter")
        self.view.show_control(self.in_control, self._take_back)
        self._note(_("{expert} is using your mouse and keyboard. To take back control, press {keys} or "
                     "click Take back control.").format(expert=self.in_control, keys=TAKE_BACK_LABEL))
        if not controller.take_back_key_works:
            self._note(_("{keys} does not work on this computer: take back control with the button on the "
                         "sharing bar.").format(keys=TAKE_BACK_LABEL))

    def _control_withdrawn(self, question: int) -> bool:
        with self._lock:
            return self._control_withdrawals != question

    def _show_area(self, box: Box | None) -> None:
        """The expert picked a monitor (from the controller's thread): send that part of the screen."""
        sharer = self._sharer
        if sharer:
            sharer.show_area(box)

    def _take_back(self) -> None:
        """Take back control on the bar: input stops first, then the experts are told; sharing goes on."""
        if self._closed or self.control != Consent.ALLOWED:
            return
        if self._end_control():
            self.channel.send_json({"type": Message.CONTROL_STOP})
        self._control_gone()
        self._note(_("You took back control."))

    def _control_ended(self, controller: Controller, reason: Ending) -> None:
        """The controller ended by itself (the take-back key, or input no longer possible); it has stopped."""
        with self._lock:
            if self._controller is not controller or self._closed:
                return
        if reason == Ending.TAKEN_BACK:
            self._take_back()
            return
        self._end_control()  # the controller told the experts already
        self._control_gone()
        self._note(_("Remote control ended: this computer can no longer be controlled from a distance."))

    def _control_stopped(self, reason: str, was_controlling: bool) -> None:
        """The queue ended control (the expert gave it back or left), or withdrew the question."""
        if self._closed:
            return
        was_controlling = self._control_gone() or was_controlling
        if not was_controlling:
            return
        if reason == StopReason.EXPERT_STOPPED:
            self._note(_("Your supporter gave back control of your mouse and keyboard."))
        else:
            self._note(_("Your supporter left, so remote control ended."))

    def _control_gone(self) -> bool:
        """Control ended, or never began: no input, no control question, no indicator. True when it was in control."""
        self._end_control()
        was_controlling = self.control == Consent.ALLOWED
        if self.control == Consent.SHOWN and self.view.asking():
            self.view.withdraw_question()
        self._stop_asking_control()
        self.view.hide_control()
        if self.control in (Consent.SHOWN, Consent.ALLOWED):
            self.control = Consent.NONE
        self.in_control = ""
        return was_controlling

    def _stop_asking_control(self) -> None:
        """Close the injector opened for a control question that will not be answered now."""
        controller, self._asking_controller = self._asking_controller, None
        if controller is not None:
            controller.stop()

    def _chat_received(self, message: dict) -> None:
        text, name = message.get("text"), message.get("name")
        if message.get("from") != "expert" or not isinstance(text, str):
            return  # the customer's own messages are shown when sent
        self.view.add_message(short(name) if isinstance(name, str) and name else _("Supporter"), text)

    def send_chat(self, text: str) -> bool:
        """The customer's message to the experts; False when not connected."""
        return self.channel.send_json({"type": Message.CHAT, "text": text})

    def _expert_joined(self, expert) -> None:
        if not isinstance(expert, dict):
            return
        self.experts = [known for known in self.experts if known.get("id") != expert.get("id")] + [expert]
        sharer = self._sharer
        if sharer:
            sharer.refresh()  # the newcomer needs a whole picture, not the next change
        self._note(_("{name} joined the session.").format(name=short(expert.get("name", "")) or _("Supporter")))

    def _expert_left(self, expert) -> None:
        if not isinstance(expert, dict):
            return
        self.experts = [known for known in self.experts if known.get("id") != expert.get("id")]
        self._note(_("{name} left the session.").format(name=short(expert.get("name", "")) or _("Supporter")))

    def _close_view(self) -> None:
        self.view.hide_control()
        self.view.hide_sharing_bar()
        if self.view.asking():
            self.view.withdraw_question()

    def _note(self, text: str) -> None:
        self.view.add_note(text)


def _asker(message: dict) -> tuple[str, str]:
    """The expert's name (one short line) and the company of a view or control request."""
    expert = message.get("expert") if isinstance(message.get("expert"), dict) else {}
    name = short(expert.get("name", "")) if isinstance(expert.get("name"), str) else ""
    company = message.get("company") if isinstance(message.get("company"), str) else ""
    return name, company
