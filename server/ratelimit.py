"""Token buckets per caller, in this process: a burst, then a steady rate."""

import threading
import time
from collections import OrderedDict

_MAX_TRACKED = 100_000


class RateLimiter:
    def __init__(self, *, per_minute: float, burst: int, clock=time.monotonic):
        self._rate = per_minute / 60.0
        self._burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def acquire(self, key: str) -> float:
        """Take one token for ``key``; returns 0 when allowed, else seconds until the next."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = 0.0
            else:
                self._buckets[key] = (tokens, now)
                allowed = (1.0 - tokens) / self._rate
            while len(self._buckets) > _MAX_TRACKED:
                self._buckets.popitem(last=False)
            return allowed
