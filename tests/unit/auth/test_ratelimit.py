"""The sliding-window login limiter: window, retry-after and bounded memory."""

from __future__ import annotations

import pytest

from conflux_node.auth.ratelimit import SlidingWindowLimiter

KEY = ("alice", "10.0.0.1")


def test_five_per_minute_then_refused() -> None:
    limiter = SlidingWindowLimiter()
    for second in range(5):
        assert limiter.attempt(KEY, float(second))
    assert not limiter.attempt(KEY, 5.0)
    assert not limiter.check(KEY, 59.0)
    # Other users and other addresses are not affected.
    assert limiter.check(("alice", "10.0.0.2"), 5.0)
    assert limiter.check(("bob", "10.0.0.1"), 5.0)


def test_window_slides_one_attempt_at_a_time() -> None:
    limiter = SlidingWindowLimiter(limit=5, window=60.0)
    for t in (0.0, 10.0, 20.0, 30.0, 40.0):
        limiter.hit(KEY, t)
    assert not limiter.check(KEY, 59.9)
    assert limiter.retry_after(KEY, 59.0) == pytest.approx(1.0)
    assert limiter.check(KEY, 60.0), "the attempt at 0 left the window"
    assert limiter.attempt(KEY, 60.0)
    assert not limiter.check(KEY, 60.0)
    assert limiter.retry_after(KEY, 60.0) == pytest.approx(10.0)
    assert limiter.retry_after(KEY, 70.0) == 0.0


def test_no_fixed_window_boundary_burst() -> None:
    limiter = SlidingWindowLimiter(limit=5, window=60.0)
    for _ in range(5):
        assert limiter.attempt(KEY, 59.0)
    assert not limiter.attempt(KEY, 61.0), "a fixed bucket would reset at 60"


def test_refused_attempts_are_not_counted() -> None:
    limiter = SlidingWindowLimiter(limit=2, window=10.0)
    limiter.attempt(KEY, 0.0)
    limiter.attempt(KEY, 0.0)
    for t in range(1, 10):
        assert not limiter.attempt(KEY, float(t))
    assert limiter.attempt(KEY, 10.0)


def test_check_records_nothing_and_reset_forgets() -> None:
    limiter = SlidingWindowLimiter(limit=1, window=10.0)
    for _ in range(5):
        assert limiter.check(KEY, 0.0)
    limiter.hit(KEY, 0.0)
    assert not limiter.check(KEY, 1.0)
    limiter.reset(KEY)
    assert limiter.check(KEY, 1.0)


def test_expired_keys_are_dropped() -> None:
    limiter = SlidingWindowLimiter(limit=5, window=60.0)
    for n in range(100):
        limiter.hit(("user", n), 0.0)
    assert len(limiter) == 100
    limiter.hit(("user", "late"), 60.0)
    assert len(limiter) == 1


def test_memory_is_bounded_by_max_keys() -> None:
    limiter = SlidingWindowLimiter(limit=1, window=60.0, max_keys=3)
    for n in range(4):
        limiter.hit(n, float(n))
    assert len(limiter) == 3
    assert limiter.check(0, 4.0), "the least recently hit key was evicted"
    assert not limiter.check(3, 4.0)
    limiter.hit(1, 5.0)  # 1 becomes the most recent, so 2 goes next
    limiter.hit(9, 6.0)
    assert limiter.check(2, 6.0)
    assert not limiter.check(1, 6.0)


def test_per_key_memory_is_bounded_by_limit() -> None:
    limiter = SlidingWindowLimiter(limit=3, window=60.0)
    for t in range(1000):
        limiter.hit(KEY, t / 1000)
    assert len(limiter._hits[KEY]) == 3


@pytest.mark.parametrize("args", [(0, 60.0, 10), (5, 0.0, 10), (5, 60.0, 0)])
def test_bad_parameters(args: tuple[int, float, int]) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(*args)
