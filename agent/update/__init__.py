"""The agent keeps itself current: it asks its server for a signed offer and follows it.

:class:`Updater` decides and acts for one module file: the policy (:mod:`agent.update.policy`),
the offer (fetched with the module's :class:`~agent.client.QueueClient`, its signature checked
with the stamped key before any field is trusted), and for ``AUTO`` the install
(:mod:`agent.update.install`). The running app checks in a background thread
(:class:`BackgroundChecks`) and restarts into a new agent when idle; ``--update`` checks once.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agent import __version__
from agent.background import PeriodicChecks
from agent.client import QueueClient
from agent.errors import ModuleRevoked, Rejected, StorageFailure, Unreachable, UpdateFailed, UpdateRefused
from agent.outbox import write_atomically
from agent.update import install
from agent.update.install import Swap
from agent.update.policy import PolicySource, effective_policy, system_policy
from sosqueue import module_config, payload
from sosqueue.module_config import ModuleConfig
from sosqueue.platforms import Platform, current
from sosqueue.updates import (CHECK_INTERVAL_SECONDS, BadOffer, Offer, Policy, installed_by_package,
                              is_newer_or_rebuilt, version_tuple)

__all__ = ["BackgroundChecks", "Outcome", "PolicySource", "Result", "Swap", "Updater", "make_updater",
           "system_policy"]

log = logging.getLogger("sosqueue.agent.update")

FIRST_CHECK_SECONDS = 30
FAILED_FILE = "update-failed.json"  # the offer that did not install: not tried again
ANNOUNCED_FILE = "update-announced.json"  # the version the customer was told about (NOTIFY)
CONFIRM_FILE = "update-started"


class Outcome(StrEnum):
    NO_KEY = "no-key"
    FROM_SOURCE = "from-source"
    OFF = "off"
    NONE_OFFERED = "none-offered"
    CURRENT = "current"
    AVAILABLE = "available"  # NOTIFY: IT installs it
    FAILED_BEFORE = "failed-before"
    UPDATED = "updated"  # swapped now
    INSTALLED = "installed"  # swapped earlier (e.g. by --update), this process still runs the old one


@dataclass(frozen=True)
class Result:
    """What a check found or did: ``line`` says it in one line (``--update`` prints it)."""

    outcome: Outcome
    line: str
    offer: Offer | None = None
    swap: Swap | None = None


class Updater:
    """Updates of one module file.

    :param executable: the module file this process runs (``agent.module.own_location()``),
        ``None`` when run from source: then it never replaces itself.
    :param policy: where IT sets the policy (tests pass a file of their own).
    :param state_dir: the agent's data folder, for what it remembers between checks.
    """

    def __init__(self, config: ModuleConfig, *, executable: Path | None, client: QueueClient,
                 policy: PolicySource, state_dir: Path, platform: Platform | None = None,
                 version: str = __version__, preflight_timeout: float = install.PREFLIGHT_TIMEOUT):
        self.config = config
        self.executable = executable
        self.client = client
        self.policy_source = policy
        self.state_dir = state_dir
        self.platform = platform or current()
        self.version = version
        self.preflight_timeout = preflight_timeout

    @property
    def confirm_file(self) -> Path:
        return self.state_dir / CONFIRM_FILE

    def policy(self) -> tuple[Policy, str]:
        """The policy in force, and what is wrong with IT's setting (see :func:`effective_policy`).

        A machine-wide install never replaces itself, whatever the policy says.
        """
        wide = self.executable is not None and installed_by_package(self.executable)
        policy, problem = effective_policy(self.policy_source, machine_wide=wide)
        return (Policy.NOTIFY if wide and policy is Policy.AUTO else policy), problem

    def check(self, *, retry_failed: bool = False) -> Result:
        """Ask the server and, if the policy lets this agent, install its offer (not restart).

        :param retry_failed: try an offer that failed before (IT asked with ``--update``).
        :raises UpdateRefused: the offer or its file cannot be trusted, or the new agent does not start.
        :raises UpdateFailed: it cannot be fetched or installed now.
        :raises ModuleRevoked: the server switched this module off.
        """
        refusal = self._refusal()
        if refusal is not None:
            return self._decided(refusal)
        policy, problem = self.policy()
        if policy is Policy.OFF:
            line = f"updates are off: {problem}" if problem else \
                f"updates are switched off by IT ({self.policy_source.where})"
            return self._decided(Result(Outcome.OFF, line))
        self._forget_previous()
        offer = self.fetch_offer()
        if offer is None:
            return self._decided(Result(Outcome.NONE_OFFERED, f"the server has no agent for {self.platform.label}"))
        if not is_newer_or_rebuilt(offer, running_version=self.version, running_base_sha256=self.config.base_sha256,
                                   running_base_built=self.config.base_built):
            return self._decided(Result(Outcome.CURRENT, self._current_line(offer), offer))
        if policy is Policy.NOTIFY:
            return self._decided(Result(Outcome.AVAILABLE, f"IT manages updates on this computer: "
                                                           f"version {offer.version} is available", offer))
        return self._decided(self._follow(offer, retry_failed=retry_failed))

    def fetch_offer(self) -> Offer | None:
        """The server's offer for this platform, its signature checked; ``None`` if it has none."""
        try:
            data = self.client.update_offer(self.platform)
        except Rejected as error:
            if error.status == 404:
                return None
            raise UpdateFailed(f"the support server refused the update check ({error})") from None
        except Unreachable as error:
            raise UpdateFailed(f"{error} No update now.") from None
        try:
            offer = Offer.from_json(data)
            offer.verify(self.config.update_key)
        except BadOffer as error:
            raise UpdateRefused(str(error)) from None
        if offer.platform != self.platform:
            raise UpdateRefused(f"the server offers an agent for {offer.platform}, not for {self.platform}: not installed")
        return offer

    def restart(self, installed: Swap, offer: Offer) -> bool:
        """Restart into the installed update (this process has let go of the lock and the tray).

        :return: ``True`` if the new agent runs; ``False`` if it did not start and the previous one runs again.
        """
        log.info("restarting into version %s", offer.version)
        try:
            self.confirm_file.parent.mkdir(parents=True, exist_ok=True)
            if install.restart(installed, self.confirm_file):
                log.info("the update to %s runs", offer.version)
                return True
        except OSError as error:
            log.error("the update to %s did not start and %s cannot be restored (%s); reinstall the "
                      "support module", offer.version, installed.previous, error.strerror or error)
            return False
        log.warning("the update to %s did not start; rolled back to %s", offer.version, self.version)
        self._remember_failure(offer)
        return False

    # -- steps ---------------------------------------------------------------------------------

    def _refusal(self) -> Result | None:
        if not self.config.update_key:
            return Result(Outcome.NO_KEY, "this module has no update key; it does not update itself")
        if self.executable is None:
            return Result(Outcome.FROM_SOURCE, "this agent runs from source; it does not update itself")
        if self.executable.is_dir():
            return Result(Outcome.FROM_SOURCE, "this module is a macOS app bundle; it does not update itself yet")
        return None

    def _follow(self, offer: Offer, *, retry_failed: bool) -> Result:
        installed = self._installed_base()
        if installed == offer.sha256:
            return Result(Outcome.INSTALLED, f"version {offer.version} is already installed",
                          offer, Swap(self.executable, install.previous_of(self.executable)))
        failed = self._read(FAILED_FILE).get("sha256")
        if failed == offer.sha256 and not retry_failed:
            return Result(Outcome.FAILED_BEFORE, f"the update to {offer.version} failed before; not trying it again",
                          offer)
        try:
            swapped = self._install(offer)
        except UpdateRefused as error:
            self._remember_failure(offer)
            log.warning("the update to %s was refused: %s", offer.version, error)
            raise
        (self.state_dir / FAILED_FILE).unlink(missing_ok=True)
        return Result(Outcome.UPDATED, f"updated {self.version} → {offer.version}", offer, swapped)

    def _install(self, offer: Offer) -> Swap:
        executable = self.executable
        base = new = None
        install.remove_leftovers(executable)
        try:
            base = install.staging_file(executable, ".download")
            new = install.staging_file(executable, ".new")
            install.download(self.client.update_file(self.platform), offer, base)
            install.restamp(base, executable, offer, new)
            install.preflight(new, self.config.module_id, timeout=self.preflight_timeout)
            return install.swap(new, executable)
        except Unreachable as error:
            raise UpdateFailed(f"{error} Not installed; the agent tries again later.") from None
        except Rejected as error:
            raise UpdateFailed(f"the support server refused the download ({error}): not installed") from None
        except OSError as error:
            raise UpdateFailed(f"the update cannot be written beside {executable} "
                               f"({error.strerror or error}): not installed") from None
        finally:
            for staged in (base, new):
                if staged is not None:
                    staged.unlink(missing_ok=True)

    def _installed_base(self) -> str:
        """The base SHA-256 of the module file on disk (it differs from ours after an update)."""
        try:
            return module_config.parse(payload.read(self.executable)).base_sha256
        except (payload.PayloadError, OSError):
            return ""

    def _forget_previous(self) -> None:
        """Remove ``<name>.previous`` once the file on disk is the one running (the update took)."""
        previous = install.previous_of(self.executable)
        if not previous.exists() or not self.config.base_sha256 or self._installed_base() != self.config.base_sha256:
            return
        try:
            previous.unlink()
            log.info("removed %s, kept from before the last update", previous)
        except OSError as error:
            log.info("cannot remove %s yet: %s", previous, error.strerror or error)

    def _current_line(self, offer: Offer) -> str:
        if version_tuple(offer.version) < version_tuple(self.version):
            return f"the server offers {offer.version}, older than this agent's {self.version}; staying"
        return f"up to date ({self.version})"

    def _decided(self, result: Result) -> Result:
        log.info("update check: %s", result.line)
        return result

    # -- what the agent remembers --------------------------------------------------------------

    def _remember_failure(self, offer: Offer) -> None:
        self._write(FAILED_FILE, {"sha256": offer.sha256, "version": offer.version})

    def should_announce(self, offer: Offer) -> bool:
        """Whether the customer has not yet been told about this version (NOTIFY); remembers it."""
        if self._read(ANNOUNCED_FILE).get("version") == offer.version:
            return False
        self._write(ANNOUNCED_FILE, {"version": offer.version})
        return True

    def _read(self, name: str) -> dict:
        try:
            data = json.loads((self.state_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, name: str, data: dict) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(self.state_dir / name, json.dumps(data).encode())
        except (OSError, StorageFailure) as error:  # then it is only asked again next time
            log.info("cannot remember %s in %s: %s", data, self.state_dir, getattr(error, "strerror", None) or error)


def make_updater(config: ModuleConfig) -> Updater:
    """The updater of this running module, with its own client (it runs in its own thread)."""
    from agent.module import own_location
    from agent.paths import data_dir

    client = QueueClient(config, user_agent=f"sosqueue-agent/{__version__}")
    return Updater(config, executable=own_location(), client=client, policy=system_policy(),
                   state_dir=data_dir(config.module_id))


class BackgroundChecks(PeriodicChecks):
    """The update checks: after ``first_delay`` seconds, then every ``interval``, and at once when woken."""

    def __init__(self, check: Callable[[], None], *, first_delay: float = FIRST_CHECK_SECONDS,
                 interval: float = CHECK_INTERVAL_SECONDS):
        super().__init__(check, name="sosqueue-updates", interval=interval, first_delay=first_delay)


def check_once(updater: Updater) -> Result | None:
    """A background check: its result, or ``None`` after logging why there is none now."""
    try:
        return updater.check()
    except (UpdateRefused, UpdateFailed) as error:
        log.info("no update now: %s", error)
    except ModuleRevoked:
        log.info("no update: the server switched this module off")
    return None
