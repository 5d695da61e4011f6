"""The help window as a description: its size, its parts in order, and what each part says and how it looks.

Two parts draw the customer's window: the agent with Tk (:mod:`agent.ui.window`) and the builder's
preview with Pillow (:mod:`branding.render`). Neither may import the other, so what they must agree
on lives here, and both build from it: the pages' parts top to bottom, each with its text (a message
of the ``window`` catalogue, or a kind of brand text), its look (:class:`Role`) and the space around
it. The window's fixed texts are translated in ``sosqueue/locale/<lang>/LC_MESSAGES/window.po`` (the
agent's own catalogue falls back to it). Standard library only.
"""

import gettext
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from sosqueue import i18n
from sosqueue.i18n import N_
from sosqueue.palette import CONNECTED, ERROR, FINISHED, MUTED, TEXT, WAITING, Palette
from sosqueue.statuses import FINAL_STATUSES, Progress, Status

#: The window's catalogue (``sosqueue/locale``): every text this description names.
DOMAIN = "window"

# One size in every state, so the window never jumps and always fits a 1366×768 laptop: 680 px
# plus a title bar (about 30 px on Windows, up to 46 px on Linux desktops) stays under 728 px,
# which leaves room for a 40 px panel. That is what the form needs with every field, the topics,
# every message and the diagnostics shown. The description box and the chat take what is left over.
WINDOW_WIDTH, WINDOW_HEIGHT = 500, 680
PAD = 24
CONTENT_WIDTH = WINDOW_WIDTH - 2 * PAD
TEXT_WIDTH = CONTENT_WIDTH - 8  # wrapped text leaves room for the label's own padding, or its edge is cut off
BANNER_HEIGHT = 80
WELCOME_LINES = 3
#: The lines the supporters' waiting message takes at most; a longer one scrolls.
WAITING_MESSAGE_LINES = 3
#: The lines a text box asks for; a growing one takes the room left over, but not less than one line.
TEXT_BOX_LINES = 3
#: The pages' padding inside the window: left, top, right, bottom.
FORM_PADDING = (PAD, 16, PAD, 16)
REQUEST_PADDING = (PAD, 18, PAD, 16)
#: The session code's box: padding left/right and top/bottom.
CODE_BOX_PADDING = (12, 10)
#: Pixels per point of the preview: a Windows screen at 100 % (96 dpi). Tk takes its own from the screen.
PREVIEW_SCALING = 96 / 72
SAMPLE_CODE = "s12-345-678"
NO_CODE = "— — —"
STATUS_DOT = "●"


class Role(StrEnum):
    """How a part looks: its font, colour and the room the widget takes around its text."""

    BODY = "body"
    WELCOME = "welcome"  # body text in a box of a few lines that scrolls (WELCOME_LINES, WAITING_MESSAGE_LINES)
    FIELD = "field"  # a field's label
    MUTED = "muted"  # helper text
    ERROR = "error"
    STATUS = "status"  # the request's status, in its status colour
    ENTRY = "entry"
    TEXT_BOX = "text box"
    CODE = "code"  # the session code in the surface box
    PRIMARY_BUTTON = "primary button"
    BUTTON = "button"
    SMALL_BUTTON = "small button"
    LINK = "link"
    CHECK = "check"
    GAP = "gap"  # empty space of ``Part.above`` pixels


@dataclass(frozen=True)
class Font:
    """A font in points, as Tk takes it; ``mono`` is a fixed-width face."""

    size: int
    bold: bool = False
    mono: bool = False
    underline: bool = False


FONTS = {
    "body": Font(10), "small": Font(9), "strong": Font(10, bold=True), "heading": Font(12, bold=True),
    "title": Font(16, bold=True), "code": Font(26, bold=True, mono=True), "link": Font(10, underline=True),
}


