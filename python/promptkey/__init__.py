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

# --- keys ---

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
    "diff",
    "prefix_blocks",
    "set_thinking_in_system_models",
    "thinking_in_system_models",
]
