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

# --- prices and cost ---

__all__ = [
    "CanonicalizationError",
    "InvalidOptionError",
    "PromptCacheError",
    "PromptKeyError",
    "UnsupportedTypeError",
    "__version__",
    "canonical_json",
    "key_material",
    "make_key",
    "make_keys",
]
