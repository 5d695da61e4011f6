"""The in-process hub of Connect sessions: one room per service request, its sockets and sharing.

Everything here runs on the event loop and changes state without awaiting in between, so no
locks are needed. Database work (presence, history) runs in the threadpool. Each socket has its
own outbox and sending task: a slow browser falls behind alone (it gets the newest frame, not
every frame) and never stalls the customer or the other experts.

An expert's login is admitted once but not trusted for good: the dashboard's deactivation,
password reset and logout close that expert's sockets at once (``Hub.sign_out``), and every
``sweep_interval_seconds`` the hub checks the open sockets' logins again, which also catches
expiry and sign-outs in other processes.
"""

import asyncio
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from server import queue
from sosqueue import codes
from server.actors import SYSTEM, Actor
from server.connect import protocol
from sosqueue.connect import CLOSE_REASONS, CONTROL_SCOPES, INPUT_MESSAGES, VIEW_SCOPES, CloseCode, Message, Scope, \
    StopReason
from sosqueue.events import ENDING_EVENTS, EventType
from server.connect.presence import PresenceRecorder
from server.ratelimit import RateLimiter
from server.lifecycle import CUSTOMER
from sosqueue.statuses import Status
from server.models import ServiceRequest, utcnow
from server.state import AppState
from server import logins

log = logging.getLogger("sosqueue.connect")

_ACK = protocol.encode({"type": Message.ACK})
_REFRESH = protocol.encode({"type": Message.REFRESH})
_NOT_SHARING = "the screen is not shared: frames are taken only after the customer allowed viewing"
_LEFT = "you ended the session; ask to see the screen again to rejoin it"
_CHAT_ONLY = "this socket only chats; open the request's session page to see the screen or use the computer"
_NOT_IN_CONTROL = "you are not in control of the customer's computer: ask the customer for control first"
_INPUT = "input"  # the one key of a socket's input limit
_VIEW_CONSENT = sorted(VIEW_SCOPES)
_CONTROL_CONSENT = sorted(CONTROL_SCOPES)
_CLOSE_SECONDS = 5.0
#: How many of the latest chat messages a room keeps for the experts' sockets that open later (``hello``'s chat).
CHAT_BACKLOG = 50
#: The status each ending event leaves (the names are the same: closed, expired).
_ENDING_STATUS = {event: Status(event.value) for event in ENDING_EVENTS}


@dataclass(frozen=True)
class Admission:
    """Who the routes let into which request's session."""

    request_id: int
    company_id: str
    code: str  # canonical, s12345678
    company_name: str
    customer_name: str
    actor: Actor  # the customer, or the expert's user
    name: str  # how this party is shown to the others
    login_cookie: str = field(default="", repr=False)  # an expert's login, checked again while the socket is open
    chat_only: bool = False  # an expert's socket that chats without joining the session (a request page's)
    instance: str = field(default="", repr=False)  # the customer's agent instance ("": none sent)

    @property
    def party(self) -> str:
        return CUSTOMER if self.actor.kind == "customer" else self.actor.key


