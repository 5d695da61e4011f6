"""What the running app holds: settings, database, event broker, secret, webhook delivery ids, waiting rooms' history."""

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.config import Settings
from server.db import Database
from server.event_ids import EventIds
from server.events import Broker
from server.models import InstanceSecret
from server.waiting_room import HistoryCache


@dataclass
class AppState:
    settings: Settings
    db: Database
    broker: Broker
    secret_key: str
    delivery_ids: EventIds
    waiting_history: HistoryCache = field(default_factory=HistoryCache)


def load_secret_key(db: Database, settings: Settings) -> str:
    """The configured key, or the one kept in the database (made on first start)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    with db.read() as session:
        stored = session.scalar(select(InstanceSecret.value).where(InstanceSecret.name == "customer_tokens"))
    if stored:
        return stored
    try:
        with db.write() as session:
            session.add(InstanceSecret(name="customer_tokens", value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another server process made it first; use theirs
    return load_secret_key(db, settings)
