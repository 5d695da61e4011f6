"""The API's models: Create / Update / Public families, validated at the edge."""

import json
import math
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints, create_model,
                      field_validator)

from server import event_ids
from server.assignment import MAX_ALERT_MINUTES, MIN_ALERT_MINUTES, parse_strategy
from sosqueue.events import MAX_NOTE_CHARS, EventType
from sosqueue.module_config import BRAND_TEXTS, MAX_TOPIC_CHARS, MAX_TOPICS, TEXT_LANGUAGES
from sosqueue.platforms import Platform
from sosqueue.statuses import Status
from sosqueue.waiting_room import MAX_WAITING_MESSAGE_CHARS

MAX_DIAGNOSTICS_BYTES = 8 * 1024
_MAX_DIAGNOSTICS_DEPTH = 4
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def _check_text(value: str, *, multiline: bool) -> str:
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError("contains an invalid Unicode surrogate; send UTF-8 text")
        if unicodedata.category(char) == "Cc" and not (multiline and char in _ALLOWED_CONTROLS):
            raise ValueError(f"contains the control character U+{ord(char):04X}; remove it")
    return value.strip()


#: A query parameter's pattern: control characters never reach the database.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def _storable(value: str) -> str:
    """Opaque text kept as given: only what no database column can hold is refused."""
    if "\x00" in value:
        raise ValueError("contains the character U+0000, which cannot be stored; remove it")
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise ValueError("contains an invalid Unicode surrogate; send UTF-8 text")
    return value


def _single_line(value: str) -> str:
    return _check_text(value, multiline=False)


def _multi_line(value: str) -> str:
    return _check_text(value, multiline=True)


def _email(value: str) -> str:
    if value and (value.count("@") != 1 or value.startswith("@") or value.endswith("@")):
        raise ValueError("is not an email address like name@example.com")
    return value


def _line(max_length: int, min_length: int = 0):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_single_line)]


