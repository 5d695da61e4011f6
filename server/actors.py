"""Who is calling: a user, a module, a request's customer, or the server itself."""

from dataclasses import dataclass
from typing import Literal

from server.models import Module, User

ActorKind = Literal["user", "module", "customer", "system"]
#: How a user is written into a request's history: ``user:<id>``.
USER_KEY_PREFIX = "user:"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    company_id: str | None
    user: User | None = None
    module: Module | None = None
    request_id: int | None = None  # the one request a customer token opens

    @property
    def key(self) -> str:
        """How the actor is written into a request's history (``user:<id>``, ``customer``…)."""
        if self.kind == "user":
            return USER_KEY_PREFIX + self.user.id
        if self.kind == "module":
            return f"module:{self.module.id}"
        return self.kind

    @property
    def is_staff(self) -> bool:
        """One of the company's users, who see colleagues' email addresses (a customer or module does not)."""
        return self.kind == "user"

    @property
    def is_admin(self) -> bool:
        return self.kind == "user" and self.user.role == "admin"


SYSTEM = Actor(kind="system", company_id=None)


def actor_public(key: str | None) -> dict | None:
    """``user:<id>`` → ``{"type": "user", "id": …}``; ``customer`` → ``{"type": "customer"}``."""
    if key is None:
        return None
    kind, _, ident = key.partition(":")
    return {"type": kind, "id": ident or None}
