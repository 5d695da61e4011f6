"""Which :class:`~sosqueue.updates.Policy` applies: IT's machine policy, else what the install implies."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sosqueue.updates import BadPolicy, Policy

log = logging.getLogger("sosqueue.agent.update")


@dataclass(frozen=True)
class PolicySource:
    """Where IT sets the policy (``where``, for messages) and how to read it (``None``: not set).

    ``read`` raises :class:`~sosqueue.updates.BadPolicy` for a setting it cannot use.
    """

    where: str
    read: Callable[[], Policy | None]


def policy_file(path: Path) -> PolicySource:
    """IT's policy in a file (the platforms' :data:`~sosqueue.updates.POLICY_FILES`, or a test's)."""
    from agent.platforms._base import read_policy_file

    return PolicySource(str(path), lambda: read_policy_file(path))


def system_policy() -> PolicySource:
    """IT's policy where this platform keeps it (the platform backend reads it)."""
    from agent import platforms

    try:
        desktop = platforms.backend()
    except ImportError as error:
        log.info("no update policy on this system: %s", error)
        return PolicySource("", lambda: None)
    return PolicySource(desktop.update_policy_source(), desktop.update_policy)


def effective_policy(source: PolicySource, *, machine_wide: bool) -> tuple[Policy, str]:
    """IT's policy if it set one, else ``NOTIFY`` for a machine-wide install, else ``AUTO``; and
    what is wrong with IT's setting (``""`` if nothing).

    A policy IT set but that cannot be read counts as ``OFF``: IT asked for something, and
    "auto" is the one thing it surely did not ask for.
    """
    try:
        policy = source.read()
    except BadPolicy as error:
        log.warning("%s; until then this agent does not look for updates", error)
        return Policy.OFF, str(error)
    if policy is not None:
        log.info("update policy %s, set by IT in %s", policy, source.where)
        return policy, ""
    return (Policy.NOTIFY if machine_wide else Policy.AUTO), ""
