"""What a trace of timestamped requests costs under five caching strategies (the engine of `promptkey replay`).

A trace is JSON Lines, one request per line: `{"ts": <epoch seconds>, "request": {...}, "scope": "optional",
"output_tokens": optional}`. The strategies:

* `none`      — no caching at all: every marker stripped, every input token billed at the base rate;
* `as-sent`   — prompt caching with the markers the trace's requests carry;
* `planned`   — prompt caching with markers placed by `promptkey.plan` on each request as it arrives
  (causal: a plan never looks at later requests), existing markers replaced; `planner="learned"` learns
  reuse and TTLs with `Plan.from_trace` from the past hour of traffic instead (see `Planner`);
* `response`  — a response cache only: an identical request (same `make_key`) within the response cache's
  default TTL costs nothing, every answer counted cacheable; misses are billed as `none`;
* `both`      — the response cache in front of `planned`: only misses reach the API (and its prompt cache).

Every API call is billed by one `PromptCacheSimulator` per strategy whose clock is the trace's timestamps
(the same rules the planner and the emulator use), priced with `promptkey.cost`. Output tokens come from the
line's `output_tokens` (what a recorded trace saw in `usage`) or, when absent, `DEFAULT_OUTPUT_TOKENS`
capped by the request's `max_tokens`: one deterministic rule, the same for every strategy, so output never
decides which strategy wins. See docs/replay.md.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkey._exceptions import InvalidOptionError, PromptKeyError

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "STRATEGIES",
    "ReplayReport",
    "StrategyResult",
    "TraceEntry",
    "read_trace",
    "replay",
]

STRATEGIES = ("none", "as-sent", "planned", "response", "both")
PLANNERS = ("request", "learned")
TOKEN_CLASSES = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
# Output estimate for a line that does not record it: a typical short answer, capped by `max_tokens`.
DEFAULT_OUTPUT_TOKENS = 256
# The response cache's default TTL (DESIGN §5), used when `promptkey.ResponseCache` cannot be inspected.
_FALLBACK_RESPONSE_TTL = 86_400
_FALLBACK_MAX_ENTRIES = 10_000
# Plans memoized per response key; the memo is dropped when it reaches this size (bounded memory).
_PLAN_MEMO = 4096


@dataclass(frozen=True)
class TraceEntry:
    ts: float
    request: dict[str, Any]
    scope: str = "default"
    output_tokens: int | None = None
    tag: str | None = None


def read_trace(path: str | Path) -> list[TraceEntry]:
    """Parse a JSONL trace file (`.gz` is decompressed; blank lines skipped); a bad line raises
    `InvalidOptionError` whose path names it."""
    if str(path).endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return parse_lines(fh)
    with Path(path).open(encoding="utf-8") as fh:
        return parse_lines(fh)


def parse_lines(lines: Iterable[str]) -> list[TraceEntry]:
    """Parse trace lines from any text source (a file, stdin); blank lines are skipped but still counted."""
    return [parse_line(text, number) for number, text in enumerate(lines, start=1) if text.strip()]


def parse_line(text: str, number: int) -> TraceEntry:
    where = f"line {number}"
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOptionError(f"invalid json at {where}: {exc.msg}", path=where) from None
    if not isinstance(line, dict):
        raise InvalidOptionError(f"a trace line must be an object, found {type(line).__name__} at {where}", path=where)
    ts, request = line.get("ts"), line.get("request")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise InvalidOptionError(f"ts must be epoch seconds, found {ts!r} at {where}.ts", path=f"{where}.ts")
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        raise InvalidOptionError(f"request must be an object with a model at {where}.request", path=f"{where}.request")
    scope = line.get("scope", "default")
    if not isinstance(scope, str):
        raise InvalidOptionError(f"scope must be a string, found {scope!r} at {where}.scope", path=f"{where}.scope")
    out = line.get("output_tokens")
    if out is not None and (isinstance(out, bool) or not isinstance(out, int) or out < 0):
        raise InvalidOptionError(
            f"output_tokens must be a count, found {out!r} at {where}", path=f"{where}.output_tokens"
        )
    tag = line.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise InvalidOptionError(f"tag must be a string, found {tag!r} at {where}.tag", path=f"{where}.tag")
    return TraceEntry(float(ts), request, scope, out, tag)


def output_tokens(entry: TraceEntry) -> int:
    """The documented rule: the recorded count, else DEFAULT_OUTPUT_TOKENS capped by max_tokens."""
    if entry.output_tokens is not None:
        return entry.output_tokens
    max_tokens = entry.request.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        return max(0, min(DEFAULT_OUTPUT_TOKENS, max_tokens))
    return DEFAULT_OUTPUT_TOKENS


# --- markers ---------------------------------------------------------------------------------------------


def _strip_block(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    out = {k: v for k, v in block.items() if k != "cache_control"}
    if out.get("type") == "tool_result" and isinstance(out.get("content"), list):
        out["content"] = [_strip_block(inner) for inner in out["content"]]
    return out


def strip_markers(request: dict[str, Any]) -> dict[str, Any]:
    """The request with every `cache_control` at a structural position removed (a new dict)."""
    out = {k: v for k, v in request.items() if k != "cache_control"}
    if isinstance(out.get("system"), list):
        out["system"] = [_strip_block(block) for block in out["system"]]
    if isinstance(out.get("tools"), list):
        out["tools"] = [_strip_block(tool) for tool in out["tools"]]
    if isinstance(out.get("messages"), list):
        messages = []
        for message in out["messages"]:
            if isinstance(message, dict) and isinstance(message.get("content"), list):
                message = dict(message, content=[_strip_block(block) for block in message["content"]])
            messages.append(message)
        out["messages"] = messages
    return out


# --- results ---------------------------------------------------------------------------------------------


@dataclass
class StrategyResult:
    name: str
    requests: int = 0
    api_calls: int = 0
    errors: int = 0
    response_hits: int = 0
    prompt_cache_hits: int = 0
    cost: float = 0.0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_CLASSES, 0))
    misses_by_cause: Counter[str] = field(default_factory=Counter)
    timeline: list[tuple[float, float]] = field(default_factory=list)

    def add(self, ts: float, usage: dict[str, Any] | None, usd: float) -> None:
        self.requests += 1
        self.cost += usd
        if usage is not None:
            self.api_calls += 1
            for name, value in usage_classes(usage).items():
                self.tokens[name] += value
            if usage.get("cache_read_input_tokens"):
                self.prompt_cache_hits += 1
        self.timeline.append((ts, self.cost))

    @property
    def input_total(self) -> int:
        return sum(self.tokens[name] for name in TOKEN_CLASSES if name != "output")

    def as_dict(self, baseline: float) -> dict[str, Any]:
        saving = baseline - self.cost
        return {
            "requests": self.requests,
            "api_calls": self.api_calls,
            "errors": self.errors,
            "cost": round(self.cost, 6),
            "saving": round(saving, 6),
            "saving_pct": round(100.0 * saving / baseline, 2) if baseline else 0.0,
            "tokens": dict(self.tokens),
            "hits": self.response_hits + self.prompt_cache_hits,
            "response_hits": self.response_hits,
            "prompt_cache_hits": self.prompt_cache_hits,
            "response_hit_rate": round(self.response_hits / self.requests, 4) if self.requests else 0.0,
            "prompt_cache_read_rate": round(self.tokens["cache_read"] / self.input_total, 4)
            if self.input_total
            else 0.0,
        }


def usage_classes(usage: dict[str, Any]) -> dict[str, int]:
    """A usage dict in the five token classes, split by `promptkey.usage_tokens` (the pricer's own split: a
    write without its 5m/1h split counts as 5m, DESIGN §7)."""
    from promptkey import usage_tokens

    tokens = usage_tokens(usage)
    return {name: int(getattr(tokens, name)) for name in TOKEN_CLASSES}


@dataclass
class ReplayReport:
    strategies: dict[str, StrategyResult]
    requests: int
    start: float
    end: float
    models: dict[str, int]
    plan_failures: int = 0
    planner: str = "request"
    by_tag: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        baseline = self.strategies["none"].cost
        return {
            "trace": {
                "requests": self.requests,
                "start": self.start,
                "end": self.end,
                "span_seconds": round(self.end - self.start, 3),
                "models": dict(self.models),
                "planner": self.planner,
                "plan_failures": self.plan_failures,
            },
            "strategies": {name: result.as_dict(baseline) for name, result in self.strategies.items()},
            "by_tag": {
                tag: {name: (int(v) if name == "requests" else round(v, 6)) for name, v in costs.items()}
                for tag, costs in sorted(self.by_tag.items())
            },
            "misses_by_cause": {
                name: dict(sorted(result.misses_by_cause.items()))
                for name, result in self.strategies.items()
                if name in ("as-sent", "planned", "both")
            },
        }


# --- the engine ------------------------------------------------------------------------------------------


class TraceClock:
    """The simulators' clock: whatever the replay loop says the time is (trace timestamps, not wall time)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def _default(cls_name: str, parameter: str, fallback: int) -> int:
    import inspect

    try:
        import promptkey

        default = inspect.signature(getattr(promptkey, cls_name)).parameters[parameter].default
        return int(default) if isinstance(default, (int, float)) else fallback
    except (AttributeError, KeyError, TypeError, ValueError):
        return fallback


