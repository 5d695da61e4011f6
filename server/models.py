"""The queue's tables (SQLAlchemy 2). Schema changes go through a migration in ``migrations/``."""

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

OPEN_STATUS_SQL = "status IN ('new', 'pending', 'in_progress')"
UNASSIGNED_SQL = "assignee_id IS NULL"
PENDING_NOTIFICATION_SQL = "delivered_at IS NULL AND failed_at IS NULL"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes everywhere, also on SQLite, which stores them without a zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Company settings, changed on the dashboard's admin pages. No expiry → the server's default.
    expiry_hours: Mapped[float | None] = mapped_column(Float)
    notify_emails: Mapped[str] = mapped_column(Text, default="")  # comma-separated addresses
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    webhook_secret: Mapped[str] = mapped_column(String(100), default="")


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Routing (server/routing.py): minutes until an unassigned, or an assigned but not joined, request
    # alerts (None: never); with reassign_on_lapse it then moves to the next available supporter.
    unassigned_alert_minutes: Mapped[int | None] = mapped_column(Integer)
    unjoined_alert_minutes: Mapped[int | None] = mapped_column(Integer)
    reassign_on_lapse: Mapped[bool] = mapped_column(Boolean, default=False)

    members: Mapped[list["User"]] = relationship(secondary="group_members", back_populates="groups")


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company: Mapped[Company] = relationship()
    groups: Mapped[list[Group]] = relationship(secondary="group_members", back_populates="members")


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)


class ApiToken(Base):
    """A user's bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Module(Base):
    """One personalised support module; its token may only file requests for its company/group."""

    __tablename__ = "modules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    name: Mapped[str] = mapped_column(String(100))
    assignment: Mapped[str] = mapped_column(String(300), default="none")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token is derived from the server's secret key and this nonce (new at every rotation),
    # so a download can stamp it; NULL for tokens made at random, which cannot be derived.
    token_nonce: Mapped[str | None] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_assigned_user_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company: Mapped[Company] = relationship()
    group: Mapped[Group | None] = relationship()
    brand: Mapped["ModuleBrand | None"] = relationship()


class ModuleBrand(Base):
    """A module's brand, the source of truth for its downloads and builds (``server/brands.py``).

    ``settings`` holds the brand's names, colours and texts as ``branding.model.Brand`` takes them,
    ``options`` the module's options (``sosqueue.module_config.Options``, fields included); the logo
    is kept as PNG. ``version`` goes up with every change, so that a module can tell it is behind.
    """

    __tablename__ = "module_brands"

    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id"), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON)
    options: Mapped[dict] = mapped_column(JSON)
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_requests_company_id", "company_id", "id"),
        Index("ix_requests_company_status_id", "company_id", "status", "id"),
        Index("ix_requests_company_assignee_id", "company_id", "assignee_id", "id"),
        Index(
            "ix_requests_open_deadline",
            "valid_until",
            sqlite_where=text(OPEN_STATUS_SQL),
            postgresql_where=text(OPEN_STATUS_SQL),
        ),
        # The waiting rooms: a group's open requests, oldest first, and its recent first joins.
        Index(
            "ix_requests_open_group_id",
            "company_id",
            "group_id",
            "id",
            sqlite_where=text(OPEN_STATUS_SQL),
            postgresql_where=text(OPEN_STATUS_SQL),
        ),
        Index("ix_requests_group_first_joined", "company_id", "group_id", "first_joined_at"),
        # The queue listing, newest first: open requests (by anyone, or by one assignee) and unassigned
        # ones. PostgreSQL reads no order from an IS NULL condition, hence a partial index of its own.
        Index("ix_requests_open_id", "company_id", "id",
              sqlite_where=text(OPEN_STATUS_SQL), postgresql_where=text(OPEN_STATUS_SQL)),
        Index("ix_requests_open_assignee_id", "company_id", "assignee_id", "id",
              sqlite_where=text(OPEN_STATUS_SQL), postgresql_where=text(OPEN_STATUS_SQL)),
        Index("ix_requests_unassigned_id", "company_id", "id",
              sqlite_where=text(UNASSIGNED_SQL), postgresql_where=text(UNASSIGNED_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    module_id: Mapped[str | None] = mapped_column(ForeignKey("modules.id"))
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    topic: Mapped[str] = mapped_column(String(60), default="")  # the label the customer picked, "" for none
    description: Mapped[str] = mapped_column(Text)
    end_customer_name: Mapped[str] = mapped_column(String(100), default="")
    end_customer_email: Mapped[str] = mapped_column(String(254), default="")
    diagnostics: Mapped[dict | None] = mapped_column(JSON)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[str] = mapped_column(String(50))
    session_started: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its assignee last changed, to someone or to nobody (None: not since it was filed), and when a
    # supporter first joined. A wait for a supporter starts at the first (server/urgency.py).
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Routing: when the current lapse was alerted (cleared by a new assignment), and the users who let it lapse.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lapsed_by: Mapped[list] = mapped_column(JSON, default=list)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(50))
    # Set through the API (``PUT /tv/api/v1/sessions/{code}`` among others): a message shown to the waiting
    # customer in the agent, and an integration's own data, never shown to anyone.
    waiting_message: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    custom_api: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))

    group: Mapped[Group | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    participants: Mapped[list["Participant"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class Participant(Base):
    """A partner currently joined to a request's session: ``customer`` or ``user:<id>``."""

    __tablename__ = "request_participants"

    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), primary_key=True)
    party: Mapped[str] = mapped_column(String(50), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestEvent(Base):
    """Append-only history of a request; its id orders the live event streams."""

    __tablename__ = "request_events"
    __table_args__ = (
        Index("ix_events_request_id", "request_id", "id"),
        Index("ix_events_company_id", "company_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    company_id: Mapped[str] = mapped_column(String(36))
    code: Mapped[str] = mapped_column(String(9))
    type: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(12))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """Remembers which request a client's ``Idempotency-Key`` created."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(255))
    body_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class InstanceSecret(Base):
    """Secrets that every server process sharing this database must agree on."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class RateLimit(Base):
    """One caller's allowance under one shared rate limit, or a mark kept for a while (``server.ratelimit``)."""

    __tablename__ = "rate_limits"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # which limit: create, login:address…
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the caller's key
    # Seconds since the epoch when the allowance is whole again (or the mark lapses): then the row goes.
    full_at: Mapped[float] = mapped_column(Float)


class WebSession(Base):
    """A dashboard login; the cookie holds a random token, only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship()


class Notification(Base):
    """Outbox of emails and webhook calls, written in the transaction that caused them."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            sqlite_where=text(PENDING_NOTIFICATION_SQL),
            postgresql_where=text(PENDING_NOTIFICATION_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    event: Mapped[str] = mapped_column(String(30))  # request.created, request.assigned
    channel: Mapped[str] = mapped_column(String(10))  # email, webhook
    target: Mapped[str] = mapped_column(Text)  # the addresses or the URL, as configured then
    payload: Mapped[dict] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # gave up after the last retry
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
