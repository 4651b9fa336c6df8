"""Prompt-cache breakpoint planning (DESIGN §4).

`plan(request)` chooses at most 4 `cache_control` breakpoints (and 5m or 1h for each) minimizing the
expected input cost of one request; the optimisation itself is Rust (`rust/planner.rs`). This module
adds what needs the request's own structure: anchors that survive a growing conversation, `apply()`,
warnings about volatile content, and learning reuse from a trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptkey import _core
from promptkey._exceptions import InvalidOptionError

Reuse = float | str | tuple[float, float]

_MESSAGE_PATH = re.compile(r"^messages\[(\d+)\]\.content\[(\d+)\]$")
_SECTION_PATH = re.compile(r"^(tools|system)\[(\d+)\]$")


@dataclass(frozen=True)
class Plan:
    """Where to put `cache_control` breakpoints, what that is expected to cost, and why.

    `breakpoints` are `(section, anchor, ttl)`: `anchor` counts from the start of `tools` or `system`,
    and from the end of the messages' content blocks (0 = the last block), so `apply()` re-resolves
    them on every request of the same shape, including a conversation that has grown. Costs are per
    request in base-input-token units (1 uncached token = 1.0) or, with `prices=`, in USD.
    """

    breakpoints: tuple[tuple[str, int, str], ...]
    expected_cost: float
    cold_cost: float
    warm_cost: float
    uncached_cost: float
    warnings: tuple[str, ...]
    model: str
    minimum: int
    rate: float
    units: str
    tokenizer: str = ""
    blocks: tuple[dict[str, Any], ...] = field(repr=False, default=())
    breakpoint_details: tuple[dict[str, Any], ...] = field(repr=False, default=())

    def apply(self, request: Mapping[str, Any], /) -> dict[str, Any]:
        """A copy of `request` with exactly this plan's markers: existing `cache_control` markers
        (explicit and top-level) removed, the planned ones added. The input is never modified."""
        out = _strip_markers(request)
        for section, anchor, ttl in self.breakpoints:
            target = _resolve(out, section, anchor)
            target["cache_control"] = {"type": "ephemeral", "ttl": ttl}
        return out

    @classmethod
    def from_trace(
        cls,
        trace: Iterable[tuple[float, Mapping[str, Any]]],
        request: Mapping[str, Any] | None = None,
        *,
        ttl: str = "auto",
        tokenizer: Callable[[dict[str, Any]], int] | None = None,
        max_breakpoints: int = 4,
    ) -> Plan:
        """Learn reuse from `(timestamp, request)` pairs and plan `request` (default: the trace's last).

        For each block position (`tools[i]`, `system[i]`, `messages[-k].content[j]` counted from the
        end), the probability under each TTL is the share of requests whose prefix through that block
        had been seen within 5 minutes, and within 1 hour, before; the gap distribution so decides
        between 5m and 1h.
        """
        pairs = sorted(((float(t), r) for t, r in trace), key=lambda p: p[0])
        if not pairs:
            raise InvalidOptionError("from_trace needs at least one (timestamp, request) pair", "trace")
        target = request if request is not None else pairs[-1][1]
        learned: dict[str, tuple[float, float]] = _core._trace_reuse(pairs, tokenizer=tokenizer)
        # Positions the target does not have are ignored (strict_reuse=False).
        return _build(
            target,
            _core._plan(
                target,
                ttl=ttl,
                reuse=learned,
                tokenizer=tokenizer,
                max_breakpoints=max_breakpoints,
                strict_reuse=False,
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what `promptkey plan --json` prints)."""
        return {
            "model": self.model,
            "minimum": self.minimum,
            "rate": self.rate,
            "units": self.units,
            "tokenizer": self.tokenizer,
            "breakpoints": [list(bp) for bp in self.breakpoints],
            "breakpoint_details": [dict(bp) for bp in self.breakpoint_details],
            "expected_cost": self.expected_cost,
            "cold_cost": self.cold_cost,
            "warm_cost": self.warm_cost,
            "uncached_cost": self.uncached_cost,
            "warnings": list(self.warnings),
            "blocks": [dict(b) for b in self.blocks],
        }

    def table(self) -> str:
        """A plain-text table: blocks, tokens, reuse, breakpoints, then costs and warnings."""
        marks = {bp["index"]: bp for bp in self.breakpoint_details}
        rows = [("#", "block", "kind", "tokens", "prefix", "reuse 5m/1h", "breakpoint")]
        for b in self.blocks:
            bp = marks.get(b["index"])
            mark = f"{bp['ttl']} (P={bp['probability']:.3f})" if bp else ""
            reuse = f"{b['reuse_5m']:.3f}/{b['reuse_1h']:.3f}"
            rows.append(
                (str(b["index"]), b["path"], b["kind"], f"{b['tokens']:,}", f"{b['prefix_tokens']:,}", reuse, mark)
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        unit = "USD" if self.units == "usd" else "input-token units"
        fmt = "{:,.6f}" if self.units == "usd" else "{:,.1f}"
        lines.append("")
        lines.append(
            f"model {self.model} (minimum {self.minimum:,} tokens), rate {self.rate:g} requests/s, "
            f"tokens by {self.tokenizer or 'estimate'}"
        )
        for name in ("cold", "warm", "expected", "uncached"):
            lines.append(f"{name + ' cost':<15} {fmt.format(getattr(self, name + '_cost'))} {unit}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def plan(
    request: Mapping[str, Any],
    /,
    *,
    model: str | None = None,
    ttl: str = "auto",
    reuse: Mapping[str, Reuse] | None = None,
    rate: float | None = None,
    tokenizer: Callable[[dict[str, Any]], int] | None = None,
    max_breakpoints: int = 4,
    prices: Mapping[str, float] | None = None,
) -> Plan:
    """Plan the cache breakpoints of `request` (see `Plan`).

    `reuse` maps `tools`, `system`, `messages`, a message (`messages[-1]`) or a block path
    (`messages[2].content[0]`, `system[1]`) to a probability in [0, 1] or a change frequency
    (`never`, `daily`, `hourly`, `per-request`), converted with `rate` requests per second (default one a
    minute) by the formula in docs/simulator-and-planner.md. Unnamed blocks: tools, system and earlier
    messages stable, the last user message new every request. `prices` (USD per million tokens for
    `input`, `cache_read`, `cache_write_5m`, `cache_write_1h`) switches costs to USD.
    """
    if not isinstance(request, Mapping):
        raise InvalidOptionError(f"request must be a mapping, got {type(request).__name__}", None)
    if isinstance(max_breakpoints, bool) or not isinstance(max_breakpoints, int):
        raise InvalidOptionError(
            f"max_breakpoints must be an int between 0 and 4, got {max_breakpoints!r}", "max_breakpoints"
        )
    raw = _core._plan(
        request,
        model=model,
        ttl=ttl,
        reuse=reuse,
        rate=rate,
        tokenizer=tokenizer,
        max_breakpoints=max_breakpoints,
        prices=prices,
    )
    return _build(request, raw)


def _build(request: Mapping[str, Any], raw: dict[str, Any]) -> Plan:
    planned = raw["breakpoints"]
    breakpoints = tuple((bp["section"], _anchor(request, bp["section"], bp["path"]), bp["ttl"]) for bp in planned)
    warnings = list(raw["warnings"])
    warnings.extend(_volatile_warnings(request, raw["blocks"], planned))
    return Plan(
        breakpoints=breakpoints,
        expected_cost=raw["expected_cost"],
        cold_cost=raw["cold_cost"],
        warm_cost=raw["warm_cost"],
        uncached_cost=raw["uncached_cost"],
        warnings=tuple(warnings),
        model=raw["model"],
        minimum=raw["minimum"],
        rate=raw["rate"],
        units=raw["units"],
        tokenizer=raw["tokenizer"],
        blocks=tuple(raw["blocks"]),
        breakpoint_details=tuple(planned),
    )


def _message_blocks(request: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(message index, content index) of every message content block, in order."""
    out: list[tuple[int, int]] = []
    for i, message in enumerate(request.get("messages") or ()):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            out.append((i, 0))
        elif content is not None:
            out.extend((i, j) for j in range(len(content)))
    return out


def _anchor(request: Mapping[str, Any], section: str, path: str) -> int:
    if section == "messages":
        m = _MESSAGE_PATH.match(path)
        assert m, path
        flat = _message_blocks(request)
        return len(flat) - 1 - flat.index((int(m.group(1)), int(m.group(2))))
    m = _SECTION_PATH.match(path)
    assert m, path
    return int(m.group(2))


def _as_dict(block: Any) -> dict[str, Any]:
    """A block that can take a marker: dicts as they are (already copied), the SDK's pydantic blocks (a
    response's `content` passed back) as the dict the SDK would send."""
    if isinstance(block, dict):
        return block
    if isinstance(block, Mapping):
        return dict(block)
    dump = getattr(block, "model_dump", None)
    if callable(dump):
        return dict(dump(mode="json", exclude_unset=True))
    raise InvalidOptionError(f"cannot place a breakpoint on a {type(block).__name__}", None)


def _strip(block: Any) -> Any:
    if not isinstance(block, Mapping):
        return block
    out = {k: v for k, v in block.items() if k != "cache_control"}
    if out.get("type") == "tool_result" and isinstance(out.get("content"), list):
        out["content"] = [_strip(b) for b in out["content"]]
    return out


def _strip_markers(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every structural `cache_control` removed; containers on the way are copied."""
    out = {k: v for k, v in request.items() if k != "cache_control"}
    if isinstance(out.get("tools"), list | tuple):
        out["tools"] = [_strip(t) for t in out["tools"]]
    if isinstance(out.get("system"), list | tuple):
        out["system"] = [_strip(b) for b in out["system"]]
    if isinstance(out.get("messages"), list | tuple):
        messages = []
        for message in out["messages"]:
            message = _as_dict(message) if not isinstance(message, Mapping) else dict(message)
            if isinstance(message.get("content"), list | tuple):
                message["content"] = [_strip(b) for b in message["content"]]
            messages.append(message)
        out["messages"] = messages
    return out


def _resolve(request: dict[str, Any], section: str, anchor: int) -> dict[str, Any]:
    """The (already copied) block a breakpoint lands on; a string system or content becomes one block."""
    if section in ("tools", "system"):
        items = request.get(section)
        if isinstance(items, str):
            request[section] = items = [{"type": "text", "text": items}]
        if not isinstance(items, list) or not 0 <= anchor < len(items):
            size = len(items) if isinstance(items, list) else 0
            raise InvalidOptionError(f"the plan's {section}[{anchor}] does not exist in this request ({size})", section)
        items[anchor] = _as_dict(items[anchor])
        return items[anchor]  # type: ignore[no-any-return]
    flat = _message_blocks(request)
    position = len(flat) - 1 - anchor
    if not 0 <= position < len(flat):
        raise InvalidOptionError(
            f"the plan's message anchor {anchor} does not exist in this request ({len(flat)} message blocks)",
            "messages",
        )
    i, j = flat[position]
    message = request["messages"][i]
    if isinstance(message["content"], str):
        message["content"] = [{"type": "text", "text": message["content"]}]
    message["content"][j] = _as_dict(message["content"][j])
    return message["content"][j]  # type: ignore[no-any-return]


def _lookup(request: Mapping[str, Any], path: str) -> Any:
    m = _MESSAGE_PATH.match(path)
    if m:
        content = request["messages"][int(m.group(1))]["content"]
        return content if isinstance(content, str) else content[int(m.group(2))]
    m = _SECTION_PATH.match(path)
    if m:
        items = request[m.group(1)]
        return items if isinstance(items, str) else items[int(m.group(2))]
    return None


def _volatile_warnings(
    request: Mapping[str, Any], blocks: list[dict[str, Any]], planned: list[dict[str, Any]]
) -> list[str]:
    if not planned:
        return []
    last = max(bp["index"] for bp in planned)
    out = []
    for b in blocks[: last + 1]:
        if b["reuse_5m"] == 0.0 and b["reuse_1h"] == 0.0:
            continue  # declared new every request: no breakpoint relies on it
        obj = _lookup(request, b["path"])
        if not isinstance(obj, str | Mapping) and callable(getattr(obj, "model_dump", None)):
            obj = _as_dict(obj)
        found = _core._volatile(obj, b["path"])
        if found:
            where, what, offset, value = found
            out.append(
                f"volatile content before a breakpoint: {where} contains {what} ({value!r}) at char "
                f"{offset:,}; if it changes between requests, every breakpoint from there on misses"
            )
    return out