Name = _line(100)
RequiredName = _line(100, min_length=1)
Topic = _line(MAX_TOPIC_CHARS, min_length=1)
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_single_line), AfterValidator(_email)]
Description = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_multi_line)]
WaitingMessage = Annotated[str, StringConstraints(max_length=MAX_WAITING_MESSAGE_CHARS), AfterValidator(_multi_line)]
#: An integration's own data for a request: stored and given back through the API, never shown to anyone.
MAX_CUSTOM_API_CHARS = 4000
CustomApi = Annotated[str, StringConstraints(max_length=MAX_CUSTOM_API_CHARS), AfterValidator(_storable)]


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > _MAX_DIAGNOSTICS_DEPTH:
        raise ValueError(f"is nested deeper than {_MAX_DIAGNOSTICS_DEPTH} levels")
    if isinstance(value, str):
        _multi_line(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("contains NaN or Infinity, which JSON does not allow")
    elif isinstance(value, dict):
        for key, item in value.items():
            _single_line(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _diagnostics(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    _check_json(value)
    if len(json.dumps(value)) > MAX_DIAGNOSTICS_BYTES:
        raise ValueError(f"is larger than {MAX_DIAGNOSTICS_BYTES} bytes as JSON")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndCustomer(Strict):
    name: Name = ""
    email: Email = ""


class ServiceRequestCreate(Strict):
    description: Description = ""
    end_customer: EndCustomer = Field(default_factory=EndCustomer)
    group: Name | None = None
    topic: Topic | None = Field(None, description="what the request is about: one of the module's topics "
                                "(it routes the request to that topic's group)")
    diagnostics: Annotated[dict[str, Any] | None, AfterValidator(_diagnostics)] = None
    waiting_message: WaitingMessage = Field("", description="shown to the customer while the request waits")
    custom_api: CustomApi = Field("", description="an integration's own data: given back by the API, shown to nobody")


def _note_text(value: str) -> str:
    text = _multi_line(value)
    if not text:
        raise ValueError("is empty; write what the customer wants to add")
    return text


class NoteCreate(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NOTE_CHARS), AfterValidator(_note_text)] = Field(
        description=f"what the customer adds to the request, 1 to {MAX_NOTE_CHARS} characters"
    )


class AssignRequest(Strict):
    user: _line(36) | None = Field(
        description='"me", a user id of the same company, or null to unassign'
    )


class ActorPublic(BaseModel):
    type: Literal["user", "module", "customer", "system"]
    id: str | None = None


class UserRef(BaseModel):
    id: str
    email: str | None = Field(description="null for a customer's or a module's token: a supporter's address "
                                          "is theirs to give")


class SessionPublic(BaseModel):
    customer_joined: bool
    experts_joined: int


class ServiceRequestPublic(BaseModel):
    code: str = Field(examples=["s12-345-678"])
    status: Status
    description: str
    end_customer: EndCustomer
    group: str | None
    topic: str = Field("", description="the topic the customer picked; empty for none")
    waiting_message: str = Field("", description="shown to the customer while the request waits; empty for none")
    assignee: UserRef | None
    source: Literal["manual", "module", "sos"]
    session: SessionPublic
    diagnostics: dict[str, Any] | None
    created_at: datetime
    valid_until: datetime
    closed_at: datetime | None
    closed_by: ActorPublic | None


class ServiceRequestCreated(ServiceRequestPublic):
    customer_token: str = Field(
        description="Lets the request's creator follow, join and close it; keep it secret"
    )


class ServiceRequestsPublic(BaseModel):
    items: list[ServiceRequestPublic]
    next: str | None = Field(description="cursor for the next page, or null on the last page")


class EventPublic(BaseModel):
    id: str = Field(pattern=event_ids.PATTERN, description=(
        "the event's id: opaque, it tells nothing of order or of other companies; the same id as the "
        "live streams send, which Last-Event-ID resumes after"))
    type: EventType
    code: str
    status: Status
    actor: ActorPublic
    data: dict[str, Any]
    created_at: datetime


class WaitingRoomPublic(BaseModel):
    """Where the customer's request stands (``sosqueue.waiting_room``); the agent asks every
    ``POLL_SECONDS`` while it waits, and at once on each of the request's events."""

    status: Status
    position: int | None = Field(ge=1, description=(
        "1 for the next request to be taken in the request's group: its open requests that nobody is "
        "assigned to and no supporter has joined, oldest first; null once the request is out of that queue"))
    expected_wait_seconds: int | None = Field(ge=0, description=(
        "how much longer until a supporter probably joins, from the group's recent times to first join; "
        "null when the history is too thin to say, or while position is null"))
    assignee: str | None = Field(description=(
        "the display name of the supporter the request is assigned to; null while unassigned or when "
        "that supporter has no display name (the email address is never shown)"))
    message: str = Field("", max_length=MAX_WAITING_MESSAGE_CHARS, description=(
        "what the request's supporters tell the waiting customer (the request's waiting message), as plain "
        "text; empty for none"))


class UserPublic(BaseModel):
    id: str
    email: str
    role: Literal["admin", "supporter"]
    available: bool
    active: bool
    groups: list[str]


class UsersPublic(BaseModel):
    items: list[UserPublic]


class AvailabilityUpdate(Strict):
    available: StrictBool


AlertMinutes = Annotated[int, Field(strict=True, ge=MIN_ALERT_MINUTES, le=MAX_ALERT_MINUTES)]


class GroupRouting(Strict):
    """When a group's waiting requests alert, and whether they then move on (server/routing.py)."""

    unassigned_alert_minutes: AlertMinutes | None = Field(
        None, description="alert when an open request has waited this long unassigned; null: never")
    unjoined_alert_minutes: AlertMinutes | None = Field(
        None, description="alert when an assigned request has waited this long with no supporter joined; null: never")
    reassign_on_lapse: StrictBool = Field(
        False, description="on such an alert, give the request to the group's next available supporter "
                           "(never back to one who let it lapse)")


class GroupCreate(GroupRouting):
    name: RequiredName
    members: list[_line(254)] = Field(
        default_factory=list, description="emails of users of the same company"
    )


class GroupUpdate(Strict):
    """The routing settings to change; the ones left out stay as they are."""

    unassigned_alert_minutes: AlertMinutes | None = None
    unjoined_alert_minutes: AlertMinutes | None = None
    reassign_on_lapse: StrictBool = None


class GroupPublic(BaseModel):
    id: str
    name: str
    members: list[str]
    unassigned_alert_minutes: int | None
    unjoined_alert_minutes: int | None
    reassign_on_lapse: bool


class GroupsPublic(BaseModel):
    items: list[GroupPublic]


class ModuleCreate(Strict):
    name: RequiredName
    group: Name | None = None
    assignment: _line(300) = "none"

    @field_validator("assignment")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        parse_strategy(value)
        return value


class ModulePublic(BaseModel):
    id: str
    name: str
    group: str | None
    assignment: str
    revoked: bool
    created_at: datetime


class ModuleCreated(ModulePublic):
    token: str = Field(description="the module token; shown once, stored only as a hash")
    update_key: str = Field(
        description="the server's public update key (base64 Ed25519); a module built with it trusts "
                    "only this server's agent updates"
    )


class ModulesPublic(BaseModel):
    items: list[ModulePublic]


class OfferPublic(BaseModel):
    """The base agent the server offers a platform's modules (``sosqueue.updates.Offer``)."""

    platform: Platform
    version: str = Field(examples=["0.1.0"], description="the agent version of the base, X.Y.Z")
    sha256: str = Field(description="of the base file, lowercase hex")
    size: int = Field(description="of the base file, in bytes")
    built: str = Field(examples=["2026-12-02T05:00:00Z"], description="when the base was built (UTC), from its base.json")
    signature: str = Field(
        description="base64 Ed25519 signature by the server's update key over platform, version, built, sha256 and size"
    )


FieldMode = Literal["required", "optional", "hidden"]


class BrandFields(Strict):
    """Which of the request form's fields the module shows (``sosqueue.module_config.Fields``)."""

    name: FieldMode = "optional"
    email: FieldMode = "optional"
    description: FieldMode = "required"


class BrandTopic(Strict):
    """One of the module's topics (``sosqueue.module_config.Topic``)."""

    label: Topic = Field(description="as the customer reads it; a request carries it")
    group: Name = Field("", description="the group its requests go to; empty keeps the module's own group")


class BrandOptions(Strict):
    """The module's options (``sosqueue.module_config.Options``), as ``[options]`` in a module config."""

    sos_shortcut: StrictBool = True
    start_menu: StrictBool = True
    autostart: StrictBool = False
    file_immediately: StrictBool = False
    diagnostics: StrictBool = True
    fields: BrandFields = BrandFields()
    topics: list[BrandTopic] = Field([], max_length=MAX_TOPICS, description=(
        'what the customer may pick from ("What is it about?"); none: the module asks no such question'))


# Long enough for every brand text; the brand's own rules (branding.model.Brand) check the rest.
BrandText = Annotated[str, StringConstraints(max_length=2000)]


#: A brand's texts in one language (``sosqueue.module_config.BRAND_TEXTS``); "" leaves the built-in text.
BrandTexts = create_model("BrandTexts", __base__=Strict, **{kind: (BrandText, "") for kind in BRAND_TEXTS})
BrandTexts.__doc__ = "The brand's own texts in one language; an empty one leaves the agent's built-in text."


class BrandUpdate(Strict):
    """A module's brand as ``[brand]`` and ``[options]`` of a module config have it, without the logo
    (``PUT …/brand/logo``). Missing settings take the default brand's values."""

    company: BrandText = "sosqueue"
    product: BrandText = "Support"
    primary: BrandText = "#0B5FFF"
    accent: BrandText = "#E5262A"
    on_primary: BrandText | None = Field(None, description="text colour on primary; null picks one")
    window_title: BrandText = ""
    welcome: BrandText = ""
    waiting: BrandText = ""
    language: BrandText = "auto"
    texts: dict[Literal[TEXT_LANGUAGES], BrandTexts] = Field(
        {}, description="texts per language; they win over welcome and waiting, which apply to every language")
    force_contrast: StrictBool = False
    options: BrandOptions = BrandOptions()


class BrandPublic(BrandUpdate):
    """The brand the server keeps for a module; downloads and builds of the module carry it."""

    model_config = ConfigDict(extra="ignore")
    version: int = Field(description="goes up with every change of the brand, its options or its logo")
    logo_url: str | None = Field(description="the logo as PNG; null: the default logo")
    logo_sha256: str | None = Field(description="of the PNG at logo_url")
    updated_at: datetime | None = Field(description="null: the module has no brand of its own yet (the default)")
