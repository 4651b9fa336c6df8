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

# --- prices and cost ---

__all__ = [
    "Block",
    "CanonicalizationError",
    "Divergence",
    "InvalidOptionError",
    "Plan",
    "PrefixChain",
    "PreparedRequest",
    "PromptCacheError",
    "PromptCacheSimulator",
    "PromptKeyError",
    "UnsupportedTypeError",
    "__version__",
    "canonical_json",
    "diff",
    "key_material",
    "make_key",
    "make_keys",
    "plan",
    "prefix_blocks",
    "set_thinking_in_system_models",
    "thinking_in_system_models",
]
