"""The one place the emulator turns a request into `usage`: `PromptCacheSimulator` (DESIGN §3). Nothing here
re-implements a caching rule; this module only adapts the simulator's answer to the API's usage shape and
counts tokens the same way for `count_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptkey._exceptions import PromptCacheError

__all__ = ["Biller", "PromptCacheError"]


def _as_int(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
    return int(value or 0)


def api_usage(raw: Any) -> dict[str, Any]:
    """The simulator's usage as the API writes it (the cache_creation split always present)."""
    split = raw.get("cache_creation") if isinstance(raw, Mapping) else getattr(raw, "cache_creation", None)
    w5 = _as_int(split or {}, "ephemeral_5m_input_tokens")
    w1 = _as_int(split or {}, "ephemeral_1h_input_tokens")
    if split is None:  # no split reported: every write is a 5-minute write
        w5 = _as_int(raw, "cache_creation_input_tokens")
    return {
        "input_tokens": _as_int(raw, "input_tokens"),
        "cache_creation_input_tokens": w5 + w1,
        "cache_read_input_tokens": _as_int(raw, "cache_read_input_tokens"),
        "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
    }


class Biller:
    """Owns the emulator's simulator. `bill` changes cache state; `count` never does."""

    def __init__(
        self,
        *,
        clock: Any,
        min_tokens: Any = None,
        tokenizer: Callable[[Mapping[str, Any]], int] | None = None,
    ) -> None:
        self._options: dict[str, Any] = {"clock": clock, "tokenizer": tokenizer, "min_tokens": min_tokens}
        self.simulator = self._new()

    def _new(self) -> Any:
        import promptkey

        return promptkey.PromptCacheSimulator(**self._options)

    def bill(self, request: Mapping[str, Any], *, scope: str, first_token_after: float = 0.0) -> dict[str, Any]:
        """Usage for one `/v1/messages` request (input classes only); raises `PromptCacheError` like the API."""
        raw = self.simulator.submit(dict(request), api_key=scope, first_token_after=first_token_after)
        return api_usage(raw)

    def count(self, request: Mapping[str, Any]) -> int:
        """The prompt total that request's usage would show, from a scratch simulator (no cache side effects),
        so `count_tokens` can never disagree with billing."""
        usage = api_usage(self._new().submit(dict(request), api_key="count_tokens"))
        return int(usage["input_tokens"] + usage["cache_creation_input_tokens"] + usage["cache_read_input_tokens"])