class Peer:
    """One open socket, with an outbox that its own task sends from, in order."""

    def __init__(self, websocket: WebSocket, admission: Admission, backlog: int):
        self.websocket = websocket
        self.admission = admission
        self.is_customer = admission.actor.kind == "customer"
        self.user_id = None if self.is_customer else admission.actor.user.id
        self.chat_only = admission.chat_only
        self.closing = False
        self._backlog = backlog
        self._outbox: deque[list] = deque()
        self._ready = asyncio.Event()
        self._frame: list | None = None
        self.input_limit: RateLimiter | None = None  # made on this expert's first input message
        self.input_dropped_told_at = float("-inf")  # when this socket was last told its input was dropped
        self._had_whole = False  # a whole frame was queued for this socket
        self.frame_number = 0  # the room's number of the newest frame queued for this socket

    @property
    def expert(self) -> dict:
        return {"id": self.user_id, "name": self.admission.name}

    def send(self, message: dict) -> None:
        self._put(["text", protocol.encode(message)])

    def send_encoded(self, text: str) -> None:
        self._put(["text", text])

    @property
    def has_newest_frame_out(self) -> bool:
        """Whether the newest frame queued for this socket has been sent (none waits in the outbox)."""
        return self._frame is None

    def send_frame(self, frame: bytes, *, number: int, whole: bool = True) -> bool:
        """Queue a screen frame; a frame still waiting anywhere in the outbox gives way to the newer screen.

        So a socket holds at most one unsent frame, however a customer interleaves frames and
        messages: a slow browser cannot make the server keep a backlog of screens. True when this
        socket needs a whole frame: a region frame took the place of a waiting frame (a whole
        frame replacing one loses nothing), or it is a region and the socket never got a whole
        frame (it arrived while the screen was shared, say a second tab of an expert).
        """
        missed = not whole and not self._had_whole  # a socket that never got a whole frame cannot draw a region
        self._had_whole = self._had_whole or whole
        self.frame_number = number
        if self._frame is not None:
            missed = missed or not whole
            if self._outbox and self._outbox[-1] is self._frame:
                self._frame[1] = frame
                return missed
            self._frame[:] = ["dropped", None]  # keeps its place in line, without the bytes
        self._frame = ["bytes", frame]
        self._put(self._frame)
        return missed

    def close(self, code: int) -> None:
        """Close the socket after what is queued (nothing queued later is sent)."""
        self._put(["close", code])
        self.closing = True

    def _put(self, item: list) -> None:
        if self.closing:
            return
        if len(self._outbox) >= self._backlog:
            self._outbox.clear()
            item, self.closing = ["close", CloseCode.TOO_SLOW], True
        self._outbox.append(item)
        self._ready.set()

    async def pump(self) -> None:
        """Send the outbox until the socket closes or goes away."""
        send = self.websocket.send
        try:
            while True:
                if not self._outbox:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                item = self._outbox.popleft()
                if item is self._frame:
                    self._frame = None
                kind, payload = item
                if kind == "text":
                    await send({"type": "websocket.send", "text": payload})
                elif kind == "bytes":
                    await send({"type": "websocket.send", "bytes": payload})
                elif kind == "close":
                    await self.websocket.close(payload, CLOSE_REASONS[payload])
                    return
        except Exception:  # the client went away mid-send; its receive loop ends the session
            log.debug("stopped sending to a closed socket", exc_info=True)


