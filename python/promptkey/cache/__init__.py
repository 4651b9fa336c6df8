"""The response cache: an identical request gets the stored answer (DESIGN §5; docs/response-cache.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptkey.cache._breaker import CircuitBreaker
from promptkey.cache._cache import CacheResult, CacheStats, ResponseCache
from promptkey.cache._memory import MemoryStore
from promptkey.cache._metrics import enable_prometheus

if TYPE_CHECKING:
    from promptkey.cache._redis import AsyncRedisStore, RedisStore

__all__ = [
    "AsyncRedisStore",
    "CacheResult",
    "CacheStats",
    "CircuitBreaker",
    "MemoryStore",
    "RedisStore",
    "ResponseCache",
    "enable_prometheus",
]


def __getattr__(name: str) -> object:
    # The Redis stores import redis-py (the `promptkey[redis]` extra) only when asked for.
    if name in ("RedisStore", "AsyncRedisStore"):
        try:
            from promptkey.cache import _redis
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("redis"):
                raise
            raise ModuleNotFoundError(
                f"promptkey.{name} needs the 'redis' extra: pip install 'promptkey[redis]'", name=exc.name
            ) from None
        return getattr(_redis, name)
    raise AttributeError(f"module 'promptkey.cache' has no attribute {name!r}")
