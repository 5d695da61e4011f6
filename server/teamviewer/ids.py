"""TeamViewer-style ids for our users (``u…``) and groups (``g…``): stable, and mapped back to ours.

The digits are a hash of our id, so an id never changes and needs no column of its own. Going
back scans the company's users or groups (a company has tens or hundreds): an id names a user of
the caller's company or nothing, whatever it names elsewhere. Two of one company with the same
digits (about one chance in 10**8 for a company of 150) are refused loudly rather than mixed up.
"""

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Group, User

USER_PREFIX = "u"
GROUP_PREFIX = "g"
#: ``assigned_userid`` of nobody: unassigns in a change, finds the unassigned in a listing.
NOBODY = "u0"
_DIGEST_BYTES = 5  # 40 bits: up to 13 digits
USER_PATTERN = r"^u[0-9]{1,13}$"
GROUP_PATTERN = r"^g[0-9]{1,13}$"


class IdCollision(RuntimeError):
    """Two users (or groups) of one company map to the same TeamViewer id."""


def _digits(our_id: str) -> str:
    digest = hashlib.blake2b(our_id.encode(), digest_size=_DIGEST_BYTES, person=b"sosqueue-tv-id").digest()
    return str(int.from_bytes(digest, "big") or 1)  # never 0: u0 means nobody


def user_tv_id(user_id: str) -> str:
    return USER_PREFIX + _digits(user_id)


def group_tv_id(group_id: str) -> str:
    return GROUP_PREFIX + _digits(group_id)


def find_user(session: Session, company_id: str, tv_id: str) -> User | None:
    """The company's active user with this id; None for any other id."""
    if not re.fullmatch(USER_PATTERN, tv_id):
        return None
    users = session.scalars(select(User).where(User.company_id == company_id, User.active.is_(True)))
    return _only(tv_id, [user for user in users if user_tv_id(user.id) == tv_id])


def find_group(session: Session, company_id: str, tv_id: str) -> Group | None:
    """The company's group with this id; None for any other id."""
    if not re.fullmatch(GROUP_PATTERN, tv_id):
        return None
    groups = session.scalars(select(Group).where(Group.company_id == company_id))
    return _only(tv_id, [group for group in groups if group_tv_id(group.id) == tv_id])


def _only(tv_id: str, found: list):
    if len(found) > 1:
        raise IdCollision(f"{tv_id} names {len(found)} of this company ({', '.join(item.id for item in found)}); "
                          "sosqueue refuses to guess which one is meant")
    return found[0] if found else None
