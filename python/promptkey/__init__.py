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

# isort: split
# --- prefix / simulator / planner ---
from promptkey._core import (
    Block,
    Divergence,
    PrefixChain,
    PreparedRequest,
    PromptCacheSimulator,
    diff,
    prefix_blocks,
    set_thinking_in_system_models,
    thinking_in_system_models,
)
from promptkey.planner import Plan, plan

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


# isort: split
# --- prices and cost ---
# `promptkey.cost` is the function; its module's other names are re-exported here
from promptkey.cost import Cost, Tokens, cost, fold_usage, usage_tokens
from promptkey.prices import UnknownModelError, load_prices
from promptkey.tokenizers import Calibrator, CountTokens

__all__ = [
    "AsyncRedisStore",
    "Block",
    "CacheResult",
    "CacheStats",
    "Calibrator",
    "CanonicalizationError",
    "CircuitBreaker",
    "Cost",
    "CountTokens",
    "Divergence",
    "InvalidOptionError",
    "MemoryStore",
    "Plan",
    "PrefixChain",
    "PreparedRequest",
    "PromptCacheError",
    "PromptCacheSimulator",
    "PromptKeyError",
    "RedisStore",
    "ResponseCache",
    "Tokens",
    "UnknownModelError",
    "UnsupportedTypeError",
    "__version__",
    "canonical_json",
    "cost",
    "diff",
    "fold_usage",
    "key_material",
    "load_prices",
    "make_key",
    "make_keys",
    "plan",
    "prefix_blocks",
    "set_thinking_in_system_models",
    "thinking_in_system_models",
    "usage_tokens",
]
