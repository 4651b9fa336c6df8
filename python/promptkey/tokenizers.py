"""Token counts for prefix blocks (DESIGN §2). Claude's tokenizer is not public; a *tokenizer* is a callable
`tokenizer(block) -> int`. Besides the built-in per-model-family estimate there are two:

- `CountTokens(client, model=...)` asks the API: per-block counts are differences of `messages.count_tokens`
  over successive prefixes of a request, memoized by a chained digest, so appending a turn costs one call per new
  block. The API's fixed per-request overhead is measured once and reported separately (`.overhead`).
- `Calibrator(model=...)` refines the estimate from the `usage` of real responses: it fits
  `prompt tokens = ratio * estimate + overhead` by least squares and scales every block's estimate by `ratio`.

Both have a `.name` saying what they are, for reports.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from promptkey._exceptions import InvalidOptionError

__all__ = ["Calibrator", "CountTokens", "RequestCount", "Tokenizer", "default_estimate", "request_blocks"]

Tokenizer = Callable[[Mapping[str, Any]], int]

# request members that change token counts without being blocks (count_tokens accepts them)
_CONTEXT = ("thinking", "output_config", "speed")
_PROBE_TEXT = "."
_CONTENT_TYPES = frozenset(
    {"text", "image", "document", "search_result", "tool_use", "tool_result", "thinking", "redacted_thinking"}
)


def request_blocks(request: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(section, path, block) for every prefix block in tools → system → messages order (DESIGN §2: a string
    system or content is one text block)."""
    for i, tool in enumerate(request.get("tools") or ()):
        yield "tools", f"tools[{i}]", tool
    system = request.get("system")
    if isinstance(system, str):
        yield "system", "system[0]", {"type": "text", "text": system}
    else:
        for i, block in enumerate(system or ()):
            yield "system", f"system[{i}]", block
    for m, message in enumerate(request.get("messages") or ()):
        content = message.get("content")
        if isinstance(content, str):
            yield "messages", f"messages[{m}].content[0]", {"type": "text", "text": content}
        else:
            for k, block in enumerate(content or ()):
                yield "messages", f"messages[{m}].content[{k}]", block