@dataclass(frozen=True)
class Look:
    """What a role looks like.

    :param font: a key of :data:`FONTS`.
    :param ink: the text colour: ``text``, ``muted``, ``error``, ``status`` (by the request's
        status), or a :class:`~sosqueue.palette.Palette` attribute (``link``, ``on_primary``).
    :param padding: the widget's own padding around its text, across and down (Tk styles take it).
    :param frame: what the widget adds on each side besides its padding (the Tk theme's border
        and focus ring), so that a drawing of it is as high as the widget.
    :param min_chars: the least width of its text, in widths of the digit 0 (Tk's average
        character); buttons are at least that wide whatever they say.
    """

    font: str
    ink: str = "text"
    padding: tuple[int, int] = (0, 0)
    frame: int = 2
    min_chars: int = 0


LOOKS = {
    Role.BODY: Look("body"),
    Role.WELCOME: Look("body", frame=0),
    Role.FIELD: Look("strong"),
    Role.MUTED: Look("small", "muted"),
    Role.ERROR: Look("small", "error"),
    Role.STATUS: Look("heading", "status"),
    Role.ENTRY: Look("body", padding=(6, 6)),
    Role.TEXT_BOX: Look("body", padding=(8, 6), frame=2),  # a 1-pixel border and a 1-pixel focus ring
    Role.CODE: Look("code", padding=(4, 4)),
    Role.PRIMARY_BUTTON: Look("heading", "on_primary", padding=(20, 8), frame=3, min_chars=11),
    Role.BUTTON: Look("body", padding=(14, 7), frame=3, min_chars=11),
    Role.SMALL_BUTTON: Look("body", padding=(10, 5), frame=3, min_chars=11),
    Role.LINK: Look("link", "link", padding=(0, 2), frame=1),
    Role.CHECK: Look("body", frame=3),
    Role.GAP: Look("body", frame=0),
}

STATUS_COLOURS = {Status.NEW: WAITING, Status.PENDING: WAITING, Status.IN_PROGRESS: CONNECTED,
                  Status.CLOSED: FINISHED, Status.EXPIRED: FINISHED, Progress.SENDING: MUTED, Progress.OFFLINE: WAITING}


def ink(role: Role, palette: Palette, status: str = "") -> str:
    """The colour of ``role``'s text (``#RRGGBB``) in ``palette``, for a request in ``status``."""
    name = LOOKS[role].ink
    fixed = {"text": TEXT, "muted": MUTED, "error": ERROR, "status": STATUS_COLOURS.get(status, TEXT)}
    return fixed[name] if name in fixed else getattr(palette, name)


class When(StrEnum):
    """When a part is on screen."""

    ALWAYS = "always"
    OPEN = "open"  # while the request is open
    FINAL = "final"  # once it is closed or expired
    DIAGNOSTICS = "diagnostics"  # when the module sends details about the computer
    TOPICS = "topics"  # when the module offers topics to pick from
    OPTIONAL = "optional"  # beside a field the customer may leave empty
    MESSAGE = "message"  # only with something to say (errors, notes, the chat): never in a preview


@dataclass(frozen=True)
class Part:
    """One thing on a page.

    :param key: what it is; the Tk window keeps the widget under this name.
    :param text: its fixed text, a message of the ``window`` catalogue (translated when shown);
        parts whose words depend on the request's status get them from :func:`wording`.
    :param brand_text: or the brand's text of this kind (``sosqueue.module_config.BRAND_TEXTS``).
    :param field: the form field it belongs to: hidden with the field.
    :param beside: on the same row as the part before it (the row is as high as its tallest part).
    :param right: at the right edge of its row.
    :param above: the space above it, in pixels (a gap's height).
    :param grows: takes the room the page leaves over.
    :param wrap: the width its text wraps at, in pixels.
    :param indent: its distance from the page's left edge, in pixels.
    :param prefix: put before its text (not translated).
    """

    key: str
    role: Role
    text: str = ""
    brand_text: str = ""
    field: str = ""
    when: When = When.ALWAYS
    beside: bool = False
    right: bool = False
    above: int = 0
    grows: bool = False
    wrap: int = TEXT_WIDTH
    indent: int = 0
    prefix: str = ""


def _field(key: str, label: str, role: Role = Role.ENTRY) -> tuple[Part, ...]:
    return (Part(f"{key}_label", Role.FIELD, label, field=key),
            Part(f"{key}_optional", Role.MUTED, N_("(optional)"), field=key, when=When.OPTIONAL, beside=True,
                 prefix=" "),
            Part(key, role, field=key, above=4, grows=role is Role.TEXT_BOX),
            Part(f"{key}_error", Role.ERROR, field=key, when=When.MESSAGE, above=2),
            Part(f"{key}_gap", Role.GAP, field=key, above=8))  # the message, when there is one, takes its place


