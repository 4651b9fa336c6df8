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

# --- prefix / simulator / planner ---
from promptkey._core import PreparedRequest, PromptCacheSimulator
from promptkey.planner import Plan, plan

# --- response cache ---

# --- prices and cost ---

__all__ = [
    "CanonicalizationError",
    "InvalidOptionError",
    "Plan",
    "PreparedRequest",
    "PromptCacheError",
    "PromptCacheSimulator",
    "PromptKeyError",
    "UnsupportedTypeError",
    "__version__",
    "plan",
]
