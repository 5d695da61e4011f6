"""The compatibility API's wire models, as TeamViewer's Web API names its fields.

Bodies ignore fields they do not know (integrations send TeamViewer's whole vocabulary), and refuse
wrong types and oversized values. Dates go out as ISO 8601 in UTC with a ``Z``, to the second.
"""

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator

from server.schemas import CustomApi, Description, Email, Name, RequiredName, WaitingMessage
from server.teamviewer.ids import GROUP_PATTERN, USER_PATTERN
from server.teamviewer.states import State

#: What TeamViewer calls every session the queue serves (it also knows "Pilot", which has no place here).
SUPPORT_SESSION_TYPE = "Default"


def tv_date(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


Date = Annotated[datetime, PlainSerializer(tv_date, return_type=str, when_used="json"),
                 Field(examples=["2026-12-03T09:30:00Z"])]
UserId = Annotated[str, StringConstraints(pattern=USER_PATTERN), Field(examples=["u1234567890"])]
GroupId = Annotated[str, StringConstraints(pattern=GROUP_PATTERN), Field(examples=["g1234567890"])]


class Lenient(BaseModel):
    """A body that ignores the fields it does not know."""

    model_config = ConfigDict(extra="ignore")


class Ping(BaseModel):
    token_valid: bool = Field(description="whether the token is a user's API token this server takes")


class Account(BaseModel):
    userid: str
    name: str
    email: str
    company_name: str


class User(BaseModel):
    id: str
    name: str
    email: str


class Users(BaseModel):
    users: list[User]


class EndCustomer(Lenient):
    name: Name = ""
    email: Email = ""


class EndCustomerChange(Lenient):
    """The end customer's fields to change; those left out (or null) stay as they are."""

    name: Name | None = None
    email: Email | None = None


class SessionCreate(Lenient):
    groupid: GroupId | None = Field(None, description="the group of the session; or give groupname")
    groupname: RequiredName | None = Field(None, description="the group's name; with groupid, both must name one group")
    description: Description = ""
    end_customer: EndCustomer = Field(default_factory=EndCustomer)
    waiting_message: WaitingMessage = Field("", description="shown to the customer while the session waits")
    custom_api: CustomApi = Field("", description="an integration's own data: given back by the API, shown to nobody")

    @model_validator(mode="after")
    def _a_group(self) -> "SessionCreate":
        if self.groupid is None and self.groupname is None:
            raise ValueError("give groupid or groupname: the group the session is for")
        return self


class SessionUpdate(Lenient):
    """What to change; fields left out (or null) stay as they are."""

    description: Description | None = None
    end_customer: EndCustomerChange | None = None
    waiting_message: WaitingMessage | None = None
    custom_api: CustomApi | None = None
    assigned_userid: UserId | None = Field(None, description="a user of the company; u0 unassigns")
    groupid: GroupId | None = Field(None, description="move the session to this group")
    groupname: RequiredName | None = Field(None, description="move the session to the group of this name")
    state: Literal["closed", "Closed", "CLOSED"] | None = Field(
        None, description="closed closes the session (the only state a session can be put in)")


class Session(BaseModel):
    """A session: one service request of the queue."""

    code: str = Field(examples=["s12-345-678"])
    state: State
    groupid: str | None = Field(description="null: the request is in no group")
    description: str
    end_customer: EndCustomer
    assigned_userid: str | None = Field(description="null: nobody is assigned")
    assigned_at: Date | None
    created_at: Date
    valid_until: Date
    closed_at: Date | None = Field(description="when it was closed, or expired")
    waiting_message: str
    custom_api: str
    online: bool = Field(description="whether the customer's support module is connected to the session")
    support_session_type: Literal["Default"] = SUPPORT_SESSION_TYPE
    end_customer_link: str = Field(description="the page that tells the customer how to start the support module "
                                               "with this code")
    supporter_link: str = Field(description="the request's page in the dashboard")


class SessionBrief(BaseModel):
    """A session in a listing without ``full_list``."""

    code: str = Field(examples=["s12-345-678"])
    state: State
    groupid: str | None
    assigned_userid: str | None
    created_at: Date
    valid_until: Date


class Sessions(BaseModel):
    sessions: list[Session | SessionBrief]
    next_offset: str | None = Field(description="the offset for the next page; null on the last page")
    sessions_remaining: int = Field(ge=0, description="how many sessions come after this page")


class Connection(BaseModel):
    """One supporter's time in a request's session: from joining it to leaving it (or its end)."""

    id: str = Field(description="the record's id; as offset_id, a page starts with it")
    userid: str
    username: str = Field(description="the supporter's name, else their email")
    session_code: str
    groupid: str | None
    groupname: str | None
    contact_name: str = Field(description="the end customer's name")
    start_date: Date
    end_date: Date | None = Field(description="null while the supporter is still connected")
    duration: int | None = Field(ge=0, description="seconds from start_date to end_date; null while connected")
    support_session_type: Literal["Default"] = SUPPORT_SESSION_TYPE


class Connections(BaseModel):
    records: list[Connection]
    records_remaining: int = Field(ge=0)
    next_offset: str | None = Field(description="the offset_id of the next page; null on the last page")