#: The request form (joining with a session code takes its place).
REQUEST_FORM = (
    Part("welcome", Role.WELCOME, brand_text="welcome"),
    Part("welcome_gap", Role.GAP, above=10),
    *_field("name", N_("Your name")),
    *_field("email", N_("Your email address")),
    # The module's topics in a read-only list (Role.ENTRY's look) beside its question, so that the form
    # still fits with every field and message; picking one is required.
    Part("topic_label", Role.FIELD, N_("What is it about?"), field="topic", when=When.TOPICS),
    Part("topic", Role.ENTRY, field="topic", when=When.TOPICS, beside=True),
    Part("topic_error", Role.ERROR, field="topic", when=When.MESSAGE, above=2),
    Part("topic_gap", Role.GAP, field="topic", when=When.TOPICS, above=8),
    *_field("description", N_("What do you need help with?"), Role.TEXT_BOX),
    Part("send_details", Role.CHECK, N_("Send details about this computer"), when=When.DIAGNOSTICS, above=2),
    Part("details_summary", Role.MUTED, when=When.DIAGNOSTICS, wrap=TEXT_WIDTH - 180, indent=22),
    Part("details_toggle", Role.LINK, N_("What is sent?"), when=When.DIAGNOSTICS, beside=True, right=True),
    Part("details_gap", Role.GAP, when=When.DIAGNOSTICS, above=10),
    Part("submit", Role.PRIMARY_BUTTON, N_("Request help"), above=4),
)
#: The form page: the request form, its message, and the way to join with a session code instead.
FORM_PAGE = (
    *REQUEST_FORM,
    Part("form_message", Role.ERROR, when=When.MESSAGE, above=8),
    Part("code_link", Role.LINK, N_("I have a session code"), above=4),
)

