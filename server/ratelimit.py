"""Token buckets: the message-rate limit of one connection, and of one client address."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ClientBuckets", "TokenBucket"]


class TokenBucket:
    """Allows ``rate`` events per second on average and bursts of up to ``burst``.

    Args:
        rate: tokens added per second (> 0).
        burst: bucket capacity (>= 1).
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def full(self) -> bool:
        """Whether the bucket has refilled to its burst (its past use no longer matters)."""
        elapsed = self._clock() - self._last
        return self._tokens + elapsed * self.rate >= self.burst

    def allow(self) -> bool:
        """Take one token if there is one; False means the event exceeds the rate."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ClientBuckets:
    """One :class:`TokenBucket` per client address, shared by all its connections (so that
    opening more websockets or data channels does not buy more messages). A bucket is kept
    while its address has a connection open, and after that until it has refilled (closing
    and reopening connections does not buy a fresh burst either).

    Args:
        rate, burst: of each address's bucket.
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        TokenBucket(rate, burst, clock)  # validates the arguments
        self.rate, self.burst = rate, burst
        self._clock = clock
        self._buckets: dict[str, tuple[TokenBucket, int]] = {}

    def acquire(self, client: str) -> TokenBucket:
        """The bucket of ``client`` for one more connection (call :meth:`release` once when
        that connection closes)."""
        self._prune()
        bucket, users = self._buckets.get(client) or (
            TokenBucket(self.rate, self.burst, self._clock),
            0,
        )
        self._buckets[client] = (bucket, users + 1)
        return bucket

    def release(self, client: str) -> None:
        entry = self._buckets.get(client)
        if entry is None:
            return
        bucket, users = entry
        self._buckets[client] = (bucket, max(0, users - 1))

    def _prune(self) -> None:
        """Forget addresses without connections whose bucket has refilled."""
        idle = [c for c, (bucket, users) in self._buckets.items() if not users and bucket.full()]
        for client in idle:
            del self._buckets[client]

    def __len__(self) -> int:
        return len(self._buckets)
