"""Checks that run beside the window in a daemon thread: updates, the brand."""

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("sosqueue.agent")


class PeriodicChecks:
    """Calls ``check`` in a daemon thread after ``first_delay`` seconds, then every ``interval``, and at
    once when woken; a check that fails is logged and the next one runs as planned.

    :param only_while_polled: after the first, interval checks run only while :meth:`poll` is on
        (the brand, while the window is on screen); woken checks always run.
    """

    def __init__(self, check: Callable[[], object], *, name: str, interval: float, first_delay: float = 0.0,
                 only_while_polled: bool = False):
        self._check = check
        self._interval = interval
        self._first_delay = first_delay
        self._only_while_polled = only_while_polled
        self._polling = threading.Event()
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poll(self, on: bool) -> None:
        (self._polling.set if on else self._polling.clear)()

    def wake(self) -> None:
        self._woken.set()

    def stop(self) -> None:
        self._stopped.set()
        self._woken.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        due = True
        self._woken.wait(self._first_delay)
        while not self._stopped.is_set():
            self._woken.clear()
            if due:
                self._run_check()
            woken = self._woken.wait(self._interval)
            due = woken or not self._only_while_polled or self._polling.is_set()

    def _run_check(self) -> None:
        try:
            self._check()
        except Exception:
            log.exception("the check in %s failed", self._thread.name)