class Room:
    """One request's session: its customer socket, expert sockets, and whether the screen is shared."""

    def __init__(self, hub: "Hub", admission: Admission):
        self.hub = hub
        self.request_id = admission.request_id
        self.code = codes.display(admission.code)
        self.company_name = admission.company_name
        self.customer: Peer | None = None
        self.experts: list[Peer] = []
        self.left: list[Peer] = []  # experts' sockets still open after their expert ended the session
        self.chatting: list[Peer] = []  # chat-only expert sockets: never in the session, never recorded
        self.chat: deque[dict] = deque(maxlen=CHAT_BACKLOG)  # the latest chat messages, oldest first
        self.sharing = False
        self.asked_by: str | None = None  # the expert whose view request awaits the customer's answer
        self.control_asked_by: dict | None = None  # the expert ({id, name}) whose control request awaits an answer
        self.control: dict | None = None  # the control consent that stands: {expert, monitors, secure_attention}
        self.refresh_asked = False  # the customer was asked for a whole frame and has not sent one yet
        self.frames = 0  # frames forwarded in this session, numbered from 1
        self.acked = 0  # the number of the last frame whose ack went to the customer
        self.ended: Status | None = None
        self.attached = 0
        self._history = asyncio.Lock()
        self.presence = PresenceRecorder(hub.db, self.request_id, self.end)
        self._subscription = hub.broker.subscribe(company_id=admission.company_id, request_id=self.request_id)
        self._watcher = asyncio.create_task(self._watch())

    def dispose(self) -> None:
        self._watcher.cancel()
        self.hub.broker.unsubscribe(self._subscription)

    async def _watch(self) -> None:
        """End the session when the request is closed or expires (through the API, the sweep…)."""
        events = self._subscription.queue
        while (wire := await events.get()) is not None:
            if wire.type in ENDING_EVENTS:
                self.end(_ENDING_STATUS[wire.type])

    def end(self, status: Status) -> None:
        """The request is no longer open: tell everyone and close every socket with 4409."""
        if self.ended is not None:
            return
        self.ended, self.sharing, self.asked_by = status, False, None
        self.control_asked_by = self.control = None  # the history ends with the request; nothing follows it
        self.presence.finish()
        ended = {"type": Message.SESSION_ENDED, "by": "system", "reason": status.value}
        for peer in self._peers():
            peer.send(ended)
            peer.close(CloseCode.NOT_OPEN)

    def _peers(self) -> list[Peer]:
        return ([self.customer] if self.customer else []) + self.experts + self.left + self.chatting

    def _to_experts(self, message: dict, *, left_too: bool = False, chatting_too: bool = False) -> None:
        """Send to the seated experts; ``left_too``: also to the open pages of experts who ended;
        ``chatting_too``: also to the chat-only sockets."""
        text = protocol.encode(message)
        for expert in self.experts + (self.left if left_too else []) + (self.chatting if chatting_too else []):
            expert.send_encoded(text)

    def _has_expert(self, user_id: str) -> bool:
        return any(expert.user_id == user_id for expert in self.experts)

    def _expert_list(self) -> list[dict]:
        return list({expert.user_id: expert.expert for expert in self.experts}.values())

    async def _record(self, type: EventType, actor: Actor, data: dict) -> None:
        """Add to the history, in the order of the calls (the lock queues them first come, first served)."""
        try:
            async with self._history:
                await run_in_threadpool(self.hub.record, self.request_id, type, actor, data)
        except Exception:  # the session goes on; only its history misses an entry
            log.exception("could not record %s for request %s", type, self.request_id)

    # -- arriving and leaving -------------------------------------------------------------

    async def arrive(self, peer: Peer) -> bool:
        """Record the socket's party as joined, then seat it; False if the request ended.

        A chat-only socket is recorded nowhere: it takes its place beside the session, not in it.
        """
        if not peer.chat_only:
            self.presence.want(peer.admission.party, peer.admission.actor)
            await self.presence.settle()
        if self.ended is not None:
            peer.send({"type": Message.SESSION_ENDED, "by": "system", "reason": self.ended.value})
            peer.close(CloseCode.NOT_OPEN)
            return False
        if peer.is_customer:
            if not self._may_seat_customer(peer):
                log.info("refused a second customer socket for request %s: another agent is connected", self.code)
                peer.close(CloseCode.ALREADY_CONNECTED)
                return False
            await self._seat_customer(peer)
        elif peer.chat_only:
            self._seat_chatting(peer)
        else:
            self._seat_expert(peer)
        return True

    def _may_seat_customer(self, peer: Peer) -> bool:
        """Whether this customer socket may sit down: nobody is there, or the socket there is of the same agent
        instance (a reconnect after a drop not noticed yet). The customer token alone proves nothing more: it
        may have reached someone else."""
        seated = self.customer
        if seated is None:
            return True
        mine, theirs = peer.admission.instance, seated.admission.instance
        return bool(mine and theirs) and secrets.compare_digest(mine, theirs)

    async def _seat_customer(self, peer: Peer) -> None:
        replaced, self.customer = self.customer, peer
        peer.send({"type": Message.HELLO, "role": "customer", "code": self.code, "experts": self._expert_list()})
        if replaced is not None:
            replaced.close(CloseCode.REPLACED)
            await self._customer_stopped_sharing()
        self._to_experts({"type": Message.CUSTOMER_JOINED}, left_too=True, chatting_too=True)

    def _seat_expert(self, peer: Peer) -> None:
        first = not self._has_expert(peer.user_id)
        self.experts.append(peer)
        peer.send({"type": Message.HELLO, "role": "expert", "code": self.code,
                   "customer_connected": self.customer is not None, "sharing": self.sharing,
                   "control": self.control, "chat": list(self.chat)})
        if first and self.customer is not None:
            self.customer.send({"type": Message.EXPERT_JOINED, "expert": peer.expert})

    def _seat_chatting(self, peer: Peer) -> None:
        self.chatting.append(peer)
        peer.send({"type": Message.HELLO, "role": "expert", "mode": protocol.CHAT_MODE, "code": self.code,
                   "customer_connected": self.customer is not None, "chat": list(self.chat)})

    async def depart(self, peer: Peer, *, seated: bool) -> None:
        """Unseat the socket, record its party as gone if it was the last one, tell the others."""
        if peer in self.left:  # its expert ended the session, which released it already
            self.left.remove(peer)
            return
        if peer.chat_only:
            if seated:
                self.chatting.remove(peer)
            return
        if peer is self.customer:
            self.customer = None
            await self._customer_stopped_sharing()
        elif seated and not peer.is_customer:
            self.experts.remove(peer)
            await self._expert_gone(peer)
        self.presence.release(peer.admission.party)
        await self.presence.settle()
        if not seated or self.ended is not None:
            return
        if peer.is_customer and self.customer is None:
            self._to_experts({"type": Message.CUSTOMER_LEFT}, left_too=True, chatting_too=True)
        elif not peer.is_customer and self.customer is not None and not self._has_expert(peer.user_id):
            self.customer.send({"type": Message.EXPERT_LEFT, "expert": peer.expert})

    async def _customer_stopped_sharing(self) -> None:
        """The customer's socket closed or was replaced: its sharing and open question end."""
        self.asked_by = None
        if self.sharing:
            self.sharing = False
            await self._control_stopped(self._drop_control(), SYSTEM, StopReason.CUSTOMER_LEFT)
            await self._record(EventType.SCREEN_STOPPED, SYSTEM, {"by": "system"})
            self._to_experts({"type": Message.VIEW_STOPPED, "reason": StopReason.CUSTOMER_LEFT})

    async def _expert_gone(self, peer: Peer) -> None:
        """Withdraw the leaving expert's open questions and control; with the last expert gone, end sharing too."""
        if self.experts:
            if self._has_expert(peer.user_id):
                return  # another socket of this expert is still in the session
            if self.asked_by == peer.user_id:
                self.asked_by = None  # else the customer's Allow would share with experts who never asked
                if self.customer is not None:
                    self.customer.send({"type": Message.VIEW_STOP, "reason": StopReason.WITHDRAWN})
            await self._withdraw_control(peer.user_id, SYSTEM)
            return
        if not (self.sharing or self.asked_by):
            return
        was_sharing, self.sharing, self.asked_by = self.sharing, False, None
        stopped = self._drop_control()
        if self.customer is not None:
            self.customer.send({"type": Message.VIEW_STOP, "reason": StopReason.EXPERTS_LEFT})
        await self._control_stopped(stopped, SYSTEM, StopReason.EXPERTS_LEFT)
        if was_sharing:
            await self._record(EventType.SCREEN_STOPPED, SYSTEM, {"by": "system"})

    # -- what the sockets send ------------------------------------------------------------

    def take_frame(self, peer: Peer, frame: bytes) -> None:
        """Forward a customer's screen frame, the very bytes object, to every expert.

        When a region frame took the place of a frame an expert had not got yet, the customer is
        asked for a whole frame (``refresh``), so that expert's picture is whole again.
        """
        if not peer.is_customer:
            peer.send({"type": Message.ERROR, "detail": "experts do not send frames; send JSON messages"})
            return
        if not self.sharing:
            peer.send({"type": Message.ERROR, "detail": _NOT_SHARING})
            return
        try:
            whole = protocol.check_frame(frame, self.hub.limits)
        except protocol.Refused as refused:
            peer.send({"type": Message.ERROR, "detail": refused.detail})
            return
        if whole:
            self.refresh_asked = False
        missed = False
        self.frames += 1
        for expert in self.experts:
            missed = expert.send_frame(frame, whole=whole, number=self.frames) or missed
        if missed and not self.refresh_asked:
            self.refresh_asked = True  # one request until the next whole frame arrives
            peer.send_encoded(_REFRESH)

    async def take(self, peer: Peer, message: dict) -> None:
        if peer.chat_only and message["type"] != Message.CHAT:
            peer.send({"type": Message.ERROR, "detail": _CHAT_ONLY})
            return
        handler = (self._CUSTOMER if peer.is_customer else self._EXPERT)[message["type"]]
        await handler(self, peer, message)

    async def _consent(self, peer: Peer, message: dict) -> None:
        if Scope.CONTROL in message["scopes"]:
            await self._control_consent(peer, message)
            return
        if self.asked_by is None:
            peer.send({"type": Message.ERROR,
                       "detail": "no expert asked to see the screen; consent answers a view_request"})
            return
        expert_id, self.asked_by = self.asked_by, None
        allowed = message["allowed"]
        self.sharing = allowed
        shared = EventType.SCREEN_SHARED if allowed else EventType.SCREEN_DENIED
        await self._record(shared, peer.admission.actor, {"expert": expert_id})
        if self.sharing == allowed:  # not stopped while the history was written
            self._to_experts({"type": Message.CONSENT, "allowed": allowed, "scopes": _VIEW_CONSENT})

    async def _customer_view_stop(self, peer: Peer, message: dict) -> None:
        await self._stop_by_customer(peer)

    async def _stop_by_customer(self, peer: Peer) -> None:
        if self.sharing:
            self.sharing = False
            await self._control_stopped(self._drop_control(), peer.admission.actor, StopReason.CUSTOMER_STOPPED)
            await self._record(EventType.SCREEN_STOPPED, peer.admission.actor, {"by": "customer"})
            self._to_experts({"type": Message.VIEW_STOPPED, "reason": StopReason.CUSTOMER_STOPPED})

    async def _customer_chat(self, peer: Peer, message: dict) -> None:
        # With no expert socket open it is kept all the same: the next one to open gets it in its hello.
        self._say(self._chat("customer", peer, message["text"]))

    def _say(self, chat: dict) -> None:
        """A chat message to every expert socket that chats (the session's and the chat-only ones), kept."""
        self.chat.append(chat)
        self._to_experts(chat, chatting_too=True)

    async def _customer_end(self, peer: Peer, message: dict) -> None:
        self.asked_by = None
        await self._stop_by_customer(peer)
        self._to_experts({"type": Message.SESSION_ENDED, "by": "customer"})

    async def _view_request(self, peer: Peer, message: dict) -> None:
        if peer in self.left and not await self._rejoin(peer):
            return
        if self.customer is None:
            peer.send({"type": Message.ERROR, "detail": "the customer is not connected; ask again when they are"})
        elif self.sharing:
            peer.send({"type": Message.CONSENT, "allowed": True, "scopes": _VIEW_CONSENT})
        else:
            self.asked_by = peer.user_id
            self.customer.send({"type": Message.VIEW_REQUEST, "expert": peer.expert, "company": self.company_name})

    async def _ack(self, peer: Peer, message: dict) -> None:
        """One ack per frame reaches the customer: the first from an expert who has drawn the newest
        frame. A late ack for an older frame would let the customer send two frames at once, and on a
        slow link a region could then take the place of one still on its way."""
        newest = peer.frame_number == self.frames and peer.has_newest_frame_out
        if self.sharing and peer in self.experts and self.customer is not None and newest and self.acked < self.frames:
            self.acked = self.frames
            self.customer.send_encoded(_ACK)

    async def _expert_chat(self, peer: Peer, message: dict) -> None:
        if peer in self.left:
            peer.send({"type": Message.ERROR, "detail": _LEFT})
            return
        chat = self._chat("expert", peer, message["text"])
        self._say(chat)
        if self.customer is None:
            peer.send({"type": Message.ERROR,
                       "detail": "the customer is not connected; only the experts got this message"})
        else:
            self.customer.send(chat)

    async def _expert_end(self, peer: Peer, message: dict) -> None:
        """Stop the view for everyone and take this socket out of the session; it stays open.

        The expert is recorded as left once their last socket in the session has ended or closed;
        closing an ended page later records nothing more. A ``view_request`` from it joins again.
        """
        ended = {"type": Message.SESSION_ENDED, "by": "expert"}
        if peer in self.left:  # ended already: nothing more to stop or record
            peer.send(ended)
            return
        was_sharing, self.sharing, self.asked_by = self.sharing, False, None
        control_stopped = self._drop_control()
        if self.customer is not None:
            self.customer.send({"type": Message.VIEW_STOP, "reason": StopReason.EXPERT_ENDED})
        if control_stopped is not None:  # told before the view's stop (this socket too), recorded after it
            self._tell_control_stopped(StopReason.EXPERT_ENDED)
        self.experts.remove(peer)
        self.left.append(peer)
        if was_sharing:
            stopped = {"type": Message.VIEW_STOPPED, "reason": StopReason.EXPERT_ENDED}
            peer.send(stopped)
            self._to_experts(stopped)
        self._to_experts(ended)
        await self._record_control_stop(control_stopped, peer.admission.actor, StopReason.EXPERT_ENDED)
        if was_sharing:
            await self._record(EventType.SCREEN_STOPPED, peer.admission.actor, {"by": "expert"})
        self.presence.release(peer.admission.party)
        await self.presence.settle()
        if self.ended is not None:
            return  # closed or expired meanwhile: everyone was told, every socket closes
        peer.send(ended)  # once the leave is recorded
        if self.customer is not None and not self._has_expert(peer.user_id):
            self.customer.send({"type": Message.EXPERT_LEFT, "expert": peer.expert})

    async def _rejoin(self, peer: Peer) -> bool:
        """Seat an ended expert's socket again, recorded as joined; False if the request ended meanwhile."""
        self.presence.want(peer.admission.party, peer.admission.actor)
        await self.presence.settle()
        if self.ended is not None:
            return False
        first = not self._has_expert(peer.user_id)
        self.left.remove(peer)
        self.experts.append(peer)
        if first and self.customer is not None:
            self.customer.send({"type": Message.EXPERT_JOINED, "expert": peer.expert})
        return True

    # -- remote control -----------------------------------------------------------------------

    def _drop_control(self) -> dict | None:
        """End control and any control question at once; the control that stood, if one did.

        Nothing is awaited, so no input slips through; the caller records the end and tells the
        experts (:meth:`_control_stopped`).
        """
        self.control_asked_by = None
        stopped, self.control = self.control, None
        return stopped

    async def _control_stopped(self, stopped: dict | None, actor: Actor, reason: StopReason) -> None:
        """Record the end of the control that stood, then tell the experts."""
        if stopped is not None:
            await self._record_control_stop(stopped, actor, reason)
            self._tell_control_stopped(reason)

    def _tell_control_stopped(self, reason: StopReason) -> None:
        self._to_experts({"type": Message.CONTROL_STOPPED, "reason": reason})

    async def _record_control_stop(self, stopped: dict | None, actor: Actor, reason: StopReason) -> None:
        if stopped is not None:
            by = "system" if actor.kind == "system" else "customer" if actor.kind == "customer" else "expert"
            await self._record(EventType.CONTROL_STOPPED, actor,
                               {"by": by, "expert": stopped["expert"]["id"], "reason": reason.value})

    async def _withdraw_control(self, user_id: str, actor: Actor) -> None:
        """This expert left the session (or gave control back): their control and control question end."""
        if self.control_asked_by is not None and self.control_asked_by["id"] == user_id:
            self.control_asked_by = None
            if self.customer is not None:
                self.customer.send({"type": Message.CONTROL_STOP, "reason": StopReason.WITHDRAWN})
        if self.control is not None and self.control["expert"]["id"] == user_id:
            reason = StopReason.WITHDRAWN if actor is SYSTEM else StopReason.EXPERT_STOPPED
            stopped = self._drop_control()
            if self.customer is not None:
                self.customer.send({"type": Message.CONTROL_STOP, "reason": reason})
            await self._control_stopped(stopped, actor, reason)

    async def _control_request(self, peer: Peer, message: dict) -> None:
        refusal = self._control_refusal(peer)
        if refusal:
            peer.send({"type": Message.ERROR, "detail": refusal})
        elif self.control is not None:  # this expert is in control already
            peer.send({"type": Message.CONSENT, "allowed": True, "scopes": _CONTROL_CONSENT, **self.control})
        elif self.control_asked_by is None:
            self.control_asked_by = peer.expert
            self.customer.send({"type": Message.CONTROL_REQUEST, "expert": peer.expert, "company": self.company_name})

    def _control_refusal(self, peer: Peer) -> str:
        """Why this expert cannot ask for control now ("" when they can)."""
        if peer in self.left:
            return _LEFT
        if self.customer is None or not self.sharing:
            return "the screen is not shared: ask to see it first; control comes after"
        if self.control is not None and self.control["expert"]["id"] != peer.user_id:
            return f"{self.control['expert']['name']} is in control; one expert controls at a time"
        asker = self.control_asked_by
        if asker is not None and asker["id"] != peer.user_id:
            return f"the customer is answering {asker['name']}'s request for control; ask again after it"
        return ""

    async def _control_consent(self, peer: Peer, message: dict) -> None:
        asker, self.control_asked_by = self.control_asked_by, None
        if asker is None or not self.sharing:
            peer.send({"type": Message.ERROR,
                       "detail": "no expert asked for control; a control consent answers a control_request"})
            return
        allowed = message["allowed"]
        control = {"expert": asker, "monitors": message["monitors"],
                   "secure_attention": message["secure_attention"]} if allowed else None
        self.control = control
        event = EventType.CONTROL_GRANTED if allowed else EventType.CONTROL_DENIED
        await self._record(event, peer.admission.actor, {"expert": asker["id"]})
        if not allowed:
            self._to_experts({"type": Message.CONSENT, "allowed": False, "scopes": _CONTROL_CONSENT, "expert": asker})
        elif self.control is control:  # not taken back while the history was written
            self._to_experts({"type": Message.CONSENT, "allowed": True, "scopes": _CONTROL_CONSENT, **control})

    async def _customer_control_stop(self, peer: Peer, message: dict) -> None:
        """The customer took control back (the screen stays shared)."""
        await self._control_stopped(self._drop_control(), peer.admission.actor, StopReason.CUSTOMER_STOPPED)

    async def _control_unavailable(self, peer: Peer, message: dict) -> None:
        """The customer's computer cannot (or can no longer) be controlled: say why, end control."""
        await self._control_stopped(self._drop_control(), SYSTEM, StopReason.UNAVAILABLE)
        self._to_experts({"type": Message.CONTROL_UNAVAILABLE, "detail": message["detail"]})

    async def _input_error(self, peer: Peer, message: dict) -> None:
        self._to_experts({"type": Message.INPUT_ERROR, "detail": message["detail"]})

    async def _expert_control_stop(self, peer: Peer, message: dict) -> None:
        """The expert gives control back, or takes back their control question."""
        if peer in self.left or not (self._controls(peer) or self._asks_control(peer)):
            peer.send({"type": Message.ERROR, "detail": "you are not in control and did not ask for it"})
            return
        await self._withdraw_control(peer.user_id, peer.admission.actor)

    def _controls(self, peer: Peer) -> bool:
        return self.control is not None and self.control["expert"]["id"] == peer.user_id and peer in self.experts

    def _asks_control(self, peer: Peer) -> bool:
        return self.control_asked_by is not None and self.control_asked_by["id"] == peer.user_id

    async def _input(self, peer: Peer, message: dict) -> None:
        """Pass one input message on to the customer, if this expert is in control and within the rate."""
        per_second = self.hub.limits.input_per_second
        if peer.input_limit is None:  # a burst of two seconds' worth, then the steady rate
            peer.input_limit = RateLimiter(per_minute=60 * per_second, burst=max(1, round(2 * per_second)))
        if peer.input_limit.acquire(_INPUT):
            now = time.monotonic()
            if now - peer.input_dropped_told_at >= 1.0:  # one error a second, not one per dropped message
                peer.input_dropped_told_at = now
                peer.send({"type": Message.ERROR, "detail": f"input came faster than {per_second:g} messages a "
                           "second; some of it was dropped"})
            return
        refusal = self._input_refusal(peer, message)
        if refusal:
            peer.send({"type": Message.ERROR, "detail": refusal})
            return
        self.customer.send(message)

    def _input_refusal(self, peer: Peer, message: dict) -> str:
        if not self._controls(peer) or self.customer is None:
            return _NOT_IN_CONTROL
        kind = message["type"]
        if kind == Message.INPUT_SECURE_ATTENTION and not self.control["secure_attention"]:
            return "Ctrl+Alt+Del cannot be sent to this computer"
        if kind == Message.INPUT_MONITOR and message["monitor"] is not None \
                and message["monitor"] >= len(self.control["monitors"]):
            return f"there is no monitor {message['monitor']} (the customer has {len(self.control['monitors'])})"
        return ""

    @staticmethod
    def _chat(side: str, peer: Peer, text: str) -> dict:
        return {"type": Message.CHAT, "from": side, "name": peer.admission.name, "text": text,
                "at": utcnow().isoformat()}

    _CUSTOMER = {Message.CONSENT: _consent, Message.VIEW_STOP: _customer_view_stop, Message.CHAT: _customer_chat,
                 Message.END: _customer_end, Message.CONTROL_STOP: _customer_control_stop,
                 Message.CONTROL_UNAVAILABLE: _control_unavailable, Message.INPUT_ERROR: _input_error}
    _EXPERT = {Message.VIEW_REQUEST: _view_request, Message.ACK: _ack, Message.CHAT: _expert_chat,
               Message.END: _expert_end, Message.CONTROL_REQUEST: _control_request,
               Message.CONTROL_STOP: _expert_control_stop, **dict.fromkeys(INPUT_MESSAGES, _input)}


