"""Backoff policies for publish retries and subscription reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and by total time.

    Attempt ``n`` (0-based) that failed transiently is followed by a pause of
    ``min(max_backoff, initial_backoff * multiplier**n)``, randomised by +-``jitter``.
    Retrying stops once ``max_attempts`` attempts were made (``None``: no limit) or
    ``total_timeout`` seconds passed since the first attempt (``None``: no limit).
    """

    max_attempts: int | None = 10
    total_timeout: float | None = 30.0
    #: Deadline of one attempt (one RPC), seconds.
    attempt_timeout: float = 10.0
    initial_backoff: float = 0.05
    max_backoff: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` consecutive failures (>= 1)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** max(0, failed_attempts - 1))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))

    def exhausted(self, failed_attempts: int, elapsed: float, next_pause: float) -> bool:
        """True when no further attempt may be made."""
        if self.max_attempts is not None and failed_attempts >= self.max_attempts:
            return True
        return self.total_timeout is not None and elapsed + next_pause >= self.total_timeout


#: Publish: up to 10 attempts within 30 s, each attempt at most 10 s.
DEFAULT_PUBLISH_RETRY = RetryPolicy()

#: Subscriptions: reconnect without an attempt limit, but give up after 60 s without a
#: successful (re)connection. The counters reset whenever a response arrives.
DEFAULT_RECONNECT = RetryPolicy(max_attempts=None, total_timeout=60.0)
