"""A sliding-window rate limiter for login attempts (429 past the limit).

Password guessing is only slowed by argon2; this caps how often anyone may try. The
default is 5 attempts per 60 seconds per key, where the caller's key is
`(username, client address)`: one address cannot hammer one account, and an attacker
guessing one account from many addresses is still held to 5 a minute for each.

A sliding window (the timestamps of the last `limit` attempts) has no boundary to
exploit, unlike fixed one-minute buckets that allow 2x the limit across a boundary.
Memory is bounded twice over: each key keeps at most `limit` timestamps, and at most
`max_keys` keys are kept. Keys whose attempts have all left the window are dropped as
new hits arrive; past `max_keys`, the least recently hit key goes. Evicting a live
key only forgets its attempts: a flood of fresh keys (each one a request) can reset a
counter, but can never grow the process.

Time is injected (`now`, seconds from any monotonic clock), so the tests need no sleep
and a node's wall-clock jump cannot extend or lift a block. Each limiter is local to
its node: Raft-replicating login attempts would cost far more than it protects.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Hashable

DEFAULT_LIMIT = 5
DEFAULT_WINDOW = 60.0
DEFAULT_MAX_KEYS = 10_000


class SlidingWindowLimiter:
    """At most `limit` hits per `window` seconds per key; thread-safe."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit, window and max_keys must be positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # Ordered by last hit, oldest first: the eviction order.
        self._hits: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: Hashable, now: float) -> bool:
        """Would one more attempt for `key` at `now` be within the limit? Records nothing."""
        with self._lock:
            return len(self._live(key, now)) < self.limit

    def hit(self, key: Hashable, now: float) -> None:
        """Record one attempt for `key` at `now`."""
        with self._lock:
            times = self._live(key, now)
            times.append(now)
            self._hits[key] = times
            self._hits.move_to_end(key)
            self._evict(now)

    def attempt(self, key: Hashable, now: float) -> bool:
        """Check and record in one step: True (and recorded) when within the limit.

        A refused attempt is not recorded, so a blocked caller that keeps trying is
        let back in when its window passes instead of being blocked forever.
        """
        with self._lock:
            times = self._live(key, now)
            if len(times) >= self.limit:
                return False
            times.append(now)
            self._hits[key] = times
            self._hits.move_to_end(key)
            self._evict(now)
            return True

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until `key` may try again; 0.0 when it may now."""
        with self._lock:
            times = self._live(key, now)
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - now)

    def reset(self, key: Hashable) -> None:
        """Forget `key`'s attempts, e.g. after a successful login."""
        with self._lock:
            self._hits.pop(key, None)

    def __len__(self) -> int:
        """How many keys are held (for tests and metrics)."""
        with self._lock:
            return len(self._hits)

    def _live(self, key: Hashable, now: float) -> deque[float]:
        """`key`'s timestamps still inside the window at `now` (a new deque if none).

        A key whose attempts have all expired is dropped, so reads shrink memory too.
        """
        times = self._hits.get(key)
        if times is None:
            return deque(maxlen=self.limit)
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._hits[key]
        return times

    def _evict(self, now: float) -> None:
        """Drop expired keys from the front, then the least recently hit past `max_keys`.

        Keys are ordered by last hit, so every expired key sits before every live one
        and each call does work only for what it removes.
        """
        while self._hits:
            key, times = next(iter(self._hits.items()))
            expired = not times or times[-1] <= now - self.window
            if not expired and len(self._hits) <= self.max_keys:
                return
            del self._hits[key]