def response_cache_ttl() -> int:
    """The response cache's default TTL, read from `ResponseCache` itself so the two cannot drift apart."""
    return _default("ResponseCache", "ttl", _FALLBACK_RESPONSE_TTL)


class ResponseCacheModel:
    """The embedded default response cache (`ResponseCache(MemoryStore())`) on the trace's clock: an entry
    lives `ttl` seconds from its write (a hit does not extend it) and the least recently used entry goes
    first beyond `max_entries` — `MemoryStore`'s rules, with time taken from the trace instead of the host."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._written: OrderedDict[str, float] = OrderedDict()

    def hit(self, key: str, now: float) -> bool:
        """True when `key` holds a live answer at `now`; on a miss the answer is stored (every answer counts as
        cacheable in a replay)."""
        when = self._written.get(key)
        if when is not None and now - when < self.ttl:
            self._written.move_to_end(key)
            return True
        self._written[key] = now
        self._written.move_to_end(key)
        while len(self._written) > self.max_entries:
            self._written.popitem(last=False)
        return False


class Planner:
    """Markers for the `planned` and `both` strategies, decided from what came before a request, never after.

    * `"request"`: `plan(request)` with the planner's default reuse (tools, system and earlier turns stable, the
      last user turn new): exactly what `CachedAnthropic(breakpoints="auto")` sends. Identical requests get
      identical plans, so plans are memoized by response key.
    * `"learned"`: `Plan.from_trace` over the requests of the same (scope, model) in the hour before this one
      (at most `LEARN_WINDOW` of them) plus this one: reuse and the 5m/1h choice learned online from the
      traffic itself, as a deployment that re-plans from its own recent log would."""

    LEARN_WINDOW = 50
    LEARN_HORIZON = 3600.0

    def __init__(self, mode: str) -> None:
        if mode not in PLANNERS:
            raise InvalidOptionError(f"planner must be one of {', '.join(PLANNERS)}, not {mode!r}", path="planner")
        self.mode = mode
        self.failures = 0
        self._memo: dict[str, dict[str, Any]] = {}
        self._history: dict[tuple[str, str], deque[tuple[float, dict[str, Any]]]] = {}

    def place(self, entry: TraceEntry, request: dict[str, Any], key: str) -> dict[str, Any]:
        from promptkey import Plan, plan

        if self.mode == "request" and key in self._memo:
            return self._memo[key]
        try:
            if self.mode == "request":
                placed: dict[str, Any] = plan(request).apply(request)
            else:
                history = self._recent(entry, request)
                placed = Plan.from_trace([*history, (entry.ts, request)], request).apply(request)
        except PromptKeyError:
            self.failures += 1  # a request the planner cannot read is sent as it came
            placed = request
        if self.mode == "request":
            if len(self._memo) >= _PLAN_MEMO:
                self._memo.clear()
            self._memo[key] = placed
        else:
            self._history[(entry.scope, str(request["model"]))].append((entry.ts, request))
        return placed

    def _recent(self, entry: TraceEntry, request: dict[str, Any]) -> list[tuple[float, dict[str, Any]]]:
        history = self._history.setdefault((entry.scope, str(request["model"])), deque())
        while history and (entry.ts - history[0][0] > self.LEARN_HORIZON or len(history) >= self.LEARN_WINDOW):
            history.popleft()
        return list(history)


def replay(
    entries: Iterable[TraceEntry],
    *,
    model: str | None = None,
    response_ttl: float | None = None,
    first_token_after: float = 0.0,
    planner: str = "request",
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Replay `entries` (sorted by time here) under every strategy; `model` overrides each request's model.

    `first_token_after`: seconds after a request starts before the prompt-cache entries it writes become
    readable (the API makes an entry available once the first response begins), so requests closer together
    than that all write. 0 (the default) makes every write readable at once: the optimistic bound.
    `planner`: how `planned` and `both` place markers, `"request"` or `"learned"` (see `Planner`)."""
    placer = Planner(planner)
    if isinstance(first_token_after, bool) or not isinstance(first_token_after, (int, float)) or first_token_after < 0:
        raise InvalidOptionError(
            f"first_token_after must be seconds >= 0, not {first_token_after!r}", path="first_token_after"
        )
    from promptkey import PromptCacheSimulator, cost, make_key

    ordered = sorted(entries, key=lambda entry: entry.ts)
    # Every model must have a price before anything runs: one clear error, not one per request.
    for name in sorted({model or str(entry.request["model"]) for entry in ordered}):
        cost({"input_tokens": 0, "output_tokens": 0}, name)
    ttl = float(response_cache_ttl() if response_ttl is None else response_ttl)
    clock = TraceClock(ordered[0].ts if ordered else 0.0)
    sims = {name: PromptCacheSimulator(clock=clock) for name in ("flat", "as-sent", "planned", "both")}
    results = {name: StrategyResult(name) for name in STRATEGIES}
    responses = ResponseCacheModel(ttl, _default("MemoryStore", "max_entries", _FALLBACK_MAX_ENTRIES))
    models: Counter[str] = Counter()

    by_tag: dict[str, dict[str, float]] = {}

    def record(name: str, entry: TraceEntry, usage: dict[str, Any] | None, usd: float) -> None:
        results[name].add(entry.ts, usage, usd)
        if entry.tag is not None:
            costs = by_tag.setdefault(entry.tag, dict.fromkeys(("requests", *STRATEGIES), 0.0))
            costs[name] += usd
            if name == "none":
                costs["requests"] += 1

    def bill(name: str, sim_name: str, entry: TraceEntry, request: dict[str, Any], out: int) -> dict[str, Any] | None:
        sim = sims[sim_name]
        try:
            usage = dict(sim.submit(request, api_key=entry.scope, first_token_after=first_token_after))
        except PromptKeyError:
            results[name].errors += 1  # the API would have refused the request (400): nothing billed
            return None
        if name in ("as-sent", "planned", "both"):
            for record in sim.explain():
                reason = _reason(record)
                if reason is not None and reason != "hit":
                    results[name].misses_by_cause[reason] += 1
        usage["output_tokens"] = out
        return usage

    for index, entry in enumerate(ordered):
        clock.now = entry.ts
        request = dict(entry.request, model=model) if model else entry.request
        name_of_model = str(request["model"])
        models[name_of_model] += 1
        out = output_tokens(entry)
        stripped = strip_markers(request)
        key = make_key(request)
        planned = placer.place(entry, request, key)

        def price(usage: dict[str, Any] | None, model_name: str = name_of_model) -> float:
            return 0.0 if usage is None else float(cost(usage, model_name).total)

        flat = bill("none", "flat", entry, stripped, out)
        record("none", entry, flat, price(flat))
        sent = bill("as-sent", "as-sent", entry, request, out)
        record("as-sent", entry, sent, price(sent))
        usage = bill("planned", "planned", entry, planned, out)
        record("planned", entry, usage, price(usage))

        if responses.hit(key, entry.ts):
            for name in ("response", "both"):
                results[name].response_hits += 1
                record(name, entry, None, 0.0)
        else:
            record("response", entry, flat, price(flat))
            both = bill("both", "both", entry, planned, out)
            record("both", entry, both, price(both))
        if progress is not None:
            progress(index + 1)
    return ReplayReport(
        strategies=results,
        requests=len(ordered),
        start=ordered[0].ts if ordered else 0.0,
        end=ordered[-1].ts if ordered else 0.0,
        models=dict(models),
        plan_failures=placer.failures,
        planner=planner,
        by_tag=by_tag,
    )


def _reason(record: Any) -> str | None:
    reason = record.get("reason") if isinstance(record, dict) else getattr(record, "reason", None)
    return None if reason is None else str(reason)