def _strip(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _unanswered(messages: list[Any], m: int) -> set[str]:
    """The tool_use ids of the assistant message before user message `m` (which `m` must answer)."""
    if m == 0 or messages[m].get("role") != "user" or messages[m - 1].get("role") != "assistant":
        return set()
    content = messages[m - 1].get("content")
    if not isinstance(content, list):
        return set()
    return {str(b.get("id")) for b in content if isinstance(b, Mapping) and b.get("type") == "tool_use"}


def _fingerprint(block: Mapping[str, Any]) -> bytes:
    # markers never change a count, so they never split the memo
    return json.dumps(_strip(block), separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def default_estimate(model: str) -> Tokenizer:
    """The library's built-in estimate for `model`'s tokenizer family (the one `prefix_blocks` uses by default),
    as a tokenizer callable."""
    from promptkey import _core

    prefix_blocks = getattr(_core, "prefix_blocks")  # noqa: B009 - typed in the prefix module's stub section

    def estimate(block: Mapping[str, Any]) -> int:
        if _is_tool_definition(block):
            request = {"model": model, "tools": [block], "messages": [{"role": "user", "content": _PROBE_TEXT}]}
        else:
            role = "assistant" if block.get("type") in ("tool_use", "thinking", "redacted_thinking") else "user"
            request = {"model": model, "messages": [{"role": role, "content": [block]}]}
        return int(prefix_blocks(request)[0].tokens)

    return estimate


def _is_tool_definition(block: Mapping[str, Any]) -> bool:
    return "input_schema" in block or ("name" in block and block.get("type") not in _CONTENT_TYPES)


@dataclass(frozen=True)
class RequestCount:
    """`CountTokens.count(request)`: per-block counts (tools → system → messages), the fixed overhead, the total
    (`sum(blocks) + overhead == count_tokens(request)`)."""

    paths: tuple[str, ...]
    blocks: tuple[int, ...]
    overhead: int
    total: int


class CountTokens:
    """A tokenizer backed by the API's `messages.count_tokens` (free, rate-limited separately).

    `count(request)` derives each block's tokens by differencing counts of successive prefixes of that request
    (the first user message's role framing lands in `overhead`, later messages' framing in their first block);
    `tok(block)` returns the in-context count when a counted request held the block, else counts the block alone
    (a tool alone with a probe message, a content block as a one-block user turn, a `tool_use` in an assistant turn,
    a `tool_result` after a stub `tool_use`). Thinking blocks cannot be counted alone (the API checks signatures):
    they fall back to the built-in estimate and `fallbacks` counts them. Needs a synchronous client.
    """

    def __init__(self, client: Any, /, *, model: str) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidOptionError(f"model must be a non-empty string, got {model!r}", "model")
        self._client = client
        self.model = model
        self.name = f"count_tokens({model})"
        self.calls = 0
        self.fallbacks = 0
        self._lock = threading.RLock()
        self._prefix_memo: dict[bytes, int] = {}
        self._block_memo: dict[bytes, int] = {}
        self._overhead: int | None = None
        self._probe_block: int | None = None
        self._estimate: Tokenizer | None = None

    # -- the API -------------------------------------------------------------------------------------------
    def _count(self, **params: Any) -> int:
        params = {k: v for k, v in params.items() if v is not None and v != []}
        self.calls += 1
        result = self._client.messages.count_tokens(model=self.model, **params)
        return int(result.input_tokens)

    def _memo_count(self, key: bytes, **params: Any) -> int:
        with self._lock:
            if key not in self._prefix_memo:
                self._prefix_memo[key] = self._count(**params)
            return self._prefix_memo[key]

    def _calibrate_probe(self) -> None:
        with self._lock:
            if self._overhead is None:
                one = self._count(messages=[{"role": "user", "content": [{"type": "text", "text": _PROBE_TEXT}]}])
                two_blocks = [{"type": "text", "text": _PROBE_TEXT}] * 2
                two = self._count(messages=[{"role": "user", "content": two_blocks}])
                self._probe_block = two - one
                self._overhead = one - self._probe_block

    @property
    def overhead(self) -> int:
        """The API's fixed per-request tokens (framing), measured once: `count(["."]) - tokens(".")`."""
        self._calibrate_probe()
        assert self._overhead is not None
        return self._overhead

    # -- a whole request by successive prefixes -----------------------------------------------------------
    def count(self, request: Mapping[str, Any], /) -> RequestCount:
        """Per-block counts of `request` by differencing `count_tokens` over its successive prefixes."""
        self._calibrate_probe()
        assert self._overhead is not None and self._probe_block is not None
        context = {k: request[k] for k in _CONTEXT if request.get(k) is not None}
        tool_choice = request.get("tool_choice")
        probe = [{"role": "user", "content": _PROBE_TEXT}]
        chain = hashlib.sha256(json.dumps([self.model, context], sort_keys=True).encode()).digest()

        def step(tag: bytes, block: Mapping[str, Any] | None) -> bytes:
            body = tag + (_fingerprint(block) if block is not None else b"")
            return hashlib.sha256(chain + len(body).to_bytes(8, "big") + body).digest()

        blocks = list(request_blocks(request))
        tools = [b for s, _, b in blocks if s == "tools"]
        system = [b for s, _, b in blocks if s == "system"]
        deltas: list[int] = []
        # the probe request with no blocks, under this request's settings (thinking adds tokens of its own)
        previous = self._memo_count(hashlib.sha256(chain + b"probe").digest(), messages=probe, **context)
        overhead = previous - self._probe_block
        for i, tool in enumerate(tools):
            chain = step(b"tool", tool)
            now = self._memo_count(chain, tools=tools[: i + 1], messages=probe, **context)
            deltas.append(now - previous)
            previous = now
        if tool_choice is not None:  # tool_choice is only valid with every tool present: its tokens are overhead
            chain = step(b"tool_choice:" + json.dumps(tool_choice, sort_keys=True).encode(), None)
            now = self._memo_count(chain, tools=tools, tool_choice=tool_choice, messages=probe, **context)
            overhead += now - previous
            previous = now
            context["tool_choice"] = tool_choice
        for i, block in enumerate(system):
            chain = step(b"system", block)
            now = self._memo_count(chain, tools=tools, system=system[: i + 1], messages=probe, **context)
            deltas.append(now - previous)
            previous = now
        previous -= self._probe_block  # the messages replace the probe message
        messages = request.get("messages") or []
        pending: list[Mapping[str, Any]] = []
        for m, message in enumerate(messages):
            content = message.get("content")
            items = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
            owed = _unanswered(messages, m)
            for k, block in enumerate(items):
                chain = step(b"message:%d:%s" % (k == 0, str(message.get("role")).encode()), block)
                if block.get("type") == "tool_result":
                    owed.discard(str(block.get("tool_use_id")))
                text = block.get("text")
                trailing = message.get("role") == "assistant" and isinstance(text, str) and text != text.rstrip()
                # the API rejects a prefix that leaves a tool_use unanswered, or that ends in an assistant text
                # with trailing whitespace: such blocks are counted together with the next valid prefix
                if owed or (trailing and (k + 1 < len(items) or m + 1 < len(messages))):
                    pending.append(block)
                    continue
                partial = [*messages[:m], {"role": message.get("role"), "content": items[: k + 1]}]
                now = self._memo_count(chain, tools=tools, system=system, messages=partial, **context)
                deltas.extend(self._share(now - previous, [*pending, block]))
                pending = []
                previous = now
        if pending:  # a request that itself leaves tool_use unanswered: the API will say so
            deltas.extend(self._share(0, pending))
        with self._lock:
            for (_, _, block), delta in zip(blocks, deltas, strict=False):
                self._block_memo[_fingerprint(block)] = delta
        return RequestCount(tuple(p for _, p, _ in blocks), tuple(deltas), overhead, sum(deltas) + overhead)

    def _share(self, total: int, blocks: list[Mapping[str, Any]]) -> list[int]:
        """Split `total` tokens over `blocks` in proportion to the built-in estimate (exact for one block)."""
        if len(blocks) == 1:
            return [total]
        if self._estimate is None:
            self._estimate = default_estimate(self.model)
        weights = [max(1, self._estimate(b)) for b in blocks]
        shares = [total * w // sum(weights) for w in weights]
        shares[-1] += total - sum(shares)  # the remainder goes to the run's last block: the sum stays exact
        return shares

    # -- one block ----------------------------------------------------------------------------------------
    def __call__(self, block: Mapping[str, Any], /) -> int:
        key = _fingerprint(block)
        with self._lock:
            if key in self._block_memo:
                return self._block_memo[key]
        self._calibrate_probe()
        assert self._probe_block is not None
        kind = block.get("type")
        probe = {"role": "user", "content": _PROBE_TEXT}
        if _is_tool_definition(block):
            base = self._memo_count(b"alone:probe", messages=[probe])
            value = self._count(tools=[block], messages=[probe]) - base
        elif kind == "tool_use":
            base = self._memo_count(b"alone:probe", messages=[probe])
            value = self._count(messages=[probe, {"role": "assistant", "content": [block]}]) - base
        elif kind == "tool_result":
            stub = {"type": "tool_use", "id": block.get("tool_use_id", "toolu_probe"), "name": "probe", "input": {}}
            turn = [probe, {"role": "assistant", "content": [stub]}]
            base = self._count(messages=turn)
            value = self._count(messages=[*turn, {"role": "user", "content": [block]}]) - base
        elif kind in ("thinking", "redacted_thinking"):
            if self._estimate is None:
                self._estimate = default_estimate(self.model)
            self.fallbacks += 1
            value = self._estimate(block)
        else:
            base = self._memo_count(b"alone:probe", messages=[probe]) - self._probe_block
            value = self._count(messages=[{"role": "user", "content": [block]}]) - base
        with self._lock:
            self._block_memo[key] = value
        return value


class Calibrator:
    """A tokenizer that scales the built-in estimate (or `base`) to match real usage.

    `observe(request, usage)` after each real response; the fit is least squares of
    `prompt tokens (input + cache read + cache write) = ratio * estimate + overhead` over all observations
    (through the origin until two requests of different estimated size have been seen; overhead never negative).
    Before any observation `ratio` is 1.0 and the counts are the estimate's. Thread-safe.
    """

    def __init__(self, *, model: str, base: Tokenizer | None = None) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidOptionError(f"model must be a non-empty string, got {model!r}", "model")
        self.model = model
        self._base = base
        self._lock = threading.Lock()
        self._n = 0
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        self.ratio = 1.0
        self.overhead = 0.0

    @property
    def base(self) -> Tokenizer:
        if self._base is None:
            self._base = default_estimate(self.model)
        return self._base

    @property
    def samples(self) -> int:
        return self._n

    @property
    def name(self) -> str:
        return f"calibrated estimate (x{self.ratio:.3f} + {self.overhead:.0f}/request, {self._n} samples)"

    def estimate(self, request: Mapping[str, Any], /) -> int:
        """The uncalibrated estimate of a request's prompt tokens (sum over its blocks)."""
        return sum(self.base(block) for _, _, block in request_blocks(request))

    def observe(self, request: Mapping[str, Any], usage: Any, /) -> None:
        """Learn from one response: `usage` is an SDK `Usage`, a dict, or a `Message`."""
        from promptkey.cost import usage_tokens

        actual = float(usage_tokens(usage).prompt)
        x = float(self.estimate(request))
        if x <= 0:
            return
        with self._lock:
            self._n += 1
            self._sx += x
            self._sy += actual
            self._sxx += x * x
            self._sxy += x * actual
            n = self._n
            spread = self._sxx - self._sx * self._sx / n
            ratio, overhead = self._sxy / self._sxx, 0.0
            if n >= 2 and spread > 1e-9 * self._sxx:
                slope = (self._sxy - self._sx * self._sy / n) / spread
                intercept = (self._sy - slope * self._sx) / n
                if slope > 0 and intercept >= 0:
                    ratio, overhead = slope, intercept
            if math.isfinite(ratio) and ratio > 0:
                self.ratio, self.overhead = ratio, overhead

    def __call__(self, block: Mapping[str, Any], /) -> int:
        return max(0, round(self.ratio * self.base(block)))
