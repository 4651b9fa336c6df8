"""A circuit breaker for the response cache's store: a dead or frozen Redis costs one timeout, not one per call."""

from __future__ import annotations

import threading
import time

from promptkey._exceptions import InvalidOptionError

__all__ = ["BreakerOpen", "CircuitBreaker", "StoreError"]


class CircuitBreaker:
    """Closed → open after `failure_threshold` consecutive failures → one probe after `reset_timeout`.

    A failed probe reopens the breaker for twice as long, capped at `max_reset_timeout` (so a dead store is
    probed again at least every 30 s by default); a successful one closes it. While open, or while a probe is
    in flight, `allow()` is False and the cache skips the store (status `fallback`) without touching the
    network. Thread-safe; the asyncio store uses it from one thread.
    """

    def __init__(
        self, *, failure_threshold: int = 3, reset_timeout: float = 1.0, max_reset_timeout: float = 30.0
    ) -> None:
        if failure_threshold < 1:
            raise InvalidOptionError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if not 0 < reset_timeout <= max_reset_timeout:
            raise InvalidOptionError(
                f"need 0 < reset_timeout <= max_reset_timeout, got {reset_timeout} and {max_reset_timeout}"
            )
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.max_reset_timeout = max_reset_timeout
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self._backoff = reset_timeout
        self._probe_started: float | None = None
        self.attempts = 0  # store operations let through
        self.rejections = 0  # store operations refused while open
        self.opened = 0  # times the breaker opened

    @property
    def state(self) -> str:
        """`"closed"`, `"open"` or `"half-open"` (a probe may go, or is in flight)."""
        with self._lock:
            if self._failures < self.failure_threshold:
                return "closed"
            if self._probe_started is not None or time.monotonic() >= self._open_until:
                return "half-open"
            return "open"

    def allow(self) -> bool:
        # Closed is the hot path (every cache hit): decide it without the lock; reading an int is atomic.
        if self._failures < self.failure_threshold:
            self.attempts += 1  # a statistic: a lost increment under thread contention is acceptable
            return True
        with self._lock:
            if self._failures < self.failure_threshold:
                self.attempts += 1
                return True
            now = time.monotonic()
            # A probe that never reported (its thread died) must not keep the breaker shut forever.
            stuck = self._probe_started is not None and now - self._probe_started > self.max_reset_timeout
            if now >= self._open_until and (self._probe_started is None or stuck):
                self._probe_started = now
                self.attempts += 1
                return True
            self.rejections += 1
            return False

    def success(self) -> None:
        if self._failures == 0 and self._probe_started is None:
            return  # already closed and clean: nothing to reset (the hot path)
        with self._lock:
            self._failures = 0
            self._probe_started = None
            self._backoff = self.reset_timeout

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probe_started is not None:
                # The probe failed: stay open, and wait longer before the next one.
                self._probe_started = None
                self._backoff = min(self._backoff * 2, self.max_reset_timeout)
                self._open_until = time.monotonic() + self._backoff
            elif self._failures == self.failure_threshold:
                self.opened += 1
                self._open_until = time.monotonic() + self._backoff

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failure_threshold={self.failure_threshold})"


class StoreError(Exception):
    """A store operation failed or timed out (never reaches the caller: the cache falls back and counts it)."""


class BreakerOpen(StoreError):
    """A store operation skipped because the breaker is open (a fallback, but not a new error)."""