#: The request page: the session code, the status in words, and what the customer can do.
REQUEST_PAGE = (
    Part("code_title", Role.MUTED, N_("Your session code")),
    # The topic the customer picked, at the right of the title: the page has no line to spare.
    Part("topic_shown", Role.MUTED, when=When.MESSAGE, beside=True, right=True, wrap=TEXT_WIDTH // 2),
    Part("code", Role.CODE, above=6),  # in a box of CODE_BOX_PADDING
    Part("copy", Role.SMALL_BUTTON, N_("Copy"), beside=True, right=True),
    Part("code_hint", Role.MUTED, above=4),
    Part("status_dot", Role.STATUS, STATUS_DOT, above=14),
    Part("status", Role.STATUS, beside=True, wrap=TEXT_WIDTH - 30),
    # Where the request stands in its group's queue (sosqueue.waiting_room), once the queue says.
    Part("waiting_room", Role.BODY, when=When.MESSAGE, above=8),
    # What the request's supporters tell the customer while it waits (sosqueue.waiting_room), as plain text;
    # shown in place of the detail below (the brand's waiting text), so that the page still fits.
    Part("waiting_message", Role.WELCOME, when=When.MESSAGE, above=8),
    Part("detail", Role.BODY, above=8),
    Part("privacy", Role.MUTED, brand_text="privacy", when=When.OPEN, above=8),
    Part("connection", Role.MUTED, when=When.MESSAGE, above=8),
    Part("notice", Role.ERROR, when=When.MESSAGE, above=8),
    Part("note", Role.ENTRY, when=When.OPEN, above=12),
    Part("add_note", Role.BUTTON, N_("Add a note"), when=When.OPEN, beside=True),
    Part("cancel", Role.BUTTON, N_("Cancel request"), when=When.OPEN, right=True, above=12),
    Part("again", Role.PRIMARY_BUTTON, N_("Request help again"), when=When.FINAL, beside=True, right=True),
    Part("chat", Role.TEXT_BOX, when=When.MESSAGE, above=14, grows=True),
)
PAGES = {"form": FORM_PAGE, "request": REQUEST_PAGE}


def rows(parts) -> Iterator[tuple[Part, ...]]:
    """``parts`` in rows: each part with the ``beside`` parts that follow it."""
    row: list[Part] = []
    for part in parts:
        if row and not part.beside:
            yield tuple(row)
            row = []
        row.append(part)
    if row:
        yield tuple(row)


def part(key: str) -> Part:
    """The part named ``key`` on either page."""
    return next(part for page in PAGES.values() for part in page if part.key == key)


@dataclass(frozen=True)
class State:
    """A state of the window the preview shows: a page, and on the request page the request's status."""

    name: str
    page: str
    status: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


#: The states the preview draws, in its order.
PREVIEW_STATES = (State("form", "form"), State("waiting", "request", Status.NEW), State("closed", "request", Status.CLOSED))


def shown(part: Part, state: State, fields, *, diagnostics: bool, topics: bool = False) -> bool:
    """Whether ``part`` is on screen in ``state`` before the customer does anything.

    :param fields: the module's field modes (``sosqueue.module_config.Fields``).
    :param diagnostics: whether the module offers to send details about the computer.
    :param topics: whether the module offers topics to pick from.
    """
    mode = field_mode(part.field, fields)
    return mode != "hidden" and {
        When.ALWAYS: True, When.OPEN: not state.final, When.FINAL: state.final, When.DIAGNOSTICS: diagnostics,
        When.TOPICS: topics, When.OPTIONAL: mode == "optional", When.MESSAGE: False,
    }[part.when]


def field_mode(field: str, fields) -> str:
    """How the form asks for ``field``: the module's mode for it; the topic (when offered at all) is required."""
    return getattr(fields, field) if field and field != "topic" else "required"


# -- the words -----------------------------------------------------------------------------

#: The window's built-in texts, for a brand that does not give its own (sosqueue.module_config.BRAND_TEXTS).
BUILT_IN_TEXTS = {
    "welcome": N_("Tell us briefly what the problem is, then click Request help. A supporter will take care of it."),
    "waiting": N_("A supporter will be with you shortly. You can keep working meanwhile."),
    "closed": N_("Thank you. If you need help again, click Request help again."),
    "privacy": N_("Your supporter sees your screen only after you allow it."),
}
# Plain words for what the window shows as the request's status (the queue's, or the agent's own
# ``sending`` and ``offline``).
STATUS_TEXTS = {
    Progress.SENDING: N_("Sending your request…"),
    Progress.OFFLINE: N_("You are offline — your request is saved and will be sent automatically."),
    Status.NEW: N_("Waiting for a supporter…"),
    Status.PENDING: N_("Waiting for a supporter…"),
    Status.IN_PROGRESS: N_("A supporter is connected."),
    Status.CLOSED: N_("Your request is closed."),
    Status.EXPIRED: N_("Your request has expired."),
}
# What the line under the session code says, by status.
CODE_HINT = N_("Tell this code to your supporter when they ask for it.")
CODE_HINTS = {
    Progress.SENDING: N_("Your session code appears here once your request has arrived."),
    Progress.OFFLINE: N_("You will get a session code once your request has been sent."),
    Status.CLOSED: N_("This session code is no longer valid."),
    Status.EXPIRED: N_("This session code is no longer valid."),
}
# The line under the status: a brand text kind, or a message.
STATUS_DETAILS = {
    Progress.SENDING: "waiting", Progress.OFFLINE: "waiting", Status.NEW: "waiting", Status.PENDING: "waiting",
    Status.IN_PROGRESS: N_("Your supporter is working on your request."),
    Status.CLOSED: "closed",
    Status.EXPIRED: N_("No supporter took it on in time. If you still need help, click Request help again."),
}
# Where the request stands in its group's queue (sosqueue.waiting_room.WaitingRoom), in words.
POSITION_TEXT = N_("You are number {position} in the queue.")
WAIT_SOON = N_("Expected wait: less than a minute.")
WAIT_A_MINUTE = N_("Expected wait: about a minute.")
WAIT_MINUTES = N_("Expected wait: about {minutes} minutes.")
ASSIGNEE_TEXT = N_("{name} will help you.")
TOPIC_SHOWN = N_("About: {topic}")


def wait_minutes(seconds: int) -> int:
    """An expected wait in whole minutes as a person would say it: to the minute under ten, to five
    under an hour, to ten beyond (the estimate is a median, not a promise)."""
    minutes = seconds / 60
    step = 1 if minutes < 10 else 5 if minutes < 60 else 10
    return max(1, round(minutes / step) * step)


def waiting_room_lines(room, gettext_: Callable[[str], str]) -> list[str]:
    """What the window says of ``room`` (a ``sosqueue.waiting_room.WaitingRoom``): only what the queue
    knows, nothing for what it does not."""
    lines = []
    if room.position is not None:
        lines.append(gettext_(POSITION_TEXT).format(position=room.position))
    if room.expected_wait_seconds is not None:
        minutes = wait_minutes(room.expected_wait_seconds)
        if room.expected_wait_seconds < 60:
            lines.append(gettext_(WAIT_SOON))
        elif minutes == 1:
            lines.append(gettext_(WAIT_A_MINUTE))
        else:
            lines.append(gettext_(WAIT_MINUTES).format(minutes=minutes))
    if room.assignee:
        lines.append(gettext_(ASSIGNEE_TEXT).format(name=room.assignee))
    return lines


#: The statuses in which the window shows the supporters' waiting message: until a supporter is connected.
WAITING_MESSAGE_STATUSES = frozenset({Status.NEW, Status.PENDING})
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def waiting_message(room, status: str) -> str:
    """The supporters' waiting message of ``room`` (a ``sosqueue.waiting_room.WaitingRoom`` or None) as the
    window shows it for a request in ``status``: plain text, its lines kept, control and direction-changing
    characters left out; "" once a supporter is connected or the request is over."""
    if room is None or status not in WAITING_MESSAGE_STATUSES:
        return ""
    text = room.message.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL_CHARACTERS.sub("", text).strip()


# The diagnostics keys (agent.diagnostics.collect, in its order) in the words the customer reads.
DIAGNOSTIC_LABELS = {
    "os": N_("Operating system"),
    "os_version": N_("System version"),
    "machine": N_("Processor type"),
    "hostname": N_("Computer name"),
    "agent_version": N_("Support module version"),
    "locale": N_("Language setting"),
}


@dataclass(frozen=True)
class Wording:
    """What a part says: a message to translate, or the brand's text of a kind (``brand``)."""

    message: str = ""
    brand: str = ""


def wording(part: Part, status: str = "") -> Wording:
    """What ``part`` says on a request in ``status`` (its fixed text on every other part)."""
    if part.key == "status":
        return Wording(STATUS_TEXTS.get(status, status))
    if part.key == "code_hint":
        return Wording(CODE_HINTS.get(status, CODE_HINT))
    if part.key == "detail":
        detail = STATUS_DETAILS.get(status, "")
        return Wording(brand=detail) if detail in BUILT_IN_TEXTS else Wording(detail)
    return Wording(part.text, part.brand_text)


def say(words: Wording, brand, language: str, gettext_: Callable[[str], str]) -> str:
    """``words`` as the window shows them: the brand's own text in ``language``, else the
    built-in one, translated with ``gettext_``.

    :param brand: the module's brand (``sosqueue.module_config.Brand``).
    """
    if words.brand:
        return brand.text(words.brand, language) or gettext_(BUILT_IN_TEXTS[words.brand])
    return gettext_(words.message) if words.message else ""


def text_of(part: Part, brand, language: str, gettext_: Callable[[str], str], status: str = "") -> str:
    """What ``part`` shows for a request in ``status`` (see :func:`say`)."""
    words = say(wording(part, status), brand, language, gettext_)
    return part.prefix + words if words else ""


def details_summary(keys, gettext_: Callable[[str], str]) -> str:
    """The diagnostics line: the names of what would be sent, in the customer's words."""
    return ", ".join(gettext_(DIAGNOSTIC_LABELS.get(key, key)) for key in keys)


def translation(language: str) -> gettext.NullTranslations:
    """The window's texts in ``language`` (English, or a missing catalogue, gives the messages)."""
    return i18n.translation(DOMAIN, language, i18n.LOCALE_DIR)
