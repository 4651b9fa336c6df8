"""The emulator's clock: real time plus an offset that tests (or `POST /_emulator/clock`) move forward."""

from __future__ import annotations

import threading
import time

from promptkey._exceptions import InvalidOptionError


class Clock:
    """A controllable clock with the `time()` method the simulator expects.

    By default it starts at real time and keeps ticking with it; `advance(seconds)` jumps forward so a test can
    expire a 5-minute cache entry without sleeping. `Clock(start, tick=False)` is frozen: only `advance` and
    `set` move it.
    """

    def __init__(self, start: float | None = None, *, tick: bool = True) -> None:
        self._lock = threading.Lock()
        self._tick = tick
        now = time.time()
        self._offset = (start - now) if (start is not None and tick) else 0.0
        self._frozen = start if start is not None else now

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset if self._tick else self._frozen

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (>= 0); returns the new time."""
        if not seconds >= 0:
            raise InvalidOptionError(f"a clock only moves forward, got advance({seconds!r})", "seconds")
        with self._lock:
            self._offset += seconds
            self._frozen += seconds
        return self.time()

    def set(self, timestamp: float) -> None:
        """Jump to `timestamp` (epoch seconds); moving backwards is allowed here, for replays."""
        with self._lock:
            self._offset = timestamp - time.time()
            self._frozen = timestamp

    def __repr__(self) -> str:
        return f"Clock({self.time():.3f}, tick={self._tick})"
