"""Sending pace for one worker: a token bucket (messages per second) and an hourly sliding window.

The bucket holds at most a tenth of a second's worth of messages (at least one), so the rate is
smooth rather than bursty. The hourly window remembers the send times of the last `hourly_limit`
messages: when it is full and its oldest entry is less than an hour old, sending waits until that
entry is an hour old. Zero disables either limit. The clock and sleep are injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

HOUR = 3600.0
EPSILON = 1e-6  # waits shorter than this are rounding noise, not a reason to sleep


class Throttle:
    def __init__(
        self,
        rate: float,
        hourly_limit: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ):
        self.rate = float(rate or 0)
        self.hourly_limit = int(hourly_limit or 0)
        self.clock = clock
        self.sleep = sleep
        self.capacity = max(1.0, self.rate / 10)
        self.tokens = self.capacity
        self.updated = clock()
        self.window: deque[float] = deque(maxlen=self.hourly_limit or None)

    def _refill(self, now: float) -> None:
        if self.rate > 0:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds to wait before the next message may go (0: now). Changes nothing."""
        now = self.clock()
        wait = 0.0
        if self.rate > 0:
            tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            if tokens < 1:
                wait = (1 - tokens) / self.rate
        if self.hourly_limit and len(self.window) >= self.hourly_limit:
            wait = max(wait, self.window[0] + HOUR - now)
        return wait if wait > EPSILON else 0.0

    def acquire(self, stopping: Callable[[], bool] | None = None) -> bool:
        """Wait until a message may go, then count it. False (nothing counted) if `stopping()`
        turns true while waiting; long waits are slept in steps of at most a second."""
        while (wait := self.delay()) > 0:
            if stopping is not None and stopping():
                return False
            self.sleep(min(wait, 1.0))
        now = self.clock()
        self._refill(now)
        if self.rate > 0:
            self.tokens -= 1
        if self.hourly_limit:
            self.window.append(now)
        return True
