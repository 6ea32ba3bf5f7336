"""Request limits of the API server: the largest request body it reads, and a token bucket
per access key (AWS throttles per caller and answers `ThrottlingException: Rate exceeded`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A RegisterTaskDefinition of many containers is a few tens of KiB; 1 MiB leaves room and
# keeps one client from making the server buffer an arbitrary amount.
DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024
# Requests per second per key (ECS's own API throttles around this rate for Describe/List
# calls); a key may spend twice that at once.
DEFAULT_RATE = 50.0


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; a request takes one (a full bucket at first)."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = float("-inf")

    def take(self, now: float) -> bool:
        """Take one token at time `now` (seconds, monotonic); False when none is left."""
        if self.updated != float("-inf"):
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """One token bucket per access key id. `rate` <= 0 turns the limit off."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Whether the key may make one more request now (taking a token if so)."""
        if self.rate <= 0:
            return True
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            return bucket.take(self._clock())


class BodyTooLarge(Exception):
    """The request body is longer than the server's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit
