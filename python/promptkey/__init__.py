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
    diff,
    prefix_blocks,
    set_thinking_in_system_models,
    thinking_in_system_models,
)

# --- response cache ---

# --- prices and cost ---

__all__ = [
    "Block",
    "CanonicalizationError",
    "Divergence",
    "InvalidOptionError",
    "PrefixChain",
    "PromptCacheError",
    "PromptKeyError",
    "UnsupportedTypeError",
    "__version__",
    "canonical_json",
    "diff",
    "key_material",
    "make_key",
    "make_keys",
    "prefix_blocks",
    "set_thinking_in_system_models",
    "thinking_in_system_models",
]
