"""What `CachedAnthropic` and `AsyncCachedAnthropic` share: request preparation (breakpoints), keying
(the client's version/beta headers, the base URL's origin), the record of each call, its price, its trace line,
and the replay of a stored answer as the SSE response the API would have sent. See promptkey/anthropic.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

try:
    import anthropic as _sdk
    import httpx2
    from anthropic.lib.streaming import AsyncMessageStream, BetaAsyncMessageStream, BetaMessageStream, MessageStream
    from anthropic.types import Message, RawMessageStreamEvent
    from anthropic.types.beta import BetaMessage, BetaRawMessageStreamEvent
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by the CLI's missing-extra path
    raise ModuleNotFoundError(
        "promptkey.anthropic needs the 'anthropic' extra: pip install 'promptkey[anthropic]'", name=exc.name
    ) from None

from promptkey._exceptions import InvalidOptionError, PromptKeyError
from promptkey._message_events import encode_sse, events_from_message

if TYPE_CHECKING:
    from promptkey._response_view import ResponseView


# Only answers that ended on their own are worth replaying: a max_tokens cut, a pause_turn or a refusal is
# not the answer the next identical request should get.
CACHEABLE_STOP_REASONS = frozenset({"end_turn", "stop_sequence", "tool_use"})
# The request headers that change the answer (DESIGN §1): the SDK sends the client's defaults for both.
_KEYED_HEADERS = ("anthropic-version", "anthropic-beta")
# Call options that are not part of the request body; `plan` sees the body only.
_CALL_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout", "stream"})
_ZERO_USAGE: dict[str, Any] = {
    "input_tokens": 0,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 0,
}

Breakpoints = Any  # "keep", "auto" or a promptkey.Plan
# The SDK streams parse each event into this union (a typing form, hence the cast for mypy).
_EVENT: Any = cast(Any, RawMessageStreamEvent)


@dataclass(frozen=True)
class _Flavor:
    """Which SDK resource a wrapper fronts: `client.messages` or `client.beta.messages` (same wire format,
    their own Message, event and stream-helper types)."""

    path: tuple[str, ...]
    message: Any
    event: Any
    helper: Any
    async_helper: Any

    def resource(self, client: Any) -> Any:
        for name in self.path:
            client = getattr(client, name)
        return client


_MESSAGES = _Flavor(("messages",), Message, _EVENT, MessageStream, AsyncMessageStream)
_BETA_MESSAGES = _Flavor(
    ("beta", "messages"),
    BetaMessage,
    cast(Any, BetaRawMessageStreamEvent),
    BetaMessageStream,
    BetaAsyncMessageStream,
)


@dataclass(frozen=True)
class CallRecord:
    """What one call did. `usage` and `cost` are what this call was billed (zero when the answer came from
    the response cache); `saved` is what a cached answer would have cost (the stored answer's usage, priced);
    `cost` is None when the model has no price. `latency` is seconds until the whole answer was available."""

    status: str
    key: str | None
    model: str
    usage: dict[str, Any] = field(default_factory=dict)
    cost: float | None = 0.0
    saved: float = 0.0
    latency: float = 0.0
    streamed: bool = False


class _Uncacheable(Exception):
    """Raised out of the response cache's compute function so it stores nothing; carries the answer."""

    def __init__(self, value: dict[str, Any]) -> None:
        super().__init__("answer not cacheable")
        self.value = value


@dataclass(frozen=True)
class _Started:
    """When and with what a call began: its monotonic start (latency), its wall-clock start and the caller's
    own parameters (the trace line)."""

    perf: float
    wall: float
    params: dict[str, Any]


def _absent(value: Any) -> bool:
    return isinstance(value, (_sdk.Omit, _sdk.NotGiven))


def _jsonable(value: Any) -> Any:
    """Parameters as the JSON the SDK would send (dict order kept: prefix digests are order-sensitive)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if not _absent(v)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # as the SDK dumps a model into a request body
        return dump(mode="json", exclude_unset=True, by_alias=True, exclude=getattr(value, "__api_exclude__", None))
    raise TypeError(f"cannot record a {type(value).__name__} in a trace")


class _TraceWriter:
    """Appends one `promptkey replay` trace line per call: `{"ts", "request", "output_tokens"}`. `target` is
    a path (opened for appending, closed by the wrapper's `close()`) or a text file you own."""

    def __init__(self, target: Any) -> None:
        self._owned = not hasattr(target, "write")
        self._file: Any = open(target, "a", encoding="utf-8") if self._owned else target  # noqa: SIM115
        self._lock = threading.Lock()
        self.skipped = 0

    def write(self, started: _Started, message: dict[str, Any]) -> None:
        params = {k: v for k, v in started.params.items() if k not in _CALL_OPTIONS and not _absent(v)}
        extra = started.params.get("extra_body")
        if isinstance(extra, Mapping):
            params.update(extra)  # merged as the SDK merges it: shallow, extra_body wins
        try:
            request = _jsonable(params)
        except TypeError:  # a one-shot iterable or an object with no JSON form: nothing faithful to record
            self.skipped += 1
            return
        output = (message.get("usage") or {}).get("output_tokens") or 0
        line = json.dumps({"ts": round(started.wall, 6), "request": request, "output_tokens": output})
        with self._lock:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except (OSError, ValueError):  # a full disk or a closed file: the paid answer still goes back
                self.skipped += 1

    def close(self) -> None:
        if self._owned:
            self._file.close()


def origin_of(base_url: Any) -> str:
    """`scheme://host:port` of a base URL, with the scheme's default port written out."""
    url = httpx2.URL(str(base_url))
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{port}"


def keyed_headers(client_headers: Mapping[str, Any], extra_headers: Mapping[str, Any] | None) -> dict[str, str]:
    """The version and beta headers the SDK will send: the client's defaults, overridden per call by
    `extra_headers` (case-insensitive, a later layer replacing an earlier one, `Omit` removing it) —
    the same folding the SDK's `build_headers` does."""
    out: dict[str, str] = {}
    for layer in (client_headers, extra_headers or {}):
        for name, value in layer.items():
            lower = name.lower()
            if lower not in _KEYED_HEADERS:
                continue
            if isinstance(value, str):
                out[lower] = value
            else:  # Omit / NotGiven: the header is removed
                out.pop(lower, None)
    return out


class _Core:
    """What the sync and async wrappers share: request preparation, keying and the record of each call."""

    def __init__(
        self,
        client: Any,
        *,
        cache: Any,
        breakpoints: Breakpoints,
        prices: Any,
        on_call: Callable[[CallRecord], None] | None,
        cache_mode: str = "use",
        cache_ttl: float | None = None,
        trace: Any = None,
    ) -> None:
        if not (breakpoints in ("keep", "auto") or hasattr(breakpoints, "apply")):
            raise InvalidOptionError(f"breakpoints must be 'keep', 'auto' or a Plan, not {breakpoints!r}")
        if prices is not None:  # a bad price file fails here, not after a paid call
            from promptkey import load_prices

            load_prices(prices)
        self.client = client
        self.breakpoints = breakpoints
        self.prices = prices
        self.on_call = on_call
        self.origin = origin_of(client.base_url)
        self.view: ResponseView | None = None
        if cache is not None:
            from promptkey._response_view import ResponseView

            self.view = ResponseView(cache, origin=self.origin, mode=cache_mode, ttl=cache_ttl)
        self.last: CallRecord | None = None
        self.trace: _TraceWriter | None = (
            trace if isinstance(trace, _TraceWriter) or trace is None else _TraceWriter(trace)
        )

    def begin(self, params: dict[str, Any]) -> _Started:
        return _Started(time.perf_counter(), time.time(), params)

    def derive(self, client: Any = None, *, mode: str | None = None, ttl: Any = ...) -> _Core:
        """The same settings over another client (`with_options`) or with other cache options (`with_cache`)."""
        from promptkey._response_view import MODES

        if mode is not None and mode not in MODES:
            raise InvalidOptionError(f"cache mode must be one of {', '.join(MODES)}, not {mode!r}", path="mode")
        view = self.view
        return _Core(
            self.client if client is None else client,
            cache=view.cache if view is not None else None,
            breakpoints=self.breakpoints,
            prices=self.prices,
            on_call=self.on_call,
            cache_mode=(view.mode if view is not None else "use") if mode is None else mode,
            cache_ttl=(view.ttl if view is not None else None) if ttl is ... else ttl,
            trace=self.trace,
        )

    # --- requests ---

    def prepare(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters with breakpoints placed (never mutating the caller's)."""
        if self.breakpoints == "keep":
            return dict(params)
        try:
            # SDK objects (content blocks passed back from a response) become the JSON the SDK would send
            # for them, so the planner sees plain data and can place a marker inside such a block.
            body = _jsonable({name: value for name, value in params.items() if name not in _CALL_OPTIONS})
            if self.breakpoints == "auto":
                from promptkey import plan

                placed = plan(body).apply(body)
            else:
                placed = self.breakpoints.apply(body)
        except (PromptKeyError, TypeError):
            # A request the planner cannot read (a generator of messages, an object with no JSON form) goes
            # out as given: planning is an optimization that must never turn a valid call into a failed one.
            return dict(params)
        return {**placed, **{name: value for name, value in params.items() if name in _CALL_OPTIONS}}

    def key_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """The request as the response cache keys it: the parameters plus the version and beta headers the
        client will send (the client's defaults are invisible to `make_key` otherwise)."""
        request = {name: value for name, value in params.items() if name not in ("stream", "timeout")}
        defaults = self.client.default_headers
        if params.get("betas") is not None:
            # `betas=` becomes a per-call anthropic-beta header, which replaces the client's default one
            defaults = {name: value for name, value in defaults.items() if name.lower() != "anthropic-beta"}
        request["extra_headers"] = keyed_headers(defaults, params.get("extra_headers"))
        return request

    # --- records ---

    def price(self, usage: dict[str, Any], model: str) -> float | None:
        from promptkey import cost

        try:
            if self.prices is not None:
                return float(cost(usage, model, prices=self.prices).total)
            return float(cost(usage, model).total)
        except (LookupError, PromptKeyError):
            # a model without a price (UnknownModelError), or usage the pricer cannot read: the answer was
            # paid for and must reach the caller, so the cost is recorded as unknown instead of raising
            return None

    def finish(
        self,
        *,
        status: str,
        key: str | None,
        message: dict[str, Any],
        paid: bool,
        started: _Started,
        streamed: bool,
        model: str,
    ) -> CallRecord:
        usage = dict(message.get("usage") or {})
        priced = self.price(usage, model)
        latency = time.perf_counter() - started.perf
        if paid:
            record = CallRecord(status, key, model, usage, priced, 0.0, latency, streamed)
        else:
            record = CallRecord(status, key, model, dict(_ZERO_USAGE), 0.0, priced or 0.0, latency, streamed)
        if self.trace is not None:
            self.trace.write(started, message)
        self.last = record
        if self.on_call is not None:
            self.on_call(record)
        return record

    def replay_response(self, value: dict[str, Any]) -> httpx2.Response:
        """A stored answer as the SSE response the API would have sent for it."""
        body = encode_sse(events_from_message(value))
        request = httpx2.Request("POST", str(self.client.base_url).rstrip("/") + "/v1/messages")
        headers = {"content-type": "text/event-stream", "x-promptkey-cache": "hit"}
        return httpx2.Response(200, headers=headers, content=body, request=request)


def _cacheable(data: dict[str, Any]) -> bool:
    return data.get("stop_reason") in CACHEABLE_STOP_REASONS
