"""What a call cost (DESIGN §7): `cost(usage, model)` prices the four input classes plus output, and the
no-cache baseline, against the dated price table of `promptkey.prices`.

Usage accounting rules, each one a bug seen in the wild (docs/reference §6, §12):
- `input_tokens` is only the uncached tail: the prompt is `input + cache_read + cache_creation`, never
  `input_tokens` alone, and cache tokens are never added to it a second time;
- a cache write with a `cache_creation` split is priced by the split; without one it is all 5-minute;
- streamed usage is cumulative: `message_delta` repeats the totals so far, so a stream's usages are folded by
  taking the latest value of each field (`fold_usage`), never by adding them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from promptkey._exceptions import InvalidOptionError
from promptkey.prices import PricesSource, load_prices

__all__ = ["Cost", "Tokens", "cost", "fold_usage", "usage_tokens"]

_PER = 1_000_000.0


@dataclass(frozen=True)
class Tokens:
    """A usage split into disjoint classes: every prompt token is in exactly one of the first four."""

    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0

    @property
    def prompt(self) -> int:
        """All input tokens of the request: uncached + read + written."""
        return self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Cost:
    """USD by token class; `total` is their sum, `baseline` the same tokens priced with no caching."""

    input: float = 0.0
    cache_read: float = 0.0
    cache_write_5m: float = 0.0
    cache_write_1h: float = 0.0
    output: float = 0.0
    total: float = 0.0
    baseline: float = 0.0

    @property
    def saving(self) -> float:
        """USD that caching saved (negative when writes cost more than they returned)."""
        return self.baseline - self.total

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def _get(usage: Any, name: str) -> Any:
    if isinstance(usage, Mapping):
        return usage.get(name)
    return getattr(usage, name, None)


def _count(value: Any, path: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOptionError(f"token count must be an integer >= 0, got {value!r}", path)
    return value


def _as_usage(obj: Any) -> Any:
    """A Message, a stream's final message or an event carries its usage in `.usage` / `["usage"]`."""
    if isinstance(obj, Mapping):
        if "usage" in obj and isinstance(obj["usage"], Mapping):
            return obj["usage"]
        message = obj.get("message")
        if isinstance(message, Mapping) and isinstance(message.get("usage"), Mapping):
            return message["usage"]
        return obj
    if hasattr(obj, "input_tokens") or hasattr(obj, "output_tokens"):
        return obj
    inner = getattr(obj, "usage", None)
    if inner is not None:
        return inner
    message = getattr(obj, "message", None)
    if message is not None and getattr(message, "usage", None) is not None:
        return message.usage
    raise InvalidOptionError(f"expected a usage (an sdk Usage, a dict or a Message), got {type(obj).__name__}", "usage")


def usage_tokens(usage: Any) -> Tokens:
    """Split a usage (SDK `Usage`/`MessageDeltaUsage`, a dict, a `Message`) into disjoint token classes."""
    u = _as_usage(usage)
    written = _count(_get(u, "cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    split = _get(u, "cache_creation")
    w5, w1 = written, 0
    if split is not None:  # the split decides when present
        w5 = _count(_get(split, "ephemeral_5m_input_tokens"), "usage.cache_creation.ephemeral_5m_input_tokens")
        w1 = _count(_get(split, "ephemeral_1h_input_tokens"), "usage.cache_creation.ephemeral_1h_input_tokens")
        if w5 + w1 == 0 and written:  # a 0/0 split beside a real write (seen on web-search turns) is no split
            w5 = written
    return Tokens(
        input=_count(_get(u, "input_tokens"), "usage.input_tokens"),
        cache_read=_count(_get(u, "cache_read_input_tokens"), "usage.cache_read_input_tokens"),
        cache_write_5m=w5,
        cache_write_1h=w1,
        output=_count(_get(u, "output_tokens"), "usage.output_tokens"),
    )


_NO_USAGE = frozenset(
    {"content_block_start", "content_block_delta", "content_block_stop", "ping", "message_stop", "text", "input_json"}
    | {"citation", "thinking", "signature"}
)
_FOLDED = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


def fold_usage(usages: Iterable[Any]) -> dict[str, Any]:
    """Fold a stream's usages — `message_start`'s then each `message_delta`'s, as usages, events (a whole stream
    of SDK events or event dicts may be passed; events without usage are skipped) or dicts — into
    the message's final usage, the way the SDK's accumulator does: each field takes its latest non-null value
    (the API's streamed counts are cumulative, so adding them would count tokens twice). The `cache_creation`
    split comes from `message_start`; if a later event changes `cache_creation_input_tokens` so that the split no
    longer sums to it, the split is dropped (and the write then counts as 5-minute)."""
    out: dict[str, Any] = {}
    for item in usages:
        if not isinstance(item, Mapping) and getattr(item, "type", None) in _NO_USAGE:
            continue  # a whole stream can be passed: content, ping and stop events carry no usage
        u = _as_usage(item)
        for name in _FOLDED:
            value = _get(u, name)
            if value is not None:
                out[name] = _count(value, f"usage.{name}")
        split = _get(u, "cache_creation")
        if split is not None:
            out["cache_creation"] = {
                "ephemeral_5m_input_tokens": _count(_get(split, "ephemeral_5m_input_tokens"), "usage.cache_creation"),
                "ephemeral_1h_input_tokens": _count(_get(split, "ephemeral_1h_input_tokens"), "usage.cache_creation"),
            }
    split = out.get("cache_creation")
    if (
        split is not None
        and "cache_creation_input_tokens" in out
        and (
            split["ephemeral_5m_input_tokens"] + split["ephemeral_1h_input_tokens"]
            != out["cache_creation_input_tokens"]
        )
    ):
        del out["cache_creation"]
    return out


def cost(
    usage: Any,
    model: str,
    *,
    batch: bool = False,
    data_residency: bool = False,
    at: Any = None,
    prices: PricesSource | None = None,
) -> Cost:
    """Price one response's usage in USD.

    Args:
        usage: an SDK `Usage` / `MessageDeltaUsage`, a dict of the same fields, a `Message` (its `.usage`), or a
            streamed usage folded with `fold_usage`.
        model: the model id; a dated id (`-YYYYMMDD`) prices like its alias.
        batch: Message Batches API (every field halved, baseline included).
        data_residency: US-only inference (`inference_geo: "us"`), 1.1x.
        at: the date whose prices apply (date, datetime, ISO string, epoch seconds; default today, UTC).
        prices: a user price table (path or dict) layered over the built-in one (see `promptkey.prices`).

    Raises:
        UnknownModelError: no price for the model (the message names it).
    """
    tokens = usage_tokens(usage)
    table = load_prices(prices)
    # tiers (Haiku 5.5) are chosen by the whole prompt: cache reads and writes count
    p = table.lookup(model, at=at, prompt_tokens=tokens.prompt)
    factor = 1.0
    if batch:
        factor *= table.modifiers.get("batch", 0.5)
    if data_residency:
        factor *= table.modifiers.get("data_residency", 1.1)
    scale = factor / _PER
    parts = (
        tokens.input * p.input * scale,
        tokens.cache_read * p.cache_read * scale,
        tokens.cache_write_5m * p.cache_write_5m * scale,
        tokens.cache_write_1h * p.cache_write_1h * scale,
        tokens.output * p.output * scale,
    )
    baseline = (tokens.prompt * p.input + tokens.output * p.output) * scale
    return Cost(*parts, total=sum(parts), baseline=baseline)
