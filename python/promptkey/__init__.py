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
# isort: split
from promptkey._core import PreparedRequest, PromptCacheSimulator
from promptkey.planner import Plan, plan

# --- response cache ---

# --- prices and cost ---
# isort: split
# `promptkey.cost` is the function; its module's other names are re-exported here
from promptkey.cost import Cost, Tokens, cost, fold_usage, usage_tokens
from promptkey.prices import UnknownModelError, load_prices
from promptkey.tokenizers import Calibrator, CountTokens

__all__ = [
    "Calibrator",
    "CanonicalizationError",
    "Cost",
    "CountTokens",
    "InvalidOptionError",
    "Plan",
    "PreparedRequest",
    "PromptCacheError",
    "PromptCacheSimulator",
    "PromptKeyError",
    "Tokens",
    "UnknownModelError",
    "UnsupportedTypeError",
    "__version__",
    "cost",
    "fold_usage",
    "load_prices",
    "plan",
    "usage_tokens",
]
