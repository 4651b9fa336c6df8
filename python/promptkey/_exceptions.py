"""promptkey's exception tree.

    Exception
    └── PromptKeyError                  .path: where in the input (e.g. "messages[2].content[0]"), or None
        ├── CanonicalizationError       (also ValueError)  NaN/Infinity, lone surrogate, unsafe integer, cycle, depth
        ├── UnsupportedTypeError        (also TypeError)   non-str key, duplicate key text, unsupported type
        ├── InvalidOptionError          (also ValueError)  a bad option (namespace with braces, unknown mode)
        └── PromptCacheError            (also ValueError)  a request the Messages API would reject (400), with its text

Store failures never appear here: the response cache fails open and counts them instead.
"""

from __future__ import annotations

__all__ = [
    "CanonicalizationError",
    "InvalidOptionError",
    "PromptCacheError",
    "PromptKeyError",
    "UnsupportedTypeError",
]


class PromptKeyError(Exception):
    """Base class of every error promptkey raises on purpose."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        if self.path and self.path not in self.message:
            return f"{self.message} at {self.path}"
        return self.message

    def __reduce__(self) -> tuple[type[PromptKeyError], tuple[str, str | None]]:
        return (type(self), (self.message, self.path))


class CanonicalizationError(PromptKeyError, ValueError):
    """The value has no RFC 8785 canonical form (NaN, lone surrogate, unsafe integer, cycle, too deep)."""


class UnsupportedTypeError(PromptKeyError, TypeError):
    """A value of a type that has no JSON meaning (bytes, set, datetime, a generator...) or a bad key."""


class InvalidOptionError(PromptKeyError, ValueError):
    """An option outside its allowed values."""


class PromptCacheError(PromptKeyError, ValueError):
    """A request the Messages API would reject; the message is the API's own text."""
