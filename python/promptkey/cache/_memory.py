"""`MemoryStore`: the embedded default store (one process, LRU, TTL fixed at write)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from promptkey._exceptions import InvalidOptionError
from promptkey.cache._lock import Flights

__all__ = ["MemoryStore"]


class MemoryStore:
    """An in-process LRU of envelopes, serving both `get_or_call` and `aget_or_call`.

    Within one process the single flight already makes one caller compute per key, so the "lock" here only
    has to say whether a value is present; nothing ever waits on it. Entries expire at the TTL given when
    they were written (a read does not extend them) and the least recently used entry goes first when
    `max_entries` is reached.
    """

    is_async = False
    serves_sync = True
    serves_async = True

    def __init__(self, max_entries: int = 10_000) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidOptionError(f"max_entries must be a positive int, got {max_entries!r}")
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.flights = Flights()
        self.breaker = None

    def __len__(self) -> int:
        with self._lock:
            self._purge(time.monotonic())
            return len(self._data)

    def _purge(self, now: float) -> None:
        for skey in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[skey]

    # --- the store protocol used by ResponseCache (see _redis.py for the Redis version) ---

    def bind(self, store_timeout: float) -> MemoryStore:
        return self

    def get(self, skey: str) -> bytes | None:
        with self._lock:
            item = self._data.get(skey)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._data[skey]
                return None
            self._data.move_to_end(skey)
            return item[1]

    def acquire(self, skey: str, token: str, lock_ms: int, seen: bytes | None) -> tuple[int, bytes | int]:
        data = self.get(skey)
        if data is not None and data != seen:
            return 0, data
        return 1, b""

    def write(self, skey: str, data: bytes, ttl_ms: int, token: str | None, lock_ms: int) -> None:
        with self._lock:
            self._data[skey] = (time.monotonic() + ttl_ms / 1000, data)
            self._data.move_to_end(skey)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def release(self, skey: str, token: str, lock_ms: int) -> None:
        return None

    def extend(self, skey: str, token: str, lock_ms: int) -> bool:
        return True

    def wait(self, skey: str, timeout: float) -> bool:  # pragma: no cover - acquire never reports a holder
        raise AssertionError("MemoryStore never reports a lock holder")

    def delete(self, skey: str) -> bool:
        with self._lock:
            return self._data.pop(skey, None) is not None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries}, entries={len(self._data)})"