class Hub:
    """All rooms of this process, by request id, and the experts' sockets with their logins."""

    def __init__(self, state: AppState):
        self.db = state.db
        self.broker = state.broker
        self.limits = protocol.Limits.from_settings(state.settings)
        self.login_check_seconds = state.settings.effective_sweep_interval
        self._rooms: dict[int, Room] = {}
        self._experts: set[Peer] = set()
        self._login_checker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, websocket: WebSocket, admission: Admission) -> None:
        """Run one accepted, admitted socket's part in its request's session until it closes."""
        self._loop = asyncio.get_running_loop()
        room = self._rooms.get(admission.request_id)
        if room is None:
            room = self._rooms[admission.request_id] = Room(self, admission)
        room.attached += 1
        peer = Peer(websocket, admission, self.limits.backlog)
        pump = asyncio.create_task(peer.pump())
        if not peer.is_customer:
            self._watch_login(peer)
        seated = False
        try:
            seated = await room.arrive(peer)
            if seated:
                await self._relay(room, peer)
        finally:
            try:
                await room.depart(peer, seated=seated)
                if peer.closing:  # let the goodbye and the close code go out before the socket is dropped
                    await asyncio.wait([pump], timeout=_CLOSE_SECONDS)
            finally:
                pump.cancel()
                self._experts.discard(peer)
                room.attached -= 1
                if room.attached == 0:
                    del self._rooms[room.request_id]
                    room.dispose()

    async def _relay(self, room: Room, peer: Peer) -> None:
        receive, role, limits = peer.websocket.receive, "customer" if peer.is_customer else "expert", self.limits
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if peer.closing:
                continue  # closed by the server: drain until the client's goodbye
            frame = message.get("bytes")
            if frame is not None:
                room.take_frame(peer, frame)
                continue
            try:
                parsed = protocol.parse(message.get("text") or "", role, limits)
            except protocol.Refused as refused:
                peer.send({"type": Message.ERROR, "detail": refused.detail})
                continue
            await room.take(peer, parsed)

    # -- experts' logins ------------------------------------------------------------------

    def sign_out(self, *, user_id: str | None = None, login_cookie: str = "") -> None:
        """Close with 4401 the expert sockets of a user, or of one login; call it from any thread.

        The dashboard calls it once a deactivation, password reset or logout has committed.
        Sockets of other processes close at their next login check.
        """
        loop = self._loop
        if loop is None or (user_id is None and not login_cookie):
            return
        try:
            loop.call_soon_threadsafe(self._close_experts, user_id, login_cookie)
        except RuntimeError:  # the loop has stopped, and its sockets with it
            pass

    def _close_experts(self, user_id: str | None, login_cookie: str) -> None:
        for peer in self._experts:
            if (user_id is not None and peer.user_id == user_id) or \
                    (login_cookie and peer.admission.login_cookie == login_cookie):
                peer.close(CloseCode.NOT_SIGNED_IN)

    def _watch_login(self, peer: Peer) -> None:
        self._experts.add(peer)
        if self._login_checker is None or self._login_checker.done():
            self._login_checker = asyncio.create_task(self._check_logins())

    async def _check_logins(self) -> None:
        """While experts are connected, close (4401) those whose login ended: expired, or ended elsewhere."""
        while self._experts:
            await asyncio.sleep(self.login_check_seconds)
            peers = [peer for peer in self._experts if not peer.closing]
            if not peers:
                continue
            try:
                valid = await run_in_threadpool(self._signed_in, {peer.admission.login_cookie for peer in peers})
            except Exception:  # a database hiccup: the next round checks again
                log.exception("could not check the logins of open session sockets")
                continue
            for peer in peers:
                if peer.admission.login_cookie not in valid:
                    peer.close(CloseCode.NOT_SIGNED_IN)

    def _signed_in(self, cookies: set[str]) -> set[str]:
        """Those of ``cookies`` that still belong to a valid login (in the threadpool)."""
        now = utcnow()
        with self.db.read() as session:
            return {cookie for cookie in cookies if logins.resolve(session, cookie, now=now) is not None}

    def record(self, request_id: int, type: EventType, actor: Actor, data: dict) -> None:
        """Add an event to the request's history (in the threadpool)."""
        with self.db.write() as session:
            request = session.get(ServiceRequest, request_id)
            queue.record_event(session, request, type=type, actor=actor.key, data=data)
