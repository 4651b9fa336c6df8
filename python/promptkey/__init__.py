"""promptkey: never pay twice for the same LLM work."""

from __future__ import annotations

from promptkey._core import __version__
from promptkey._exceptions import (
    CanonicalizationError,
    InvalidOptionError,
    PromptCacheError,
    PromptKeyError,
    UnsupportedTypeError,
)

# isort: split
# --- keys ---
from promptkey._core import canonical_json, key_material, make_key, make_keys

# --- prefix / simulator / planner ---

# --- response cache ---
# isort: split
from typing import TYPE_CHECKING

from promptkey.cache import CacheResult, CacheStats, CircuitBreaker, MemoryStore, ResponseCache

if TYPE_CHECKING:
    from promptkey.cache import AsyncRedisStore, RedisStore


def __getattr__(name: str) -> object:
    # RedisStore / AsyncRedisStore need redis-py (the `promptkey[redis]` extra): imported on first use.
    if name in ("RedisStore", "AsyncRedisStore"):
        import promptkey.cache

        return getattr(promptkey.cache, name)
    raise AttributeError(f"module 'promptkey' has no attribute {name!r}")


# --- prices and cost ---

__all__ = [
    "AsyncRedisStore",
    "CacheResult",
    "CacheStats",
    "CanonicalizationError",
    "CircuitBreaker",
    "InvalidOptionError",
    "MemoryStore",
    "PromptCacheError",
    "PromptKeyError",
    "RedisStore",
    "ResponseCache",
    "UnsupportedTypeError",
    "__version__",
    "canonical_json",
    "key_material",
    "make_key",
    "make_keys",
]
